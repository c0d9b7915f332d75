"""Example models built on tinygrad_lite: MLP, skip-gram word vectors and a small GPT."""
