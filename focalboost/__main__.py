"""``python -m focalboost compare ...``: the same as the ``focalboost`` console script."""

import sys

from .compare.cli import main

if __name__ == "__main__":
    sys.exit(main())
