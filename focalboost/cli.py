"""Deprecated: ``focalboost compare`` moved to the :mod:`focalboost.compare` package.

This module re-exports the names it had (from :mod:`focalboost.compare.cli`, ``.settings``,
``.engine``, ``.report``, ``.figures``, ``.datasets`` and :mod:`focalboost.multioutput`), still
runs as ``python -m focalboost.cli compare ...``, and warns once, on import. It will be removed
in 0.3.
"""

import sys
import warnings

from focalboost.metrics import ECE_BINS, ECE_STRATEGY
from focalboost.multioutput import EarlyStoppedMultiOutputClassifier

from .compare.cli import build_parser, check_alphas, compare, load_data, main, settings_from_args
from .compare.datasets import DEFAULT_DATASETS, MAX_CATEGORIES, DataError
from .compare.engine import (
    Comparison,
    bootstrap_interval,
    build_model,
    check_class_sizes,
    fit_model,
    n_trees,
    predicted_proba,
    probability_outputs,
    run_comparison,
    selection_score,
)
from .compare.figures import MAX_LABEL_PANELS
from .compare.report import (
    BINARY_COLUMNS,
    COMMON_COLUMNS,
    MULTICLASS_COLUMNS,
    MULTILABEL_COLUMNS,
    environment,
    format_table,
    multilabel_columns,
    write_outputs,
)
from .compare.report import cpu_model as _cpu_model  # noqa: F401 - the benchmarks imported it
from .compare.settings import (
    BACKENDS,
    DEFAULT_BINARY_ALPHAS,
    DEFAULT_GAMMAS,
    DEFAULT_MULTICLASS_ALPHAS,
    EXIT_OK,
    EXIT_USAGE,
    QUICK_ALPHAS,
    QUICK_GAMMAS,
    CLIError,
    ModelSpec,
    Settings,
)

__all__ = [
    "BACKENDS",
    "BINARY_COLUMNS",
    "CLIError",
    "COMMON_COLUMNS",
    "Comparison",
    "DEFAULT_BINARY_ALPHAS",
    "DEFAULT_DATASETS",
    "DEFAULT_GAMMAS",
    "DEFAULT_MULTICLASS_ALPHAS",
    "DataError",
    "ECE_BINS",
    "ECE_STRATEGY",
    "EXIT_OK",
    "EXIT_USAGE",
    "EarlyStoppedMultiOutputClassifier",
    "MAX_CATEGORIES",
    "MAX_LABEL_PANELS",
    "MULTICLASS_COLUMNS",
    "MULTILABEL_COLUMNS",
    "ModelSpec",
    "QUICK_ALPHAS",
    "QUICK_GAMMAS",
    "Settings",
    "bootstrap_interval",
    "build_model",
    "build_parser",
    "check_alphas",
    "check_class_sizes",
    "compare",
    "environment",
    "fit_model",
    "format_table",
    "load_data",
    "main",
    "multilabel_columns",
    "n_trees",
    "predicted_proba",
    "probability_outputs",
    "run_comparison",
    "selection_score",
    "settings_from_args",
    "write_outputs",
]

warnings.warn(
    "focalboost.cli moved to focalboost.compare.cli; the old path will be removed in 0.3",
    FutureWarning,
    stacklevel=2,  # the importing statement (warnings skips importlib's frames)
)

if __name__ == "__main__":  # pragma: no cover - python -m focalboost.cli compare ...
    sys.exit(main())
