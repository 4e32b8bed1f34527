"""Binary and multiclass (softmax) focal loss on margins: loss, gradient, hessian, init score.

The math lives here once, in numpy, with no framework import.

Binary. Margin x, label y in {0, 1}, signed margin u = (2y - 1) x, so that p_t = sigmoid(u).
With q = sigmoid(u) (= p_t), r = sigmoid(-u) (= 1 - p_t), l = -log q = softplus(-u) and the class
weight a_t (alpha for y = 1, 1 - alpha for y = 0, 1 when alpha is None):

    L      = a_t r^gamma l
    dL/dx  = -(2y - 1) a_t r^gamma (gamma q l + r)
    d2L/dx2 = a_t q r^gamma (gamma^2 q l - gamma r l + (2 gamma + 1) r)

q, r, l and log r = log_expit(-u) all come from log-space primitives, so no 1 - p cancellation
happens and margins of +-1e4 give finite values (r^gamma = exp(gamma log r)).

Multiclass. Margins z (K,), true class y, lse_o = logsumexp of the other classes' margins,
u = z_y - lse_o. Then P = p_y = sigmoid(u), R = 1 - P = sigmoid(-u), l = -log P = softplus(-u),
and the other classes split R as p_j = s_j R with s_j = exp(z_j - lse_o) (sum over j != y is 1):

    L        = a_y R^gamma l
    dL/dz_y  = -G,  dL/dz_j = G s_j  (j != y),   G = a_y R^gamma (gamma P l + R)
    d2L/dz_y2 = the binary hessian at u (with q = P, r = R)
    d2L/dz_j2 = a_y R^gamma s_j (gamma^2 P^2 s_j l + gamma P l ((1 - s_j) - s_j R) + 2 gamma P p_j
                                 + (1 - p_j) R)

Hessian policy. The exact hessian is negative for confidently wrong rows (binary, y = 1,
gamma = 2: for margins below -2.790). Boosting cannot use non-positive curvature, so the
default ``hessian="positive"`` drops the one negative term of each formula (-gamma r l in the
binary bracket, -gamma P l s_j R for the other classes): the result is positive, never smaller
than the exact hessian, equal to it at gamma = 0 and asymptotically equal for confident correct
predictions. ``hessian="exact"`` returns the true second derivative. See :doc:`/user_guide/hessian_policy`.

Fast path. With ``derivatives="closed_form"`` the binary and multiclass losses compute ``loss``,
``loss_sums``, ``mean_loss`` and ``gradient_hessian`` in the fused kernels of
:mod:`focalboost._kernels`; the numpy formulas here are the reference they are tested against.
Invalid input raises the same error on both paths (:mod:`focalboost._validation`): the fast path
never hides an error by retrying on the slow one. An input that is valid but of a dtype the
kernels do not take (float16 or long double margins or weights, non-native byte order) is computed
by the numpy formulas, which convert it; that is said once per process and reason, as an INFO
record on the ``focalboost`` logger (``logging.basicConfig(level=logging.INFO)`` shows it) -- a
log line rather than a warning, because the result is right and only slower, and a warning in
every Dask worker and every process would be noise. Losses with no kernel at all
(``derivatives="finite_difference"``, :class:`MultiLabelFocalLoss`) always use the numpy formulas;
that is their design, not a fallback, and is not logged. The kernels, and numba with them, are
imported on first use, so that ``import focalboost`` stays light (numba is a required dependency:
there is no import fallback).
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.special import expit, log_expit, logsumexp

from ._base import BinaryLossBase, MulticlassLossBase
from ._validation import (
    DERIVATIVE_CHOICES,
    HESSIAN_CHOICES,
    as_indicator,
    as_raw,
    as_weights,
    check_binary_alpha,
    check_choice,
    check_class_alpha,
    check_gamma,
    check_label_alpha,
    check_matrix,
    check_n_classes,
    check_n_columns,
    check_n_labels,
    margin_array,
)
from .finite_difference import MIN_HESSIAN, binary_derivatives, multiclass_derivatives
from .posterior import (
    binary_optimal_margin,
    binary_posterior,
    multiclass_optimal_margin,
    multiclass_posterior,
)


_logger = logging.getLogger("focalboost")
#: the largest float64 (multiclass log-odds saturate there, see _huge_parts)
FLOAT64_MAX = float(np.finfo(np.float64).max)
#: l = -log q above which q = exp(-l) is 0 in float64 (745.2): the exact hessian's -gamma r l is
#: evaluated with l capped here so that it cannot overflow (same constant as the kernels')
ELL_CAP = 1000.0
_logged_fallbacks = set()


class _Kernel:
    """A kernel of :mod:`focalboost._kernels` as a class attribute, imported (with numba) on first
    use: ``cls._kernel`` and ``loss._kernel`` are the function itself."""

    def __init__(self, name):
        self.name = name

    def __get__(self, obj, objtype=None):
        from . import _kernels

        return getattr(_kernels, self.name)


def _log_fallback(reason):
    """Say once per process and reason that a valid input takes the numpy path (see the module
    docstring)."""
    if reason not in _logged_fallbacks:
        _logged_fallbacks.add(reason)
        _logger.info(
            "the fused kernels do not take %s: the numpy formulas compute it instead (slower); "
            "pass float32 or float64 arrays (native byte order) to use the kernels",
            reason,
        )


def _focal_factor(log_r, gamma):
    """r^gamma computed as exp(gamma log r); exactly 1 when gamma == 0."""
    if gamma == 0.0:
        return np.ones_like(log_r)
    with np.errstate(over="ignore"):  # gamma log r = -inf at |u| ~ 1e308: r^gamma = 0, rightly
        return np.exp(gamma * log_r)


def signed_focal_terms(u, gamma, exact_hessian):
    """Unweighted focal loss, d/du and d2/du2 as functions of the signed margin u = log-odds of p_t.

    This is the one place the binary formulas live; the binary, multiclass (true-class part) and
    multi-label losses all call it.

    Parameters
    ----------
    u : ndarray of float64
        Signed margins ``(2y - 1) x``: the log-odds of the true class.
    gamma : float
        Focusing parameter.
    exact_hessian : bool
        True: the exact second derivative; False: the positive one (its negative term dropped).

    Returns
    -------
    loss, grad_u, hess : ndarray
        Shaped like ``u``, unweighted.
    """
    q = expit(u)
    r = expit(-u)
    ell = -log_expit(u)
    r_gamma = _focal_factor(log_expit(-u), gamma)
    loss = r_gamma * ell
    grad = -r_gamma * (gamma * q * ell + r)
    bracket = gamma * gamma * q * ell + (2.0 * gamma + 1.0) * r
    if exact_hessian:
        # l capped where q = exp(-l) is 0 anyway: gamma r l could overflow at |u| ~ 1e308 (0 * inf)
        bracket = bracket - gamma * r * np.minimum(ell, ELL_CAP)
    hess = q * r_gamma * bracket
    return loss, grad, hess


def _one_minus_shares(s, log_s, rows):
    """1 - s_j for shares s (rows sum to 1), without cancellation.

    -expm1(log s_j) is accurate while s_j <= 1/2. At most one share per row is larger; for it,
    1 - s_j is the sum of the other shares, summed directly (log s_j itself carries an absolute
    rounding error of eps * |z| from the logsumexp, which 1 - s_j = -expm1(log s_j) would
    magnify when s_j is close to 1).
    """
    one_minus = -np.expm1(log_s)
    top = np.argmax(s, axis=1)
    dominant = s[rows, top] > 0.5
    if np.any(dominant):
        masked = s[dominant].copy()
        masked[np.arange(masked.shape[0]), top[dominant]] = 0.0
        one_minus[rows[dominant], top[dominant]] = masked.sum(axis=1)
    return one_minus


#: rows whose other classes' largest |margin| exceeds this take :func:`_huge_parts` (a booster's
#: margins never come near it; below it the formulas are unchanged, bit for bit)
HUGE_MARGIN = 2.0**20


def _huge_parts(raw, others, y):
    """u and log s for rows of huge margins, as the kernels compute them: from m = the largest
    other margin and S = sum_j exp(z_j - m), u = (z_y - m) - log S and log s_j = (z_j - m) - log S.

    The general formulas go through lse_o = m + log S, which rounds log S away once |m| is large
    (3.4e38 + log 2 == 3.4e38: three equal margins of 3.4e38 gave the shares 1 and 1 instead of
    1/2 and 1/2), and z_y - lse_o overflows when the margins differ by more than the largest
    float (rows like [1e308, -1e308]); u saturates at +-FLOAT64_MAX there, like the kernels'.
    """
    rows = np.arange(raw.shape[0])
    m = np.max(others, axis=1)
    with np.errstate(over="ignore"):
        shifted = others - m[:, None]  # <= 0; -inf where it overflows, exp gives 0 there
        log_S = np.log(np.sum(np.exp(shifted), axis=1))
        u = (raw[rows, y] - m) - log_S
    return np.clip(u, -FLOAT64_MAX, FLOAT64_MAX), shifted - log_S[:, None]


class _FocalMixin:
    _takes_offset = True  # fast_gradient_hessian(..., offset=...)

    def _init_focal(self, gamma, hessian, derivatives):
        self.gamma = check_gamma(gamma)
        self.hessian = check_choice("hessian", hessian, HESSIAN_CHOICES)
        self.derivatives = check_choice("derivatives", derivatives, DERIVATIVE_CHOICES)

    def _repr_params(self):
        return {
            "gamma": self.gamma,
            "alpha": self.alpha,
            "hessian": self.hessian,
            "derivatives": self.derivatives,
        }

    def fast_gradient_hessian(self, y_true, raw_prediction, sample_weight=None, out=None, *,
                              offset=None):
        """The fused kernel of the closed forms (writing into ``out`` if given), or None: for
        ``derivatives="finite_difference"``, for losses without a kernel and for inputs of a dtype
        the kernels do not take (logged once, see the module docstring). Invalid input raises
        the canonical error of :mod:`focalboost._validation`.

        ``offset`` (None, a float for binary, (K,) for multiclass) is added to every row's
        margins inside the kernel: the derivatives at ``raw_prediction + offset`` with no array
        of that sum (``FocalLGBMClassifier`` trains from 0 and adds its init score here, see
        :func:`focalboost._adapter.library_gradient_hessian`)."""
        if self.derivatives != "closed_form":
            return None
        exact = self.hessian == "exact"
        kw = {} if offset is None else {"offset": offset}
        return self._try_kernel(self._kernel, y_true, raw_prediction, exact, sample_weight, out, **kw)

    def _fast_loss(self, y_true, raw_prediction, sample_weight):
        """The fused loss kernel (whatever ``derivatives`` says: the loss is the same), or None."""
        return self._try_kernel(self._loss_kernel, y_true, raw_prediction, sample_weight)

    def _try_kernel(self, kernel, y_true, raw_prediction, *args, **kwargs):
        """``kernel``'s result; None only where the loss has no kernel or the kernel does not
        take the input's dtype (a named reason, logged once). Errors propagate."""
        if kernel is None:
            return None
        from . import _kernels  # imported on first use (see the module docstring); then a look-up

        # the kernels take the number of classes from the margins: the loss's own is checked here
        raw = margin_array(raw_prediction, self.raw_ndim, self.n_classes)
        try:
            return kernel(y_true, raw, self.gamma, self.alpha, *args, **kwargs)
        except _kernels.KernelDoesNotTake as exc:
            _log_fallback(exc.reason)
            return None

    def _finite_difference(self, derivatives, y, raw):
        grad, hess = derivatives(self._loss, y, raw)
        if self.hessian == "positive":
            hess = np.maximum(hess, MIN_HESSIAN)
        return grad, hess


class BinaryFocalLoss(_FocalMixin, BinaryLossBase):
    """Binary focal loss L = -alpha_t (1 - p_t)^gamma log p_t on margins x, p = sigmoid(x).

    Parameters
    ----------
    gamma : float >= 0, default 2.0
        Focusing parameter; 0 gives (alpha-weighted) log loss.
    alpha : None or float in (0, 1), default None
        Weight of class 1 (class 0 gets 1 - alpha). None means no class weighting.
    hessian : {"positive", "exact"}, default "positive"
        "exact" is the true second derivative, negative for confidently wrong rows. "positive"
        drops its one negative term (see the module docstring and :doc:`/user_guide/hessian_policy`); with
        ``derivatives="finite_difference"`` it clips the numerical hessian at ``MIN_HESSIAN``.
    derivatives : {"closed_form", "finite_difference"}, default "closed_form"
        Where gradient and hessian come from. Finite differences exist to check the closed forms.
    """

    _kernel = _Kernel("binary_gradient_hessian")
    _loss_kernel = _Kernel("binary_loss")

    def __init__(self, gamma=2.0, alpha=None, hessian="positive", derivatives="closed_form"):
        self._init_focal(gamma, hessian, derivatives)
        self.alpha = check_binary_alpha(alpha)

    def _alpha_t(self, y):
        """alpha for y = 1, 1 - alpha for y = 0 (alpha may be a per-column vector), or None."""
        if self.alpha is None:
            return None
        return np.where(y == 1, self.alpha, 1.0 - self.alpha)

    def _loss(self, y, raw):
        u = np.where(y == 1, raw, -raw)
        loss = signed_focal_terms(u, self.gamma, exact_hessian=True)[0]
        a = self._alpha_t(y)
        return loss if a is None else a * loss

    def init_score(self, y_true, sample_weight=None):
        """The best constant margin: the focal optimum for the (weighted) class-1 prior.

        A constant prediction is the population optimum for the posterior eta = prior, so this is
        :meth:`optimal_margin` of the prior (a safeguarded Newton solve to machine precision).

        Parameters
        ----------
        y_true : array-like of shape (n,)
            Labels in {0, 1}.
        sample_weight : None or array-like of shape (n,), default None
            Row weights; the class weight totals are what count.

        Returns
        -------
        float
        """
        totals = self._class_weight_totals(y_true, sample_weight)
        return float(self.optimal_margin(np.array([totals / totals.sum()]))[0])

    def posterior(self, raw_prediction):
        """Class-posterior estimate, shape (n, 2), from margins: ``predict_proba`` with the focal
        (gamma) and class-weight (alpha) distortion undone. See :mod:`focalboost.posterior`.

        Parameters
        ----------
        raw_prediction : array-like of shape (n,)
            Margins.

        Returns
        -------
        ndarray of shape (n, 2)
        """
        return binary_posterior(raw_prediction, gamma=self.gamma, alpha=self.alpha)

    def optimal_margin(self, posterior):
        """The margin (n,) this loss converges to where P(y = 1 | x) = ``posterior``: the inverse
        of :meth:`posterior`.

        Parameters
        ----------
        posterior : array-like of shape (n,) or (n, 2)
            P(y = 1 | x), or both columns; entries in (0, 1).

        Returns
        -------
        ndarray of shape (n,)
        """
        return binary_optimal_margin(posterior, gamma=self.gamma, alpha=self.alpha)

    def _gradient_hessian(self, y, raw):
        if self.derivatives == "finite_difference":
            return self._finite_difference(binary_derivatives, y, raw)
        sign = np.where(y == 1, 1.0, -1.0)
        _, grad_u, hess = signed_focal_terms(sign * raw, self.gamma, self.hessian == "exact")
        grad = sign * grad_u
        a = self._alpha_t(y)
        if a is not None:
            grad, hess = a * grad, a * hess
        return grad, hess


class MulticlassFocalLoss(_FocalMixin, MulticlassLossBase):
    """Softmax focal loss L = -alpha_y (1 - p_y)^gamma log p_y on margins Z (n, K), p = softmax(Z).

    Parameters
    ----------
    n_classes : int >= 2
    gamma : float >= 0, default 2.0
    alpha : None or array-like of n_classes positive floats, default None
        Per-class weights (alpha_y multiplies the loss of a row of class y).
    hessian : {"positive", "exact"}, default "positive"
        Diagonal hessian; see :class:`BinaryFocalLoss`.
    derivatives : {"closed_form", "finite_difference"}, default "closed_form"
    """

    _kernel = _Kernel("multiclass_gradient_hessian")
    _loss_kernel = _Kernel("multiclass_loss")

    def __init__(
        self, n_classes, gamma=2.0, alpha=None, hessian="positive", derivatives="closed_form"
    ):
        self.n_classes = check_n_classes(n_classes)
        self._init_focal(gamma, hessian, derivatives)
        self.alpha = check_class_alpha(alpha, self.n_classes)

    def _repr_params(self):
        return {"n_classes": self.n_classes, **super()._repr_params()}

    def _parts(self, y, raw):
        """u (true-class log-odds against the rest) and the others' log shares log s (n, K)."""
        rows = np.arange(raw.shape[0])
        others = raw.copy()
        others[rows, y] = -np.inf
        with np.errstate(over="ignore", invalid="ignore"):  # only in rows of huge margins (below)
            lse_o = logsumexp(others, axis=1)
            u = raw[rows, y] - lse_o
            log_s = others - lse_o[:, None]  # -inf at the true class
        huge = np.abs(np.max(others, axis=1)) > HUGE_MARGIN
        if np.any(huge):
            u[huge], log_s[huge] = _huge_parts(raw[huge], others[huge], y[huge])
        return rows, u, log_s

    def init_score(self, y_true, sample_weight=None):
        """The best constant margins (K,), centred: the focal optimum for the class prior.

        A constant prediction is the population optimum for the posterior eta = prior, so this is
        :meth:`optimal_margin` of the prior (Newton's method on the stationarity equations).

        Parameters
        ----------
        y_true : array-like of shape (n,)
            Class indices 0..K-1.
        sample_weight : None or array-like of shape (n,), default None
            Row weights; the class weight totals are what count.

        Returns
        -------
        ndarray of shape (K,)
        """
        totals = self._all_class_totals(y_true, sample_weight)
        return self.optimal_margin((totals / totals.sum())[None, :])[0]

    def posterior(self, raw_prediction, out=None):
        """Class-posterior estimate, shape (n, K), from margins: ``predict_proba`` with the focal
        (gamma) and class-weight (alpha) distortion undone. See :mod:`focalboost.posterior`.

        Parameters
        ----------
        raw_prediction : array-like of shape (n, K)
            Margins.
        out : ndarray of shape (n, K), optional
            Where to write the result (float64, C-contiguous); may be ``raw_prediction`` itself
            (see :func:`focalboost.posterior.multiclass_posterior`).

        Returns
        -------
        ndarray of shape (n, K)
        """
        # dtype and values as given: the posterior's kernel reads float32 margins without a copy
        raw = margin_array(raw_prediction, 2, self.n_classes)
        return multiclass_posterior(raw, gamma=self.gamma, alpha=self.alpha, out=out)

    def optimal_margin(self, posterior):
        """The margins (n, K), centred, this loss converges to where P(y | x) = ``posterior``:
        the inverse of :meth:`posterior`.

        Parameters
        ----------
        posterior : array-like of shape (n, K)
            Class probabilities; rows sum to 1, entries in (0, 1).

        Returns
        -------
        ndarray of shape (n, K)
        """
        if np.ndim(posterior) == 2:  # other shapes: multiclass_optimal_margin's own error
            check_n_columns(np.asarray(posterior), self.n_classes, "posterior", "one per class")
        return multiclass_optimal_margin(posterior, gamma=self.gamma, alpha=self.alpha)

    def _loss(self, y, raw):
        _, u, _ = self._parts(y, raw)
        loss = signed_focal_terms(u, self.gamma, exact_hessian=True)[0]
        with np.errstate(over="ignore"):  # ~1.8e308 (saturated u) times alpha > 1: +inf, as the kernel
            return loss if self.alpha is None else self.alpha[y] * loss

    def _gradient_hessian(self, y, raw):
        if self.derivatives == "finite_difference":
            return self._finite_difference(multiclass_derivatives, y, raw)
        gamma = self.gamma
        rows, u, log_s = self._parts(y, raw)
        _, grad_u, hess_u = signed_focal_terms(u, gamma, self.hessian == "exact")
        P, R = expit(u)[:, None], expit(-u)[:, None]
        ell = -log_expit(u)[:, None]
        R_gamma = _focal_factor(log_expit(-u), gamma)[:, None]
        s = np.exp(log_s)  # 0 at the true class
        one_minus_s = _one_minus_shares(s, log_s, rows)
        p = s * R
        ell_term = one_minus_s if self.hessian == "positive" else one_minus_s - s * R
        bracket = (
            gamma * gamma * P * P * s * ell
            + gamma * P * ell * ell_term
            + 2.0 * gamma * P * p
            + (P + R * one_minus_s) * R  # (1 - p_j) R with 1 - p_j = P + R (1 - s_j)
        )
        hess = R_gamma * s * bracket
        grad = -grad_u[:, None] * s  # G s_j with G = -dL/du
        grad[rows, y] = grad_u
        hess[rows, y] = hess_u
        if self.alpha is not None:
            a = self.alpha[y][:, None]
            grad, hess = a * grad, a * hess
        return grad, hess


class MultiLabelFocalLoss(BinaryFocalLoss):
    """Multi-label focal loss: one sigmoid focal loss per label, on margins X (n, L), y in {0, 1}^(n, L).

    Each element is the binary focal loss of its own margin, so the per-element gradient and
    hessian are exactly :class:`BinaryFocalLoss`'s (the same code computes them); the loss of a
    row is their sum over labels, and :meth:`mean_loss` averages over rows and labels.

    Parameters
    ----------
    gamma : float >= 0, default 2.0
        Shared by all labels.
    alpha : None, float in (0, 1), or array of L floats in (0, 1), default None
        Weight of the positive class of every label, or of each label.
    hessian, derivatives : as for :class:`BinaryFocalLoss`.
    """

    kind = "multilabel"
    _takes_offset = False  # its fast_gradient_hessian has no offset (not used with LightGBM)
    _kernel = None  # the binary kernel, called per element by fast_gradient_hessian
    _loss_kernel = None

    def __init__(self, gamma=2.0, alpha=None, hessian="positive", derivatives="closed_form"):
        self._init_focal(gamma, hessian, derivatives)
        self.alpha = check_label_alpha(alpha)

    @property
    def n_labels(self):
        """Number of labels fixed by a per-label alpha, else None (taken from the data)."""
        return None if self.alpha is None or np.ndim(self.alpha) == 0 else self.alpha.shape[0]

    def _check(self, y_true, raw_prediction, sample_weight):
        raw = as_raw(raw_prediction, 2)
        y = as_indicator(y_true, raw.shape)
        check_n_labels(raw, self.n_labels)
        return y, raw, as_weights(sample_weight, raw.shape[0])

    def fast_gradient_hessian(self, y_true, raw_prediction, sample_weight=None, out=None):
        """Each element's binary focal gradient and hessian from the fused binary kernel (writing
        into ``out``, a pair of (n, L) arrays, if given), or None (``derivatives=
        "finite_difference"``, or a dtype the kernel does not take: logged once).

        The input is checked as :meth:`gradient_hessian` checks it. With one alpha for all labels
        (or none) and C-ordered arrays, one kernel call runs over the n x L elements (row weights
        repeated per label); with a per-label alpha, one call per label column.

        Parameters
        ----------
        y_true : array-like of shape (n, L) or (n * L,)
            0/1 indicators.
        raw_prediction : array-like of shape (n, L)
            Margins.
        sample_weight : None or array-like of shape (n,), default None
            Row weights.
        out : None or a pair of (n, L) arrays, default None
            Where to write the gradient and hessian.

        Returns
        -------
        (grad, hess) or None
            Arrays of shape (n, L), or None where the kernel does not apply.
        """
        if self.derivatives != "closed_form":
            return None
        from . import _kernels

        exact = self.hessian == "exact"
        flat = self._flat_kernel(_kernels, y_true, raw_prediction, sample_weight, exact, out)
        if flat is not None:
            return flat
        y, raw, w = self._check(y_true, raw_prediction, sample_weight)
        flat = self._flat_kernel(_kernels, y, raw, w, exact, out)  # the checked arrays
        if flat is not None:
            return flat
        n, L = raw.shape
        grad, hess = out if out is not None else (np.empty((n, L)), np.empty((n, L)))
        try:
            alphas = np.broadcast_to(np.nan if self.alpha is None else self.alpha, L)
            for label in range(L):
                g, h = _kernels.binary_gradient_hessian(
                    np.ascontiguousarray(y[:, label]), np.ascontiguousarray(raw[:, label]),
                    self.gamma, None if self.alpha is None else float(alphas[label]), exact, w,
                    out=(np.empty(n, grad.dtype), np.empty(n, hess.dtype)),
                )
                grad[:, label], hess[:, label] = g, h
        except _kernels.KernelDoesNotTake as exc:
            _log_fallback(exc.reason)
            return None
        return grad, hess

    def _flat_kernel(self, _kernels, y_true, raw_prediction, sample_weight, exact, out):
        """The common case without a copy or a second pass: one alpha (or none), C-ordered
        (n, L) margins as the library passes them (float32 or float64), labels of the same size,
        row weights: one binary kernel call over the n x L elements, which checks the values in
        the same pass; invalid input then raises :meth:`_check`'s multi-label error. None where
        this case does not apply."""
        raw = raw_prediction
        if not (isinstance(raw, np.ndarray) and raw.ndim == 2 and raw.flags.c_contiguous
                and raw.dtype in (np.float32, np.float64) and np.ndim(self.alpha) == 0):
            return None
        y = np.asarray(y_true)
        n, L = raw.shape
        if y.size != n * L or not y.flags.c_contiguous or y.shape not in ((n, L), (n * L,)):
            return None
        if self.n_labels is not None and self.n_labels != L:
            return None
        weights = None
        if sample_weight is not None and np.size(sample_weight) > 0:
            if np.ndim(sample_weight) != 1 or np.shape(sample_weight)[0] != n:
                return None
            weights = np.repeat(np.asarray(sample_weight), L)
        grad, hess = out if out is not None else (np.empty((n, L)), np.empty((n, L)))
        if not (grad.flags.c_contiguous and hess.flags.c_contiguous):
            return None
        try:
            _kernels.binary_gradient_hessian(y.reshape(-1), raw.reshape(-1), self.gamma,
                                             self.alpha, exact, weights,
                                             out=(grad.reshape(-1), hess.reshape(-1)))
        except _kernels.KernelDoesNotTake:
            return None  # the checked path below says why
        except ValueError:
            self._check(y_true, raw_prediction, sample_weight)  # the multi-label message
            raise
        return grad, hess

    def predict_proba(self, raw_prediction):
        """The sigmoid of each label's margin, shape (n, L): the model's raw output
        (``probability="focal"``), not the posterior of each label (:meth:`posterior`).

        Parameters
        ----------
        raw_prediction : array-like of shape (n, L)
            Margins.

        Returns
        -------
        ndarray of shape (n, L)
        """
        return expit(as_raw(raw_prediction, 2))

    def _per_label(self, values, function):
        alphas = np.broadcast_to(np.nan if self.alpha is None else self.alpha, values.shape[1])
        columns = [
            function(values[:, label], gamma=self.gamma, alpha=None if self.alpha is None else alphas[label])
            for label in range(values.shape[1])
        ]
        return columns

    def posterior(self, raw_prediction):
        """Per-label class-posterior estimates P(y_l = 1 | x), shape (n, L): the binary correction
        of each label's margin with its own alpha.

        Parameters
        ----------
        raw_prediction : array-like of shape (n, L)
            Margins.

        Returns
        -------
        ndarray of shape (n, L)
        """
        raw = as_raw(raw_prediction, 2)
        return np.column_stack([c[:, 1] for c in self._per_label(raw, binary_posterior)])

    def optimal_margin(self, posterior):
        """Per-label inverse of :meth:`posterior`: margins (n, L).

        Parameters
        ----------
        posterior : array-like of shape (n, L)
            P(y_l = 1 | x) of each label, entries in (0, 1).

        Returns
        -------
        ndarray of shape (n, L)
        """
        eta = check_matrix(np.asarray(posterior, dtype=np.float64), "posterior")
        return np.column_stack(self._per_label(eta, binary_optimal_margin))

    def init_score(self, y_true, sample_weight=None):
        """Best constant margin of each label, shape (L,): the binary init score per column.

        Parameters
        ----------
        y_true : array-like of shape (n, L)
            0/1 indicator matrix.
        sample_weight : None or array-like of shape (n,), default None
            Row weights; the class weight totals are what count.

        Returns
        -------
        ndarray of shape (L,)
        """
        y = np.asarray(y_true)
        y = as_indicator(y, y.shape if y.ndim == 2 else (len(y), -1))
        alphas = np.broadcast_to(self.alpha if self.alpha is not None else np.nan, y.shape[1])
        scores = []
        for label in range(y.shape[1]):
            alpha = None if self.alpha is None else float(alphas[label])
            column = BinaryFocalLoss(self.gamma, alpha, self.hessian, self.derivatives)
            try:
                scores.append(column.init_score(y[:, label], sample_weight))
            except ValueError as exc:
                raise ValueError(f"label column {label}: {exc}") from None
        return np.array(scores)

