"""GPT training step time of one config on three engines: tinygrad_lite, PyTorch in 1 process, and
PyTorch DistributedDataParallel in N processes (gloo on CPU), all through the same command line
(`python -m models.gpt`), interleaved round by round so that machine load hits them alike.

    python bench/bench_backends.py                    # 3 rounds of 60 steps, the GPT CLI's default model
    python bench/bench_backends.py --rounds 5 --steps 100 --nproc 2 --dtype float32

Prints each run's steps/s and tokens/s (from its metrics.json: training time only, no start-up,
evaluation or sampling), the medians, and the ratios to tinygrad_lite. The global batch is the same
in every run: DDP splits it over the processes.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, out):
    subprocess.run(cmd + ["--out", out], check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(out, "metrics.json")) as f:
        return json.load(f)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--model", default="--n-layer 2 --n-head 4 --n-embd 64 --block-size 64 --batch-size 32",
                   help="model/batch flags of models.gpt (default: its CLI defaults)")
    a = p.parse_args()
    base = [sys.executable, "-m", "models.gpt", "--steps", str(a.steps), "--eval-interval", "0", "--quiet",
            "--dtype", a.dtype, "--max-new-tokens", "1", *a.model.split()]
    engines = {"tinygrad_lite": base + ["--backend", "tinygrad_lite"],
               "torch, 1 process": base + ["--backend", "torch"],
               f"torch DDP, {a.nproc} processes": base + ["--backend", "torch", "--nproc", str(a.nproc)]}
    print("commands:")
    for name, cmd in engines.items():
        print(f"  {name:24s} python -m models.gpt " + " ".join(cmd[3:]))
    results = {name: [] for name in engines}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for name, cmd in engines.items():
                m = run(cmd, os.path.join(tmp, f"{r}-{len(results[name])}-{name.split()[0]}"))
                results[name].append((m["steps_per_s"], m["tokens_per_s"]))
                print(f"round {r + 1}: {name:24s} {m['steps_per_s']:7.2f} steps/s {m['tokens_per_s']:10,.0f} tokens/s",
                      flush=True)
    ref = statistics.median(s for s, _ in results["tinygrad_lite"])
    print(f"\nmedian of {a.rounds} rounds, {a.steps} steps each ({a.dtype}; {a.model}):")
    print(f"  {'engine':24s} {'steps/s':>8s} {'tokens/s':>10s}  vs tinygrad_lite")
    for name, rows in results.items():
        s, t = statistics.median(x for x, _ in rows), statistics.median(y for _, y in rows)
        print(f"  {name:24s} {s:8.2f} {t:10,.0f}  {s / ref:5.2f}x")


if __name__ == "__main__":
    main()
