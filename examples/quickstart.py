"""Focal loss with the native XGBoost and LightGBM APIs on an imbalanced synthetic data set.

Run: python examples/quickstart.py
"""

import lightgbm as lgb
import xgboost as xgb
from sklearn.datasets import make_classification
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split

from focalboost import BinaryFocalLoss
from focalboost import lightgbm as flgb
from focalboost import xgboost as fxgb


def main():
    X, y = make_classification(n_samples=20000, n_features=20, n_informative=8, weights=[0.95],
                               flip_y=0.01, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    loss = BinaryFocalLoss(gamma=2.0, alpha=0.25)
    print(f"{len(y_train)} training rows, {y_train.mean():.1%} positive; {loss}")

    # XGBoost: fxgb.train is xgb.train with the focal objective and metric, base_score set to the
    # init score in margin space (fxgb.training_params), and the margins read without a copy; the
    # same as xgb.train(params | training_params, dtrain, 200, obj=objective(loss), ...)
    dtrain = xgb.DMatrix(X_train, y_train)
    booster = fxgb.train({"max_depth": 4, "eta": 0.1}, dtrain, 200, loss=loss)
    margin_xgb = fxgb.predict_margin(booster, xgb.DMatrix(X_test))

    # LightGBM: the init score goes into the Dataset and is added back at predict time
    init = loss.init_score(y_train)
    dtrain = lgb.Dataset(X_train, y_train, init_score=flgb.init_score(loss, y_train, init=init))
    params = {"num_leaves": 15, "learning_rate": 0.1, "verbose": -1, **flgb.training_params(loss)}
    booster = lgb.train(params, dtrain, 200, feval=flgb.metric(loss))
    margin_lgb = flgb.predict_margin(booster, X_test, init)

    print(f"{'model':<20}{'PR-AUC':>8}{'focal loss':>12}")
    for name, margin in [("XGBoost + focal", margin_xgb), ("LightGBM + focal", margin_lgb)]:
        proba = loss.predict_proba(margin)[:, 1]
        ap = average_precision_score(y_test, proba)
        print(f"{name:<20}{ap:8.3f}{loss.mean_loss(y_test, margin):12.4f}")
    print(f"{'prior':<20}{y_test.mean():8.3f}")


if __name__ == "__main__":
    main()
