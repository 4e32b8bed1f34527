"""Multi-label focal loss: one sigmoid focal loss per label, native XGBoost multi-output training."""

import numpy as np
import pytest
import xgboost as xgb
from sklearn.metrics import average_precision_score

from focalboost import BinaryFocalLoss, MultiLabelFocalLoss
from focalboost import lightgbm as flgb
from focalboost import xgboost as fxgb

ALPHAS = [0.25, 0.5, 0.8]
PRIORS = np.array([0.08, 0.15, 0.04])


def _multilabel_data(n=3000, seed=0):
    """Three imbalanced labels, each a logistic function of its own features."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    logits = np.column_stack([2 * X[:, 0] - X[:, 1], 1.5 * X[:, 2] + X[:, 3] * X[:, 4], 2.5 * X[:, 5]])
    logits += np.log(PRIORS / (1 - PRIORS)) - 1.0
    Y = (rng.random((n, 3)) < 1 / (1 + np.exp(-logits))).astype(np.float64)
    return X, Y


@pytest.mark.parametrize("hessian", ["positive", "exact"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_per_label_derivatives_are_the_binary_ones(gamma, hessian):
    rng = np.random.default_rng(1)
    Y = (rng.random((200, 3)) < 0.3).astype(int)
    X = rng.uniform(-20, 20, (200, 3))
    w = rng.uniform(0.5, 2.0, 200)
    g, h = MultiLabelFocalLoss(gamma, ALPHAS, hessian).gradient_hessian(Y, X, w)
    L = MultiLabelFocalLoss(gamma, ALPHAS, hessian).loss(Y, X, w)
    for label, alpha in enumerate(ALPHAS):
        binary = BinaryFocalLoss(gamma, alpha, hessian)
        gb, hb = binary.gradient_hessian(Y[:, label], X[:, label], w)  # the same binary kernel
        np.testing.assert_array_equal(g[:, label], gb)
        np.testing.assert_array_equal(h[:, label], hb)
        np.testing.assert_array_equal(L[:, label], binary.reference_loss(Y[:, label], X[:, label], w))


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0, 5.0])
def test_finite_differences_agree(gamma):
    rng = np.random.default_rng(2)
    Y = (rng.random((300, 4)) < 0.3).astype(int)
    X = rng.uniform(-20, 20, (300, 4))
    exact = MultiLabelFocalLoss(gamma, 0.3, hessian="exact")
    fd = MultiLabelFocalLoss(gamma, 0.3, hessian="exact", derivatives="finite_difference")
    g, h = exact.gradient_hessian(Y, X)
    g_fd, h_fd = fd.gradient_hessian(Y, X)
    scale = 1 + np.abs(exact.loss(Y, X))  # the error model of tests/test_losses.py
    assert np.all(np.abs(g - g_fd) <= 1e-9 * np.abs(g) + 1e-11 * scale)
    assert np.all(np.abs(h - h_fd) <= 1e-6 * np.abs(h) + 1e-9 * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_margins_are_finite(dtype):
    X = np.array([[-1e4, 1e4, 0.0], [1e4, -1e4, 3.0]], dtype=dtype)
    Y = np.array([[1, 1, 0], [0, 1, 1]])
    for gamma in [0.0, 0.5, 2.0]:
        loss = MultiLabelFocalLoss(gamma, ALPHAS, hessian="exact")
        for arr in (loss.loss(Y, X), *loss.gradient_hessian(Y, X), loss.predict_proba(X)):
            assert np.all(np.isfinite(arr))


def test_init_score_is_per_label_binary_and_mean_loss_averages_labels():
    X, Y = _multilabel_data(500)
    w = np.random.default_rng(0).uniform(0.5, 2, 500)
    loss = MultiLabelFocalLoss(2.0, ALPHAS)
    init = loss.init_score(Y, w)
    for label, alpha in enumerate(ALPHAS):
        assert init[label] == BinaryFocalLoss(2.0, alpha).init_score(Y[:, label], w)
    raw = np.random.default_rng(1).normal(size=Y.shape)
    per_label = [BinaryFocalLoss(2.0, a).mean_loss(Y[:, i], raw[:, i], w) for i, a in enumerate(ALPHAS)]
    assert loss.mean_loss(Y, raw, w) == pytest.approx(np.mean(per_label), rel=1e-12)


def _train(loss, X, Y, rounds, strategy="one_output_per_tree"):
    params = {"tree_method": "hist", "max_depth": 3, "eta": 0.1, "nthread": 1, "multi_strategy": strategy}
    params.update(fxgb.training_params(loss, Y))
    history = {}
    d = xgb.DMatrix(X, Y)
    booster = xgb.train(params, d, rounds, obj=fxgb.objective(loss), custom_metric=fxgb.metric(loss),
                        evals=[(d, "train")], evals_result=history, verbose_eval=False)
    return booster, history["train"]["focal_loss"]


@pytest.mark.parametrize("strategy", ["one_output_per_tree", "multi_output_tree"])
def test_xgboost_multi_output_learns(strategy):
    X, Y = _multilabel_data()
    X_te, Y_te = _multilabel_data(2000, seed=1)
    loss = MultiLabelFocalLoss(2.0, ALPHAS)
    booster, curve = _train(loss, X, Y, 80, strategy)
    assert curve[-1] < 0.7 * curve[0]
    proba = fxgb.predict_proba(booster, xgb.DMatrix(X_te), loss)
    assert proba.shape == Y_te.shape
    for label in range(3):
        prior = Y_te[:, label].mean()
        assert average_precision_score(Y_te[:, label], proba[:, label]) > 3 * prior


def test_xgboost_gamma0_matches_builtin_multilabel_log_loss():
    X, Y = _multilabel_data(1500)
    params = {"tree_method": "hist", "max_depth": 3, "eta": 0.1, "nthread": 1}
    builtin = xgb.train({**params, "objective": "binary:logistic"}, xgb.DMatrix(X, Y), 30)
    loss = MultiLabelFocalLoss(0.0)
    focal, _ = _train(loss, X, Y, 30)
    # same intercepts: XGBoost stores the label means, we store their log-odds
    np.testing.assert_allclose(fxgb.training_params(loss, Y)["base_score"], np.log(Y.mean(0) / (1 - Y.mean(0))), rtol=1e-12)
    np.testing.assert_allclose(
        fxgb.predict_proba(focal, xgb.DMatrix(X), loss), builtin.predict(xgb.DMatrix(X)), rtol=1e-5, atol=1e-6
    )


def test_bad_input():
    loss = MultiLabelFocalLoss(2.0, ALPHAS)
    with pytest.raises(ValueError, match="label column 1: y_true must contain at least two classes"):
        loss.init_score(np.array([[0, 1, 0], [1, 1, 1]]))
    with pytest.raises(ValueError, match=r"y_true must hold only 0 and 1 \(multi-label indicators\), found \[2.0\]"):
        loss.gradient_hessian(np.array([[0, 2, 0]]), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="raw_prediction has 2 labels but alpha has 3 values"):
        loss.gradient_hessian(np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="alpha must be None, a number in"):
        MultiLabelFocalLoss(alpha=[0.2, 1.5])
    with pytest.raises(ValueError, match="y_true must be a 2-D 0/1 indicator matrix"):
        loss.gradient_hessian(np.zeros(3), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="LightGBM has no multi-output trees"):
        flgb.objective(loss)


# --- estimators -------------------------------------------------------------------------------------
def test_focal_xgb_classifier_takes_a_2d_indicator_y():
    from focalboost import FocalXGBClassifier

    X, Y = _multilabel_data()
    X_te, Y_te = _multilabel_data(2000, seed=1)
    clf = FocalXGBClassifier(n_estimators=80, max_depth=3, learning_rate=0.1, n_jobs=1, alpha=ALPHAS)
    clf.fit(X, Y)
    proba = clf.predict_proba(X_te)
    assert proba.shape == Y_te.shape and clf.n_outputs_ == 3
    assert np.all((proba >= 0) & (proba <= 1))
    for label in range(3):
        assert average_precision_score(Y_te[:, label], proba[:, label]) > 3 * Y_te[:, label].mean()
    margin = clf.predict(X_te, output_margin=True)
    # predict agrees with predict_proba (each label's probability > 1/2), not with the margins'
    # sign: with alpha the two differ (the cost-weighted decision is the margin's sign)
    np.testing.assert_array_equal(clf.predict(X_te), (proba > 0.5).astype(int))
    assert np.any(clf.predict(X_te) != (margin > 0))
    np.testing.assert_allclose(proba, clf.loss_.posterior(margin), rtol=1e-12)
    # alpha="balanced" is worked out per label column
    balanced = FocalXGBClassifier(n_estimators=5, alpha="balanced").fit(X, Y)
    np.testing.assert_allclose(balanced.alpha_, 1 - Y.mean(axis=0), rtol=1e-12)


def test_focal_xgb_classifier_gamma0_matches_builtin_multilabel_classifier():
    from xgboost import XGBClassifier

    from focalboost import FocalXGBClassifier

    X, Y = _multilabel_data(1500)
    params = dict(n_estimators=30, max_depth=3, learning_rate=0.1, n_jobs=1, tree_method="hist")
    focal = FocalXGBClassifier(gamma=0.0, **params).fit(X, Y)
    builtin = XGBClassifier(**params).fit(X, Y)
    np.testing.assert_allclose(focal.predict_proba(X), builtin.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(focal.predict(X), builtin.predict(X))


def test_lightgbm_route_is_one_focal_model_per_label_and_pickles():
    import pickle

    from sklearn.multioutput import MultiOutputClassifier

    from focalboost import FocalLGBMClassifier

    X, Y = _multilabel_data()
    X_te, Y_te = _multilabel_data(2000, seed=1)
    base = FocalLGBMClassifier(alpha="balanced", n_estimators=80, num_leaves=8, n_jobs=1, verbose=-1)
    clf = MultiOutputClassifier(base).fit(X, Y)
    proba = np.column_stack([p[:, 1] for p in clf.predict_proba(X_te)])  # sklearn's list-of-(n, 2)
    for label, estimator in enumerate(clf.estimators_):
        assert estimator.alpha_ == pytest.approx(1 - Y[:, label].mean())  # per-label balance
        assert average_precision_score(Y_te[:, label], proba[:, label]) > 3 * Y_te[:, label].mean()
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict(X_te), clf.predict(X_te))


def test_estimator_bad_multilabel_input():
    from focalboost import FocalXGBClassifier

    X, Y = _multilabel_data(200)
    with pytest.raises(ValueError, match=r"alpha for a multi-label y with 3 labels must be"):
        FocalXGBClassifier(n_estimators=2, alpha=[0.2, 0.3]).fit(X, Y)
    with pytest.raises(ValueError, match="scale_pos_weight is for binary problems"):
        FocalXGBClassifier(n_estimators=2, scale_pos_weight=2.0).fit(X, Y)
    with pytest.raises(ValueError, match=r"label column\(s\) \[2\] hold a single value"):
        FocalXGBClassifier(n_estimators=2).fit(X, np.column_stack([Y[:, :2], np.ones(200)]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_errors_are_the_multilabel_ones(dtype):
    """The one-call kernel path checks values in its pass; invalid input still raises the
    multi-label messages (not the binary kernel's)."""
    loss = MultiLabelFocalLoss(2.0)
    raw = np.zeros((5, 3), dtype=dtype)
    y = np.zeros((5, 3))
    y[1, 1] = 2
    with pytest.raises(ValueError, match=r"multi-label indicators\), found \[2.0\]"):
        loss.gradient_hessian(y, raw)
    with pytest.raises(ValueError, match="raw_prediction must be finite"):
        loss.gradient_hessian(np.zeros((5, 3)), np.where(np.eye(5, 3) == 1, np.nan, raw).astype(dtype))
    with pytest.raises(ValueError, match="sample_weight must contain finite weights"):
        loss.gradient_hessian(np.zeros((5, 3)), raw, -np.ones(5))
    g, h = loss.gradient_hessian(np.zeros(15), raw)  # labels flattened as XGBoost hands them
    np.testing.assert_array_equal(g, loss.reference_gradient_hessian(np.zeros((5, 3)), raw)[0])
