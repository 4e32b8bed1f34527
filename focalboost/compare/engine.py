"""The comparison itself: build and fit each model with early stopping, search the focal
parameters, score every model on the test part (:func:`run_comparison`).

A client of focalboost's public API: :class:`focalboost.FocalXGBClassifier`,
:class:`focalboost.FocalLGBMClassifier`, :mod:`focalboost.metrics` and
:class:`focalboost.multioutput.EarlyStoppedMultiOutputClassifier`. XGBoost, LightGBM and the
focal estimators are imported when a model is built, not with this module.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.multioutput import MultiOutputClassifier

from focalboost.metrics import binary_metrics, multiclass_metrics, multilabel_metrics
from focalboost.multioutput import EarlyStoppedMultiOutputClassifier

from . import report
from .settings import CLIError, ModelSpec, Settings, alpha_label

# --- models ---------------------------------------------------------------------------------------


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
        from focalboost import FocalLGBMClassifier, FocalXGBClassifier

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


# --- scores ---------------------------------------------------------------------------------------


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
    """What a run produced: one row per (model, probability output), plus what it ran on.

    Parameters
    ----------
    dataset : Dataset or MultiLabelDataset
        The data the run used.
    settings : Settings
        The run's settings.
    rows : list of dict
        One per (model, probability output): name, backend, kind, metrics, parameters, ...
    probas : dict
        Row name -> test-set probabilities.
    y_test : ndarray, optional
        The test labels.
    split : dict
        Sizes of the train, validation and test parts.
    wall_seconds : float
        Duration of the run.
    warnings : list of str
        Warnings printed during the run (also in ``results.json``).
    """

    dataset: object
    settings: Settings
    rows: list = field(default_factory=list)  # dicts: name, backend, kind, metrics, params, ...
    probas: dict = field(default_factory=dict)  # row name -> test probabilities
    y_test: np.ndarray | None = None
    split: dict = field(default_factory=dict)
    wall_seconds: float = 0.0
    warnings: list = field(default_factory=list)  # one printed line each, also in results.json

    @property
    def is_binary(self):
        return self.dataset.is_binary

    @property
    def is_multilabel(self):
        return self.dataset.is_multilabel

    def columns(self):
        """The printed table's columns: (key, header, format), the metrics then the common ones
        (:func:`focalboost.compare.report.columns`)."""
        return report.columns(self)

    def table(self):
        """The results as a pandas DataFrame, one row per model output
        (:func:`focalboost.compare.report.results_frame`)."""
        return report.results_frame(self)


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


#: fewest test rows of a class (multi-label: with and without a label) below which the run warns.
#: Average precision is the mean, over the positives, of the precision at each one's rank, so
#: with k positives each carries 1/k of the score. Measured on simulated scores like nassCDS's
#: (4.5 % positive, ROC-AUC about 0.88; 300 test sets each): the PR-AUC's standard deviation
#: across equally good test sets is 0.136 with 10 positives, 0.18 with 5 and 0.23 with 3, and
#: its mean drifts up (0.44, 0.48, 0.53 against 0.40 with 295 positives). Below 10 the spread is
#: several times the differences between models the table is there to show.
MIN_TEST_ROWS = 10


def check_class_sizes(dataset, settings):
    """Every class needs enough rows for the stratified test, validation and CV splits
    (multi-label: every label needs that many rows with it and without it).

    With ``need`` rows a class has, in stratified splits, at least one row in the test part
    (``need * test_size >= 1``), one in the validation part (the test part may take one row more
    than its share) and enough in the training part for a row in every CV fold.
    """
    train_share = (1 - settings.test_size) * (1 - settings.valid_size)
    valid_share = (1 - settings.test_size) * settings.valid_size
    need = max(
        10,
        math.ceil((settings.cv_folds + 1) / train_share) + 2,
        math.ceil(1 / settings.test_size),
        math.ceil((1 + settings.valid_size) / valid_share),
    )
    sizes = (
        f"(--test-size {settings.test_size:g}, --valid-size {settings.valid_size:g}, "
        f"--cv-folds {settings.cv_folds})"
    )
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
                f"validation and {settings.cv_folds}-fold splits {sizes}"
            )
        return
    counts = dataset.class_counts
    small = [(dataset.classes[k], int(c)) for k, c in enumerate(counts) if c < need]
    if small:
        shown = ", ".join(f"{label!r}: {c}" for label, c in small)
        raise CLIError(
            f"target {dataset.target!r}: class(es) with fewer than {need} rows ({shown}); the "
            f"comparison needs at least {need} rows per class for its stratified test, validation "
            f"and {settings.cv_folds}-fold splits {sizes}"
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


def _check_class_splits(classes, parts):
    """Binary and multiclass: every class must have rows in every part of the split (the size
    check makes this so for stratified splits; this states it where the metrics depend on it)."""
    for part, y in parts.items():
        counts = np.bincount(y, minlength=len(classes))
        for label, c in zip(classes, counts):
            if c == 0:
                raise CLIError(
                    f"class {label!r}: none of the {part} rows has it; the class is too rare for "
                    "these splits: use more rows, a larger --test-size or fewer --cv-folds"
                )


def small_test_warnings(dataset, y_test):
    """One line per class (multi-label: per label and side) with fewer than
    :data:`MIN_TEST_ROWS` test rows: its metrics are mostly noise."""
    advice = "use more rows (--max-rows) or a larger --test-size"
    if dataset.is_multilabel:
        out = []
        n = len(y_test)
        for label, p in zip(dataset.labels, np.asarray(y_test).sum(axis=0)):
            for count, side in ((int(p), "with"), (int(n - p), "without")):
                if count < MIN_TEST_ROWS:
                    out.append(
                        f"warning: only {count} test rows {side} label {label!r} (fewer than "
                        f"{MIN_TEST_ROWS}): its PR-AUC, ROC-AUC and ECE are mostly noise; {advice}"
                    )
        return out
    counts = np.bincount(y_test, minlength=dataset.n_classes)
    what = "PR-AUC, ROC-AUC, F1 and ECE" if dataset.is_binary else "per-class scores"
    return [
        f"warning: only {int(c)} test rows of class {label!r} (fewer than {MIN_TEST_ROWS}): "
        f"the {what} rest on them and are mostly noise; {advice}"
        for label, c in zip(dataset.classes, counts)
        if c < MIN_TEST_ROWS
    ]


def constant_model_warnings(name, proba, dataset, params=None):
    """A line when a model gave every test row the same probabilities (multi-label: per label):
    it learned nothing, and its row of the table holds the scores of a constant (ROC-AUC 0.5,
    PR-AUC the positive rate). Seen with focal gamma = 100, where (1 - p)^gamma leaves no
    hessian to split on: one tree, a constant."""
    P = np.asarray(proba, dtype=np.float64)
    P = P.reshape(len(P), -1)
    same = np.all(P == P[:1], axis=0)  # per column
    focal = (
        f" (gamma {params['gamma']:g}, alpha {alpha_label(params['alpha'])})"
        if params
        else ""
    )
    if dataset.is_multilabel:
        labels = [label for label, flat in zip(dataset.labels, same) if flat]
        if not labels:
            return []
        what = f"the same probability of label(s) {', '.join(map(repr, labels))} for every test row"
    elif not same.all():
        return []
    else:
        what = "the same probabilities for every test row"
    return [
        f"warning: {name}{focal} gave {what}: it learned nothing, and its scores are those of "
        "a constant"
    ]


def _early_stopping_fit_params(spec, model, settings, X_valid, y_valid):
    """The fit parameters :func:`fit_model` passes for early stopping on (X_valid, y_valid)."""
    if isinstance(model, EarlyStoppedMultiOutputClassifier):
        return dict(X_valid=X_valid, Y_valid=y_valid,
                    early_stopping_rounds=settings.early_stopping_rounds)
    if spec.backend == "xgboost":
        return dict(eval_set=[(X_valid, y_valid)], verbose=False)
    import lightgbm as lgb

    return dict(_lgb_eval_kwargs(X_valid, y_valid, None),
                callbacks=[lgb.early_stopping(settings.early_stopping_rounds, verbose=False)])


def _search_focal(spec, grid, folds, settings, K, X_train, y_train, X_valid, y_valid, bar):
    """Stratified K-fold search of the focal parameters on the training part, with
    :class:`focalboost.FocalSearchCV` in ``settings.search_mode``.

    Each candidate is fitted on K - 1 folds, early-stopped on the validation part (which the
    search never scores) and scored on the held-out fold (:func:`selection_score`). In
    ``"exhaustive"`` mode every candidate is fitted on every fold, as ``GridSearchCV`` would; in
    ``"fast"`` mode each fold is binned once and the weak candidates are dropped by successive
    halving over the boosting rounds (multi-label data has no fast mode: exhaustive, in the
    models' ``search_mode``). Returns (table, best params, best mean, mode used).
    """
    from focalboost import FocalSearchCV

    model = build_model(spec, settings, K, y_train, None)
    prefix = "estimator__" if isinstance(model, EarlyStoppedMultiOutputClassifier) else ""
    mode = "exhaustive" if np.ndim(y_train) == 2 else settings.search_mode
    param_grid = [
        {f"{prefix}gamma": [p["gamma"]],
         f"{prefix}alpha": [list(p["alpha"]) if isinstance(p["alpha"], tuple) else p["alpha"]]}
        for p in grid
    ]

    def scorer(estimator, X, y):
        return selection_score(y, predicted_proba(estimator, X), K)

    bar.set_postfix_str(f"{spec.name} search ({mode}, {len(grid)} x {len(folds)} fits)")
    fit_params = _early_stopping_fit_params(spec, model, settings, X_valid, y_valid)
    search = FocalSearchCV(model, param_grid, scoring=scorer, mode=mode, cv=folds, refit=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*eval_set.*deprecated", category=Warning)
        search.fit(X_train, y_train, **fit_params)
    bar.update(len(grid) * len(folds))
    results = search.cv_results_
    table = []
    for i, params in enumerate(grid):
        scores = [float(results[f"split{k}_test_score"][i]) for k in range(len(folds))]
        row = {
            "gamma": params["gamma"],
            "alpha": alpha_label(params["alpha"]),
            "cv_mean": float(np.mean(scores)),
            "cv_std": float(np.std(scores)),
            "fold_scores": scores,
        }
        if "n_rounds" in results:  # fast mode: the round budget the scores are at
            row["max_rounds"] = int(results["n_rounds"][i])
        table.append(row)
    best = grid[search.best_index_]  # ties: the first in grid order
    return table, best, float(search.best_score_), mode


def sample_rows(dataset, settings):
    """The stratified sample of ``settings.max_rows`` rows that :func:`run_comparison` runs on
    (the data set itself when it has no more rows); the sample is in its ``changes``."""
    return dataset.subsample(
        settings.max_rows, random_state=settings.seed, note=" (--quick)" if settings.quick else ""
    )


def run_comparison(dataset, settings):
    """Train and score every model; returns a :class:`Comparison` (nothing written, no table).

    Rows are split once (stratified, ``settings.seed``) into train / validation / test. Every
    model is fitted on train and early-stopped on validation; the focal search runs K-fold CV
    inside train (early stopping on validation, too); only the final models see the test part.

    Multi-label data (:class:`~focalboost.compare.datasets.MultiLabelDataset`): the splits are
    stratified on each row's rarest label (:func:`~focalboost.compare.datasets.multilabel_strata`),
    the models are log loss and focal loss per backend (no class-weighted model: XGBoost's
    multi-output trees take one weight per row, not per label), and the alpha grid is the binary
    one, applied to every label.

    Parameters
    ----------
    dataset : Dataset or MultiLabelDataset
        The data (:func:`focalboost.compare.datasets.load_dataset` and friends).
    settings : Settings
        What to train and how.

    Returns
    -------
    Comparison
    """
    from sklearn.model_selection import StratifiedKFold, train_test_split

    from .datasets import multilabel_strata

    start = time.perf_counter()
    dataset = sample_rows(dataset, settings)  # a no-op on a data set sampled already
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
    parts = {"training": y_train, "validation": y_valid, "test": y_test}
    for k, (fit_rows, score_rows) in enumerate(folds):
        parts[f"CV fold {k + 1} training"] = y_train[fit_rows]
        parts[f"CV fold {k + 1} held-out"] = y_train[score_rows]
    if multilabel:
        _check_label_splits(dataset.labels, parts)
    else:
        _check_class_splits(dataset.classes, parts)
    kinds = ("logloss", "focal") if multilabel else ("logloss", "weighted", "focal")
    specs = [
        ModelSpec(backend, kind, searched=kind == "focal")
        for backend in settings.backends
        for kind in kinds
    ]
    total = sum(1 + (len(grid) * len(folds) if s.searched else 0) for s in specs)
    result = Comparison(dataset=dataset, settings=settings, y_test=y_test)
    result.warnings = small_test_warnings(dataset, y_test)
    result.split = {
        "rows": int(len(y)),
        "train": int(len(idx_train)),
        "valid": int(len(idx_valid)),
        "test": int(len(idx_test)),
        "cv_folds": settings.cv_folds,
        "search_mode": settings.search_mode,
    }
    bar = _progress(total, settings.progress, desc="focalboost compare")
    try:
        for spec in specs:
            search = params = cv_score = search_seconds = search_mode = None
            if spec.searched:
                t0 = time.perf_counter()
                search, params, cv_score, search_mode = _search_focal(
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
                    "alpha": alpha_label(params["alpha"]) if params else None,
                    "cv_score": cv_score,
                    "search": search,
                    "search_mode": search_mode,
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
                if not suffix:  # one line per model, not per output of the same margins
                    result.warnings += constant_model_warnings(name, proba, dataset, params)
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
