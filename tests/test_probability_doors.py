"""One meaning of "probability" at every door: the native helpers (XGBoost, LightGBM, Dask) give
what the estimators give, for the same model and mode, and use the best iteration after early
stopping."""

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb

from focalboost import FocalLGBMClassifier, FocalXGBClassifier
from focalboost import lightgbm as flgb
from focalboost import xgboost as fxgb
from focalboost.calibration import tempered_posterior


@pytest.mark.parametrize("probability", ["posterior", "focal"])
@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_xgboost_native_helper_gives_the_estimators_probabilities(make_data, kind, probability):
    X, y = make_data(kind, n=1200)
    alpha = {"binary": 0.3, "multiclass": "balanced", "multilabel": 0.3}[kind]
    model = FocalXGBClassifier(n_estimators=20, alpha=alpha, probability=probability).fit(X, y)
    native = fxgb.predict_proba(model.get_booster(), xgb.DMatrix(X), model.loss_, probability=probability)
    np.testing.assert_array_equal(native, model.predict_proba(X))


@pytest.mark.parametrize("probability", ["posterior", "focal"])
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_lightgbm_native_helper_gives_the_estimators_probabilities(make_data, kind, probability):
    X, y = make_data(kind, n=1200)
    model = FocalLGBMClassifier(n_estimators=20, alpha="balanced", probability=probability, verbose=-1)
    model.fit(X, y)
    # the estimator's booster holds its init score in its trees: init 0 for the native helper
    native = flgb.predict_proba(model.booster_, X, model.loss_, 0.0, probability=probability)
    np.testing.assert_array_equal(native, model.predict_proba(X))


def test_the_default_is_the_posterior_everywhere(make_data):
    X, y = make_data("binary", n=1200)
    model = FocalXGBClassifier(n_estimators=20, alpha=0.3).fit(X, y)
    native = fxgb.predict_proba(model.get_booster(), xgb.DMatrix(X), model.loss_)
    np.testing.assert_array_equal(native, model.loss_.posterior(model.predict(X, output_margin=True)))
    assert np.abs(native - model.loss_.predict_proba(model.predict(X, output_margin=True))).max() > 0.05
    with pytest.raises(ValueError, match="probability must be one of"):
        fxgb.predict_proba(model.get_booster(), xgb.DMatrix(X), model.loss_, probability="raw")


def test_native_xgboost_helpers_use_the_best_iteration(make_data):
    X, y = make_data("binary", n=2000)
    Xv, yv = make_data("binary", n=800, seed=1)
    from focalboost import BinaryFocalLoss

    loss = BinaryFocalLoss(gamma=2.0)
    dvalid = xgb.DMatrix(Xv, yv)
    booster = fxgb.train({"eta": 0.8, "max_depth": 4}, xgb.DMatrix(X, y), 300, loss=loss,
                         evals=[(dvalid, "valid")], early_stopping_rounds=5, verbose_eval=False)
    best = booster.best_iteration
    assert booster.num_boosted_rounds() > best + 1  # rounds after the best one exist
    margin = fxgb.predict_margin(booster, dvalid)
    at_best = booster.predict(dvalid, output_margin=True, iteration_range=(0, best + 1))
    every = booster.predict(dvalid, output_margin=True)
    np.testing.assert_array_equal(margin, at_best)
    assert np.abs(margin - every).max() > 1e-3  # the two really differ
    np.testing.assert_array_equal(
        fxgb.predict_proba(booster, dvalid, loss, probability="posterior"), loss.posterior(at_best)
    )
    s, T = fxgb.booster_calibration(booster)  # train() fitted them on dvalid, at the best iteration
    assert (s, T) != (1.0, 1.0) and (s, T) == fxgb.calibrate(booster, dvalid, loss)
    np.testing.assert_array_equal(fxgb.predict_proba(booster, dvalid, loss),
                                  tempered_posterior(loss, at_best, T, s))
    np.testing.assert_array_equal(  # told otherwise: every round
        fxgb.predict_margin(booster, dvalid, iteration_range=(0, 0)), every
    )


def test_native_lightgbm_helpers_use_the_best_iteration(make_data):
    from focalboost import BinaryFocalLoss

    X, y = make_data("binary", n=2000)
    Xv, yv = make_data("binary", n=800, seed=1)
    loss = BinaryFocalLoss(gamma=2.0)
    init = loss.init_score(y)
    dtrain = lgb.Dataset(X, y, init_score=flgb.init_score(loss, y, init=init))
    dvalid = lgb.Dataset(Xv, yv, init_score=flgb.init_score(loss, yv, init=init))
    booster = lgb.train({**flgb.training_params(loss), "learning_rate": 0.8, "verbose": -1}, dtrain,
                        300, valid_sets=[dvalid], feval=flgb.metric(loss),
                        callbacks=[lgb.early_stopping(5, verbose=False)],
                        keep_training_booster=True)  # else lgb.train keeps the best rounds only
    best = booster.best_iteration
    assert booster.current_iteration() > best
    margin = flgb.predict_margin(booster, Xv, init)
    np.testing.assert_array_equal(margin, booster.predict(Xv, num_iteration=best) + init)
    np.testing.assert_array_equal(flgb.predict_proba(booster, Xv, loss, init), loss.posterior(margin))
