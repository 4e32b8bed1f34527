"""focalboost.multioutput.EarlyStoppedMultiOutputClassifier: one LightGBM model per label, each
early-stopped on its own validation label."""

import doctest

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from focalboost import FocalLGBMClassifier, multioutput
from focalboost.multioutput import EarlyStoppedMultiOutputClassifier


def _data(n=1200, seed=0):
    """Label 'signal' follows x0; label 'noise' is a coin flip nothing predicts."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["x0", "x1", "x2", "x3"])
    signal = (X["x0"] + 0.5 * rng.normal(size=n) > 0.8).astype(int)
    noise = (rng.random(n) < 0.3).astype(int)
    Y = np.column_stack([signal, noise])
    return X.iloc[:800], Y[:800], X.iloc[800:], Y[800:]


@pytest.mark.parametrize("estimator", ["lightgbm", "focal"])
def test_each_label_stops_on_its_own_validation_column(estimator):
    X, Y, X_valid, Y_valid = _data()
    params = dict(n_estimators=300, learning_rate=0.1, num_leaves=7, random_state=0, verbose=-1)
    base = lgb.LGBMClassifier(**params) if estimator == "lightgbm" else FocalLGBMClassifier(
        gamma=2.0, alpha="balanced", **params
    )
    clf = EarlyStoppedMultiOutputClassifier(base).fit(
        X, Y, X_valid=X_valid, Y_valid=Y_valid, early_stopping_rounds=20
    )
    signal, noise = clf.estimators_
    assert 0 < noise.best_iteration_ < signal.best_iteration_ < 300
    if estimator == "lightgbm":  # the score kept is the log loss on the model's own column
        for j, model in enumerate(clf.estimators_):
            kept = model.predict_proba(X_valid, num_iteration=model.best_iteration_)[:, 1]
            score = model.best_score_["valid_0"]["binary_logloss"]
            assert score == pytest.approx(log_loss(Y_valid[:, j], kept), rel=1e-6)
    else:  # alpha="balanced" is computed from each label's own class counts
        assert signal.alpha_ != pytest.approx(noise.alpha_)
    proba = clf.predict_proba(X_valid)
    assert [p.shape for p in proba] == [(400, 2), (400, 2)]
    assert clf.predict(X_valid).shape == (400, 2)
    assert [c.tolist() for c in clf.classes_] == [[0, 1], [0, 1]]
    assert clf.n_features_in_ == 4 and list(clf.feature_names_in_) == list(X.columns)


def test_refuses_an_estimator_that_is_not_lightgbm():
    X, Y, X_valid, Y_valid = _data(n=900)
    clf = EarlyStoppedMultiOutputClassifier(LogisticRegression())
    with pytest.raises(TypeError, match="estimator must be a lightgbm.LGBMClassifier .* got "
                       "LogisticRegression"):
        clf.fit(X, Y, X_valid=X_valid, Y_valid=Y_valid, early_stopping_rounds=5)


def test_refuses_label_matrices_of_different_widths():
    X, Y, X_valid, Y_valid = _data(n=900)
    clf = EarlyStoppedMultiOutputClassifier(lgb.LGBMClassifier(verbose=-1))
    with pytest.raises(ValueError, match=r"got shapes \(800, 2\) and \(100, 1\)"):
        clf.fit(X, Y, X_valid=X_valid, Y_valid=Y_valid[:, :1], early_stopping_rounds=5)


def test_docstring_example_runs():
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = finder.find(multioutput.EarlyStoppedMultiOutputClassifier, "example", globs={})
    assert sum(len(t.examples) for t in tests) >= 5
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
