"""FocalXGBClassifier and FocalLGBMClassifier: the scikit-learn contract, the link to the built-in
classifiers (gamma = 0), learning on imbalanced data, labels, weights, early stopping, bad input.

Small data, small ``n_estimators``, ``n_jobs=1`` and fixed seeds throughout.
"""

import io
import json
import pickle

import joblib
import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from scipy.special import expit
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.metrics import average_precision_score, log_loss
from sklearn.model_selection import (
    GridSearchCV,
    RandomizedSearchCV,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.estimator_checks import parametrize_with_checks

from focalboost import BinaryFocalLoss, MulticlassFocalLoss
from focalboost.sklearn import FocalLGBMClassifier, FocalXGBClassifier

# Quiet, single-threaded, small: the machine is shared.
ONE_THREAD = dict(n_jobs=1, random_state=0)
XGB_FAST = dict(n_estimators=20, max_depth=3, **ONE_THREAD)
LGB_FAST = dict(n_estimators=20, num_leaves=7, **ONE_THREAD, verbose=-1)
ESTIMATORS = [(FocalXGBClassifier, XGB_FAST), (FocalLGBMClassifier, LGB_FAST)]
IDS = ["xgb", "lgb"]


def _binary(n=600, weights=(0.7,), seed=0):
    return make_classification(
        n_samples=n, n_features=8, n_informative=4, weights=list(weights), random_state=seed
    )


def _multiclass(n=450, seed=1):
    return make_classification(
        n_samples=n, n_features=8, n_informative=5, n_classes=3, n_clusters_per_class=1,
        weights=[0.5, 0.3, 0.2], random_state=seed,
    )


# --- the scikit-learn estimator contract ---------------------------------------------------------
NON_DEFAULT = dict(gamma=0.5, hessian="exact", loss_scale="auto")


# Expected failures: only XGBoost's weight-equivalence checks, which XGBClassifier itself fails.
# XGBoost stores leaf values in float32, and a duplicated row enters its double-precision sums in
# another order than a weighted one, so a leaf can round one float32 ulp (~1.2e-7 relative) the
# other way: above the checks' rtol of 1e-7. Verified on scikit-learn 1.9.1 / xgboost 3.2.0:
# check_sample_weight_equivalence_on_dense_data fails for XGBClassifier(n_jobs=1) with
# n_estimators=10 (2.4e-7), n_estimators=5 with learning_rate=0.5 (2.4e-7), reg_lambda=0.5
# (1.8e-7), min_child_weight=0.1 (2.6e-7), and more. On the checks' own 15-row data it fails for
# the non-default focal configuration and passes for the defaults, every run (the data and seeds
# are fixed), so exactly those two are declared, strictly: an XPASS fails the suite. Tests below
# check weight 2 = duplicated rows at float32 resolution instead
# (test_weight_two_equals_duplicated_rows).
def _expected_failed_checks(estimator):
    if isinstance(estimator, FocalXGBClassifier) and estimator.gamma == NON_DEFAULT["gamma"]:
        reason = "XGBoost's float32 leaf values; XGBClassifier fails it too (see above)"
        return {
            "check_sample_weight_equivalence_on_dense_data": reason,
            "check_sample_weight_equivalence_on_sparse_data": reason,
        }
    return {}


# Otherwise no expected failures. How that was verified (scikit-learn 1.9.1, xgboost 3.2.0, lightgbm
# 4.7.0): `check_estimator(est, on_fail=None)` on XGBClassifier(n_estimators=5, n_jobs=1) fails
# 13 checks, all from its own design (labels must be 0..K-1: check_classifiers_classes,
# check_estimators_dtypes, check_sample_weights_*, check_fit2d_1sample/1feature, ...; it
# rewrites `objective` in fit: check_estimators_overwrite_params, check_dont_overwrite_parameters;
# all-zero weights, multilabel predict dtype). LGBMClassifier(n_estimators=5, n_jobs=1) fails
# check_all_zero_sample_weights_error (LightGBM accepts all-zero weights on purpose). The focal
# estimators encode labels, hide `objective`, reject all-zero weights and (XGBoost) validate
# arrays, so they pass every check, including the 9 that XGBClassifier's `no_validation` tag
# skips. Two settings each: the defaults and a non-default focal configuration; the checks fit
# both binary and multiclass data.
@parametrize_with_checks(
    [
        FocalXGBClassifier(n_estimators=5, n_jobs=1),
        FocalXGBClassifier(n_estimators=5, n_jobs=1, **NON_DEFAULT),
        FocalLGBMClassifier(n_estimators=5, n_jobs=1),
        FocalLGBMClassifier(n_estimators=5, n_jobs=1, **NON_DEFAULT),
    ],
    expected_failed_checks=_expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# --- parameters ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "focal, builtin, clashing",
    [
        (FocalXGBClassifier, xgb.XGBClassifier, {"gamma"}),
        (FocalLGBMClassifier, lgb.LGBMClassifier, set()),
    ],
    ids=IDS,
)
def test_get_params_lists_every_library_parameter_with_its_default(focal, builtin, clashing):
    library = builtin().get_params()
    ours = focal().get_params()
    assert set(library) - {"objective"} <= set(ours)
    assert "objective" not in ours
    for name, default in library.items():
        if name not in clashing | {"objective"}:
            assert ours[name] == default or (default != default and ours[name] != ours[name]), name
    assert {k: ours[k] for k in ("gamma", "alpha", "hessian", "loss_scale")} == {
        "gamma": 2.0, "alpha": None, "hessian": "positive", "loss_scale": 1.0,
    }
    if focal is FocalXGBClassifier:
        assert ours["min_split_loss"] is None  # XGBoost's gamma, under its other name


@pytest.mark.parametrize("focal, kwargs", ESTIMATORS, ids=IDS)
def test_clone_and_set_params(focal, kwargs):
    est = focal(gamma=1.0, alpha={0: 1.0, 1: 3.0}, learning_rate=0.05, **kwargs)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    copy.set_params(gamma=0.5, alpha="balanced", subsample=0.8)
    assert (copy.gamma, copy.alpha, copy.subsample) == (0.5, "balanced", 0.8)
    assert est.gamma == 1.0
    with pytest.raises(ValueError, match="objective"):
        copy.set_params(objective="binary:logistic")
    with pytest.raises(ValueError, match="objective"):
        focal(objective="binary")


def test_focal_gamma_and_alpha_never_reach_the_xgboost_booster():
    X, y = _binary()
    clf = FocalXGBClassifier(gamma=3.0, alpha=0.25, min_split_loss=0.5, reg_alpha=0.1, **XGB_FAST)
    clf.fit(X, y)
    config = json.loads(clf.get_booster().save_config())
    train_param = config["learner"]["gradient_booster"]["tree_train_param"]
    assert float(train_param["gamma"]) == 0.5  # min_split_loss, not the focal gamma
    assert float(train_param["alpha"]) == pytest.approx(0.1)  # reg_alpha, not the focal alpha
    for name in ("gamma", "alpha", "hessian", "loss_scale"):
        assert name not in clf.get_xgb_params()
    # the defaults: XGBoost's min split loss stays 0 whatever the focal gamma
    clf = FocalXGBClassifier(gamma=3.0, **XGB_FAST).fit(X, y)
    config = json.loads(clf.get_booster().save_config())
    assert float(config["learner"]["gradient_booster"]["tree_train_param"]["gamma"]) == 0.0


def test_focal_parameters_never_reach_the_lightgbm_booster():
    X, y = _binary()
    clf = FocalLGBMClassifier(gamma=3.0, alpha=0.25, hessian="exact", loss_scale=2.0, **LGB_FAST)
    clf.fit(X, y)
    for name in ("gamma", "alpha", "hessian", "loss_scale"):
        assert name not in clf.booster_.params
    assert clf.booster_.params["objective"] == "none"  # LightGBM's name for a callable


# --- gamma = 0 reproduces the built-in log-loss classifiers --------------------------------------
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_gamma0_reproduces_builtin_xgboost(weighted):
    X, y = _binary(n=800, weights=(0.8,))
    w = np.random.default_rng(3).uniform(0.5, 2.0, y.shape[0]) if weighted else None
    params = dict(n_estimators=50, max_depth=4, learning_rate=0.2, n_jobs=1, random_state=0)
    focal = FocalXGBClassifier(gamma=0.0, **params).fit(X, y, sample_weight=w)
    builtin = xgb.XGBClassifier(**params).fit(X, y, sample_weight=w)
    assert focal.loss_scale_ == 1.0
    np.testing.assert_array_equal(focal.intercept_, builtin.intercept_)  # same base_score
    prior = np.average(y, weights=w)
    assert focal.init_score_ == pytest.approx(np.log(prior / (1 - prior)), abs=1e-12)
    np.testing.assert_allclose(focal.predict_proba(X), builtin.predict_proba(X), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(focal.predict(X), builtin.predict(X))
    np.testing.assert_allclose(
        focal.predict(X, output_margin=True), builtin.predict(X, output_margin=True), atol=1e-5
    )


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_gamma0_reproduces_builtin_lightgbm(weighted):
    X, y = _binary(n=800, weights=(0.8,))
    w = np.random.default_rng(3).uniform(0.5, 2.0, y.shape[0]) if weighted else None
    params = dict(n_estimators=50, num_leaves=15, learning_rate=0.1, **ONE_THREAD, verbose=-1)
    focal = FocalLGBMClassifier(gamma=0.0, **params).fit(X, y, sample_weight=w)
    builtin = lgb.LGBMClassifier(**params).fit(X, y, sample_weight=w)
    assert focal.loss_scale_ == 1.0
    prior = np.average(y, weights=w)
    # LightGBM's boost_from_average intercept for "binary": the weighted log-odds
    assert focal.init_score_ == pytest.approx(np.log(prior / (1 - prior)), abs=1e-12)
    np.testing.assert_allclose(focal.predict_proba(X), builtin.predict_proba(X), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(focal.predict(X), builtin.predict(X))
    raw = builtin.predict(X, raw_score=True)  # (LGBMClassifier.decision_function: lightgbm >= 4.7)
    np.testing.assert_allclose(focal.decision_function(X), raw, atol=1e-5)


# --- probabilities, margins, predict -------------------------------------------------------------
def _margins(clf, X):
    if isinstance(clf, FocalXGBClassifier):
        return clf.predict(X, output_margin=True)
    return clf.decision_function(X)


@pytest.mark.parametrize("focal, kwargs", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_predict_proba_is_the_link_of_the_margin(focal, kwargs, task):
    X, y = _binary() if task == "binary" else _multiclass()
    clf = focal(probability="focal", **kwargs).fit(X, y)
    proba = clf.predict_proba(X)
    margin = _margins(clf, X)
    K = clf.n_classes_
    assert proba.shape == (X.shape[0], K)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    if K == 2:
        assert margin.shape == (X.shape[0],)
        np.testing.assert_allclose(proba[:, 1], expit(margin), rtol=1e-12)
    else:
        assert margin.shape == (X.shape[0], K)
        log_proba = np.log(proba)
        np.testing.assert_allclose(  # softmax: margins up to a constant per row
            log_proba - log_proba.mean(axis=1, keepdims=True),
            margin - margin.mean(axis=1, keepdims=True),
            atol=1e-9,
        )
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(proba, axis=1)])
    # the default probability="posterior" is the loss's posterior correction of the same margins
    posterior = clf.set_params(probability="posterior").predict_proba(X)
    expected = clf.loss_.posterior(margin)
    np.testing.assert_allclose(posterior, expected, rtol=1e-12)
    np.testing.assert_allclose(posterior.sum(axis=1), 1.0, rtol=1e-12)
    assert np.abs(posterior - proba).max() > 0.05  # gamma = 2 really changes them
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(posterior, axis=1)])
    # the probabilities are not raw scores: the model starts at the init score, not at 0
    at_start = focal(**{**kwargs, "n_estimators": 1, "learning_rate": 1e-12}).fit(X, y)
    start = _margins(at_start, X[:5])
    np.testing.assert_allclose(start, np.broadcast_to(at_start.init_score_, start.shape), atol=1e-5)


def test_lightgbm_raw_scores_include_the_init_score():
    X, y = _multiclass()
    clf = FocalLGBMClassifier(**LGB_FAST).fit(X, y)
    # the same trees trained from the same init score given by hand (then nothing is folded)
    init_rows = np.tile(clf.init_score_, (len(y), 1))
    unfolded = FocalLGBMClassifier(**LGB_FAST).fit(X, y, init_score=init_rows)
    np.testing.assert_array_equal(unfolded.init_score_, 0.0)
    raw = clf.booster_.predict(X, raw_score=True)
    np.testing.assert_allclose(raw, unfolded.decision_function(X) + clf.init_score_, rtol=0, atol=1e-12)
    assert np.abs(raw - unfolded.decision_function(X)).max() > 0.1  # the init score is there
    np.testing.assert_array_equal(clf.decision_function(X), raw)
    np.testing.assert_array_equal(clf.predict(X, raw_score=True), raw)
    np.testing.assert_array_equal(clf.predict_proba(X, raw_score=True), raw)
    contrib = clf.predict_proba(X, pred_contrib=True)  # LightGBM's: sums to the margin
    np.testing.assert_allclose(contrib.reshape(len(X), 3, -1).sum(axis=2), raw, atol=1e-9)


def test_xgboost_booster_keeps_the_init_score():
    X, y = _multiclass()
    clf = FocalXGBClassifier(**XGB_FAST).fit(X, y)
    user = FocalXGBClassifier(base_score=[0.1, 0.2, 0.3], **XGB_FAST).fit(X, y)
    np.testing.assert_allclose(user.init_score_, [0.1, 0.2, 0.3])  # multi:softprob: margins
    Xb, yb = _binary()
    start = FocalXGBClassifier(base_score=0.3, **dict(XGB_FAST, n_estimators=1, learning_rate=1e-12))
    start.fit(Xb, yb)  # binary: a probability of classes_[1], as in XGBClassifier
    assert start.init_score_ == pytest.approx(np.log(0.3 / 0.7))
    np.testing.assert_allclose(start.predict(Xb, output_margin=True), np.log(0.3 / 0.7), atol=1e-6)
    booster_margin = clf.get_booster().predict(xgb.DMatrix(X), output_margin=True)
    np.testing.assert_allclose(clf.predict(X, output_margin=True), booster_margin, rtol=1e-6)
    np.testing.assert_allclose(clf.intercept_, clf.init_score_, rtol=1e-6)  # float32 in XGBoost


# --- learning on imbalanced data, and not stalling ----------------------------------------------
@pytest.fixture(scope="module")
def imbalanced():
    X, y = make_classification(
        n_samples=3000, n_features=10, n_informative=5, weights=[0.95], flip_y=0.01,
        class_sep=1.0, random_state=7,
    )
    return train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)


@pytest.mark.parametrize(
    "focal, builtin, kwargs",
    [(FocalXGBClassifier, xgb.XGBClassifier, dict(n_jobs=1, random_state=0)),
     (FocalLGBMClassifier, lgb.LGBMClassifier, dict(n_jobs=1, random_state=0, verbose=-1))],
    ids=IDS,
)
@pytest.mark.parametrize("alpha", [None, "balanced"])
def test_focal_estimators_learn_on_imbalanced_data(imbalanced, focal, builtin, kwargs, alpha):
    X_train, X_test, y_train, y_test = imbalanced
    prior = y_test.mean()
    assert prior <= 0.1
    reference = builtin(**kwargs).fit(X_train, y_train)
    ap_builtin = average_precision_score(y_test, reference.predict_proba(X_test)[:, 1])
    clf = focal(alpha=alpha, **kwargs).fit(X_train, y_train)  # library defaults, gamma=2
    ap = average_precision_score(y_test, clf.predict_proba(X_test)[:, 1])
    assert ap > 5 * prior
    assert ap > 0.85 * ap_builtin


def _xgb_splits_per_tree(clf):
    frame = clf.get_booster().trees_to_dataframe()
    counts = frame.assign(split=frame.Feature != "Leaf").groupby("Tree").split.sum()
    return counts.reindex(range(clf.get_booster().num_boosted_rounds()), fill_value=0).to_numpy()


def test_xgboost_defaults_do_not_stall_from_the_focal_init():
    """Starting at the log-loss init (the class log-odds) the focal hessians of a rare class are
    tiny and XGBoost's min_child_weight=1 blocks the first splits; starting at the focal loss's
    own best constant (the default) every tree splits from the first round."""
    X, y = make_classification(
        n_samples=1000, n_features=8, n_informative=4, weights=[0.97], flip_y=0.01, random_state=0
    )
    params = dict(n_estimators=30, n_jobs=1, random_state=0)  # XGBoost's defaults otherwise
    stalled = FocalXGBClassifier(base_score=float(y.mean()), **params).fit(X, y)
    assert _xgb_splits_per_tree(stalled)[0] == 0
    clf = FocalXGBClassifier(**params).fit(X, y)
    splits = _xgb_splits_per_tree(clf)
    builtin = _xgb_splits_per_tree(xgb.XGBClassifier(**params).fit(X, y))
    assert splits[:10].min() > 0
    assert splits.sum() > 0.5 * builtin.sum()
    # the mean focal hessian at the log-loss init is far below log loss's; at the focal init, not
    loss, log = BinaryFocalLoss(2.0), BinaryFocalLoss(0.0)
    c_log, c_focal = log.init_score(y), loss.init_score(y)
    h_log = log.gradient_hessian(y, np.full(len(y), c_log))[1].mean()
    assert loss.gradient_hessian(y, np.full(len(y), c_log))[1].mean() < 0.25 * h_log
    assert loss.gradient_hessian(y, np.full(len(y), c_focal))[1].mean() > h_log


def test_lightgbm_defaults_do_not_stall():
    X, y = make_classification(
        n_samples=1000, n_features=8, n_informative=4, weights=[0.97], flip_y=0.01, random_state=0
    )
    clf = FocalLGBMClassifier(n_estimators=30, n_jobs=1, random_state=0, verbose=-1).fit(X, y)
    leaves = [tree["num_leaves"] for tree in clf.booster_.dump_model()["tree_info"]]
    assert len(leaves) == 30 and min(leaves) > 1


# --- loss_scale ----------------------------------------------------------------------------------
def test_auto_loss_scale_matches_the_log_loss_mean_hessian():
    X, y = _binary(weights=(0.9,))
    w = np.random.default_rng(0).uniform(0.5, 2.0, y.shape[0])
    clf = FocalXGBClassifier(gamma=2.0, alpha=0.3, loss_scale="auto", **XGB_FAST)
    clf.fit(X, y, sample_weight=w)
    focal, log = BinaryFocalLoss(2.0, alpha=0.3), BinaryFocalLoss(0.0)
    h_focal = focal.gradient_hessian(y, np.full(len(y), focal.init_score(y, w)), w)[1].sum()
    h_log = log.gradient_hessian(y, np.full(len(y), log.init_score(y, w)), w)[1].sum()
    assert clf.loss_scale_ == pytest.approx(h_log / h_focal, rel=1e-10)
    # exactly 1 for log loss (so gamma=0 reproduces the built-in classifiers)
    assert FocalXGBClassifier(gamma=0.0, loss_scale="auto", **XGB_FAST).fit(X, y).loss_scale_ == 1.0
    Xm, ym = _multiclass()
    multi = FocalLGBMClassifier(loss_scale="auto", **LGB_FAST).fit(Xm, ym)
    focal = MulticlassFocalLoss(3, 2.0)
    log = MulticlassFocalLoss(3, 0.0)
    hf = focal.gradient_hessian(ym, np.tile(focal.init_score(ym), (len(ym), 1)))[1].sum()
    hl = log.gradient_hessian(ym, np.tile(log.init_score(ym), (len(ym), 1)))[1].sum()
    assert multi.loss_scale_ == pytest.approx(hl / hf, rel=1e-8)


@pytest.mark.parametrize(
    "focal, kwargs, free, regularised",
    [(FocalXGBClassifier, XGB_FAST, dict(reg_lambda=0.0, min_child_weight=0.0), {}),
     (FocalLGBMClassifier, LGB_FAST, dict(min_child_weight=0.0), dict(reg_lambda=5.0))],
    ids=IDS,
)
def test_loss_scale_does_not_move_the_minimiser_but_is_applied(focal, kwargs, free, regularised):
    X, y = _binary()

    def fit(scale, extra):
        return focal(loss_scale=scale, **extra, **kwargs).fit(X, y).predict_proba(X)

    # with nothing that sees the scale (no L2, no minimum hessian), Newton steps are invariant
    np.testing.assert_allclose(fit(1.0, free), fit(8.0, free), atol=1e-5)
    # with L2 / min_child_weight the scale matters, so it is applied
    assert np.abs(fit(1.0, regularised) - fit(8.0, regularised)).max() > 1e-3


# --- labels, pandas, weights ---------------------------------------------------------------------
@pytest.mark.parametrize("focal, kwargs", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize(
    "labels",
    [
        np.array(["cat", "dog", "eel"]),
        np.array([3, 7, 10]),
        np.array([-1, 1]),
        np.array([False, True]),
        np.array(["no", "yes"]),
    ],
    ids=["strings", "non-contiguous", "signed", "booleans", "string-binary"],
)
def test_any_labels(focal, kwargs, labels):
    X, codes = _multiclass() if labels.shape[0] == 3 else _binary()
    y = labels[codes]
    clf = focal(**kwargs).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, labels)
    assert clf.n_classes_ == labels.shape[0]
    pred = clf.predict(X)
    assert pred.dtype == labels.dtype and set(pred) <= set(labels)
    # the same model as on the codes 0..K-1
    on_codes = focal(**kwargs).fit(X, codes)
    np.testing.assert_allclose(clf.predict_proba(X), on_codes.predict_proba(X))


@pytest.mark.parametrize("focal, kwargs", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_float32_codes_as_labels_give_the_same_model(focal, kwargs, task):
    # float32 labels 0..K-1 (signed zeros too) are handed to XGBoost as they are, uncopied
    # (focalboost/sklearn/_xgboost.py: _float32_codes); the margins must be those of int64 labels
    X, codes = _multiclass() if task == "multiclass" else _binary()
    y32 = codes.astype(np.float32)
    y32[np.flatnonzero(codes == 0)[:3]] = -0.0
    assert np.signbit(y32).any()
    on_int = focal(**kwargs).fit(X, codes.astype(np.int64))
    on_float32 = focal(**kwargs).fit(X, y32)
    np.testing.assert_array_equal(on_float32.classes_, [0.0, 1.0] if task == "binary" else [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(_margins(on_float32, X), _margins(on_int, X))
    assert np.signbit(y32).sum() == 3  # the user's labels untouched


@pytest.mark.parametrize("focal, kwargs", ESTIMATORS, ids=IDS)
def test_pandas_input(focal, kwargs):
    X, y = _binary()
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    labels = pd.Series(np.where(y == 1, "pos", "neg"))
    clf = focal(**kwargs).fit(frame, labels, sample_weight=pd.Series(np.ones(len(y))))
    assert clf.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(clf.feature_names_in_, frame.columns)
    on_array = focal(**kwargs).fit(X, labels)
    np.testing.assert_allclose(clf.predict_proba(frame), on_array.predict_proba(X), atol=1e-6)
    # fitted on an array: feature_names_in_ exactly when the library's own classifier has it
    # (scikit-learn's rule, which LGBMClassifier follows from lightgbm 4.7 on)
    peer = (xgb.XGBClassifier if focal is FocalXGBClassifier else lgb.LGBMClassifier)(**kwargs)
    assert hasattr(focal(**kwargs).fit(X, y), "feature_names_in_") == hasattr(peer.fit(X, y), "feature_names_in_")
    if focal is FocalXGBClassifier or tuple(map(int, lgb.__version__.split(".")[:2])) >= (4, 7):
        assert not hasattr(focal(**kwargs).fit(X, y), "feature_names_in_")


@pytest.mark.parametrize(
    "focal, kwargs",
    # LightGBM's min_child_samples / min_data_in_bin count rows, not weight: relaxed so that they
    # cannot tell a weight-2 row from two rows.
    [
        (FocalXGBClassifier, XGB_FAST),
        (FocalLGBMClassifier, dict(LGB_FAST, min_child_samples=1, min_data_in_bin=1)),
    ],
    ids=IDS,
)
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_weight_two_equals_duplicated_rows(focal, kwargs, task):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 8, size=(300, 4)).astype(float)  # few distinct values: identical bins
    score = X[:, 0] + X[:, 1] + rng.normal(0, 2, 300)
    y = (score > 8).astype(int) if task == "binary" else np.digitize(score, [6, 9])
    w = rng.integers(1, 3, 300)
    weighted = focal(alpha="balanced", **kwargs).fit(X, y, sample_weight=w)
    duplicated = focal(alpha="balanced", **kwargs).fit(X.repeat(w, axis=0), y.repeat(w))
    np.testing.assert_allclose(weighted.alpha_, duplicated.alpha_)
    np.testing.assert_allclose(weighted.predict_proba(X), duplicated.predict_proba(X), atol=1e-6)
    unweighted = focal(alpha="balanced", **kwargs).fit(X, y)
    assert np.abs(unweighted.predict_proba(X) - weighted.predict_proba(X)).max() > 1e-3


@pytest.mark.parametrize("focal, kwargs", ESTIMATORS, ids=IDS)
def test_scale_pos_weight_weights_class_one(focal, kwargs):
    X, y = _binary()
    w = np.where(y == 1, 3.0, 1.0)
    a = focal(scale_pos_weight=3.0, **kwargs).fit(X, y).predict_proba(X)
    b = focal(**kwargs).fit(X, y, sample_weight=w).predict_proba(X)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_lightgbm_class_weight_is_sample_weight():
    X, y = _multiclass()
    a = FocalLGBMClassifier(class_weight="balanced", alpha="enet", **LGB_FAST).fit(X, y)
    w = compute_sample_weight("balanced", y)
    b = FocalLGBMClassifier(alpha="enet", **LGB_FAST).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-9)
    np.testing.assert_allclose(a.alpha_, b.alpha_)


@pytest.mark.parametrize("focal, kwargs", ESTIMATORS, ids=IDS)
def test_alpha_forms(focal, kwargs):
    X, codes = _multiclass()
    labels = np.array(["a", "b", "c"])
    y = labels[codes]
    by_label = focal(alpha={"c": 3.0, "a": 1.0, "b": 2.0}, **kwargs).fit(X, y)
    np.testing.assert_array_equal(by_label.alpha_, [1.0, 2.0, 3.0])
    by_array = focal(alpha=[1.0, 2.0, 3.0], **kwargs).fit(X, y)
    np.testing.assert_allclose(by_label.predict_proba(X), by_array.predict_proba(X))
    unweighted = focal(**kwargs).fit(X, y)
    assert np.abs(unweighted.predict_proba(X) - by_label.predict_proba(X)).max() > 1e-3
    Xb, yb = _binary()
    assert focal(alpha=0.75, **kwargs).fit(Xb, yb).alpha_ == 0.75  # weight of classes_[1]
    assert focal(alpha={0: 1.0, 1: 3.0}, **kwargs).fit(Xb, yb).alpha_ == 0.75  # only the ratio
    balanced = focal(alpha="balanced", **kwargs).fit(Xb, yb).alpha_
    assert balanced == pytest.approx(1.0 - yb.mean())  # w1 / (w0 + w1) with w_k = n / (2 n_k)


# --- pickling and model selection ----------------------------------------------------------------
@pytest.mark.parametrize("focal, kwargs", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_pickle_and_joblib_round_trip(focal, kwargs, task):
    X, y = _binary() if task == "binary" else _multiclass()
    y = np.array(["a", "b", "c"])[y]
    clf = focal(alpha="balanced", **kwargs).fit(X, y)
    expected = clf.predict_proba(X)
    restored = pickle.loads(pickle.dumps(clf))
    buffer = io.BytesIO()
    joblib.dump(clf, buffer)
    buffer.seek(0)
    for other in (restored, joblib.load(buffer)):
        np.testing.assert_array_equal(other.predict_proba(X), expected)
        np.testing.assert_array_equal(other.predict(X), clf.predict(X))
        np.testing.assert_array_equal(other.classes_, clf.classes_)


@pytest.mark.parametrize("focal, kwargs", ESTIMATORS, ids=IDS)
def test_pipeline_and_grid_search_over_gamma_and_alpha(focal, kwargs):
    X, y = _binary(n=400, weights=(0.85,))
    step = focal.__name__.lower()
    search = GridSearchCV(
        make_pipeline(StandardScaler(), focal(**kwargs)),
        {f"{step}__gamma": [0, 1, 2], f"{step}__alpha": [None, 0.25, 0.75]},
        scoring="average_precision",
        cv=2,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 9
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    best = search.best_estimator_[-1]
    chosen = search.best_params_
    assert (best.gamma, best.alpha) == (chosen[f"{step}__gamma"], chosen[f"{step}__alpha"])
    assert search.predict_proba(X).shape == (len(y), 2)


@pytest.mark.parametrize("focal, kwargs", ESTIMATORS, ids=IDS)
def test_randomized_search_and_cross_val_score(focal, kwargs):
    X, y = _multiclass(n=300)
    scores = cross_val_score(focal(**kwargs), X, y, cv=3, scoring="neg_log_loss")
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
    search = RandomizedSearchCV(
        focal(**kwargs),
        {
            "gamma": [0.0, 0.5, 1.0, 2.0],
            "alpha": [None, "balanced", "enet"],
            "hessian": ["positive", "exact"],
        },
        n_iter=4, cv=2, random_state=0, scoring="accuracy",
    ).fit(X, y)
    assert search.best_score_ > 0.6


# --- early stopping ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def split():
    X, y = _binary(n=800, weights=(0.8,), seed=5)
    y = np.where(y == 1, "pos", "neg")
    return train_test_split(X, y, test_size=0.5, random_state=0)


def test_xgboost_early_stopping_on_focal_loss(split):
    X_train, X_valid, y_train, y_valid = split
    clf = FocalXGBClassifier(
        n_estimators=300, learning_rate=0.3, early_stopping_rounds=10, **ONE_THREAD
    )
    clf.fit(X_train, y_train, eval_set=[(X_valid, y_valid)], verbose=False)
    history = clf.evals_result_["validation_0"]["focal_loss"]
    assert clf.best_iteration == int(np.argmin(history)) < len(history) - 1 < 299
    # the metric is the unscaled weighted mean focal loss of the eval set
    codes = (y_valid == "pos").astype(int)
    at_best = clf.predict(X_valid, output_margin=True)
    assert history[clf.best_iteration] == pytest.approx(
        clf.loss_.mean_loss(codes, at_best), rel=1e-5
    )
    # predict uses best_iteration, not the last tree
    full = clf.predict_proba(X_valid, iteration_range=(0, len(history)))
    best = clf.predict_proba(X_valid, iteration_range=(0, clf.best_iteration + 1))
    np.testing.assert_array_equal(clf.predict_proba(X_valid), best)
    assert np.abs(full - best).max() > 1e-4


def test_xgboost_builtin_and_callable_metrics_see_probabilities(split):
    X_train, X_valid, y_train, y_valid = split
    codes = (y_valid == "pos").astype(int)

    def brier(y_true, y_score, sample_weight=None):
        return float(np.average((y_true - y_score) ** 2, weights=sample_weight))

    clf = FocalXGBClassifier(
        n_estimators=200,
        learning_rate=0.3,
        early_stopping_rounds=10,
        probability="focal",  # training-time metrics see the model's raw (focal) probabilities
        eval_metric=["logloss", "aucpr", brier],
        **ONE_THREAD,
    ).fit(X_train, y_train, eval_set=[(X_valid, y_valid)], verbose=False)
    history = clf.evals_result_["validation_0"]
    assert set(history) == {"logloss", "aucpr", "brier"}
    k = 5
    proba = clf.predict_proba(X_valid, iteration_range=(0, k))[:, 1]
    assert history["logloss"][k - 1] == pytest.approx(log_loss(codes, proba), rel=1e-5)
    assert history["brier"][k - 1] == pytest.approx(np.mean((codes - proba) ** 2), rel=1e-5)
    assert history["aucpr"][k - 1] == pytest.approx(average_precision_score(codes, proba), abs=0.02)
    assert clf.best_iteration == int(np.argmin(history["brier"]))  # the last metric decides


def test_lightgbm_early_stopping_on_focal_loss(split):
    X_train, X_valid, y_train, y_valid = split
    clf = FocalLGBMClassifier(n_estimators=300, learning_rate=0.3, **ONE_THREAD, verbose=-1)
    stop = lgb.early_stopping(10, verbose=False)
    clf.fit(X_train, y_train, eval_X=X_valid, eval_y=y_valid, callbacks=[stop])
    history = clf.evals_result_["valid_0"]["focal_loss"]
    assert clf.best_iteration_ == int(np.argmin(history)) + 1 < len(history) < 300
    codes = (y_valid == "pos").astype(int)
    at_best = clf.decision_function(X_valid)
    assert history[clf.best_iteration_ - 1] == pytest.approx(
        clf.loss_.mean_loss(codes, at_best), rel=1e-9
    )
    # predict uses best_iteration_ (lgb.train also drops the trees after it from the booster)
    best = clf.predict_proba(X_valid, num_iteration=clf.best_iteration_)
    np.testing.assert_array_equal(clf.predict_proba(X_valid), best)
    earlier = clf.predict_proba(X_valid, num_iteration=clf.best_iteration_ - 1)
    assert np.abs(earlier - best).max() > 1e-4


def test_lightgbm_metrics_see_probabilities(split):
    X_train, X_valid, y_train, y_valid = split
    codes = (y_valid == "pos").astype(int)

    def brier(y_true, y_pred, weight):
        return "brier", float(np.average((y_true - y_pred) ** 2, weights=weight)), False

    # training-time metrics see the model's raw (focal) probabilities
    clf = FocalLGBMClassifier(
        n_estimators=200, learning_rate=0.3, probability="focal", **ONE_THREAD, verbose=-1
    )
    clf.fit(
        X_train,
        y_train,
        eval_set=[(X_valid, y_valid)],  # LightGBM's older spelling is accepted too
        eval_metric=["logloss", "error", "auc", brier],
        callbacks=[lgb.early_stopping(10, first_metric_only=True, verbose=False)],
    )
    history = clf.evals_result_["valid_0"]
    assert set(history) == {"auc", "binary_logloss", "binary_error", "brier", "focal_loss"}
    k = 5
    proba = clf.predict_proba(X_valid, num_iteration=k)[:, 1]
    assert history["binary_logloss"][k - 1] == pytest.approx(log_loss(codes, proba), rel=1e-9)
    assert history["binary_error"][k - 1] == pytest.approx(np.mean((proba > 0.5) != codes))
    assert history["brier"][k - 1] == pytest.approx(np.mean((codes - proba) ** 2), rel=1e-9)
    assert clf.best_iteration_ == int(np.argmax(history["auc"])) + 1  # built-in names come first
    # `metric` replaces the default focal_loss, as in LightGBM
    evals = dict(eval_X=X_valid, eval_y=y_valid)
    clf = FocalLGBMClassifier(metric="auc", **LGB_FAST).fit(X_train, y_train, **evals)
    assert set(clf.evals_result_["valid_0"]) == {"auc"}
    with pytest.raises(ValueError, match="cross_entropy"):  # LightGBM would compute it on margins
        FocalLGBMClassifier(**LGB_FAST).fit(X_train, y_train, eval_metric="cross_entropy", **evals)


@pytest.mark.parametrize("spelling", ["eval_X", "eval_set"])
def test_lightgbm_eval_sets_with_labels_and_init_scores(split, spelling):
    X_train, X_valid, y_train, y_valid = split  # string labels
    codes = (y_train == "pos").astype(int)
    evals = (
        dict(eval_X=(X_train, X_valid), eval_y=(y_train, y_valid))
        if spelling == "eval_X"
        else dict(eval_set=[(X_train, y_train), (X_valid, y_valid)])
    )
    clf = FocalLGBMClassifier(**LGB_FAST).fit(X_train, y_train, **evals)
    first = next(iter(clf.evals_result_.values()))["focal_loss"]  # the training data itself
    assert first[-1] == pytest.approx(clf.loss_.mean_loss(codes, clf.decision_function(X_train)))
    # a user init_score replaces the focal one and, as in LightGBM, is not added at predict time
    own = np.full(len(y_train), 0.5)
    user = FocalLGBMClassifier(**LGB_FAST).fit(X_train, y_train, init_score=own)
    assert user.init_score_ == 0.0
    raw = user.booster_.predict(X_train, raw_score=True)
    np.testing.assert_allclose(user.decision_function(X_train), raw)


@pytest.mark.parametrize("focal, kwargs", ESTIMATORS, ids=IDS)
def test_multiclass_early_stopping(focal, kwargs):
    X, y = _multiclass(n=600)
    X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.5, random_state=0)
    params = dict(kwargs, n_estimators=300, learning_rate=0.5)
    if focal is FocalXGBClassifier:
        clf = focal(early_stopping_rounds=5, **params)
        clf.fit(X_train, y_train, eval_set=[(X_valid, y_valid)], verbose=False)
        history, best = clf.evals_result_["validation_0"]["focal_loss"], clf.best_iteration + 1
    else:
        clf = focal(**params)
        stop = lgb.early_stopping(5, verbose=False)
        clf.fit(X_train, y_train, eval_X=X_valid, eval_y=y_valid, callbacks=[stop])
        history, best = clf.evals_result_["valid_0"]["focal_loss"], clf.best_iteration_
    assert best == int(np.argmin(history)) + 1 < len(history) < 300
    at_best = _margins(clf, X_valid)
    assert history[best - 1] == pytest.approx(clf.loss_.mean_loss(y_valid, at_best), rel=1e-5)


# --- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize("focal, kwargs", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize(
    "params, match",
    [
        ({"gamma": -1.0}, "'gamma' parameter"),
        ({"gamma": "2"}, "'gamma' parameter"),
        ({"alpha": 1.5}, "'alpha' parameter"),
        ({"alpha": 0.0}, "'alpha' parameter"),
        ({"alpha": "balance"}, "'alpha' parameter"),
        ({"alpha": [1.0, 2.0, 3.0]}, "alpha must be None or a 1-D vector of 2"),
        ({"alpha": [1.0, -2.0]}, "alpha must contain finite weights > 0"),
        ({"alpha": {0: 1.0, 2: 1.0}}, "unknown keys \\[2\\], missing classes \\[1\\]"),
        ({"hessian": "newton"}, "'hessian' parameter"),
        ({"loss_scale": 0.0}, "'loss_scale' parameter"),
        ({"loss_scale": "none"}, "'loss_scale' parameter"),
    ],
)
def test_bad_parameters_are_named(focal, kwargs, params, match):
    X, y = _binary(n=100)
    with pytest.raises(ValueError, match=match):
        focal(**params, **kwargs).fit(X, y)


@pytest.mark.parametrize("focal, kwargs", ESTIMATORS, ids=IDS)
def test_multiclass_alpha_errors(focal, kwargs):
    X, y = _multiclass(n=150)
    with pytest.raises(ValueError, match="single number.*3 classes"):
        focal(alpha=0.25, **kwargs).fit(X, y)
    with pytest.raises(ValueError, match="1-D vector of 3"):
        focal(alpha=[1.0, 2.0], **kwargs).fit(X, y)
    with pytest.raises(ValueError, match="scale_pos_weight is defined for binary"):
        focal(scale_pos_weight=2.0, **kwargs).fit(X, y)


@pytest.mark.parametrize("focal, kwargs", ESTIMATORS, ids=IDS)
def test_bad_targets_and_weights(focal, kwargs):
    X, y = _binary(n=100)
    with pytest.raises(ValueError, match="only one class"):
        focal(**kwargs).fit(X, np.zeros(100))
    with pytest.raises(ValueError, match="only one class with positive weight"):
        focal(**kwargs).fit(X, y, sample_weight=(y == 1).astype(float))
    for bad in (np.nan, np.inf):
        y_bad = y.astype(float)
        y_bad[3] = bad
        with pytest.raises(ValueError, match="Input y contains (NaN|infinity)"):
            focal(**kwargs).fit(X, y_bad)
    with pytest.raises(ValueError, match="Unknown label type"):
        focal(**kwargs).fit(X, y + 0.5)
    if focal is FocalLGBMClassifier:  # FocalXGBClassifier takes a 2-D y as multi-label
        with pytest.raises(ValueError, match="y should be a 1d array"):
            focal(**kwargs).fit(X, np.column_stack([y, y]))
    else:
        with pytest.raises(ValueError, match=r"label column\(s\) \[1\] hold a single value"):
            focal(**kwargs).fit(X, np.column_stack([y, np.zeros_like(y)]))
        with pytest.raises(ValueError, match="must hold only 0 and 1, found \\[2.0\\]"):
            focal(**kwargs).fit(X, np.column_stack([y, 2 * y]))
    with pytest.raises(ValueError, match="non-zero"):
        focal(**kwargs).fit(X, y, sample_weight=np.zeros(100))
    with pytest.raises(ValueError, match="Negative values"):
        focal(**kwargs).fit(X, y, sample_weight=-np.ones(100))


@pytest.mark.parametrize("focal, kwargs", ESTIMATORS, ids=IDS)
def test_wrong_number_of_features_at_predict(focal, kwargs):
    X, y = _binary(n=100)
    clf = focal(**kwargs).fit(X, y)
    message = f"X has 7 features, but {focal.__name__} is expecting 8 features as input"
    for method in ("predict", "predict_proba"):
        with pytest.raises(ValueError, match=message):
            getattr(clf, method)(X[:, :7])
        with pytest.raises(ValueError, match=message):
            getattr(clf, method)(pd.DataFrame(X[:, :7]))


def test_unsupported_fit_arguments():
    X, y = _binary(n=100)
    xgb_clf = FocalXGBClassifier(**XGB_FAST).fit(X, y)
    with pytest.raises(NotImplementedError, match="xgb_model"):
        FocalXGBClassifier(**XGB_FAST).fit(X, y, xgb_model=xgb_clf)
    lgb_clf = FocalLGBMClassifier(**LGB_FAST).fit(X, y)
    with pytest.raises(NotImplementedError, match="init_model"):
        FocalLGBMClassifier(**LGB_FAST).fit(X, y, init_model=lgb_clf)
    with pytest.raises(ValueError, match="is_unbalance"):
        FocalLGBMClassifier(is_unbalance=True, **LGB_FAST).fit(X, y)
    with pytest.raises(ValueError, match="objective"):
        FocalLGBMClassifier(application="binary", **LGB_FAST)


def test_lightgbm_tiny_data_gives_the_init_score():
    """LightGBM's callable-objective path crashes when no feature can be split (here: fewer
    rows than 2 * min_child_samples); the estimator falls back to a constant model, as the
    built-in objective does."""
    X, y = _binary(n=12)
    clf = FocalLGBMClassifier(**LGB_FAST).fit(X, y)
    np.testing.assert_allclose(clf.decision_function(X), clf.init_score_)
