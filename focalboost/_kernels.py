"""Fused numba kernels for the focal loss: gradient, hessian and loss in one pass over the rows.

They compute the closed forms of :mod:`focalboost.losses` (``signed_focal_terms`` and
``MulticlassFocalLoss._gradient_hessian`` are the reference; tests/test_kernels.py holds them to
1e-13), but:

* in one pass with no temporaries: labels (any integer, bool or float dtype) and margins (float32
  or float64, C or Fortran order) are read as they are, without conversion; float64 gradient and
  hessian (or any preallocated ``out`` buffers, e.g. float32 for LightGBM) are written once;
* with one ``exp`` and one ``log1p`` per binary row: with t = exp(-|u|), log1p(t) gives
  softplus(-u) = -log q and log r = -softplus(u), and q, r = 1/(1+t), t/(1+t) (by the sign of u),
  from a single division shared with log1p. ``r**gamma`` is a product of squarings of r for an
  integer gamma in 0..15 (compiled separately) and exp(gamma log r) otherwise;
* vectorised: exp and log1p are branch-free polynomial versions written here (Cody-Waite reduction
  and a degree-13 Taylor polynomial for exp, in Estrin's form; fdlibm's kernel for log1p), within
  1 ulp of libm (tested). A call into libm cannot be vectorised; these compile to AVX2/AVX-512
  code. The only fast-math flag is ``contract`` (fused multiply-add): it changes no result by more
  than the rounding of one operation and makes the kernels 1.4x faster;
* the multiclass kernel copies blocks of 128 rows into a class-major scratch (32 KB per thread for
  K = 10) so that every step vectorises across rows rather than across a row's few classes;
* validating at no extra pass: the kernels flag invalid labels, non-finite margins and invalid
  weights as they go (or-ing booleans: adding up int64 counts made the binary row loop 1.5x
  slower), and the wrappers turn a flag into the canonical ``ValueError`` of
  :mod:`focalboost._validation` (the one the numpy formulas raise), counting the bad values for
  its message only then. Dtypes and shapes are checked before the pass, by the same functions.
  A valid input of a dtype the kernels do not take (float16 or long double margins or weights,
  non-native byte order) raises :class:`KernelDoesNotTake` instead, never a ``ValueError`` or
  ``TypeError``: the loss objects then use the numpy formulas and log why once.

Threads. The kernels are serial, GIL-free functions of a row range. The wrappers cut the rows into
chunks of ``CHUNK_MARGINS`` margins, which the calling thread and ``numba.get_num_threads() - 1``
threads of a small persistent pool take in turn (``numba.get_num_threads()`` is all cores by default;
``NUMBA_NUM_THREADS`` or ``numba.set_num_threads`` lower it). A helper that starts late, or finds its
core busy, takes fewer chunks and is never waited for; inside XGBoost this matters, because its
OpenMP threads spin-wait on the other cores for several milliseconds after each parallel region.
Inputs of fewer than ``MIN_MARGINS_PER_THREAD`` margins per thread run on the calling thread alone.
The pool is made once per process, on first use, and never resized or shut down, so concurrent calls
from several threads cannot race on it (they share it); a forked child makes its own. Inside XGBoost's hooks the binary kernel runs on XGBoost's
own OpenMP threads instead (:mod:`focalboost._openmp_team`, same chunks, same results). (A
``prange`` kernel would use numba's threading layer
instead; measured, it compiles three times slower, splits the rows in fixed shares, and GNU OpenMP,
that layer's default on Linux, is not fork safe.)

Compilation. Each kernel compiles on its first call for the argument types it meets (0.7 s
for a binary kernel, 2.5 s for a multiclass one, here) and is cached on disk (``cache=True``): in
``__pycache__`` next to this module if that is writable, else in numba's per-user cache directory
(``NUMBA_CACHE_DIR``, default ``~/.cache/numba``); a later process loads it in ~0.1 s. The cache is
keyed on this file's timestamp, the argument types and the CPU, so it is never stale. With no
writable cache directory, or ``FOCALBOOST_NUMBA_CACHE=0``, the kernels compile in memory in each
process instead.
"""

from __future__ import annotations

import math
import itertools
import os
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from . import _openmp_team
from ._validation import (
    check_binary_alpha,
    check_class_alpha,
    check_gamma,
    check_label_dtype,
    check_out,
    check_proba_out,
    label_error,
    label_vector,
    margin_array,
    non_finite_error,
    weight_error,
    weight_vector,
)

__all__ = [
    "KernelDoesNotTake",
    "binary_posterior",
    "multiclass_posterior",
    "binary_gradient_hessian",
    "multiclass_gradient_hessian",
    "binary_loss",
    "multiclass_loss",
    "MAX_INTEGER_GAMMA",
]

#: integer gammas up to this value use repeated squaring of r instead of exp(gamma log r)
MAX_INTEGER_GAMMA = 15
#: the largest float64; multiclass log-odds u saturate there (see _multiclass_block_in)
FLOAT64_MAX = float(np.finfo(np.float64).max)
#: l = -log q above which q = exp(-l) is exactly 0 in float64 (745.2): the exact hessian's
#: -gamma r l term is evaluated with l capped here, so that it cannot overflow (see _signed_terms)
ELL_CAP = 1000.0


def _want_cache():
    return os.environ.get("FOCALBOOST_NUMBA_CACHE", "1").strip().lower() not in ("0", "false", "no")


def _inline(func):
    """A helper inlined into the kernels at numba IR level, so the row loop stays vectorisable."""
    return numba.njit(inline="always", error_model="numpy", fastmath={"contract"})(func)


def _jit(func):
    """``numba.njit`` for a kernel: GIL-free, cached on disk when a cache directory is writable."""
    options = dict(nogil=True, error_model="numpy", fastmath={"contract"})
    if _want_cache():
        try:
            return numba.njit(cache=True, **options)(func)
        except RuntimeError as exc:  # "cannot cache function ...: no locator available"
            warnings.warn(
                f"focalboost: numba cannot cache its kernels ({exc}); they will be compiled in "
                "memory in each process",
                RuntimeWarning,
                stacklevel=2,
            )
    return numba.njit(cache=False, **options)(func)


# ---------------------------------------------------------------------------------------------
# Vectorisable exp and log1p
# ---------------------------------------------------------------------------------------------


@intrinsic
def _int64_bits_as_float64(typingctx, bits):
    """Reinterpret the 64 bits of an int64 as a float64 (a bitcast: no instruction in the end)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


_LN2_HI = 6.93147180369123816490e-01  # high bits of log(2): k * _LN2_HI is exact for |k| < 2^11
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11, _E12, _E13 = (
    1.0 / math.factorial(k) for k in range(2, 14)
)


@_inline
def _exp_nonpos(v):
    """exp(v) for v <= 0 (correct up to v ~ 700 too); 0 below -745.2; within 1 ulp of libm.

    v = k log 2 + r with |r| <= log(2)/2, exp(r) by its degree-13 Taylor polynomial (truncation
    < 1e-17), times 2**k applied in two halves so that subnormal results round once.
    """
    v = max(v, -746.0)
    k = math.floor(v * _INV_LN2 + 0.5)
    r = (v - k * _LN2_HI) - k * _LN2_LO
    # 1 + r + r^2 Q(r): Q of degree 11 by Estrin's scheme (a dependency chain of 5 steps instead
    # of Horner's 12, so the CPU overlaps more of them); its rounding is damped by r^2 < 0.121
    r2 = r * r
    r4 = r2 * r2
    q01 = _E2 + _E3 * r
    q23 = _E4 + _E5 * r
    q45 = _E6 + _E7 * r
    q67 = _E8 + _E9 * r
    q89 = _E10 + _E11 * r
    qab = _E12 + _E13 * r
    q03 = q01 + q23 * r2
    q47 = q45 + q67 * r2
    q8b = q89 + qab * r2
    q = q03 + r4 * (q47 + r4 * q8b)
    p = 1.0 + (r + r2 * q)
    ki = np.int64(k)
    k1 = ki >> 1
    k2 = ki - k1
    return (p * _int64_bits_as_float64((k1 + 1023) << 52)) * _int64_bits_as_float64((k2 + 1023) << 52)


_LG1 = 6.666666666666735130e-01  # fdlibm e_log.c
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_SQRT2_MINUS_1 = 0.41421356237309504880


@_inline
def _log1p_reduced(f, s, k):
    """log(2**k (1 + f)) for f in [sqrt(2)/2 - 1, sqrt(2) - 1], given s = f / (2 + f): fdlibm's
    minimax kernel (e_log.c), error < 1 ulp."""
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    hfsq = 0.5 * f * f
    return k * _LN2_HI - ((hfsq - (s * (hfsq + (t2 + t1)) + k * _LN2_LO)) - f)


@_inline
def _log1p_unit(t):
    """log1p(t) for 0 <= t <= 1, within 1 ulp of libm, branch-free.

    1 + t = 2**k (1 + f) with k in {0, 1} and f in [sqrt(2)/2 - 1, sqrt(2) - 1]; f is formed
    without rounding 1 + t (f = t, or (t - 1) / 2).
    """
    big = t > _SQRT2_MINUS_1
    f = (t - 1.0) * 0.5 if big else t
    return _log1p_reduced(f, f / (2.0 + f), 1.0 if big else 0.0)


@_inline
def _log1p_unit_and_inverse(t):
    """(log1p(t), 1 / (1 + t)) for 0 <= t <= 1 with one division: 1 / ((1 + t)(2 + f)) serves
    both 1 / (1 + t) and s = f / (2 + f) (divisions are the slowest vector instructions here)."""
    big = t > _SQRT2_MINUS_1
    f = (t - 1.0) * 0.5 if big else t
    one_t = 1.0 + t
    two_f = 2.0 + f
    inv = 1.0 / (one_t * two_f)
    return _log1p_reduced(f, f * (one_t * inv), 1.0 if big else 0.0), two_f * inv


@intrinsic
def _float64_bits_as_int64(typingctx, x):
    """Reinterpret the 64 bits of a float64 as an int64."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@_inline
def _log1p_nonneg(x):
    """log1p(x) for finite x >= 0, branch-free: _log1p_unit on [0, 1] (1 ulp); above, log of
    v = 1 + x split as 2**k (1 + f) by its bits (2 ulp: v is rounded, by < 1 ulp of the result)."""
    small = _log1p_unit(min(x, 1.0))
    v = 1.0 + max(x, 1.0)
    bits = _float64_bits_as_int64(v)
    k = (bits >> 52) - 1023
    mant = _int64_bits_as_float64((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)  # in [1, 2)
    big = mant > 1.4142135623730951
    mant = mant * 0.5 if big else mant
    kf = np.float64(k + 1 if big else k)
    f = mant - 1.0  # exact, in [sqrt(2)/2 - 1, sqrt(2) - 1]
    large = _log1p_reduced(f, f / (2.0 + f), kf)
    return small if x <= 1.0 else large


def _focal_power(r, log_r, gamma):
    """r ** gamma (numba only: specialised on the type of gamma)."""
    raise NotImplementedError


@overload(_focal_power, inline="always", jit_options=dict(error_model="numpy"))
def _focal_power_impl(r, log_r, gamma):
    if isinstance(gamma, types.Integer):
        # gamma in 0..15: r^gamma from r, r^2, r^4, r^8, selected by the bits of gamma (exactly 1
        # for gamma = 0, r for 1, r * r for 2, ...); branch-free, so the row loop vectorises.
        def impl(r, log_r, gamma):
            r2 = r * r
            r4 = r2 * r2
            p = r if gamma & 1 else 1.0
            p = p * r2 if gamma & 2 else p
            p = p * r4 if gamma & 4 else p
            p = p * (r4 * r4) if gamma & 8 else p
            return p

        return impl

    def impl(r, log_r, gamma):
        return _exp_nonpos(gamma * log_r)

    return impl


@_inline
def _signed_terms(u, gamma, exact):
    """Focal terms at the signed margin u (see losses.signed_focal_terms).

    Returns q = sigmoid(u), r = sigmoid(-u), l = softplus(-u) = -log q, r**gamma,
    G = -dL/du = r**gamma (gamma q l + r) and H = d2L/du2 (the "positive" hessian unless exact).
    """
    t = _exp_nonpos(-abs(u))
    log1p_t, d = _log1p_unit_and_inverse(t)
    td = t * d
    nonneg = u >= 0.0
    q = d if nonneg else td
    r = td if nonneg else d
    ell = log1p_t + max(-u, 0.0)
    log_r = -(log1p_t + max(u, 0.0))
    r_gamma = _focal_power(r, log_r, gamma)
    gql = gamma * q * ell
    G = r_gamma * (gql + r)
    bracket = gamma * gql + (2.0 * gamma + 1.0) * r
    if exact:
        # l capped at ELL_CAP: beyond it q = exp(-l) is exactly 0, so H is 0 either way, but
        # gamma r l could overflow to inf at |u| ~ 1e308 and 0 * inf would give NaN
        bracket = bracket - gamma * r * min(ell, ELL_CAP)
    H = q * r_gamma * bracket
    return q, r, ell, r_gamma, G, H


@_inline
def _signed_loss(u, gamma):
    t = _exp_nonpos(-abs(u))
    log1p_t, d = _log1p_unit_and_inverse(t)
    r = t * d if u >= 0.0 else d
    ell = log1p_t + max(-u, 0.0)
    log_r = -(log1p_t + max(u, 0.0))
    return _focal_power(r, log_r, gamma) * ell


def _rows(a, start, stop):
    """a[start:stop], or None for None (numba only: keeps the type of ``a`` free of unions)."""
    raise NotImplementedError


@overload(_rows, inline="always")
def _rows_impl(a, start, stop):
    if isinstance(a, types.NoneType):
        return lambda a, start, stop: None
    return lambda a, start, stop: a[start:stop]


# ---------------------------------------------------------------------------------------------
# Kernels. Each returns the flags (invalid labels, non-finite margins, invalid weights).
# ---------------------------------------------------------------------------------------------


@_jit
def _binary_grad_hess_kernel(y, raw, offset, gamma, alpha1, alpha0, exact, w, grad, hess, start, stop):
    # rows [start, stop) as views indexed from 0: an index LLVM cannot prove non-negative keeps
    # numba's negative-index wraparound in the loop, which then no longer vectorises (6x slower)
    y = y[start:stop]
    raw = raw[start:stop]
    grad = grad[start:stop]
    hess = hess[start:stop]
    w_rows = _rows(w, start, stop)  # a new name: numba prunes `if w is not None` on arguments only
    bad_y = False  # flags, not counts (see the module docstring)
    bad_x = False
    bad_w = False
    for i in range(raw.shape[0]):
        yi = y[i]
        x = np.float64(raw[i]) + offset  # FocalLGBMClassifier adds its init score here
        pos = yi == 1
        bad_y |= (yi != 1) & (yi != 0)
        bad_x |= not (x - x == 0.0)  # NaN or +-inf
        u = x if pos else -x
        q, r, ell, r_gamma, G, H = _signed_terms(u, gamma, exact)
        a = alpha1 if pos else alpha0
        g = a * G
        h = a * H
        if w is not None:  # the weight multiplies the finished values: w = k is k equal rows
            wi = np.float64(w_rows[i])
            bad_w |= not ((wi >= 0.0) & (wi - wi == 0.0))
            g = g * wi
            h = h * wi
        grad[i] = -g if pos else g
        hess[i] = h
    return bad_y, bad_x, bad_w


@_jit
def _binary_loss_kernel(y, raw, gamma, alpha1, alpha0, w, out, start, stop):
    y = y[start:stop]
    raw = raw[start:stop]
    out = out[start:stop]
    w_rows = _rows(w, start, stop)  # a new name: numba prunes `if w is not None` on arguments only
    bad_y = False  # flags, not counts (see the module docstring)
    bad_x = False
    bad_w = False
    for i in range(raw.shape[0]):
        yi = y[i]
        x = np.float64(raw[i])
        pos = yi == 1
        bad_y |= (yi != 1) & (yi != 0)
        bad_x |= not (x - x == 0.0)
        loss = (alpha1 if pos else alpha0) * _signed_loss(x if pos else -x, gamma)
        if w is not None:
            wi = np.float64(w_rows[i])
            bad_w |= not ((wi >= 0.0) & (wi - wi == 0.0))
            loss = loss * wi
        out[i] = loss
    return bad_y, bad_x, bad_w


#: rows per block in the multiclass kernels. Each thread copies a block of margins into a small
#: class-major scratch (K, _BLOCK) so that every step vectorises across rows: a row's K classes are
#: often too few to vectorise, and a gather or scatter in a loop keeps LLVM from vectorising it,
#: so index-dependent reads and writes get loops of their own.
_BLOCK = 128


@_inline
def _multiclass_block_in(y, raw, offset, i0, nb, K, alpha, w, w_step, Z, E, c_, jm_, m_, sm1_, a_, wt_,
                         ok_, u_):
    """Per block of rows [i0, i0 + nb):

    Z (K, B) <- the margins as float64, plus ``offset`` (K,); c <- class index (0 if invalid);
    ok <- label valid and margins finite; m, jm <- max and first argmax of the other classes' margins;
    E (K, B) <- e_j = exp(z_j - m), 0 at the true class; sm1 <- S - 1, the sum of e_j over the
    other classes but the argmax (whose e_j is exactly 1), so S = 1 + sm1 = sum of e_j;
    a <- alpha_c (0 for an invalid row); wt <- w, applied last; u <- z_c - lse_o with
    lse_o = m + log1p(S - 1).

    Returns the flags (invalid labels, non-finite margins, invalid weights).
    """
    bad_y = False
    bad_x = False
    bad_w = False
    if raw.strides[0] <= raw.strides[1]:  # Fortran order: read column by column
        for j in range(K):
            for b in range(nb):
                Z[j, b] = raw[i0 + b, j] + offset[j]
    else:
        for b in range(nb):
            for j in range(K):
                Z[j, b] = raw[i0 + b, j] + offset[j]
    for b in range(nb):
        yv = y[i0 + b]
        label_ok = (yv >= 0) & (yv < K)
        c = np.int64(yv) if label_ok else 0
        label_ok = label_ok & (c == yv)
        bad_y |= not label_ok
        c_[b] = c if label_ok else 0
        ok_[b] = label_ok
        m_[b] = -np.inf
        jm_[b] = 1 if c_[b] == 0 else 0
    for b in range(nb):
        wi = np.float64(w[(i0 + b) * w_step])
        bad_w |= not ((wi >= 0.0) & (wi - wi == 0.0))
        wt_[b] = wi  # applied to the finished values: weight k is k equal rows
        a_[b] = alpha[c_[b]]
    for j in range(K):  # max and first argmax of the other classes; finiteness
        for b in range(nb):
            z = Z[j, b]
            finite = z - z == 0.0
            bad_x |= not finite
            ok_[b] = ok_[b] & finite
            take = (z > m_[b]) & (j != c_[b])
            m_[b] = z if take else m_[b]
            jm_[b] = j if take else jm_[b]
    for b in range(nb):
        sm1_[b] = 0.0
        u_[b] = Z[c_[b], b]  # a gather: a loop of its own
    for j in range(K):
        for b in range(nb):
            e = _exp_nonpos(min(Z[j, b] - m_[b], 0.0))
            e = 0.0 if j == c_[b] else e
            E[j, b] = e
            sm1_[b] += 0.0 if j == jm_[b] else e
    for b in range(nb):
        u = (u_[b] - m_[b]) - _log1p_nonneg(sm1_[b])  # not z_c - lse_o: no rounding at |m|
        # z_c - m overflows when the margins differ by more than the largest float (rows like
        # [1e308, -1e308]): u saturates at +-FLOAT64_MAX instead, where every term is finite
        u_[b] = min(max(u, -FLOAT64_MAX), FLOAT64_MAX)
        a_[b] = a_[b] if ok_[b] else 0.0
    return bad_y, bad_x, bad_w


@_inline
def _multiclass_block_out(grad, hess, i0, nb, K, G, H):
    """grad[i0:i0+nb] <- G.T and hess[i0:i0+nb] <- H.T, in the order that suits their layout."""
    if grad.strides[0] <= grad.strides[1]:
        for j in range(K):
            for b in range(nb):
                grad[i0 + b, j] = G[j, b]
                hess[i0 + b, j] = H[j, b]
    else:
        for b in range(nb):
            for j in range(K):
                grad[i0 + b, j] = G[j, b]
                hess[i0 + b, j] = H[j, b]


@_inline
def _block_scratch(K):
    """The scratch _multiclass_block_in fills: class-major (K, _BLOCK) blocks Z and E, then per
    row of the block c_, jm_ (int64), ok_ (bool), m_, sm1_, a_, wt_, u_ (float64)."""
    B = _BLOCK
    return (
        np.empty((K, B)), np.empty((K, B)), np.empty(B, dtype=np.int64), np.empty(B, dtype=np.int64),
        np.empty(B, dtype=np.bool_), np.empty(B), np.empty(B), np.empty(B), np.empty(B), np.empty(B),
    )


@_jit
def _multiclass_grad_hess_kernel(y, raw, offset, gamma, alpha, exact, w, w_step, grad, hess, start, stop):
    y = y[start:stop]  # views indexed from 0, see _binary_grad_hess_kernel
    raw = raw[start:stop]
    grad = grad[start:stop]
    hess = hess[start:stop]
    w_rows = w[start:stop] if w_step else w  # w_step = 0: w is [1.0] (no weights)
    n, K = raw.shape
    B = _BLOCK
    bad_y = False
    bad_x = False
    bad_w = False
    # scratch per call (one call per thread): (2 K + 12) * _BLOCK numbers, 33 KB for K = 10
    Z, E, c_, jm_, ok_, m_, sm1_, a_, wt_, u_ = _block_scratch(K)
    P_ = np.empty(B)
    R_ = np.empty(B)
    gPl_ = np.empty(B)
    S_ = np.empty(B)
    inv_S_ = np.empty(B)
    for i0 in range(0, n, B):
        nb = min(B, n - i0)
        by, bx, bw = _multiclass_block_in(
            y, raw, offset, i0, nb, K, alpha, w_rows, w_step, Z, E, c_, jm_, m_, sm1_, a_, wt_, ok_, u_
        )
        bad_y |= by
        bad_x |= bx
        bad_w |= bw
        # Per row, the binary terms at u. The scratch rows are reused from here on:
        # u_ <- a G (G = -dL/du), m_ <- a R^gamma, a_ <- a H (the true class's hessian).
        for b in range(nb):
            P, R, ell, R_gamma, G, H = _signed_terms(u_[b], gamma, exact)
            a = a_[b]
            P_[b] = P
            R_[b] = R
            gPl_[b] = gamma * P * ell
            u_[b] = a * G
            m_[b] = a * R_gamma
            a_[b] = a * H
            S = 1.0 + sm1_[b]
            S_[b] = S
            inv_S_[b] = 1.0 / S
        # Per class: gradient into E, hessian into Z (class-major), then copied out.
        for j in range(K):
            for b in range(nb):
                e = E[j, b]
                inv_S = inv_S_[b]
                s = e * inv_S
                # 1 - s_j without cancellation: (S - e_j) / S (>= 1/2) except at the argmax,
                # whose s_j may be close to 1: there it is the sum of the other shares.
                one_minus_s = (sm1_[b] if j == jm_[b] else S_[b] - e) * inv_S
                P = P_[b]
                R = R_[b]
                gPl = gPl_[b]
                ell_term = one_minus_s - s * R if exact else one_minus_s
                bracket = (
                    gamma * P * s * gPl  # gamma^2 P^2 s_j l
                    + gPl * ell_term
                    + 2.0 * gamma * P * s * R  # 2 gamma P p_j
                    + (P + R * one_minus_s) * R  # (1 - p_j) R
                )
                is_c = j == c_[b]
                wt = wt_[b]  # the weight multiplies the finished values: weight k is k equal rows
                E[j, b] = (-u_[b] if is_c else u_[b] * s) * wt
                Z[j, b] = (a_[b] if is_c else m_[b] * s * bracket) * wt
        _multiclass_block_out(grad, hess, i0, nb, K, E, Z)
    return bad_y, bad_x, bad_w


@_jit
def _multiclass_loss_kernel(y, raw, offset, gamma, alpha, w, w_step, out, start, stop):
    y = y[start:stop]
    raw = raw[start:stop]
    out = out[start:stop]
    w_rows = w[start:stop] if w_step else w  # w_step = 0: w is [1.0] (no weights)
    n, K = raw.shape
    B = _BLOCK
    bad_y = False
    bad_x = False
    bad_w = False
    Z, E, c_, jm_, ok_, m_, sm1_, a_, wt_, u_ = _block_scratch(K)
    for i0 in range(0, n, B):
        nb = min(B, n - i0)
        by, bx, bw = _multiclass_block_in(
            y, raw, offset, i0, nb, K, alpha, w_rows, w_step, Z, E, c_, jm_, m_, sm1_, a_, wt_, ok_, u_
        )
        bad_y |= by
        bad_x |= bx
        bad_w |= bw
        for b in range(nb):
            out[i0 + b] = (a_[b] * _signed_loss(u_[b], gamma)) * wt_[b]
    return bad_y, bad_x, bad_w


# ---------------------------------------------------------------------------------------------
# Threads: chunks of rows taken in turn by the caller and a small pool (see the module docstring)
# ---------------------------------------------------------------------------------------------

#: below this many margins per thread the kernels run on the calling thread alone
MIN_MARGINS_PER_THREAD = 50_000
#: margins per chunk handed to a thread (~0.1 ms of work)
CHUNK_MARGINS = 32_768

_pool = None
_pool_lock = threading.Lock()


def _pool_workers():
    """Workers of the pool: one fewer than the most threads the kernels can ask for
    (``NUMBA_NUM_THREADS``, the ceiling of ``numba.set_num_threads``), at least one."""
    return max(1, max(numba.config.NUMBA_NUM_THREADS, numba.get_num_threads()) - 1)


def _thread_pool():
    """The process's pool of helper threads: created on first use, never resized or shut down.

    Correct by construction under concurrent calls: a caller between getting the pool and
    submitting to it can never find it shut down, because nothing shuts it down. (The pool used to
    be replaced, and the old one shut down, when a call needed more threads than it had: another
    thread then submitted to a pool shut down under it, "cannot schedule new futures after
    shutdown"; tests/test_concurrency.py.) It is sized once for the most threads the kernels can
    ask for; its threads start only as calls need them (``ThreadPoolExecutor`` starts a thread per
    submission while none is idle). Concurrent callers share it: a helper that waits in its queue
    behind another call's helpers is cancelled by its caller, who has taken all chunks itself by
    then (see :func:`_run`). A forked child starts with no pool (:func:`_after_fork_in_child`).
    """
    global _pool
    pool = _pool
    if pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=_pool_workers(), thread_name_prefix="focalboost")
            pool = _pool
    return pool


def _after_fork_in_child():
    """A forked child has only the thread that forked: the parent's pool threads, and any lock one
    of them held, do not exist in it. It makes its own pool (and lock) on first use."""
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def n_threads(n_margins):
    """Threads the kernels use for ``n_margins`` margins: numba's thread count (all cores unless
    ``NUMBA_NUM_THREADS`` or ``numba.set_num_threads`` say otherwise), fewer for small inputs."""
    return max(1, min(numba.get_num_threads(), n_margins // MIN_MARGINS_PER_THREAD))


# ---------------------------------------------------------------------------------------------
# LLVM's code pages (peak memory, issue 17 part 4)
# ---------------------------------------------------------------------------------------------
#: a kernel call on at least this many margins hands LLVM's code pages back (see release_llvm_pages)
RELEASE_MARGINS = 1_000_000
_MADV_PAGEOUT = 21  # linux/mman.h, Linux >= 5.4
_llvm_touched = True  # importing numba ran LLVM code; loading a kernel runs more


def _want_release():
    return os.environ.get("FOCALBOOST_RELEASE_LLVM_PAGES", "1").strip().lower() not in ("0", "false", "no", "off")


def _rss_file_kb():
    with open("/proc/self/status") as status:
        return next((int(line.split()[1]) for line in status if line.startswith("RssFile")), 0)


def release_llvm_pages():
    """Ask Linux to take back the pages of LLVM's own code (``libllvmlite.so``) from this process:
    ``madvise(MADV_PAGEOUT)`` on its read-only file mappings. Returns the MB the process's
    file-backed resident memory fell by (0 elsewhere, or when switched off).

    Loading the kernels (numba's first call in a process, even from its disk cache) runs a good
    part of LLVM, whose pages then count in the process's resident memory (70 MB of
    ``libllvmlite.so`` measured here, of numba's ~115 MB in all) although running the loaded
    kernels never executes them. They are clean copies of the file: the hint changes no data and
    no result, and a later compilation reads back what it needs. Linux takes back only the pages
    no other process maps (another Python process that loaded numba shares them). The kernel
    wrappers call this once a call on at least ``RELEASE_MARGINS`` margins has run after new code
    was loaded (so before the memory-hungry part of a large fit, and not for small ones: it costs
    ~20 ms). ``FOCALBOOST_RELEASE_LLVM_PAGES=0`` switches it off; where the call is missing or
    refused (not Linux, a kernel older than 5.4) a debug line on the ``focalboost`` logger says so.
    """
    global _llvm_touched
    _llvm_touched = False
    if not sys.platform.startswith("linux") or not _want_release():
        return 0.0
    return _page_out("libllvmlite")


def _page_out(library):
    """``madvise(MADV_PAGEOUT)`` on the read-only mappings of files whose name starts with
    ``library``; the MB by which the file-backed resident memory fell."""
    import ctypes
    import logging

    log = logging.getLogger("focalboost")
    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        before = _rss_file_kb()
        with open("/proc/self/maps") as maps:
            regions = [line.split() for line in maps]
        for fields in regions:
            if len(fields) < 6 or "w" in fields[1] or not os.path.basename(fields[5]).startswith(library):
                continue
            start, stop = (int(v, 16) for v in fields[0].split("-"))
            if madvise(start, stop - start, _MADV_PAGEOUT) != 0:
                raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        released = (before - _rss_file_kb()) / 1024
    except (OSError, AttributeError, ValueError) as error:
        log.debug("focalboost: the code pages of %s were not released (%s)", library, error)
        return 0.0
    log.debug("focalboost: released %.0f MB of the code pages of %s", released, library)
    return released


def _run(kernel, args, n_rows, n_cols=1):
    """``kernel(*args, start, stop)`` over [0, n_rows), in parallel; its validity flags summed
    over the chunks (nonzero: a bad value somewhere). A large call after new kernel code was
    loaded then releases LLVM's code pages (:func:`release_llvm_pages`): before the work, the
    kernel runs on the empty range [0, 0), which loads (or compiles) its code for these argument
    types, so that the pages go before the outputs are written (peak memory: the first call of a
    fit otherwise holds LLVM's ~70 MB of code and the new gradient and hessian at once)."""
    global _llvm_touched
    loaded = len(kernel.overloads)
    if n_rows * n_cols >= RELEASE_MARGINS:
        kernel(*args, 0, 0)
        if len(kernel.overloads) != loaded:
            _llvm_touched = True
        before_large_work(n_rows * n_cols)
    flags = _run_chunks(kernel, args, n_rows, n_cols)
    if len(kernel.overloads) != loaded:
        _llvm_touched = True
    before_large_work(n_rows * n_cols)
    return flags


def before_large_work(n_margins):
    """Release LLVM's code pages (:func:`release_llvm_pages`) if kernel code was loaded since the
    last release and ``n_margins`` >= ``RELEASE_MARGINS``: work of that size follows (a fit's
    set-up calls this before the library builds its data and trees)."""
    if _llvm_touched and n_margins >= RELEASE_MARGINS:
        release_llvm_pages()


def _run_chunks(kernel, args, n_rows, n_cols):
    k = n_threads(n_rows * n_cols)
    # set by the XGBoost hooks: XGBoost's own threads, or the calling thread alone
    parallel = _openmp_team.current()
    if k == 1 or parallel is _openmp_team.CALLING_THREAD:
        return kernel(*args, 0, n_rows)
    # chunks of whole multiclass blocks, so that every block but the very last one is full
    chunk = max(1, CHUNK_MARGINS // (n_cols * _BLOCK)) * _BLOCK
    if parallel is not None and kernel is _binary_grad_hess_kernel and team_takes_binary(args):
        return run_binary_on_team(parallel, args, n_rows, k, chunk)
    n_chunks = -(-n_rows // chunk)
    counter = itertools.count()  # next() is atomic under the GIL

    def take_chunks():
        bad = [0, 0, 0]
        for i in iter(counter.__next__, None):
            if i >= n_chunks:
                return bad
            flags = kernel(*args, i * chunk, min(n_rows, (i + 1) * chunk))
            for j in range(3):
                bad[j] += flags[j]

    pool = _thread_pool()
    helpers = [pool.submit(take_chunks) for _ in range(k - 1)]
    bad = take_chunks()
    for helper in helpers:
        if not helper.cancel():  # a helper that has not started is not waited for
            bad = [a + b for a, b in zip(bad, helper.result())]
    return tuple(bad)


# ---------------------------------------------------------------------------------------------
# The binary kernel on an OpenMP team (focalboost._openmp_team): a cfunc over a block of int64
# slots (addresses, sizes, flags) that each thread of the team runs. It lives here, next to the
# kernel it calls, because numba keys a function's disk cache on its own file only.
# ---------------------------------------------------------------------------------------------

(_S_N, _S_Y, _S_RAW, _S_W, _S_GRAD, _S_HESS, _S_NEXT, _S_CHUNK, _S_EXACT, _S_INT_GAMMA, _S_GAMMA_I,
 _S_FLOATS, _S_BAD) = range(13)
_SLOTS = 16


@intrinsic
def _float32_at(typingctx, address):
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], ir.PointerType(ir.FloatType()))

    return types.CPointer(types.float32)(types.int64), codegen


@intrinsic
def _float64_at(typingctx, address):
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], ir.PointerType(ir.DoubleType()))

    return types.CPointer(types.float64)(types.int64), codegen


@intrinsic
def _fetch_add(typingctx, address, value):
    """Atomically add ``value`` to the int64 at ``address``; the value before."""

    def codegen(context, builder, signature, args):
        pointer = builder.inttoptr(args[0], ir.PointerType(ir.IntType(64)))
        return builder.atomic_rmw("add", pointer, args[1], "monotonic")

    return types.int64(types.int64, types.int64), codegen


def _make_binary_team_body():
    # The kernel is named as a global, never bound to a local name the body closes over: numba
    # keys a function's disk cache on the pickled values of its closure too, and a pickled
    # dispatcher differs in every process (every process would compile the body again and add
    # one more entry to the cache).
    @numba.cfunc(types.void(types.voidptr), cache=_want_cache(), error_model="numpy")
    def _binary_team_body(data):
        a = numba.carray(data, (_SLOTS,), np.int64)
        n = a[_S_N]
        chunk = a[_S_CHUNK]
        n_chunks = (n + chunk - 1) // chunk
        y = numba.carray(_float32_at(a[_S_Y]), (n,))
        raw = numba.carray(_float32_at(a[_S_RAW]), (n,))
        grad = numba.carray(_float32_at(a[_S_GRAD]), (n,))
        hess = numba.carray(_float32_at(a[_S_HESS]), (n,))
        f = numba.carray(_float64_at(a[_S_FLOATS]), (3,))  # gamma, alpha1, alpha0
        exact = a[_S_EXACT] != 0
        int_gamma = a[_S_GAMMA_I]
        bad_y = 0
        bad_x = 0
        bad_w = 0
        while True:
            i = _fetch_add(a[_S_NEXT], 1)
            if i >= n_chunks:
                break
            start = i * chunk
            stop = min(n, start + chunk)
            if a[_S_W] != 0:
                w = numba.carray(_float32_at(a[_S_W]), (n,))
                if a[_S_INT_GAMMA] != 0:
                    c = _binary_grad_hess_kernel(
                        y, raw, 0.0, int_gamma, f[1], f[2], exact, w, grad, hess, start, stop
                    )
                else:
                    c = _binary_grad_hess_kernel(y, raw, 0.0, f[0], f[1], f[2], exact, w, grad, hess, start, stop)
            elif a[_S_INT_GAMMA] != 0:
                c = _binary_grad_hess_kernel(
                    y, raw, 0.0, int_gamma, f[1], f[2], exact, None, grad, hess, start, stop
                )
            else:
                c = _binary_grad_hess_kernel(y, raw, 0.0, f[0], f[1], f[2], exact, None, grad, hess, start, stop)
            bad_y += c[0]
            bad_x += c[1]
            bad_w += c[2]
        _fetch_add(a[_S_BAD], bad_y)
        _fetch_add(a[_S_BAD] + 8, bad_x)
        _fetch_add(a[_S_BAD] + 16, bad_w)

    return _binary_team_body


_team_body = None
_team_body_lock = threading.Lock()


def _binary_team_body():
    """The cfunc, compiled (or loaded from the disk cache) on first use."""
    global _team_body, _llvm_touched
    with _team_body_lock:
        if _team_body is None:
            _team_body = _make_binary_team_body()
            _llvm_touched = True
        return _team_body


_F32 = np.dtype(np.float32)


def _f32_c(a):
    return isinstance(a, np.ndarray) and a.dtype == _F32 and a.ndim == 1 and a.flags.c_contiguous


def team_takes_binary(args):
    """Whether the team body takes these binary kernel arguments (float32, C order)."""
    y, raw, offset, gamma, _a1, _a0, _exact, w, grad, hess = args
    return offset == 0.0 and all(_f32_c(v) for v in (y, raw, grad, hess)) and (w is None or _f32_c(w))


def run_binary_on_team(parallel, args, n_rows, n_threads, chunk):
    """The binary kernel over all rows on ``parallel``'s team of ``n_threads``; its flags summed."""
    y, raw, _offset, gamma, a1, a0, exact, w, grad, hess = args  # offset 0: team_takes_binary
    body = _binary_team_body()
    floats = np.array([float(gamma), a1, a0])
    flags = np.zeros(3, np.int64)
    counter = np.zeros(1, np.int64)
    a = np.zeros(_SLOTS, np.int64)
    a[_S_N], a[_S_CHUNK] = n_rows, chunk
    a[_S_Y], a[_S_RAW], a[_S_GRAD], a[_S_HESS] = (v.ctypes.data for v in (y, raw, grad, hess))
    a[_S_W] = 0 if w is None else w.ctypes.data
    a[_S_NEXT], a[_S_FLOATS], a[_S_BAD] = counter.ctypes.data, floats.ctypes.data, flags.ctypes.data
    a[_S_EXACT] = int(bool(exact))
    is_int = isinstance(gamma, (int, np.integer))
    a[_S_INT_GAMMA], a[_S_GAMMA_I] = int(is_int), int(gamma) if is_int else 0
    # the arrays above stay referenced here until GOMP_parallel returns (all threads done)
    parallel(body.address, a.ctypes.data, n_threads, 0)
    return tuple(int(v) for v in flags)


# ---------------------------------------------------------------------------------------------
# Python wrappers: the checks of focalboost._validation that cost O(1) (structure, parameters)
# before the pass, its messages for the values the kernels flag, and dtype plumbing.
# ---------------------------------------------------------------------------------------------


class KernelDoesNotTake(Exception):
    """Valid input of a dtype the kernels do not take: float16 or long double margins or weights,
    arrays in non-native byte order. ``reason`` names the argument and its dtype; the loss objects
    then compute with the numpy formulas, which convert it (and log the reason once).

    Deliberately not a ``ValueError`` or ``TypeError``: those mean invalid input, which raises the
    canonical error of :mod:`focalboost._validation` on every path.
    """

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_ONES = {}


def _as_read(arr, name):
    """A checked numeric array as the kernels read it: float32 and float64 as they are, integers
    and bools converted to float64; anything else is :class:`KernelDoesNotTake`."""
    if arr.dtype in _FLOATS:
        return arr
    if arr.dtype.kind in "iub":
        return arr.astype(np.float64)
    raise KernelDoesNotTake(f"{name} of dtype {arr.dtype}")


def _as_margins(raw, ndim):
    return _as_read(margin_array(raw, ndim), "raw_prediction")


def _as_labels(y, n, n_classes):
    """Labels as given (bools viewed as uint8; float16 and long double converted to float64)."""
    y = check_label_dtype(label_vector(y, n), n_classes)
    if not y.dtype.isnative:
        raise KernelDoesNotTake(f"y_true of dtype {y.dtype}")
    if y.dtype.kind == "b":
        return y.view(np.uint8)
    if y.dtype == np.float16 or y.dtype.itemsize > 8:
        return y.astype(np.float64)
    return y


def _as_weights(sample_weight, n):
    w = weight_vector(sample_weight, n)
    return None if w is None else _as_read(w, "sample_weight")


def _as_gamma(gamma):
    g = check_gamma(gamma)
    if g.is_integer() and g <= MAX_INTEGER_GAMMA:
        return np.int64(g)  # compiled separately: r**gamma by multiplications
    return g


def _binary_alpha(alpha):
    a = check_binary_alpha(alpha)
    return (1.0, 1.0) if a is None else (a, 1.0 - a)


def _class_alpha(alpha, K):
    """The per-class weights as a float64 (K,) vector; ones (one cached array per K) for None,
    so the multiclass kernels need no separate compilation for "no alpha"."""
    if alpha is None:
        ones = _ONES.get(K)
        if ones is None:
            ones = np.ones(K)
            _ONES[K] = ones
        return ones
    return check_class_alpha(alpha, K)


def _class_offset(offset, K):
    """The per-class margin offsets as a writeable float64 (K,) vector (zeros for None)."""
    if offset is None:
        return np.zeros(K)
    out = np.array(offset, dtype=np.float64).reshape(-1)  # a copy: writeable, contiguous
    if out.shape != (K,):
        raise ValueError(f"offset has {out.size} values for {K} classes")
    return out


_NO_WEIGHTS = np.ones(1)  # writeable: read-only arrays are a distinct numba type (a recompile)


def _multiclass_weights(w):
    """(weights, step): the multiclass kernels read w[i * step], so "no weights" is ([1.0], 0) and
    needs no compilation of its own. (Multiclass compiles cost ~3 s each; the weights are read
    once per row, where the indirection costs nothing. The binary kernel, whose row loop is
    vectorised, is compiled separately for w = None instead.)"""
    if w is None:
        return _NO_WEIGHTS, 0
    return w, 1


def _outputs(out, shape):
    if out is None:
        return np.empty(shape), np.empty(shape)
    return check_out(out, shape)


def _raise_on_flags(flags, y, raw, n_classes, w):
    """The canonical ValueError for the kernel's flags (invalid labels, non-finite margins,
    invalid weights), checked in the order of :mod:`focalboost._validation`.

    The kernels only flag bad values (cheaper than counting them in the row loop); the numbers and
    examples in the message are counted there, on the error path only.
    """
    bad_y, bad_x, bad_w = flags
    if bad_x:
        raise non_finite_error(raw)
    if bad_y:
        raise label_error(y, n_classes)
    if bad_w:
        raise weight_error(w)


def binary_gradient_hessian(y, raw, gamma, alpha=None, exact=False, sample_weight=None, out=None,
                            offset=0.0):
    """Binary focal gradient and hessian with respect to the margin, one fused parallel pass.

    Parameters
    ----------
    y : (n,) labels in {0, 1}, any integer, bool or float dtype (not converted).
    raw : (n,) margins, float32 or float64 (not converted).
    gamma : float >= 0.
    alpha : None or float in (0, 1), the weight of class 1 (class 0 gets 1 - alpha).
    exact : bool, True for the exact hessian, False for the "positive" one.
    sample_weight : None, an empty array (no weights) or (n,) weights >= 0.
    out : None or a (grad, hess) pair of preallocated (n,) float64 (or float32) arrays.
    offset : float, added to every margin in float64 inside the pass (the derivatives are taken
        at ``raw + offset``, rounded once, with no array of that sum).

    Returns
    -------
    grad, hess : (n,) arrays (``out`` if given), weighted once by ``sample_weight``.
    """
    raw = _as_margins(raw, 1)
    n = raw.shape[0]
    y = _as_labels(y, n, 2)
    w = _as_weights(sample_weight, n)
    a1, a0 = _binary_alpha(alpha)
    grad, hess = _outputs(out, (n,))
    args = (y, raw, float(offset), _as_gamma(gamma), a1, a0, bool(exact), w, grad, hess)
    flags = _run(_binary_grad_hess_kernel, args, n)
    _raise_on_flags(flags, y, raw, 2, w)
    return grad, hess


def multiclass_gradient_hessian(y, raw, gamma, alpha=None, exact=False, sample_weight=None, out=None,
                                offset=None):
    """Softmax focal gradient and diagonal hessian, (n, K) each, one fused parallel pass.

    Parameters
    ----------
    y : (n,) class indices 0..K-1, integer or float dtype (not converted).
    raw : (n, K) margins, float32 or float64, C or Fortran order (not converted).
    gamma : float >= 0.
    alpha : None or (K,) per-class weights.
    exact : bool, True for the exact diagonal hessian, False for the "positive" one.
    sample_weight : None, an empty array or (n,) weights >= 0.
    out : None or a (grad, hess) pair of preallocated (n, K) float64 (or float32) arrays, in any
        memory order (Fortran order suits LightGBM, which reads gradients class by class).
    offset : None or (K,) floats, added to each class's margins inside the pass (see
        :func:`binary_gradient_hessian`).

    Returns
    -------
    grad, hess : (n, K) arrays (``out`` if given; C order otherwise).
    """
    raw = _as_margins(raw, 2)
    n, K = raw.shape
    y = _as_labels(y, n, K)
    w = _as_weights(sample_weight, n)
    grad, hess = _outputs(out, (n, K))
    w, w_step = _multiclass_weights(w)
    args = (y, raw, _class_offset(offset, K), float(_as_gamma(gamma)), _class_alpha(alpha, K), bool(exact),
            w, w_step, grad, hess)
    flags = _run(_multiclass_grad_hess_kernel, args, n, K)
    _raise_on_flags(flags, y, raw, K, w)
    return grad, hess


def binary_loss(y, raw, gamma, alpha=None, sample_weight=None, out=None):
    """Per-row binary focal loss (times ``sample_weight``), one fused parallel pass."""
    raw = _as_margins(raw, 1)
    n = raw.shape[0]
    y = _as_labels(y, n, 2)
    w = _as_weights(sample_weight, n)
    a1, a0 = _binary_alpha(alpha)
    out = np.empty(n) if out is None else out
    flags = _run(_binary_loss_kernel, (y, raw, _as_gamma(gamma), a1, a0, w, out), n)
    _raise_on_flags(flags, y, raw, 2, w)
    return out


def multiclass_loss(y, raw, gamma, alpha=None, sample_weight=None, out=None):
    """Per-row softmax focal loss (times ``sample_weight``), one fused parallel pass."""
    raw = _as_margins(raw, 2)
    n, K = raw.shape
    y = _as_labels(y, n, K)
    w = _as_weights(sample_weight, n)
    out = np.empty(n) if out is None else out
    w, w_step = _multiclass_weights(w)
    args = (y, raw, _class_offset(None, K), float(_as_gamma(gamma)), _class_alpha(alpha, K), w, w_step, out)
    flags = _run(_multiclass_loss_kernel, args, n, K)
    _raise_on_flags(flags, y, raw, K, w)
    return out


# ---------------------------------------------------------------------------------------------
# The posterior correction (focalboost.posterior) from margins, written straight into the output.
# predict_proba runs it on every prediction: the numpy formulas make ~20 temporaries of the
# margins' size (1M rows x 10 classes: 1.0 s, as long as XGBoost's own predict_proba for 100
# trees); these kernels read the margins as they are (float32 from the boosters) and write the
# (n, 2) / (n, K) float64 probabilities once. Same formulas, rearranged without temporaries; the
# tests hold them to the numpy path (focalboost.posterior) within a few ulps.
# ---------------------------------------------------------------------------------------------


@_inline
def _expit_pair(t):
    """(expit(-t), expit(t)), each without cancellation (scipy's expit: 1 / (1 + e^-|t|) for the
    larger one, e^-|t| / (1 + e^-|t|) for the smaller)."""
    s = _exp_nonpos(-abs(t))
    big = 1.0 / (1.0 + s)
    small = s * big
    return (small, big) if t >= 0.0 else (big, small)


@_jit
def _binary_posterior_kernel(raw, gamma, shift, out, start, stop):
    """out[i] = [expit(-t), expit(t)], t = (1 + gamma) x + log1p(gamma phi(x))
    - log1p(gamma phi(-x)) + shift (posterior.binary_posterior); flags non-finite margins.

    Blocks of _BLOCK rows: t into a contiguous scratch first (that loop vectorises; with the
    interleaved stores of the (n, 2) output in it, it did not: 5x slower), then the pairs out."""
    raw = raw[start:stop]  # views indexed from 0, see _binary_grad_hess_kernel
    out = out[start:stop]
    n = raw.shape[0]
    T = np.empty(_BLOCK)
    bad_x = False
    for i0 in range(0, n, _BLOCK):
        nb = min(_BLOCK, n - i0)
        r = raw[i0:i0 + nb]
        o = out[i0:i0 + nb]
        for b in range(nb):
            x = np.float64(r[b])
            bad_x |= not (x - x == 0.0)
            a = abs(x)
            e = _exp_nonpos(-a)  # e^-|x|, 0 beyond |x| ~ 745
            ell = _log1p_unit(e)  # softplus(|x|) - |x|
            phi_pos = (a + ell) * e  # phi(|x|) = softplus(|x|) e^-|x|
            phi_neg = ell / e if e > 0.0 else 1.0  # phi(-|x|) = log1p(e) / e, 1 in the limit
            d = _log1p_nonneg(gamma * phi_pos) - _log1p_nonneg(gamma * phi_neg)
            T[b] = ((1.0 + gamma) * x + (d if x >= 0.0 else -d)) + shift
        for b in range(nb):
            p0, p1 = _expit_pair(T[b])
            o[b, 0] = p0
            o[b, 1] = p1
    return False, bad_x, False


@_inline
def _log_normal(v):
    """log(v) for a normal positive float64 v (no zero, subnormal or inf), branch-free: v split
    as 2**k (1 + f) by its bits, f in [sqrt(2)/2 - 1, sqrt(2) - 1], then fdlibm's kernel (1 ulp)."""
    bits = _float64_bits_as_int64(v)
    k = (bits >> 52) - 1023
    mant = _int64_bits_as_float64((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)  # in [1, 2)
    big = mant > 1.4142135623730951
    mant = mant * 0.5 if big else mant
    kf = np.float64(k + 1 if big else k)
    f = mant - 1.0
    return _log1p_reduced(f, f / (2.0 + f), kf)


#: below this the others' total of a row is left to the numpy formulas (log of a subnormal)
_TINY_REST = 1e-300


@_jit
def _multiclass_posterior_kernel(raw, gamma, log_alpha, huge, out, left, start, stop):
    """out[i] = softmax(log w), log w_k = log p_k - gamma log(1 - p_k) - log1p(gamma F_k)
    - log alpha_k, F_k = (-log p_k) p_k / (1 - p_k) (posterior.multiclass_posterior). Flags
    non-finite margins, and rows it leaves to the numpy formulas: margins beyond ``huge`` and
    rows whose other classes' shares (nearly) underflow (one-hot rows). Such rows, and rows
    with a non-finite margin, are marked in ``left`` and not written: ``out`` may be ``raw``
    itself (each block of rows is read whole before it is written), and those rows then still
    hold their margins.

    Blocks of _BLOCK rows copied class-major, as in the gradient kernel, so that every step
    vectorises across rows (exp, log and log1p are the polynomial versions of this module)."""
    raw = raw[start:stop]
    out = out[start:stop]
    left = left[start:stop]
    n, K = raw.shape
    B = _BLOCK
    Z = np.empty((K, B))
    E = np.empty((K, B))
    m_ = np.empty(B)
    top_ = np.empty(B, dtype=np.int64)
    S_ = np.empty(B)
    rest_ = np.empty(B)
    logS_ = np.empty(B)
    amax_ = np.empty(B)
    skip_ = np.empty(B, dtype=np.bool_)
    bad_x = False
    other = False
    for i0 in range(0, n, B):
        nb = min(B, n - i0)
        r = raw[i0:i0 + nb]
        o = out[i0:i0 + nb]
        for b in range(nb):  # transpose in, with the row's largest margin and its class
            m = np.float64(r[b, 0])
            top = 0
            finite = True
            for k in range(K):
                z = np.float64(r[b, k])
                Z[k, b] = z
                if not (z - z == 0.0):
                    finite = False
                if z > m:
                    m = z
                    top = k
            m_[b] = m
            top_[b] = top
            bad_x |= not finite
            skip_[b] = not finite or abs(m) > huge
            S_[b] = 0.0
            rest_[b] = 0.0
        for k in range(K):
            for b in range(nb):
                e = _exp_nonpos(Z[k, b] - m_[b])
                E[k, b] = e
                S_[b] += e
                rest_[b] += 0.0 if k == top_[b] else e
        for b in range(nb):
            skip_[b] |= not (rest_[b] >= _TINY_REST)
            logS_[b] = _log1p_nonneg(min(rest_[b], FLOAT64_MAX))  # log S, S = 1 + rest
            amax_[b] = -np.inf
        for k in range(K):
            la = log_alpha[k]
            for b in range(nb):
                e = E[k, b]
                log_p = (Z[k, b] - m_[b]) - logS_[b]
                d = rest_[b] if k == top_[b] else S_[b] - e  # S (1 - p_k), without cancellation
                d = max(d, _TINY_REST)  # rows flagged above only: keeps the log finite
                log_q = _log_normal(d) - logS_[b]
                F = -log_p * (e / d)  # phi(-u), u = log p - log(1 - p): (-log p) p / (1 - p)
                a = log_p - gamma * log_q - _log1p_nonneg(gamma * F) - la
                Z[k, b] = a
                amax_[b] = max(amax_[b], a)
        for b in range(nb):
            S_[b] = 0.0
        for k in range(K):
            for b in range(nb):
                e = _exp_nonpos(Z[k, b] - amax_[b])
                E[k, b] = e
                S_[b] += e
        for b in range(nb):
            if skip_[b]:
                left[i0 + b] = 1
                other = True
                continue
            inv = 1.0 / S_[b]
            for k in range(K):
                o[b, k] = E[k, b] * inv
    return other, bad_x, False


def binary_posterior(raw, gamma, alpha=None):
    """:func:`focalboost.posterior.binary_posterior` of margins ``raw`` (n,), float32 or float64
    (not converted): a new (n, 2) float64 array, nothing else allocated."""
    raw = _as_margins(raw, 1)
    n = raw.shape[0]
    a = check_binary_alpha(alpha)
    shift = 0.0 if a is None else float(np.log1p(-a) - np.log(a))
    out = np.empty((n, 2))
    flags = _run(_binary_posterior_kernel, (raw, float(check_gamma(gamma)), shift, out), n, 2)
    if flags[1]:
        raise non_finite_error(raw)
    return out


def multiclass_posterior(raw, gamma, alpha=None, huge=2.0**20, out=None):
    """:func:`focalboost.posterior.multiclass_posterior` of margins ``raw`` (n, K), float32 or
    float64 (not converted), written into ``out``: a new (n, K) float64 array, or the caller's
    (C-contiguous float64; it may be ``raw`` itself, overwritten then). Returns ``(out, rows)``:
    ``rows`` are the indices of the rows left to the numpy formulas (a margin beyond ``huge`` in
    size, or a row whose other classes' shares underflow), whose ``out`` rows are not written
    (so ``raw`` still holds them when ``out`` is ``raw``). Beyond ``out`` one byte per row is
    allocated (the marks of those rows)."""
    raw = _as_margins(raw, 2)
    n, K = raw.shape
    alpha = check_class_alpha(alpha, K)
    log_alpha = np.zeros(K) if alpha is None else np.log(alpha)
    out = np.empty((n, K)) if out is None else check_proba_out(out, (n, K))
    left = np.zeros(n, dtype=np.uint8)
    args = (raw, float(check_gamma(gamma)), log_alpha, float(huge), out, left)
    flags = _run(_multiclass_posterior_kernel, args, n, K)
    if flags[1]:
        raise non_finite_error(raw)  # rows with a non-finite margin were not written
    return out, (np.flatnonzero(left) if flags[0] else np.empty(0, dtype=np.intp))
