"""``focalboost compare``: focal loss against log loss and class weighting on real imbalanced data.

For each chosen backend (XGBoost, LightGBM) and on one stratified train/validation/test split:

1. ``logloss``   — the library's built-in log loss;
2. ``weighted``  — log loss with class weighting: ``scale_pos_weight = n_negative / n_positive``
   (binary) or balanced sample weights n / (K n_k) (multiclass);
3. ``focal``     — focal loss (:class:`focalboost.FocalXGBClassifier`,
   :class:`focalboost.FocalLGBMClassifier`), its gamma and alpha chosen by a small stratified
   K-fold search on the training part (score: average precision, macro for multiclass).

Every model uses early stopping on the validation part, measured with its own training objective
(weighted log loss for ``weighted``, focal loss for ``focal``), then is scored on the untouched test
part. Results go to the terminal (a table), to ``--output-dir`` (CSV, JSON, PNG figures).

Focal models are reported twice: ``focal`` (the raw sigmoid/softmax) and ``focal posterior`` (the
same margins with the focal/alpha distortion undone), with log loss, Brier score and expected
calibration error (:func:`focalboost.metrics.expected_calibration_error`) side by side, and one
reliability panel per backend in ``calibration.png``.

Several ``--target`` columns make a multi-label run: log loss and focal loss per backend
(XGBoost: one multi-output model; LightGBM: one model per label), per-label and macro PR-AUC.

Run ``focalboost compare --help`` for the options. Bad input ends with a one-line message on
stderr and exit code 2, before any model is trained where it can be known then; an unexpected
error (a bug) shows its traceback and exits with 1. Everything the command changes in the data
(rows without a target, columns dropped, encoded or renamed, the row sample) is printed, one line
each, and listed in ``results.json`` as ``data_changes``; warnings (fewer than 10 test rows of a
class, a model with the same output for every test row, Python warnings raised while training)
likewise, as ``warnings``.

The application is a client of focalboost's public API, one module per question:

* :mod:`~focalboost.compare.settings` — :class:`Settings`, the models, defaults, :class:`CLIError`;
* :mod:`~focalboost.compare.datasets` — the built-in data sets and the user's files;
* :mod:`~focalboost.compare.engine` — building and fitting the models, the focal search,
  :func:`run_comparison`;
* :mod:`~focalboost.compare.report` — the table, ``results.csv`` / ``results.json``, the
  environment;
* :mod:`~focalboost.compare.figures` — the PNG figures;
* :mod:`~focalboost.compare.cli` — argument parsing and :func:`main` (``python -m
  focalboost.compare`` runs it).

The names below are loaded on first use, so that ``focalboost --help`` imports no boosting library.
"""

from importlib import import_module

__all__ = ["Settings", "CLIError", "Comparison", "run_comparison", "main"]

_HOMES = {
    "Settings": "settings",
    "CLIError": "settings",
    "Comparison": "engine",
    "run_comparison": "engine",
    "main": "cli",
}


def __getattr__(name):
    if name in _HOMES:
        return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
