"""From a focal model's output to the class-posterior probability, and back.

A model trained with focal loss does not converge to the class posterior eta(x) = P(y | x): the
minimiser of the focal risk is a distorted version of it (Charoenphakdee, Vongkulbhisal,
Chairatanakul and Sugiyama, "On Focal Loss for Class-Posterior Probability Estimation: A
Theoretical Perspective", CVPR 2021, arXiv:2011.09172), and a class weight alpha shifts it further.
The distortion is known and invertible; this module undoes it.

Derivation
----------
Write l(p) = -(1 - p)^gamma log p for the focal loss of the probability p given to the true class,
and psi(p) = -l'(p) = (1 - p)^(gamma - 1) [(1 - p)/p - gamma log p] > 0.

Multiclass (softmax, class weights alpha_k; alpha = None means all 1). At a point x with posterior
eta, the conditional risk of a prediction p on the simplex is sum_k eta_k alpha_k l(p_k).
Stationarity with a Lagrange multiplier lambda for sum_k p_k = 1 gives
eta_k alpha_k l'(p_k) = lambda for every k; since l' < 0, lambda < 0 and

    eta_k = w_k / sum_j w_j,        w_k = 1 / (alpha_k psi(p_k)).

psi is strictly decreasing (l is strictly convex, see below), so the risk is strictly convex on the
simplex and the stationary point is its unique minimiser; it lies inside the simplex when every
eta_k > 0 (l(0) = +inf), and p -> eta is a bijection of the open simplex. Without alpha, w_k
increases with p_k: the correction keeps the order of the classes in a row, hence argmax decisions.

Binary (class 1 weight alpha, class 0 weight 1 - alpha; the case K = 2 with p_1 = p, p_0 = 1 - p):
with l1(p) = l(p) and l0(p) = l(1 - p), eta alpha l1'(p) + (1 - eta)(1 - alpha) l0'(p) = 0 gives

    eta = (1 - alpha) l0'(p) / ((1 - alpha) l0'(p) - alpha l1'(p)).

Stable form, from margins in log space. Let phi(y) = softplus(y) e^(-y), in (0, 1] (phi(-inf) = 1,
phi(+inf) = 0); u the log-odds of p (u = x for a binary margin x; for softmax margins z,
u_k = z_k - logsumexp_(j != k) z_j); F = phi(-u) = (-log p) p / (1 - p). Then
(1 - p)/p - gamma log p = e^(-u) (1 + gamma F), so psi(p) = exp(-g(u)) and

    log w = g(u) - log alpha,    g(u) = log p - gamma log(1 - p) - log1p(gamma F),

with log p = log_expit(u), log(1 - p) = log_expit(-u) (softmax: the log-softmax, and for a row's
largest class 1 - p_k summed from the other classes). eta = softmax(log w). For a binary margin,
log p - log(1 - p) = x exactly and

    logit(eta) = (1 + gamma) x + log1p(gamma phi(x)) - log1p(gamma phi(-x))
                 + log((1 - alpha) / alpha).

Checks: gamma = 0 gives g(u) = log p, i.e. eta = p (alpha = None) and the prior-shift correction
eta_k proportional to p_k / alpha_k (binary: eta = (1 - alpha) p / ((1 - alpha) p + alpha (1 - p))).
For gamma > 0 the correction sharpens, logit(eta) ~ (1 + gamma) x: focal outputs are
under-confident.

Monotonicity. With P = expit(u),

    g'(u) = [(1 - P) + gamma P (2 - F) + gamma^2 P F] / (1 + gamma F) > 0     (0 < F <= 1),

so psi is strictly decreasing in p (l is strictly convex), and the binary
logit(eta) = g(x) - g(-x) + const has derivative g'(x) + g'(-x) >= (1 + gamma^2) / (1 + gamma) > 0:
the binary correction is strictly increasing in x. Both log1p terms lie in [0, log(1 + gamma)], so
|logit(eta) - (1 + gamma) x - log((1 - alpha) / alpha)| < log(1 + gamma): a bracket for the inverse.

Functions
---------
* :func:`binary_posterior`, :func:`multiclass_posterior`: focal model output -> posterior estimate,
  from margins (``raw_prediction``, the accurate path) or from probabilities (``proba``).
* :func:`binary_optimal_margin`, :func:`multiclass_optimal_margin`: the inverse, posterior -> the
  margin a focal model converges to at the population optimum (its ``predict_proba`` is p*).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_expit, logsumexp

from ._validation import (
    as_probabilities,
    as_raw,
    check_binary_alpha,
    check_class_alpha,
    check_exactly_one,
    check_gamma,
    check_n_columns,
    check_proba_out,
)

__all__ = [
    "binary_posterior",
    "multiclass_posterior",
    "binary_optimal_margin",
    "multiclass_optimal_margin",
]

#: tolerance on the row sums of probabilities passed as ``proba`` or ``posterior``
ROW_SUM_TOLERANCE = 1e-4


# --- elementary functions ----------------------------------------------------------------------
def _phi(y):
    """phi(y) = softplus(y) exp(-y), in (0, 1]; phi(-inf) = 1 and phi(+inf) = 0 (limits)."""
    y = np.asarray(y, dtype=np.float64)
    out = np.empty_like(y)
    pos = y >= 0
    yp = y[pos]
    finite = np.isfinite(yp)
    vals = np.zeros_like(yp)  # phi(+inf) = 0
    vals[finite] = -log_expit(-yp[finite]) * np.exp(-yp[finite])
    out[pos] = vals
    t = np.exp(y[~pos])  # in [0, 1): log1p(t) / t, with the limit 1 where t underflows to 0
    safe = np.where(t > 0, t, 1.0)
    out[~pos] = np.where(t > 0, np.log1p(t) / safe, 1.0)
    return out


def _log1p_gamma_phi(y, gamma):
    if gamma == 0.0:
        return np.zeros_like(np.asarray(y, dtype=np.float64))
    return np.log1p(gamma * _phi(y))


def _g_prime(u, gamma):
    """d/du of g(u) = log p - gamma log(1 - p) - log1p(gamma phi(-u)); all terms positive."""
    P = expit(u)
    F = _phi(-u)
    return ((1.0 - P) + gamma * P * (2.0 - F) + gamma * gamma * P * F) / (1.0 + gamma * F)


def _binary_log_odds(x, gamma, alpha):
    """logit(eta) for margins x (may be +-inf, which give +-inf; so does (1 + gamma) x beyond the
    largest float, where eta is 0 or 1 to the last digit)."""
    with np.errstate(over="ignore"):
        t = (1.0 + gamma) * x + _log1p_gamma_phi(x, gamma) - _log1p_gamma_phi(-x, gamma)
    if alpha is not None:
        t = t + (np.log1p(-alpha) - np.log(alpha))
    return t


def _binary_log_odds_prime(x, gamma):
    return _g_prime(x, gamma) + _g_prime(-x, gamma)


def _two_columns(t):
    """(n, 2) probabilities [1 - expit(t), expit(t)], each computed without cancellation."""
    return np.column_stack([expit(-t), expit(t)])


def _log_p_and_log_one_minus_p(z):
    """log softmax(z) and log(1 - softmax(z)) per entry, without cancellation.

    ``z`` may hold -inf (a class of probability 0) but every row needs a finite entry. For all
    classes but the row's largest, log(1 - p_k) = log1p(-p_k) with p_k <= 1/2; for the largest it is
    the log of the other classes' total, summed directly.
    """
    n, K = z.shape
    rows = np.arange(n)
    with np.errstate(over="ignore"):  # only in rows of huge margins, recomputed below
        lse = logsumexp(z, axis=1)
        log_p = z - lse[:, None]
    top = np.argmax(z, axis=1)
    huge = np.abs(z[rows, top]) > HUGE_MARGIN
    if np.any(huge):
        log_p[huge] = _huge_log_p(z[huge])
    with np.errstate(divide="ignore"):
        log_q = np.log1p(-np.exp(log_p))
    others = z.copy()
    others[rows, top] = -np.inf
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        log_q[rows, top] = logsumexp(others, axis=1) - lse
    if np.any(huge):
        log_q[rows[huge], top[huge]] = _huge_log_rest(z[huge], top[huge])
    return log_p, log_q


#: rows whose largest |margin| exceeds this take _huge_log_p (a booster's margins never come near
#: it; below it the formulas are unchanged, bit for bit)
HUGE_MARGIN = 2.0**20
FLOAT64_MAX = float(np.finfo(np.float64).max)


def _huge_log_p(z):
    """log softmax(z) as (z - m) - log S (m the row's largest margin, S = sum exp(z - m)) for rows
    of huge margins: z - logsumexp(z) rounds log S away there (two margins of 2^1023 gave
    log p = 0 each) and overflows where margins differ by more than the largest float."""
    with np.errstate(over="ignore"):
        shifted = z - np.max(z, axis=1, keepdims=True)  # <= 0, -inf where it overflows
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def _huge_log_rest(z, top):
    """log(1 - p_top) = log(sum of the others' exp(z_j - m)) - log S, for the rows of
    :func:`_huge_log_p` (-inf where the others' shares underflow: the row is one-hot)."""
    rows = np.arange(z.shape[0])
    with np.errstate(over="ignore", divide="ignore"):
        shifted = z - z[rows, top][:, None]
        log_S = np.log(np.sum(np.exp(shifted), axis=1))
        shifted[rows, top] = -np.inf
        return np.log(np.sum(np.exp(shifted), axis=1)) - log_S


def _log_weights(log_p, log_q, gamma, log_alpha):
    """log w_k = g(u_k) - log alpha_k with u_k = log p_k - log(1 - p_k) (unnormalised)."""
    with np.errstate(invalid="ignore"):
        u = log_p - log_q  # -inf for p_k = 0; +inf only in a one-hot row (handled by the caller)
    a = log_p
    if gamma != 0.0:
        a = log_p - gamma * log_q - np.log1p(gamma * _phi(-u))
    if log_alpha is not None:
        a = a - log_alpha
    return a


# --- validation (the checks live in focalboost._validation) ------------------------------------
def _check_probabilities(value, name, binary, positive=False):
    return as_probabilities(value, name, binary, positive, ROW_SUM_TOLERANCE)


# --- focal output -> posterior -----------------------------------------------------------------
def _kernel_posterior(name, raw_prediction, gamma, alpha, out=None):
    """The fused kernel of the same formulas (:mod:`focalboost._kernels`): margins read as they
    are (float32 from the boosters), the output written once (into ``out``, multiclass), no
    temporaries. None where the numpy formulas below take over: margins of a dtype the kernels
    do not take. Multiclass: ``(out, rows)``, ``rows`` the rows of huge margins (beyond
    ``HUGE_MARGIN``) or one-hot rows (other shares underflowing), left unwritten for the numpy
    formulas. Invalid margins raise the same errors either way."""
    from . import _kernels  # imported on first use, as in focalboost.losses

    try:
        if name == "binary_posterior":
            return _kernels.binary_posterior(raw_prediction, gamma, alpha)
        return _kernels.multiclass_posterior(raw_prediction, gamma, alpha, huge=HUGE_MARGIN, out=out)
    except _kernels.KernelDoesNotTake:
        return None


def binary_posterior(raw_prediction=None, *, proba=None, gamma, alpha=None):
    """Class-posterior estimate from the output of a binary focal model.

    Parameters
    ----------
    raw_prediction : array-like of shape (n,), optional
        Margins x (p = sigmoid(x)). The accurate path: finite margins of any size, +-1e4 included.
    proba : array-like of shape (n,) or (n, 2), optional
        The focal model's probabilities instead: (n,) probabilities of class 1 or (n, 2) as returned
        by ``predict_proba`` (then x = log p_1 - log p_0 uses both columns). Values 0 and 1 are
        accepted (they map to 0 and 1). Float32 probabilities near 0 or 1 have lost digits that
        margins keep. Exactly one of ``raw_prediction`` and ``proba`` must be given.
    gamma : float >= 0
        The focal loss's gamma the model was trained with.
    alpha : None or float in (0, 1), default None
        The weight of class 1 the model was trained with (class 0 had 1 - alpha); None for none.

    Returns
    -------
    ndarray of shape (n, 2)
        Estimated P(y = 0 | x) and P(y = 1 | x), like ``BinaryFocalLoss.predict_proba``. Computed as
        [expit(-t), expit(t)] with t = logit(eta) = (1 + gamma) x + log1p(gamma phi(x))
        - log1p(gamma phi(-x)) + log((1 - alpha) / alpha) (see the module docstring).
    """
    check_exactly_one(raw_prediction, proba)
    gamma = check_gamma(gamma)
    alpha = check_binary_alpha(alpha)
    if raw_prediction is not None:
        fast = _kernel_posterior("binary_posterior", raw_prediction, gamma, alpha)
        if fast is not None:
            return fast
        x = as_raw(raw_prediction, 1)
    else:
        p = _check_probabilities(proba, "proba", binary=True)
        with np.errstate(divide="ignore"):
            if p.ndim == 2:
                x = np.log(p[:, 1]) - np.log(p[:, 0])
            else:
                x = np.log(p) - np.log1p(-p)
    return _two_columns(_binary_log_odds(x, gamma, alpha))


def multiclass_posterior(raw_prediction=None, *, proba=None, gamma, alpha=None, out=None):
    """Class-posterior estimate from the output of a softmax focal model.

    Parameters
    ----------
    raw_prediction : array-like of shape (n, K), optional
        Margins z (p = softmax(z)), the accurate path: finite margins of any size.
    proba : array-like of shape (n, K), optional
        The focal model's probabilities instead (rows summing to 1; they are renormalised).
        Zeros are accepted (they stay 0; a one-hot row stays one-hot). Exactly one of
        ``raw_prediction`` and ``proba`` must be given.
    gamma : float >= 0
        The focal loss's gamma the model was trained with.
    alpha : None or array-like of K positive floats, default None
        The per-class weights the model was trained with; None for none.
    out : ndarray of shape (n, K), optional
        Where to write the result (float64, C-contiguous, writeable), as numpy's ``out``. It
        may be ``raw_prediction`` itself, a float64 array you no longer need: the margins are
        then overwritten by the probabilities and no (n, K) array is allocated.

    Returns
    -------
    ndarray of shape (n, K)
        Estimated P(y = k | x) (in ``out`` if given): eta_k proportional to
        1 / (alpha_k psi(p_k)), computed as a softmax of log-weights (see the module
        docstring). Rows sum to 1.
    """
    check_exactly_one(raw_prediction, proba)
    gamma = check_gamma(gamma)
    if raw_prediction is not None:
        fast = _kernel_posterior("multiclass_posterior", raw_prediction, gamma, alpha, out)
        if fast is not None:
            eta, rows = fast
            if rows.size:  # untouched by the kernel, so raw_prediction's rows even when out is it
                eta[rows] = _multiclass_from_log_p(np.asarray(raw_prediction)[rows], gamma, alpha)
            return eta
        z = check_n_columns(as_raw(raw_prediction, 2))
    else:
        p = _check_probabilities(proba, "proba", binary=False)
        with np.errstate(divide="ignore"):
            z = np.log(p)
    eta = _multiclass_from_log_p(z, gamma, alpha)
    if out is None:
        return eta
    check_proba_out(out, eta.shape)[...] = eta
    return out


def _multiclass_from_log_p(z, gamma, alpha):
    """The numpy formulas of :func:`multiclass_posterior` from margins or log-probabilities ``z``
    (n, K): every row, huge margins and one-hot rows included."""
    z = np.asarray(z, dtype=np.float64)
    K = z.shape[1]
    alpha = check_class_alpha(alpha, K)
    log_alpha = None if alpha is None else np.log(alpha)
    log_p, log_q = _log_p_and_log_one_minus_p(z)
    one_hot = np.isneginf(log_q).any(axis=1)  # only from proba with a single positive entry
    if np.any(one_hot):
        log_q = np.where(one_hot[:, None], 0.0, log_q)
    # -gamma log(1 - p) overflows for rows of huge margins (1 - p ~ exp(-1e308)): such a class's
    # weight dominates the row, which a log-weight saturated at the largest float keeps (and the
    # differences of saturated log-weights overflow to -inf, whose exp is rightly 0)
    with np.errstate(over="ignore"):
        a = np.clip(_log_weights(log_p, log_q, gamma, log_alpha), -FLOAT64_MAX, FLOAT64_MAX)
        eta = np.exp(a - logsumexp(a, axis=1, keepdims=True))
    eta /= eta.sum(axis=1, keepdims=True)  # rows sum to 1 within an ulp or two
    if np.any(one_hot):
        eta[one_hot] = (log_p[one_hot] == 0.0).astype(np.float64)
    return eta


# --- posterior -> focal optimum ------------------------------------------------------------------
def binary_optimal_margin(posterior, *, gamma, alpha=None):
    """The margin a binary focal model converges to when the class-1 posterior is ``posterior``.

    The inverse of :func:`binary_posterior`: ``binary_posterior(binary_optimal_margin(eta, ...),
    ...)[:, 1] == eta``. Its sigmoid p* minimises eta alpha l1(p) + (1 - eta)(1 - alpha) l0(p).

    Parameters
    ----------
    posterior : array-like of shape (n,) or (n, 2)
        P(y = 1 | x) in the open interval (0, 1), or (n, 2) posteriors of classes 0 and 1 (then both
        columns are used, which keeps the digits of a posterior close to 1).
    gamma : float >= 0
    alpha : None or float in (0, 1), default None

    Returns
    -------
    ndarray of shape (n,)
        Margins x*, the root of logit(eta) = (1 + gamma) x + log1p(gamma phi(x))
        - log1p(gamma phi(-x)) + log((1 - alpha)/alpha), found by Newton iterations safeguarded by
        the bracket (1 + gamma) x in [c - log(1 + gamma), c + log(1 + gamma)],
        c = logit(eta) - log((1 - alpha)/alpha) (see the module docstring).
    """
    gamma = check_gamma(gamma)
    alpha = check_binary_alpha(alpha)
    eta = _check_probabilities(posterior, "posterior", binary=True, positive=True)
    if eta.ndim == 2:
        target = np.log(eta[:, 1]) - np.log(eta[:, 0])
    else:
        target = np.log(eta) - np.log1p(-eta)
    c = target if alpha is None else target - (np.log1p(-alpha) - np.log(alpha))
    if gamma == 0.0:  # the prior-shift correction inverts in closed form
        return c
    width = np.log1p(gamma)
    lo, hi = (c - width) / (1.0 + gamma), (c + width) / (1.0 + gamma)
    x = c / (1.0 + gamma)
    f_lo = np.full_like(x, np.nan)  # residuals at the bracket ends, once evaluated
    f_hi = np.full_like(x, np.nan)
    eps = np.finfo(np.float64).eps
    for _ in range(100):  # Newton; a step that leaves the bracket is replaced by regula falsi
        residual = _binary_log_odds(x, gamma, alpha) - target
        below, above = residual < 0, residual > 0
        lo, f_lo = np.where(below, x, lo), np.where(below, residual, f_lo)
        hi, f_hi = np.where(above, x, hi), np.where(above, residual, f_hi)
        new = x - residual / _binary_log_odds_prime(x, gamma)
        with np.errstate(invalid="ignore"):
            secant = lo - f_lo * (hi - lo) / (f_hi - f_lo)
        fallback = np.where(np.isnan(f_lo) | np.isnan(f_hi), 0.5 * (lo + hi), secant)
        new = np.where((new >= lo) & (new <= hi), new, fallback)
        new = np.where(residual == 0, x, new)
        converged = np.all(np.abs(new - x) <= 4 * eps * np.maximum(1.0, np.abs(x)))
        x = new
        if converged:
            break
    return x


def multiclass_optimal_margin(posterior, *, gamma, alpha=None):
    """The margins a softmax focal model converges to when the class posterior is ``posterior``.

    The inverse of :func:`multiclass_posterior`: its softmax p* minimises
    sum_k eta_k alpha_k l(p_k).

    Parameters
    ----------
    posterior : array-like of shape (n, K)
        Class posteriors, every entry in the open interval (0, 1), rows summing to 1.
    gamma : float >= 0
    alpha : None or array-like of K positive floats, default None

    Returns
    -------
    ndarray of shape (n, K)
        Margins centred to mean 0 per row (like ``MulticlassFocalLoss.init_score``). For gamma = 0
        they are log(alpha_k eta_k) centred; otherwise Newton's method on the K - 1 equations
        log w_k(z) - log w_r(z) = log eta_k - log eta_r (r the row's most probable class, z_r = 0),
        with the analytic Jacobian and a backtracking line search.
    """
    gamma = check_gamma(gamma)
    eta = _check_probabilities(posterior, "posterior", binary=False, positive=True)
    n, K = eta.shape
    alpha = check_class_alpha(alpha, K)
    log_alpha = np.zeros(K) if alpha is None else np.log(alpha)
    log_eta = np.log(eta) - np.log(eta.sum(axis=1, keepdims=True))
    start = log_eta + log_alpha  # the gamma = 0 answer
    if gamma == 0.0:
        return start - start.mean(axis=1, keepdims=True)
    rows = np.arange(n)
    ref = np.argmax(log_eta, axis=1)
    target = log_eta - log_eta[rows, ref][:, None]

    def residual(z):
        log_p, log_q = _log_p_and_log_one_minus_p(z)
        a = _log_weights(log_p, log_q, gamma, log_alpha)
        r = a - a[rows, ref][:, None] - target
        r[rows, ref] = z[rows, ref]
        return r, log_p, log_q

    z = start / (1.0 + gamma)
    z = z - z[rows, ref][:, None]
    r, log_p, log_q = residual(z)
    eye = np.eye(K)
    eps = np.finfo(np.float64).eps
    active = np.ones(n, dtype=bool)
    for _ in range(100):
        active &= np.any(np.abs(r) > 4 * eps * (1.0 + np.abs(target)), axis=1)
        if not np.any(active):
            break
        # A[m, j] = d g(u_m) / d z_j = g'(u_m) (delta_mj - (1 - delta_mj) p_j / (1 - p_m))
        lp, lq = log_p[active], log_q[active]
        share = np.exp(lp[:, None, :] - lq[:, :, None])  # p_j / (1 - p_m) at [m, j]
        A = _g_prime(lp - lq, gamma)[:, :, None] * np.where(eye == 1, 1.0, -share)
        idx = np.arange(A.shape[0])
        ref_a = ref[active]
        J = A - A[idx, ref_a][:, None, :]
        J[idx, ref_a] = eye[ref_a]
        step = np.linalg.solve(J, r[active][:, :, None])[:, :, 0]
        norm = np.max(np.abs(r[active]), axis=1)
        z_act = z[active]
        t = np.ones(step.shape[0])
        accepted = np.zeros(step.shape[0], dtype=bool)
        for _ in range(30):  # backtracking: halve the step until the residual decreases
            full = z.copy()
            full[active] = z_act - t[:, None] * step
            better = np.max(np.abs(residual(full)[0][active]), axis=1) < norm
            accepted |= better
            if np.all(accepted):
                break
            t = np.where(accepted, t, 0.5 * t)
        z[active] = np.where(accepted[:, None], z_act - t[:, None] * step, z_act)
        # a row stops when no step decreases its residual (rounding level) or the step is negligible
        tiny = np.max(np.abs(step), axis=1) <= 4 * eps * (1.0 + np.max(np.abs(z_act), axis=1))
        stalled = ~accepted | tiny
        active[np.flatnonzero(active)[stalled]] = False
        r, log_p, log_q = residual(z)
    return z - z.mean(axis=1, keepdims=True)
