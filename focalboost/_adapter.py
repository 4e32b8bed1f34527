"""What the XGBoost and LightGBM adapters share: reading a data set's labels/weights, init scores."""

from __future__ import annotations

import numpy as np

from ._base import MulticlassLossBase
from .losses import MultiLabelFocalLoss

DEFAULT_METRIC_NAME = "focal_loss"


def is_multiclass(loss):
    return isinstance(loss, MulticlassLossBase)


def is_multilabel(loss):
    return isinstance(loss, MultiLabelFocalLoss)


def check_loss(loss):
    needed = ("gradient_hessian", "mean_loss", "init_score", "predict_proba")
    missing = [name for name in needed if not hasattr(loss, name)]
    if missing:
        raise TypeError(
            f"loss must be a focalboost loss object (BinaryFocalLoss, MulticlassFocalLoss, "
            f"FiniteDifference*Loss, ...); {type(loss).__name__} lacks {missing}"
        )
    return loss


def init_score_rows(loss, y, sample_weight=None, n_rows=None, init=None):
    """The loss's best constant margin, repeated for every row: (n,) binary, (n, K) otherwise.

    Pass ``init`` to reuse a constant computed on the training labels for another data set.
    """
    if init is None:
        init = loss.init_score(y, sample_weight)
    n = len(y) if n_rows is None else n_rows
    init = np.asarray(init, dtype=np.float64)
    return np.full(n, float(init)) if init.ndim == 0 else np.tile(init, (n, 1))


def library_gradient_hessian(loss, y, raw, sample_weight=None, scale=1.0):
    """The hooks' gradient and hessian: float32 arrays, the precision both libraries keep.

    XGBoost (``GradientPair``) and LightGBM (``score_t``) store gradients and hessians as float32
    and round whatever they are given to the nearest float32. The fused kernels compute in float64
    and write float32 directly: the same values, rounded once, with half the memory traffic and no
    conversion copy inside the library (LightGBM copied float64 results into new float32 arrays
    every round). The arrays have the memory order of the margins: LightGBM passes multiclass
    margins as a column-major (n, K) view and takes column-major results without a copy.

    A loss without a fused kernel (finite differences, the multi-label loss, a user's own object)
    and a ``scale`` other than 1 give float64 arrays (the library converts them).
    """
    fast = getattr(loss, "_fast_gradient_hessian", None)
    if fast is not None and scale == 1.0:
        shape = np.shape(raw)
        order = "F" if len(shape) == 2 and _column_major(raw) else "C"
        out = (np.empty(shape, np.float32, order=order), np.empty(shape, np.float32, order=order))
        result = fast(y, raw, sample_weight, out=out)
        # rejected by the kernel: the numpy path (what gradient_hessian would do after trying it again)
        return result if result is not None else loss.reference_gradient_hessian(y, raw, sample_weight)
    grad, hess = loss.gradient_hessian(y, raw, sample_weight)
    if scale != 1.0:
        grad, hess = grad * scale, hess * scale
    return grad, hess


def _column_major(a):
    flags = getattr(a, "flags", None)
    return flags is not None and flags.f_contiguous and not flags.c_contiguous


class _Hook:
    """A picklable callable bound to a loss; no module state, so it runs on Dask workers too."""

    def __init__(self, loss):
        self.loss = check_loss(loss)

    def __repr__(self):
        return f"{type(self).__name__}({self.loss!r})"

    def __eq__(self, other):
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = object.__hash__
