"""Estimators' probability="posterior": corrected probabilities are closer to the known truth."""

import numpy as np
import pytest
from scipy.special import expit, softmax
from sklearn.base import clone
from sklearn.metrics import log_loss

from focalboost import FocalLGBMClassifier, FocalXGBClassifier

SETTINGS = {"n_estimators": 150, "learning_rate": 0.05, "n_jobs": 1, "random_state": 0}
ESTIMATORS = [
    pytest.param(FocalXGBClassifier, {**SETTINGS, "max_depth": 3}, id="xgb"),
    pytest.param(FocalLGBMClassifier, {**SETTINGS, "num_leaves": 8, "verbose": -1}, id="lgbm"),
]


def _binary_truth(n, seed):
    """Features, labels and the true P(y = 1 | x): a smooth logistic model, ~12 % positives."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    eta = expit(1.5 * X[:, 0] - X[:, 1] + 0.5 * X[:, 2] * X[:, 3] - 2.5)
    return X, (rng.random(n) < eta).astype(int), eta


def _multiclass_truth(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    eta = softmax(np.column_stack([np.zeros(n), 1.2 * X[:, 0] - 1.0, X[:, 1] - X[:, 2] - 1.5]), axis=1)
    y = (rng.random(n)[:, None] > np.cumsum(eta, axis=1)).sum(axis=1)
    return X, y, eta


@pytest.mark.parametrize("focal, kwargs", ESTIMATORS)
@pytest.mark.parametrize("gamma", [1.0, 2.0, 3.0])
def test_binary_posterior_is_closer_to_the_truth(focal, kwargs, gamma):
    X, y, _ = _binary_truth(6000, 0)
    X_test, y_test, eta = _binary_truth(6000, 1)
    clf = focal(gamma=gamma, **kwargs).fit(X, y)
    corrected = clf.predict_proba(X_test)[:, 1]
    raw = clf.set_params(probability="focal").predict_proba(X_test)[:, 1]
    mae_corrected, mae_raw = np.mean(np.abs(corrected - eta)), np.mean(np.abs(raw - eta))
    assert mae_corrected < 0.6 * mae_raw, (mae_corrected, mae_raw)
    assert log_loss(y_test, corrected) < log_loss(y_test, raw)


@pytest.mark.parametrize("focal, kwargs", ESTIMATORS)
def test_alpha_and_gamma_together(focal, kwargs):
    X, y, _ = _binary_truth(6000, 2)
    X_test, y_test, eta = _binary_truth(6000, 3)
    clf = focal(gamma=2.0, alpha=0.75, **kwargs).fit(X, y)
    corrected = clf.predict_proba(X_test)[:, 1]
    raw = clf.set_params(probability="focal").predict_proba(X_test)[:, 1]
    assert np.mean(np.abs(corrected - eta)) < 0.5 * np.mean(np.abs(raw - eta))
    assert log_loss(y_test, corrected) < log_loss(y_test, raw)


@pytest.mark.parametrize("focal, kwargs", ESTIMATORS)
def test_multiclass_posterior_is_closer_to_the_truth(focal, kwargs):
    X, y, _ = _multiclass_truth(6000, 4)
    X_test, y_test, eta = _multiclass_truth(6000, 5)
    clf = focal(gamma=2.0, **kwargs).fit(X, y)
    corrected = clf.predict_proba(X_test)
    raw = clf.set_params(probability="focal").predict_proba(X_test)
    assert np.mean(np.abs(corrected - eta)) < 0.6 * np.mean(np.abs(raw - eta))
    assert log_loss(y_test, corrected) < log_loss(y_test, raw)
    np.testing.assert_allclose(corrected.sum(axis=1), 1.0, rtol=1e-12)
    # without alpha the correction keeps the order of the classes: predict agrees with both
    np.testing.assert_array_equal(clf.predict(X_test), np.argmax(corrected, axis=1))


@pytest.mark.parametrize("focal, kwargs", ESTIMATORS)
def test_gamma0_without_alpha_is_the_identity_and_bad_values_are_rejected(focal, kwargs):
    X, y, _ = _binary_truth(1000, 6)
    clf = focal(gamma=0.0, **kwargs).fit(X, y)
    np.testing.assert_allclose(
        clf.predict_proba(X), clone(clf).set_params(probability="focal").fit(X, y).predict_proba(X),
        rtol=1e-12,
    )
    assert clf.get_params()["probability"] == "auto"
    with pytest.raises(ValueError, match="probability"):
        focal(probability="calibrated", **kwargs).fit(X, y)
