"""``focalboost compare``: focal loss against log loss and class weighting on real imbalanced data.

For each chosen backend (XGBoost, LightGBM) and on one stratified train/validation/test split:

1. ``logloss``   — the library's built-in log loss;
2. ``weighted``  — log loss with class weighting: ``scale_pos_weight = n_negative / n_positive``
   (binary) or balanced sample weights n / (K n_k) (multiclass);
3. ``focal``     — focal loss (``focalboost.sklearn``), its gamma and alpha chosen by a small
   stratified K-fold search on the training part (score: average precision, macro for multiclass).

Every model uses early stopping on the validation part, measured with its own training objective
(weighted log loss for ``weighted``, focal loss for ``focal``), then is scored on the untouched test
part. Results go to the terminal (a table), to ``--output-dir`` (CSV, JSON, PNG figures).

Focal models are reported twice: ``focal`` (the raw sigmoid/softmax) and ``focal posterior`` (the
same margins with the focal/alpha distortion undone), with log loss, Brier score and expected
calibration error (:func:`expected_calibration_error`) side by side, and one reliability panel per
backend in ``calibration.png``.

Several ``--target`` columns make a multi-label run: log loss and focal loss per backend
(XGBoost: one multi-output model; LightGBM: one model per label), per-label and macro PR-AUC.

Run ``focalboost compare --help`` for the options. Bad input ends with a one-line message on
stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.multioutput import MultiOutputClassifier

from . import __version__
from .datasets import DEFAULT_DATASETS, MAX_CATEGORIES, DataError
from .metrics import ECE_BINS, ECE_STRATEGY, binary_metrics, multiclass_metrics, multilabel_metrics

EXIT_OK = 0
EXIT_USAGE = 2
BACKENDS = ("xgboost", "lightgbm")

#: search space of the focal model (overridable with --gamma / --alpha)
DEFAULT_GAMMAS = (0.5, 1.0, 2.0, 3.0)
DEFAULT_BINARY_ALPHAS = (None, 0.25, "balanced")
DEFAULT_MULTICLASS_ALPHAS = (None, "balanced")
QUICK_GAMMAS = (1.0, 2.0)
QUICK_ALPHAS = (None, "balanced")


class CLIError(Exception):
    """A problem with the command's input; printed as one line, exit code 2."""


# --- settings -------------------------------------------------------------------------------------


@dataclass
class Settings:
    """Everything a comparison run depends on (from the command line or built in code)."""

    backends: tuple = BACKENDS
    gammas: tuple = DEFAULT_GAMMAS
    alphas: tuple | None = None  # None: the default for binary/multiclass
    cv_folds: int = 3
    n_estimators: int = 2000
    learning_rate: float = 0.05
    early_stopping_rounds: int = 50
    max_depth: int = 6  # XGBoost
    num_leaves: int = 31  # LightGBM
    test_size: float = 0.25
    valid_size: float = 0.2
    seed: int = 0
    n_jobs: int | None = None
    max_rows: int | None = None
    progress: bool = True
    quick: bool = False
    bootstrap: int = 200  # resamples of the test set for the PR-AUC interval (0: none)

    @classmethod
    def quick_defaults(cls, **overrides):
        """Seconds instead of minutes: fewer rows, fast learning rate, tiny search."""
        values = dict(
            gammas=QUICK_GAMMAS,
            alphas=QUICK_ALPHAS,
            cv_folds=2,
            n_estimators=60,
            learning_rate=0.3,
            early_stopping_rounds=10,
            max_depth=4,
            num_leaves=15,
            max_rows=3000,
            bootstrap=50,
            quick=True,
        )
        values.update(overrides)
        return cls(**values)

    def threads(self):
        """Threads per model: 1 unless ``n_jobs`` says otherwise.

        On data of this size (tens of thousands of rows) a second OpenMP thread gains little,
        and on a machine whose cores are busy with other work it costs a lot: measured on 2 shared
        cores, a 20,000-row XGBoost fit took 0.7 s with one thread and 4-17 s with two (the threads
        spin-wait for each other). Raise ``--n-jobs`` for large files on an idle machine.
        """
        return 1 if self.n_jobs is None else self.n_jobs

    def alpha_grid(self, n_classes):
        if self.alphas is not None:
            return tuple(self.alphas)
        return DEFAULT_BINARY_ALPHAS if n_classes == 2 else DEFAULT_MULTICLASS_ALPHAS


# --- models ---------------------------------------------------------------------------------------


@dataclass
class ModelSpec:
    """One model of the comparison: how to build it and how to fit it with early stopping."""

    backend: str
    kind: str  # "logloss" | "weighted" | "focal"
    searched: bool = False

    @property
    def name(self):
        return f"{self.backend} {self.kind}"


def _balanced_weights(y, n_classes, reference=None):
    """Per-row weights n / (K n_k) with the class counts of ``reference`` (the training labels)."""
    ref = y if reference is None else reference
    counts = np.bincount(ref, minlength=n_classes).astype(np.float64)
    per_class = counts.sum() / (n_classes * counts)
    return per_class[y]


def _scale_pos_weight(y):
    counts = np.bincount(y, minlength=2)
    return float(counts[0] / counts[1])


def _lgb_eval_kwargs(X_valid, y_valid, weight):
    """LightGBM >= 4.7 takes ``eval_X``/``eval_y`` (``eval_set`` is deprecated there)."""
    import inspect

    import lightgbm as lgb

    kwargs = {}
    if "eval_X" in inspect.signature(lgb.LGBMModel.fit).parameters:
        kwargs.update(eval_X=(X_valid,), eval_y=(y_valid,))
    else:  # pragma: no cover - lightgbm < 4.7
        kwargs.update(eval_set=[(X_valid, y_valid)])
    if weight is not None:
        kwargs["eval_sample_weight"] = [weight]
    return kwargs


class EarlyStoppedMultiOutputClassifier(MultiOutputClassifier):
    """``MultiOutputClassifier`` (one model per label) whose models stop early on their own label.

    ``MultiOutputClassifier.fit`` passes the same fit arguments to every label's model, so it
    cannot give label l its own validation labels ``Y_valid[:, l]``. This ``fit`` does: it fits a
    clone of ``estimator`` (a LightGBM classifier) on each label column with ``eval_X``/``eval_y``
    and the ``early_stopping`` callback. Everything else (``predict_proba``: a list of (n, 2)
    arrays, ``predict``, ``classes_``) is ``MultiOutputClassifier``'s.
    """

    def fit(self, X, Y, *, X_valid, Y_valid, early_stopping_rounds):
        import lightgbm as lgb

        Y, Y_valid = np.asarray(Y), np.asarray(Y_valid)
        self.estimators_ = []
        for j in range(Y.shape[1]):
            model = clone(self.estimator)
            callbacks = [lgb.early_stopping(early_stopping_rounds, verbose=False)]
            kwargs = _lgb_eval_kwargs(X_valid, Y_valid[:, j], None)
            with warnings.catch_warnings():
                warnings.filterwarnings(
                    "ignore", message=".*eval_set.*deprecated", category=Warning
                )
                model.fit(X, Y[:, j], callbacks=callbacks, **kwargs)
            self.estimators_.append(model)
        for attr in ("n_features_in_", "feature_names_in_"):
            if hasattr(self.estimators_[0], attr):
                setattr(self, attr, getattr(self.estimators_[0], attr))
        self.classes_ = [model.classes_ for model in self.estimators_]
        return self


def _common_params(settings, backend):
    if backend == "xgboost":
        return dict(
            n_estimators=settings.n_estimators,
            learning_rate=settings.learning_rate,
            max_depth=settings.max_depth,
            tree_method="hist",
            enable_categorical=True,
            early_stopping_rounds=settings.early_stopping_rounds,
            n_jobs=settings.threads(),
            random_state=settings.seed,
        )
    return dict(
        n_estimators=settings.n_estimators,
        learning_rate=settings.learning_rate,
        num_leaves=settings.num_leaves,
        n_jobs=settings.threads(),
        random_state=settings.seed,
        verbose=-1,
    )


def build_model(spec, settings, n_classes, y_train, focal_params=None):
    """An unfitted estimator for ``spec`` (``focal_params``: gamma/alpha of a focal model).

    A 2-D ``y_train`` (multi-label indicator) gives the multi-label models: XGBoost's own
    multi-output trees (``XGBClassifier`` / ``FocalXGBClassifier`` on the 2-D y), and for
    LightGBM one model per label (:class:`EarlyStoppedMultiOutputClassifier` of ``LGBMClassifier``
    / ``FocalLGBMClassifier``; alpha ``"balanced"`` is then computed per label).
    """
    multilabel = np.ndim(y_train) == 2
    common = _common_params(settings, spec.backend)
    if spec.kind == "focal":
        from .sklearn import FocalLGBMClassifier, FocalXGBClassifier

        params = dict(focal_params or {})
        if isinstance(params.get("alpha"), tuple):  # per-class weights from --alpha 1:2:4
            params["alpha"] = list(params["alpha"])
        if spec.backend == "xgboost":
            return FocalXGBClassifier(**params, **common)
        model = FocalLGBMClassifier(**params, **common)
        return EarlyStoppedMultiOutputClassifier(model) if multilabel else model
    if spec.backend == "xgboost":
        import xgboost as xgb

        extra = {"eval_metric": "logloss" if multilabel or n_classes == 2 else "mlogloss"}
        if spec.kind == "weighted" and n_classes == 2:
            extra["scale_pos_weight"] = _scale_pos_weight(y_train)
        return xgb.XGBClassifier(**common, **extra)
    import lightgbm as lgb

    extra = {}
    if spec.kind == "weighted" and n_classes == 2:
        extra["scale_pos_weight"] = _scale_pos_weight(y_train)
    model = lgb.LGBMClassifier(**common, **extra)
    return EarlyStoppedMultiOutputClassifier(model) if multilabel else model


def fit_model(spec, model, settings, n_classes, X_train, y_train, X_valid, y_valid):
    """Fit with early stopping on (X_valid, y_valid), in the library's own style.

    Class-weighted log loss is early-stopped on the weighted validation log loss, so that training
    and stopping optimise the same objective: ``scale_pos_weight`` is a training-only parameter,
    hence the explicit validation weights. Multi-label LightGBM: each label's model stops on its
    own validation column (:class:`EarlyStoppedMultiOutputClassifier`).
    """
    if isinstance(model, EarlyStoppedMultiOutputClassifier):
        return model.fit(
            X_train,
            y_train,
            X_valid=X_valid,
            Y_valid=y_valid,
            early_stopping_rounds=settings.early_stopping_rounds,
        )
    weight = valid_weight = None
    if spec.kind == "weighted":
        if n_classes == 2:
            spw = _scale_pos_weight(y_train)
            valid_weight = np.where(y_valid == 1, spw, 1.0)
        else:
            weight = _balanced_weights(y_train, n_classes)
            valid_weight = _balanced_weights(y_valid, n_classes, reference=y_train)
    if spec.backend == "xgboost":
        kwargs = dict(eval_set=[(X_valid, y_valid)], verbose=False)
        if valid_weight is not None:
            kwargs["sample_weight_eval_set"] = [valid_weight]
        model.fit(X_train, y_train, sample_weight=weight, **kwargs)
    else:
        import lightgbm as lgb

        kwargs = _lgb_eval_kwargs(X_valid, y_valid, valid_weight)
        callbacks = [lgb.early_stopping(settings.early_stopping_rounds, verbose=False)]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*eval_set.*deprecated", category=Warning)
            model.fit(X_train, y_train, sample_weight=weight, callbacks=callbacks, **kwargs)
    return model


def n_trees(model):
    """Number of boosting rounds kept after early stopping (one model per label: their mean,
    rounded)."""
    if isinstance(model, MultiOutputClassifier):
        counts = [n_trees(m) for m in model.estimators_]
        return None if None in counts else int(round(float(np.mean(counts))))
    for attr in ("best_iteration_", "best_iteration"):
        try:
            value = getattr(model, attr)
        except (AttributeError, ValueError):
            continue
        if value is not None and value >= 0:
            return int(value) + (1 if attr == "best_iteration" else 0)
    return None


def predicted_proba(model, X):
    """``predict_proba``; for one model per label the (n, L) positive-class probabilities."""
    proba = model.predict_proba(X)
    if isinstance(model, MultiOutputClassifier):
        return np.column_stack([np.asarray(p)[:, 1] for p in proba])
    return proba


def probability_outputs(spec, model, X):
    """The probability estimates of a fitted model that the comparison scores, by suffix.

    Every entry becomes its own row of the table (named ``"<model> <suffix>"``, the empty suffix
    for the model's plain output) and its own curve in the figures. Log-loss models have one:
    ``predict_proba``. Focal models have two (the estimators' ``probability`` parameter):

    * ``""``: the raw sigmoid/softmax of the focal model's margins (``probability="focal"``),
      what focal loss itself produces: under-confident, shifted by alpha;
    * ``"posterior"``: the same margins with that known distortion undone
      (``probability="posterior"``, :mod:`focalboost.posterior`; the estimators' default).

    The correction is monotone in the margin, so binary ranking metrics (PR-AUC, ROC-AUC, best F1)
    are the same for both rows (multi-label: per label); log loss, Brier score, ECE and the F1
    threshold are not.
    """
    if spec.kind != "focal":
        return {"": predicted_proba(model, X)}
    focal = model.estimators_ if isinstance(model, MultiOutputClassifier) else [model]
    chosen = [m.get_params()["probability"] for m in focal]
    try:
        outputs = {}
        for suffix, mode in (("", "focal"), ("posterior", "posterior")):
            for m in focal:
                m.set_params(probability=mode)
            outputs[suffix] = predicted_proba(model, X)
    finally:
        for m, mode in zip(focal, chosen):
            m.set_params(probability=mode)
    return outputs


# --- metrics --------------------------------------------------------------------------------------


BINARY_COLUMNS = [
    # key, header, format
    ("pr_auc", "PR-AUC", "{:.3f}"),
    ("pr_auc_ci_halfwidth", "±95%", "{:.3f}"),
    ("roc_auc", "ROC-AUC", "{:.3f}"),
    ("log_loss", "log loss", "{:.4f}"),
    ("brier", "Brier", "{:.4f}"),
    ("ece", "ECE", "{:.4f}"),
    ("best_f1", "best F1", "{:.3f}"),
    ("best_f1_threshold", "F1 thr", "{:.3f}"),
    ("recall_at_90_precision", "R@P90", "{:.3f}"),
]
MULTICLASS_COLUMNS = [
    ("macro_pr_auc", "macro PR-AUC", "{:.3f}"),
    ("pr_auc_ci_halfwidth", "±95%", "{:.3f}"),
    ("balanced_accuracy", "bal. acc.", "{:.3f}"),
    ("macro_f1", "macro F1", "{:.3f}"),
    ("log_loss", "log loss", "{:.4f}"),
    ("brier", "Brier", "{:.4f}"),
    ("ece", "ECE", "{:.4f}"),
]
#: multi-label: one "PR-AUC <label>" column per label comes first (see multilabel_columns)
MULTILABEL_COLUMNS = [
    ("macro_pr_auc", "macro PR-AUC", "{:.3f}"),
    ("pr_auc_ci_halfwidth", "±95%", "{:.3f}"),
    ("macro_roc_auc", "macro ROC-AUC", "{:.3f}"),
    ("log_loss", "log loss", "{:.4f}"),
    ("brier", "Brier", "{:.4f}"),
    ("ece", "ECE", "{:.4f}"),
]
COMMON_COLUMNS = [
    ("n_trees", "trees", "{}"),
    ("fit_seconds", "fit s", "{:.1f}"),
    ("gamma", "gamma", "{}"),
    ("alpha", "alpha", "{}"),
]


def multilabel_columns(labels):
    """Table columns of a multi-label run: PR-AUC of each label, then the macro metrics."""
    per_label = [(f"pr_auc[{label}]", f"PR-AUC {label}", "{:.3f}") for label in labels]
    return per_label + MULTILABEL_COLUMNS


def bootstrap_interval(y_true, probas, n_classes, n_boot, seed, level=0.95):
    """Percentile bootstrap interval of the (macro) PR-AUC of each model on the test set.

    The same resamples of the test rows serve every model. Returns {name: (low, high)}; a
    resample missing a class (multi-label: a label's positives or negatives) is drawn again.
    """
    rng = np.random.default_rng(seed)
    y_true = np.asarray(y_true)
    n = len(y_true)
    samples, tries = [], 0
    while len(samples) < n_boot and tries < 100 * n_boot:
        tries += 1
        idx = rng.integers(0, n, n)
        if y_true.ndim == 2:
            positives = y_true[idx].sum(axis=0)
            complete = bool(np.all((positives > 0) & (positives < n)))
        else:
            complete = np.unique(y_true[idx]).shape[0] == n_classes
        if complete:
            samples.append(idx)
    tail = (1 - level) / 2 * 100
    out = {}
    for name, proba in probas.items():
        if not samples:  # a label too rare to be resampled: no interval
            out[name] = (math.nan, math.nan)
            continue
        scores = [
            selection_score(y_true[idx], np.asarray(proba)[idx], n_classes) for idx in samples
        ]
        low, high = np.percentile(scores, [tail, 100 - tail])
        out[name] = (float(low), float(high))
    return out


def selection_score(y_true, proba, n_classes):
    """What the focal search maximises: average precision (macro one-vs-rest for multiclass,
    macro over labels for a multi-label ``y_true`` (n, L))."""
    from sklearn.metrics import average_precision_score
    from sklearn.preprocessing import label_binarize

    P = np.asarray(proba, dtype=np.float64)
    if np.ndim(y_true) == 2:
        return float(average_precision_score(y_true, P, average="macro"))
    if n_classes == 2:
        return float(average_precision_score(y_true, P[:, 1] if P.ndim == 2 else P))
    onehot = label_binarize(y_true, classes=np.arange(n_classes))
    return float(average_precision_score(onehot, P, average="macro"))


# --- the comparison -------------------------------------------------------------------------------


@dataclass
class Comparison:
    """What a run produced: one row per (model, probability output), plus what it ran on."""

    dataset: object
    settings: Settings
    rows: list = field(default_factory=list)  # dicts: name, backend, kind, metrics, params, ...
    probas: dict = field(default_factory=dict)  # row name -> test probabilities
    y_test: np.ndarray | None = None
    split: dict = field(default_factory=dict)
    wall_seconds: float = 0.0

    @property
    def is_binary(self):
        return self.dataset.is_binary

    @property
    def is_multilabel(self):
        return self.dataset.is_multilabel

    def columns(self):
        """The printed table's columns: (key, header, format), the metrics then the common ones."""
        if self.is_multilabel:
            metrics = multilabel_columns(self.dataset.labels)
        else:
            metrics = BINARY_COLUMNS if self.is_binary else MULTICLASS_COLUMNS
        return metrics + COMMON_COLUMNS

    def table(self):
        """The results as a pandas DataFrame (one row per model output)."""
        import pandas as pd

        columns = self.columns()
        keys = [k for k, _, _ in columns[: len(columns) - len(COMMON_COLUMNS)]]
        if self.is_multilabel:  # the per-label ROC-AUC is in the CSV, not in the printed table
            keys += [f"roc_auc[{label}]" for label in self.dataset.labels]
        key = "pr_auc" if self.is_binary else "macro_pr_auc"
        keys += [f"{key}_ci_low", f"{key}_ci_high"]
        keys += [k for k, _, _ in COMMON_COLUMNS] + ["search_seconds", "cv_score"]
        records = [
            {"model": r["name"], "output": r["output"], **{k: r.get(k) for k in keys}}
            for r in self.rows
        ]
        return pd.DataFrame.from_records(records)


def _progress(total, enabled, desc):
    """A tqdm bar on stderr (a no-op object when disabled or tqdm is missing)."""
    if enabled:
        try:
            from tqdm.auto import tqdm

            return tqdm(total=total, desc=desc, unit="fit", file=sys.stderr, dynamic_ncols=True)
        except ImportError:  # pragma: no cover - tqdm is in the compare extra
            pass

    class _Silent:
        def update(self, n=1):
            pass

        def set_postfix_str(self, s):
            pass

        def close(self):
            pass

    return _Silent()


def _alpha_label(alpha):
    if alpha is None:
        return "none"
    if isinstance(alpha, str):
        return alpha
    if np.ndim(alpha) == 0:
        return f"{float(alpha):g}"
    return ":".join(f"{float(a):g}" for a in alpha)


def check_class_sizes(dataset, settings):
    """Every class needs enough rows for the stratified test, validation and CV splits
    (multi-label: every label needs that many rows with it and without it)."""
    train_share = (1 - settings.test_size) * (1 - settings.valid_size)
    need = max(10, math.ceil((settings.cv_folds + 1) / train_share) + 2)
    if dataset.is_multilabel:
        n = len(dataset.Y)
        small = [
            (label, int(c), int(n - c))
            for label, c in zip(dataset.labels, dataset.label_counts)
            if min(c, n - c) < need
        ]
        if small:
            shown = ", ".join(f"{label!r}: {p} with, {q} without" for label, p, q in small)
            raise CLIError(
                f"label(s) with fewer than {need} rows on one side ({shown}); the comparison "
                f"needs at least {need} rows with and {need} without each label for its test, "
                f"validation and {settings.cv_folds}-fold splits"
            )
        return
    counts = dataset.class_counts
    small = [(dataset.classes[k], int(c)) for k, c in enumerate(counts) if c < need]
    if small:
        shown = ", ".join(f"{label!r}: {c}" for label, c in small)
        raise CLIError(
            f"target {dataset.target!r}: class(es) with fewer than {need} rows ({shown}); the "
            f"comparison needs at least {need} rows per class for its stratified test, validation "
            f"and {settings.cv_folds}-fold splits"
        )


def _check_label_splits(labels, parts):
    """Multi-label: every label must have rows with it and without it in every part of a split
    (the strata spread rare labels evenly, but co-occurring labels can still leave a gap)."""
    for part, Y in parts.items():
        positives = Y.sum(axis=0)
        for label, p in zip(labels, positives):
            if p == 0 or p == len(Y):
                raise CLIError(
                    f"label {label!r}: the {part} rows are all {'without' if p == 0 else 'with'} "
                    "it; the label is too rare (or too common) for these splits: use more rows, "
                    "fewer --cv-folds or another --seed"
                )


def _search_focal(spec, grid, folds, settings, K, X_train, y_train, X_valid, y_valid, bar):
    """Stratified K-fold search of the focal parameters on the training part.

    Each candidate is fitted on K - 1 folds, early-stopped on the validation part (which the
    search never scores) and scored on the held-out fold. Returns (table, best params, best mean).
    """
    table, best = [], None
    for params in grid:
        scores = []
        for k, (fit_rows, score_rows) in enumerate(folds):
            bar.set_postfix_str(
                f"{spec.name} γ={params['gamma']:g} α={_alpha_label(params['alpha'])} "
                f"fold {k + 1}/{len(folds)}"
            )
            model = build_model(spec, settings, K, y_train[fit_rows], params)
            fit_model(
                spec,
                model,
                settings,
                K,
                X_train.iloc[fit_rows],
                y_train[fit_rows],
                X_valid,
                y_valid,
            )
            proba = predicted_proba(model, X_train.iloc[score_rows])
            scores.append(selection_score(y_train[score_rows], proba, K))
            bar.update(1)
        table.append(
            {
                "gamma": params["gamma"],
                "alpha": _alpha_label(params["alpha"]),
                "cv_mean": float(np.mean(scores)),
                "cv_std": float(np.std(scores)),
                "fold_scores": [float(v) for v in scores],
            }
        )
        if best is None or np.mean(scores) > best[1]:  # ties: the first in grid order
            best = (params, float(np.mean(scores)))
    return table, best[0], best[1]


def run_comparison(dataset, settings):
    """Train and score every model; returns a :class:`Comparison` (nothing written, no table).

    Rows are split once (stratified, ``settings.seed``) into train / validation / test. Every
    model is fitted on train and early-stopped on validation; the focal search runs K-fold CV
    inside train (early stopping on validation, too); only the final models see the test part.

    Multi-label data (:class:`~focalboost.datasets.MultiLabelDataset`): the splits are stratified
    on each row's rarest label (:func:`~focalboost.datasets.multilabel_strata`), the models are
    log loss and focal loss per backend (no class-weighted model: XGBoost's multi-output trees
    take one weight per row, not per label), and the alpha grid is the binary one, applied to
    every label.
    """
    from sklearn.model_selection import StratifiedKFold, train_test_split

    from .datasets import multilabel_strata

    start = time.perf_counter()
    dataset = dataset.subsample(settings.max_rows, random_state=settings.seed)
    check_class_sizes(dataset, settings)
    multilabel = dataset.is_multilabel
    X = dataset.X
    if multilabel:
        y, K = dataset.Y, None

        def strata(Y, min_size=2):
            return multilabel_strata(Y, min_size)

    else:
        y, K = dataset.y, dataset.n_classes

        def strata(y, min_size=2):
            return y

    idx_fit, idx_test = train_test_split(
        np.arange(len(y)),
        test_size=settings.test_size,
        stratify=strata(y),
        random_state=settings.seed,
    )
    idx_train, idx_valid = train_test_split(
        idx_fit,
        test_size=settings.valid_size,
        stratify=strata(y[idx_fit]),
        random_state=settings.seed,
    )
    X_train, y_train = X.iloc[idx_train], y[idx_train]
    X_valid, y_valid = X.iloc[idx_valid], y[idx_valid]
    X_test, y_test = X.iloc[idx_test], y[idx_test]

    grid = [
        {"gamma": float(g), "alpha": a}
        for g in settings.gammas
        for a in settings.alpha_grid(2 if multilabel else K)
    ]
    cv = StratifiedKFold(settings.cv_folds, shuffle=True, random_state=settings.seed)
    folds = list(cv.split(X_train, strata(y_train, settings.cv_folds)))
    if multilabel:
        parts = {"training": y_train, "validation": y_valid, "test": y_test}
        for k, (fit_rows, score_rows) in enumerate(folds):
            parts[f"CV fold {k + 1} training"] = y_train[fit_rows]
            parts[f"CV fold {k + 1} held-out"] = y_train[score_rows]
        _check_label_splits(dataset.labels, parts)
    kinds = ("logloss", "focal") if multilabel else ("logloss", "weighted", "focal")
    specs = [
        ModelSpec(backend, kind, searched=kind == "focal")
        for backend in settings.backends
        for kind in kinds
    ]
    total = sum(1 + (len(grid) * len(folds) if s.searched else 0) for s in specs)
    result = Comparison(dataset=dataset, settings=settings, y_test=y_test)
    result.split = {
        "rows": int(len(y)),
        "train": int(len(idx_train)),
        "valid": int(len(idx_valid)),
        "test": int(len(idx_test)),
        "cv_folds": settings.cv_folds,
    }
    bar = _progress(total, settings.progress, desc="focalboost compare")
    try:
        for spec in specs:
            search = params = cv_score = search_seconds = None
            if spec.searched:
                t0 = time.perf_counter()
                search, params, cv_score = _search_focal(
                    spec, grid, folds, settings, K, X_train, y_train, X_valid, y_valid, bar
                )
                search_seconds = time.perf_counter() - t0
            bar.set_postfix_str(f"{spec.name} (final fit)")
            model = build_model(spec, settings, K, y_train, params)
            t0 = time.perf_counter()
            fit_model(spec, model, settings, K, X_train, y_train, X_valid, y_valid)
            fit_seconds = time.perf_counter() - t0
            bar.update(1)
            for suffix, proba in probability_outputs(spec, model, X_test).items():
                name = spec.name if not suffix else f"{spec.name} {suffix}"
                if multilabel:
                    metrics = multilabel_metrics(y_test, proba, dataset.labels)
                elif K == 2:
                    metrics = binary_metrics(y_test, proba)
                else:
                    metrics = multiclass_metrics(y_test, proba)
                row = {
                    "name": name,
                    "backend": spec.backend,
                    "kind": spec.kind,
                    "output": suffix or "raw",
                    **metrics,
                    "n_trees": n_trees(model),
                    "fit_seconds": fit_seconds,
                    "search_seconds": search_seconds,
                    "gamma": params["gamma"] if params else None,
                    "alpha": _alpha_label(params["alpha"]) if params else None,
                    "cv_score": cv_score,
                    "search": search,
                }
                if isinstance(model, MultiOutputClassifier):
                    row["n_trees_per_label"] = [n_trees(m) for m in model.estimators_]
                if spec.kind == "weighted":
                    row["class_weighting"] = (
                        f"scale_pos_weight={_scale_pos_weight(y_train):.3g}"
                        if K == 2
                        else "balanced sample weights"
                    )
                result.rows.append(row)
                result.probas[name] = np.asarray(proba)
    finally:
        bar.close()
    if settings.bootstrap:
        key = "pr_auc" if K == 2 else "macro_pr_auc"
        intervals = bootstrap_interval(y_test, result.probas, K, settings.bootstrap, settings.seed)
        for row in result.rows:
            low, high = intervals[row["name"]]
            row[f"{key}_ci_low"], row[f"{key}_ci_high"] = low, high
            row["pr_auc_ci_halfwidth"] = (high - low) / 2
    result.wall_seconds = time.perf_counter() - start
    return result


# --- output ---------------------------------------------------------------------------------------


def format_table(result):
    """The results as a fixed-width text table."""
    columns = result.columns()
    header = ["model"] + [h for _, h, _ in columns]
    lines = []
    for row in result.rows:
        cells = [row["name"]]
        for key, _, fmt in columns:
            value = row.get(key)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                cells.append("-")
            else:
                cells.append(fmt.format(value))
        lines.append(cells)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines)]
    out = [
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths))
        )
    ]
    out.append("  ".join("-" * w for w in widths))
    for cells in lines:
        out.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
            )
        )
    return "\n".join(out)


def environment():
    import lightgbm
    import sklearn
    import xgboost

    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "focalboost": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "xgboost": xgboost.__version__,
        "lightgbm": lightgbm.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
    }


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _dataset_doc(ds):
    common = {
        "name": ds.name,
        "description": ds.description,
        "features": list(map(str, ds.X.columns)),
        "categorical": ds.categorical,
        "dropped": ds.dropped,
    }
    if ds.is_multilabel:
        return {
            **common,
            "targets": list(ds.labels),
            "multilabel": True,
            "positive_classes": [str(c) for c in ds.positive_classes],
            "negative_classes": [str(c) for c in ds.negative_classes],
            "label_counts": ds.label_counts.tolist(),
            "rows": int(len(ds.Y)),
        }
    return {
        **common,
        "target": ds.target,
        "classes": [str(c) for c in ds.classes],
        "positive_class": None if ds.positive_class is None else str(ds.positive_class),
        "class_counts": ds.class_counts.tolist(),
    }


def write_outputs(result, output_dir):
    """results.csv, results.json and the PNG figures; returns the written paths."""
    import matplotlib.pyplot as plt

    out = Path(output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create --output-dir {str(out)!r}: {exc.strerror or exc}") from None
    paths = {}
    table = result.table()
    paths["csv"] = out / "results.csv"
    table.to_csv(paths["csv"], index=False)

    ds = result.dataset
    settings = result.settings
    doc = {
        "dataset": _dataset_doc(ds),
        "split": result.split,
        "metrics": {
            "ece": f"expected calibration error over {ECE_BINS} "
            f"{'equal-count' if ECE_STRATEGY == 'quantile' else 'equal-width'} bins of the "
            "predicted probability: sum of (rows in bin / n) * |mean predicted - observed rate|; "
            + (
                "the mean over labels of each label's ECE"
                if ds.is_multilabel
                else "of P(positive class)"
                if ds.is_binary
                else "top-label: bins of the largest probability, observed = accuracy of its class"
            ),
        },
        "settings": {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in settings.__dict__.items()
            if k not in ("alphas",)
        }
        | {
            "alphas": [
                _alpha_label(a)
                for a in settings.alpha_grid(2 if ds.is_multilabel else ds.n_classes)
            ],
            "threads": settings.threads(),
        },
        "environment": environment(),
        "wall_seconds": result.wall_seconds,
        "models": result.rows,
    }
    paths["json"] = out / "results.json"
    paths["json"].write_text(json.dumps(_jsonable(doc), indent=2) + "\n")

    figures = _multilabel_figures(result) if ds.is_multilabel else _figures(result)
    for name, fig in figures.items():
        path = out / f"{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths[name] = path
    return paths


def _figures(result):
    """Binary and multiclass: PR curves (all models in one panel per class), reliability curves
    (one panel per backend, raw and corrected focal output side by side), focal derivatives."""
    import matplotlib.pyplot as plt

    from . import plot

    ds = result.dataset
    classes = [str(c) for c in ds.classes]
    # binary: the posterior correction is monotone, its PR curve would hide under the raw one
    pr_probas = {
        row["name"]: result.probas[row["name"]]
        for row in result.rows
        if not ds.is_binary or row["output"] == "raw"
    }
    figures = {
        "pr_curves": plot.plot_precision_recall(
            result.y_test,
            pr_probas,
            classes=classes,
            styles=_styles(result.rows),
            title=f"{ds.name}: precision-recall on the test set ({len(result.y_test):,} rows)"
            if ds.is_binary
            else None,
        ),
    }
    backends = list(dict.fromkeys(row["backend"] for row in result.rows))
    fig, axes = plt.subplots(
        1, len(backends), figsize=(6.6 * len(backends), 6.4), layout="constrained", squeeze=False
    )
    styles = _styles(result.rows, by_backend=False)
    for ax, backend in zip(axes.flat, backends):
        names = [row["name"] for row in result.rows if row["backend"] == backend]
        plot.plot_calibration(
            result.y_test,
            {name: result.probas[name] for name in names},
            classes=classes,
            n_bins=ECE_BINS,
            strategy=ECE_STRATEGY,
            styles=styles,
            ax=ax,
            title=backend,
        )
    what = f"P(y = {classes[1]!r})" if ds.is_binary else "top-label probability"
    fig.suptitle(
        f"{ds.name}: calibration on the test set ({len(result.y_test):,} rows), {what}, "
        f"{ECE_BINS} equal-count bins\nfocal: the focal model's raw sigmoid/softmax (dashed, "
        "open squares); focal posterior: the same model corrected (purple)"
    )
    figures["calibration"] = fig
    figures["focal_gradients"] = plot.plot_focal_derivatives()
    if not ds.is_binary:  # the true class's entries of the softmax focal loss, K of this data
        figures["focal_gradients_multiclass"] = plot.plot_focal_derivatives(
            n_classes=ds.n_classes, label=0
        )
    return figures


#: multi-label figures draw one panel per label up to this many labels
MAX_LABEL_PANELS = 8


def _multilabel_figures(result):
    """Multi-label: per-label PR curves (one panel per label, every model; the corrected focal
    output ranks as the raw one) and per-label reliability curves (a row of panels per
    backend), for the first :data:`MAX_LABEL_PANELS` labels; the binary focal derivatives."""
    import matplotlib.pyplot as plt

    from . import plot

    ds = result.dataset
    labels = list(ds.labels)[:MAX_LABEL_PANELS]
    more = "" if ds.n_labels <= MAX_LABEL_PANELS else f" (first {MAX_LABEL_PANELS} labels)"
    Y = result.y_test
    ncols = len(labels)

    fig, axes = plt.subplots(
        1, ncols, figsize=(5.6 * ncols, 5.4), layout="constrained", squeeze=False
    )
    styles = _styles(result.rows)
    raw = [row["name"] for row in result.rows if row["output"] == "raw"]
    for j, (ax, label) in enumerate(zip(axes.flat, labels)):
        plot.plot_precision_recall(
            Y[:, j],
            {name: result.probas[name][:, j] for name in raw},
            classes=["", label],
            styles=styles,
            ax=ax,
            title=f"label {label!r}",
        )
    fig.suptitle(f"{ds.name}: precision-recall per label on the test set ({len(Y):,} rows){more}")
    figures = {"pr_curves": fig}

    backends = list(dict.fromkeys(row["backend"] for row in result.rows))
    fig, axes = plt.subplots(
        len(backends),
        ncols,
        figsize=(5.2 * ncols, 5.2 * len(backends)),
        layout="constrained",
        squeeze=False,
    )
    styles = _styles(result.rows, by_backend=False)
    for r, backend in enumerate(backends):
        names = [row["name"] for row in result.rows if row["backend"] == backend]
        for j, label in enumerate(labels):
            plot.plot_calibration(
                Y[:, j],
                {name: result.probas[name][:, j] for name in names},
                classes=["", label],
                n_bins=ECE_BINS,
                strategy=ECE_STRATEGY,
                styles=styles,
                ax=axes[r, j],
                title=f"{backend}, label {label!r}",
            )
    fig.suptitle(
        f"{ds.name}: calibration per label on the test set ({len(Y):,} rows){more}, "
        f"{ECE_BINS} equal-count bins\nfocal: the focal model's raw sigmoid (dashed, open "
        "squares); focal posterior: the same model corrected (purple)"
    )
    figures["calibration"] = fig
    figures["focal_gradients"] = plot.plot_focal_derivatives()  # each label is a binary focal loss
    return figures


def _styles(rows, by_backend=True):
    """Line styles: colour by model kind; the backend by line style (``by_backend``, figures with
    both backends in one panel), else the raw focal output dashed with open square markers."""
    colors = {"logloss": "tab:blue", "weighted": "tab:orange", "focal": "tab:green"}
    dashes = {"xgboost": "-", "lightgbm": "--"}
    styles = {}
    for row in rows:
        corrected = row.get("output") not in (None, "raw")  # the posterior-corrected focal output
        style = {"color": "tab:purple" if corrected else colors.get(row["kind"], "tab:grey")}
        if by_backend:
            style["ls"] = dashes.get(row["backend"], "-")
        elif row["kind"] == "focal" and not corrected:
            style.update(ls="--", marker="s", mfc="white")
        styles[row["name"]] = style
    return styles


# --- command line ---------------------------------------------------------------------------------


def _parse_gammas(text):
    values = []
    for part in _split_list(text):
        try:
            value = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"gamma values must be numbers >= 0, got {part!r}"
            ) from None
        if not math.isfinite(value) or value < 0:
            raise argparse.ArgumentTypeError(
                f"gamma values must be finite numbers >= 0, got {part!r}"
            )
        values.append(value)
    return tuple(values)


def _parse_alphas(text):
    values = []
    for part in _split_list(text):
        low = part.lower()
        if low in ("none", "null"):
            values.append(None)
        elif low == "balanced":
            values.append("balanced")
        elif ":" in part:  # per-class vector for multiclass, e.g. 1:2:4
            try:
                vec = [float(v) for v in part.split(":")]
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"a per-class alpha is numbers joined by ':', got {part!r}"
                ) from None
            if any(not (math.isfinite(v) and v > 0) for v in vec):
                raise argparse.ArgumentTypeError(
                    f"per-class alpha weights must be > 0, got {part!r}"
                )
            values.append(tuple(vec))
        else:
            try:
                value = float(part)
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"alpha values must be 'none', 'balanced', a number in (0, 1) (binary) or "
                    f"per-class weights like 1:2:4 (multiclass), got {part!r}"
                ) from None
            if not 0 < value < 1:
                raise argparse.ArgumentTypeError(
                    f"a binary alpha must lie in the open interval (0, 1), got {part!r}"
                )
            values.append(value)
    return tuple(values)


def _split_list(text):
    parts = [p.strip() for p in str(text).split(",")]
    if not parts or any(p == "" for p in parts):
        raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
    return parts


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="focalboost",
        description="Focal loss as a first-class objective for XGBoost and LightGBM.",
    )
    parser.add_argument("--version", action="version", version=f"focalboost {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    cmp = sub.add_parser(
        "compare",
        help="focal loss against log loss and class weighting on real imbalanced data",
        description=(
            "Train built-in log loss, class-weighted log loss and focal loss (gamma/alpha "
            "chosen by cross-validation) with XGBoost and/or LightGBM on one split of a real "
            "imbalanced data set; print a table and write CSV, JSON and PNG figures. Focal "
            "models appear twice: raw sigmoid/softmax ('focal') and corrected ('focal "
            "posterior'), compared by log loss, Brier score and ECE (expected calibration "
            f"error: {ECE_BINS} equal-count bins of the predicted probability, |mean predicted "
            "- observed rate| weighted by bin size; multiclass: of the top-label probability). "
            "Several --target columns: multi-label mode."
        ),
    )
    data = cmp.add_argument_group("data")
    data.add_argument(
        "--data", metavar="PATH", help="a CSV or Parquet file (default: a built-in data set)"
    )
    data.add_argument(
        "--target",
        metavar="COLUMN[,COLUMN...]",
        help="the target column of --data; several comma-separated columns make a multi-label "
        "problem: each column binary (0/1, booleans or two values; positive: 1/True, else the "
        "rarer value), reported per label and as macro PR-AUC. Multi-label models: XGBoost "
        "log loss and focal loss on the 2-D target (multi-output trees); LightGBM one model per "
        "label (MultiOutputClassifier), each early-stopped on its own validation label; the same "
        "focal gamma/alpha search, alpha applied to every label; no class-weighted model",
    )
    data.add_argument(
        "--dataset",
        default="nasscds",
        choices=sorted(DEFAULT_DATASETS),
        help="built-in data set when --data is not given: nasscds (binary, 4.5%% positive) or "
        "diamonds (5 classes); default nasscds",
    )
    data.add_argument(
        "--drop", metavar="COLS", default="", help="comma-separated columns to leave out"
    )
    data.add_argument(
        "--positive-class",
        metavar="LABEL",
        help="binary target: the label of class 1 (default: 1/True, else the rarer class); "
        "not with several --target columns",
    )
    data.add_argument(
        "--max-categories",
        metavar="N",
        type=_positive_int,
        default=MAX_CATEGORIES,
        help=f"text columns with more distinct values are refused (default {MAX_CATEGORIES})",
    )
    data.add_argument(
        "--max-rows",
        metavar="N",
        type=_positive_int,
        help="use a stratified sample of this many rows",
    )

    models = cmp.add_argument_group("models")
    models.add_argument(
        "--backend", default="both", choices=["xgboost", "lightgbm", "both"], help="default both"
    )
    models.add_argument(
        "--gamma",
        type=_parse_gammas,
        metavar="LIST",
        help=f"focal gamma values to search (default {','.join(f'{g:g}' for g in DEFAULT_GAMMAS)})",
    )
    models.add_argument(
        "--alpha",
        type=_parse_alphas,
        metavar="LIST",
        help="focal alpha values to search: none, balanced, numbers in (0, 1) "
        "(binary) or per-class weights like 1:2:4 (default none,0.25,balanced "
        "binary; none,balanced multiclass)",
    )
    models.add_argument(
        "--cv-folds", metavar="K", type=_positive_int, help="folds of the focal search (default 3)"
    )
    models.add_argument(
        "--n-estimators",
        metavar="N",
        type=_positive_int,
        help="maximum boosting rounds (default 2000)",
    )
    models.add_argument(
        "--learning-rate", metavar="ETA", type=float, help="shrinkage of every model (default 0.05)"
    )
    models.add_argument(
        "--early-stopping-rounds",
        metavar="N",
        type=_positive_int,
        help="stop after this many rounds without improvement (default 50)",
    )
    models.add_argument(
        "--test-size",
        metavar="FRACTION",
        type=_fraction,
        default=0.25,
        help="share of rows held out for the test (default 0.25)",
    )
    models.add_argument(
        "--valid-size",
        metavar="FRACTION",
        type=_fraction,
        default=0.2,
        help="share of the non-test rows used for early stopping (default 0.2)",
    )
    models.add_argument(
        "--seed",
        metavar="INT",
        type=int,
        default=0,
        help="of the splits and the models (default 0)",
    )
    models.add_argument(
        "--n-jobs",
        metavar="N",
        type=_positive_int,
        help="threads per model (default 1: fastest for data of this size, and robust "
        "on a busy machine)",
    )

    run = cmp.add_argument_group("run")
    run.add_argument(
        "--output-dir",
        default="focalboost-output",
        metavar="DIR",
        help="where results.csv/json and the figures go (default ./focalboost-output)",
    )
    run.add_argument(
        "--quick",
        action="store_true",
        help="smoke run in seconds: 3,000 rows, 60 fast rounds, a 2x2 search on 2 folds",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def settings_from_args(args):
    backends = BACKENDS if args.backend == "both" else (args.backend,)
    overrides = {
        "backends": backends,
        "test_size": args.test_size,
        "valid_size": args.valid_size,
        "seed": args.seed,
        "n_jobs": args.n_jobs,
        "progress": not args.no_progress,
    }
    for key in (
        "gamma",
        "alpha",
        "cv_folds",
        "n_estimators",
        "learning_rate",
        "early_stopping_rounds",
        "max_rows",
    ):
        value = getattr(args, key)
        if value is not None:
            overrides[{"gamma": "gammas", "alpha": "alphas"}.get(key, key)] = value
    if args.cv_folds is not None and args.cv_folds < 2:
        raise CLIError(f"--cv-folds must be at least 2, got {args.cv_folds}")
    if args.learning_rate is not None and not (0 < args.learning_rate <= 1):
        raise CLIError(f"--learning-rate must be in (0, 1], got {args.learning_rate}")
    return Settings.quick_defaults(**overrides) if args.quick else Settings(**overrides)


def load_data(args):
    from . import datasets

    drop = [c for c in (p.strip() for p in args.drop.split(",")) if c]
    if args.data is None:
        if args.target is not None:
            raise CLIError("--target needs --data (the built-in data sets have their own targets)")
        if drop or args.positive_class is not None:
            raise CLIError("--drop and --positive-class apply to --data files only")
        return datasets.load_dataset(args.dataset)
    if args.target is None:
        raise CLIError(
            f"--data {args.data} needs --target COLUMN (the column to predict; several "
            "comma-separated binary columns for multi-label)"
        )
    return datasets.load_file(
        args.data,
        args.target,
        drop=drop,
        positive_class=args.positive_class,
        max_categories=args.max_categories,
    )


def check_alphas(settings, dataset):
    if dataset.is_multilabel:
        for alpha in settings.alpha_grid(2):
            if isinstance(alpha, tuple):
                raise CLIError(
                    f"--alpha {_alpha_label(alpha)}: with several target columns alpha is "
                    "applied to every label: a number in (0, 1), 'none' or 'balanced'"
                )
        return
    for alpha in settings.alpha_grid(dataset.n_classes):
        if dataset.is_binary and isinstance(alpha, tuple):
            raise CLIError(
                f"--alpha {_alpha_label(alpha)}: per-class weights are for multiclass targets; "
                "binary alpha is a number in (0, 1), 'none' or 'balanced'"
            )
        if not dataset.is_binary and isinstance(alpha, float):
            raise CLIError(
                f"--alpha {alpha:g}: a single number is the binary class-1 weight; for "
                f"{dataset.n_classes} classes use 'none', 'balanced' or per-class weights "
                "like " + ":".join(["1"] * dataset.n_classes)
            )
        if not dataset.is_binary and isinstance(alpha, tuple) and len(alpha) != dataset.n_classes:
            raise CLIError(
                f"--alpha {_alpha_label(alpha)}: {len(alpha)} weights for "
                f"{dataset.n_classes} classes"
            )


def compare(args, stdout=None):
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    stdout = stdout or sys.stdout
    settings = settings_from_args(args)
    dataset = load_data(args)
    check_alphas(settings, dataset)
    print(dataset.summary(), file=stdout)
    n_rows = len(dataset.Y) if dataset.is_multilabel else len(dataset.y)
    if settings.max_rows and settings.max_rows < n_rows:
        print(
            f"using a stratified sample of {settings.max_rows:,} rows"
            + (" (--quick)" if settings.quick else ""),
            file=stdout,
        )
    stdout.flush()
    result = run_comparison(dataset, settings)
    paths = write_outputs(result, args.output_dir)
    s = result.split
    print(
        f"\ntest set: {s['test']:,} rows (train {s['train']:,}, early-stopping validation "
        f"{s['valid']:,}; focal search: {s['cv_folds']}-fold CV on the training rows)",
        file=stdout,
    )
    print(format_table(result), file=stdout)
    ece = f"ECE: expected calibration error ({ECE_BINS} equal-count bins"
    if dataset.is_multilabel:
        notes = (
            "PR-AUC <label>: average precision of each label; macro: the mean over labels; ±95%: "
            "half-width of a bootstrap 95% interval of the macro PR-AUC (test rows resampled);\n"
            "log loss, Brier: means over labels; "
            + ece
            + ", mean over labels);\nfocal: gamma/alpha chosen by CV macro average precision, "
            "alpha applied to each label ('balanced': per label); focal posterior: the same "
            "model's probabilities with the focal/alpha distortion undone;\nxgboost: one model "
            "with multi-output trees; lightgbm: one model per label, each early-stopped on its "
            "own label (trees: their mean); no class-weighted models in multi-label mode"
        )
    elif dataset.is_binary:
        notes = (
            "±95%: half-width of a bootstrap 95% interval of the PR-AUC (test rows resampled);\n"
            + ece
            + " of P(positive));\n"
            "focal: gamma/alpha chosen by CV average precision; focal posterior: the same model's "
            "probabilities with the focal/alpha distortion undone;\nweighted: scale_pos_weight = "
            "n_negative / n_positive; F1 thr: probability threshold of the best F1; R@P90: recall "
            "at 90% precision; trees: rounds kept by early stopping"
        )
    else:
        notes = (
            "±95%: half-width of a bootstrap 95% interval of the macro PR-AUC (test rows "
            "resampled);\nBrier: mean of sum_k (p_k - [y = k])^2; "
            + ece
            + " of the top-label probability against its accuracy);\nfocal: gamma/alpha chosen "
            "by CV macro average precision; focal posterior: the same model's probabilities with "
            "the focal/alpha distortion undone;\nweighted: balanced sample weights; trees: rounds "
            "kept by early stopping"
        )
    print("\n" + notes, file=stdout)
    print(f"wrote {', '.join(str(p) for p in paths.values())}", file=stdout)
    print(f"total {result.wall_seconds:.0f} s", file=stdout)
    return result


def main(argv=None):
    """Entry point of the ``focalboost`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors: message + exit 2 (argparse)
    try:
        if args.command == "compare":
            compare(args)
    except (CLIError, DataError) as exc:
        print(f"focalboost {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("focalboost: interrupted", file=sys.stderr)
        return 130
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
