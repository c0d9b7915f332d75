"""A tiny dependency-free progress bar with loss and throughput, for training loops.

Shared by the example models (MLP, skip-gram, GPT...): import it rather than writing another::

    from models.progress import Progress

    with Progress(total=n_steps, desc="train", unit="words") as bar:
        for step in range(n_steps):
            ...
            bar.update(1, items=batch_words, loss=loss.item())   # advance 1 step, count items

- `total`: number of steps (the bar's 100%); None gives a counter without a bar.
- `update(n=1, items=None, **metrics)`: advances by `n` steps; `items` (default `n`) is what the
  throughput counts (words, tokens, samples: name it with `unit`); keyword metrics (loss=...,
  lr=...) are shown with their latest value (loss also as an exponential moving average, `ema`).
- Redraws at most `1/min_interval` times per second, on one line (carriage return) of `file`
  (stderr by default); `disable=True` silences it (counts and `rate()` still work).
- After the loop: `bar.elapsed` (seconds), `bar.items` (total items), `bar.rate()` (items/s).

Also importable from here (they live in tinygrad_lite.runtime): `limit_blas_threads(n)`, a context
manager capping numpy's BLAS threads (the model CLIs run with 1 by default: on the shared 2-core
machine a 2-thread OpenBLAS made the MLP 30x slower), and `reuse_freed_memory()`.
"""
import sys
import time


class Progress:
    """Single-line progress bar: `[#####.....] 50% 500/1000 loss 1.234 12.3k words/s 0:05<0:05`."""

    def __init__(self, total=None, desc="", unit="it", width=24, file=None, disable=False, min_interval=0.2,
                 ema=0.05):
        self.total, self.desc, self.unit, self.width = total, desc, unit, width
        self.file = file if file is not None else sys.stderr
        self.disable, self.min_interval, self.ema = disable, min_interval, ema
        # on a terminal the bar redraws in place; in a log file or pipe it prints a line now and then
        self._tty = bool(getattr(self.file, "isatty", lambda: False)())
        if not self._tty:
            self.min_interval = max(min_interval, 5.0)
        self._drawn_n = -1
        self.n = 0
        self.items = 0
        self.metrics = {}
        self.loss_ema = None
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._closed = False

    # -------------------------------------------------------------- API
    def update(self, n=1, items=None, **metrics):
        """Advance `n` steps, count `items` (default n) for the throughput, record metrics."""
        self.n += n
        self.items += n if items is None else items
        for k, v in metrics.items():
            v = float(v)
            self.metrics[k] = v
            if k == "loss":
                self.loss_ema = v if self.loss_ema is None else (1 - self.ema) * self.loss_ema + self.ema * v
        now = time.perf_counter()
        if not self.disable and (now - self._last_draw >= self.min_interval or
                                 (self.total is not None and self.n >= self.total)):
            self._last_draw = now
            self._draw(now)

    @property
    def elapsed(self):
        """Seconds since the bar was created."""
        return time.perf_counter() - self.start

    def rate(self):
        """Items per second so far."""
        e = self.elapsed
        return self.items / e if e > 0 else 0.0

    def write(self, msg):
        """Print a message on its own line without breaking the bar."""
        if not self.disable:
            self.file.write(("\r\033[K" if self._tty else "") + msg + "\n")
            if self._tty:
                self._draw(time.perf_counter())

    def close(self):
        """Draw the final state and end the line."""
        if not self._closed:
            self._closed = True
            if not self.disable:
                if self._tty or self._drawn_n != self.n:  # a log already has the final line
                    self._draw(time.perf_counter())
                if self._tty:
                    self.file.write("\n")
                self.file.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -------------------------------------------------------------- drawing
    def _draw(self, now):
        elapsed = now - self.start
        parts = [self.desc] if self.desc else []
        if self.total:
            frac = min(self.n / self.total, 1.0)
            filled = int(frac * self.width)
            parts.append("[" + "#" * filled + "." * (self.width - filled) + f"] {frac * 100:3.0f}%")
            parts.append(f"{self.n}/{self.total}")
        else:
            parts.append(f"{self.n}")
        for k, v in self.metrics.items():
            if k == "loss" and self.loss_ema is not None:
                parts.append(f"loss {v:.4g} (avg {self.loss_ema:.4g})")
            else:
                parts.append(f"{k} {v:.4g}")
        rate = self.items / elapsed if elapsed > 0 else 0.0
        parts.append(f"{_si(rate)} {self.unit}/s")
        eta = ""
        if self.total and self.n and self.n < self.total:
            eta = "<" + _clock(elapsed * (self.total - self.n) / self.n)
        parts.append(_clock(elapsed) + eta)
        self._drawn_n = self.n
        self.file.write("\r\033[K" + " ".join(parts) if self._tty else " ".join(parts) + "\n")
        self.file.flush()


def _si(x):
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.1f}{unit}"
    return f"{x:.1f}"


def _clock(s):
    s = int(s)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


# The process policies live in the engine (tinygrad_lite/runtime.py, applied on import); the model
# CLIs keep importing them from here.
from tinygrad_lite.runtime import limit_blas_threads, reuse_freed_memory  # noqa: E402,F401
