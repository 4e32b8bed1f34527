"""Per-class alpha from class frequencies, with sample weights respected.

Three rules, all functions of the weighted class frequencies f_k = W_k / sum_j W_j
(W_k = total sample weight of class k):

* ``"balanced"``: scikit-learn's ``compute_class_weight("balanced")``, n / (K n_k) — computed by
  scikit-learn itself with the sample weights. The frequency-weighted mean of alpha is 1, so the
  overall scale of the loss (and of its hessians, which matters for ``min_child_weight``) stays
  that of the unweighted loss.
* ``"inverse_frequency"``: (1 / f_k) / sum_j (1 / f_j), the normalised inverse frequency of the
  first seed note (sums to 1).
* ``"enet"``: 1 / ln(c + f_k) with c = 1.02 by default (ENet, Paszke et al. 2016; the seed note used
  c = 1.10). c must be > 1 so that every weight is finite and positive.

Binary focal loss takes a scalar alpha (the weight of class 1, 1 - alpha for class 0): only the
ratio of the two class weights matters, so :func:`binary_alpha` returns w_1 / (w_0 + w_1) — for
every rule that favours the minority class this is > 0.5 when class 1 is the minority.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_labels, as_weights

ALPHA_METHODS = ("balanced", "inverse_frequency", "enet")


def _class_totals(y, n_classes, sample_weight):
    y = as_labels(y, n_classes, np.shape(y)[0], name="y")
    w = as_weights(sample_weight, y.shape[0])
    totals = np.bincount(y, weights=w, minlength=n_classes).astype(np.float64)
    empty = np.flatnonzero(totals <= 0)
    if empty.size:
        raise ValueError(
            f"y has no (positively weighted) rows of class(es) {empty.tolist()}: a weight from "
            "class frequencies needs every class present"
        )
    return y, w, totals


def class_alpha(y, method="balanced", *, n_classes=None, sample_weight=None, c=1.02):
    """Per-class alpha vector (length K) from the (weighted) class frequencies of ``y``.

    Parameters
    ----------
    y : array-like of class indices 0..K-1
        The labels.
    method : {"balanced", "inverse_frequency", "enet"}, default "balanced"
        ``"balanced"``: n / (K n_k), scikit-learn's rule; ``"inverse_frequency"``: (1/f_k) /
        sum(1/f_j); ``"enet"``: 1 / ln(c + f_k).
    n_classes : int, optional
        K; defaults to max(y) + 1.
    sample_weight : array-like, optional
        Per-row weights; class frequencies are weight totals.
    c : float > 1, default 1.02
        Constant of the ``"enet"`` rule.

    Returns
    -------
    ndarray of shape (K,)
    """
    if method not in ALPHA_METHODS:
        raise ValueError(f"method must be one of {list(ALPHA_METHODS)}, got {method!r}")
    y_arr = np.asarray(y)
    if n_classes is None:
        if y_arr.size == 0:
            raise ValueError("y is empty")
        n_classes = int(np.nanmax(y_arr.astype(np.float64))) + 1
    y_int, w, totals = _class_totals(y_arr, n_classes, sample_weight)
    freq = totals / totals.sum()
    if method == "balanced":
        # imported here: scikit-learn (and the pandas it loads) stays out of `import focalboost`
        from sklearn.utils.class_weight import compute_class_weight

        return compute_class_weight(
            "balanced", classes=np.arange(n_classes), y=y_int, sample_weight=w
        ).astype(np.float64)
    if method == "inverse_frequency":
        inv = 1.0 / freq
        return inv / inv.sum()
    if not (np.isfinite(c) and c > 1.0):
        raise ValueError(f"c must be a finite number > 1 for the 'enet' rule, got {c!r}")
    return 1.0 / np.log(c + freq)


def binary_alpha(y, method="balanced", *, sample_weight=None, c=1.02):
    """Scalar alpha in (0, 1) for :class:`~focalboost.BinaryFocalLoss`: w_1 / (w_0 + w_1).

    Parameters
    ----------
    y : array-like of labels in {0, 1}
        The labels.
    method : {"balanced", "inverse_frequency", "enet"}, default "balanced"
        The rule of :func:`class_alpha` that gives the two class weights w_0 and w_1.
    sample_weight : array-like, optional
        Per-row weights; class frequencies are weight totals.
    c : float > 1, default 1.02
        Constant of the ``"enet"`` rule.

    Returns
    -------
    float
    """
    weights = class_alpha(y, method, n_classes=2, sample_weight=sample_weight, c=c)
    return float(weights[1] / (weights[0] + weights[1]))
