"""Gradient + hessian kernels alone: nanoseconds per row (binary) and per margin (multiclass).

Contenders, all computing the focal gradient and ("positive") hessian of the same data:

* textbook numpy: the closed forms written the plain way, in probability space
  (p = 1/(1+exp(-x)), 1 - p, -log(p_t), (1 - p_t)**gamma);
* seed recipe: central finite differences of the naive loss with dx = 1e-6 (three loss calls);
* imbalance-xgboost: ``Focal_Binary_Loss(gamma).focal_binary_object`` of the PyPI package
  ``imbalance-xgboost`` (no alpha; it is imported if importable, e.g. after
  ``pip install --no-deps --target DIR imbalance-xgboost`` and ``--peer-path DIR``);
* numexpr: the same log-space formulas as one fused numexpr expression per output (multi-threaded,
  chunked, no full-size temporaries), if numexpr is importable;
* focalboost numpy: the reference closed forms of focalboost.losses (log space, validated);
* focalboost kernel: the fused numba kernel (focalboost._kernels), float64 and float32 margins,
  one thread and all threads.

Run through ``python -m benchmarks`` (see benchmarks/run.py).
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import time

import numba
import numpy as np

from focalboost import _kernels
from focalboost.losses import BinaryFocalLoss, MulticlassFocalLoss, signed_focal_terms

GAMMA = 2.0
ALPHA = 0.25


# --- contenders: binary ------------------------------------------------------------------------
def textbook_binary(y, x, gamma=GAMMA, alpha=ALPHA):
    """The closed forms, written the plain way (probability space, numpy)."""
    p = 1.0 / (1.0 + np.exp(-x))
    pt = np.where(y == 1, p, 1.0 - p)
    rt = 1.0 - pt
    log_pt = np.log(pt)
    a = np.where(y == 1, alpha, 1.0 - alpha)
    sign = 2.0 * y - 1.0
    rg = rt**gamma
    grad = -sign * a * rg * (-gamma * pt * log_pt + rt)
    hess = a * pt * rg * (-gamma * gamma * pt * log_pt + (2.0 * gamma + 1.0) * rt)
    return grad, hess


def _naive_loss(y, x, gamma, alpha):
    pt = 1.0 / (1.0 + np.exp(-x))
    pt = y * pt + (1.0 - y) * (1.0 - pt)
    alpha_t = y * alpha + (1.0 - y) * (1.0 - alpha)
    return -alpha_t * (1.0 - pt) ** gamma * np.log(pt)


def seed_finite_difference(y, x, gamma=GAMMA, alpha=ALPHA, h=1e-6):
    """The seed notes' recipe: central differences of the naive loss, dx = 1e-6."""
    f_plus = _naive_loss(y, x + h, gamma, alpha)
    f_0 = _naive_loss(y, x, gamma, alpha)
    f_minus = _naive_loss(y, x - h, gamma, alpha)
    return (f_plus - f_minus) / (2.0 * h), (f_plus - 2.0 * f_0 + f_minus) / (h * h)


def numpy_reference_binary(y, x, gamma=GAMMA, alpha=ALPHA):
    """focalboost.losses' closed forms (log space), without the argument checks."""
    sign = np.where(y == 1, 1.0, -1.0)
    _, grad_u, hess = signed_focal_terms(sign * x, gamma, False)
    a = np.where(y == 1, alpha, 1.0 - alpha)
    return a * sign * grad_u, a * hess


def _numexpr_expressions():
    """The log-space closed forms as numexpr strings, given t = exp(-|x|) (numexpr has no common
    subexpressions: q, r, l are spelled out in each output)."""
    u = "where(y == 1, x, -x)"
    q = f"where({u} >= 0, 1.0 / (1.0 + t), t / (1.0 + t))"
    r = f"where({u} >= 0, t / (1.0 + t), 1.0 / (1.0 + t))"
    ell = f"(log1p(t) + where({u} < 0, -({u}), 0.0))"
    r_gamma = f"exp(-gamma * (log1p(t) + where({u} > 0, {u}, 0.0)))"
    a = "where(y == 1, alpha, 1.0 - alpha)"
    grad = f"where(y == 1, -1.0, 1.0) * {a} * {r_gamma} * (gamma * {q} * {ell} + {r})"
    hess = f"{a} * {q} * {r_gamma} * (gamma * gamma * {q} * {ell} + (2.0 * gamma + 1.0) * {r})"
    return grad, hess


def load_numexpr():
    try:
        import numexpr
    except ImportError as exc:
        return None, f"not run: numexpr is not installed ({exc})"
    return numexpr, None


def numexpr_binary(ne, y, x, gamma=GAMMA, alpha=ALPHA):
    """numexpr: t = exp(-|x|) once (one temporary), then one fused expression per output."""
    grad_expr, hess_expr = _numexpr_expressions()
    t = ne.evaluate("exp(-abs(x))", local_dict={"x": x})
    local = {"y": y, "x": x, "t": t, "gamma": gamma, "alpha": alpha}
    return ne.evaluate(grad_expr, local_dict=local), ne.evaluate(hess_expr, local_dict=local)


class _LabelsOnly:
    """The one DMatrix method imbalance-xgboost's objective calls."""

    def __init__(self, y):
        self._y = y

    def get_label(self):
        return self._y


def add_paths(paths):
    """Put ``paths`` (os.pathsep-separated directories, e.g. pip --target dirs) on sys.path."""
    for path in (paths or "").split(os.pathsep):
        if path and path not in sys.path:
            sys.path.insert(0, path)


def load_peer(peer_path=None):
    """imbalance-xgboost's focal objective, or the reason it is unavailable."""
    add_paths(peer_path)
    try:
        module = importlib.import_module("imxgboost.focal_loss")
    except Exception as exc:  # noqa: BLE001 - any failure is reported in the table
        return None, f"not run: cannot import imxgboost ({type(exc).__name__}: {exc})"
    return module.Focal_Binary_Loss(GAMMA), None


# --- contenders: multiclass --------------------------------------------------------------------
def textbook_multiclass(y, Z, gamma=GAMMA):
    """The multiclass closed forms, written the plain way (softmax probabilities, numpy)."""
    rows = np.arange(Z.shape[0])
    e = np.exp(Z - Z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    P = p[rows, y][:, None]
    R = 1.0 - P
    ell = -np.log(P)
    s = p / R
    Rg = R**gamma
    G = Rg * (gamma * P * ell + R)
    grad = G * s
    hess = Rg * s * (gamma**2 * P**2 * s * ell + gamma * P * ell * (1 - s) + 2 * gamma * P * p + (1 - p) * R)
    grad[rows, y] = -G[:, 0]
    hess[rows, y] = (P * Rg * (gamma**2 * P * ell + (2 * gamma + 1) * R))[:, 0]
    return grad, hess


# --- timing ------------------------------------------------------------------------------------
def _median_seconds(funcs, repeats):
    """Median wall time of each function; the repeats are interleaved (f1, f2, ..., f1, f2, ...)
    so that a drifting machine load hits every contender alike."""
    for func in funcs:
        func()  # warm-up (and JIT compilation)
    times = [[] for _ in funcs]
    for _ in range(repeats):
        for func, t in zip(funcs, times):
            gc.collect()
            t0 = time.perf_counter()
            func()
            t.append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in times]


class _Table:
    def __init__(self, size):
        self.size = size
        self.entries = []

    def add(self, name, func, note=""):
        self.entries.append((name, func, note))

    def skip(self, name, note):
        self.entries.append((name, None, note))

    def measure(self, repeats):
        funcs = [f for _, f, _ in self.entries if f is not None]
        seconds = iter(_median_seconds(funcs, repeats))
        rows = []
        for name, func, note in self.entries:
            if func is None:
                rows.append({"method": name, "ns_per_row": None, "ms": None, "note": note})
                continue
            sec = next(seconds)
            rows.append({"method": name, "ns_per_row": sec / self.size * 1e9, "ms": sec * 1e3, "note": note})
        return rows


def _with_threads(k, func):
    def run():
        previous = numba.get_num_threads()
        numba.set_num_threads(k)
        try:
            return func()
        finally:
            numba.set_num_threads(previous)

    return run


def binary_rows(n, repeats, peer_path=None, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.float64)
    x = rng.normal(0.0, 3.0, n)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    buffers = (np.empty(n), np.empty(n))
    all_threads = numba.config.NUMBA_NUM_THREADS
    table = _Table(n)
    add = table.add

    add("textbook numpy (probability space)", lambda: textbook_binary(y, x))
    add("seed recipe: finite differences, dx=1e-6", lambda: seed_finite_difference(y, x))
    peer, why_not = load_peer(peer_path)
    if peer is not None:
        labels = _LabelsOnly(y32)
        add("imbalance-xgboost Focal_Binary_Loss", lambda: peer.focal_binary_object(x32, labels), "no alpha")
    else:
        table.skip("imbalance-xgboost Focal_Binary_Loss", why_not)
    ne, why_not = load_numexpr()
    if ne is not None:
        add(f"numexpr {ne.__version__}, fused expressions, {ne.get_num_threads()} threads",
            lambda: numexpr_binary(ne, y, x))
    else:
        table.skip("numexpr, fused expressions", why_not)
    add("focalboost numpy closed form (losses.py)", lambda: numpy_reference_binary(y, x))
    loss = BinaryFocalLoss(GAMMA, ALPHA)
    add("focalboost BinaryFocalLoss.gradient_hessian", lambda: loss.gradient_hessian(y, x), "public API")
    kernel = _kernels.binary_gradient_hessian
    add("focalboost kernel, float64, 1 thread", _with_threads(1, lambda: kernel(y, x, GAMMA, ALPHA)))
    add(
        f"focalboost kernel, float64, {all_threads} threads",
        _with_threads(all_threads, lambda: kernel(y, x, GAMMA, ALPHA)),
    )
    add(
        f"focalboost kernel, float32 (as XGBoost passes), {all_threads} threads",
        _with_threads(all_threads, lambda: kernel(y32, x32, GAMMA, ALPHA)),
    )
    add(
        f"focalboost kernel, float32, out= buffers, {all_threads} threads",
        _with_threads(all_threads, lambda: kernel(y32, x32, GAMMA, ALPHA, out=buffers)),
        "no allocation",
    )
    add(
        f"focalboost kernel, float32, gamma=2.5, {all_threads} threads",
        _with_threads(all_threads, lambda: kernel(y32, x32, 2.5, ALPHA, out=buffers)),
        "r**gamma = exp(gamma log r)",
    )
    return table.measure(repeats)


def multiclass_rows(n, k, repeats, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    Z = rng.normal(0.0, 2.0, (n, k))
    Z32, y32 = Z.astype(np.float32), y.astype(np.float32)
    all_threads = numba.config.NUMBA_NUM_THREADS
    table = _Table(n * k)
    add = table.add

    add("textbook numpy (softmax probabilities)", lambda: textbook_multiclass(y, Z))
    loss = MulticlassFocalLoss(k, GAMMA)
    add("focalboost MulticlassFocalLoss.gradient_hessian", lambda: loss.gradient_hessian(y, Z), "public API")
    kernel = _kernels.multiclass_gradient_hessian
    add("focalboost kernel, float64, 1 thread", _with_threads(1, lambda: kernel(y, Z, GAMMA)))
    add(f"focalboost kernel, float64, {all_threads} threads", _with_threads(all_threads, lambda: kernel(y, Z, GAMMA)))
    add(
        f"focalboost kernel, float32 (as XGBoost passes), {all_threads} threads",
        _with_threads(all_threads, lambda: kernel(y32, Z32, GAMMA)),
    )
    return table.measure(repeats)


def format_table(rows, unit):
    lines = [f"| method | {unit} | ms per call | speed-up vs textbook | note |", "|---|---:|---:|---:|---|"]
    base = rows[0]["ns_per_row"]
    for row in rows:
        if row["ns_per_row"] is None:
            lines.append(f"| {row['method']} | - | - | - | {row['note']} |")
            continue
        lines.append(
            f"| {row['method']} | {row['ns_per_row']:.1f} | {row['ms']:.2f} | "
            f"{base / row['ns_per_row']:.1f}x | {row['note']} |"
        )
    return "\n".join(lines)


def run(quick=False, repeats=None, peer_path=None, out=print):
    n_bin, n_mc, k = (20_000, 2_000, 10) if quick else (1_000_000, 200_000, 10)
    repeats = repeats or (2 if quick else 7)
    binary = binary_rows(n_bin, repeats, peer_path)
    out(f"\n### Kernel alone: binary, {n_bin:,} rows, gamma={GAMMA}, alpha={ALPHA} (median of {repeats})\n")
    out(format_table(binary, "ns/row"))
    fd = next(r for r in binary if r["method"].startswith("seed"))["ns_per_row"]
    fast = [r for r in binary if r["method"].startswith("focalboost kernel, float32 (as")][0]["ns_per_row"]
    out(
        f"\nkernel (float32, all threads) vs textbook numpy: {binary[0]['ns_per_row'] / fast:.1f}x; "
        f"vs seed finite differences: {fd / fast:.1f}x"
    )
    multi = multiclass_rows(n_mc, k, repeats)
    out(f"\n### Kernel alone: multiclass, {n_mc:,} rows x {k} classes, gamma={GAMMA} (median of {repeats})\n")
    out(format_table(multi, "ns/margin"))
    return {"binary": binary, "multiclass": multi}
