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


class _Hook:
    """A picklable callable bound to a loss; no module state, so it runs on Dask workers too."""

    def __init__(self, loss):
        self.loss = check_loss(loss)

    def __repr__(self):
        return f"{type(self).__name__}({self.loss!r})"

    def __eq__(self, other):
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = object.__hash__
