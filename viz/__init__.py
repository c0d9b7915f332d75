"""Graph pictures of tinygrad_lite computations (DOT / Graphviz rendering)."""
