"""The same behavioural checks over all four focal estimators, so that they cannot drift apart.

FocalXGBClassifier, FocalLGBMClassifier, FocalDaskXGBClassifier and FocalDaskLGBMClassifier are
thin layers over one core (focalboost.sklearn._core): whatever fit derives from the labels,
weights and focal parameters (alpha_, init_score_, loss_scale_, loss_) must be the same for all
four on the same data, and a user base_score must mean the same in both XGBoost estimators.
"""

import numpy as np
import pytest
from scipy.special import logit

from focalboost import FocalLGBMClassifier, FocalXGBClassifier

N_ROWS = 400


def _data(n_classes, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_ROWS, 4)).astype(np.float32)
    # imbalanced classes, every class present
    p = np.geomspace(1.0, 0.2, n_classes)
    y = rng.choice(n_classes, size=N_ROWS, p=p / p.sum())
    w = rng.uniform(0.5, 2.0, size=N_ROWS)
    labels = np.array(["ant", "bee", "cat", "dog"])[:n_classes]  # any label type
    return X, labels[y], w


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")  # the dev extra installs it: never skipped
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster, distributed.Client(cluster) as c:
        yield c


def _local(cls):
    def fit(X, y, w, **params):
        params = {"n_estimators": 2, "n_jobs": 1, **params}
        return cls(**params).fit(X, y, sample_weight=w)

    return fit


def _dask(name):
    def fit(X, y, w, client=None, **params):
        import dask.array as da

        from focalboost import dask as fdask

        cls = getattr(fdask, name)
        model = cls(**{"n_estimators": 2, **params})
        model.client = client
        chunks = N_ROWS // 2
        Xd = da.from_array(X, chunks=(chunks, -1))
        yd = da.from_array(y, chunks=chunks)
        wd = None if w is None else da.from_array(w, chunks=chunks)
        return model.fit(Xd, yd, sample_weight=wd)

    return fit


ESTIMATORS = [
    pytest.param("xgboost", _local(FocalXGBClassifier), id="FocalXGBClassifier"),
    pytest.param("lightgbm", _local(FocalLGBMClassifier), id="FocalLGBMClassifier"),
    pytest.param(
        "xgboost", _dask("FocalDaskXGBClassifier"), id="FocalDaskXGBClassifier",
        marks=pytest.mark.slow,
    ),
    pytest.param(
        "lightgbm", _dask("FocalDaskLGBMClassifier"), id="FocalDaskLGBMClassifier",
        marks=pytest.mark.slow,
    ),
]


def _fit(fit, request, X, y, w, **params):
    if "Dask" in request.node.callspec.id:
        return fit(X, y, w, client=request.getfixturevalue("client"), **params)
    return fit(X, y, w, **params)


def _reference(X, y, w, **params):
    """What every estimator must derive: the single-machine XGBoost estimator's attributes."""
    return FocalXGBClassifier(n_estimators=1, n_jobs=1, **params).fit(X, y, sample_weight=w)


ALPHAS = {
    2: [None, 0.3, "balanced", "inverse_frequency", {"ant": 1.0, "bee": 3.0}, [2.0, 1.0]],
    3: [None, "balanced", "enet", {"ant": 1.0, "bee": 2.0, "cat": 4.0}, [0.2, 0.3, 0.5]],
}


@pytest.mark.parametrize("library, fit", ESTIMATORS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_every_estimator_derives_the_same_alpha_init_score_and_scale(library, fit, n_classes, request):
    X, y, w = _data(n_classes)
    for alpha in ALPHAS[n_classes]:
        for weights in (None, w):
            params = dict(gamma=1.5, alpha=alpha, loss_scale="auto")
            model = _fit(fit, request, X, y, weights, **params)
            ref = _reference(X, y, weights, **params)
            np.testing.assert_array_equal(model.classes_, ref.classes_)
            # the same loss; alpha may differ in the last digit (distributed weight sums)
            assert type(model.loss_) is type(ref.loss_)
            assert (model.loss_.gamma, model.loss_.hessian) == (ref.loss_.gamma, ref.loss_.hessian)
            assert model.loss_.n_classes == n_classes
            if alpha is None:
                assert model.alpha_ is None
            else:
                np.testing.assert_allclose(model.alpha_, ref.alpha_, rtol=1e-12)
            init = np.asarray(model.init_score_)
            assert init.shape == (() if n_classes == 2 else (n_classes,))
            np.testing.assert_allclose(init, ref.init_score_, rtol=1e-9, atol=1e-12)
            assert model.loss_scale_ == pytest.approx(ref.loss_scale_, rel=1e-9)


@pytest.mark.parametrize("library, fit", ESTIMATORS)
def test_scale_pos_weight_means_the_same_everywhere(library, fit, request):
    X, y, w = _data(2)
    model = _fit(fit, request, X, y, w, alpha="balanced", scale_pos_weight=4.0)
    # scale_pos_weight multiplies the weights of classes_[1] rows
    w4 = np.where(y == model.classes_[1], 4.0 * w, w)
    ref = _reference(X, y, w4, alpha="balanced")
    np.testing.assert_allclose(model.alpha_, ref.alpha_, rtol=1e-12)
    np.testing.assert_allclose(model.init_score_, ref.init_score_, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("library, fit", ESTIMATORS)
def test_scale_pos_weight_is_refused_for_multiclass(library, fit, request):
    X, y, w = _data(3)
    with pytest.raises(ValueError, match="scale_pos_weight is defined for binary"):
        _fit(fit, request, X, y, w, scale_pos_weight=2.0)


@pytest.mark.parametrize("library, fit", [p for p in ESTIMATORS if p.values[0] == "lightgbm"])
@pytest.mark.parametrize("class_weight", ["balanced", {"ant": 2.0, "cat": 0.5}])
def test_class_weight_enters_the_loss_the_same_way(library, fit, class_weight, request):
    X, y, w = _data(3)
    model = _fit(fit, request, X, y, w, alpha="balanced", class_weight=class_weight)
    counts = np.array([np.sum(y == c) for c in model.classes_], dtype=float)
    if class_weight == "balanced":
        factors = N_ROWS / (3 * counts)
    else:
        factors = np.array([class_weight.get(c, 1.0) for c in model.classes_])
    codes = np.searchsorted(model.classes_, y)
    ref = _reference(X, y, w * factors[codes], alpha="balanced")
    np.testing.assert_allclose(model.alpha_, ref.alpha_, rtol=1e-12)
    np.testing.assert_allclose(model.init_score_, ref.init_score_, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("library, fit", [p for p in ESTIMATORS if p.values[0] == "xgboost"])
@pytest.mark.parametrize("n_classes, base_score", [(2, 0.3), (3, 0.5), (3, [0.1, -0.2, 0.3])])
def test_a_user_base_score_gives_the_same_init_score(library, fit, n_classes, base_score, request):
    X, y, w = _data(n_classes)
    model = _fit(fit, request, X, y, w, base_score=base_score)
    if n_classes == 2:
        assert np.ndim(model.init_score_) == 0
        assert model.init_score_ == pytest.approx(logit(base_score), rel=1e-12)
    else:  # one margin per class, a scalar broadcast to all of them
        expected = np.broadcast_to(np.asarray(base_score, float), (n_classes,))
        assert np.shape(model.init_score_) == (n_classes,)
        np.testing.assert_array_equal(model.init_score_, expected)


@pytest.mark.parametrize("library, fit", ESTIMATORS)
def test_objective_and_its_aliases_are_refused(library, fit, request):
    X, y, w = _data(2)
    names = ["objective"] + (["application", "loss"] if library == "lightgbm" else [])
    for name in names:
        with pytest.raises(ValueError, match=f"Invalid parameter '{name}'"):
            _fit(fit, request, X, y, w, **{name: "binary"})


@pytest.mark.parametrize("library, fit", ESTIMATORS)
def test_focal_parameters_round_trip_through_get_and_set_params(library, fit, request):
    from sklearn.base import clone

    X, y, w = _data(2)
    model = _fit(fit, request, X, y, None, gamma=0.5, alpha=0.25, probability="focal")
    params = model.get_params()
    assert {k: params[k] for k in ("gamma", "alpha", "hessian", "loss_scale", "probability")} == dict(
        gamma=0.5, alpha=0.25, hessian="positive", loss_scale=1.0, probability="focal"
    )
    assert "objective" not in params
    twin = clone(model).set_params(gamma=3.0)
    assert twin.gamma == 3.0 and twin.alpha == 0.25


def _as_numpy(a):
    return a.compute() if hasattr(a, "compute") else np.asarray(a)


def _features_for(model, X):
    """X as the estimator takes it: a Dask array for the Dask estimators."""
    if "Dask" not in type(model).__name__:
        return X
    import dask.array as da

    return da.from_array(X, chunks=(N_ROWS // 2, -1))


PREDICT_ALPHAS = {
    2: [None, 0.2, "balanced", {"ant": 3.0, "bee": 1.0}],
    3: [None, "balanced", {"ant": 1.0, "bee": 5.0, "cat": 0.5}],
}


@pytest.mark.parametrize("library, fit", ESTIMATORS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_predict_is_the_argmax_of_predict_proba_in_every_mode(library, fit, n_classes, request):
    """scikit-learn's contract, with alpha too: predict == classes_[argmax(predict_proba)]."""
    X, y, w = _data(n_classes, seed=3)
    disagreements = 0  # the cost-weighted decision (largest margin) differs somewhere: a real test
    for alpha in PREDICT_ALPHAS[n_classes]:
        model = _fit(fit, request, X, y, w, alpha=alpha, gamma=2.0, n_estimators=30)
        Xp = _features_for(model, X)
        for probability in ("posterior", "focal"):
            model.set_params(probability=probability)
            proba = _as_numpy(model.predict_proba(Xp))
            labels = _as_numpy(model.predict(Xp))
            np.testing.assert_array_equal(labels, model.classes_[np.argmax(proba, axis=1)])
        focal = _as_numpy(model.set_params(probability="focal").predict_proba(Xp))
        posterior = _as_numpy(model.set_params(probability="posterior").predict_proba(Xp))
        disagreements += int(np.sum(np.argmax(focal, 1) != np.argmax(posterior, 1)))
    assert disagreements > 0


def test_multilabel_predict_is_each_probability_above_one_half():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    Y = (X[:, :3] + rng.normal(scale=0.7, size=(600, 3)) > np.array([0.8, 1.2, 1.6])).astype(int)
    for probability in ("posterior", "focal"):
        model = FocalXGBClassifier(n_estimators=20, alpha=0.3, probability=probability).fit(X, Y)
        np.testing.assert_array_equal(model.predict(X), (model.predict_proba(X) > 0.5).astype(int))


@pytest.mark.parametrize("cls", [FocalXGBClassifier, FocalLGBMClassifier])
def test_the_cost_weighted_decision_through_fixed_threshold_classifier(cls):
    """The decision alpha implies (margin > 0) is FixedThresholdClassifier at the posterior of
    margin 0: the recipe docs/user_guide/probabilities.md gives."""
    from sklearn.model_selection import FixedThresholdClassifier

    from focalboost import binary_posterior

    X, y, w = _data(2, seed=4)
    model = cls(n_estimators=30, alpha=0.2, gamma=2.0).fit(X, y)
    threshold = float(binary_posterior(np.array([0.0]), gamma=2.0, alpha=0.2)[0, 1])
    cost = FixedThresholdClassifier(model, threshold=threshold, response_method="predict_proba")
    cost.fit(X, y)
    margin = model.predict(X, output_margin=True) if cls is FocalXGBClassifier else model.decision_function(X)
    expected = model.classes_[(np.asarray(margin) > 0).astype(int)]
    np.testing.assert_array_equal(cost.predict(X), expected)
    assert np.any(cost.predict(X) != model.predict(X))  # not the same decision as predict


@pytest.mark.parametrize("library, fit", ESTIMATORS)
def test_a_model_no_tree_can_split_is_a_warning(library, fit, request):
    """loss_scale=1e-30 (or a huge gamma) trained a constant model without a word."""
    import warnings

    X, y, w = _data(2)
    with pytest.warns(UserWarning, match="no tree can split"):
        _fit(fit, request, X, y, w, loss_scale=1e-30)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*no tree can split")
        _fit(fit, request, X, y, w)


def test_multilabel_no_split_check_on_label_totals_agrees_with_the_data():
    """The estimators check two rows weighted by each label's totals instead of the (n, L) data:
    the same verdict at every min_child_weight around the threshold, weighted or not."""
    import warnings

    from focalboost import MultiLabelFocalLoss
    from focalboost._adapter import init_score_rows, warn_if_no_split

    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 3))
    Y = (rng.random((400, 3)) < [0.05, 0.3, 0.5]).astype(int)
    for w in (None, rng.uniform(0.1, 2.0, 400)):
        loss = MultiLabelFocalLoss(4.0, 0.3)
        raw = init_score_rows(loss, Y, w)
        grad, hess = loss.reference_gradient_hessian(Y, raw, w)
        H = np.sum(hess, axis=0)  # each label's summed hessian; the check stops at 2 x min_child_weight
        verdicts = []
        for mcw in sorted({*(H / 2 * 0.999), *(H / 2 * 1.001)}):
            with warnings.catch_warnings(record=True) as full:
                warnings.simplefilter("always")
                warn_if_no_split(loss, Y, raw, w, min_hessian=mcw, formulas=True)
            with warnings.catch_warnings(record=True) as ours:
                warnings.simplefilter("always")
                FocalXGBClassifier(n_estimators=1, gamma=4.0, alpha=0.3, loss_scale=1.0,
                                   min_child_weight=mcw).fit(X, Y, sample_weight=w)
            said = lambda caught: any("no tree can split" in str(c.message) for c in caught)  # noqa: E731
            assert said(ours) == said(full), (mcw, H)
            verdicts.append(said(full))
        assert any(verdicts) and not all(verdicts)  # both sides of the threshold were seen
