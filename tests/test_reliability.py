"""No silent results, no surprises: the failures a fuzzing and fault run found, one test each
(every test here failed before its fix)."""

from __future__ import annotations

import warnings

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb

from focalboost import BinaryFocalLoss, MulticlassFocalLoss, MultiLabelFocalLoss
from focalboost import lightgbm as flgb
from focalboost import xgboost as fxgb
from focalboost.finite_difference import FiniteDifferenceBinaryLoss, FiniteDifferenceMulticlassLoss

XGB = {"max_depth": 2, "eta": 0.3, "nthread": 1}


def _binary_data(n=400, seed=0, shift=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + rng.normal(size=n) > shift).astype(np.float64)
    return X, y


# --- zero total weight: the mean is NaN, nothing raises ---------------------------------------------
LOSSES = [
    BinaryFocalLoss(2.0, 0.25),
    BinaryFocalLoss(2.0, derivatives="finite_difference"),
    MulticlassFocalLoss(3, 2.0),
    MultiLabelFocalLoss(2.0),
]


def _labels_and_margins(loss, n):
    if loss.kind == "binary":
        return np.arange(n) % 2, np.zeros(n)
    if loss.kind == "multiclass":
        return np.arange(n) % 3, np.zeros((n, 3))
    return np.ones((n, 2)), np.zeros((n, 2))


@pytest.mark.parametrize("loss", LOSSES, ids=repr)
def test_mean_loss_of_zero_total_weight_is_nan(loss):
    y, raw = _labels_and_margins(loss, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning either
        assert np.isnan(loss.mean_loss(y, raw, np.zeros(6)))
        y0, raw0 = _labels_and_margins(loss, 0)
        assert np.isnan(loss.mean_loss(y0, raw0))
    assert loss.loss_sums(y, raw, np.zeros(6)) == (0.0, 0.0)
    assert loss.mean_loss(y, raw, np.r_[1.0, np.zeros(5)]) == pytest.approx(loss.loss(y[:1], raw[:1]).mean())


def test_the_xgboost_metric_of_a_zero_weight_eval_set_is_nan():
    X, y = _binary_data()
    loss = BinaryFocalLoss(2.0)
    dvalid = xgb.DMatrix(X, y, weight=np.zeros(len(y)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert np.isnan(fxgb.mean_loss(loss, y, np.zeros(len(y)), np.zeros(len(y))))
    result = {}
    fxgb.train(XGB, xgb.DMatrix(X, y), 3, loss=loss, evals=[(dvalid, "valid")], evals_result=result,
               verbose_eval=False)
    assert np.isnan(result["valid"]["focal_loss"]).all()


def test_lightgbm_trains_with_a_zero_weight_eval_set():
    from focalboost.sklearn import FocalLGBMClassifier

    X, y = _binary_data()
    Xv, yv = X[:100], y[:100]
    model = FocalLGBMClassifier(n_estimators=3, verbose=-1, n_jobs=1)
    model.fit(X, y, eval_set=[(Xv, yv)], eval_sample_weight=[np.zeros(len(yv))])
    assert np.isnan(model.evals_result_["valid_0"]["focal_loss"]).all()
    assert model.predict_proba(Xv).shape == (100, 2)
    # the native hook too
    loss = BinaryFocalLoss(2.0)
    init = loss.init_score(y)
    dtrain = lgb.Dataset(X, y, init_score=flgb.init_score(loss, y, init=init))
    dvalid = lgb.Dataset(Xv, yv, weight=np.zeros(len(yv)), init_score=flgb.init_score(loss, yv, init=init))
    result = {}
    lgb.train({**flgb.training_params(loss), "verbose": -1, "num_threads": 1}, dtrain, 3,
              valid_sets=[dvalid], feval=flgb.metric(loss), callbacks=[lgb.record_evaluation(result)])
    assert np.isnan(result["valid_0"]["focal_loss"]).all()


# --- continued training keeps the model being continued -------------------------------------------
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
@pytest.mark.parametrize("as_file", [False, True])
def test_continued_training_leaves_the_old_trees_margins_unchanged(kind, as_file, tmp_path):
    """fxgb.train(..., xgb_model=booster) recomputed base_score from the new batch, which shifted
    every old tree's margin (before the fix, by up to 0.63 here for binary and 0.65 for
    multiclass: the second batch has other class proportions)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(4000, 3))
    if kind == "binary":
        loss = BinaryFocalLoss(2.0, 0.25)
        first = (X[:, 0] + rng.normal(size=4000) > 1.0).astype(float)
        second = (X[:, 0] + rng.normal(size=4000) > -0.5).astype(float)
    else:
        loss = MulticlassFocalLoss(3, 2.0)
        first = np.digitize(X[:, 0] + rng.normal(size=4000), [0.5, 1.5]).astype(float)
        second = np.digitize(X[:, 0] + rng.normal(size=4000), [-1.0, 0.0]).astype(float)
    booster = fxgb.train(XGB, xgb.DMatrix(X, first), 5, loss=loss)
    d = xgb.DMatrix(X)
    before = booster.predict(d, output_margin=True)
    model = booster
    if as_file:
        model = str(tmp_path / "model.json")
        booster.save_model(model)
    continued = fxgb.train(XGB, xgb.DMatrix(X, second), 3, loss=loss, xgb_model=model)
    assert continued.num_boosted_rounds() == 8
    np.testing.assert_array_equal(continued.predict(d, output_margin=True, iteration_range=(0, 5)), before)
    # the new trees did learn the second batch: its loss went down
    assert loss.mean_loss(second, continued.predict(d, output_margin=True)) < loss.mean_loss(second, before)
    # the test can fail: a base_score from the second batch (the old code) is far from the first's
    moved = fxgb.training_params(loss, second)["base_score"]
    assert np.max(np.abs(np.subtract(moved, fxgb.training_params(loss, first)["base_score"]))) > 0.1


def test_continued_training_refuses_another_base_score():
    X, y = _binary_data()
    loss = BinaryFocalLoss(2.0)
    booster = fxgb.train(XGB, xgb.DMatrix(X, y), 2, loss=loss)
    with pytest.raises(ValueError, match=r"base_score=0.3 differs from the base_score of the model"):
        fxgb.train({**XGB, "base_score": 0.3}, xgb.DMatrix(X, y), 2, loss=loss, xgb_model=booster)
    # the model's own value (as XGBoost keeps it, float32) is accepted
    own = float(fxgb.training_params(loss, y)["base_score"])
    continued = fxgb.train({**XGB, "base_score": own}, xgb.DMatrix(X, y), 2, loss=loss, xgb_model=booster)
    assert continued.num_boosted_rounds() == 4
    with pytest.raises(ValueError, match=r"xgb_model's num_class=0 does not match loss=MulticlassFocalLoss"):
        fxgb.train(XGB, xgb.DMatrix(X, y), 2, loss=MulticlassFocalLoss(2), xgb_model=booster)


# --- num_class against the loss ------------------------------------------------------------------
def test_a_num_class_that_does_not_fit_the_loss_is_refused_before_training():
    X, y = _binary_data(4000)
    with pytest.raises(ValueError, match=r"num_class=3 does not fit loss=BinaryFocalLoss.*binary loss"):
        fxgb.train({**XGB, "num_class": 3}, xgb.DMatrix(X, y), 2, loss=BinaryFocalLoss())
    with pytest.raises(ValueError, match=r"num_class=4 does not match loss=MulticlassFocalLoss\(n_classes=3"):
        fxgb.train({**XGB, "num_class": 4}, xgb.DMatrix(X, y), 2, loss=MulticlassFocalLoss(3))
    with pytest.raises(ValueError, match=r"num_class=2 does not fit loss=MultiLabelFocalLoss"):
        fxgb.train({**XGB, "num_class": 2}, xgb.DMatrix(X, np.c_[y, y]), 2, loss=MultiLabelFocalLoss())
    for fine in (0, 1):
        fxgb.train({**XGB, "num_class": fine}, xgb.DMatrix(X, y), 1, loss=BinaryFocalLoss())
    # the plain hook says the same when XGBoost's margins do not fit the loss
    params = {**XGB, "num_class": 3, "disable_default_eval_metric": True}
    with pytest.raises(ValueError, match=r"12000 margins for 4000 rows, 3 per row, but BinaryFocalLoss"):
        xgb.train(params, xgb.DMatrix(X, y), 1, obj=fxgb.objective(BinaryFocalLoss()))


# --- finite-difference losses: a NaN from the user's loss is an error naming it ---------------------
def nan_above_three(y, x):
    """Log loss, but NaN for margins above 3.0 (a user's bug)."""
    loss = np.logaddexp(0.0, np.where(y == 1, -x, x))
    return np.where(x > 3.0, np.nan, loss)


def nan_above_three_multiclass(y, Z):
    loss = -(Z[np.arange(len(y)), y.astype(int)] - np.logaddexp.reduce(Z, axis=1))
    return np.where(Z.max(axis=1) > 3.0, np.nan, loss)


def huge(y, x):
    return np.full(np.shape(x), 1e307) * (1.0 + x)


def test_a_finite_difference_loss_returning_nan_is_an_error_naming_it():
    loss = FiniteDifferenceBinaryLoss(nan_above_three)
    y = np.array([1, 0, 1, 0])
    x = np.array([0.0, 0.5, 3.2, -3.0])
    with pytest.raises(ValueError, match=r"loss_function test_reliability.nan_above_three must return finite "
                                         r"losses; it returned NaN or infinite values for 1 row\(s\) "
                                         r"\(e.g. rows \[2\]: \[nan\]\) at the margins "
                                         r"\[3.199\d*\], evaluated for the finite differences around the "
                                         r"rows' margins \[3.2\]"):
        loss.gradient_hessian(y, x)
    with pytest.raises(ValueError, match=r"nan_above_three must return finite losses"):
        loss.loss(y, x)
    # 2.9995 is fine, but the stencils evaluate 2.9995 + 2**-10 > 3: named as evaluated
    with pytest.raises(ValueError, match=r"at the margins \[3.000\d*\], evaluated .* margins \[2.9995\]"):
        loss.gradient_hessian(y[:1], np.array([2.9995]))
    grad, hess = loss.gradient_hessian(y, np.array([0.0, 0.5, 2.9, -3.0]))
    assert np.isfinite(grad).all() and np.isfinite(hess).all()
    multi = FiniteDifferenceMulticlassLoss(nan_above_three_multiclass, 3)
    Z = np.array([[0.0, 0.2, -1.0], [0.3, 4.0, 0.0]])
    with pytest.raises(ValueError, match=r"nan_above_three_multiclass must return finite losses.*"
                                         r"at the margins \[\[0.3, 4.0, 0.0\]\]"):
        multi.gradient_hessian([0, 1], Z)
    with pytest.raises(ValueError, match=r"the finite differences of loss_function test_reliability.huge "
                                         r"are not finite"):
        FiniteDifferenceBinaryLoss(huge).gradient_hessian(y, x)


def test_training_with_a_finite_difference_loss_that_turns_nan_stops_in_that_round():
    """Before: the NaN gradients went into the trees; XGBoost then said, a round later, that the
    margins were not finite (blaming them), and a NaN in the last round left an all-NaN model."""
    X, y = _binary_data(300, shift=0.0)
    loss = FiniteDifferenceBinaryLoss(nan_above_three)
    params = {**XGB, "eta": 1.0, "max_depth": 3}
    two = fxgb.train(params, xgb.DMatrix(X, y), 2, loss=loss).predict(xgb.DMatrix(X), output_margin=True)
    assert np.all(np.isfinite(two)) and two.max() > 3.0  # the third round meets the NaN
    for rounds in (3, 6):  # 3: the last round (the old code returned a NaN model)
        with pytest.raises(ValueError, match=r"nan_above_three must return finite losses"):
            fxgb.train(params, xgb.DMatrix(X, y), rounds, loss=loss)
    params = {"objective": flgb.objective(loss), "metric": "None", "verbose": -1, "num_threads": 1,
              "learning_rate": 1.0}
    with pytest.raises(ValueError, match=r"nan_above_three must return finite losses"):
        lgb.train(params, lgb.Dataset(X, y, init_score=flgb.init_score(loss, y)), 5)


# --- huge finite margins -----------------------------------------------------------------------------
BIG = np.finfo(np.float64).max
HUGE_BINARY = np.array([2.0**1023, -(2.0**1023), BIG, -BIG, 1e308, -1e308])
HUGE_ROWS = np.array([
    [1e308, -1e308, 0.0],
    [-1e308, 1e308, 1e308],
    [2.0**1023, 2.0**1023, 0.0],
    [-BIG, BIG, 0.0],
    [3.4e38, 3.4e38, 3.4e38],
    [1e308, 0.0, 0.0],
])


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 2.5, 20.0])
@pytest.mark.parametrize("hessian", ["positive", "exact"])
def test_huge_binary_margins_give_finite_values(gamma, hessian):
    """The exact hessian was NaN beyond |x| ~ 1e308 / gamma: 0 * (-inf) from gamma r l."""
    loss = BinaryFocalLoss(gamma, 0.25, hessian=hessian)
    for y in (np.ones(6), np.zeros(6)):
        for values in (loss.gradient_hessian(y, HUGE_BINARY), loss.reference_gradient_hessian(y, HUGE_BINARY),
                       (loss.loss(y, HUGE_BINARY), loss.reference_loss(y, HUGE_BINARY)),
                       (loss.posterior(HUGE_BINARY), loss.predict_proba(HUGE_BINARY))):
            for v in values:
                assert np.all(np.isfinite(v)), values
        grad, hess = loss.gradient_hessian(y, HUGE_BINARY)
        wrong = np.sign(HUGE_BINARY) != np.where(y == 1, 1, -1)  # confidently wrong rows
        np.testing.assert_array_equal(np.abs(grad[wrong]), np.where(y[wrong] == 1, 0.25, 0.75))
        assert np.all(hess == 0) and np.all(grad[~wrong] == 0)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 7.5])
@pytest.mark.parametrize("hessian", ["positive", "exact"])
@pytest.mark.parametrize("alpha", [None, [0.2, 1.0, 0.5]])
def test_huge_multiclass_margins_give_finite_values(gamma, hessian, alpha):
    """Rows like [1e308, -1e308, 0] gave NaN gradients, hessians and posteriors (z_y - lse
    overflowed), and [2^1023, 2^1023, 0] a posterior of [1, 1, 0]."""
    loss = MulticlassFocalLoss(3, gamma, alpha, hessian=hessian)
    for y in range(3):
        labels = np.full(len(HUGE_ROWS), y)
        fast, ref = loss.gradient_hessian(labels, HUGE_ROWS), loss.reference_gradient_hessian(labels, HUGE_ROWS)
        for a, b in zip(fast, ref):
            assert np.all(np.isfinite(a)) and np.all(np.isfinite(b))
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(fast[0].sum(axis=1), 0.0, atol=1e-15)
        per_row = loss.loss(labels, HUGE_ROWS)
        assert np.all(np.isfinite(per_row)) and np.all(per_row >= 0)  # alpha <= 1: at most 1.8e308
        np.testing.assert_allclose(loss.reference_loss(labels, HUGE_ROWS), per_row, rtol=1e-12)
    for p in (loss.posterior(HUGE_ROWS), loss.predict_proba(HUGE_ROWS)):
        assert np.all(np.isfinite(p))
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-15)
    post = loss.posterior(HUGE_ROWS)
    np.testing.assert_allclose(post[[0, 2, 4, 5]], [[1, 0, 0], [0.5, 0.5, 0], [1 / 3] * 3, [1, 0, 0]]
                               if alpha is None else post[[0, 2, 4, 5]])
    np.testing.assert_array_equal(np.argmax(post, axis=1)[[0, 5]], [0, 0])


def test_three_equal_huge_margins_give_shares_of_one_third_in_the_reference_too():
    """The numpy reference gave [-0.5, 0.5, 0.5] (log 2 rounded away in 3.4e38 + log 2); the
    kernel's [-2/3, 1/3, 1/3] is right: they agree now, as at three equal margins of 0."""
    loss = MulticlassFocalLoss(3, 0.0)
    for Z in (np.full((1, 3), 3.4e38), np.full((1, 3), -3.4e38), np.full((1, 3), 2.0**1000)):
        for grad in (loss.gradient_hessian([0], Z)[0], loss.reference_gradient_hessian([0], Z)[0]):
            np.testing.assert_allclose(grad, [[-2 / 3, 1 / 3, 1 / 3]], rtol=1e-15)
    np.testing.assert_array_equal(
        MulticlassFocalLoss(3, 2.0).reference_gradient_hessian([1], np.full((1, 3), 3.4e38))[0],
        MulticlassFocalLoss(3, 2.0).reference_gradient_hessian([1], np.zeros((1, 3)))[0],
    )


# --- a model that cannot learn says so ------------------------------------------------------------
def _single_leaves(booster):
    return all(tree.count("leaf=") == 1 for tree in booster.get_dump())


@pytest.mark.parametrize("gamma, cause", [(50.0, r"the hessians sum to at most 1.\d+e-09"),
                                          (1e4, r"every gradient is 0")])
def test_xgboost_train_warns_when_no_tree_can_split(gamma, cause):
    """gamma 50 to 1e4 trained a constant model with no warning."""
    X, y = _binary_data(4000)
    loss = BinaryFocalLoss(gamma)
    with pytest.warns(UserWarning, match=rf"no tree can split: at the starting margins \(the init score\) "
                                         rf"{cause}.*gamma={gamma:g}.*lower gamma or lower min_child_weight"):
        booster = fxgb.train(XGB, xgb.DMatrix(X, y), 3, loss=loss)
    assert _single_leaves(booster)  # the criterion is sound: no tree split
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # min_child_weight=0: (1) does not hold; XGBoost's least gain (1e-6) still stops these trees,
        # which the check does not claim (it never warns wrongly; it does not see every cause)
        fxgb.train({**XGB, "min_child_weight": 0.0}, xgb.DMatrix(X, y), 3, loss=BinaryFocalLoss(50.0))
        assert not _single_leaves(fxgb.train(XGB, xgb.DMatrix(X, y), 3, loss=BinaryFocalLoss(2.0)))
        multi = MulticlassFocalLoss(3, 2.0)
        fxgb.train(XGB, xgb.DMatrix(X, np.digitize(X[:, 0], [-0.5, 0.5])), 2, loss=multi)
    with pytest.warns(UserWarning, match=r"hessians of every output sum to at most"):
        fxgb.train(XGB, xgb.DMatrix(X, np.digitize(X[:, 0], [-0.5, 0.5])), 2, loss=MulticlassFocalLoss(3, 60.0))


def test_lightgbm_objective_warns_when_no_tree_can_split():
    X, y = _binary_data(4000)
    for gamma, warns in ((60.0, True), (2.0, False)):
        loss = BinaryFocalLoss(gamma)
        dtrain = lgb.Dataset(X, y, init_score=flgb.init_score(loss, y))
        params = {**flgb.training_params(loss), "verbose": -1, "num_threads": 1}
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            booster = lgb.train(params, dtrain, 3)
        messages = [str(w.message) for w in seen if "no tree can split" in str(w.message)]
        assert len(messages) == warns, messages
        if warns:
            assert "2 x min_sum_hessian_in_leaf = 0.002" in messages[0]
            assert booster.num_trees() == 0 or all(t["tree_structure"].get("leaf_value") is not None
                                                    for t in booster.dump_model()["tree_info"])


def test_the_estimators_no_split_check_names_loss_scale():
    """What the estimators call (focalboost.sklearn: loss_scale=1e-30 trained a constant model)."""
    from focalboost._adapter import init_score_rows, no_split_reason, warn_if_no_split

    X, y = _binary_data(4000)
    loss = BinaryFocalLoss(2.0)
    raw = init_score_rows(loss, y, init=loss.init_score(y))
    with pytest.warns(UserWarning, match=r"sum to at most 1.\d+e-27 \(shrunk by the focal factor .* "
                                         r"and loss_scale=1e-30\).*raise loss_scale"):
        warn_if_no_split(loss, y, raw, min_hessian=1.0, scale=1e-30)
    assert warn_if_no_split(loss, y, raw, min_hessian=1.0, scale=1.0) is None
    # K rows weighted by the class totals give the same answer as the data (what Dask can use)
    totals = np.bincount(y.astype(int), minlength=2).astype(float)
    two = init_score_rows(loss, [0, 1], init=loss.init_score(y))
    with pytest.warns(UserWarning):
        warn_if_no_split(loss, np.array([0, 1]), two, totals, min_hessian=1.0, scale=1e-30)
    grad, hess = loss.gradient_hessian(y, raw)
    assert no_split_reason(loss, grad, hess, min_hessian=hess.sum() / 2 * 1.001) is not None
    assert no_split_reason(loss, grad, hess, min_hessian=hess.sum() / 2 * 0.999) is None


# --- OMP_DYNAMIC ---------------------------------------------------------------------------------------
def test_the_xgboost_hooks_warn_under_omp_dynamic(monkeypatch):
    """XGBoost 3.2 crashed (segmentation fault) training with nthread=2 under OMP_DYNAMIC=true;
    the hooks say so when they are made (once per process)."""
    from focalboost import _adapter

    loss = BinaryFocalLoss()
    monkeypatch.setattr(_adapter, "_omp_dynamic_warned", False, raising=False)
    monkeypatch.setenv("OMP_DYNAMIC", " TRUE ")
    with pytest.warns(RuntimeWarning, match=r"OMP_DYNAMIC=true lets OpenMP give XGBoost fewer threads"):
        fxgb.objective(loss)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fxgb.metric(loss)  # once per process
        monkeypatch.setattr(_adapter, "_omp_dynamic_warned", False, raising=False)
        for value in ("false", "", "0"):
            monkeypatch.setenv("OMP_DYNAMIC", value)
            fxgb.objective(loss)
    monkeypatch.setenv("OMP_DYNAMIC", "true")
    X, y = _binary_data()
    with pytest.warns(RuntimeWarning, match=r"OMP_DYNAMIC=true"):
        fxgb.train(XGB, xgb.DMatrix(X, y), 1, loss=loss)
