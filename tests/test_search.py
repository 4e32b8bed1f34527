"""FocalSearchCV: exhaustive mode is GridSearchCV (same scores, best parameters and refit trees);
fast mode keeps GridSearchCV's contract (cv_results_, refit, delegation, clone, pickle); the
refit's probability="auto" strength and temperature come from the search's out-of-fold margins."""

import copy
import logging
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from focalboost import FocalLGBMClassifier, FocalSearchCV, FocalXGBClassifier
from focalboost.calibration import fit_strength_temperature, tempered_posterior
from focalboost.search import (
    _budgets,
    _final_step,
    _focal_margin,
    average_precision,
    default_param_grid,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # no-split warnings on tiny folds


def _data(n_classes=2, n=300, seed=0):
    weights = [0.8] + [0.2 / (n_classes - 1)] * (n_classes - 1)
    X, y = make_classification(n, 5, n_informative=4, n_redundant=0, n_classes=n_classes,
                               weights=weights, flip_y=0.05, random_state=seed)
    X[::9, 2] = np.nan  # missing values take the libraries' default directions
    labels = np.array(["no", "yes", "maybe"])[:n_classes]
    return X, labels[y]


def _estimator(library, rounds=8):
    if library == "xgboost":
        return FocalXGBClassifier(n_estimators=rounds, max_depth=3, n_jobs=1, random_state=0)
    return FocalLGBMClassifier(n_estimators=rounds, num_leaves=7, min_child_samples=5, n_jobs=1,
                               random_state=0, verbose=-1)


def _assert_same_as_grid(search, grid, X):
    assert search.best_params_ == grid.best_params_
    assert search.best_index_ == grid.best_index_
    assert search.n_splits_ == grid.n_splits_
    assert search.cv_results_["params"] == grid.cv_results_["params"]
    for key in [f"split{k}_test_score" for k in range(grid.n_splits_)] + [
        "mean_test_score", "std_test_score"
    ]:
        np.testing.assert_allclose(search.cv_results_[key], grid.cv_results_[key], rtol=0,
                                   atol=1e-12, err_msg=key)
    np.testing.assert_array_equal(search.cv_results_["rank_test_score"],
                                  grid.cv_results_["rank_test_score"])
    assert search.best_score_ == pytest.approx(grid.best_score_, abs=1e-12)
    _assert_same_refit(search.best_estimator_, grid.best_estimator_, X)


def _assert_same_refit(mine, reference, X):
    """The same trees (margins bit for bit); the probabilities differ only by the (strength,
    temperature) FocalSearchCV fitted on its out-of-fold margins: with them, bit for bit."""
    margin, classes = _focal_margin(mine, X)
    assert np.array_equal(margin, _focal_margin(reference, X)[0])
    reference = copy.deepcopy(reference)
    final, theirs = _final_step(mine)[0], _final_step(reference)[0]
    theirs.strength_, theirs.temperature_ = final.strength_, final.temperature_
    assert np.array_equal(mine.predict_proba(X), reference.predict_proba(X))
    assert np.array_equal(mine.predict(X), reference.predict(X))


def test_exhaustive_is_gridsearchcv_small(caplog):
    X, y = _data()
    est = _estimator("xgboost", rounds=5)
    grid = {"gamma": [0.5, 2.0], "alpha": [None, "balanced"]}
    with caplog.at_level(logging.INFO, logger="focalboost"):
        search = FocalSearchCV(est, grid, mode="exhaustive", cv=3).fit(X, y)
    assert "one binned data set per fold" in caplog.text  # the shared path, not plain fits
    reference = GridSearchCV(est, grid, cv=3, scoring=average_precision).fit(X, y)
    _assert_same_as_grid(search, reference, X)
    # the refit's (s, T) come from the out-of-fold margins: the probabilities differ by them only
    assert (search.best_estimator_.strength_, search.best_estimator_.temperature_) != (1.0, 1.0)
    assert not np.array_equal(search.predict_proba(X), reference.predict_proba(X))
    # calibrate=False: GridSearchCV's refit model, probabilities bit for bit
    plain = FocalSearchCV(est, grid, mode="exhaustive", cv=3, calibrate=False).fit(X, y)
    assert np.array_equal(plain.predict_proba(X), reference.predict_proba(X))
    assert np.array_equal(plain.predict(X), reference.predict(X))
    assert plain.best_params_ == search.best_params_


@pytest.mark.slow
@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_exhaustive_is_gridsearchcv(library, n_classes):
    """The core guarantee, on the default grid: the same folds, scores, best parameters and refit
    model as GridSearchCV, with sample weights (indexed per fold as GridSearchCV does)."""
    X, y = _data(n_classes)
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    est = _estimator(library)
    search = FocalSearchCV(est, mode="exhaustive", cv=3).fit(X, y, sample_weight=w)
    reference = GridSearchCV(est, default_param_grid(n_classes), cv=3,
                             scoring=average_precision).fit(X, y, sample_weight=w)
    _assert_same_as_grid(search, reference, X)
    # the weights were used: without them the scores differ
    unweighted = FocalSearchCV(est, mode="exhaustive", cv=3).fit(X, y)
    assert not np.allclose(unweighted.cv_results_["mean_test_score"],
                           search.cv_results_["mean_test_score"])


@pytest.mark.slow
@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_exhaustive_with_a_scorer_name_and_splitter(library):
    X, y = _data()
    est = _estimator(library)
    cv = StratifiedKFold(4, shuffle=True, random_state=3)
    grid = {"gamma": [1.0, 3.0], "alpha": [None, 0.25]}
    search = FocalSearchCV(est, grid, scoring="roc_auc", mode="exhaustive", cv=cv).fit(X, y)
    reference = GridSearchCV(est, grid, scoring="roc_auc", cv=cv).fit(X, y)
    _assert_same_as_grid(search, reference, X)


@pytest.mark.parametrize("mode", ["exhaustive", "fast"])
def test_groups_reach_the_splitter(mode):
    """fit(X, y, groups=...) splits as GridSearchCV.fit(X, y, groups=...) does: no group is on
    both sides of a fold (GroupKFold refuses to split without groups)."""
    from sklearn.model_selection import GroupKFold

    X, y = _data()
    groups = np.arange(len(y)) // 10
    est = _estimator("xgboost", rounds=4)
    grid = {"gamma": [1.0, 3.0]}
    search = FocalSearchCV(est, grid, mode=mode, cv=GroupKFold(3), refit=False)
    search.fit(X, y, groups=groups)
    reference = GridSearchCV(est, grid, cv=GroupKFold(3), scoring=average_precision,
                             refit=False).fit(X, y, groups=groups)
    assert search.n_splits_ == 3
    if mode == "exhaustive":
        for k in range(3):
            np.testing.assert_allclose(search.cv_results_[f"split{k}_test_score"],
                                       reference.cv_results_[f"split{k}_test_score"], atol=1e-12)
    with pytest.raises(ValueError, match="groups"):
        FocalSearchCV(est, grid, mode=mode, cv=GroupKFold(3), refit=False).fit(X, y)


@pytest.mark.slow
def test_exhaustive_pipeline_is_gridsearchcv(caplog):
    """A Pipeline cannot share the binned data: each candidate goes through fit (logged)."""
    X, y = _data()
    pipe = Pipeline([("scale", StandardScaler()), ("focal", _estimator("lightgbm"))])
    grid = {"focal__gamma": [0.5, 2.0], "focal__alpha": [None, "balanced"]}
    with caplog.at_level(logging.INFO, logger="focalboost"):
        search = FocalSearchCV(pipe, grid, mode="exhaustive", cv=3).fit(X, y)
    assert "estimator's fit" in caplog.text and "Pipeline" in caplog.text
    reference = GridSearchCV(pipe, grid, cv=3, scoring=average_precision).fit(X, y)
    _assert_same_as_grid(search, reference, X)
    default = FocalSearchCV(pipe, mode="exhaustive", cv=2, refit=False).fit(X, y)
    assert default.cv_results_["params"] == list(
        __import__("sklearn.model_selection", fromlist=["ParameterGrid"]).ParameterGrid(
            default_param_grid(2, "focal__")
        )
    )


# --- fast mode -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fast_xgb():
    X, y = _data(n=400)
    return X, y, FocalSearchCV(_estimator("xgboost", rounds=18), cv=3).fit(X, y)


def test_fast_mode_cv_results_format(fast_xgb):
    X, y, search = fast_xgb
    results = search.cv_results_
    n = 12  # the default binary grid
    assert len(results["params"]) == n and search.n_splits_ == 3 and search.mode_ == "fast"
    assert results["params"] == list(
        __import__("sklearn.model_selection", fromlist=["ParameterGrid"]).ParameterGrid(
            default_param_grid(2)
        )
    )
    for key in ("mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time",
                "split0_test_score", "split1_test_score", "split2_test_score",
                "mean_test_score", "std_test_score", "rank_test_score", "n_rounds"):
        assert results[key].shape == (n,), key
    assert isinstance(results["param_gamma"], np.ma.MaskedArray)
    assert results["param_gamma"].dtype == object
    assert results["rank_test_score"].dtype == np.int32
    np.testing.assert_allclose(
        results["mean_test_score"],
        np.mean([results[f"split{k}_test_score"] for k in range(3)], axis=0),
    )
    # successive halving: 12 candidates at 2 rounds; the best 4 and the best of each alpha
    # (test_rung_keep_best_third_and_best_of_each_group) at 6; the best third of those at 18
    assert _budgets(18) == [2, 6, 18]
    counts = {r: int(np.sum(results["n_rounds"] == r)) for r in (2, 6, 18)}
    assert sum(counts.values()) == 12 and counts[6] + counts[18] >= 4
    assert counts[18] == -(-(counts[6] + counts[18]) // 3)
    # the best is ranked first, reached n_estimators and has the best full-round score
    best = search.best_index_
    assert results["rank_test_score"][best] == 1 and results["n_rounds"][best] == 18
    full = results["n_rounds"] == 18
    assert search.best_score_ == results["mean_test_score"][full].max()
    assert search.best_params_ == results["params"][best]
    # candidates that reached more rounds rank before those dropped earlier
    ranks = results["rank_test_score"]
    assert ranks[full].max() < ranks[results["n_rounds"] == 6].min()
    assert ranks[results["n_rounds"] == 6].max() < ranks[results["n_rounds"] == 2].min()


def test_fast_mode_refit_and_delegation(fast_xgb):
    X, y, search = fast_xgb
    best = search.best_estimator_
    assert best.get_params()["gamma"] == search.best_params_["gamma"]
    assert best.n_estimators == 18
    reference = clone(_estimator("xgboost", rounds=18)).set_params(**search.best_params_).fit(X, y)
    _assert_same_refit(best, reference, X)
    np.testing.assert_array_equal(search.classes_, np.array(["no", "yes"]))
    assert search.score(X, y) == average_precision(best, X, y)
    assert search.n_features_in_ == 5


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_fast_mode_full_round_scores_are_exhaustive_scores(library):
    """A candidate fast mode trains to n_estimators rounds is the estimator's model on the fold:
    its scores are exhaustive mode's (= GridSearchCV's)."""
    X, y = _data(n=300, seed=2)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    est = _estimator(library, rounds=9)
    fast = FocalSearchCV(est, cv=3).fit(X, y, sample_weight=w)
    exhaustive = FocalSearchCV(est, mode="exhaustive", cv=3, refit=False).fit(X, y,
                                                                               sample_weight=w)
    full = fast.cv_results_["n_rounds"] == 9
    assert full.sum() >= 2  # the best third of the second rung, at least
    for k in range(3):
        key = f"split{k}_test_score"
        np.testing.assert_allclose(fast.cv_results_[key][full], exhaustive.cv_results_[key][full],
                                   rtol=0, atol=1e-12)


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_fast_mode_early_stopping_is_the_estimators(library):
    """Early stopping on an evaluation set (the libraries' fit parameters): fast mode stops each
    candidate where the estimator's fit stops and scores it at its best round, so candidates that
    reach the last rung score as in exhaustive mode (each one fitted by the estimator)."""
    import lightgbm as lgb

    X, y = _data(n=400, seed=4)
    X_valid, y_valid = _data(n=200, seed=5)
    est = _estimator(library, rounds=60).set_params(learning_rate=0.5)
    if library == "xgboost":
        est.set_params(early_stopping_rounds=3)
        fit = dict(eval_set=[(X_valid, y_valid)], verbose=False)
    else:
        fit = dict(eval_X=(X_valid,), eval_y=(y_valid,), callbacks=[lgb.early_stopping(3, verbose=False)])
    fast = FocalSearchCV(est, cv=3).fit(X, y, **fit)
    exhaustive = FocalSearchCV(est, mode="exhaustive", cv=3, refit=False).fit(X, y, **fit)
    full = fast.cv_results_["n_rounds"] == 60
    assert full.sum() >= 2  # the best third of the second rung, at least
    for k in range(3):
        key = f"split{k}_test_score"
        np.testing.assert_allclose(fast.cv_results_[key][full], exhaustive.cv_results_[key][full],
                                   rtol=0, atol=1e-9)
    model = fast.best_estimator_  # the refit early-stops too
    stopped = model.best_iteration if library == "xgboost" else model.best_iteration_
    assert stopped < 59


def test_fast_mode_multiclass_lightgbm_and_threads(caplog):
    X, y = _data(3, n=300)
    est = _estimator("lightgbm", rounds=9)
    one = FocalSearchCV(est, cv=3).fit(X, y)
    assert len(one.cv_results_["params"]) == 8  # gamma x alpha (None, "balanced")
    with caplog.at_level(logging.INFO, logger="focalboost"):
        two = FocalSearchCV(est, cv=3, n_jobs=2).fit(X, y)
    assert "2 candidate(s) at a time in threads" in caplog.text
    assert two.best_params_ == one.best_params_
    for key in ("split0_test_score", "split1_test_score", "split2_test_score", "n_rounds"):
        np.testing.assert_array_equal(two.cv_results_[key], one.cv_results_[key])
    assert np.array_equal(two.predict_proba(X), one.predict_proba(X))


@pytest.mark.parametrize("mode", ["fast", "exhaustive"])
def test_threads_share_the_binned_data_xgboost(mode):
    X, y = _data(n=300, seed=6)
    est = _estimator("xgboost", rounds=9)
    one = FocalSearchCV(est, cv=3, mode=mode, refit=False).fit(X, y)
    two = FocalSearchCV(est, cv=3, mode=mode, refit=False, n_jobs=-1).fit(X, y)
    for key in ("split0_test_score", "split1_test_score", "split2_test_score"):
        np.testing.assert_array_equal(two.cv_results_[key], one.cv_results_[key])


def test_refit_false_has_no_model():
    X, y = _data()
    search = FocalSearchCV(_estimator("xgboost", rounds=4), {"gamma": [1.0, 2.0]}, cv=2,
                           refit=False).fit(X, y)
    assert search.best_params_ in ({"gamma": 1.0}, {"gamma": 2.0})
    assert not hasattr(search, "best_estimator_")
    with pytest.raises(Exception, match="not fitted"):
        search.predict(X)


def test_clone_and_pickle():
    X, y = _data()
    search = FocalSearchCV(_estimator("lightgbm", rounds=4), {"gamma": [1.0, 2.0]}, cv=2,
                           scoring="roc_auc", n_jobs=1)
    copy = clone(search)
    assert copy.get_params()["scoring"] == "roc_auc" and copy.get_params()["mode"] == "fast"
    assert copy.get_params()["estimator__num_leaves"] == 7
    copy.set_params(estimator__gamma=3.0, mode="exhaustive")
    assert copy.estimator.gamma == 3.0 and search.estimator.gamma == 2.0
    search.fit(X, y)
    restored = pickle.loads(pickle.dumps(search))
    assert np.array_equal(restored.predict_proba(X), search.predict_proba(X))
    assert restored.best_params_ == search.best_params_


@pytest.mark.parametrize(
    "kwargs, fit_kwargs, error, match",
    [
        (dict(mode="quick"), {}, ValueError, "mode must be one of"),
        (dict(scoring=["roc_auc", "accuracy"]), {}, ValueError, "multi-metric"),
        (dict(n_jobs=0), {}, ValueError, "n_jobs"),
        (dict(refit="yes"), {}, ValueError, "refit"),
        (dict(param_grid={"max_depth": [2, 3]}), {}, ValueError, r"varies \['max_depth'\]"),
        (dict(), {"eval_set": [(None, None)]}, ValueError, "evaluation set without early stop"),
        (dict(), {"base_margin": None}, ValueError, r"fit parameters \['base_margin'\]"),
        (dict(estimator=FocalXGBClassifier(n_estimators=3, early_stopping_rounds=2)), {},
         ValueError, "early_stopping_rounds"),
        (dict(estimator=StandardScaler()), {}, TypeError, "must be a FocalXGBClassifier"),
        (dict(estimator=Pipeline([("s", StandardScaler()), ("f", _estimator("xgboost"))])), {},
         ValueError, "Pipeline"),
    ],
)
def test_bad_input(kwargs, fit_kwargs, error, match):
    X, y = _data(n=60)
    params = dict(estimator=_estimator("xgboost", rounds=3), cv=2)
    params.update(kwargs)
    with pytest.raises(error, match=match):
        FocalSearchCV(**params).fit(X, y, **fit_kwargs)


def test_budgets():
    assert _budgets(100) == [12, 34, 100]
    assert _budgets(9) == [1, 3, 9]
    assert _budgets(2) == [1, 2]
    assert _budgets(1) == [1]


def test_default_grid():
    assert default_param_grid(2) == {"gamma": [0.5, 1.0, 2.0, 3.0],
                                     "alpha": [None, 0.25, "balanced"]}
    assert default_param_grid(4, "f__") == {"f__gamma": [0.5, 1.0, 2.0, 3.0],
                                            "f__alpha": [None, "balanced"]}


@pytest.mark.parametrize("n_classes", [2, 3])
def test_lightgbm_rung_margins_are_the_predicted_margins(n_classes):
    """Fast mode reads a LightGBM candidate's held-out margins at a rung from the booster's
    validation scores: they are its predictions plus the init score."""
    from focalboost._search_boosters import FoldData

    X, y = _data(n_classes, n=300, seed=7)
    fold = FoldData("lightgbm", _estimator("lightgbm", rounds=9), X, y, None,
                    np.arange(200), np.arange(200, 300))
    first = fold.candidate({"gamma": 1.0, "alpha": "balanced"})
    second = fold.candidate({"gamma": 3.0, "alpha": None})  # the shared sets' init score changes
    for candidate in (first, second):
        candidate.train_to(5)
        rung = candidate.margin()
        predicted = candidate.booster.predict(fold.X_test, raw_score=True) + candidate.init
        np.testing.assert_allclose(rung, predicted, rtol=0, atol=1e-12)
        assert rung.shape == ((100,) if n_classes == 2 else (100, n_classes))


def test_without_lightgbm_process_params_exhaustive_fits_and_fast_says_why(monkeypatch, caplog):
    """The LightGBM boosters' parameters come from a private LightGBM method (feature-checked in
    focalboost._compat.lightgbm): without it, exhaustive mode falls back to the estimator's fit
    (logged) and fast mode raises, naming it."""
    from focalboost._compat import lightgbm as lgb_compat

    X, y = _data(n=200)
    est = _estimator("lightgbm", rounds=4)
    grid = {"gamma": [1.0, 2.0]}
    reference = FocalSearchCV(est, grid, mode="exhaustive", cv=2).fit(X, y)
    monkeypatch.setattr(lgb_compat, "process_params_available", lambda: False)
    with caplog.at_level(logging.INFO, logger="focalboost"):
        fallback = FocalSearchCV(est, grid, mode="exhaustive", cv=2).fit(X, y)
    assert "_process_params is missing" in caplog.text
    np.testing.assert_array_equal(fallback.cv_results_["mean_test_score"],
                                  reference.cv_results_["mean_test_score"])
    with pytest.raises(ValueError, match="_process_params is missing"):
        FocalSearchCV(est, grid, cv=2).fit(X, y)


# --- the refit's probability calibration from the out-of-fold margins (issue 18) ------------------
def _out_of_fold(est, params, X, y, folds, w=None):
    """The best candidate fitted by the estimator on each fold: (codes, margins, weights) of the
    held-out parts, concatenated in fold order."""
    codes, margins, weights = [], [], []
    for train, test in folds:
        fit = {} if w is None else {"sample_weight": w[train]}
        model = clone(est).set_params(**params).fit(X[train], y[train], **fit)
        margins.append(_focal_margin(model, X[test])[0])
        codes.append(np.searchsorted(model.classes_, y[test]))
        weights.append(None if w is None else w[test])
    return (np.concatenate(codes), np.concatenate(margins, axis=0),
            None if w is None else np.concatenate(weights))


@pytest.mark.parametrize("mode", ["fast", "exhaustive"])
@pytest.mark.parametrize("library, n_classes, weighted", [
    ("xgboost", 2, True), ("lightgbm", 2, False), ("xgboost", 3, False), ("lightgbm", 3, True),
])
def test_refit_calibration_is_the_fit_on_the_out_of_fold_margins(library, n_classes, weighted,
                                                                 mode, caplog):
    """Without an eval set, the refit's (s, T) are fit_strength_temperature on the best
    candidate's out-of-fold margins (with the held-out rows' sample weights), said in
    probability_calibration_ and logged; the trees are those of a plain refit."""
    X, y = _data(n_classes, n=300, seed=8)
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(y)) if weighted else None
    fit = {} if w is None else {"sample_weight": w}
    est = _estimator(library, rounds=12)
    with caplog.at_level(logging.INFO, logger="focalboost"):
        search = FocalSearchCV(est, {"gamma": [1.0, 3.0], "alpha": [None, "balanced"]}, cv=3,
                               mode=mode).fit(X, y, **fit)
    best = search.best_estimator_
    folds = list(StratifiedKFold(3).split(X, y))  # what cv=3 gives a classifier
    codes, margin, weights = _out_of_fold(est, search.best_params_, X, y, folds, w)
    s, T = fit_strength_temperature(best.loss_, codes, margin, weights)
    assert (best.strength_, best.temperature_) != (1.0, 1.0)
    assert best.strength_ == pytest.approx(s, rel=1e-6, abs=1e-9)
    assert best.temperature_ == pytest.approx(T, rel=1e-6)
    where = "fitted on the out-of-fold margins of FocalSearchCV's 3 folds"
    assert where in best.probability_calibration_ and "300 rows" in best.probability_calibration_
    assert where in caplog.text
    # the trees are the plain refit's; the probabilities are the tempered posterior of its margins
    reference = clone(est).set_params(**search.best_params_).fit(X, y, **fit)
    _assert_same_refit(best, reference, X)
    np.testing.assert_array_equal(
        search.predict_proba(X),
        tempered_posterior(best.loss_, _focal_margin(best, X)[0], best.temperature_,
                           best.strength_))


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_refit_calibration_every_door_agrees(library, tmp_path):
    """The out-of-fold (s, T) are where the eval-set ones go: the estimator, the booster (native
    predict_proba, pickles), model files and ONNX give the same probabilities."""
    import xgboost as xgb

    from focalboost import lightgbm as flgb
    from focalboost import xgboost as fxgb

    X, y = _data(3, n=300, seed=9)
    search = FocalSearchCV(_estimator(library, rounds=10), {"gamma": [1.0, 3.0]}, cv=3).fit(X, y)
    best = search.best_estimator_
    expected = best.predict_proba(X)
    assert (best.strength_, best.temperature_) != (1.0, 1.0)
    np.testing.assert_array_equal(
        expected, tempered_posterior(best.loss_, _focal_margin(best, X)[0], best.temperature_,
                                     best.strength_))
    if library == "xgboost":
        native = fxgb.predict_proba(best.get_booster(), xgb.DMatrix(X), best.loss_)
        path = tmp_path / "model.json"
    else:
        native = flgb.predict_proba(best.booster_, X, best.loss_, 0.0)
        path = tmp_path / "model.txt"
    np.testing.assert_array_equal(native, expected)
    best.save_model(path)
    loaded = type(best)().load_model(path)
    assert (loaded.strength_, loaded.temperature_) == (best.strength_, best.temperature_)
    assert loaded.probability_calibration_ == best.probability_calibration_
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(search)).predict_proba(X), expected)
    ort = pytest.importorskip("onnxruntime")
    from focalboost import onnx as fonnx

    X32 = X.astype(np.float32)
    session = ort.InferenceSession(fonnx.to_onnx(best, X32).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    _, proba = session.run(["label", "probabilities"], {session.get_inputs()[0].name: X32})
    assert np.max(np.abs(proba - best.predict_proba(X32))) <= 1e-5


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_refit_with_an_eval_set_keeps_its_own_calibration(library, caplog):
    """An eval set passed to the refit wins: (s, T) are fitted there, as by the estimator alone;
    the log says the out-of-fold margins were not used."""
    import lightgbm as lgb

    X, y = _data(n=300, seed=10)
    X_valid, y_valid = _data(n=200, seed=11)
    est = _estimator(library, rounds=30)
    if library == "xgboost":
        est.set_params(early_stopping_rounds=5)
        fit = dict(eval_set=[(X_valid, y_valid)], verbose=False)
    else:
        fit = dict(eval_set=[(X_valid, y_valid)], callbacks=[lgb.early_stopping(5, verbose=False)])
    with caplog.at_level(logging.INFO, logger="focalboost"):
        search = FocalSearchCV(est, {"gamma": [1.0, 3.0]}, cv=3).fit(X, y, **fit)
    best = search.best_estimator_
    alone = clone(est).set_params(**search.best_params_).fit(X, y, **fit)
    assert (best.strength_, best.temperature_) == (alone.strength_, alone.temperature_)
    assert best.probability_calibration_ == alone.probability_calibration_
    assert "the last eval_set" in best.probability_calibration_
    assert "out-of-fold margins not used (the refit is given an evaluation set" in caplog.text
    np.testing.assert_array_equal(search.predict_proba(X), alone.predict_proba(X))


@pytest.mark.parametrize("mode", ["fast", "exhaustive"])
def test_calibrate_false_keeps_the_exact_posterior_and_says_so(mode, caplog):
    X, y = _data(n=200, seed=12)
    est = _estimator("lightgbm", rounds=6)
    with caplog.at_level(logging.INFO, logger="focalboost"):
        search = FocalSearchCV(est, {"gamma": [1.0, 2.0]}, cv=2, mode=mode,
                               calibrate=False).fit(X, y)
    best = search.best_estimator_
    assert (best.strength_, best.temperature_) == (1.0, 1.0)
    assert "out-of-fold margins not used (calibrate=False)" in caplog.text
    reference = clone(est).set_params(**search.best_params_).fit(X, y)
    np.testing.assert_array_equal(search.predict_proba(X), reference.predict_proba(X))
    with pytest.raises(ValueError, match="calibrate must be 'auto' or False, got 0"):
        FocalSearchCV(est, cv=2, calibrate=0).fit(X, y)


def test_refit_calibration_of_a_pipeline():
    """Exhaustive mode's plain fits (a Pipeline): the margins of the fold pipelines."""
    X, y = _data(n=240, seed=13)
    pipe = Pipeline([("scale", StandardScaler()), ("focal", _estimator("xgboost", rounds=8))])
    search = FocalSearchCV(pipe, {"focal__gamma": [1.0, 3.0]}, mode="exhaustive", cv=3).fit(X, y)
    focal = search.best_estimator_.steps[-1][1]
    folds = list(StratifiedKFold(3).split(X, y))
    codes, margin, _ = _out_of_fold(pipe, search.best_params_, X, y, folds)
    s, T = fit_strength_temperature(focal.loss_, codes, margin)
    assert (focal.strength_, focal.temperature_) == (s, T)
    assert "out-of-fold margins" in focal.probability_calibration_


def test_a_probability_mode_without_calibration_is_left_alone():
    X, y = _data(n=200, seed=14)
    est = _estimator("xgboost", rounds=6).set_params(probability="posterior")
    search = FocalSearchCV(est, {"gamma": [1.0, 2.0]}, cv=2).fit(X, y)
    best = search.best_estimator_
    assert (best.strength_, best.temperature_) == (1.0, 1.0)
    assert "out-of-fold" not in best.probability_calibration_


def test_a_meta_estimator_refit_keeps_its_calibration_and_says_so(caplog):
    from sklearn.datasets import make_multilabel_classification
    from sklearn.multioutput import MultiOutputClassifier

    X, Y = make_multilabel_classification(200, 5, n_classes=2, random_state=0)
    meta = MultiOutputClassifier(_estimator("xgboost", rounds=5))
    with caplog.at_level(logging.INFO, logger="focalboost"):
        search = FocalSearchCV(meta, {"estimator__gamma": [1.0, 2.0]}, mode="exhaustive", cv=2,
                               scoring="roc_auc").fit(X, Y)
    assert "the refit is a MultiOutputClassifier" in caplog.text
    for model in search.best_estimator_.estimators_:
        assert (model.strength_, model.temperature_) == (1.0, 1.0)
def test_rung_keep_best_third_and_best_of_each_group():
    """A rung keeps its best ceil(c / 3) by mean score (ties in param_grid order, NaN last) and,
    with groups, the best candidate of each group (never a NaN one)."""
    from focalboost.search import FIRST_RUNG_KEEPS_BEST_OF, _rung_keep

    means = np.array([0.30, 0.50, 0.40, 0.20, 0.45, np.nan])
    assert _rung_keep(means, 2) == [1, 4]  # plain halving
    groups = ["a", "a", "b", "c", "a", "d"]
    assert _rung_keep(means, 2, groups) == [1, 2, 3, 4]  # + the best of b and of c; d is NaN
    assert _rung_keep(means, 2, ["a"] * 6) == [1, 4]  # one group: nothing added
    assert _rung_keep(np.array([0.5, 0.5, 0.5]), 1) == [0]  # ties: param_grid order
    assert _rung_keep(np.array([0.4, 0.5, 0.5]), 2) == [1, 2]
    assert _rung_keep(np.full(3, np.nan), 1, ["a", "b", "c"]) == [0]  # all failed: the first
    assert FIRST_RUNG_KEEPS_BEST_OF == ("alpha",)


def test_fast_mode_first_rung_keeps_each_alpha(monkeypatch, caplog):
    """Every alpha of the grid reaches the second rung (its best gamma), logged when that adds
    candidates; with FIRST_RUNG_KEEPS_BEST_OF=() the same search keeps the best third only."""
    import focalboost.search as search_module

    X, y = _data(n=300, seed=2)
    est = _estimator("xgboost", rounds=9)
    with caplog.at_level(logging.INFO, logger="focalboost"):
        wide = FocalSearchCV(est, cv=3, refit=False).fit(X, y)
    monkeypatch.setattr(search_module, "FIRST_RUNG_KEEPS_BEST_OF", ())
    plain = FocalSearchCV(est, cv=3, refit=False).fit(X, y)
    assert (plain.cv_results_["n_rounds"] >= 3).sum() == 4  # ceil(12 / 3)
    second = wide.cv_results_["n_rounds"] >= 3
    alphas = {repr(p["alpha"]) for p, kept in zip(wide.cv_results_["params"], second) if kept}
    assert alphas == {"None", "0.25", "'balanced'"}
    plain_alphas = {repr(p["alpha"]) for p, kept in
                    zip(plain.cv_results_["params"], plain.cv_results_["n_rounds"] >= 3) if kept}
    assert plain_alphas != alphas  # this data needs the rule: one alpha was all dropped
    assert second.sum() == 4 + len(alphas - plain_alphas)
    assert "rung 1 keeps" in caplog.text


def test_average_precision_is_scikit_learns():
    """The default scorer's own step-function integral equals scikit-learn's
    average_precision_score (binary and macro one-vs-rest), ties and all."""
    from sklearn.metrics import average_precision_score
    from sklearn.preprocessing import label_binarize

    from focalboost.search import _average_precision

    rng = np.random.default_rng(0)
    for n, levels in ((50, 3), (500, 20), (2000, None)):
        positive = rng.random(n) < 0.1
        score = rng.random(n) if levels is None else rng.integers(0, levels, n) / levels
        score = np.where(positive, score + 0.1, score)
        np.testing.assert_allclose(_average_precision(positive, score),
                                   average_precision_score(positive, score), rtol=1e-13, atol=0)

    class Fixed:
        def __init__(self, proba, classes):
            self.proba, self.classes_ = proba, classes

        def predict_proba(self, X):
            return self.proba

    proba = rng.dirichlet(np.ones(3), 300)
    classes = np.array(["a", "b", "c"])
    y = classes[rng.integers(0, 3, 300)]
    expected = average_precision_score(label_binarize(y, classes=classes), proba, average="macro")
    assert average_precision(Fixed(proba, classes), None, y) == pytest.approx(expected, rel=1e-13)
    binary = Fixed(np.c_[1 - proba[:, 0], proba[:, 0]], classes[:2])
    y2 = classes[:2][(rng.random(300) < proba[:, 0]).astype(int)]
    assert average_precision(binary, None, y2) == pytest.approx(
        average_precision_score(y2 == "b", proba[:, 0]), rel=1e-13)
    with pytest.warns(UserWarning, match="[Nn]o positive"):  # scikit-learn's own, unchanged
        assert average_precision(binary, None, np.full(300, "a")) == average_precision_score(
            np.zeros(300, bool), proba[:, 0])
