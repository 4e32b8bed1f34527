"""focalboost.cli, the old path of the compare command: a FutureWarning on import, the same
objects as their new homes, the same entry point. (The command itself: test_compare_cli.py.)"""

import importlib
import json
import subprocess
import sys
import warnings

import pytest

from focalboost import metrics, multioutput
from focalboost.compare import cli, datasets, engine, figures, report, settings

#: every public name focalboost.cli had in 0.1, and where it lives now
OLD_NAMES = {
    **dict.fromkeys(
        ["build_parser", "check_alphas", "compare", "load_data", "main", "settings_from_args"], cli
    ),
    **dict.fromkeys(
        [
            "BACKENDS",
            "CLIError",
            "DEFAULT_BINARY_ALPHAS",
            "DEFAULT_GAMMAS",
            "DEFAULT_MULTICLASS_ALPHAS",
            "EXIT_OK",
            "EXIT_USAGE",
            "ModelSpec",
            "QUICK_ALPHAS",
            "QUICK_GAMMAS",
            "Settings",
        ],
        settings,
    ),
    **dict.fromkeys(
        [
            "Comparison",
            "bootstrap_interval",
            "build_model",
            "check_class_sizes",
            "fit_model",
            "n_trees",
            "predicted_proba",
            "probability_outputs",
            "run_comparison",
            "selection_score",
        ],
        engine,
    ),
    **dict.fromkeys(
        [
            "BINARY_COLUMNS",
            "COMMON_COLUMNS",
            "MULTICLASS_COLUMNS",
            "MULTILABEL_COLUMNS",
            "environment",
            "format_table",
            "multilabel_columns",
            "write_outputs",
        ],
        report,
    ),
    "MAX_LABEL_PANELS": figures,
    **dict.fromkeys(["DEFAULT_DATASETS", "MAX_CATEGORIES", "DataError"], datasets),
    **dict.fromkeys(["ECE_BINS", "ECE_STRATEGY"], metrics),
    "EarlyStoppedMultiOutputClassifier": multioutput,
}


def _old_module():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return importlib.import_module("focalboost.cli")


def test_old_names_are_the_new_objects():
    old = _old_module()
    assert sorted(old.__all__) == sorted(OLD_NAMES)
    for name, home in OLD_NAMES.items():
        assert getattr(old, name) is getattr(home, name), name
    assert old._cpu_model is report.cpu_model  # benchmarks/ imported it before 0.2


def test_import_warns_once_at_the_importing_line():
    code = (
        "import importlib, json, warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import focalboost.cli\n"
        "    from focalboost import cli\n"
        "    from focalboost.cli import main\n"
        "    importlib.import_module('focalboost.cli')\n"
        "print(json.dumps([[w.category.__name__, str(w.message), w.filename, w.lineno]\n"
        "                  for w in caught if 'focalboost' in str(w.message)]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == [
        [
            "FutureWarning",
            "focalboost.cli moved to focalboost.compare.cli; the old path will be removed in 0.3",
            "<string>",
            4,
        ]
    ]


def test_old_entry_point_still_parses(capsys):
    old = _old_module()
    with pytest.raises(SystemExit) as info:
        old.main(["compare", "--backend", "catboost"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("focalboost compare: error: argument --backend: invalid choice")
