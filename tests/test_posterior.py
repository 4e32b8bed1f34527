"""Focal output -> class posterior (and back): identities, 60-digit references, risk minimisers.

The independent references are
* the formulas eta = (1 - a) l0'(p) / ((1 - a) l0'(p) - a l1'(p)) (binary) and
  eta_k proportional to 1 / (a_k psi(p_k)), psi = -l' (softmax), evaluated in 60-digit arithmetic
  with hand-written derivatives;
* the minimiser p* of the focal conditional risk, found numerically without our formulas: mpmath
  root of the numerical derivative of the binary risk, and scipy's root of the summed gradient of
  ``MulticlassFocalLoss`` (itself tested against mpmath in test_losses.py) for softmax;
* the loss objects' ``init_score`` (the minimiser of the empirical risk of a constant).

Tolerances: 1e-12 relative for the closed form against 60 digits (per entry, both binary columns,
wherever the exact value is a normal float); 1e-12 absolute for the gamma = 0 identities; 1e-8
relative for the round trips through a numerical minimiser.
"""

import mpmath as mp
import numpy as np
import pytest
from scipy import optimize
from scipy.special import expit, softmax

from focalboost.losses import BinaryFocalLoss, MulticlassFocalLoss, MultiLabelFocalLoss
from focalboost.posterior import (
    binary_optimal_margin,
    binary_posterior,
    multiclass_optimal_margin,
    multiclass_posterior,
)

mp.mp.dps = 60
GAMMAS = [0.5, 1.0, 2.0, 3.0, 5.0]
BINARY_ALPHAS = [None, 0.1, 0.25, 0.75]
CLASS_ALPHAS = {3: [None, [0.2, 1.0, 3.0]], 4: [None, [0.5, 2.0, 1.0, 0.25]]}
TINY = 1e-300  # below this the float64 value may be subnormal: compare absolutely


# --- 60-digit references -------------------------------------------------------------------------
def _mp_binary_from_logs(lp, lq, gamma, alpha):
    """(1 - eta, eta) from log p and log(1 - p), with the derivatives of l1 and l0 by hand."""
    gamma = mp.mpf(gamma)
    p, q = mp.exp(lp), mp.exp(lq)
    dl1 = gamma * q ** (gamma - 1) * lp - q**gamma / p  # d/dp [-(1-p)^g log p]
    dl0 = -gamma * p ** (gamma - 1) * lq + p**gamma / q  # d/dp [-p^g log(1-p)]
    a1 = mp.mpf(1) if alpha is None else mp.mpf(alpha)
    a0 = mp.mpf(1) if alpha is None else 1 - mp.mpf(alpha)
    den = a0 * dl0 - a1 * dl1
    return -a1 * dl1 / den, a0 * dl0 / den


def mp_binary_posterior(x, gamma, alpha):
    x = mp.mpf(float(x))
    return _mp_binary_from_logs(-mp.log1p(mp.exp(-x)), -mp.log1p(mp.exp(x)), gamma, alpha)


def mp_binary_posterior_from_p(p, gamma, alpha):
    p = mp.mpf(float(p))
    return _mp_binary_from_logs(mp.log(p), mp.log(1 - p), gamma, alpha)


def mp_multiclass_posterior(z, gamma, alpha):
    z = [mp.mpf(float(v)) for v in z]
    K = len(z)
    top = max(range(K), key=lambda k: z[k])
    e = [mp.exp(v - z[top]) for v in z]
    rest = sum(e[j] for j in range(K) if j != top)
    S = 1 + rest
    gamma = mp.mpf(gamma)
    w = []
    for k in range(K):
        log_p = z[k] - z[top] - mp.log1p(rest)
        q = (rest if k == top else S - e[k]) / S  # 1 - p_k as the others' total
        psi = q ** (gamma - 1) * (q / mp.exp(log_p) - gamma * log_p)  # -l'(p_k)
        a = 1 if alpha is None else mp.mpf(float(alpha[k]))
        w.append(1 / (a * psi))
    W = sum(w)
    return [v / W for v in w]


def assert_close_to_mp(ours, ref, rtol):
    ours = np.asarray(ours, dtype=float).ravel()
    for o, r in zip(ours, ref):
        if r > TINY:
            assert abs(o - r) <= rtol * r, (o, r)
        else:
            assert 0.0 <= o <= 2 * TINY, (o, r)


# --- gamma = 0 ---------------------------------------------------------------------------------
def test_binary_gamma0_no_alpha_is_identity():
    x = np.concatenate([np.linspace(-40, 40, 161), [-1e4, -745.0, 745.0, 1e4]])
    p = BinaryFocalLoss(gamma=0.0).predict_proba(x)
    np.testing.assert_allclose(binary_posterior(x, gamma=0.0), p, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(binary_posterior(proba=p, gamma=0.0), p, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(binary_posterior(proba=p[:, 1], gamma=0.0), p, atol=1e-12)


@pytest.mark.parametrize("K", [2, 3, 7])
def test_multiclass_gamma0_no_alpha_is_identity(K):
    rng = np.random.default_rng(K)
    Z = np.vstack([rng.normal(0, 10, (200, K)), rng.uniform(-1e4, 1e4, (20, K))])
    P = softmax(Z, axis=1)
    np.testing.assert_allclose(multiclass_posterior(Z, gamma=0.0), P, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(multiclass_posterior(proba=P, gamma=0.0), P, atol=1e-12)


@pytest.mark.parametrize("alpha", [0.01, 0.25, 0.5, 0.9])
def test_binary_alpha_alone_is_the_prior_shift_correction(alpha):
    x = np.linspace(-30, 30, 121)
    p, q = expit(x), expit(-x)
    expected = (1 - alpha) * p / ((1 - alpha) * p + alpha * q)
    eta = binary_posterior(x, gamma=0.0, alpha=alpha)
    np.testing.assert_allclose(eta[:, 1], expected, rtol=1e-12)
    np.testing.assert_allclose(eta[:, 0], alpha * q / ((1 - alpha) * p + alpha * q), rtol=1e-12)
    # and the inverse re-applies the shift
    np.testing.assert_allclose(binary_optimal_margin(eta, gamma=0.0, alpha=alpha), x, atol=1e-12)


@pytest.mark.parametrize("K", [3, 5])
def test_multiclass_alpha_alone_is_the_prior_shift_correction(K):
    rng = np.random.default_rng(10 + K)
    Z = rng.normal(0, 6, (300, K))
    alpha = rng.uniform(0.05, 5.0, K)
    P = softmax(Z, axis=1)
    expected = (P / alpha) / (P / alpha).sum(axis=1, keepdims=True)
    eta = multiclass_posterior(Z, gamma=0.0, alpha=alpha)
    np.testing.assert_allclose(eta, expected, rtol=1e-12)
    back = multiclass_optimal_margin(eta, gamma=0.0, alpha=alpha)
    np.testing.assert_allclose(softmax(back, axis=1), P, rtol=1e-11)


def test_alpha_half_is_no_alpha():
    x = np.linspace(-20, 20, 41)
    for gamma in [0.0, 2.0]:
        np.testing.assert_array_equal(
            binary_posterior(x, gamma=gamma, alpha=0.5), binary_posterior(x, gamma=gamma)
        )


# --- the closed form against 60 digits ---------------------------------------------------------
@pytest.mark.parametrize("gamma", [0.0] + GAMMAS)
def test_binary_matches_mpmath(gamma):
    # up to the margins where eta underflows: logit(eta) ~ (1 + gamma) x
    x = np.concatenate(
        [np.linspace(-40, 40, 81), np.array([-700, -300, -1e-8, 1e-8, 300, 700]) / (1 + gamma)]
    )
    for alpha in BINARY_ALPHAS:
        ours = binary_posterior(x, gamma=gamma, alpha=alpha)
        for i, xi in enumerate(x):
            assert_close_to_mp(ours[i], mp_binary_posterior(xi, gamma, alpha), rtol=1e-12)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_binary_from_probabilities_near_0_and_1_matches_mpmath(gamma):
    p = np.array([1e-300, 1e-15, 1e-12, 1e-6, 0.3, 0.5, 0.9, 1 - 1e-6, 1 - 1e-12, 1 - 1e-15])
    for alpha in [None, 0.25]:
        ours = binary_posterior(proba=p, gamma=gamma, alpha=alpha)
        ours2 = binary_posterior(proba=np.column_stack([1 - p, p]), gamma=gamma, alpha=alpha)
        for i, pi in enumerate(p):
            ref = mp_binary_posterior_from_p(pi, gamma, alpha)
            assert_close_to_mp(ours[i], ref, rtol=1e-12)
            # (n, 2): fl(1 - p) is within half an ulp of 1 - p, which moves eta by ~(1 + gamma) eps
            assert_close_to_mp(ours2[i], ref, rtol=1e-12)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("K", [3, 4])
def test_multiclass_matches_mpmath(gamma, K):
    rng = np.random.default_rng(int(10 * gamma) + K)
    Z = np.vstack([rng.normal(0, 8, (12, K)), rng.normal(0, 150, (4, K)) / (1 + gamma)])
    for alpha in CLASS_ALPHAS[K]:
        ours = multiclass_posterior(Z, gamma=gamma, alpha=alpha)
        for i in range(Z.shape[0]):
            assert_close_to_mp(ours[i], mp_multiclass_posterior(Z[i], gamma, alpha), rtol=1e-12)


def test_multiclass_with_two_classes_equals_binary():
    x = np.concatenate([np.linspace(-50, 50, 101), [-1e4, 1e4]])
    Z = np.column_stack([np.zeros_like(x), x])
    for gamma in [0.0] + GAMMAS:
        for alpha in [None, 0.2]:
            class_alpha = None if alpha is None else [1 - alpha, alpha]
            np.testing.assert_allclose(
                multiclass_posterior(Z, gamma=gamma, alpha=class_alpha),
                binary_posterior(x, gamma=gamma, alpha=alpha),
                rtol=1e-13,
                atol=1e-300,
            )


# --- round trips through the minimiser of the focal risk -----------------------------------------
ETAS = [1e-6, 1e-3, 0.05, 0.2, 0.5, 0.7, 0.95, 0.999, 1 - 1e-6]


def mp_binary_focal_minimiser(eta, gamma, alpha):
    """argmin over x of eta a1 l1(p) + (1 - eta) a0 l0(p), p = sigmoid(x): root of its slope."""
    eta, gamma = mp.mpf(eta), mp.mpf(gamma)
    a1 = mp.mpf(1) if alpha is None else mp.mpf(alpha)
    a0 = mp.mpf(1) if alpha is None else 1 - mp.mpf(alpha)

    def risk(x):
        lp, lq = -mp.log1p(mp.exp(-x)), -mp.log1p(mp.exp(x))
        return -eta * a1 * mp.exp(gamma * lq) * lp - (1 - eta) * a0 * mp.exp(gamma * lp) * lq

    lo, hi = mp.mpf(-40), mp.mpf(40)
    assert mp.diff(risk, lo) < 0 < mp.diff(risk, hi)
    for _ in range(40):  # bisection on the sign of the slope, then secant steps
        mid = (lo + hi) / 2
        if mp.diff(risk, mid) < 0:
            lo = mid
        else:
            hi = mid
    return mp.findroot(lambda x: mp.diff(risk, x), (lo, hi), solver="secant", tol=mp.mpf(10) ** -40)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_binary_round_trip_through_risk_minimiser(gamma):
    for alpha in [None, 0.25, 0.9]:
        x_star = np.array([float(mp_binary_focal_minimiser(e, gamma, alpha)) for e in ETAS])
        eta = binary_posterior(x_star, gamma=gamma, alpha=alpha)
        etas = np.array(ETAS)
        np.testing.assert_allclose(eta[:, 1], etas, rtol=1e-8)
        np.testing.assert_allclose(eta[:, 0], 1 - etas, rtol=1e-8)
        # the inverse finds the same minimiser
        np.testing.assert_allclose(
            binary_optimal_margin(etas, gamma=gamma, alpha=alpha), x_star, rtol=1e-10, atol=1e-12
        )


def _multiclass_focal_minimiser(eta, gamma, alpha):
    """argmin over z of sum_k eta_k a_k l(softmax(z)_k): root of the summed gradient.

    The most probable class r has z_r = 0 and its equation (minus the sum of the others) is
    dropped; a second pass divides equation k by eta_k so that every class is solved to relative
    precision.
    """
    K = eta.shape[0]
    loss = MulticlassFocalLoss(K, gamma=gamma, alpha=alpha, hessian="exact")
    labels = np.arange(K)
    free = np.arange(K) != np.argmax(eta)

    def full(zf):
        z = np.zeros(K)
        z[free] = zf
        return z

    def gradient(zf):
        grad, _ = loss.gradient_hessian(labels, np.broadcast_to(full(zf), (K, K)), eta)
        return grad.sum(axis=0)[free]

    def scaled_gradient(zf):
        return gradient(zf) / eta[free]

    start = (np.log(eta) - np.log(eta.max()))[free] / (1 + gamma)
    sol = optimize.root(gradient, start, method="hybr", tol=1e-15)
    sol = optimize.root(scaled_gradient, sol.x, method="hybr", tol=1e-15)
    # hybr reports "xtol too small" once it sits at the rounding level: judge by the gradient
    assert np.max(np.abs(scaled_gradient(sol.x))) < 1e-13, sol.message
    return full(sol.x)


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("K", [3, 4])
def test_multiclass_round_trip_through_risk_minimiser(gamma, K):
    rng = np.random.default_rng(K * 100 + int(gamma * 10))
    etas = np.vstack(
        [
            rng.dirichlet(np.ones(K), 6),
            rng.dirichlet(0.2 * np.ones(K), 3),
            np.r_[1 - 1e-4 * (K - 1), 1e-4 * np.ones(K - 1)],
            np.r_[1e-3, np.full(K - 1, (1 - 1e-3) / (K - 1))],
        ]
    )
    etas = np.clip(etas, 1e-7, None)
    etas /= etas.sum(axis=1, keepdims=True)
    for alpha in CLASS_ALPHAS[K]:
        Z = np.array([_multiclass_focal_minimiser(e, gamma, alpha) for e in etas])
        eta = multiclass_posterior(Z, gamma=gamma, alpha=alpha)
        np.testing.assert_allclose(eta, etas, rtol=1e-8)
        back = multiclass_optimal_margin(etas, gamma=gamma, alpha=alpha)
        np.testing.assert_allclose(back, Z - Z.mean(axis=1, keepdims=True), atol=1e-9)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_inverse_of_the_inverse(gamma):
    x = np.concatenate([np.linspace(-30, 30, 121), [-200 / (1 + gamma), 200 / (1 + gamma)]])
    for alpha in [None, 0.3]:
        eta = binary_posterior(x, gamma=gamma, alpha=alpha)
        back = binary_optimal_margin(eta, gamma=gamma, alpha=alpha)
        np.testing.assert_allclose(back, x, rtol=1e-13, atol=1e-13)
    rng = np.random.default_rng(7)
    Z = rng.normal(0, 6, (100, 5))
    Z -= Z.mean(axis=1, keepdims=True)
    alpha = rng.uniform(0.2, 3.0, 5)
    eta = multiclass_posterior(Z, gamma=gamma, alpha=alpha)
    back = multiclass_optimal_margin(eta, gamma=gamma, alpha=alpha)
    np.testing.assert_allclose(back, Z, atol=1e-11)


# --- init scores: the best constant margin maps back to the class prior ---------------------------
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
@pytest.mark.parametrize("alpha", [None, 0.25, 0.9])
def test_binary_init_score_maps_to_the_prior(gamma, alpha):
    rng = np.random.default_rng(3)
    y = (rng.uniform(size=400) < 0.15).astype(int)
    w = rng.uniform(0.5, 2.0, 400)
    prior = w[y == 1].sum() / w.sum()
    init = BinaryFocalLoss(gamma, alpha).init_score(y, w)
    eta = binary_posterior(np.array([init]), gamma=gamma, alpha=alpha)
    np.testing.assert_allclose(eta[0], [1 - prior, prior], rtol=1e-12)
    direct = binary_optimal_margin([prior], gamma=gamma, alpha=alpha)
    np.testing.assert_allclose(direct, init, atol=1e-12)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_multiclass_init_score_maps_to_the_prior(gamma):
    rng = np.random.default_rng(4)
    K = 4
    y = rng.choice(K, size=500, p=[0.6, 0.25, 0.1, 0.05])
    w = rng.uniform(0.5, 2.0, 500)
    prior = np.bincount(y, weights=w, minlength=K) / w.sum()
    for alpha in CLASS_ALPHAS[K]:
        init = MulticlassFocalLoss(K, gamma, alpha).init_score(y, w)  # BFGS, gtol 1e-13
        eta = multiclass_posterior(init[None, :], gamma=gamma, alpha=alpha)
        np.testing.assert_allclose(eta[0], prior, rtol=1e-9)
        direct = multiclass_optimal_margin(prior[None, :], gamma=gamma, alpha=alpha)
        np.testing.assert_allclose(direct[0], init, atol=1e-9)


# --- extremes, shapes, invariances ---------------------------------------------------------------
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_binary_extremes_are_finite_and_monotone(gamma):
    x = np.concatenate([[-1e4, -1e3], np.linspace(-60, 60, 4001), [1e3, 1e4]])
    for alpha in [None, 0.01, 0.99]:
        for raw in [x, x.astype(np.float32)]:
            eta = binary_posterior(raw, gamma=gamma, alpha=alpha)
            assert eta.shape == (x.shape[0], 2) and eta.dtype == np.float64
            assert np.all(np.isfinite(eta)) and np.all((eta >= 0) & (eta <= 1))
            np.testing.assert_allclose(eta.sum(axis=1), 1.0, atol=1e-15)
            assert np.all(np.diff(eta[:, 1]) >= 0) and np.all(np.diff(eta[:, 0]) <= 0)
        np.testing.assert_array_equal(eta[[0, -1]], [[1.0, 0.0], [0.0, 1.0]])
        # strictly increasing log-odds wherever neither column underflows
        inner = np.all(eta > 1e-300, axis=1)
        assert np.all(np.diff(np.log(eta[inner, 1]) - np.log(eta[inner, 0])) > 0)
        # from probabilities: 0, 1 and 1e-12 away from them
        p = np.array([0.0, 1e-300, 1e-12, 1e-9, 0.5, 1 - 1e-9, 1 - 1e-12, 1.0])
        eta_p = binary_posterior(proba=p, gamma=gamma, alpha=alpha)
        assert np.all(np.isfinite(eta_p)) and np.all((eta_p >= 0) & (eta_p <= 1))
        assert np.all(np.diff(eta_p[:, 1]) >= 0)
        np.testing.assert_array_equal(eta_p[[0, -1]], [[1.0, 0.0], [0.0, 1.0]])


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_multiclass_extremes_are_finite(gamma):
    rng = np.random.default_rng(5)
    Z = np.vstack(
        [
            rng.choice([-1e4, 0.0, 1e4], size=(50, 4)),
            rng.uniform(-1e4, 1e4, (50, 4)),
            [[1e4, 1e4, -1e4, -1e4], [1e4, 1e4 - 1e-9, 0, 0], [0, 0, 0, 0]],
        ]
    )
    for alpha in [None, [0.1, 1.0, 10.0, 2.0]]:
        for raw in [Z, Z.astype(np.float32)]:
            eta = multiclass_posterior(raw, gamma=gamma, alpha=alpha)
            assert eta.shape == Z.shape
            assert np.all(np.isfinite(eta)) and np.all((eta >= 0) & (eta <= 1))
            np.testing.assert_allclose(eta.sum(axis=1), 1.0, atol=1e-14)
    eta = multiclass_posterior(Z, gamma=gamma)
    np.testing.assert_allclose(eta[-3], [0.5, 0.5, 0, 0], atol=1e-15)
    np.testing.assert_allclose(eta[-1], 0.25, rtol=1e-14)
    # from probabilities with zeros and a one-hot row, and within 1e-12 of 0 and 1
    P = np.array(
        [[1.0, 0.0, 0.0], [0.0, 0.3, 0.7], [1 - 2e-12, 1e-12, 1e-12], [1e-300, 0.5, 0.5 - 1e-300]]
    )
    eta_p = multiclass_posterior(proba=P, gamma=gamma)
    assert np.all(np.isfinite(eta_p)) and np.all((eta_p >= 0) & (eta_p <= 1))
    np.testing.assert_allclose(eta_p.sum(axis=1), 1.0, atol=1e-14)
    np.testing.assert_array_equal(eta_p[0], [1.0, 0.0, 0.0])
    assert eta_p[1, 0] == 0.0
    for i in [2, 3]:
        assert_close_to_mp(eta_p[i], mp_multiclass_posterior(np.log(P[i]), gamma, None), rtol=1e-11)


def test_proba_path_equals_margin_path():
    rng = np.random.default_rng(6)
    x = rng.uniform(-25, 25, 300)
    Z = rng.normal(0, 5, (300, 4))
    for gamma in [0.5, 2.0]:
        ref = binary_posterior(x, gamma=gamma, alpha=0.3)
        proba2 = BinaryFocalLoss().predict_proba(x)
        from_2 = binary_posterior(proba=proba2, gamma=gamma, alpha=0.3)
        from_1 = binary_posterior(proba=expit(x), gamma=gamma, alpha=0.3)
        np.testing.assert_allclose(from_2, ref, rtol=1e-11)
        np.testing.assert_allclose(from_1[:, 1], ref[:, 1], rtol=1e-11)
        np.testing.assert_allclose(
            multiclass_posterior(proba=softmax(Z, axis=1), gamma=gamma),
            multiclass_posterior(Z, gamma=gamma),
            rtol=1e-11,
        )


def test_multiclass_is_shift_and_permutation_equivariant_and_keeps_the_class_order():
    rng = np.random.default_rng(8)
    Z = rng.normal(0, 4, (200, 5))
    alpha = rng.uniform(0.3, 3.0, 5)
    perm = rng.permutation(5)
    eta = multiclass_posterior(Z, gamma=2.0, alpha=alpha)
    shifted = multiclass_posterior(Z + 123.0, gamma=2.0, alpha=alpha)
    np.testing.assert_allclose(shifted, eta, rtol=1e-11)
    np.testing.assert_allclose(
        multiclass_posterior(Z[:, perm], gamma=2.0, alpha=alpha[perm]), eta[:, perm], rtol=1e-13
    )
    # without alpha the correction is increasing in p_k within a row: same order, same argmax
    plain = multiclass_posterior(Z, gamma=2.0)
    np.testing.assert_array_equal(np.argsort(plain, axis=1), np.argsort(Z, axis=1))


def test_focal_output_is_under_confident():
    # |logit(eta) - (1 + gamma) x| < log(1 + gamma): the correction sharpens, the focal optimum is
    # pulled towards 1/2, and the bracket used by binary_optimal_margin holds
    x = np.linspace(-30, 30, 241)
    x = x[x != 0]
    for gamma in GAMMAS:
        eta = binary_posterior(x, gamma=gamma)
        t = np.log(eta[:, 1]) - np.log(eta[:, 0])
        assert np.all(np.abs(t) > np.abs(x))
        # the bound is approached as x -> -inf (phi(x) -> 1, phi(-x) -> 0)
        assert np.all(np.abs(t - (1 + gamma) * x) <= np.log1p(gamma) * (1 + 1e-12))


# --- validation ----------------------------------------------------------------------------------
def test_input_validation():
    x = np.zeros(3)
    with pytest.raises(TypeError, match="exactly one of raw_prediction"):
        binary_posterior(gamma=2.0)
    with pytest.raises(TypeError, match="exactly one of raw_prediction"):
        binary_posterior(x, proba=x, gamma=2.0)
    with pytest.raises(TypeError, match="exactly one of raw_prediction"):
        multiclass_posterior(gamma=2.0)
    with pytest.raises(ValueError, match="gamma"):
        binary_posterior(x, gamma=-1.0)
    with pytest.raises(ValueError, match="alpha"):
        binary_posterior(x, gamma=2.0, alpha=1.0)
    with pytest.raises(ValueError, match="raw_prediction must be finite"):
        binary_posterior(np.array([0.0, np.nan]), gamma=2.0)
    with pytest.raises(ValueError, match="1-D"):
        binary_posterior(np.zeros((3, 2)), gamma=2.0)
    with pytest.raises(ValueError, match=r"proba must hold probabilities in \[0, 1\]"):
        binary_posterior(proba=[0.5, 1.2], gamma=2.0)
    with pytest.raises(ValueError, match="proba must have shape"):
        binary_posterior(proba=np.full((2, 3), 1 / 3), gamma=2.0)
    with pytest.raises(ValueError, match="must sum to 1"):
        binary_posterior(proba=[[0.5, 0.6]], gamma=2.0)
    with pytest.raises(ValueError, match="must sum to 1"):
        multiclass_posterior(proba=np.array([[2.0, -1.0, 0.5]]).clip(0, 1), gamma=2.0)
    with pytest.raises(ValueError, match="alpha must be None or a 1-D vector of 3"):
        multiclass_posterior(np.zeros((2, 3)), gamma=2.0, alpha=[1.0, 2.0])
    with pytest.raises(ValueError, match="2-D"):
        multiclass_posterior(np.zeros(3), gamma=2.0)
    with pytest.raises(ValueError, match="open interval"):
        binary_optimal_margin([0.0, 0.5], gamma=2.0)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        multiclass_optimal_margin([[0.0, 0.5, 0.5]], gamma=2.0)
    with pytest.raises(TypeError, match="numeric"):
        binary_posterior(proba=["a"], gamma=2.0)


# --- the loss objects delegate to these functions ------------------------------------------------
def test_loss_objects_delegate_to_posterior():
    x = np.linspace(-20, 20, 41)
    loss = BinaryFocalLoss(gamma=2.0, alpha=0.25)
    np.testing.assert_array_equal(loss.posterior(x), binary_posterior(x, gamma=2.0, alpha=0.25))
    np.testing.assert_allclose(loss.optimal_margin(loss.posterior(x)), x, atol=1e-12)
    Z = np.random.default_rng(0).normal(0, 3, (50, 3))
    mloss = MulticlassFocalLoss(3, gamma=2.0, alpha=[1.0, 2.0, 0.5])
    np.testing.assert_array_equal(mloss.posterior(Z), multiclass_posterior(Z, gamma=2.0, alpha=[1.0, 2.0, 0.5]))
    np.testing.assert_allclose(mloss.optimal_margin(mloss.posterior(Z)), Z - Z.mean(1, keepdims=True), atol=1e-11)
    with pytest.raises(ValueError, match="3 columns"):
        MulticlassFocalLoss(3, gamma=2.0).posterior(np.zeros((2, 4)))
    # the best constant margin is the optimal margin of the class prior
    y = np.array([0] * 80 + [1] * 20)
    np.testing.assert_allclose(loss.optimal_margin([0.2]), loss.init_score(y), atol=1e-12)
    # multi-label: each label's binary correction with its own alpha
    M = np.random.default_rng(1).normal(0, 4, (30, 2))
    ml = MultiLabelFocalLoss(gamma=1.0, alpha=[0.3, 0.7])
    for label, alpha in enumerate([0.3, 0.7]):
        np.testing.assert_array_equal(ml.posterior(M)[:, label], binary_posterior(M[:, label], gamma=1.0, alpha=alpha)[:, 1])
    np.testing.assert_allclose(ml.optimal_margin(ml.posterior(M)), M, atol=1e-11)


@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_multiclass_posterior_writes_into_out_even_over_its_margins(gamma):
    """``out=``: the same values; ``out=raw_prediction`` overwrites the margins (rows of huge
    margins and one-hot rows, left to the numpy formulas, included)."""
    from focalboost.posterior import _multiclass_from_log_p

    rng = np.random.default_rng(11)
    Z = np.vstack([rng.normal(0, 5, (300, 4)), [[2.0**21, 0, 0, 0], [0, -800.0, 0, 0]], rng.normal(0, 5, (7, 4))])
    alpha = [0.5, 1.0, 2.0, 4.0]
    eta = multiclass_posterior(Z, gamma=gamma, alpha=alpha)
    np.testing.assert_allclose(eta, _multiclass_from_log_p(Z, gamma, alpha), rtol=1e-12, atol=1e-300)
    for row in (300, 301):  # the numpy formulas' rows, against 60 digits
        assert_close_to_mp(eta[row], mp_multiclass_posterior(Z[row], gamma, alpha), rtol=1e-12)
    Z2 = Z.copy()
    assert multiclass_posterior(Z2, gamma=gamma, alpha=alpha, out=Z2) is Z2
    np.testing.assert_array_equal(Z2, eta)
    out = np.full_like(Z, np.nan)
    assert multiclass_posterior(Z.astype(np.float32), gamma=gamma, alpha=alpha, out=out) is out
    np.testing.assert_array_equal(out, multiclass_posterior(Z.astype(np.float32), gamma=gamma, alpha=alpha))
    loss = MulticlassFocalLoss(4, gamma, alpha)
    Z3 = Z.copy()
    assert loss.posterior(Z3, out=Z3) is Z3
    np.testing.assert_array_equal(Z3, eta)
    P = softmax(Z[:10], axis=1)
    out = np.empty((10, 4))
    assert multiclass_posterior(proba=P, gamma=gamma, out=out) is out  # the numpy path
    np.testing.assert_array_equal(out, multiclass_posterior(proba=P, gamma=gamma))
    for bad in (np.empty((10, 4), np.float32), np.empty((10, 3)), np.empty((4, 10)).T):
        with pytest.raises(ValueError, match="out must be"):
            multiclass_posterior(proba=P, gamma=gamma, out=bad)
        with pytest.raises(ValueError, match="out must be"):
            multiclass_posterior(Z[:10], gamma=gamma, out=bad)
