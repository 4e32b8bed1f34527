"""Finite-difference gradient and hessian for ANY per-sample loss of the margin.

A loss is a plain function returning one float64 loss per row:

* binary:     ``f(y, x) -> (n,)`` with ``y`` in {0, 1} of shape (n,) and margins ``x`` of shape (n,);
* multiclass: ``f(y, Z) -> (n,)`` with ``y`` in 0..K-1 of shape (n,) and margins ``Z`` of shape (n, K).

:class:`FiniteDifferenceBinaryLoss` and :class:`FiniteDifferenceMulticlassLoss` wrap such a function
into a :class:`focalboost.base.BoostingLoss`, like the closed-form focal losses, so the XGBoost and
LightGBM hooks accept it unchanged.

Step sizes
----------
We use the five-point central stencils

    f'(x)  ~ [f(x-2h) - 8 f(x-h) + 8 f(x+h) - f(x+2h)] / (12 h)                   error ~ h^4 f^(5) / 30
    f''(x) ~ [-f(x-2h) + 16 f(x-h) - 30 f(x) + 16 f(x+h) - f(x+2h)] / (12 h^2)    error ~ h^4 f^(6) / 90

plus rounding: each f value carries a relative error of about eps = 2.2e-16, which the stencil
divides by h (first derivative) or h^2 (second derivative). Balancing truncation against rounding
gives h ~ eps^(1/5) ~ 7e-4 for f' (total error ~ eps^(4/5) ~ 1e-13 relative to |f|) and
h ~ eps^(1/6) ~ 2.5e-3 for f'' (error ~ eps^(2/3) ~ 4e-11). We take the powers of two nearest to
those optima, 2^-11 and 2^-8 (measured best on focal losses over margins in [-20, 20]: gradient
error <= 1e-12 * (1 + |f|), hessian error <= 1e-10 * (1 + |f|)). The steps are absolute, not
relative to |x|: a loss of the margin varies on a scale of order 1 whatever the margin (its tails
decay like exp(-(gamma + 1) |x|)), and the rounding of x + h (ulp(x) / h < 1e-9 for |x| <= 1e4)
stays negligible.

For comparison, the seed recipe ``derivative(f, x, n=2, dx=1e-6)`` from SciPy's former ``misc`` module (a three-point stencil;
that function was removed in SciPy 1.12) divides rounding noise by dx^2 = 1e-12: its
second derivative carries an error of about eps * |f| / 1e-12 ~ 1e-4, i.e. most digits are lost.
"""

from __future__ import annotations

import numpy as np

from ._base import BinaryLossBase, MulticlassLossBase
from ._validation import (
    HESSIAN_CHOICES,
    check_callable,
    check_choice,
    check_finite_differences,
    check_loss_output,
    check_n_classes,
)

#: step for the first derivative, relative to max(1, |x|) (see module docstring)
GRADIENT_STEP = 2.0**-11
#: step for the second derivative, relative to max(1, |x|) (see module docstring)
HESSIAN_STEP = 2.0**-8
#: floor of the numerical hessian under ``hessian="positive"`` (per unit of sample weight)
MIN_HESSIAN = 1e-6


def _call(loss_function, y, x, shape, rows_at=None):
    """The user's losses at margins ``x``: one finite value per row, else a ValueError naming the
    function and the margins (a NaN loss would otherwise give NaN gradients silently, which
    XGBoost reports a round later as non-finite margins, or keeps in the last round's trees)."""
    return check_loss_output(loss_function(y, x), shape, function=loss_function, margins=x, rows_at=rows_at)


def _stencils(f_of, x, f0=None):
    """First and second derivative of the elementwise function ``f_of`` at ``x`` (any shape)."""
    h1, h2 = GRADIENT_STEP, HESSIAN_STEP
    f = [f_of(x - 2 * h1), f_of(x - h1), f_of(x + h1), f_of(x + 2 * h1)]
    g = [f_of(x - 2 * h2), f_of(x - h2), f_of(x + h2), f_of(x + 2 * h2)]
    if f0 is None:
        f0 = f_of(x)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is an error after the stencils
        grad = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h1)
        hess = (-g[0] + 16 * g[1] - 30 * f0 + 16 * g[2] - g[3]) / (12 * h2 * h2)
    return grad, hess


def binary_derivatives(loss_function, y, x):
    """Unweighted (gradient, hessian) of an elementwise loss ``loss_function(y, x)`` in ``x``.

    The loss returns one value per element of ``x``: shape (n,) for binary margins, (n, L) for
    multi-label margins (each label's loss depends on its own margin only).

    Parameters
    ----------
    loss_function : callable
        ``loss_function(y, x)``, one finite loss per element of ``x``.
    y : array-like of shape (n,) or (n, L)
        Labels, passed to ``loss_function`` as given.
    x : array-like of shape (n,) or (n, L)
        Margins at which to differentiate.

    Returns
    -------
    grad, hess : ndarray of the shape of ``x``
        float64, unweighted.
    """
    x = np.asarray(x, dtype=np.float64)
    grad, hess = _stencils(lambda t: _call(loss_function, y, t, x.shape, rows_at=x), x)
    return check_finite_differences(grad, hess, loss_function, x)


def multiclass_derivatives(loss_function, y, Z):
    """Unweighted (gradient, diagonal hessian), each (n, K), of ``loss_function(y, Z)``.

    Parameters
    ----------
    loss_function : callable
        ``loss_function(y, Z)``, one finite loss per row.
    y : array-like of shape (n,)
        Class indices, passed to ``loss_function`` as given.
    Z : array-like of shape (n, K)
        Margins at which to differentiate.

    Returns
    -------
    grad, hess : ndarray of shape (n, K)
        float64, unweighted; ``hess`` is the diagonal of the hessian.
    """
    Z = np.asarray(Z, dtype=np.float64)
    n, K = Z.shape
    f0 = _call(loss_function, y, Z, (n,))
    grad = np.empty_like(Z)
    hess = np.empty_like(Z)
    for k in range(K):

        def f_of(column, k=k):
            shifted = Z.copy()
            shifted[:, k] = column
            return _call(loss_function, y, shifted, (n,), rows_at=Z)

        grad[:, k], hess[:, k] = _stencils(f_of, Z[:, k], f0)
    return check_finite_differences(grad, hess, loss_function, Z)


class _FiniteDifferenceMixin:
    def _init_fd(self, loss_function, hessian):
        self.loss_function = check_callable("loss_function", loss_function)
        self.hessian = check_choice("hessian", hessian, HESSIAN_CHOICES)

    def _loss(self, y, raw):
        return _call(self.loss_function, y, raw, (raw.shape[0],))

    def _gradient_hessian(self, y, raw):
        grad, hess = self._derivatives(self.loss_function, y, raw)
        if self.hessian == "positive":
            hess = np.maximum(hess, MIN_HESSIAN)
        return grad, hess

    def _repr_params(self):
        return {"loss_function": self.loss_function, "hessian": self.hessian}


class FiniteDifferenceBinaryLoss(_FiniteDifferenceMixin, BinaryLossBase):
    """Any binary per-row loss ``f(y, x) -> (n,)`` as a loss object, derivatives by finite differences.

    ``f`` must return finite losses: a NaN or infinite value (at the margins or at the points
    around them the differences evaluate) raises a ``ValueError`` naming ``f`` and the margins,
    as do differences that overflow; never a NaN gradient.

    ``hessian="positive"`` (default) clips the numerical hessian at :data:`MIN_HESSIAN` so that
    boosting always sees positive curvature; ``hessian="exact"`` returns it as computed.
    ``loss_function`` must be picklable (a module-level function) to pickle the loss.

    Parameters
    ----------
    loss_function : callable
        ``loss_function(y, x) -> (n,)``: the loss of each row, ``y`` in {0, 1}, ``x`` the margins.
    hessian : {"positive", "exact"}, default "positive"
        Clip the numerical hessian at :data:`MIN_HESSIAN`, or return it as computed.
    """

    _derivatives = staticmethod(binary_derivatives)

    def __init__(self, loss_function, hessian="positive"):
        self._init_fd(loss_function, hessian)


class FiniteDifferenceMulticlassLoss(_FiniteDifferenceMixin, MulticlassLossBase):
    """Any multiclass per-row loss ``f(y, Z) -> (n,)`` as a loss object (see the binary class).

    Parameters
    ----------
    loss_function : callable
        ``loss_function(y, Z) -> (n,)``: the loss of each row, ``y`` class indices 0..K-1, ``Z``
        the (n, K) margins.
    n_classes : int >= 2
        K.
    hessian : {"positive", "exact"}, default "positive"
        Clip the numerical hessian at :data:`MIN_HESSIAN`, or return it as computed.
    """

    _derivatives = staticmethod(multiclass_derivatives)

    def __init__(self, loss_function, n_classes, hessian="positive"):
        self.n_classes = check_n_classes(n_classes)
        self._init_fd(loss_function, hessian)

    def _repr_params(self):
        return {"n_classes": self.n_classes, **super()._repr_params()}
