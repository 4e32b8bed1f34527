"""Property tests (Hypothesis) of the loss objects, the native hooks and the posterior maps.

Binary, multiclass and multi-label losses, with and without sample weights and alpha, on margins
of every size (ordinary, +-1e4, and any finite float64 up to 1.8e308):

* finite gradients, hessians, probabilities and posteriors; the loss is >= 0 and never NaN (it is
  finite unless the true value exceeds the largest float: margins beyond 1e300);
* the gradient points downhill: it is <= 0 where a larger margin lowers the loss (the true class,
  a positive label) and >= 0 elsewhere; the "positive" hessian is >= 0;
* the fused kernels agree with the numpy reference formulas;
* the hooks' float32 results (what XGBoost and LightGBM keep) are the float64 results rounded once;
* multiclass gradient rows sum to 0, probability rows to 1;
* the posterior is monotone in the margin and inverted by ``binary_optimal_margin`` /
  ``multiclass_optimal_margin``.

Profiles. CI runs the "ci" profile: derandomized (the same examples every run, so a failure is
reproducible and never flaky), no example database, no deadline, and 500 examples per test: 9-12 s
for this file on the project's 2-core machine with the kernels in numba's disk cache (a first run
after a change to focalboost/_kernels.py compiles them: ~40 s). A longer, random local fuzz:

    FOCALBOOST_HYPOTHESIS_PROFILE=fuzz .venv/bin/python -m pytest tests/test_properties.py

("fuzz": 2,000 random examples per test; add ``-p no:cacheprovider`` to leave no database
behind). A failure prints the reproduction blob (``print_blob=True``) for ``@reproduce_failure``.
The profile is loaded here, not in conftest.py: no other test file uses Hypothesis.
"""

from __future__ import annotations

import os
import warnings

import lightgbm as lgb
import numpy as np
import xgboost as xgb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from focalboost import BinaryFocalLoss, MulticlassFocalLoss, MultiLabelFocalLoss
from focalboost import lightgbm as flgb
from focalboost import xgboost as fxgb
from focalboost._adapter import library_gradient_hessian
from focalboost.posterior import binary_optimal_margin, multiclass_optimal_margin

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=500,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz", max_examples=2000, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("FOCALBOOST_HYPOTHESIS_PROFILE", "ci"))

F64_MAX = np.finfo(np.float64).max
TINY = 1e-290  # an absolute floor for comparisons of values that underflow

# --- strategies -----------------------------------------------------------------------------------
margin_values = st.one_of(
    st.floats(-30.0, 30.0),  # where boosting margins live
    st.floats(-1e4, 1e4),  # the conventions' extremes
    st.floats(allow_nan=False, allow_infinity=False),  # any finite float64, 1.8e308 included
)
gammas = st.one_of(st.sampled_from([0.0, 1.0, 2.0, 3.0]), st.floats(0.0, 8.0))
hessians = st.sampled_from(["positive", "exact"])


def weights(n):
    return st.one_of(st.none(), hnp.arrays(np.float64, n, elements=st.floats(0.0, 10.0)))


def _finite(*arrays):
    return all(np.all(np.isfinite(a)) for a in arrays)


def _close(a, b, rtol=1e-9):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=TINY)


@st.composite
def binary_cases(draw):
    n = draw(st.integers(1, 12))
    y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 1)))
    x = draw(hnp.arrays(np.float64, n, elements=margin_values))
    alpha = draw(st.one_of(st.none(), st.floats(0.05, 0.95)))
    return y, x, draw(weights(n)), draw(gammas), alpha, draw(hessians)


@st.composite
def multiclass_cases(draw):
    n, K = draw(st.integers(1, 10)), draw(st.integers(2, 5))
    y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, K - 1)))
    Z = draw(hnp.arrays(np.float64, (n, K), elements=margin_values))
    alpha = draw(st.one_of(st.none(), hnp.arrays(np.float64, K, elements=st.floats(0.1, 3.0))))
    return y, Z, draw(weights(n)), draw(gammas), alpha, draw(hessians)


@st.composite
def multilabel_cases(draw):
    n, L = draw(st.integers(1, 10)), draw(st.integers(1, 4))
    Y = draw(hnp.arrays(np.float64, (n, L), elements=st.sampled_from([0.0, 1.0])))
    X = draw(hnp.arrays(np.float64, (n, L), elements=margin_values))
    alpha = draw(st.one_of(st.none(), st.floats(0.05, 0.95),
                           hnp.arrays(np.float64, L, elements=st.floats(0.05, 0.95))))
    return Y, X, draw(weights(n)), draw(gammas), alpha, draw(hessians)


def _check_loss_values(per_row, margins, w, alpha_max):
    """>= 0, never NaN; finite unless the true loss (up to alpha |margin differences| w) may
    exceed the largest float."""
    assert not np.any(np.isnan(per_row)) and np.all(per_row >= 0)
    scale = max(1.0, alpha_max) * (1.0 if w is None else max(1.0, float(np.max(w, initial=0.0))))
    if np.max(np.abs(margins), initial=0.0) <= 1e300 / scale:
        assert _finite(per_row)


def _as_float32(raw):
    """Margins as the libraries hold them: float32 (those beyond its range at its largest)."""
    f32 = np.finfo(np.float32).max
    return np.clip(raw, -f32, f32).astype(np.float32)


def _check_float32(loss, y, raw, w):
    """The hooks' float32 gradient and hessian are the float64 ones (of the same float32 inputs)
    rounded once."""
    y32, raw32 = y.astype(np.float32), _as_float32(raw)
    w32 = None if w is None else w.astype(np.float32)
    g32, h32 = library_gradient_hessian(loss, y32, raw32, w32)
    g64, h64 = loss.gradient_hessian(y32.astype(np.float64), raw32.astype(np.float64),
                                     None if w32 is None else w32.astype(np.float64))
    np.testing.assert_array_equal(np.asarray(g32, np.float32), g64.astype(np.float32))
    np.testing.assert_array_equal(np.asarray(h32, np.float32), h64.astype(np.float32))
    return g32, h32


# --- binary -----------------------------------------------------------------------------------------
@given(binary_cases())
def test_binary_loss_properties(case):
    y, x, w, gamma, alpha, hessian = case
    loss = BinaryFocalLoss(gamma, alpha, hessian=hessian)
    grad, hess = loss.gradient_hessian(y, x, w)
    assert _finite(grad, hess)
    assert np.all(grad[y == 1] <= 0) and np.all(grad[y == 0] >= 0)  # downhill: toward the label
    if hessian == "positive":
        assert np.all(hess >= 0)
    ref_grad, ref_hess = loss.reference_gradient_hessian(y, x, w)
    _close(grad, ref_grad)
    _close(hess, ref_hess)
    per_row = loss.loss(y, x, w)
    _check_loss_values(per_row, x, w, 1.0)
    _close(per_row, loss.reference_loss(y, x, w))
    _check_float32(loss, y, x, w)
    proba, post = loss.predict_proba(x), loss.posterior(x)
    assert _finite(proba, post)
    for p in (proba, post):
        assert np.all((p >= 0) & (p <= 1))
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-15)
        order = np.argsort(x, kind="stable")
        assert np.all(np.diff(p[order, 1]) >= -4e-16)  # monotone in the margin
    # the posterior map is inverted by binary_optimal_margin where it has not saturated
    ok = (np.abs(x) <= 30) & (post[:, 1] > 0) & (post[:, 0] > 0)
    if np.any(ok):
        back = binary_optimal_margin(post[ok], gamma=gamma, alpha=alpha)
        np.testing.assert_allclose(back, x[ok], rtol=1e-9, atol=1e-9)


@given(binary_cases())
@settings(max_examples=max(10, settings().max_examples // 3))
def test_the_native_hooks_return_the_loss_rounded_once_to_float32(case):
    """XGBoost's and LightGBM's objectives on their own data sets (float32 labels and weights)."""
    y, x, w, gamma, alpha, hessian = case
    loss = BinaryFocalLoss(gamma, alpha, hessian=hessian)
    y32, x32 = y.astype(np.float32), _as_float32(x)
    w32 = None if w is None else w.astype(np.float32)
    expected = _check_float32(loss, y, x, w)
    dtrain = xgb.DMatrix(np.zeros((len(y), 1)), y32, weight=w32)
    for got, want in zip(fxgb.objective(loss)(x32, dtrain), expected):
        np.testing.assert_array_equal(got, want)
    dset = lgb.Dataset(np.zeros((len(y), 1)), y32, weight=w32, params={"verbose": -1}).construct()
    with warnings.catch_warnings():  # the objective's first call may say no tree can split
        warnings.filterwarnings("ignore", "focalboost: no tree can split", UserWarning)
        result = flgb.objective(loss)(x32.astype(np.float64), dset)
    for got, want in zip(result, expected):
        np.testing.assert_array_equal(got, want)


# --- multiclass -------------------------------------------------------------------------------------
@given(multiclass_cases())
def test_multiclass_loss_properties(case):
    y, Z, w, gamma, alpha, hessian = case
    K = Z.shape[1]
    loss = MulticlassFocalLoss(K, gamma, alpha, hessian=hessian)
    grad, hess = loss.gradient_hessian(y, Z, w)
    assert _finite(grad, hess)
    rows = np.arange(len(y))
    true = np.zeros(Z.shape, bool)
    true[rows, y] = True
    assert np.all(grad[true] <= 0) and np.all(grad[~true] >= 0)  # downhill
    if hessian == "positive":
        assert np.all(hess >= 0)
    # rows sum to 0 (the true class's -G is shared out as G s_j), up to rounding
    assert np.all(np.abs(grad.sum(axis=1)) <= 1e-14 * np.abs(grad).sum(axis=1) + TINY)
    ref_grad, ref_hess = loss.reference_gradient_hessian(y, Z, w)
    _close(grad, ref_grad, rtol=1e-8)
    _close(hess, ref_hess, rtol=1e-8)
    per_row = loss.loss(y, Z, w)
    _check_loss_values(per_row, Z, w, 1.0 if alpha is None else float(np.max(alpha)))
    _close(per_row, loss.reference_loss(y, Z, w), rtol=1e-8)
    _check_float32(loss, y, Z, w)
    proba, post = loss.predict_proba(Z), loss.posterior(Z)
    for p in (proba, post):
        assert _finite(p) and np.all((p >= 0) & (p <= 1))
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    # a larger margin of class k never lowers its posterior (the others fixed)
    k = int(np.argmin(Z[0]))
    bumped = Z.copy()
    with np.errstate(over="ignore"):
        larger = bumped[:, k] + 0.5 * (1.0 + np.abs(bumped[:, k]))
    bumped[:, k] = np.where(np.isfinite(larger), larger, F64_MAX)
    assert np.all(loss.posterior(bumped)[:, k] >= post[:, k] * (1 - 1e-12) - TINY)
    # the posterior map is inverted by multiclass_optimal_margin where it has not saturated
    ok = (np.abs(Z).max(axis=1) <= 20) & (post.min(axis=1) > 1e-250)
    if np.any(ok):
        back = multiclass_optimal_margin(post[ok], gamma=gamma, alpha=alpha)
        centred = Z[ok] - Z[ok].mean(axis=1, keepdims=True)
        np.testing.assert_allclose(back, centred, rtol=1e-7, atol=1e-7)


# --- multi-label ------------------------------------------------------------------------------------
@given(multilabel_cases())
def test_multilabel_loss_properties(case):
    Y, X, w, gamma, alpha, hessian = case
    loss = MultiLabelFocalLoss(gamma, alpha, hessian=hessian)
    grad, hess = loss.gradient_hessian(Y, X, w)
    assert _finite(grad, hess)
    assert np.all(grad[Y == 1] <= 0) and np.all(grad[Y == 0] >= 0)
    if hessian == "positive":
        assert np.all(hess >= 0)
    per_label = loss.loss(Y, X, w)
    _check_loss_values(per_label, X, w, 1.0)
    # each label is the binary loss of its own column
    alphas = np.broadcast_to(np.nan if alpha is None else alpha, X.shape[1])
    for j in range(X.shape[1]):
        column = BinaryFocalLoss(gamma, None if alpha is None else float(alphas[j]), hessian=hessian)
        for a, b in zip((grad[:, j], hess[:, j]), column.gradient_hessian(Y[:, j], X[:, j], w)):
            _close(a, b)
    _check_float32(loss, Y, X, w)
    proba, post = loss.predict_proba(X), loss.posterior(X)
    assert _finite(proba, post) and np.all((post >= 0) & (post <= 1))
