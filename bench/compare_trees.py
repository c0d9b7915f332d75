"""Compare bench_core.py's ratios between two source trees (e.g. before and after a change), run by run.

    git archive <old commit> | tar -x -C /tmp/before
    .venv/bin/python bench/compare_trees.py /tmp/before . --runs 5

Each run is a fresh process per tree (with PYTHONPATH set to the tree), alternating before/after so that
the machine's load hits both alike; printed: min and median over the runs of each ratio.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys


def ratios(tree):
    out = subprocess.run([sys.executable, "bench/bench_core.py"], cwd=tree, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": os.path.abspath(tree),
                                         "OPENBLAS_NUM_THREADS": "1"}).stdout
    op = re.search(r"per-op framework cost.*?tinygrad_lite\s+([\d.]+) us/op.*?numpy by hand\s+([\d.]+) us/op", out, re.S)
    mlp = re.search(r"MLP.*?tinygrad_lite\s+([\d.]+) ms.*?numpy by hand\s+([\d.]+) ms", out, re.S)
    res = {"op / numpy": float(op.group(1)) / float(op.group(2)), "mlp / numpy": float(mlp.group(1)) / float(mlp.group(2))}
    out = subprocess.run([sys.executable, "bench/cpu_steps.py"], cwd=os.path.dirname(os.path.abspath(__file__)) + "/..",
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.path.abspath(tree),
                                                              "OPENBLAS_NUM_THREADS": "1"}).stdout
    m = re.search(r"op ([\d.]+) us\s+backward ([\d.]+) us\s+mlp ([\d.]+) ms", out)
    if m:  # CPU time of the same steps (bench/cpu_steps.py of this tree, run on the tree under test)
        res.update({"op cpu us": float(m.group(1)), "backward cpu us": float(m.group(2)), "mlp cpu ms": float(m.group(3))})
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    res = {"before": [], "after": []}
    for _ in range(a.runs):
        res["before"].append(ratios(a.before))
        res["after"].append(ratios(a.after))
    for k, runs in res.items():
        print(k, ", ".join(f"{m}: min {min(r[m] for r in runs):.3g} median {statistics.median(r[m] for r in runs):.3g}"
                           for m in runs[0]))


if __name__ == "__main__":
    main()
