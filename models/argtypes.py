"""argparse `type=` helpers shared by the models' command lines and `tinygrad-lite`: a bad value is a
clear `argument --flag: ...` usage error (exit status 2), never a traceback from deep inside."""
import argparse
import math


def int_at_least(lo):
    """An argparse `type`: an integer >= lo, else a clear `argument --flag: ...` usage error (exit 2)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {value}")
        return value
    parse.__name__ = f"integer >= {lo}"
    return parse


def float_in(lo=None, hi=None, lo_open=False):
    """An argparse `type`: a finite float with lo <= value (lo < value if lo_open) and value < hi
    (None = no bound), else a clear `argument --flag: ...` usage error (exit 2)."""
    if hi is None:
        want = f"{'>' if lo_open else '>='} {lo:g}"
    else:
        want = f"in {'(' if lo_open else '['}{lo:g}, {hi:g})"

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        too_low = lo is not None and (value <= lo if lo_open else value < lo)
        too_high = hi is not None and value >= hi
        if not math.isfinite(value) or too_low or too_high:
            raise argparse.ArgumentTypeError(f"must be {want}, got {text}")
        return value
    parse.__name__ = f"number {want}"
    return parse
