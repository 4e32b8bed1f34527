"""Model files that are what they claim (save_model / load_model, pickle), and explanations that add
up to the margins.

Every round trip is checked in a fresh Python process: with focalboost the loaded estimator gives
the same margins bit for bit and the same probabilities; without focalboost (plain xgboost /
lightgbm) the file gives the focal model's margins exactly, and the posterior formula stored in the
file's metadata turns them into ``predict_proba``.
"""

import json
import pickle
import subprocess
import sys
import textwrap

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb

from focalboost import FocalLGBMClassifier, FocalXGBClassifier


LABELS = {"binary": ["no", "yes"], "multiclass": [10, 20, 30], "multilabel": None}


def _data(make_data, kind, **kwargs):
    return make_data(kind, labels=LABELS[kind], **kwargs)


def _margins(model, X):
    if isinstance(model, FocalXGBClassifier):
        return model.predict(X, output_margin=True)
    return model.decision_function(X)


def _run(code, tmp_path, **arrays):
    """Run ``code`` in a fresh interpreter; it reads the arrays from ``inputs.npz`` and writes the
    dict ``out`` of arrays to ``outputs.npz``; returns that dict."""
    np.savez(tmp_path / "inputs.npz", **arrays)
    script = (
        "import numpy as np, sys\n"
        f"inputs = np.load({str(tmp_path / 'inputs.npz')!r}, allow_pickle=False)\n"
        "out = {}\n"
        + textwrap.dedent(code)
        + f"\nnp.savez({str(tmp_path / 'outputs.npz')!r}, **out)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path)
    return dict(np.load(tmp_path / "outputs.npz", allow_pickle=False))


CASES = [
    pytest.param(FocalXGBClassifier, "binary", "model.json", dict(alpha=0.3), id="xgb-binary-json"),
    pytest.param(FocalXGBClassifier, "binary", "model.ubj", dict(alpha="balanced"), id="xgb-binary-ubj"),
    pytest.param(
        FocalXGBClassifier, "multiclass", "model.json", dict(alpha={10: 1.0, 20: 2.0, 30: 0.5}),
        id="xgb-multiclass-json",
    ),
    pytest.param(FocalXGBClassifier, "multiclass", "model.ubj", dict(), id="xgb-multiclass-ubj"),
    pytest.param(FocalXGBClassifier, "multilabel", "model.json", dict(alpha=0.3), id="xgb-multilabel-json"),
    pytest.param(FocalLGBMClassifier, "binary", "model.txt", dict(alpha=0.3), id="lgbm-binary-txt"),
    pytest.param(
        FocalLGBMClassifier, "multiclass", "model.txt", dict(alpha="balanced"), id="lgbm-multiclass-txt"
    ),
]


def _fit(make_data, cls, kind, params, held_out=False):
    """A fitted model and its data; ``held_out``: the last third is the eval set, on which the
    strength and temperature of probability="auto" are fitted (not for multi-label)."""
    X, y = _data(make_data, kind)
    model = cls(n_estimators=25, gamma=2.0, **params)
    if not held_out or kind == "multilabel":
        return model.fit(X, y), X
    cut = 2 * X.shape[0] // 3
    quiet = {"verbose": False} if cls is FocalXGBClassifier else {}
    model.fit(X[:cut], y[:cut], eval_set=[(X[cut:], y[cut:])], **quiet)
    assert (model.strength_, model.temperature_) != (1.0, 1.0)
    return model, X


@pytest.mark.slow  # a fresh interpreter per case
@pytest.mark.parametrize("cls, kind, name, params", CASES)
def test_a_fresh_process_with_focalboost_predicts_identically(make_data, cls, kind, name, params, tmp_path):
    model, X = _fit(make_data, cls, kind, params)
    model.save_model(tmp_path / name)
    out = _run(
        f"""
        import focalboost
        model = focalboost.{cls.__name__}().load_model({str(tmp_path / name)!r})
        X = inputs["X"]
        out["margin"] = {"model.predict(X, output_margin=True)" if cls is FocalXGBClassifier else "model.decision_function(X)"}
        out["proba"] = model.predict_proba(X)
        out["labels"] = model.predict(X)
        out["classes"] = model.classes_
        out["init"] = np.asarray(model.init_score_)
        out["gamma"] = np.asarray(model.loss_.gamma)
        out["alpha"] = np.asarray(model.alpha_ if model.alpha_ is not None else np.nan)
        """,
        tmp_path,
        X=X,
    )
    np.testing.assert_array_equal(out["margin"], _margins(model, X))  # bit for bit
    np.testing.assert_array_equal(out["proba"], model.predict_proba(X))
    np.testing.assert_array_equal(out["labels"], model.predict(X))
    np.testing.assert_array_equal(out["classes"], model.classes_)
    np.testing.assert_array_equal(out["init"], np.asarray(model.init_score_))
    assert float(out["gamma"]) == model.loss_.gamma
    expected_alpha = np.nan if model.alpha_ is None else model.alpha_
    np.testing.assert_array_equal(out["alpha"], np.asarray(expected_alpha))


def _binary_posterior_from_metadata(margin, meta):
    """The formula of docs/user_guide/deploying.md / the file's metadata, in plain numpy: probability="auto" is the
    posterior at gamma * strength and strength * log((1 - alpha) / alpha), of margin / temperature."""
    s, T = meta["strength"], meta["temperature"]
    gamma, alpha = meta["gamma"] * s, meta["alpha"]
    x = margin / T
    phi = lambda y: np.logaddexp(0.0, y) * np.exp(-y)  # noqa: E731 - softplus(y) e^-y
    logit = (1 + gamma) * x + np.log1p(gamma * phi(x)) - np.log1p(gamma * phi(-x))
    if alpha is not None:
        logit += s * np.log((1 - alpha) / alpha)
    return 1.0 / (1.0 + np.exp(-logit))


@pytest.mark.slow  # a fresh interpreter per case
@pytest.mark.parametrize("cls, kind, name, params", CASES)
def test_plain_libraries_read_the_focal_margins_and_their_meaning(make_data, cls, kind, name, params, tmp_path):
    model, X = _fit(make_data, cls, kind, params, held_out=True)
    path = tmp_path / name
    model.save_model(path)
    if cls is FocalXGBClassifier:
        code = f"""
        import xgboost as xgb
        booster = xgb.Booster(model_file={str(path)!r})
        out["margin"] = booster.predict(xgb.DMatrix(inputs["X"]), output_margin=True)
        out["meta"] = np.array(booster.attr("focalboost"))
        """
    else:
        code = f"""
        import lightgbm as lgb
        booster = lgb.Booster(model_file={str(path)!r})
        out["margin"] = booster.predict(inputs["X"])  # raw scores: a custom objective's output
        line = [l for l in open({str(path)!r}).read().splitlines() if l.startswith("focalboost:")]
        out["meta"] = np.array(line[0][len("focalboost:"):])
        """
    code = textwrap.dedent(code) + 'assert "focalboost" not in sys.modules\n'
    out = _run(code, tmp_path, X=X)
    np.testing.assert_array_equal(out["margin"], _margins(model, X))  # exactly the focal margins
    meta = json.loads(str(out["meta"]))
    assert meta["gamma"] == 2.0 and meta["probability"] == "auto"
    assert (meta["strength"], meta["temperature"]) == (model.strength_, model.temperature_)
    assert meta["task"] == kind
    np.testing.assert_allclose(meta["init_score"], model.init_score_, rtol=0, atol=0)
    if kind == "binary":  # the formula in the metadata (and docs/user_guide/deploying.md) gives predict_proba
        proba = _binary_posterior_from_metadata(out["margin"].astype(np.float64), meta)
        np.testing.assert_allclose(proba, model.predict_proba(X)[:, 1], rtol=1e-12, atol=1e-15)


def test_plain_xgbclassifier_refuses_a_focal_file(make_data, tmp_path):
    model, X = _fit(make_data, FocalXGBClassifier, "binary", dict(alpha=0.3))
    model.save_model(tmp_path / "model.json")
    with pytest.raises(TypeError, match="focalboost.FocalXGBClassifier"):
        xgb.XGBClassifier().load_model(tmp_path / "model.json")


def test_loading_a_plain_model_into_a_focal_estimator_is_refused(make_data, tmp_path):
    X, y = _data(make_data, "binary")
    xgb.XGBClassifier(n_estimators=3).fit(X, y == "yes").save_model(tmp_path / "plain.json")
    with pytest.raises(ValueError, match="holds no focalboost metadata"):
        FocalXGBClassifier().load_model(tmp_path / "plain.json")
    booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(X, y == "yes"), 3)
    booster.save_model(tmp_path / "plain.txt")
    with pytest.raises(ValueError, match="holds no focalboost metadata"):
        FocalLGBMClassifier().load_model(tmp_path / "plain.txt")


def test_a_loaded_model_keeps_its_parameters_and_refits_like_the_original(make_data, tmp_path):
    X, y = _data(make_data, "multiclass")
    for cls, name in ((FocalXGBClassifier, "m.json"), (FocalLGBMClassifier, "m.txt")):
        model = cls(n_estimators=10, gamma=1.5, alpha="balanced", probability="focal").fit(X, y)
        model.save_model(tmp_path / name)
        loaded = cls().load_model(tmp_path / name)
        params = loaded.get_params()
        assert (params["gamma"], params["alpha"], params["probability"]) == (1.5, "balanced", "focal")
        assert "objective" not in params
        if cls is FocalXGBClassifier:
            assert params["base_score"] is None  # the user's (none), not the loaded booster's
        refit = loaded.set_params(n_estimators=10).fit(X, y)
        np.testing.assert_array_equal(refit.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize("cls, name", [(FocalXGBClassifier, "m.ubj"), (FocalLGBMClassifier, "m.txt")])
def test_early_stopping_best_iteration_survives_the_file(make_data, cls, name, tmp_path):
    X, y = _data(make_data, "binary", n=1500)
    Xv, yv = _data(make_data, "binary", n=600, seed=1)
    if cls is FocalXGBClassifier:
        model = cls(n_estimators=300, learning_rate=0.5, early_stopping_rounds=5)
        model.fit(X, y, eval_set=[(Xv, yv)], verbose=False)
        best = model.best_iteration
    else:
        model = cls(n_estimators=300, learning_rate=0.5, verbose=-1)
        model.fit(X, y, eval_set=[(Xv, yv)], callbacks=[lgb.early_stopping(5, verbose=False)])
        best = model.best_iteration_
    assert 0 < best < 290  # it stopped early
    model.save_model(tmp_path / name)
    loaded = cls().load_model(tmp_path / name)
    assert (loaded.best_iteration if cls is FocalXGBClassifier else loaded.best_iteration_) == best
    np.testing.assert_array_equal(loaded.predict_proba(Xv), model.predict_proba(Xv))


@pytest.mark.slow  # a fresh interpreter per case
@pytest.mark.parametrize("cls, kind, name, params", CASES)
def test_pickle_round_trip_in_a_fresh_process(make_data, cls, kind, name, params, tmp_path):
    model, X = _fit(make_data, cls, kind, params)
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    out = _run(
        f"""
        import pickle
        model = pickle.loads(open({str(tmp_path / 'model.pkl')!r}, "rb").read())
        out["proba"] = model.predict_proba(inputs["X"])
        """,
        tmp_path,
        X=X,
    )
    np.testing.assert_array_equal(out["proba"], model.predict_proba(X))


# --- explanations add up -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_xgboost_contributions_sum_to_the_margins(make_data, kind):
    model, X = _fit(make_data, FocalXGBClassifier, kind, dict(alpha="balanced"))
    contrib = model.get_booster().predict(xgb.DMatrix(X), pred_contribs=True)
    total = contrib.sum(axis=-1)  # the last column is the bias: base_score, the init score
    np.testing.assert_allclose(total, _margins(model, X), rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_lightgbm_contributions_sum_to_the_margins(make_data, kind):
    model, X = _fit(make_data, FocalLGBMClassifier, kind, dict(alpha="balanced"))
    contrib = model.predict(X, pred_contrib=True)
    K = 1 if kind == "binary" else 3
    total = contrib.reshape(len(X), K, -1).sum(axis=2).reshape(_margins(model, X).shape)
    np.testing.assert_allclose(total, _margins(model, X), rtol=0, atol=1e-5)


@pytest.mark.parametrize("cls", [FocalXGBClassifier, FocalLGBMClassifier])
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_shap_tree_explainer_adds_up_to_the_margins(make_data, cls, kind):
    shap = pytest.importorskip("shap")  # a dev dependency: installed in CI
    model, X = _fit(make_data, cls, kind, dict(alpha="balanced"))
    booster = model.get_booster() if cls is FocalXGBClassifier else model.booster_
    explainer = shap.TreeExplainer(booster)
    explanation = explainer(X[:200])
    values = np.asarray(explanation.values)
    base = np.asarray(explanation.base_values)
    margin = _margins(model, X[:200])
    if kind == "binary":
        total = values.reshape(200, -1).sum(axis=1) + base.reshape(200)
    else:  # (n, features, K) values, (n, K) base values
        total = values.sum(axis=1) + base
    np.testing.assert_allclose(total, margin, rtol=0, atol=1e-5)
