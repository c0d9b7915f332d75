"""Graph pictures of tinygrad_lite computations (DOT / Graphviz rendering), a textual account of
the backward pass, and matplotlib plots.

    from viz import draw_graph, render, explain_backward
    dot = draw_graph(loss, model=model, show_grads=True)   # graphviz.Digraph (inline in Jupyter)
    render(dot, "graph.svg")                               # .svg / .png / .pdf / .dot
    print(explain_backward(loss, model=model))             # step-by-step chain rule

`plot_training_curves`, `plot_embeddings_pca` and `plot_attention` (in viz.plots) write PNG files;
they import matplotlib only when called.
"""
from tinygrad_lite.graph import GraphFreedError, build_graph, trace_modules

from .dot import GraphvizNotInstalled, draw_graph, render
from .explain import explain_backward, print_backward
from .explore import Explorer, explore


def __getattr__(name):  # the plots need matplotlib: import them lazily
    if name in ("plot_training_curves", "plot_embeddings_pca", "plot_attention", "plots"):
        from . import plots
        return plots if name == "plots" else getattr(plots, name)
    raise AttributeError(f"module 'viz' has no attribute {name!r}")


__all__ = ["draw_graph", "render", "GraphvizNotInstalled", "GraphFreedError", "build_graph", "trace_modules", "explain_backward",
           "print_backward", "explore", "Explorer", "plot_training_curves", "plot_embeddings_pca", "plot_attention"]
