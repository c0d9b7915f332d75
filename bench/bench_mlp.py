"""MLP benchmark: the default `python -m models.mlp` run (sklearn digits, fixed split) for a few
weight seeds: test accuracy (target >= 97%) and wall time (target < 30 s).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_mlp.py [--seeds 0 1 2]
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.mlp import main as mlp_main  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args(argv)
    rows = []
    for s in args.seeds:
        t0 = time.perf_counter()
        m = mlp_main(["--seed", str(s), "--no-progress"])
        rows.append((s, m["test_accuracy"], time.perf_counter() - t0, m["samples_per_sec"]))
    print("seed  test_acc  wall_s  samples/s")
    for s, a, w, r in rows:
        print(f"{s:4d}  {a:.4f}  {w:6.1f}  {r:9.0f}")
    return rows


if __name__ == "__main__":
    main()
