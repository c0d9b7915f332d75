"""`tinygrad-lite explore EXAMPLE`: write the backprop explorer page (viz.explore) of one built-in
example's training step (the same steps `graph` draws: viz.steps.STEPS) and print its path."""
import argparse
from pathlib import Path

from models.argtypes import int_at_least

EXAMPLES = ("mlp", "skipgram", "attention", "gpt")   # the keys of viz.steps.STEPS (viz is imported when run)

DESCRIPTION = """\
Build a tiny instance of a model, run its forward pass and loss, and write one self-contained
HTML page (no network needed: open it from disk) to walk the forward and the backward pass step
by step: each op's math, the gradient arriving, its rule applied to the numbers, the gradients
leaving, and the sums where a tensor's gradients from several uses add up.

examples:
  mlp        64 pixels -> 16 hidden (ReLU) -> 10 classes, a batch of 4 digits
  skipgram   the tutorial's 3-word example (king, queen, car), one pair
  attention  one causal multi-head attention block: 2 heads, 4 tokens of 8
  gpt        a 2-layer GPT (16 wide, 2 heads), blocks collapsed (click one to open it)"""


def add_parser(sub):
    e = sub.add_parser("explore", help="write an interactive page stepping through a model's backward pass",
                       formatter_class=argparse.RawDescriptionHelpFormatter, description=DESCRIPTION,
                       epilog="usage examples:\n"
                              "  tinygrad-lite explore skipgram\n"
                              "  tinygrad-lite explore gpt --collapse-depth 1 --out out/gpt_explorer.html")
    e.add_argument("example", choices=EXAMPLES, metavar="EXAMPLE",
                   help="which example: " + ", ".join(EXAMPLES))
    e.add_argument("--out", default=None, metavar="FILE",
                   help="the HTML file to write (default EXAMPLE_explorer.html); parent directories are created")
    e.add_argument("--collapse-depth", type=int_at_least(0), default=None, metavar="N",
                   help="draw each module at depth N as one box (default 2 for gpt, 0 = every op)")
    e.add_argument("--seed", type=int, default=0, help="random seed for the tiny model (default 0)")
    e.set_defaults(func=run)
    return e


def run(args):
    out = Path(args.out or f"{args.example}_explorer.html")
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"--out {str(out)!r}: the explorer is an HTML page; give a file name ending in .html")
    from . import demo
    explore = demo._import("viz.explore", "the graph drawing package (viz/)")
    page = explore.explore_step(args.example, out, seed=args.seed, collapse_depth=args.collapse_depth)
    n = page.steps
    print(f"wrote {page.path} ({n} ops: {n} forward and {n} backward steps); open it in a browser")
    return 0
