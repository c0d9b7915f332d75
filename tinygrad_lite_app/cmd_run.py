"""`tinygrad-lite run SCRIPT.py [ARGS...]`: run an unmodified PyTorch script on tinygrad_lite.

The script's `import torch` (torch.nn, torch.nn.functional, torch.optim, torch.utils.data, ...) resolves
to tinygrad_lite in this process only (tinygrad_lite.compat's import hook); the script runs as
`python SCRIPT.py ARGS...` would run it: as __main__, with sys.argv = [SCRIPT.py, ARGS...] and its own
folder first on sys.path. With --graph FILE, the computation graph of the first tensor whose backward()
the script calls (its first loss) is drawn to FILE (.svg, .png, .pdf or .dot) before that backward runs.

A torch API that tinygrad_lite lacks stops the script with one line naming it and the place in the
script that used it; any other error in the script prints its traceback, as Python would.
"""
import argparse
import os
import runpy
import sys
import traceback

PROG = "tinygrad-lite run"


def add_parser(sub):
    p = sub.add_parser(
        "run", help="run a PyTorch script on tinygrad_lite (import torch -> tinygrad_lite)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run SCRIPT.py with `import torch` resolving to tinygrad_lite (this process only; nothing\n"
                    "named torch is installed). ARGS go to the script's own sys.argv. Scripts that ask for\n"
                    "CUDA get PyTorch's CPU answers (torch.cuda.is_available() is False).",
        epilog="examples:\n"
               "  tinygrad-lite run train.py --device=cpu --compile=False\n"
               "  tinygrad-lite run --graph loss.svg makemore.py -i names.txt --max-steps 1\n"
               "  tinygrad-lite run --graph loss.svg --graph-depth 2 train.py config/tiny.py\n"
               "\n--graph draws the graph of the first loss (the first tensor on which .backward() is called),\n"
               "with the parameters named after the largest nn.Module in the calling code; modules deeper than\n"
               "--graph-depth are drawn as single boxes (default: as many levels as fit in --graph-max-nodes).")
    p.add_argument("--graph", metavar="FILE", default=None,
                   help="draw the graph of the script's first loss to FILE (.svg/.png/.pdf, or .dot without Graphviz)")
    p.add_argument("--graph-depth", type=int, default=None, metavar="N",
                   help="draw each module at depth N as one box (0 = every op; default: the deepest that fits)")
    p.add_argument("--graph-max-nodes", type=int, default=500, metavar="N", help="node cap for --graph (default 500)")
    p.add_argument("script", help="the Python script to run")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    p.set_defaults(func=run)
    return p


def _find_model(frame):
    """The nn.Module with the most parameters among the variables of the calling frames (names the drawing)."""
    from tinygrad_lite.nn import Module
    best, size = None, -1
    while frame is not None:
        for v in list(frame.f_locals.values()) + list(frame.f_globals.values()):
            if isinstance(v, Module):
                n = sum(p.numel() for p in v.parameters())
                if n > size:
                    best, size = v, n
        frame = frame.f_back
    return best


class GraphOnFirstBackward:
    """Patches Tensor.backward and autograd.backward so that the first call draws its tensor's graph."""

    def __init__(self, path, depth, max_nodes):
        self.path, self.depth, self.max_nodes, self.done, self.error = path, depth, max_nodes, False, None

    def install(self):
        from tinygrad_lite import Tensor, autograd
        orig_method, orig_fn = Tensor.backward, autograd.backward
        hook = self

        def backward(t, *args, **kwargs):
            hook.draw(t, sys._getframe(1))
            return orig_method(t, *args, **kwargs)

        def autograd_backward(tensors, *args, **kwargs):
            first = tensors[0] if isinstance(tensors, (list, tuple)) else tensors
            hook.draw(first, sys._getframe(1))
            return orig_fn(tensors, *args, **kwargs)
        backward.__doc__, autograd_backward.__doc__ = orig_method.__doc__, orig_fn.__doc__
        Tensor.backward, autograd.backward = backward, autograd_backward
        self._restore = lambda: (setattr(Tensor, "backward", orig_method), setattr(autograd, "backward", orig_fn))

    def uninstall(self):
        self._restore()

    def draw(self, loss, frame):
        if self.done:
            return
        self.done = True
        import viz
        model = _find_model(frame)
        depths = [self.depth] if self.depth is not None else [0, 3, 2, 1]
        last = None
        for d in depths:
            try:
                dot = viz.draw_graph(loss, model=model, collapse_depth=d or None, max_nodes=self.max_nodes,
                                     title=f"first loss of {os.path.basename(sys.argv[0])}")
                break
            except ValueError as e:  # too many nodes at this depth: collapse one level more
                last = e
        else:
            self.error = f"--graph: could not draw the loss graph: {last}"
            print(f"{PROG}: {self.error}", file=sys.stderr)
            return
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        viz.render(dot, self.path)
        print(f"{PROG}: drew the graph of the first loss to {self.path}", file=sys.stderr)


def run(args):
    from tinygrad_lite import compat
    script = args.script
    if not os.path.isfile(script):
        print(f"{PROG}: error: no such script: {script}", file=sys.stderr)
        return 1
    graph = None
    if args.graph:
        graph = GraphOnFirstBackward(args.graph, args.graph_depth, args.graph_max_nodes)
        graph.install()
    compat.install()
    argv, path0 = sys.argv, list(sys.path)
    sys.argv = [script] + list(args.args)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        runpy.run_path(script, run_name="__main__")
    except (compat.UnsupportedAPI, compat.UnsupportedImport) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        print(e.code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        raise
    except BaseException:  # noqa: BLE001  the script's own error: its traceback, without this runner's frames
        etype, value, tb = sys.exc_info()
        while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) != os.path.abspath(script) \
                and tb.tb_next is not None and _is_runner(tb.tb_frame.f_code.co_filename):
            tb = tb.tb_next
        traceback.print_exception(etype, value, tb)
        return 1
    finally:
        sys.argv, sys.path[:] = argv, path0
        if graph is not None:
            graph.uninstall()
    if graph is not None and not graph.done:
        print(f"{PROG}: --graph: the script never called backward(), so no graph was drawn", file=sys.stderr)
        return 1
    return 0


def _is_runner(filename):
    return filename in (__file__, runpy.__file__) or filename.startswith("<frozen")
