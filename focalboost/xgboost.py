"""Native XGBoost hooks: ``xgb.train(params, dtrain, obj=objective(loss), custom_metric=metric(loss))``.

XGBoost (>= 3) with a custom objective reads ``base_score`` as a *margin* (default 0.5, i.e. a
probability of 0.62 for binary) and keeps it at predict time; it accepts a vector for multiclass.
:func:`training_params` sets it to the loss's best constant margin and switches off the default
metric, which would be computed on margins as if they were probabilities.

Example::

    loss = BinaryFocalLoss(gamma=2.0, alpha=0.25)
    params = {"max_depth": 4, "eta": 0.1, **training_params(loss, y_train)}
    booster = xgb.train(params, dtrain, 200, obj=objective(loss), custom_metric=metric(loss),
                        evals=[(dvalid, "valid")], early_stopping_rounds=20)
    proba = predict_proba(booster, xgb.DMatrix(X_test), loss)   # (n, 2) or (n, K)
"""

from __future__ import annotations

import ctypes

import numpy as np

from . import _openmp_team
from ._adapter import (
    DEFAULT_METRIC_NAME,
    _Hook,
    check_loss,
    is_multiclass,
    library_gradient_hessian,
)


def _raw(loss, predt, n_rows):
    """XGBoost's margins as the loss expects them: (n,) binary, (n, K) multiclass, (n, L) multi-label."""
    predt = np.asarray(predt)
    if loss._raw_ndim == 1:
        return predt.reshape(n_rows)
    if n_rows == 0:  # an empty shard (a Dask worker holding no rows of an eval set)
        return predt.reshape(0, loss.n_classes if is_multiclass(loss) else (loss.n_labels or 0))
    return predt.reshape(n_rows, -1)


def _info(dmatrix, field):
    """``dmatrix.get_label()`` / ``get_weight()`` without their copy: a read-only view of the
    DMatrix's own float32 buffer: (n,), (n, L) for multi-target labels, empty if not set.

    ``get_label()`` copies the labels on every call, i.e. every boosting round (4 MB at 1M rows).
    The view (C function ``XGDMatrixGetFloatInfo``, which returns a pointer to the buffer) is
    always current, as nothing is cached (``set_label`` between rounds is seen), and it is used
    only inside one hook call, while XGBoost holds the DMatrix.
    """
    from xgboost import core

    length = core.c_bst_ulong()
    pointer = ctypes.POINTER(ctypes.c_float)()
    core._check_call(
        core._LIB.XGDMatrixGetFloatInfo(
            dmatrix.handle, core.c_str(field), ctypes.byref(length), ctypes.byref(pointer)
        )
    )
    if length.value == 0:
        return np.empty(0, dtype=np.float32)
    view = np.ctypeslib.as_array(pointer, shape=(length.value,))
    view.flags.writeable = False
    n_rows = dmatrix.num_row()
    return view if length.value == n_rows else view.reshape(n_rows, -1)


class XGBoostObjective(_Hook):
    """``(predt, dtrain) -> (grad, hess)`` for ``xgb.train(obj=...)``; weights applied once.

    Returns float32 arrays (XGBoost stores gradient pairs as float32: the values are exactly those
    it would round float64 results to) and reads labels and weights without copying them, so a
    round allocates nothing beyond the gradient and hessian (:func:`_info`).
    """

    def __call__(self, predt, dtrain):
        y = _info(dtrain, "label")
        raw = _raw(self.loss, predt, y.shape[0])
        # binary: the kernel runs on XGBoost's own OpenMP threads (focalboost._openmp_team)
        with _openmp_team.team(_openmp_team.xgboost_team()):
            return library_gradient_hessian(self.loss, y, raw, _info(dtrain, "weight"))


class XGBoostMetric(_Hook):
    """``(predt, dmatrix) -> (name, weighted mean loss)`` for ``xgb.train(custom_metric=...)``.

    Lower is better. ``predt`` are margins (XGBoost passes margins to custom metrics). In
    distributed training the value is the weighted mean over all workers' rows (:func:`mean_loss`).
    """

    def __init__(self, loss, name=DEFAULT_METRIC_NAME):
        super().__init__(loss)
        self.name = name

    def __call__(self, predt, dmatrix):
        return self.name, mean_loss(self.loss, _info(dmatrix, "label"), predt, _info(dmatrix, "weight"))


def mean_loss(loss, y, predt, sample_weight=None):
    """Weighted mean loss sum(w * loss) / sum(w) of XGBoost margins ``predt``, over ALL rows.

    In distributed training (``xgboost.dask``, PySpark, any run inside an
    ``xgboost.collective.CommunicatorContext`` with more than one worker) each worker holds one
    shard: the two sums are all-reduced over the workers, so every worker returns the same,
    correctly weighted mean. (XGBoost alone would average per-worker means: wrong whenever the
    shards differ in size or weight.) Every worker evaluates every eval set once per round, so
    all workers make the same all-reduce calls; an empty shard contributes zeros.
    """
    from xgboost import collective  # here, so that importing this module does not load XGBoost

    raw = _raw(loss, predt, np.shape(y)[0])
    sums = np.array(loss.loss_sums(y, raw, sample_weight), dtype=np.float64)
    if collective.get_world_size() > 1:
        sums = collective.allreduce(sums, collective.Op.SUM)
    return float(sums[0] / sums[1])


def objective(loss):
    """The XGBoost objective callable of a focalboost loss."""
    return XGBoostObjective(loss)


def metric(loss, name=DEFAULT_METRIC_NAME):
    """The XGBoost custom metric callable of a focalboost loss (weighted mean loss)."""
    return XGBoostMetric(loss, name)


def training_params(loss, y, sample_weight=None):
    """Parameters a custom focal objective needs: margin-space ``base_score`` and metric settings.

    Returns ``{"base_score": init, "disable_default_eval_metric": True}`` plus ``num_class`` for a
    multiclass loss; merge them into your own parameters. For a multi-label loss (2-D labels)
    XGBoost trains one output per label (``multi_strategy``, default ``"one_output_per_tree"``)
    and ``base_score`` is the vector of per-label init scores.
    """
    check_loss(loss)
    init = np.asarray(loss.init_score(y, sample_weight), dtype=np.float64)
    params = {"disable_default_eval_metric": True}
    if is_multiclass(loss):
        params["num_class"] = loss.n_classes
    params["base_score"] = float(init) if init.ndim == 0 else [float(v) for v in init]
    return params


def predict_margin(booster, dmatrix, **kwargs):
    """Margins including ``base_score`` (and any ``base_margin`` set on ``dmatrix``)."""
    return booster.predict(dmatrix, output_margin=True, **kwargs)


def predict_proba(booster, dmatrix, loss, **kwargs):
    """Probabilities from a booster trained with a focal objective.

    (n, 2) binary, (n, K) multiclass, (n, L) positive-class probabilities for multi-label.
    """
    return check_loss(loss).predict_proba(predict_margin(booster, dmatrix, **kwargs))
