"""The fused numba kernels (focalboost._kernels) against the numpy closed forms of focalboost.losses.

Tolerances, stated once:
* gradient, positive hessian and loss: relative 1e-13 (the two implementations round differently:
  the kernels use their own exp/log1p, within 1 ulp of libm, and r**gamma by multiplication for an
  integer gamma; the differences measured are <= 4e-14);
* exact hessian: 1e-13 of the size of the terms being summed (|exact| + the dropped negative
  term, as in test_losses.py): near its sign change the value is a cancellation;
* multiclass: relative 2e-13. u = z_y - lse_o is rounded at the scale of |z| (up to 80 here), and
  the focal factor R**gamma ~ exp(-gamma u) turns that into relative errors up to about
  (gamma + 1) |u| eps ~ 6e-14 at gamma = 5, in both implementations, in different places
  (test_multiclass_disagreements_are_rounding checks both against 50-digit mpmath);
* margins of +-1e4: finite everywhere; relative 1e-10, because the numpy reference itself loses
  eps * 1e4 ~ 2e-12 there (its logsumexp and its log-shares are rounded at the scale of 1e4).

Compilation: each distinct combination of argument dtypes compiles once (~1-4 s, then cached on
disk), so these tests use few combinations: float64 margins across the parameter grid, and
float32 margins with float32 labels (what XGBoost passes) for the common case.
"""

import multiprocessing
import os
import sys

import numpy as np
import pytest

from focalboost import BinaryFocalLoss, MulticlassFocalLoss
from focalboost import _kernels as K

GAMMAS = [0, 0.5, 1, 2, 2.5, 5]
RTOL = 1e-13
RTOL_MULTICLASS = 2e-13
TINY = 1e-300  # absolute floor for values that underflow to (almost) 0 in both implementations


def _binary_data(n=3000, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-40, 40, n)
    x[:12] = [1e4, -1e4, 1e4, -1e4, 0.0, -0.0, 40.0, -40.0, 1e-8, -1e-8, 700.0, -700.0]
    y = rng.integers(0, 2, n)
    y[:4] = [1, 1, 0, 0]
    w = rng.uniform(0.0, 3.0, n)
    w[5] = 0.0
    return y, x.astype(dtype), w


def _multiclass_data(n=2000, k=4, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    Z = rng.uniform(-40, 40, (n, k))
    Z[0] = 0.0  # ties everywhere
    Z[1, :2] = 7.5  # a tie for the max of the other classes
    Z[2, 1:] = -39.0  # a dominant true class
    y = rng.integers(0, k, n)
    w = rng.uniform(0.0, 3.0, n)
    w[3] = 0.0
    return y, Z.astype(dtype), w


def _extreme_multiclass(k=4, dtype=np.float64):
    Z = np.array(
        [
            [1e4, -1e4, 3.0, 1e4],
            [-1e4, -1e4, -1e4, -1e4],
            [1e4, 0.0, -1e4, 5.0],
            [-1e4, 1e4, 1e4, -1e4],
            [1e4, -1e4, -1e4, -1e4],
        ],
        dtype=dtype,
    )[:, :k]
    y = np.array([1, 3, 0, 2, 0]) % k
    return y, Z


def _hess_tolerance(h_positive, h_exact):
    """|error| allowed for the exact hessian: RTOL of |exact| + the dropped term."""
    return RTOL * (np.abs(h_exact) + np.abs(h_positive - h_exact)) + TINY


def _check_close(actual, expected, rtol=RTOL):
    assert actual.dtype == np.float64
    assert np.all(np.isfinite(actual))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=TINY)


# --- the vectorisable elementary functions ------------------------------------------------------
def test_exp_and_log1p_within_one_ulp_of_libm():
    import numba

    jit = numba.njit(error_model="numpy", fastmath={"contract"})  # as in the kernels

    @jit
    def elementwise(x, which):
        out = np.empty_like(x)
        for i in range(x.size):
            if which == 0:
                out[i] = K._exp_nonpos(x[i])
            elif which == 1:
                out[i] = K._log1p_unit(x[i])
            elif which == 2:
                out[i] = K._log1p_unit_and_inverse(x[i])[0]
            elif which == 3:
                out[i] = K._log1p_unit_and_inverse(x[i])[1]
            else:
                out[i] = K._log1p_nonneg(x[i])
        return out

    def ulps(actual, expected):
        return np.max(np.abs(actual - expected) / np.spacing(np.abs(expected) + 5e-324))

    rng = np.random.default_rng(0)
    v = np.concatenate([-rng.uniform(0, 50, 50_000), -rng.uniform(0, 760, 50_000), -(10.0 ** rng.uniform(-20, 0, 1000)),
                        [0.0, -0.0, -708.0, -709.5, -745.0, -745.2, -746.0, -1e4, -np.inf]])
    assert ulps(elementwise(v, 0), np.exp(v)) <= 1.0
    t = np.concatenate([rng.random(50_000), 10.0 ** rng.uniform(-300, 0, 20_000),
                        [0.0, 1.0, 0.41421356237309503, 0.41421356237309515, 5e-324]])
    assert ulps(elementwise(t, 1), np.log1p(t)) <= 1.0
    assert ulps(elementwise(t, 2), np.log1p(t)) <= 1.5
    assert ulps(elementwise(t, 3), 1.0 / (1.0 + t)) <= 2.0
    x = np.concatenate([t, rng.uniform(1, 20, 20_000), 10.0 ** rng.uniform(0, 300, 20_000)])
    assert ulps(elementwise(x, 4), np.log1p(x)) <= 2.0  # 1 + x rounds once above 1


# --- the kernels against the numpy closed forms -------------------------------------------------
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", [None, 0.25])
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_matches_numpy_closed_form(gamma, alpha, weighted):
    y, x, w = _binary_data()
    w = w if weighted else None
    results = {}
    for hessian in ("positive", "exact"):
        ref = BinaryFocalLoss(gamma, alpha, hessian=hessian)
        g_ref, h_ref = ref.reference_gradient_hessian(y, x, w)
        g, h = K.binary_gradient_hessian(y, x, gamma, alpha, hessian == "exact", w)
        _check_close(g, g_ref)
        results[hessian] = h, h_ref
    h_pos, h_pos_ref = results["positive"]
    _check_close(h_pos, h_pos_ref)
    h_exact, h_exact_ref = results["exact"]
    assert np.all(np.abs(h_exact - h_exact_ref) <= _hess_tolerance(h_pos_ref, h_exact_ref))
    loss = K.binary_loss(y, x, gamma, alpha, w)
    _check_close(loss, BinaryFocalLoss(gamma, alpha).loss(y, x, w))


@pytest.mark.parametrize("alpha", [None, 0.25, "per label"])
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_runs_the_binary_kernel(alpha, weighted):
    """MultiLabelFocalLoss's gradient and hessian come from the binary kernel, element for
    element (bit for bit what BinaryFocalLoss gives on each label column), and match the numpy
    closed forms as the binary kernel does; the old numpy-only path was 2.7x the built-in
    objective's training time at 200k x 5 (benchmarks/RESULTS.md)."""
    from focalboost import MultiLabelFocalLoss

    y1, x1, w = _binary_data()
    L = 4
    n = x1.shape[0] // L
    x = x1[: n * L].reshape(n, L)
    y = y1[: n * L].reshape(n, L)
    w = w[:n] if weighted else None
    alphas = np.array([0.1, 0.3, 0.6, 0.9]) if alpha == "per label" else alpha
    for hessian in ("positive", "exact"):
        loss = MultiLabelFocalLoss(2.0, alphas, hessian=hessian)
        fast = loss.fast_gradient_hessian(y, x, w)
        assert fast is not None
        g, h = fast
        for label in range(L):
            a = alphas[label] if alpha == "per label" else alpha
            column = BinaryFocalLoss(2.0, a, hessian=hessian).fast_gradient_hessian(
                y[:, label], np.ascontiguousarray(x[:, label]), w)
            np.testing.assert_array_equal(g[:, label], column[0])
            np.testing.assert_array_equal(h[:, label], column[1])
        g_ref, h_ref = loss.reference_gradient_hessian(y, x, w)
        _check_close(g, g_ref)
        if hessian == "positive":
            _check_close(h, h_ref)
        assert np.array_equal(loss.gradient_hessian(y, x, w)[0], g)  # the default path


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", [None, "vector"])
@pytest.mark.parametrize("weighted", [False, True])
def test_multiclass_matches_numpy_closed_form(gamma, alpha, weighted):
    k = 4
    y, Z, w = _multiclass_data(k=k)
    alpha = np.array([0.5, 1.0, 2.0, 0.25]) if alpha == "vector" else None
    w = w if weighted else None
    results = {}
    for hessian in ("positive", "exact"):
        ref = MulticlassFocalLoss(k, gamma, alpha, hessian=hessian)
        g_ref, h_ref = ref.reference_gradient_hessian(y, Z, w)
        g, h = K.multiclass_gradient_hessian(y, Z, gamma, alpha, hessian == "exact", w)
        assert g.shape == h.shape == (len(y), k)
        _check_close(g, g_ref, RTOL_MULTICLASS)
        results[hessian] = h, h_ref
    h_pos, h_pos_ref = results["positive"]
    _check_close(h_pos, h_pos_ref, RTOL_MULTICLASS)
    h_exact, h_exact_ref = results["exact"]
    tol = _hess_tolerance(h_pos_ref, h_exact_ref) * (RTOL_MULTICLASS / RTOL)
    assert np.all(np.abs(h_exact - h_exact_ref) <= tol)
    loss = K.multiclass_loss(y, Z, gamma, alpha, w)
    _check_close(loss, MulticlassFocalLoss(k, gamma, alpha).loss(y, Z, w), RTOL_MULTICLASS)


@pytest.mark.parametrize("gamma", [2, 2.5])
def test_float32_margins_and_labels(gamma):
    """What XGBoost passes: float32 margins and float32 labels, used as they are."""
    y, x, _ = _binary_data(dtype=np.float32)
    g, h = K.binary_gradient_hessian(y.astype(np.float32), x, gamma, 0.25)
    g_ref, h_ref = BinaryFocalLoss(gamma, 0.25).gradient_hessian(y, x.astype(np.float64))
    _check_close(g, g_ref)
    _check_close(h, h_ref)
    yc, Z, _ = _multiclass_data(dtype=np.float32)
    G, H = K.multiclass_gradient_hessian(yc.astype(np.float32), Z, gamma)
    G_ref, H_ref = MulticlassFocalLoss(4, gamma).gradient_hessian(yc, Z.astype(np.float64))
    _check_close(G, G_ref, RTOL_MULTICLASS)
    _check_close(H, H_ref, RTOL_MULTICLASS)


@pytest.mark.parametrize("gamma", [0, 2, 2.5])
@pytest.mark.parametrize("exact", [False, True])
def test_extreme_multiclass_margins(gamma, exact):
    y, Z = _extreme_multiclass()
    hessian = "exact" if exact else "positive"
    G, H = K.multiclass_gradient_hessian(y, Z, gamma, None, exact)
    G_ref, H_ref = MulticlassFocalLoss(4, gamma, hessian=hessian).gradient_hessian(y, Z)
    assert np.all(np.isfinite(G)) and np.all(np.isfinite(H))
    np.testing.assert_allclose(G, G_ref, rtol=1e-10, atol=TINY)
    np.testing.assert_allclose(H, H_ref, rtol=1e-10, atol=TINY)
    # a row of equal margins gives exact shares: 1/3 each for the others, here at +-1e4
    row = Z[1]
    assert np.all(row == row[0])
    P = 0.25
    G_eq = K.multiclass_gradient_hessian(y[1:2], np.zeros((1, 4)), gamma, None, exact)[0]
    np.testing.assert_array_equal(G[1], G_eq[0])
    np.testing.assert_allclose(-G[1, y[1]], (0.75**gamma) * (gamma * P * np.log(4) + 0.75), rtol=1e-14)


def test_multiclass_disagreements_are_rounding():
    """Where kernel and numpy reference differ most, both are within 1e-13 of 50-digit arithmetic."""
    import mpmath as mp  # a dev dependency: no skip
    mp.mp.dps = 50
    gamma = 5.0
    y, Z, _ = _multiclass_data(n=2000, k=4)
    rows = np.arange(len(y))
    G = K.multiclass_gradient_hessian(y, Z, gamma)[0][rows, y]
    G_ref = MulticlassFocalLoss(4, gamma).reference_gradient_hessian(y, Z)[0][rows, y]
    worst = np.argsort(np.abs(G - G_ref) / np.abs(G_ref))[-8:]
    assert np.max(np.abs(G - G_ref)[worst] / np.abs(G_ref[worst])) > 1e-14  # they do differ
    for i in worst:
        z = [mp.mpf(float(v)) for v in Z[i]]
        u = z[y[i]] - mp.log(sum(mp.exp(z[j]) for j in range(4) if j != y[i]))
        P, R = 1 / (1 + mp.exp(-u)), 1 / (1 + mp.exp(u))
        true = -(R**gamma) * (gamma * P * -mp.log(P) + R)
        assert abs((G[i] - true) / true) < 1e-13
        assert abs((G_ref[i] - true) / true) < 1e-13


def test_gamma0_is_softmax_cross_entropy_and_log_loss():
    y, Z, _ = _multiclass_data(k=5)
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    G, H = K.multiclass_gradient_hessian(y, Z, 0.0)
    np.testing.assert_allclose(G, P - np.eye(5)[y], rtol=1e-12, atol=1e-15)
    one_minus_P = P @ (1.0 - np.eye(5))  # the sum of the other probabilities: no cancellation
    np.testing.assert_allclose(H, P * one_minus_P, rtol=1e-12, atol=TINY)
    yb, x, _ = _binary_data()
    g, h = K.binary_gradient_hessian(yb, x, 0.0)
    p = 1.0 / (1.0 + np.exp(-np.clip(x, -700, 700)))
    np.testing.assert_allclose(g, p - yb, rtol=1e-12, atol=1e-15)


# --- dtypes, layouts, output buffers, threads ----------------------------------------------------
def test_labels_of_any_numeric_dtype_and_int_margins():
    y, x, _ = _binary_data(n=200)
    g, h = K.binary_gradient_hessian(y, x, 2.0)
    for y_other in (y.astype(np.float64), y.astype(np.int32), y.astype(bool)):
        g2, h2 = K.binary_gradient_hessian(y_other, x, 2.0)
        np.testing.assert_array_equal(g, g2)
        np.testing.assert_array_equal(h, h2)
    g3, _ = K.binary_gradient_hessian(y, np.round(x).astype(np.int64), 2.0)
    np.testing.assert_array_equal(g3, K.binary_gradient_hessian(y, np.round(x), 2.0)[0])


def test_output_buffers_and_fortran_order():
    y, Z, w = _multiclass_data(n=300)
    G, H = K.multiclass_gradient_hessian(y, Z, 2.0, None, False, w)
    ZF = np.asfortranarray(Z)
    out = (np.empty(Z.shape, order="F"), np.empty(Z.shape, order="F"))
    G2, H2 = K.multiclass_gradient_hessian(y, ZF, 2.0, None, False, w, out=out)
    assert G2 is out[0] and H2 is out[1]
    np.testing.assert_array_equal(G, G2)
    np.testing.assert_array_equal(H, H2)
    out32 = (np.empty(Z.shape, np.float32), np.empty(Z.shape, np.float32))
    G3, _ = K.multiclass_gradient_hessian(y, Z, 2.0, None, False, w, out=out32)
    np.testing.assert_array_equal(G3, G.astype(np.float32))
    yb, x, wb = _binary_data(n=300)
    buf = (np.empty(300), np.empty(300))
    g, h = K.binary_gradient_hessian(yb, x, 2.0, 0.25, False, wb, out=buf)
    assert g is buf[0] and h is buf[1]
    np.testing.assert_array_equal(g, K.binary_gradient_hessian(yb, x, 2.0, 0.25, False, wb)[0])
    with pytest.raises(ValueError, match="pair of float64"):
        K.binary_gradient_hessian(yb, x, 2.0, out=(np.empty(299), np.empty(299)))
    with pytest.raises(ValueError, match="must not overlap"):
        K.binary_gradient_hessian(yb, x, 2.0, out=(buf[0], buf[0]))


def test_chunked_threads_give_identical_results(monkeypatch):
    """Rows split into chunks taken by several threads change nothing, bit for bit."""
    yb, x, wb = _binary_data(n=5001)
    yc, Z, wc = _multiclass_data(n=1000, k=3)
    single = (
        K.binary_gradient_hessian(yb, x, 2.5, 0.25, True, wb),
        K.multiclass_gradient_hessian(yc, Z, 2.5, None, True, wc),
        K.multiclass_loss(yc, Z, 2.5, None, wc),
    )
    monkeypatch.setattr(K, "MIN_MARGINS_PER_THREAD", 100)
    monkeypatch.setattr(K, "CHUNK_MARGINS", 300)  # chunks of 256 binary rows, 128 multiclass rows
    monkeypatch.setattr(K.numba, "get_num_threads", lambda: 3)
    assert K.n_threads(len(x)) == 3
    chunked = (
        K.binary_gradient_hessian(yb, x, 2.5, 0.25, True, wb),
        K.multiclass_gradient_hessian(yc, Z, 2.5, None, True, wc),
        K.multiclass_loss(yc, Z, 2.5, None, wc),
    )
    for a, b in zip(single, chunked):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # an invalid label in the last chunk is still found
    yc_bad = yc.copy()
    yc_bad[-1] = 3
    with pytest.raises(ValueError, match="class indices in 0..2; found 1 invalid"):
        K.multiclass_gradient_hessian(yc_bad, Z, 2.5)


def _child_kernel_call(queue):
    y, x, _ = _binary_data(n=400)
    queue.put(float(K.binary_gradient_hessian(y, x, 2.0)[0].sum()))


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_kernels_work_in_a_forked_child(monkeypatch):
    """The thread pool is re-created after a fork (the parent's pool threads do not exist in the
    child; GNU OpenMP, numba's default threading layer, is not fork safe at all)."""
    monkeypatch.setattr(K, "MIN_MARGINS_PER_THREAD", 100)
    monkeypatch.setattr(K, "CHUNK_MARGINS", 128)
    monkeypatch.setattr(K.numba, "get_num_threads", lambda: 2)
    y, x, _ = _binary_data(n=400)
    expected = float(K.binary_gradient_hessian(y, x, 2.0)[0].sum())  # the parent's pool exists
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_kernel_call, args=(queue,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == expected


def test_the_pool_is_made_once_and_never_replaced_or_shut_down(monkeypatch):
    """A call needing more threads than the pool has must not replace (and shut down) the pool
    another thread may be about to submit to (tests/test_concurrency.py has the race itself)."""
    monkeypatch.setattr(K, "MIN_MARGINS_PER_THREAD", 100)
    monkeypatch.setattr(K, "CHUNK_MARGINS", 128)
    y, x, _ = _binary_data(n=2000)
    expected = K.binary_gradient_hessian(y, x, 2.0)
    pool = K._thread_pool()
    for threads in (2, 3, 8):  # growing requests
        monkeypatch.setattr(K.numba, "get_num_threads", lambda threads=threads: threads)
        for got, want in zip(K.binary_gradient_hessian(y, x, 2.0), expected):
            np.testing.assert_array_equal(got, want)
        assert K._thread_pool() is pool
    assert pool.submit(int, 7).result() == 7  # not shut down


# --- validation at no extra pass ------------------------------------------------------------------
# the messages are focalboost._validation's, the same as the numpy formulas' (test_loss_contract.py)
@pytest.mark.parametrize(
    "bad, match",
    [
        (2, r"y_true must hold class indices in 0..1; found 1 invalid label\(s\), e.g. \[2.0\]"),
        (-1, r"y_true must hold class indices in 0..1; found 1 invalid label\(s\), e.g. \[-1.0\]"),
        (0.5, r"y_true must hold class indices in 0..1; found 1 invalid label\(s\), e.g. \[0.5\]"),
        (np.nan, r"y_true contains NaN; labels must be class indices 0..1"),
    ],
)
def test_binary_rejects_bad_labels(bad, match):
    y, x, _ = _binary_data(n=50)
    y = y.astype(np.float64)
    y[7] = bad
    with pytest.raises(ValueError, match=match):
        K.binary_gradient_hessian(y, x, 2.0)
    with pytest.raises(ValueError, match=match):
        K.binary_loss(y, x, 2.0)


@pytest.mark.parametrize("bad", [4, -1, 1.5, np.nan, np.inf])
def test_multiclass_rejects_bad_labels(bad):
    y, Z, _ = _multiclass_data(n=50)
    y = y.astype(np.float64)
    y[[3, 9]] = bad
    if np.isnan(bad):
        match = "y_true contains NaN; labels must be class indices 0..3"
    else:
        match = r"y_true must hold class indices in 0..3; found 2 invalid"
    with pytest.raises(ValueError, match=match):
        K.multiclass_gradient_hessian(y, Z, 2.0)
    with pytest.raises(ValueError, match=match):
        K.multiclass_loss(y, Z, 2.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_rejects_non_finite_margins(bad):
    y, x, _ = _binary_data(n=50)
    x[10] = bad
    with pytest.raises(ValueError, match="raw_prediction must be finite; found 1 row"):
        K.binary_gradient_hessian(y, x, 2.0)
    yc, Z, _ = _multiclass_data(n=50)
    Z[[4, 5], 2] = bad
    with pytest.raises(ValueError, match="raw_prediction must be finite; found 2 row"):
        K.multiclass_gradient_hessian(yc, Z, 2.0)


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_rejects_bad_weights(bad):
    y, x, w = _binary_data(n=50)
    w[3] = bad
    with pytest.raises(ValueError, match="sample_weight must contain finite weights >= 0"):
        K.binary_gradient_hessian(y, x, 2.0, None, False, w)
    yc, Z, wc = _multiclass_data(n=50)
    wc[3] = bad
    with pytest.raises(ValueError, match="sample_weight must contain finite weights >= 0"):
        K.multiclass_gradient_hessian(yc, Z, 2.0, None, False, wc)


def test_messages_count_every_bad_value_across_chunks_and_threads(monkeypatch):
    """The kernels only flag bad values; the message's numbers are counted on the error path."""
    monkeypatch.setattr(K, "MIN_MARGINS_PER_THREAD", 1_000)
    monkeypatch.setattr(K, "CHUNK_MARGINS", 4_096)
    y, x, w = _binary_data(n=40_000)
    y = y.astype(np.float64)
    y[[5, 20_000, 39_999]] = [2.0, 0.5, -1.0]
    with pytest.raises(ValueError, match=r"found 3 invalid label\(s\), e.g. \[-1.0, 0.5, 2.0\]"):
        K.binary_gradient_hessian(y, x, 2.0)
    y, x, w = _binary_data(n=40_000)
    x[[0, 12_345]] = [np.nan, -np.inf]
    with pytest.raises(ValueError, match=r"found 2 row\(s\) with NaN or infinite margins"):
        K.binary_loss(y, x, 2.0)
    x[[0, 12_345]] = 0.0
    w[[1, 2, 30_000, 30_001]] = [-1.0, np.nan, np.inf, -2.0]
    with pytest.raises(ValueError, match=r"found 4 invalid weight\(s\), e.g. \[-2.0, -1.0, inf, nan\]"):
        K.binary_gradient_hessian(y, x, 2.0, None, False, w)
    yc, Z, wc = _multiclass_data(n=10_000)
    Z[7, [0, 2]] = np.nan  # two in one row: one row
    Z[9_000, 1] = np.inf
    with pytest.raises(ValueError, match=r"found 2 row\(s\) with NaN or infinite margins"):
        K.multiclass_gradient_hessian(yc, Z, 2.0)


def test_rejects_bad_shapes_and_parameters():
    y, x, _ = _binary_data(n=50)
    with pytest.raises(ValueError, match="y_true has 49 rows but raw_prediction has 50"):
        K.binary_gradient_hessian(y[:-1], x, 2.0)
    with pytest.raises(ValueError, match="1-D array of 50 weights"):
        K.binary_gradient_hessian(y, x, 2.0, None, False, np.ones(3))
    with pytest.raises(ValueError, match="gamma must be a finite number >= 0"):
        K.binary_gradient_hessian(y, x, -1.0)
    with pytest.raises(TypeError, match="gamma must be a real number"):
        K.binary_gradient_hessian(y, x, "2")
    with pytest.raises(ValueError, match=r"alpha must be None or a number in the open interval \(0, 1\)"):
        K.binary_gradient_hessian(y, x, 2.0, 1.5)
    with pytest.raises(ValueError, match="2-D array"):
        K.multiclass_gradient_hessian(y, x, 2.0)
    with pytest.raises(ValueError, match="1-D vector of 3 positive per-class weights"):
        K.multiclass_gradient_hessian(y % 3, np.zeros((50, 3)), 2.0, np.ones(4))
    with pytest.raises(TypeError, match="numeric array"):
        K.binary_gradient_hessian(y, x.astype(str), 2.0)
    # XGBoost reports "no weights" as an empty array
    np.testing.assert_array_equal(
        K.binary_gradient_hessian(y, x, 2.0, None, False, np.empty(0))[0],
        K.binary_gradient_hessian(y, x, 2.0)[0],
    )


def test_cache_can_be_switched_off():
    """FOCALBOOST_NUMBA_CACHE=0 compiles in memory only (for installs with no writable cache)."""
    import subprocess

    code = (
        "from focalboost import _kernels as K; "
        "print(type(K._binary_grad_hess_kernel._cache).__name__)"
    )
    env = dict(os.environ, FOCALBOOST_NUMBA_CACHE="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "NullCache"
    assert type(K._binary_grad_hess_kernel._cache).__name__ != "NullCache" or not K._want_cache()


def test_a_weight_multiplies_the_finished_values_exactly():
    """Weight k gives exactly k times the unweighted row, as k duplicated rows would add up.

    (Folding the weight into alpha first, round(round(a w) g), differs from round(round(a g) w)
    in the last bit for about half the rows, enough to break scikit-learn's weight-equivalence
    check after XGBoost's float32 sums.)
    """
    rng = np.random.default_rng(7)
    n = 3000
    w = rng.integers(0, 5, n).astype(float)
    y, x = rng.integers(0, 2, n), rng.normal(0, 4, n)
    for exact in (False, True):
        g1, h1 = K.binary_gradient_hessian(y, x, 0.5, 0.3, exact)
        gw, hw = K.binary_gradient_hessian(y, x, 0.5, 0.3, exact, w)
        np.testing.assert_array_equal(gw, g1 * w)
        np.testing.assert_array_equal(hw, h1 * w)
        yk, Z = rng.integers(0, 3, n), rng.normal(0, 4, (n, 3))
        G1, H1 = K.multiclass_gradient_hessian(yk, Z, 0.5, [1.0, 2.0, 3.0], exact)
        Gw, Hw = K.multiclass_gradient_hessian(yk, Z, 0.5, [1.0, 2.0, 3.0], exact, w)
        np.testing.assert_array_equal(Gw, G1 * w[:, None])
        np.testing.assert_array_equal(Hw, H1 * w[:, None])
    np.testing.assert_array_equal(K.binary_loss(y, x, 2.0, 0.3, w), K.binary_loss(y, x, 2.0, 0.3) * w)


# --- the posterior correction's kernels (predict_proba) ------------------------------------------
def _numpy_binary_posterior(x, gamma, alpha):
    from focalboost import posterior as P

    return P._two_columns(P._binary_log_odds(np.asarray(x, np.float64), gamma, alpha))


def _numpy_multiclass_posterior(Z, gamma, alpha):
    from focalboost import posterior as P

    log_p, log_q = P._log_p_and_log_one_minus_p(np.asarray(Z, np.float64))
    a = P._log_weights(log_p, log_q, gamma, None if alpha is None else np.log(alpha))
    eta = np.exp(a - P.logsumexp(a, axis=1, keepdims=True))
    return eta / eta.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 7.3])
def test_posterior_kernels_match_the_numpy_formulas(dtype, gamma):
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(0, 6, 3000), [0.0, 1e-30, 700, -700, 746, -746, 1e4, -1e4]])
    x = x.astype(dtype)
    for alpha in (None, 0.25):
        ours = K.binary_posterior(x, gamma, alpha)
        assert ours.shape == (x.size, 2) and ours.dtype == np.float64
        np.testing.assert_allclose(ours, _numpy_binary_posterior(x, gamma, alpha), rtol=1e-13, atol=1e-300)
    for k in (2, 3, 10):
        Z = rng.normal(0, 5, (2000, k)).astype(dtype)
        for alpha in (None, rng.uniform(0.2, 3.0, k)):
            ours, rows = K.multiclass_posterior(Z, gamma, alpha)
            assert rows.size == 0
            ref = _numpy_multiclass_posterior(Z, gamma, alpha)
            np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-300)
            if dtype == np.float64:  # in place: the same values, written over the margins
                Z2 = Z.copy()
                same, _ = K.multiclass_posterior(Z2, gamma, alpha, out=Z2)
                assert same is Z2
                np.testing.assert_array_equal(Z2, ours)


def test_posterior_kernels_leave_huge_and_one_hot_rows_to_numpy_and_flag_bad_margins():
    margins = np.array([[0.0, 1.0], [2.0**21, 0.0], [3.0, -1.0], [0.0, -800.0]])
    ref = _numpy_multiclass_posterior(margins[[0, 2]], 2.0, None)
    eta, rows = K.multiclass_posterior(margins, 2.0)
    np.testing.assert_array_equal(rows, [1, 3])
    np.testing.assert_allclose(eta[[0, 2]], ref, rtol=1e-12)
    Z = margins.copy()  # in place: the rows left to numpy are not written, so Z keeps them
    eta, rows = K.multiclass_posterior(Z, 2.0, out=Z)
    assert eta is Z
    np.testing.assert_array_equal(rows, [1, 3])
    np.testing.assert_array_equal(Z[[1, 3]], margins[[1, 3]])
    np.testing.assert_allclose(Z[[0, 2]], ref, rtol=1e-12)
    with pytest.raises(ValueError, match="finite"):
        K.binary_posterior(np.array([0.0, np.nan]), 2.0)
    bad = np.array([[0.0, np.inf], [1.0, 2.0]])
    with pytest.raises(ValueError, match="found 1 row"):  # the bad row is not overwritten
        K.multiclass_posterior(bad, 2.0, out=bad)
    for out in (np.empty((2, 2), np.float32), np.empty((3, 2)), np.empty((2, 2), order="F")[:, :1]):
        with pytest.raises(ValueError, match="out must be"):
            K.multiclass_posterior(np.zeros((2, 2)), 2.0, out=out)


# --- LLVM's code pages (peak memory, issue 17 part 4) ---------------------------------------------
_PAGE_OUT = r"""
import json, mmap, os, sys
from focalboost import _kernels as K

def resident_mb(name):
    total, ours = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and ":" not in fields[0]:
                ours = len(fields) >= 6 and os.path.basename(fields[5]).startswith(name)
            elif ours and fields[0] == "Rss:":
                total += int(fields[1])
    return total / 1024

path = sys.argv[1]
with open(path, "rb") as f:
    pages = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
checksum = sum(pages[i] for i in range(0, len(pages), 4096))  # touch every page
before = resident_mb("libfocalboost_test")
released = K._page_out("libfocalboost_test")
after = resident_mb("libfocalboost_test")
print(json.dumps([before, released, after, checksum == sum(pages[i] for i in range(0, len(pages), 4096))]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="MADV_PAGEOUT is Linux's")
def test_page_out_takes_back_a_read_only_mapping_and_keeps_its_contents(tmp_path):
    """The mechanism of release_llvm_pages on a file only this test's child maps (LLVM's own pages
    are shared with this test process, which loaded numba too, so Linux keeps those)."""
    import json
    import subprocess

    path = tmp_path / "libfocalboost_test.so"
    path.write_bytes(np.random.default_rng(0).integers(0, 255, 16 << 20, dtype=np.uint8).tobytes())
    done = subprocess.run([sys.executable, "-c", _PAGE_OUT, str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    before, released, after, same = json.loads(done.stdout.strip().splitlines()[-1])
    assert before > 12 and released > 12 and after < 1, (before, released, after)
    assert same


def test_the_first_large_call_after_new_code_releases_llvm_pages_once(monkeypatch):
    calls = []
    monkeypatch.setattr(K, "release_llvm_pages", lambda: calls.append(1) or setattr(K, "_llvm_touched", False))
    monkeypatch.setattr(K, "_llvm_touched", True)  # as after importing numba or loading a kernel
    loss = BinaryFocalLoss(gamma=2.0, alpha=0.25)

    def call(n):
        y = (np.arange(n) % 3 == 0).astype(np.float32)
        raw = np.zeros(n, np.float32)
        return loss.fast_gradient_hessian(y, raw, None, out=(np.empty(n, np.float32), np.empty(n, np.float32)))

    call(K.RELEASE_MARGINS - 1)
    assert calls == []
    call(K.RELEASE_MARGINS)
    assert calls == [1]
    call(K.RELEASE_MARGINS)
    assert calls == [1]  # nothing new loaded since
    monkeypatch.setattr(K, "_llvm_touched", True)
    call(K.RELEASE_MARGINS)
    assert calls == [1, 1]


def test_llvm_pages_go_before_a_large_call_writes_its_outputs(monkeypatch):
    """The code is loaded on an empty range first and the pages released then: the first call of
    a fit does not hold LLVM's code and its new gradient and hessian at once."""
    n = K.RELEASE_MARGINS
    grad, hess = np.full(n, np.nan, np.float32), np.full(n, np.nan, np.float32)
    seen = []
    monkeypatch.setattr(K, "release_llvm_pages", lambda: seen.append(bool(np.isnan(grad).all()))
                        or setattr(K, "_llvm_touched", False))
    monkeypatch.setattr(K, "_llvm_touched", True)
    y = (np.arange(n) % 3 == 0).astype(np.float32)
    BinaryFocalLoss(gamma=2.0, alpha=0.25).fast_gradient_hessian(y, np.zeros(n, np.float32), None,
                                                                  out=(grad, hess))
    assert seen == [True]  # released once, before the kernel wrote the gradient
    assert np.isfinite(grad).all() and np.isfinite(hess).all()


def test_release_llvm_pages_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("FOCALBOOST_RELEASE_LLVM_PAGES", "0")
    monkeypatch.setattr(K, "_page_out", lambda name: pytest.fail("paged out while switched off"))
    assert K.release_llvm_pages() == 0.0


# --- offset: the margins plus a constant, added inside the pass (FocalLGBMClassifier) -----------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_offset_is_the_kernel_at_the_summed_margins(dtype, weighted):
    rng = np.random.default_rng(7)
    n = 120_000  # several chunks: the threads see the offset too
    raw = (rng.normal(0.0, 5.0, n)).astype(dtype)
    raw[:3] = [-40.0, 40.0, 0.0]
    y = (rng.random(n) < 0.2).astype(np.float32)
    w = rng.uniform(0.0, 3.0, n) if weighted else None
    offset = -1.3862943611198906  # log(1/4): a binary init score
    got = K.binary_gradient_hessian(y, raw, 2.0, 0.25, False, w, offset=offset)
    want = K.binary_gradient_hessian(y, raw.astype(np.float64) + offset, 2.0, 0.25, False, w)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    loss = BinaryFocalLoss(gamma=2.0, alpha=0.25)
    for a, b in zip(loss.fast_gradient_hessian(y, raw, w, offset=offset), want):
        np.testing.assert_array_equal(a, b)
    # offset 0 is no offset, bit for bit
    for a, b in zip(K.binary_gradient_hessian(y, raw, 2.0, 0.25, False, w, offset=0.0),
                    K.binary_gradient_hessian(y, raw, 2.0, 0.25, False, w)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_multiclass_offset_is_the_kernel_at_the_summed_margins(order, dtype):
    rng = np.random.default_rng(8)
    n, k = 30_000, 4
    raw = np.asarray(rng.normal(0.0, 4.0, (n, k)), dtype=dtype, order=order)
    y = rng.integers(0, k, n).astype(np.float32)
    w = rng.uniform(0.0, 2.0, n)
    offset = np.array([0.3, -1.2, 2.5, -0.01])
    summed = np.asarray(raw, dtype=np.float64) + offset
    got = K.multiclass_gradient_hessian(y, raw, 2.0, [1, 2, 3, 4], True, w, offset=offset)
    want = K.multiclass_gradient_hessian(y, summed, 2.0, [1, 2, 3, 4], True, w)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    loss = MulticlassFocalLoss(n_classes=k, gamma=2.0)
    for a, b in zip(loss.fast_gradient_hessian(y, raw, w, offset=offset),
                    loss.fast_gradient_hessian(y, summed, w)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="offset has 3 values for 4 classes"):
        K.multiclass_gradient_hessian(y, raw, 2.0, offset=offset[:3])


def test_library_gradient_hessian_offset_on_every_path():
    """The hooks' entry: the focal kernels add the offset as they read; a loss without an
    offset-taking kernel (finite differences, multi-label), or a loss scale, gets raw + offset."""
    from focalboost import MultiLabelFocalLoss
    from focalboost._adapter import library_gradient_hessian

    rng = np.random.default_rng(9)
    n = 2_000
    raw = rng.normal(0.0, 3.0, n)
    y = (rng.random(n) < 0.3).astype(np.float32)
    cases = [
        (BinaryFocalLoss(gamma=2.0, alpha=0.25), y, raw, -0.7, 1.0),
        (BinaryFocalLoss(gamma=2.0, derivatives="finite_difference"), y, raw, -0.7, 1.0),
        (BinaryFocalLoss(gamma=1.0), y, raw, 0.4, 3.0),
        (MulticlassFocalLoss(n_classes=3, gamma=2.0), (y * 2).astype(np.float32),
         np.asfortranarray(rng.normal(size=(n, 3))), np.array([0.1, -0.2, 0.3]), 1.0),
        (MultiLabelFocalLoss(gamma=2.0), (rng.random((n, 2)) < 0.3).astype(np.float32),
         rng.normal(size=(n, 2)), np.array([0.5, -0.5]), 1.0),
    ]
    for loss, yy, margins, offset, scale in cases:
        got = library_gradient_hessian(loss, yy, margins, None, scale, offset)
        want = library_gradient_hessian(loss, yy, margins + offset, None, scale)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
