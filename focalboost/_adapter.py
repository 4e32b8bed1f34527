"""What the XGBoost and LightGBM adapters share: reading a data set's labels/weights, init scores.

The adapters use a loss only through the contract of :class:`focalboost.base.BoostingLoss`
(:func:`check_loss` is re-exported from there).
"""

from __future__ import annotations

import numpy as np

from .base import check_loss

__all__ = [
    "DEFAULT_METRIC_NAME",
    "check_loss",
    "init_score_rows",
    "is_multiclass",
    "is_multilabel",
    "library_gradient_hessian",
]

DEFAULT_METRIC_NAME = "focal_loss"


def is_multiclass(loss):
    """Whether ``loss`` is a multiclass loss (``kind == "multiclass"``: margins (n, K))."""
    return getattr(loss, "kind", None) == "multiclass"


def is_multilabel(loss):
    """Whether ``loss`` is a multi-label loss (``kind == "multilabel"``: margins (n, L))."""
    return getattr(loss, "kind", None) == "multilabel"


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
    and a ``scale`` other than 1 give what ``loss.gradient_hessian`` returns (float64; the library
    converts it). An empty ``sample_weight`` (XGBoost's "no weights") is passed on as None.
    """
    if sample_weight is not None and np.size(sample_weight) == 0:
        sample_weight = None
    if scale == 1.0:
        shape = np.shape(raw)
        order = "F" if len(shape) == 2 and _column_major(raw) else "C"
        out = (np.empty(shape, np.float32, order=order), np.empty(shape, np.float32, order=order))
        result = loss.fast_gradient_hessian(y, raw, sample_weight, out=out)
        if result is not None:
            return result
        # no fast path for this loss or input: gradient_hessian (focalboost's losses then take
        # their numpy formulas; invalid input has raised already)
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


#: what ``predict_proba`` returns, at every entry point (estimators, native helpers, Dask, ONNX)
PROBABILITY_CHOICES = ("posterior", "focal")


def probability_from_margin(loss, margin, probability="posterior"):
    """The one meaning of "probability" in focalboost, from margins.

    ``"posterior"`` (the default everywhere): the class posterior estimate, with the focal loss's
    known distortion undone (``loss.posterior``; :mod:`focalboost.posterior`); ``"focal"``: the
    raw sigmoid/softmax of the margins (``loss.predict_proba``), what the model's link function
    gives. A loss without a posterior (a user's own ``BoostingLoss`` that does not define one)
    needs ``probability="focal"``.
    """
    if probability == "focal":
        return loss.predict_proba(margin)
    if probability != "posterior":
        raise ValueError(f"probability must be one of {list(PROBABILITY_CHOICES)}, got {probability!r}")
    try:
        return loss.posterior(margin)
    except NotImplementedError:
        raise ValueError(
            f"{type(loss).__name__} defines no posterior(), so its class posterior is unknown: "
            "pass probability='focal' for its predict_proba of the margins, or implement "
            "posterior()"
        ) from None
