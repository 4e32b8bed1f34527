"""What every binary and every multiclass loss object of focalboost has in common.

The contract (what each method returns, shapes, which members are required) is
:class:`focalboost.base.BoostingLoss`; this module implements it once for the closed-form and
finite-difference losses, in the vocabulary of ``sklearn._loss``. Subclasses implement ``_loss``
and ``_gradient_hessian`` on validated arrays without weights, and may add a fused fast path
(``fast_gradient_hessian``, ``_fast_loss``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, softmax

from ._validation import as_labels, as_raw, as_weights, check_class_totals, check_data
from .base import BoostingLoss


class _LossBase(BoostingLoss):
    # --- validation --------------------------------------------------------------------------
    def _check(self, y_true, raw_prediction, sample_weight):
        """``(y, raw, w)``: int64 labels, finite float64 margins, float64 weights or None (the
        canonical errors of :mod:`focalboost._validation` otherwise)."""
        return check_data(y_true, raw_prediction, sample_weight, self.raw_ndim, self.n_classes)

    @staticmethod
    def _apply_weight(w, *arrays):
        if w is None:
            return arrays
        shape = (-1,) + (1,) * (arrays[0].ndim - 1)
        with np.errstate(over="ignore"):  # a loss ~1e308 times a weight > 1 is +inf, as in the kernels
            return tuple(a * w.reshape(shape) for a in arrays)

    # --- public API ----------------------------------------------------------------------------
    def loss(self, y_true, raw_prediction, sample_weight=None):
        """Per-row loss, multiplied by ``sample_weight`` if given (one fused pass for closed-form
        focal losses, like :meth:`gradient_hessian`)."""
        fast = self._fast_loss(y_true, raw_prediction, sample_weight)
        if fast is not None:
            return fast
        return self.reference_loss(y_true, raw_prediction, sample_weight)

    def reference_loss(self, y_true, raw_prediction, sample_weight=None):
        """:meth:`loss` computed by the plain numpy formulas (the reference)."""
        y, raw, w = self._check(y_true, raw_prediction, sample_weight)
        return self._apply_weight(w, self._loss(y, raw))[0]

    def loss_sums(self, y_true, raw_prediction, sample_weight=None):
        """``(sum(w * loss), sum(w))``: the numerator and denominator of :meth:`mean_loss`
        (:meth:`BoostingLoss.loss_sums`), from one fused pass for closed-form focal losses,
        without validating the weights a second time."""
        fast = self._fast_loss(y_true, raw_prediction, sample_weight)
        if fast is not None:  # weighted already; the kernel has checked the weights
            w = np.asarray([] if sample_weight is None else sample_weight, dtype=np.float64)
            return float(np.sum(fast)), float(np.sum(w) if w.size else fast.shape[0])
        y, raw, w = self._check(y_true, raw_prediction, sample_weight)
        per_row = self._loss(y, raw)
        per_row_size = int(np.prod(per_row.shape[1:]))  # L for per-label losses, else 1
        if w is None:
            return float(np.sum(per_row)), float(per_row.size)
        return float(np.sum(self._apply_weight(w, per_row)[0])), float(np.sum(w) * per_row_size)

    def gradient_hessian(self, y_true, raw_prediction, sample_weight=None):
        """Gradient and hessian with respect to the margin, multiplied by ``sample_weight``.

        Closed-form focal losses compute them in one fused pass (:mod:`focalboost._kernels`,
        :meth:`fast_gradient_hessian`); a loss without one, or an input of a dtype the kernels do
        not take, goes through :meth:`reference_gradient_hessian`. Invalid input raises the
        canonical error of :mod:`focalboost._validation` on either path.
        """
        fast = self.fast_gradient_hessian(y_true, raw_prediction, sample_weight)
        if fast is not None:
            return fast
        return self.reference_gradient_hessian(y_true, raw_prediction, sample_weight)

    def reference_gradient_hessian(self, y_true, raw_prediction, sample_weight=None):
        """:meth:`gradient_hessian` computed by the plain numpy formulas (the reference)."""
        y, raw, w = self._check(y_true, raw_prediction, sample_weight)
        grad, hess = self._gradient_hessian(y, raw)
        return self._apply_weight(w, grad, hess)

    def _fast_loss(self, y_true, raw_prediction, sample_weight):
        """The weighted per-row loss by a fused implementation, or None (the default)."""
        return None

    def _class_weight_totals(self, y_true, sample_weight, every_class=False):
        y = as_labels(y_true, self.n_classes, np.shape(y_true)[0])
        w = as_weights(sample_weight, y.shape[0])
        totals = np.bincount(y, weights=w, minlength=self.n_classes).astype(np.float64)
        return check_class_totals(totals, every_class)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._repr_params().items())
        return f"{type(self).__name__}({args})"

    def _repr_params(self):
        return {}

    def __eq__(self, other):
        return type(self) is type(other) and _params_equal(self._repr_params(), other._repr_params())

    def __hash__(self):
        return hash(type(self).__name__)


def _params_equal(a, b):
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if x is None or y is None or not np.array_equal(x, y):
                return False
        elif x != y:
            return False
    return True


class BinaryLossBase(_LossBase):
    """Binary loss on margins x with p = sigmoid(x) the probability of class 1."""

    kind = "binary"
    n_classes = 2

    def predict_proba(self, raw_prediction):
        """The link function of the margins, sigmoid for class 0 and class 1, shape (n, 2): a focal
        model's raw output (``probability="focal"``), not the class posterior (:meth:`posterior`,
        what focalboost calls "probability" by default)."""
        raw = as_raw(raw_prediction, 1)
        return np.column_stack([expit(-raw), expit(raw)])

    def init_score(self, y_true, sample_weight=None):
        """The constant margin c minimising sum_i w_i loss(y_i, c).

        Only the weight totals of the two classes matter, so the search costs O(1) per step: we find
        the root of the summed gradient with Brent's method, widening the bracket as needed.
        """
        totals = self._class_weight_totals(y_true, sample_weight)
        totals = totals / totals.sum()
        labels = np.array([0, 1])

        def summed_gradient(c):
            grad, _ = self.gradient_hessian(labels, np.array([c, c]), totals)
            return float(grad.sum())

        lo, hi = -1.0, 1.0
        start = float(np.log(totals[1] / totals[0]))
        lo, hi = min(lo, start - 1.0), max(hi, start + 1.0)
        while summed_gradient(lo) > 0:
            lo *= 2.0
            if lo < -1e4:
                raise ValueError("init_score: the summed gradient does not change sign below -1e4")
        while summed_gradient(hi) < 0:
            hi *= 2.0
            if hi > 1e4:
                raise ValueError("init_score: the summed gradient does not change sign above 1e4")
        from scipy import optimize  # here, not at module level: importing it takes ~0.1-0.3 s

        return float(optimize.brentq(summed_gradient, lo, hi, xtol=1e-15, rtol=8.9e-16, maxiter=200))


class MulticlassLossBase(_LossBase):
    """Multiclass loss on margins Z of shape (n, K) with p = softmax(Z)."""

    kind = "multiclass"

    def _all_class_totals(self, y_true, sample_weight):
        """Class weight totals, every class present (a constant init score needs them all)."""
        return self._class_weight_totals(y_true, sample_weight, every_class=True)

    def predict_proba(self, raw_prediction):
        """The link function of the margins, softmax, shape (n, K): a focal model's raw output
        (``probability="focal"``), not the class posterior (:meth:`posterior`, what focalboost
        calls "probability" by default)."""
        raw = as_raw(raw_prediction, 2)
        with np.errstate(over="ignore"):  # z - max(z) = -inf for rows like [1e308, -1e308]: p = 0
            return softmax(raw, axis=1)

    def init_score(self, y_true, sample_weight=None):
        """The constant margin vector z (K,) minimising sum_i w_i loss(y_i, z), centred to mean 0.

        Only the class weight totals matter: the objective is a K-row weighted loss, minimised with
        BFGS on its exact gradient from the log class priors (the answer for log loss).
        """
        totals = self._all_class_totals(y_true, sample_weight)
        totals = totals / totals.sum()
        K = self.n_classes
        labels = np.arange(K)

        def objective(z):
            Z = np.broadcast_to(z, (K, K))
            value = float(np.sum(self.loss(labels, Z, totals)))
            grad, _ = self.gradient_hessian(labels, Z, totals)
            return value, grad.sum(axis=0)

        from scipy import optimize  # imported on first use (see BinaryLossBase.init_score)

        start = np.log(totals) - np.log(totals).mean()
        result = optimize.minimize(
            objective, start, jac=True, method="BFGS", options={"gtol": 1e-13, "maxiter": 1000}
        )
        z = result.x - result.x.mean()
        return z
