"""probability="auto": the posterior at strength s of margin / T, (s, T) fitted on held-out
margins (issue 18).

The fit (recovers known values; the exact posterior at the focal optimum; toward the raw output
for an overfit model),
the choice made visible (``probability_calibration_``, a logged line), every door giving the same
probabilities (estimators, native helpers, model files, pickle, ONNX), and the errors.
"""

import logging
import pickle

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb
from scipy.special import expit, softmax

from focalboost import (
    BinaryFocalLoss,
    FocalLGBMClassifier,
    FocalXGBClassifier,
    MulticlassFocalLoss,
)
from focalboost import lightgbm as flgb
from focalboost import xgboost as fxgb
from focalboost._adapter import probability_from_margin
from focalboost.calibration import (
    TEMPERATURE_BOUNDS,
    fit_strength_temperature,
    fit_temperature,
    strength_loss,
    tempered_posterior,
    weighted_log_loss,
)

ESTIMATORS = {"xgboost": FocalXGBClassifier, "lightgbm": FocalLGBMClassifier}


def _sample(proba, rng):
    """Labels drawn from the rows of ``proba`` (n, K)."""
    u = rng.uniform(size=(proba.shape[0], 1))
    return np.minimum((u > np.cumsum(proba, axis=1)).sum(axis=1), proba.shape[1] - 1)


# --- the fit -------------------------------------------------------------------------------------
@pytest.mark.parametrize("T0", [0.6, 2.5])
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_fit_recovers_a_known_temperature(kind, T0):
    rng = np.random.default_rng(0)
    n = 30_000
    if kind == "binary":
        loss = BinaryFocalLoss(gamma=2.0, alpha=0.3)
        margin = rng.normal(scale=1.5, size=n)
    else:
        loss = MulticlassFocalLoss(4, gamma=2.0, alpha=[1.0, 2.0, 0.5, 1.0])
        margin = rng.normal(scale=1.5, size=(n, 4))
    y = _sample(tempered_posterior(loss, margin, T0), rng)
    assert fit_temperature(loss, y, margin) == pytest.approx(T0, rel=0.08)


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_at_the_focal_optimum_the_fit_is_the_exact_posterior(kind):
    """Margins at the focal risk's minimiser (optimal_margin of the true posterior): T ~ 1."""
    rng = np.random.default_rng(1)
    n = 30_000
    if kind == "binary":
        loss = BinaryFocalLoss(gamma=3.0)
        eta = expit(rng.normal(scale=2.0, size=n))
        margin, y = loss.optimal_margin(eta), (rng.uniform(size=n) < eta).astype(int)
    else:
        loss = MulticlassFocalLoss(3, gamma=3.0)
        eta = softmax(rng.normal(scale=1.5, size=(n, 3)), axis=1)
        margin, y = loss.optimal_margin(eta), _sample(eta, rng)
    T = fit_temperature(loss, y, margin)
    assert T == pytest.approx(1.0, abs=0.05)
    exact = weighted_log_loss(y, loss.posterior(margin))
    assert weighted_log_loss(y, tempered_posterior(loss, margin, T)) == pytest.approx(exact, rel=2e-3)
    # the raw focal output is far from it: the correction matters here
    assert weighted_log_loss(y, loss.predict_proba(margin)) > exact + 0.01


def test_a_large_eval_set_is_sampled_and_says_so(make_data, monkeypatch):
    import focalboost.calibration as calibration

    monkeypatch.setattr(calibration, "MAX_FIT_MARGINS", 900)  # at least 2,000 rows are kept
    X, y = make_data("multiclass", n=5000)
    model = FocalXGBClassifier(n_estimators=10, random_state=0)
    model.fit(X[:2000], y[:2000], eval_set=[(X[2000:], y[2000:])], verbose=False)
    assert "a fixed-seed sample of 2000 of its 3000 rows" in model.probability_calibration_
    rows = calibration.fit_rows(3000, 3)
    assert rows.shape == (2000,) and np.all(np.diff(rows) > 0)
    margin = model.predict(X[2000:], output_margin=True)
    expected = fit_strength_temperature(model.loss_, y[2000:][rows], margin[rows])
    assert (model.strength_, model.temperature_) == expected


def test_weights_count_in_the_fit():
    """Rows of weight 2 are rows counted twice."""
    rng = np.random.default_rng(2)
    loss = BinaryFocalLoss(gamma=2.0)
    margin = rng.normal(size=2000)
    y = (rng.uniform(size=2000) < expit(margin)).astype(int)
    w = rng.integers(1, 3, size=2000).astype(float)
    twice = fit_temperature(loss, np.repeat(y, w.astype(int)), np.repeat(margin, w.astype(int)))
    assert fit_temperature(loss, y, margin, w) == pytest.approx(twice, rel=1e-3)
    assert fit_temperature(loss, y, margin, w) != pytest.approx(fit_temperature(loss, y, margin), rel=1e-3)


def test_the_fit_stays_in_its_bounds_and_finds_them():
    loss = BinaryFocalLoss(gamma=2.0)
    margin = np.linspace(-30, 30, 400)
    y = (np.arange(400) % 2).astype(int)  # labels unrelated to huge margins: as flat as allowed
    assert fit_temperature(loss, y, margin) == pytest.approx(TEMPERATURE_BOUNDS[1])


def _multiclass_case(n=30_000, seed=4):
    rng = np.random.default_rng(seed)
    loss = MulticlassFocalLoss(4, gamma=2.0, alpha=[1.0, 2.0, 0.5, 1.0])
    return loss, rng.normal(scale=1.5, size=(n, 4)), rng


@pytest.mark.parametrize("s0, T0", [(1.0, 1.0), (0.5, 2.0), (0.0, 1.0), (1.0, 0.6)])
def test_the_joint_fit_recovers_a_known_strength_and_temperature(s0, T0):
    loss, margin, rng = _multiclass_case()
    y = _sample(tempered_posterior(loss, margin, T0, s0), rng)
    s, T = fit_strength_temperature(loss, y, margin)
    assert s == pytest.approx(s0, abs=0.08)
    assert T == pytest.approx(T0, rel=0.08)


def test_labels_drawn_from_the_raw_output_give_the_raw_output():
    """Margins whose softmax is the true posterior (a log-loss-like model): s ~ 0, T ~ 1; a
    temperature alone cannot get there in the multiclass case."""
    loss = MulticlassFocalLoss(4, gamma=2.0)
    _, margin, rng = _multiclass_case()
    y = _sample(loss.predict_proba(margin), rng)
    s, T = fit_strength_temperature(loss, y, margin)
    assert s < 0.1 and T == pytest.approx(1.0, abs=0.05)
    raw = weighted_log_loss(y, loss.predict_proba(margin))
    joint = weighted_log_loss(y, tempered_posterior(loss, margin, T, s))
    alone = weighted_log_loss(y, tempered_posterior(loss, margin, fit_temperature(loss, y, margin)))
    assert joint <= raw + 1e-3 < alone


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_the_joint_fit_is_never_worse_than_exact_or_raw_on_its_rows(kind):
    rng = np.random.default_rng(5)
    if kind == "binary":
        loss = BinaryFocalLoss(gamma=2.0, alpha=0.25)
        margin = rng.normal(scale=2.0, size=300)
        y = (rng.uniform(size=300) < expit(0.7 * margin)).astype(int)
    else:
        loss = MulticlassFocalLoss(3, gamma=1.0, alpha=[0.5, 1.0, 2.0])
        margin = rng.normal(scale=2.0, size=(300, 3))
        y = _sample(softmax(0.5 * margin, axis=1), rng)
    s, T = fit_strength_temperature(loss, y, margin)
    joint = weighted_log_loss(y, tempered_posterior(loss, margin, T, s))
    assert joint <= weighted_log_loss(y, loss.posterior(margin))
    assert joint <= weighted_log_loss(y, tempered_posterior(loss, margin, 1.0, 0.0))


def test_strength_one_and_temperature_one_is_the_exact_posterior_to_the_bit():
    loss, margin, _ = _multiclass_case(n=500)
    assert strength_loss(loss, 1.0) is loss
    np.testing.assert_array_equal(tempered_posterior(loss, margin, 1.0, 1.0), loss.posterior(margin))
    np.testing.assert_array_equal(probability_from_margin(loss, margin, "auto", 1.0, 1.0),
                                  loss.posterior(margin))
    binary = BinaryFocalLoss(gamma=2.0, alpha=0.25)  # strength 0: the raw sigmoid/softmax
    x = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(tempered_posterior(binary, x, 1.0, 0.0), binary.predict_proba(x), rtol=1e-12)
    np.testing.assert_allclose(tempered_posterior(loss, margin, 1.0, 0.0), loss.predict_proba(margin),
                               rtol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_an_overfit_model_moves_toward_the_raw_output(library, make_data):
    """Deep trees, many rounds, a high learning rate, noisy labels: the exact correction is too
    sharp; the fitted temperature is above 1 and beats both exact and raw on new data."""
    X, y = make_data("binary", n=3000)
    rng = np.random.default_rng(3)
    y = np.where(rng.uniform(size=y.shape[0]) < 0.1, 1 - y, y)  # 10 % label noise
    train, valid, test = slice(0, 1500), slice(1500, 2200), slice(2200, None)
    params = dict(n_estimators=300, learning_rate=0.3, random_state=0)
    params.update(max_depth=8) if library == "xgboost" else params.update(num_leaves=64, verbose=-1,
                                                                           min_child_samples=2)
    model = ESTIMATORS[library](gamma=2.0, **params)
    model.fit(X[train], y[train], eval_set=[(X[valid], y[valid])],
              **({"verbose": False} if library == "xgboost" else {}))
    assert model.temperature_ / (1.0 + 2.0 * model.strength_) > 0.6  # at least as soft as raw, about
    margin = model.predict(X[test], output_margin=True) if library == "xgboost" \
        else model.decision_function(X[test])
    auto = weighted_log_loss(y[test], model.predict_proba(X[test]))
    assert auto < weighted_log_loss(y[test], model.loss_.posterior(margin))
    assert auto < weighted_log_loss(y[test], model.loss_.predict_proba(margin))


# --- the choice is visible -----------------------------------------------------------------------
@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_without_held_out_data_auto_is_the_exact_posterior_and_says_so(library, make_data, caplog):
    X, y = make_data("binary", n=800)
    model = ESTIMATORS[library](n_estimators=20, alpha=0.3, random_state=0,
                                **({} if library == "xgboost" else {"verbose": -1}))
    with caplog.at_level(logging.INFO, logger="focalboost"):
        model.fit(X, y)
    assert model.temperature_ == model.strength_ == 1.0
    assert "no eval_set" in model.probability_calibration_
    assert any("no eval_set" in r.getMessage() for r in caplog.records)
    exact = model.set_params(probability="posterior").predict_proba(X)
    np.testing.assert_array_equal(model.set_params(probability="auto").predict_proba(X), exact)
    # the training data given as eval set is no held-out data
    model.fit(X, y, eval_set=[(X, y)], **({"verbose": False} if library == "xgboost" else {}))
    assert model.temperature_ == 1.0 and "training data" in model.probability_calibration_


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_with_an_eval_set_auto_uses_the_fitted_temperature(library, kind, make_data, caplog):
    X, y = make_data(kind, n=1500)
    Xv, yv = make_data(kind, n=600, seed=1)
    model = ESTIMATORS[library](n_estimators=60, alpha="balanced", random_state=0,
                                **({} if library == "xgboost" else {"verbose": -1}))
    with caplog.at_level(logging.INFO, logger="focalboost"):
        model.fit(X, y, eval_set=[(Xv, yv)], **({"verbose": False} if library == "xgboost" else {}))
    margin_v = model.predict(Xv, output_margin=True) if library == "xgboost" else model.decision_function(Xv)
    s, T = fit_strength_temperature(model.loss_, yv, margin_v)
    assert (model.strength_, model.temperature_) == (s, T) != (1.0, 1.0)
    assert "fitted on the last eval_set" in model.probability_calibration_
    assert any("temperature" in r.getMessage() for r in caplog.records)
    margin = model.predict(X, output_margin=True) if library == "xgboost" else model.decision_function(X)
    np.testing.assert_array_equal(model.predict_proba(X), tempered_posterior(model.loss_, margin, T, s))
    assert np.abs(model.predict_proba(X) - model.set_params(probability="posterior").predict_proba(X)).max() > 1e-3


# --- every door ----------------------------------------------------------------------------------
def _fitted(library, kind, make_data, early_stopping=False):
    X, y = make_data(kind, n=1500)
    Xv, yv = make_data(kind, n=600, seed=1)
    if library == "xgboost":
        model = FocalXGBClassifier(n_estimators=200 if early_stopping else 40, learning_rate=0.5,
                                   alpha="balanced", random_state=0,
                                   early_stopping_rounds=5 if early_stopping else None)
        model.fit(X, y, eval_set=[(Xv, yv)], verbose=False)
    else:
        model = FocalLGBMClassifier(n_estimators=200 if early_stopping else 40, learning_rate=0.5,
                                    alpha="balanced", random_state=0, verbose=-1)
        model.fit(X, y, eval_set=[(Xv, yv)],
                  callbacks=[lgb.early_stopping(5, verbose=False)] if early_stopping else None)
    assert (model.strength_, model.temperature_) != (1.0, 1.0)
    return model, X


@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_native_helpers_give_the_estimators_auto_probabilities(kind, early_stopping, make_data):
    model, X = _fitted("xgboost", kind, make_data, early_stopping)
    booster = model.get_booster()
    np.testing.assert_array_equal(fxgb.predict_proba(booster, xgb.DMatrix(X), model.loss_),
                                  model.predict_proba(X))
    model, X = _fitted("lightgbm", kind, make_data, early_stopping)
    np.testing.assert_array_equal(flgb.predict_proba(model.booster_, X, model.loss_, 0.0),
                                  model.predict_proba(X))
    # explicit values win over the booster's
    np.testing.assert_array_equal(
        flgb.predict_proba(model.booster_, X, model.loss_, 0.0, temperature=1.0, strength=1.0),
        model.set_params(probability="posterior").predict_proba(X),
    )


def test_native_lightgbm_calibrate_keeps_the_temperature_on_the_booster(make_data):
    X, y = make_data("multiclass", n=1500)
    Xv, yv = make_data("multiclass", n=600, seed=1)
    loss = MulticlassFocalLoss(3, gamma=2.0)
    init = loss.init_score(y)
    booster = lgb.train({**flgb.training_params(loss), "learning_rate": 0.5, "verbose": -1},
                        lgb.Dataset(X, y, init_score=flgb.init_score(loss, y, init=init)), 40)
    np.testing.assert_array_equal(flgb.predict_proba(booster, Xv, loss, init),
                                  loss.posterior(flgb.predict_margin(booster, Xv, init)))
    s, T = flgb.calibrate(booster, Xv, yv, loss, init)
    assert (s, T) == fit_strength_temperature(loss, yv, flgb.predict_margin(booster, Xv, init))
    assert (s, T) != (1.0, 1.0)
    np.testing.assert_array_equal(flgb.predict_proba(booster, Xv, loss, init),
                                  tempered_posterior(loss, flgb.predict_margin(booster, Xv, init), T, s))


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_model_files_and_pickle_keep_the_temperature(library, kind, make_data, tmp_path):
    model, X = _fitted(library, kind, make_data)
    expected = model.predict_proba(X)
    path = tmp_path / ("model.json" if library == "xgboost" else "model.txt")
    model.save_model(path)
    loaded = ESTIMATORS[library]().load_model(path)
    assert (loaded.temperature_, loaded.strength_) == (model.temperature_, model.strength_)
    assert loaded.probability_calibration_ == model.probability_calibration_
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict_proba(X), expected)
    if library == "xgboost":  # a plain Booster reading the file: margins and the attribute
        booster = xgb.Booster(model_file=str(path))
        assert fxgb.booster_calibration(booster) == (model.strength_, model.temperature_)
        np.testing.assert_array_equal(fxgb.predict_proba(booster, xgb.DMatrix(X), model.loss_), expected)
    else:  # the README's recipe: the metadata line's temperature, the plain booster's margins
        import json

        line = next(s for s in path.read_text().splitlines() if s.startswith("focalboost:"))
        meta = json.loads(line[len("focalboost:"):])
        assert meta["temperature"] == model.temperature_ and meta["probability"] == "auto"
        margin = lgb.Booster(model_file=str(path)).predict(X)
        np.testing.assert_array_equal(
            tempered_posterior(model.loss_, margin, meta["temperature"], meta["strength"]), expected
        )


@pytest.mark.slow
@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_onnx_applies_the_temperature(library, kind, make_data):
    ort = pytest.importorskip("onnxruntime")
    from focalboost import onnx as fonnx

    model, X = _fitted(library, kind, make_data)
    X = X.astype(np.float32)
    outputs = {}
    for probability in ("auto", "posterior"):
        model.set_params(probability=probability)
        session = ort.InferenceSession(fonnx.to_onnx(model, X).SerializeToString(),
                                       providers=["CPUExecutionProvider"])
        label, proba = session.run(["label", "probabilities"], {session.get_inputs()[0].name: X})
        assert np.max(np.abs(proba - model.predict_proba(X))) <= 1e-5
        np.testing.assert_array_equal(label, model.predict(X))
        outputs[probability] = proba
    assert np.max(np.abs(outputs["auto"] - outputs["posterior"])) > 1e-3  # T is in the graph


# --- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf, "warm", None])
def test_a_bad_temperature_is_an_error(bad):
    loss = BinaryFocalLoss(gamma=2.0)
    with pytest.raises(ValueError, match="temperature must be a positive finite number"):
        probability_from_margin(loss, np.zeros(3), "auto", bad)
    with pytest.raises(ValueError, match="temperature must be a positive finite number"):
        tempered_posterior(loss, np.zeros(3), bad)


def test_fit_temperature_checks_its_input():
    loss = BinaryFocalLoss(gamma=2.0)
    with pytest.raises(ValueError, match="fitting a temperature needs labels"):
        fit_temperature(loss, np.array([0, 1]), np.zeros(3))
    with pytest.raises(ValueError, match="fitting a temperature needs labels"):
        fit_strength_temperature(loss, np.array([], dtype=int), np.zeros(0))
    with pytest.raises(ValueError, match="positive total weight"):
        fit_strength_temperature(loss, np.array([0, 1]), np.zeros(2), np.zeros(2))


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_an_eval_set_of_zero_weight_gives_the_exact_posterior_and_says_why(library, make_data):
    X, y = make_data("binary", n=800)
    model = ESTIMATORS[library](n_estimators=10, random_state=0,
                                **({} if library == "xgboost" else {"verbose": -1}))
    weights = ({"sample_weight_eval_set": [np.zeros(200)], "verbose": False} if library == "xgboost"
               else {"eval_sample_weight": [np.zeros(200)]})
    model.fit(X[:600], y[:600], eval_set=[(X[600:], y[600:])], **weights)
    assert (model.strength_, model.temperature_) == (1.0, 1.0)
    assert "weights sum to 0" in model.probability_calibration_


@pytest.mark.parametrize("bad", [-0.1, 1.5, np.nan, "full", None])
def test_a_bad_strength_is_an_error(bad):
    with pytest.raises(ValueError, match=r"strength must be a number in \[0, 1\]"):
        probability_from_margin(BinaryFocalLoss(gamma=2.0), np.zeros(3), "auto", 1.0, bad)


def test_an_unknown_probability_mode_names_the_choices():
    with pytest.raises(ValueError, match=r"probability must be one of \['auto', 'posterior', 'focal'\]"):
        probability_from_margin(BinaryFocalLoss(gamma=2.0), np.zeros(3), "calibrated")
