"""Bad input at the command line: usage errors exit 2 with `argument --flag: ...`; expected failures
exit 1 with one `tinygrad-lite: error: ...` line, never a traceback."""
import subprocess
import sys

import pytest

FLAG_CASES = [("skipgram", f, v) for f, v in (("--batch-size", "0"), ("--window", "0"), ("--dim", "0"),
                                               ("--epochs", "0"), ("--negative", "0"), ("--min-count", "0"),
                                               ("--lr", "0"), ("--lr", "nan"), ("--sample", "-1"),
                                               ("--min-lr-ratio", "2"), ("--topn", "0"), ("--threads", "0"),
                                               ("--temperature", "0"), ("--snapshot-every", "0"),
                                               ("--max-vocab", "0"))]
FLAG_CASES += [("mlp", f, v) for f, v in (("--batch-size", "0"), ("--epochs", "0"), ("--lr", "-1"),
                                          ("--dropout", "1"), ("--weight-decay", "-0.1"), ("--test-size", "0"),
                                          ("--test-size", "1"), ("--threads", "0"))]


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "tinygrad_lite_app", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("model,flag,value", FLAG_CASES)
def test_out_of_range_flag_is_a_usage_error(model, flag, value):
    p = cli("train", model, flag, value)
    assert p.returncode == 2, p.stderr
    assert f"argument {flag}:" in p.stderr and "Traceback" not in p.stderr
