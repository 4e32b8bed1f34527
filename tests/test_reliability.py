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
