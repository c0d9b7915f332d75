"""`python -m tinygrad_lite_app ...`: the same command line as the `tinygrad-lite` console script."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
