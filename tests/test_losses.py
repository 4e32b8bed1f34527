"""The focal loss math: closed forms against log loss, finite differences and 50-digit arithmetic.

Tolerances, stated once:
* closed form vs mpmath (50 digits): relative 1e-13 of the size of the terms being summed (for
  the hessian: |exact| + the dropped negative term, since near the hessian's sign change the
  true value is a cancellation that no float64 formula can resolve better than its terms);
* closed form vs our finite differences: gradient |diff| <= 1e-9 |g| + 1e-11 (1 + |L|),
  hessian |diff| <= 1e-6 |h| + 1e-9 (1 + |L|) — the error model in finite_difference.py
  (rounding of L divided by the step, plus truncation).
"""

import pickle

import mpmath as mp
import numpy as np
import pytest
from scipy.special import expit, logsumexp, softmax

from focalboost import (
    BinaryFocalLoss,
    FiniteDifferenceBinaryLoss,
    FiniteDifferenceMulticlassLoss,
    MulticlassFocalLoss,
)
from focalboost.losses import signed_focal_terms

GAMMAS = [0.0, 0.5, 1.0, 2.0, 5.0]
BINARY_ALPHAS = [None, 0.25, 0.9]
mp.mp.dps = 50


def _random_binary(n, seed, low=-20, high=20):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2, n), rng.uniform(low, high, n)


def _random_multiclass(n, K, seed, scale=8.0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, K, n), rng.normal(0, scale, (n, K))


# --- gamma = 0 is log loss -----------------------------------------------------------------------
def test_binary_gamma0_is_log_loss():
    y, x = _random_binary(500, 0)
    loss = BinaryFocalLoss(gamma=0.0)
    p = expit(x)
    g, h = loss.gradient_hessian(y, x)
    np.testing.assert_allclose(g, p - y, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(h, p * expit(-x), rtol=1e-12, atol=1e-300)  # 1 - p without cancellation
    log_loss = np.logaddexp(0.0, np.where(y == 1, -x, x))  # softplus(-u): no 1 - p cancellation
    np.testing.assert_allclose(loss.loss(y, x), log_loss, rtol=1e-13)
    # exact and positive hessians coincide at gamma = 0
    np.testing.assert_array_equal(h, BinaryFocalLoss(0.0, hessian="exact").gradient_hessian(y, x)[1])


@pytest.mark.parametrize("K", [2, 3, 7])
def test_multiclass_gamma0_is_softmax_cross_entropy(K):
    y, Z = _random_multiclass(400, K, K)
    P = softmax(Z, axis=1)
    Y = np.eye(K)[y]
    lse = logsumexp(Z, axis=1)
    one_minus_P = np.column_stack(  # 1 - P_k as the others' share, without cancellation
        [np.exp(logsumexp(np.delete(Z, k, axis=1), axis=1) - lse) for k in range(K)]
    )
    for hessian in ["positive", "exact"]:
        g, h = MulticlassFocalLoss(K, gamma=0.0, hessian=hessian).gradient_hessian(y, Z)
        np.testing.assert_allclose(g, P - Y, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(h, P * one_minus_P, rtol=1e-12, atol=1e-300)
    # -log p_y = softplus(-(z_y - lse of the others)): lse - z_y would cancel for confident rows
    lse_others = np.array([logsumexp(np.delete(Z[i], y[i])) for i in range(len(y))])
    ce = np.logaddexp(0.0, lse_others - Z[np.arange(len(y)), y])
    np.testing.assert_allclose(MulticlassFocalLoss(K, 0.0).loss(y, Z), ce, rtol=1e-13)


def test_multiclass_with_two_classes_equals_binary():
    y, x = _random_binary(300, 3)
    Z = np.column_stack([np.zeros_like(x), x])
    for gamma in GAMMAS:
        for hessian in ["positive", "exact"]:
            gb, hb = BinaryFocalLoss(gamma, hessian=hessian).gradient_hessian(y, x)
            gm, hm = MulticlassFocalLoss(2, gamma, hessian=hessian).gradient_hessian(y, Z)
            np.testing.assert_allclose(gm[:, 1], gb, rtol=1e-13, atol=1e-300)
            # the column of the class that is not y uses the j != y formula: the same value summed
            # differently, so near the exact hessian's sign change it agrees to the size of its terms
            hb_pos = BinaryFocalLoss(gamma).gradient_hessian(y, x)[1]
            for column in (0, 1):
                diff = np.abs(hm[:, column] - hb)
                assert np.all(diff <= 1e-13 * (np.abs(hb) + 2 * np.abs(hb_pos - hb)))


# --- against finite differences -------------------------------------------------------------------
def _assert_fd_close(loss_value, g, h, g_fd, h_fd):
    scale = 1.0 + np.abs(loss_value)
    assert np.all(np.abs(g - g_fd) <= 1e-9 * np.abs(g) + 1e-11 * scale), np.max(np.abs(g - g_fd))
    assert np.all(np.abs(h - h_fd) <= 1e-6 * np.abs(h) + 1e-9 * scale), np.max(np.abs(h - h_fd))


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", BINARY_ALPHAS)
def test_binary_closed_form_matches_finite_differences(gamma, alpha):
    y, x = _random_binary(2000, 10)
    exact = BinaryFocalLoss(gamma, alpha, hessian="exact")
    fd = BinaryFocalLoss(gamma, alpha, hessian="exact", derivatives="finite_difference")
    g, h = exact.gradient_hessian(y, x)
    g_fd, h_fd = fd.gradient_hessian(y, x)
    _assert_fd_close(exact.loss(y, x), g, h, g_fd, h_fd)


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("K", [2, 3, 7])
def test_multiclass_closed_form_matches_finite_differences(gamma, K):
    y, Z = _random_multiclass(400, K, 20 + K, scale=6.0)
    alpha = np.linspace(0.5, 2.0, K)
    exact = MulticlassFocalLoss(K, gamma, alpha, hessian="exact")
    fd = MulticlassFocalLoss(K, gamma, alpha, hessian="exact", derivatives="finite_difference")
    g, h = exact.gradient_hessian(y, Z)
    g_fd, h_fd = fd.gradient_hessian(y, Z)
    _assert_fd_close(exact.loss(y, Z)[:, None], g, h, g_fd, h_fd)


def test_generic_finite_difference_loss_of_any_function():
    """A user loss (here squared error on the probability) gets sensible derivatives."""
    y, x = _random_binary(200, 4, -6, 6)
    loss = FiniteDifferenceBinaryLoss(_brier, hessian="exact")
    p = expit(x)
    g, h = loss.gradient_hessian(y, x)
    np.testing.assert_allclose(g, 2 * (p - y) * p * (1 - p), rtol=1e-9, atol=1e-12)
    dp = p * (1 - p)
    np.testing.assert_allclose(h, 2 * dp * dp + 2 * (p - y) * dp * (1 - 2 * p), rtol=1e-6, atol=1e-9)
    assert pickle.loads(pickle.dumps(loss)) == loss


def _brier(y, x):
    return (expit(x) - y) ** 2


def _multiclass_ce(y, Z):
    from scipy.special import logsumexp

    return logsumexp(Z, axis=1) - Z[np.arange(len(y)), y]


def test_generic_finite_difference_multiclass():
    y, Z = _random_multiclass(100, 4, 5, scale=3)
    loss = FiniteDifferenceMulticlassLoss(_multiclass_ce, 4, hessian="exact")
    P = softmax(Z, axis=1)
    g, h = loss.gradient_hessian(y, Z)
    np.testing.assert_allclose(g, P - np.eye(4)[y], atol=1e-11)
    np.testing.assert_allclose(h, P * (1 - P), atol=1e-9)
    # positive policy clips
    _, h_pos = FiniteDifferenceMulticlassLoss(_multiclass_ce, 4).gradient_hessian(y, Z)
    assert np.all(h_pos >= 1e-6)


def test_finite_difference_rejects_wrong_shape():
    loss = FiniteDifferenceBinaryLoss(lambda y, x: np.zeros(len(x) + 1))
    with pytest.raises(ValueError, match="one loss per row"):
        loss.gradient_hessian(np.array([0, 1]), np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="callable"):
        FiniteDifferenceBinaryLoss("not a function")


# --- against 50-digit arithmetic ------------------------------------------------------------------
def _digits_for(x, gamma):
    """Working digits for mp.diff: its step rounding is relative to |f| ~ |x| while the derivatives
    fall like exp(-(gamma + 1) |x|), so resolve those too, plus 40 digits to spare."""
    return 40 + int(abs(x) * (gamma + 2) / 2.3)


def _mp_binary(y, x, gamma, alpha):
    """Loss, first and second derivative in high precision, straight from the definition."""
    a = mp.mpf(1) if alpha is None else (mp.mpf(alpha) if y == 1 else 1 - mp.mpf(alpha))

    def f(t):
        p = 1 / (1 + mp.exp(-t))
        pt = p if y == 1 else 1 - p
        return -a * (1 - pt) ** gamma * mp.log(pt)

    x = mp.mpf(x)
    return f(x), mp.diff(f, x, 1), mp.diff(f, x, 2)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
@pytest.mark.parametrize("alpha", [None, 0.25])
def test_binary_closed_form_matches_mpmath(gamma, alpha):
    x = np.concatenate([np.linspace(-30, 30, 31), [-300.0, -80.0, 80.0, 300.0]])
    for y in (0, 1):
        labels = np.full(x.shape, y)
        exact = BinaryFocalLoss(gamma, alpha, hessian="exact")
        L = exact.loss(labels, x)
        g, h = exact.gradient_hessian(labels, x)
        h_pos = BinaryFocalLoss(gamma, alpha).gradient_hessian(labels, x)[1]
        for i, xi in enumerate(x):
            with mp.workdps(_digits_for(xi, gamma)):
                Lm, gm, hm = (float(v) for v in _mp_binary(y, xi, gamma, alpha))
            assert abs(L[i] - Lm) <= 1e-13 * abs(Lm) + 1e-300, (xi, L[i], Lm)
            assert abs(g[i] - gm) <= 1e-13 * abs(gm) + 1e-300, (xi, g[i], gm)
            term_scale = abs(h[i]) + 2 * abs(h_pos[i] - h[i])
            assert abs(h[i] - hm) <= 1e-13 * term_scale + 1e-300, (xi, h[i], hm)


def _mp_multiclass(y, z, gamma, alpha):
    z = [mp.mpf(v) for v in z]
    K = len(z)

    def f_of(j):
        def f(t):
            zz = list(z)
            zz[j] = t
            p = mp.exp(zz[y]) / mp.fsum(mp.exp(v) for v in zz)
            return -mp.mpf(alpha[y]) * (1 - p) ** gamma * mp.log(p)

        return f

    grads = [mp.diff(f_of(j), z[j], 1) for j in range(K)]
    hess = [mp.diff(f_of(j), z[j], 2) for j in range(K)]
    return f_of(0)(z[0]), grads, hess


@pytest.mark.parametrize("gamma", [0.5, 2.0, 5.0])
def test_multiclass_closed_form_matches_mpmath(gamma):
    K = 4
    alpha = np.array([0.5, 1.0, 1.5, 3.0])
    y, Z = _random_multiclass(25, K, 7, scale=10.0)
    exact = MulticlassFocalLoss(K, gamma, alpha, hessian="exact")
    g, h = exact.gradient_hessian(y, Z)
    L = exact.loss(y, Z)
    h_pos = MulticlassFocalLoss(K, gamma, alpha).gradient_hessian(y, Z)[1]
    for i in range(len(y)):
        with mp.workdps(_digits_for(np.ptp(Z[i]), gamma)):
            Lm, gm, hm = _mp_multiclass(int(y[i]), Z[i], gamma, alpha)
        assert abs(L[i] - float(Lm)) <= 1e-13 * abs(float(Lm)) + 1e-300, (i, L[i], Lm)
        for j in range(K):
            assert abs(g[i, j] - float(gm[j])) <= 1e-13 * abs(float(gm[j])) + 1e-300
            scale = abs(h[i, j]) + 2 * abs(h_pos[i, j] - h[i, j])
            assert abs(h[i, j] - float(hm[j])) <= 1e-13 * scale + 1e-300, (i, j, h[i, j], hm[j])


def _spy(monkeypatch, cls):
    calls = []
    kernel = cls._loss_kernel
    monkeypatch.setattr(cls, "_loss_kernel", staticmethod(lambda *a: calls.append(1) or kernel(*a)))
    return calls


@pytest.mark.parametrize("derivatives", ["closed_form", "finite_difference"])
def test_loss_and_loss_sums_use_the_fused_kernel(monkeypatch, derivatives):
    """loss, mean_loss and loss_sums (the metrics' path) run the fused loss kernels: the same
    values as the numpy reference to 1e-13, the same weight denominators."""
    rng = np.random.default_rng(11)
    x = rng.uniform(-40, 40, 500)
    y = (rng.random(500) < 0.3).astype(np.float32)
    w = rng.uniform(0.0, 2.0, 500)
    y3, Z = _random_multiclass(500, 3, 12, scale=10.0)
    cases = [
        (BinaryFocalLoss, BinaryFocalLoss(2.0, 0.25, derivatives=derivatives), y, x),
        (MulticlassFocalLoss, MulticlassFocalLoss(3, 2.5, [0.5, 1.0, 2.0], derivatives=derivatives), y3, Z),
    ]
    for cls, loss, labels, raw in cases:
        calls = _spy(monkeypatch, cls)
        for weights, denominator in [(None, 500.0), (np.empty(0), 500.0), (w, w.sum())]:
            ref = loss.reference_loss(labels, raw, weights)
            np.testing.assert_allclose(loss.loss(labels, raw, weights), ref, rtol=1e-13, atol=0)
            total, weight = loss.loss_sums(labels, raw, weights)
            assert weight == denominator
            assert total == pytest.approx(ref.sum(), rel=1e-13)
            assert loss.mean_loss(labels, raw, weights) == pytest.approx(ref.sum() / denominator, rel=1e-13)
        assert len(calls) == 9
        bad = np.array(labels, dtype=np.float64)
        bad[0] = 7.0
        with pytest.raises(ValueError, match="y_true"):  # the canonical message of the numpy path
            loss.loss_sums(bad, raw)


# --- extremes, float32, weights --------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_margins_are_finite(dtype):
    x = np.array([-1e4, -1e3, -50, 0, 50, 1e3, 1e4], dtype=dtype)
    for gamma in GAMMAS:
        for y in (0, 1):
            labels = np.full(x.shape, y)
            for hessian in ("positive", "exact"):
                loss = BinaryFocalLoss(gamma, 0.25, hessian=hessian)
                for arr in (loss.loss(labels, x), *loss.gradient_hessian(labels, x)):
                    assert arr.dtype == np.float64 and np.all(np.isfinite(arr))
        # confidently wrong: gradient magnitude alpha_t, loss ~ alpha_t * |x|
        g, _ = BinaryFocalLoss(gamma, 0.25).gradient_hessian(np.array([1]), np.array([-1e4], dtype))
        assert g[0] == pytest.approx(-0.25, rel=1e-12)
    Z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [0.0, 0.0, 0.0]], dtype=dtype)
    for gamma in GAMMAS:
        for hessian in ("positive", "exact"):
            loss = MulticlassFocalLoss(3, gamma, [1, 2, 3], hessian=hessian)
            for y in range(3):
                labels = np.full(3, y)
                for arr in (loss.loss(labels, Z), *loss.gradient_hessian(labels, Z)):
                    assert np.all(np.isfinite(arr))


def test_sample_weights_scale_everything_once_and_equal_duplication():
    y, x = _random_binary(50, 11, -5, 5)
    w = np.where(np.arange(50) % 3 == 0, 2.0, 1.0)
    loss = BinaryFocalLoss(2.0, 0.3)
    g, h = loss.gradient_hessian(y, x)
    gw, hw = loss.gradient_hessian(y, x, w)
    np.testing.assert_array_equal(gw, g * w)
    np.testing.assert_array_equal(hw, h * w)
    np.testing.assert_array_equal(loss.loss(y, x, w), loss.loss(y, x) * w)
    dup = np.repeat(np.arange(50), w.astype(int))
    assert loss.mean_loss(y, x, w) == pytest.approx(loss.mean_loss(y[dup], x[dup]), rel=1e-14)
    assert loss.init_score(y, w) == pytest.approx(loss.init_score(y[dup]), abs=1e-12)

    yk, Z = _random_multiclass(60, 3, 12, scale=2)
    wk = np.where(np.arange(60) % 2 == 0, 2.0, 1.0)
    mloss = MulticlassFocalLoss(3, 1.5, [1, 2, 1])
    g, h = mloss.gradient_hessian(yk, Z)
    gw, hw = mloss.gradient_hessian(yk, Z, wk)
    np.testing.assert_array_equal(gw, g * wk[:, None])
    np.testing.assert_array_equal(hw, h * wk[:, None])
    dup = np.repeat(np.arange(60), wk.astype(int))
    np.testing.assert_allclose(mloss.init_score(yk, wk), mloss.init_score(yk[dup]), atol=1e-9)


# --- init score ---------------------------------------------------------------------------------
@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("alpha", [None, 0.25, 0.9])
def test_binary_init_score_minimises_mean_loss(gamma, alpha):
    rng = np.random.default_rng(1)
    y = (rng.random(1000) < 0.07).astype(int)
    w = rng.uniform(0.5, 2.0, 1000)
    loss = BinaryFocalLoss(gamma, alpha)
    c = loss.init_score(y, w)

    def mean_loss(const):
        return loss.mean_loss(y, np.full(y.shape, const), w)

    grid = c + np.linspace(-0.5, 0.5, 201)
    assert mean_loss(c) <= min(mean_loss(v) for v in grid) + 1e-15
    g, _ = loss.gradient_hessian(y, np.full(y.shape, c), w)
    assert abs(g.sum()) <= 1e-12 * np.abs(g).sum()
    if gamma == 0 and alpha is None:
        assert c == pytest.approx(np.log(np.sum(w * y) / np.sum(w * (1 - y))), abs=1e-12)


@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_multiclass_init_score_minimises_mean_loss(gamma):
    rng = np.random.default_rng(2)
    y = rng.choice(4, size=800, p=[0.7, 0.2, 0.07, 0.03])
    loss = MulticlassFocalLoss(4, gamma, [1.0, 2.0, 3.0, 4.0])
    z = loss.init_score(y)
    assert abs(z.sum()) < 1e-12

    def mean_loss(const):
        return loss.mean_loss(y, np.tile(const, (len(y), 1)))

    best = mean_loss(z)
    for _ in range(200):
        assert best <= mean_loss(z + rng.normal(0, 0.05, 4)) + 1e-15
    g, _ = loss.gradient_hessian(y, np.tile(z, (len(y), 1)))
    assert np.all(np.abs(g.sum(axis=0)) <= 1e-9 * len(y))
    if gamma == 0:
        prior = np.bincount(y) / len(y)
        np.testing.assert_allclose(softmax(z), prior * [1, 2, 3, 4] / np.sum(prior * [1, 2, 3, 4]), atol=1e-9)


# --- hessian sign ------------------------------------------------------------------------------------
def test_where_the_exact_binary_hessian_goes_negative():
    """gamma = 2, y = 1: the exact hessian changes sign once, at the root found in 50 digits."""
    f2 = lambda t: mp.diff(lambda s: -(1 - 1 / (1 + mp.exp(-s))) ** 2 * mp.log(1 / (1 + mp.exp(-s))), t, 2)
    root = float(mp.findroot(f2, -2.6))
    assert -2.80 < root < -2.78  # -2.7904; the issue text's "-3.8" is a point where it is clearly negative
    x = np.linspace(-12, 6, 1801)
    y = np.ones_like(x)
    _, h = BinaryFocalLoss(2.0, hessian="exact").gradient_hessian(y, x)
    assert np.all(h[x < root - 1e-9] < 0) and np.all(h[x > root + 1e-9] > 0)
    assert h[np.argmin(np.abs(x + 3.8))] < 0
    _, h_pos = BinaryFocalLoss(2.0).gradient_hessian(y, x)
    assert np.all(h_pos > 0) and np.all(h_pos >= h)
    # the positive policy stays close where the exact hessian is healthy (confident and correct)
    np.testing.assert_allclose(h_pos[x > 4], h[x > 4], rtol=0.1)


def test_multiclass_positive_hessian_bounds_exact():
    y, Z = _random_multiclass(2000, 5, 3, scale=6)
    for gamma in [0.5, 2.0, 5.0]:
        _, h = MulticlassFocalLoss(5, gamma, hessian="exact").gradient_hessian(y, Z)
        _, h_pos = MulticlassFocalLoss(5, gamma).gradient_hessian(y, Z)
        assert np.any(h < 0)  # confidently wrong rows exist in this sample
        assert np.all(h_pos >= h) and np.all(h_pos > 0)


def test_signed_terms_is_the_single_source_of_the_binary_formulas():
    u = np.linspace(-5, 5, 11)
    loss, grad, hess = signed_focal_terms(u, 2.0, exact_hessian=True)
    g, h = BinaryFocalLoss(2.0, hessian="exact").reference_gradient_hessian(np.ones(11), u)
    np.testing.assert_array_equal(grad, g)
    np.testing.assert_array_equal(hess, h)
    # the default (fused kernel) path computes the same closed form (tests/test_kernels.py: 1e-13)
    g_fast, h_fast = BinaryFocalLoss(2.0, hessian="exact").gradient_hessian(np.ones(11), u)
    np.testing.assert_allclose(g_fast, g, rtol=1e-13)
    np.testing.assert_allclose(h_fast, h, rtol=1e-12)


# --- probabilities, pickling -----------------------------------------------------------------------
def test_predict_proba_and_pickle():
    x = np.array([-800.0, -1.0, 0.0, 2.0, 800.0])
    P = BinaryFocalLoss().predict_proba(x)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(P[:, 1], expit(x))
    Z = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(MulticlassFocalLoss(3).predict_proba(Z).sum(axis=1), 1.0)
    for loss in (BinaryFocalLoss(1.0, 0.3, "exact"), MulticlassFocalLoss(3, 2.0, [1, 2, 3])):
        clone = pickle.loads(pickle.dumps(loss))
        assert clone == loss and repr(clone) == repr(loss)


# --- bad input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"gamma": -1.0}, "gamma must be a finite number >= 0"),
        ({"gamma": float("nan")}, "gamma must be a finite number >= 0"),
        ({"gamma": float("inf")}, "gamma must be a finite number >= 0"),
        ({"alpha": 0.0}, r"alpha must be None or a number in the open interval \(0, 1\)"),
        ({"alpha": 1.0}, r"alpha must be None or a number in the open interval \(0, 1\)"),
        ({"alpha": -0.5}, r"alpha must be None or a number in the open interval \(0, 1\)"),
        ({"hessian": "abs"}, "hessian must be one of"),
        ({"derivatives": "autograd"}, "derivatives must be one of"),
    ],
)
def test_binary_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BinaryFocalLoss(**kwargs)


def test_bad_parameter_types():
    with pytest.raises(TypeError, match="gamma"):
        BinaryFocalLoss(gamma="2")
    with pytest.raises(TypeError, match="alpha"):
        BinaryFocalLoss(alpha=[0.2, 0.8])


@pytest.mark.parametrize(
    "alpha, match",
    [
        ([1.0, 2.0], "alpha must be None or a 1-D vector of 3 positive"),
        ([1.0, 0.0, 2.0], "alpha must contain finite weights > 0"),
        ([1.0, -1.0, 2.0], "alpha must contain finite weights > 0"),
        ([1.0, np.nan, 2.0], "alpha must contain finite weights > 0"),
    ],
)
def test_multiclass_bad_alpha(alpha, match):
    with pytest.raises(ValueError, match=match):
        MulticlassFocalLoss(3, alpha=alpha)


def test_bad_n_classes():
    with pytest.raises(ValueError, match="n_classes must be an integer >= 2"):
        MulticlassFocalLoss(1)


@pytest.mark.parametrize(
    "y, x, match",
    [
        ([0, 2], [0.0, 1.0], r"y_true must hold class indices in 0..1; found 1 invalid label\(s\), e.g. \[2.0\]"),
        ([0, 0.5], [0.0, 1.0], r"y_true must hold class indices in 0..1"),
        ([0, np.nan], [0.0, 1.0], "y_true contains NaN"),
        ([0, 1], [0.0, np.nan], "raw_prediction must be finite"),
        ([0, 1], [0.0, np.inf], "raw_prediction must be finite"),
        ([0, 1, 1], [0.0, 1.0], "y_true has 3 rows but raw_prediction has 2"),
        ([0, 1], [[0.0], [1.0]], "raw_prediction must be a 1-D array"),
    ],
)
def test_binary_bad_data(y, x, match):
    loss = BinaryFocalLoss()
    with pytest.raises(ValueError, match=match):
        loss.gradient_hessian(np.array(y), np.array(x))
    with pytest.raises(ValueError, match=match):
        loss.loss(np.array(y), np.array(x))


def test_bad_weights_and_multiclass_shapes():
    loss = BinaryFocalLoss()
    with pytest.raises(ValueError, match="sample_weight must be a 1-D array of 2 weights"):
        loss.gradient_hessian([0, 1], [0.0, 0.0], [1.0])
    with pytest.raises(ValueError, match="sample_weight must contain finite weights >= 0"):
        loss.gradient_hessian([0, 1], [0.0, 0.0], [1.0, -1.0])
    mloss = MulticlassFocalLoss(3)
    with pytest.raises(ValueError, match="raw_prediction must have 3 columns"):
        mloss.gradient_hessian([0, 1], np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"y_true must hold class indices in 0..2; found 1 invalid label\(s\), e.g. \[3.0\]"):
        mloss.gradient_hessian([0, 3], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="at least two classes"):
        loss.init_score([1, 1, 1])
    with pytest.raises(ValueError, match=r"no \(positively weighted\) rows of class\(es\) \[2\]"):
        mloss.init_score([0, 1, 1])


# --- fast path: one set of errors, no silent fallback ---------------------------------------------
def _numpy_path_forbidden(monkeypatch, cls):
    """Make every entry to the numpy formulas of ``cls`` fail loudly."""

    def forbidden(*args, **kwargs):
        raise AssertionError("the numpy path was taken")

    for name in ("_check", "_loss", "_gradient_hessian"):
        monkeypatch.setattr(cls, name, forbidden)


_B, _X = np.array([0, 1, 1, 0, 1, 0]), np.linspace(-3.0, 3.0, 6)
_M, _Z = np.array([0, 1, 2, 2, 1, 0]), np.linspace(-3.0, 3.0, 18).reshape(6, 3)


def _with(a, index, value, dtype=np.float64):
    a = np.array(a, dtype=dtype)
    a[index] = value
    return a


INVALID = [  # (loss, y, raw, sample_weight): one or several faults
    (BinaryFocalLoss(2.0, 0.25), _with(_B, 2, 2), _X, None),
    (BinaryFocalLoss(2.0, 0.25), _with(_B, [1, 4], [np.nan, 0.5]), _X, None),
    (BinaryFocalLoss(2.0, 0.25), _B, _with(_X, 3, np.nan), None),
    (BinaryFocalLoss(2.0, 0.25), _with(_B, 0, 5), _with(_X, 3, np.inf), None),  # margins first
    (BinaryFocalLoss(2.0), _B, _X, _with(np.ones(6), 1, -1.0)),
    (BinaryFocalLoss(2.0), _with(_B, 0, 3), _X, _with(np.ones(6), 1, np.nan)),  # labels first
    (BinaryFocalLoss(2.0), _B, _X, np.ones(5)),
    (BinaryFocalLoss(2.0), _B[:5], _with(_X, 0, np.nan), None),  # shapes before values
    (BinaryFocalLoss(2.0), _B, _X[:, None], None),
    (BinaryFocalLoss(2.0), _B, _X.astype(str), None),
    (BinaryFocalLoss(2.0), _B.astype(str), _X, None),
    (BinaryFocalLoss(2.0), _B, _X, np.array(["1"] * 6)),
    (BinaryFocalLoss(2.0), _B, _X, np.ones((6, 1))),
    (MulticlassFocalLoss(3, 2.0), _M, np.zeros((6, 4)), None),
    (MulticlassFocalLoss(3, 2.0, [1.0, 2.0, 3.0]), _with(_M, 4, 3), _Z, None),
    (MulticlassFocalLoss(3, 2.0), _with(_M, 4, 1.5), _Z, None),
    (MulticlassFocalLoss(3, 2.0), _M, _with(_Z, (2, 1), np.nan), None),
    (MulticlassFocalLoss(3, 2.0), _M, _Z, _with(np.ones(6), 5, np.inf)),
    (MulticlassFocalLoss(3, 2.0), _M, _X, None),
]


@pytest.mark.parametrize("case", range(len(INVALID)))
def test_invalid_input_raises_the_same_error_on_the_fast_and_numpy_paths(monkeypatch, case):
    """The kernels raise the numpy formulas' error, wording and all, and never hand invalid input
    to the numpy path (before, a kernel's error was swallowed and the numpy path re-checked)."""
    from focalboost._adapter import library_gradient_hessian

    loss, y, raw, w = INVALID[case]
    with pytest.raises((ValueError, TypeError)) as reference:
        loss.reference_gradient_hessian(y, raw, w)
    expected = (type(reference.value), str(reference.value))
    _numpy_path_forbidden(monkeypatch, type(loss))
    calls = [
        lambda: loss.gradient_hessian(y, raw, w),
        lambda: loss.loss(y, raw, w),
        lambda: loss.loss_sums(y, raw, w),
        lambda: loss.mean_loss(y, raw, w),
        lambda: library_gradient_hessian(loss, y, raw, w),
    ]
    if np.ndim(raw) != 2 or np.shape(raw)[1] == loss.n_classes:  # the kernels take K from raw
        calls.append(lambda: loss._kernel(y, raw, loss.gamma, loss.alpha, False, w))
        calls.append(lambda: loss._loss_kernel(y, raw, loss.gamma, loss.alpha, w))
    for call in calls:
        with pytest.raises((ValueError, TypeError)) as fast:
            call()
        assert (type(fast.value), str(fast.value)) == expected


def test_valid_input_never_takes_the_numpy_path(monkeypatch):
    """Every valid input the hooks and users pass runs in the kernels: labels of any numeric dtype
    (an (n, 1) column too), float32/float64/integer margins in any memory layout, weights of any
    numeric dtype or none (XGBoost: an empty array)."""
    from focalboost._adapter import library_gradient_hessian

    rng = np.random.default_rng(5)
    y, x = _random_binary(300, 5)
    yc, Z = _random_multiclass(300, 4, 5)
    w = rng.uniform(0.0, 2.0, 300)
    binary, multiclass = BinaryFocalLoss(2.0, 0.25), MulticlassFocalLoss(4, 1.5, [1.0, 2.0, 0.5, 1.0])
    readonly = Z.astype(np.float32)
    readonly.flags.writeable = False
    # one variation at a time from (int labels, float64 margins, no weights): each new dtype or
    # layout is a numba compilation (0.7 s binary, 2.5 s multiclass) the first time
    cases = (
        [(binary, labels, x, None) for labels in (y, y.astype(np.float32), y.astype(bool), y[:, None])]
        + [(binary, y, raw, None) for raw in (x.astype(np.float32), np.round(x).astype(np.int32), x[::-1])]
        + [(binary, y, x, weights) for weights in (np.empty(0), w, w.astype(np.float32), np.ones(300, int))]
        + [(multiclass, yc, raw, None) for raw in (Z, np.asfortranarray(Z))]
        + [(multiclass, yc, Z, weights) for weights in (np.empty(0), w)]
    )
    # what the hooks pass: float32 labels (and margins: XGBoost's read-only, LightGBM's Fortran order)
    y32, w32, Z32 = y.astype(np.float32), w.astype(np.float32), np.asfortranarray(Z, np.float32)
    hooks = [(binary, y32, x.astype(np.float32), np.empty(0, np.float32)), (binary, y32, x, w32),
             (multiclass, yc.astype(np.float32), readonly, None), (multiclass, yc.astype(np.float32), Z32, None)]
    expected = [loss.reference_gradient_hessian(*args) + (loss.reference_loss(*args),) for loss, *args in cases]
    expected_hooks = [loss.reference_gradient_hessian(*args) for loss, *args in hooks]
    for cls in (BinaryFocalLoss, MulticlassFocalLoss):
        _numpy_path_forbidden(monkeypatch, cls)
    for (loss, *args), (g_ref, h_ref, l_ref) in zip(cases, expected):
        g, h = loss.gradient_hessian(*args)
        np.testing.assert_allclose(g, g_ref, rtol=1e-13, atol=1e-300)
        np.testing.assert_allclose(h, h_ref, rtol=1e-13, atol=1e-300)
        np.testing.assert_allclose(loss.loss(*args), l_ref, rtol=1e-13, atol=1e-300)
        weights = args[2]
        denominator = 300.0 if weights is None or len(weights) == 0 else np.sum(weights, dtype=np.float64)
        assert loss.loss_sums(*args) == pytest.approx((l_ref.sum(), denominator), rel=1e-12)
        assert loss.mean_loss(*args) == pytest.approx(l_ref.sum() / denominator, rel=1e-12)
    for (loss, *args), (g_ref, h_ref) in zip(hooks, expected_hooks):
        g32, h32 = library_gradient_hessian(loss, *args)
        assert g32.dtype == h32.dtype == np.float32
        np.testing.assert_allclose(g32, g_ref, rtol=1e-6, atol=1e-30)
        np.testing.assert_allclose(h32, h_ref, rtol=1e-6, atol=1e-30)


def test_a_dtype_the_kernels_do_not_take_is_computed_by_numpy_and_logged_once(monkeypatch, caplog):
    """float16 margins and big-endian weights are valid but not kernel input: the numpy formulas
    compute them (the same numbers as the reference), and the logger ``focalboost`` says so once
    per reason."""
    import focalboost.losses

    monkeypatch.setattr(focalboost.losses, "_logged_fallbacks", set())
    y, x = _random_binary(50, 8, -5, 5)
    loss = BinaryFocalLoss(2.0, 0.25)
    half = x.astype(np.float16)
    caplog.set_level("INFO", logger="focalboost")
    for _ in range(3):
        g, h = loss.gradient_hessian(y, half)
        loss.loss(y, half)
    reference = loss.reference_gradient_hessian(y, half.astype(np.float64))
    np.testing.assert_array_equal(g, reference[0])
    np.testing.assert_array_equal(h, reference[1])
    messages = [r.getMessage() for r in caplog.records if r.name == "focalboost"]
    assert len(messages) == 1 and "raw_prediction of dtype float16" in messages[0]
    big_endian = np.ones(50, dtype=">f8")
    loss.gradient_hessian(y, x, big_endian)
    loss.gradient_hessian(y, x, big_endian)
    messages = [r.getMessage() for r in caplog.records if r.name == "focalboost"]
    assert len(messages) == 2 and "sample_weight of dtype >f8" in messages[1]
    assert all(r.levelname == "INFO" for r in caplog.records if r.name == "focalboost")
