"""``python -m focalboost.compare [options]`` is ``focalboost compare [options]``.

The command name may be given too (``python -m focalboost.compare compare --quick``), as to the
``focalboost`` console script and ``python -m focalboost``.
"""

import sys

from .cli import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    sys.exit(main(argv if argv[:1] == ["compare"] else ["compare", *argv]))
