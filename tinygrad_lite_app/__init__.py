"""The tinygrad-lite application: the `tinygrad-lite` command line, the demo and its report.

It stands on the engine (`tinygrad_lite`), the models (`models`) and the pictures (`viz`);
the engine imports none of them.
"""
