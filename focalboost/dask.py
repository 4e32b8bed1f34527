"""Distributed focal-loss training with Dask: helpers for the native hooks and two estimators.

Native hooks. :func:`focalboost.xgboost.objective` and :func:`focalboost.xgboost.metric` run
unchanged under ``xgboost.dask.train`` (they pickle and hold no module state); the metric
all-reduces ``[sum(w * loss), sum(w)]`` over the workers, so XGBoost reports the weighted mean over
ALL rows (XGBoost alone would average per-worker means). What changes is the data: labels and
weights are Dask collections, so the init score comes from :func:`class_totals` (one pass over
the labels, only K numbers per partition reach the client)::

    loss = BinaryFocalLoss(gamma=2.0, alpha=0.25)
    params = {"max_depth": 4, "eta": 0.1, **training_params(loss, y, w)}   # y: Dask, codes 0..K-1
    dtrain = xgboost.dask.DaskDMatrix(client, X, y, weight=w)
    out = xgboost.dask.train(client, params, dtrain, 300, obj=fxgb.objective(loss),
                             custom_metric=fxgb.metric(loss), evals=[(dtrain, "train")])
    proba = predict_proba(client, out["booster"], X_test, loss)        # Dask array (n, 2)

Estimators. :class:`FocalDaskXGBClassifier` and :class:`FocalDaskLGBMClassifier` are the Dask
versions of :class:`~focalboost.sklearn.FocalXGBClassifier` and
:class:`~focalboost.sklearn.FocalLGBMClassifier`: the same focal parameters (``gamma``, ``alpha``,
``hessian``, ``loss_scale``, ``probability``) with the same meaning, resolved by the same code
(:class:`focalboost.sklearn._core.FocalSetup`) from the class weight totals of the distributed
labels, so a Dask model starts from exactly the single-machine init score, alpha and loss scale.

Everything that depends on the labels depends on them through the class weight totals only (the
init score, ``alpha="balanced"`` and friends, the automatic loss scale), so labels ``0..K-1``
weighted by the totals stand in for the full label vector: :func:`class_totals` is the one pass.
"""

from __future__ import annotations

import numbers
import time
import warnings
from types import SimpleNamespace

import dask
import dask.array as da
import dask.dataframe as dd
import lightgbm
import numpy as np
from lightgbm.dask import DaskLGBMClassifier
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from xgboost import dask as dxgb

from . import xgboost as fxgb
from ._compat import lightgbm as lgb_compat
from .base import mean_from_sums
from ._adapter import (
    DEFAULT_METRIC_NAME,
    check_loss,
    init_score_rows,
    is_multilabel,
    probability_from_margin,
)
from .sklearn._persistence import fold_init_score
from .sklearn._core import (
    FOCAL_PARAMS,
    FocalSetup,
    check_class_totals,
    check_n_features,
    check_two_classes,
    calibrate_probability,
    class_weight_factors,
    combine_factors,
    focal_estimator,
    labels_from_margin,
    pos_weight_factors,
    proba_from_margin,
    reject_continued_training,
    reject_is_unbalance,
    store_xgboost_fit,
    xgboost_engine_params,
)

#: seconds fit waits, after a training error, for the scheduler to report a lost worker (on a
#: loaded machine the survivors' socket error can arrive several seconds before the scheduler
#: notices; only errors that are not a worker loss wait this long)
_WORKER_LOSS_GRACE = 10.0


def _worker_identities(client):
    """(address, id) of every worker: a worker restarted by its nanny gets a new id."""
    return {(address, info.get("id")) for address, info in client.scheduler_info()["workers"].items()}

__all__ = [
    "FocalDaskXGBClassifier",
    "FocalDaskLGBMClassifier",
    "class_totals",
    "init_score",
    "training_params",
    "init_score_rows_like",
    "mean_loss",
    "predict_margin",
    "predict_proba",
]


# --- aligned partitions --------------------------------------------------------------------------
def _is_frame(collection):
    return isinstance(collection, (dd.DataFrame, dd.Series))


def _known(chunks):
    return all(not np.isnan(c) for c in chunks)


def _partitions(names, *collections):
    """Row partitions (lists of Delayed) of Dask collections, aligned; None gives Nones.

    Dask arrays are rechunked to the rows of the first array when chunk sizes are known (and to
    a single block of columns); DataFrames/Series must already have as many partitions.
    """
    ref_rows = next(
        (c.chunks[0] for c in collections if isinstance(c, da.Array) and _known(c.chunks[0])), None
    )
    out, n_parts = [], None
    for name, collection in zip(names, collections):
        if collection is None:
            out.append(None)
            continue
        if isinstance(collection, da.Array):
            if ref_rows is not None and _known(collection.chunks[0]):
                columns = {1: -1} if collection.ndim == 2 else {}
                collection = collection.rechunk({0: ref_rows, **columns})
            elif collection.ndim == 2:
                collection = collection.rechunk({1: -1})
            parts = list(collection.to_delayed().ravel())
        elif _is_frame(collection):
            parts = list(collection.to_delayed())
        else:
            raise TypeError(
                f"{name} must be a Dask array, DataFrame or Series, got {type(collection).__name__}"
            )
        if n_parts is not None and len(parts) != n_parts:
            raise ValueError(
                f"{name} has {len(parts)} partitions but {names[0]} has {n_parts}: partition them "
                "alike (same row blocks)"
            )
        n_parts = len(parts)
        out.append(parts)
    return [[None] * n_parts if parts is None else parts for parts in out]


def _column(part):
    """A partition of a 1-D collection as a 1-D numpy array (Series and (n, 1) accepted)."""
    arr = np.asarray(part)
    return arr[:, 0] if arr.ndim == 2 and arr.shape[1] == 1 else arr.ravel()


def _partition_summary(y, w):
    """(sorted classes, row counts, weight totals) of one partition; validates the weights."""
    y = _column(y)
    if y.dtype.kind == "f" and np.any(np.isnan(y)):
        raise ValueError("y contains NaN; classification targets must be finite labels")
    classes, codes = np.unique(y, return_inverse=True)
    counts = np.bincount(codes, minlength=classes.shape[0]).astype(np.float64)
    if w is None:
        return classes, counts, counts.copy()
    w = _column(w).astype(np.float64)
    if w.shape[0] != y.shape[0]:
        raise ValueError(
            f"sample_weight and y are not partitioned alike: a partition has {y.shape[0]} labels "
            f"and {w.shape[0]} weights"
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("sample_weight must contain finite weights >= 0 only")
    return classes, counts, np.bincount(codes, weights=w, minlength=classes.shape[0])


def _merge_summaries(parts):
    classes = np.unique(np.concatenate([p[0] for p in parts]))
    counts = np.zeros(classes.shape[0])
    totals = np.zeros(classes.shape[0])
    for part_classes, part_counts, part_totals in parts:
        index = np.searchsorted(classes, part_classes)
        counts[index] += part_counts
        totals[index] += part_totals
    return classes, counts, totals


def _compute(tasks, client=None):
    """Compute a list of Delayed on ``client`` (default: Dask's current scheduler)."""
    if client is None:
        return dask.compute(*tasks)
    return client.gather(client.compute(tasks))


def _label_summary(y, sample_weight=None, client=None):
    """One pass over ``y`` (and the weights): (classes, row counts per class, weight totals)."""
    y_parts, w_parts = _partitions(("y", "sample_weight"), y, sample_weight)
    summary = dask.delayed(_partition_summary, pure=True)
    parts = _compute([summary(yp, wp) for yp, wp in zip(y_parts, w_parts)], client)
    return _merge_summaries(parts)


def class_totals(y, sample_weight=None):
    """``(classes, totals)``: the sorted labels of a Dask ``y`` and their summed weights (counts
    without weights), in one pass; only K numbers per partition reach the client.

    Parameters
    ----------
    y : dask collection of shape (n,)
        Labels.
    sample_weight : dask collection of shape (n,), optional
        Row weights, partitioned like ``y``.

    Returns
    -------
    classes, totals : ndarray
    """
    classes, _, totals = _label_summary(y, sample_weight)
    return classes, totals


def _code_totals(loss, y, sample_weight):
    """Weight totals of the codes 0..K-1 of an encoded Dask ``y``."""
    check_loss(loss)
    if is_multilabel(loss):
        raise TypeError(
            "focalboost.dask computes init scores of binary and multiclass losses; for a "
            "MultiLabelFocalLoss compute loss.init_score on the label matrix (or per-label totals)"
        )
    classes, totals = class_totals(y, sample_weight)
    K = loss.n_classes
    codes = classes.astype(np.float64)
    if np.any(codes != np.round(codes)) or np.any(codes < 0) or np.any(codes >= K):
        raise ValueError(f"y must hold class indices 0..{K - 1}, found {classes[:10].tolist()}")
    full = np.zeros(K)
    full[codes.astype(np.int64)] = totals
    return full


def init_score(loss, y, sample_weight=None):
    """The loss's best constant margin from distributed labels (codes 0..K-1), in one pass.

    The init score depends on the labels only through the class weight totals, so the loss's own
    ``init_score`` on labels 0..K-1 weighted by the totals gives exactly the single-machine value.

    Parameters
    ----------
    loss : BoostingLoss
        A focalboost loss object.
    y : dask Array, Series or DataFrame column of shape (n,)
        Labels (codes 0..K-1).
    sample_weight : dask collection of shape (n,), optional
        Row weights, partitioned like ``y``.

    Returns
    -------
    float or ndarray of shape (K,)
    """
    totals = _code_totals(loss, y, sample_weight)
    return loss.init_score(np.arange(loss.n_classes), totals)


def training_params(loss, y, sample_weight=None):
    """:func:`focalboost.xgboost.training_params` for distributed labels (one pass over ``y``).

    Parameters
    ----------
    loss : BoostingLoss
        A focalboost loss object.
    y : dask Array, Series or DataFrame column of shape (n,)
        Labels (codes 0..K-1).
    sample_weight : dask collection of shape (n,), optional
        Row weights, partitioned like ``y``.

    Returns
    -------
    dict
    """
    totals = _code_totals(loss, y, sample_weight)
    return fxgb.training_params(loss, np.arange(loss.n_classes), totals)


def init_score_rows_like(loss, y, init):
    """The constant ``init`` for every row, partitioned like the Dask collection ``y``: (n,) for
    binary, (n, K) for multiclass (a Dask array, or Series/DataFrame for a Dask Series ``y``).

    This is what ``DaskLGBMClassifier.fit(init_score=...)`` needs with a custom objective.

    Parameters
    ----------
    loss : BoostingLoss
        A focalboost loss object.
    y : dask Array or Series of shape (n,)
        The collection whose partitions the result follows.
    init : float or array-like of shape (K,)
        The constant (:func:`init_score`).

    Returns
    -------
    dask Array, Series or DataFrame
    """
    init = np.asarray(init, dtype=np.float64)

    def rows(part):
        return init_score_rows(loss, part, n_rows=len(part), init=init)

    if isinstance(y, da.Array):
        if init.ndim == 0:
            return y.map_blocks(rows, dtype=np.float64)
        chunks = (y.chunks[0], (init.shape[0],))
        return y.map_blocks(rows, dtype=np.float64, new_axis=1, chunks=chunks)
    if isinstance(y, dd.Series):
        import pandas as pd

        if init.ndim == 0:
            return y.map_partitions(lambda p: pd.Series(rows(p), index=p.index), meta=(y.name, "f8"))
        meta = pd.DataFrame({str(k): pd.Series(dtype="f8") for k in range(init.shape[0])})
        return y.map_partitions(
            lambda p: pd.DataFrame(rows(p), index=p.index, columns=meta.columns), meta=meta
        )
    raise TypeError(f"y must be a Dask array or Series, got {type(y).__name__}")


# --- map-reduce of the metric --------------------------------------------------------------------
def _loss_sums(loss, y, raw, w):
    raw = np.asarray(raw, dtype=np.float64)
    if loss.raw_ndim == 1:
        raw = _column(raw)
    return np.array(loss.loss_sums(_column(y), raw, None if w is None else _column(w)))


def _as_array(collection):
    """A Dask array from a Dask DataFrame/Series (partition sizes left unknown), else unchanged."""
    return collection.to_dask_array() if _is_frame(collection) else collection


def mean_loss(loss, y, raw_prediction, sample_weight=None, *, client=None):
    """Weighted mean loss over ALL rows of distributed data: sum(w * loss) / sum(w).

    A map-reduce: every partition returns its two sums (``loss.loss_sums``), the client adds them
    and divides once -- never an average of per-partition or per-worker means. ``y`` holds codes
    0..K-1; ``raw_prediction`` margins (n,) or (n, K); Dask collections partitioned alike.

    Parameters
    ----------
    loss : BoostingLoss
        A focalboost loss object.
    y : dask Array, Series or DataFrame column of shape (n,)
        Labels (codes 0..K-1).
    raw_prediction : dask Array of shape (n,) or (n, K)
        Margins, partitioned like ``y``.
    sample_weight : dask collection of shape (n,), optional
        Row weights, partitioned like ``y``.
    client : distributed.Client, optional
        The client to compute with; default the current one.

    Returns
    -------
    float
    """
    check_loss(loss)
    parts = _partitions(("y", "raw_prediction", "sample_weight"), y, raw_prediction, sample_weight)
    sums = dask.delayed(_loss_sums, pure=True)
    totals = _compute([sums(loss, a, b, c) for a, b, c in zip(*parts)], client)
    total, weight = np.sum(totals, axis=0)
    return mean_from_sums(total, weight)  # NaN for a zero total weight, as on one machine


# --- native XGBoost prediction -------------------------------------------------------------------
def predict_margin(client, booster, X, *, iteration_range=None, **kwargs):
    """Margins (Dask array (n,) or (n, K)) of an XGBoost booster on Dask data, from the rounds up
    to the best iteration after early stopping unless ``iteration_range`` is given.

    Parameters
    ----------
    client : distributed.Client
        The client.
    booster : xgboost.Booster
        A booster trained with a focal objective.
    X : dask Array or DataFrame
        The rows to predict.
    iteration_range : (int, int), optional
        Rounds to use; default up to the best iteration.
    **kwargs
        Passed to ``xgboost.dask.predict``.

    Returns
    -------
    dask Array of shape (n,) or (n, K)
    """
    if iteration_range is None:
        iteration_range = fxgb.best_iteration_range(booster)
    margin = dxgb.inplace_predict(
        client, booster, X, predict_type="margin", iteration_range=iteration_range, **kwargs
    )
    return _as_array(margin)


def _proba_blocks(margin, n_classes, to_proba):
    """Dask array of probabilities (n, K): ``to_proba`` applied to each block of margins."""
    if margin.ndim == 1:
        chunks = (margin.chunks[0], (n_classes,))
        return margin.map_blocks(to_proba, dtype=np.float64, new_axis=1, chunks=chunks)
    if margin.numblocks[1] != 1:
        margin = margin.rechunk({1: -1})
    return margin.map_blocks(to_proba, dtype=np.float64)


def predict_proba(client, booster, X, loss, *, probability="auto", temperature=None, strength=None,
                  **kwargs):
    """Probabilities (Dask array (n, 2) or (n, K)) from a booster trained by ``xgboost.dask.train``
    with the focal objective, as the estimators give them (``probability``, ``temperature`` and
    ``strength``: see :func:`focalboost.xgboost.predict_proba`).

    Parameters
    ----------
    client : distributed.Client
        The client.
    booster : xgboost.Booster
        A booster trained with a focal objective.
    X : dask Array or DataFrame
        The rows to predict.
    loss : BoostingLoss
        A focalboost loss object.
    probability : {"auto", "posterior", "focal"}, default "auto"
        ``"auto"``: the posterior correction at the booster's strength, of the margins divided by
        its temperature; ``"posterior"``: the exact class posterior; ``"focal"``: the raw
        sigmoid/softmax (:mod:`focalboost.calibration`).
    temperature : float, optional
        Overrides the booster's ``"focalboost_temperature"`` attribute (default: that attribute,
        else 1).
    strength : float in [0, 1], optional
        Overrides the booster's ``"focalboost_strength"`` attribute (default: that attribute,
        else 1).
    **kwargs
        Passed to :func:`predict_margin`.

    Returns
    -------
    dask Array of shape (n, 2) or (n, K)
    """
    from .xgboost import booster_calibration

    loss = check_loss(loss)
    stored_s, stored_T = booster_calibration(booster)
    temperature = stored_T if temperature is None else temperature
    strength = stored_s if strength is None else strength
    margin = predict_margin(client, booster, X, **kwargs)
    return _proba_blocks(
        margin, loss.n_classes,
        lambda m: probability_from_margin(loss, m, probability, temperature, strength),
    )


# --- the estimators' shared parts ----------------------------------------------------------------
class _DaskFocalFit:
    """The Dask side of both Dask estimators: the label pass, lazy encoding and weights, the
    cluster guard, and predictions as Dask arrays. Everything else comes from the estimator core
    (:mod:`focalboost.sklearn._core`), as for the single-machine estimators."""

    def _summarise(self, y, sample_weight, client):
        """One pass over ``y``: (classes, row counts, weight totals), checked as on one machine."""
        columns = y.shape[1] if isinstance(y, da.Array) and y.ndim == 2 else (
            len(y.columns) if isinstance(y, dd.DataFrame) else 1
        )
        if (isinstance(y, da.Array) and y.ndim > 2) or columns != 1:
            raise ValueError(
                f"y must be 1-D class labels; {type(self).__name__} does not support multi-label "
                "(2-D indicator) targets yet"
            )
        classes, counts, totals = _label_summary(y, sample_weight, client)
        if classes.dtype.kind in "fc" and not np.all(np.isfinite(classes)):
            raise ValueError("y contains NaN or infinity; classification targets must be finite")
        check_classification_targets(classes)
        check_two_classes(classes)
        if sample_weight is not None:
            check_class_totals(totals, classes)
        return classes, counts, totals

    def _setup(self, y, sample_weight, client, params, dtype=np.int64):
        """The label pass, the lazy codes and weights (times ``scale_pos_weight`` and, when in
        ``params``, ``class_weight``), and the :class:`FocalSetup` of the single-machine fit:
        labels 0..K-1 weighted by the class totals stand in for the full label vector."""
        classes, counts, totals = self._summarise(y, sample_weight, client)
        K = classes.shape[0]
        y_codes = self._encode(y, classes, dtype=dtype)
        factors = combine_factors(
            pos_weight_factors(params.get("scale_pos_weight"), K),
            class_weight_factors(params.get("class_weight"), classes, counts),
        )
        weights = self._scaled_weights(sample_weight, y_codes.astype(np.int64), factors)
        loss_totals = totals if factors is None else totals * factors
        setup = FocalSetup(self, np.arange(K), classes, loss_totals)
        return classes, y_codes, weights, setup

    @staticmethod
    def _encode(y, classes, dtype=np.int64):
        """Lazy label codes 0..K-1, partitioned like ``y`` (a Dask array, or a Series)."""

        def encode(part):
            values = _column(part)
            codes = np.clip(np.searchsorted(classes, values), 0, classes.shape[0] - 1)
            unknown = classes[codes] != values
            if np.any(unknown):
                raise ValueError(
                    f"y contains labels {np.unique(values[unknown])[:5].tolist()} that are not "
                    f"among the training classes {classes.tolist()}"
                )
            return codes.astype(dtype)

        if isinstance(y, dd.DataFrame):
            y = y[y.columns[0]]
        if isinstance(y, dd.Series):
            import pandas as pd

            return y.map_partitions(
                lambda p: pd.Series(encode(p), index=p.index, name="y"), meta=("y", dtype)
            )
        if isinstance(y, da.Array) and y.ndim == 2:
            y = y[:, 0]
        if not isinstance(y, da.Array):
            raise TypeError(f"y must be a Dask array or Series, got {type(y).__name__}")
        return y.map_blocks(encode, dtype=dtype)

    @staticmethod
    def _scaled_weights(sample_weight, y_codes, factors):
        """``sample_weight`` (or 1) times ``factors[code]`` per row, lazily; unchanged if None."""
        if factors is None:
            return sample_weight
        factors = np.asarray(factors, dtype=np.float64)

        def times(codes, w=None):
            codes = _column(codes).astype(np.int64)
            base = np.ones(codes.shape[0]) if w is None else _column(w).astype(np.float64)
            return base * factors[codes]

        if isinstance(y_codes, dd.Series):
            import pandas as pd

            def times_series(codes, w=None):
                return pd.Series(times(codes, w), index=codes.index, name="weight")

            if sample_weight is None:
                return y_codes.map_partitions(times_series, meta=("weight", "f8"))
            return dd.map_partitions(
                times_series, y_codes, sample_weight, meta=("weight", "f8"), align_dataframes=False
            )
        if sample_weight is None:
            return y_codes.map_blocks(times, dtype=np.float64)
        w = _as_array(sample_weight)
        if _known(w.chunks[0]):
            w = w.rechunk({0: y_codes.chunks[0]})
        return da.map_blocks(times, y_codes, w, dtype=np.float64)

    def _encode_eval(self, y_eval, classes, client, dtype=np.int64):
        """Evaluation labels encoded lazily, after one pass over them on the cluster that checks
        each is a training class: the error is then raised here, by focalboost, before training
        (raised inside a worker task, XGBoost's Dask training loses it: "AssertionError")."""
        found = _label_summary(y_eval, None, client)[0]
        unknown = found[~np.isin(found, classes)]
        if unknown.size:
            raise ValueError(
                f"eval_set y contains labels {unknown[:5].tolist()} that are not among the "
                f"training classes {classes.tolist()}"
            )
        return self._encode(y_eval, classes, dtype=dtype)

    def _run_on_cluster(self, client, train):
        """Run ``train()``; a worker that leaves the cluster meanwhile turns any failure into a
        clear error (the library's own is a socket or collective error) and fits nothing.

        An error caused by the input (a ``ValueError`` or ``TypeError`` that is not the library's
        own error type) is raised at once: only other failures wait up to
        ``_WORKER_LOSS_GRACE`` seconds for the scheduler to report a lost worker."""
        before = _worker_identities(client)
        try:
            return train()
        except Exception as exc:
            lost = sorted(address for address, _ in before - _worker_identities(client))
            if not lost and _is_input_error(exc):
                raise
            # the survivors' error (a reset socket) can reach us before the scheduler has
            # removed the dead worker: give it a moment to notice
            deadline = time.monotonic() + _WORKER_LOSS_GRACE
            while not lost and time.monotonic() < deadline:
                time.sleep(0.1)
                lost = sorted(address for address, _ in before - _worker_identities(client))
            if lost:
                raise RuntimeError(
                    f"{type(self).__name__}.fit failed: worker(s) {lost} left the Dask cluster "
                    f"during distributed training ({type(exc).__name__}: {str(exc)[:200]}). No "
                    "model was fitted; call fit again to retry on the remaining workers."
                ) from exc
            raise

    def _fitted_view(self):
        """What the single-machine helpers read, without the estimator (and its client)."""
        return SimpleNamespace(
            probability=self.probability, loss_=self.loss_, classes_=np.asarray(self.classes_),
            temperature_=getattr(self, "temperature_", 1.0), strength_=getattr(self, "strength_", 1.0),
        )

    def _calibrate(self, client, X, eval_set, weights, classes, encoded=False):
        """``temperature_`` of ``probability="auto"`` from the last evaluation set at the best
        iteration, as on one machine (:func:`focalboost.sklearn._core.calibrate_probability`):
        its margins and labels (and weights) are computed on the cluster and gathered on the
        client, n x K floats, for the one-parameter fit."""
        if isinstance(eval_set, tuple):
            eval_set = [eval_set]
        if not eval_set:
            return calibrate_probability(self, reason="no eval_set")
        X_eval, y_eval = eval_set[-1]
        if X_eval is X:
            return calibrate_probability(self, reason="the last eval_set is the training data")
        weights = list(weights) if weights else []
        w = weights[len(eval_set) - 1] if len(weights) >= len(eval_set) else None
        codes = y_eval if encoded else self._encode(y_eval, classes)
        tasks = [_as_array(self._margin(X_eval)), _as_array(codes)]
        if w is not None:
            tasks.append(_as_array(w))
        gathered = client.gather(client.compute(tasks))
        margin, y = np.asarray(gathered[0], dtype=np.float64), np.asarray(gathered[1])
        weight = np.asarray(gathered[2], dtype=np.float64) if w is not None else None
        return calibrate_probability(self, y, margin, weight,
                                     source="the last eval_set (margins gathered on the client)")

    def _proba(self, margin):
        """``predict_proba`` from Dask margins, by the single-machine rule (``probability``)."""
        view = self._fitted_view()
        return _proba_blocks(margin, self.n_classes_, lambda m: proba_from_margin(view, m))

    def _labels(self, margin):
        """``predict`` from Dask margins: ``classes_[argmax(predict_proba)]``, as on one machine."""
        view = self._fitted_view()
        drop = {} if margin.ndim == 1 else {"drop_axis": 1}
        if margin.ndim == 2 and margin.numblocks[1] != 1:
            margin = margin.rechunk({1: -1})
        return margin.map_blocks(
            lambda m: labels_from_margin(view, m), dtype=view.classes_.dtype, **drop
        )

    def focal_loss(self, X, y, sample_weight=None, **kwargs):
        """The weighted mean focal loss (unscaled) of this model over ALL rows of (X, y): a
        map-reduce of per-partition sums, the number a single machine would report."""
        check_is_fitted(self)
        y_codes = self._encode(y, self.classes_)
        margin = self._margin(X, **kwargs)
        client = self.client_ if isinstance(self, DaskLGBMClassifier) else self.client
        return mean_loss(self.loss_, y_codes, margin, sample_weight, client=client)


def _is_input_error(exc):
    """A ValueError/TypeError of ours or of numpy/pandas (bad input), not a library error (an
    ``XGBoostError`` is a ValueError too, and is what a lost peer's socket error becomes)."""
    from xgboost.core import XGBoostError

    return isinstance(exc, (ValueError, TypeError)) and not isinstance(
        exc, (XGBoostError, lightgbm.basic.LightGBMError)
    )


def _client(estimator_client):
    from distributed import default_client

    return estimator_client if estimator_client is not None else default_client()


# --- XGBoost -------------------------------------------------------------------------------------
@focal_estimator("xgboost")
class FocalDaskXGBClassifier(_DaskFocalFit, dxgb.DaskXGBClassifier):
    """XGBoost focal-loss classifier on Dask: the distributed :class:`FocalXGBClassifier`.

    Same parameters, with the same meaning, as :class:`focalboost.sklearn.FocalXGBClassifier`
    (``gamma``, ``alpha``, ``hessian``, ``loss_scale``, ``probability``, ``min_split_loss`` and every
    ``DaskXGBClassifier`` parameter; ``model.client = client`` as for ``DaskXGBClassifier``,
    else the default client). ``fit`` takes Dask arrays or
    DataFrames; ``predict_proba`` and ``predict`` (``output_margin=True``: margins) return Dask
    arrays.

    Training is ``xgboost.dask``'s own (``DaskXGBClassifier`` with the focal objective), started
    from the focal init score computed from the distributed labels in one pass. The
    ``focal_loss`` metric in ``evals_result_`` is the weighted mean over all rows of all workers
    (it all-reduces its two sums: :func:`focalboost.xgboost.mean_loss`), so early stopping
    (``early_stopping_rounds`` with ``eval_set``) watches the true number and every worker stops
    at the same round. A callable ``eval_metric`` of yours is averaged over workers by XGBoost.

    Parameters
    ----------
    gamma : float >= 0, default 2.0
        Focusing parameter.
    alpha : None, float, dict, array-like or str, default None
        Class weights in the loss, as for the single-machine estimator.
    hessian : {"positive", "exact"}, default "positive"
        The hessian policy.
    loss_scale : float or "auto", default 1.0
        Constant factor on gradient and hessian.
    probability : str, default "posterior"
        What ``predict_proba`` returns, as for the single-machine estimator.
    min_split_loss : float, optional
        XGBoost's own ``gamma`` (minimum split loss), under its other name.
    **kwargs
        Every other ``DaskXGBClassifier`` parameter.
    """

    def fit(
        self,
        X,
        y,
        *,
        sample_weight=None,
        eval_set=None,
        sample_weight_eval_set=None,
        verbose=True,
        xgb_model=None,
    ):
        """Fit on Dask collections; the arguments are those of ``DaskXGBClassifier.fit``.

        Parameters
        ----------
        X : dask Array or DataFrame of shape (n, n_features)
            Features.
        y : dask Array or Series of shape (n,)
            Labels of any type, partitioned like ``X``.
        sample_weight : dask Array or Series of shape (n,), optional
            Row weights, partitioned like ``X``.
        eval_set : list of (X, y) dask collections, optional
            Evaluation sets (metrics and ``early_stopping_rounds``).
        sample_weight_eval_set : list of dask collections, optional
            Row weights of each evaluation set.
        verbose : bool or int, default True
            Print the evaluation every round (or every ``verbose`` rounds).
        xgb_model : None
            Continued training is not supported: anything but None raises a ``ValueError``.

        Returns
        -------
        self
        """
        self._validate_params()
        reject_continued_training("xgb_model", xgb_model, self)
        client = _client(self.client)
        params = {"scale_pos_weight": self.scale_pos_weight}
        # float32 codes: XGBoost's label type, the same values without its conversion on every worker
        classes, y_codes, weights, setup = self._setup(y, sample_weight, client, params, dtype=np.float32)
        engine = dxgb.DaskXGBClassifier(**xgboost_engine_params(self, setup, classes.shape[0]))
        engine.client = client
        if eval_set is not None:
            eval_set = [(X, self._encode_eval(y, classes, client, dtype=np.float32)) for X, y in eval_set]

        y_train = _as_array(y_codes)  # DaskXGBClassifier finds classes with a shuffle on Series

        def train():
            return engine.fit(
                X,
                y_train,
                sample_weight=weights,
                eval_set=eval_set,
                sample_weight_eval_set=sample_weight_eval_set,
                verbose=verbose,
            )

        self._run_on_cluster(client, train)
        self._classes = classes
        store_xgboost_fit(self, engine, setup, classes)
        if self._calibrate(client, X, eval_set, sample_weight_eval_set, classes, encoded=True):
            # for focalboost.dask.predict_proba / focalboost.xgboost.predict_proba and model files
            self.get_booster().set_attr(focalboost_temperature=repr(self.temperature_),
                                        focalboost_strength=repr(self.strength_))
        return self

    def _margin(self, X, *, validate_features=True, iteration_range=None):
        """Margins (Dask array (n,) binary, (n, K) multiclass) including the init score, at
        ``best_iteration`` after early stopping."""
        check_is_fitted(self, "loss_")
        check_n_features(self, X)
        margin = self.client.sync(
            self._predict_async,
            X,
            output_margin=True,
            validate_features=validate_features,
            base_margin=None,
            iteration_range=iteration_range,
        )
        return _as_array(margin)

    def predict_proba(self, X, validate_features=True, iteration_range=None):
        """Class probabilities (Dask array (n, n_classes)), as ``FocalXGBClassifier`` computes
        them (see ``probability``).

        Parameters
        ----------
        X : dask Array or DataFrame of shape (n, n_features)
            Features.
        validate_features : bool, default True
            Check the feature names against those of the training data (XGBoost's check).
        iteration_range : (int, int), optional
            Trees to use; default: up to ``best_iteration`` after early stopping, else all.

        Returns
        -------
        dask Array of shape (n, n_classes)
        """
        kwargs = dict(validate_features=validate_features, iteration_range=iteration_range)
        return self._proba(self._margin(X, **kwargs))

    def predict(self, X, *, output_margin=False, validate_features=True, iteration_range=None):
        """Class labels (Dask array): ``classes_[argmax(predict_proba)]``, as ``FocalXGBClassifier``;
        ``output_margin=True`` returns the margins instead.

        Parameters
        ----------
        X : dask Array or DataFrame of shape (n, n_features)
            Features.
        output_margin : bool, default False
            Return the margins instead of the labels.
        validate_features : bool, default True
            Check the feature names against those of the training data (XGBoost's check).
        iteration_range : (int, int), optional
            Trees to use; default: up to ``best_iteration`` after early stopping, else all.

        Returns
        -------
        dask Array
        """
        margin = self._margin(X, validate_features=validate_features, iteration_range=iteration_range)
        return margin if output_margin else self._labels(margin)


# --- LightGBM ------------------------------------------------------------------------------------
_LGBM_EARLY_STOPPING = (
    "early_stopping_round", "early_stopping_rounds", "early_stopping", "n_iter_no_change",
)


@focal_estimator("lightgbm")
class FocalDaskLGBMClassifier(_DaskFocalFit, DaskLGBMClassifier):
    """LightGBM focal-loss classifier on Dask: the distributed :class:`FocalLGBMClassifier`.

    Same focal parameters, with the same meaning, as
    :class:`focalboost.sklearn.FocalLGBMClassifier`, plus every ``DaskLGBMClassifier`` parameter
    (``client`` included). ``fit`` takes Dask arrays or DataFrames; ``predict_proba`` /
    ``decision_function`` / ``predict`` return Dask arrays.

    How it trains: LightGBM's Dask training (``DaskLGBMRegressor`` as the engine, so that no
    worker re-encodes its local labels: ``LGBMClassifier`` on a worker whose partitions miss a
    class would number the classes differently from the others) with the focal objective,
    ``num_class`` fixed from the global labels, and the init score (computed from the distributed
    labels in one pass) given per partition; after training it is folded into the first
    iteration's leaf values, as in :class:`FocalLGBMClassifier`.

    Metrics. LightGBM's Dask interface evaluates ``eval_set`` on each worker's own shard and
    returns the shard of one worker, and early stopping on such local metrics desynchronises the
    workers (known LightGBM issues). So ``eval_set`` is not handed to LightGBM: after training,
    ``evals_result_[name]["focal_loss"]`` is computed for every iteration by a map-reduce over the
    partitions (the weighted mean over all rows), and :meth:`focal_loss` gives the value for any
    data. Early stopping is not supported (``ValueError``).

    Parameters
    ----------
    gamma : float >= 0, default 2.0
        Focusing parameter.
    alpha : None, float, dict, array-like or str, default None
        Class weights in the loss, as for the single-machine estimator.
    hessian : {"positive", "exact"}, default "positive"
        The hessian policy.
    loss_scale : float or "auto", default 1.0
        Constant factor on gradient and hessian.
    probability : str, default "posterior"
        What ``predict_proba`` returns, as for the single-machine estimator.
    **kwargs
        Every other ``DaskLGBMClassifier`` parameter.
    """

    def fit(
        self,
        X,
        y,
        sample_weight=None,
        eval_set=None,
        eval_names=None,
        eval_sample_weight=None,
        callbacks=None,
    ):
        """Fit on Dask collections. ``eval_set`` is evaluated after training (see the class
        notes); ``eval_names`` default to ``valid_0``, ``valid_1``, ... ``callbacks`` run on
        every worker (early stopping excepted).

        Parameters
        ----------
        X : dask Array or DataFrame of shape (n, n_features)
            Features.
        y : dask Array or Series of shape (n,)
            Labels of any type, partitioned like ``X``.
        sample_weight : dask Array or Series of shape (n,), optional
            Row weights, partitioned like ``X``.
        eval_set : list of (X, y) dask collections, optional
            Evaluation sets, scored after training.
        eval_names : list of str, optional
            Their names in ``evals_result_``.
        eval_sample_weight : list of dask collections, optional
            Row weights of each evaluation set.
        callbacks : list of callable, optional
            LightGBM callbacks, run on every worker (early stopping is refused).

        Returns
        -------
        self
        """
        self._validate_params()
        params = self.get_params(deep=False)
        client = _client(params.pop("client", None))
        stopping = [f"{n}={params[n]!r}" for n in _LGBM_EARLY_STOPPING if params.get(n) not in (None, 0)]
        if any(lgb_compat.is_early_stopping_callback(cb) for cb in callbacks or ()):
            stopping.append("callbacks=[lightgbm.early_stopping(...)]")
        if stopping:
            raise ValueError(
                f"{type(self).__name__} does not support early stopping ({stopping[0]}): "
                "LightGBM's Dask training evaluates metrics on each worker's shard, so workers "
                "would stop at different rounds"
            )
        reject_is_unbalance(self, params)
        classes, y_codes, weights, setup = self._setup(
            y, sample_weight, client, params, dtype=np.float64
        )
        K = classes.shape[0]
        for _, y_eval in [eval_set] if isinstance(eval_set, tuple) else eval_set or ():
            self._encode_eval(y_eval, classes, client)  # checked before training, not after
        init_rows = init_score_rows_like(setup.loss, y_codes, setup.init)

        for name in FOCAL_PARAMS + ("scale_pos_weight", "class_weight", "is_unbalance"):
            params.pop(name, None)
        quiet_n_jobs = params.get("n_jobs") is None  # LightGBM sets threads per worker itself
        for name in ("metric", "metrics", "metric_types", "num_class", "num_classes"):
            params.pop(name, None)
        # each worker's copy writes the gradient and hessian into the same arrays every round
        engine_params = {**params, "objective": setup.objective.for_training(), "metric": "None"}
        if K > 2:
            engine_params["num_class"] = K
        # workers that free LightGBM's network when their fit fails (focalboost._compat)
        engine = lgb_compat.dask_engine_class()(client=client, **engine_params)

        def train():
            with warnings.catch_warnings():
                if quiet_n_jobs:  # DaskLGBMRegressor warns about its own default n_jobs=None
                    warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
                return engine.fit(
                    X, y_codes, sample_weight=weights, init_score=init_rows, callbacks=callbacks
                )

        self._run_on_cluster(client, train)
        booster = engine.booster_
        self.init_score_ = setup.init
        setup.store(self)
        evals_result = self._evaluate(
            client, booster, classes, eval_set, eval_names, eval_sample_weight
        )
        fold_init_score(booster, setup.init)  # the booster's raw scores: the margins
        lgb_compat.set_fitted_state(self, booster, classes, setup.objective, evals_result=evals_result)
        if self._calibrate(client, X, eval_set, eval_sample_weight, classes):
            booster.focalboost_temperature = self.temperature_  # for focalboost.lightgbm.predict_proba
            booster.focalboost_strength = self.strength_
        return self

    def _evaluate(self, client, booster, classes, eval_set, eval_names, eval_sample_weight):
        """Per-iteration weighted mean focal loss of each eval set over all its rows (``booster``
        before the init score is folded into it)."""
        if not eval_set:
            return {}
        if isinstance(eval_set, tuple):
            eval_set = [eval_set]
        names = list(eval_names) if eval_names else [f"valid_{i}" for i in range(len(eval_set))]
        weights = list(eval_sample_weight) if eval_sample_weight else [None] * len(eval_set)
        loss, init = self.loss_, np.asarray(self.init_score_)
        n_iter = booster.current_iteration()
        result = {}
        for name, (X_eval, y_eval), w in zip(names, eval_set, weights):
            y_codes = self._encode(y_eval, classes)
            parts = _partitions(("eval y", "eval X", "eval sample_weight"), y_codes, X_eval, w)
            curve = dask.delayed(_iteration_sums, pure=True)
            sums = _compute([curve(booster, loss, init, n_iter, *p) for p in zip(*parts)], client)
            total = np.sum(sums, axis=0)  # (n_iter, 2)
            result[name] = {DEFAULT_METRIC_NAME: (total[:, 0] / total[:, 1]).tolist()}
        return result

    def decision_function(self, X, *, start_iteration=0, num_iteration=None):
        """Margins, the init score included (Dask array (n,) binary, (n, K) multiclass).

        Parameters
        ----------
        X : dask Array or DataFrame of shape (n, n_features)
            Features.
        start_iteration : int, default 0
            First iteration to use.
        num_iteration : int, optional
            Number of iterations to use; default all.

        Returns
        -------
        dask Array of shape (n,) or (n, K)
        """
        check_is_fitted(self, "loss_")
        check_n_features(self, X)
        booster, K = self.booster_, self.n_classes_

        def margins(part):
            if len(part) == 0:
                return np.zeros((0, K)) if K > 2 else np.zeros(0)
            raw = booster.predict(
                part, raw_score=True, start_iteration=start_iteration, num_iteration=num_iteration
            )
            return np.asarray(raw, dtype=np.float64)

        if isinstance(X, dd.DataFrame):
            import pandas as pd

            if K > 2:
                meta = pd.DataFrame({k: pd.Series(dtype="f8") for k in range(K)})
                frame = X.map_partitions(lambda p: pd.DataFrame(margins(p), index=p.index), meta=meta)
            else:
                frame = X.map_partitions(lambda p: pd.Series(margins(p), index=p.index), meta=(None, "f8"))
            return frame.to_dask_array()
        if not isinstance(X, da.Array):
            raise TypeError(f"X must be a Dask array or DataFrame, got {type(X).__name__}")
        if X.numblocks[1] != 1:
            X = X.rechunk({1: -1})
        if K > 2:
            return X.map_blocks(margins, dtype=np.float64, chunks=(X.chunks[0], (K,)))
        return X.map_blocks(margins, dtype=np.float64, drop_axis=1)

    def _margin(self, X, **kwargs):
        return self.decision_function(X, **kwargs)

    def predict_proba(self, X, *, start_iteration=0, num_iteration=None):
        """Class probabilities (Dask array (n, n_classes)), as ``FocalLGBMClassifier`` computes
        them (see ``probability``).

        Parameters
        ----------
        X : dask Array or DataFrame of shape (n, n_features)
            Features.
        start_iteration : int, default 0
            First iteration to use.
        num_iteration : int, optional
            Number of iterations to use; default all.

        Returns
        -------
        dask Array of shape (n, n_classes)
        """
        kwargs = dict(start_iteration=start_iteration, num_iteration=num_iteration)
        return self._proba(self.decision_function(X, **kwargs))

    def predict(self, X, *, start_iteration=0, num_iteration=None):
        """Class labels (Dask array): ``classes_[argmax(predict_proba)]``, as ``FocalLGBMClassifier``.

        Parameters
        ----------
        X : dask Array or DataFrame of shape (n, n_features)
            Features.
        start_iteration : int, default 0
            First iteration to use.
        num_iteration : int, optional
            Number of iterations to use; default all.

        Returns
        -------
        dask Array of shape (n,)
        """
        kwargs = dict(start_iteration=start_iteration, num_iteration=num_iteration)
        return self._labels(self.decision_function(X, **kwargs))

    def to_local(self):
        """Not supported: a plain ``LGBMClassifier`` would not know the focal probabilities.

        Raises
        ------
        NotImplementedError
            Always; pickle this estimator, or use ``booster_`` (its raw scores are the margins).
        """
        raise NotImplementedError(
            "to_local() would return a plain LGBMClassifier, which does not know the focal "
            "probabilities; pickle this estimator, or use booster_ (its raw scores are the margins)"
        )


def _iteration_sums(booster, loss, init, n_iter, y, X, w):
    """(n_iter, 2): [sum(w * loss), sum(w)] of one partition after each boosting iteration."""
    out = np.zeros((n_iter, 2))
    if X.shape[0] == 0:
        return out
    raw = np.broadcast_to(init, (X.shape[0],) + np.shape(init)).astype(np.float64)
    for i in range(n_iter):
        raw = raw + booster.predict(X, raw_score=True, start_iteration=i, num_iteration=1)
        out[i] = loss.loss_sums(_column(y), raw, None if w is None else _column(w))
    return out
