"""Native hooks: xgb.train / lgb.train with focal objectives and metrics, binary and multiclass."""

import pickle

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb
from sklearn.datasets import make_classification
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split

from focalboost import BinaryFocalLoss, MulticlassFocalLoss, _compat
from focalboost import lightgbm as flgb
from focalboost import xgboost as fxgb

XGB_PARAMS = {"max_depth": 3, "eta": 0.1, "nthread": 1, "seed": 0}
LGB_PARAMS = {"num_leaves": 15, "learning_rate": 0.1, "verbose": -1, "num_threads": 1, "seed": 0}


def _binary_data(seed=0):
    X, y = make_classification(
        n_samples=3000, n_features=10, n_informative=5, weights=[0.93], flip_y=0.01,
        random_state=seed,
    )
    return train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)


def _multiclass_data(seed=0):
    X, y = make_classification(
        n_samples=3000, n_features=10, n_informative=6, n_classes=3, weights=[0.8, 0.15, 0.05],
        n_clusters_per_class=1, random_state=seed,
    )
    return train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)


# --- XGBoost ---------------------------------------------------------------------------------------
def _train_xgb(loss, X, y, rounds=60, weight=None, evals_result=None, evals=()):
    dtrain = xgb.DMatrix(X, y, weight=weight)
    params = {**XGB_PARAMS, **fxgb.training_params(loss, y, weight)}
    return xgb.train(
        params, dtrain, rounds, obj=fxgb.objective(loss), custom_metric=fxgb.metric(loss),
        evals=[(dtrain, "train"), *evals], evals_result=evals_result, verbose_eval=False,
    )


def test_xgboost_binary_learns():
    X_tr, X_te, y_tr, y_te = _binary_data()
    loss = BinaryFocalLoss(gamma=2.0, alpha=0.25)
    history = {}
    booster = _train_xgb(loss, X_tr, y_tr, evals_result=history)
    train_curve = history["train"]["focal_loss"]
    assert train_curve[-1] < 0.5 * train_curve[0]
    assert np.all(np.diff(train_curve) < 1e-12)  # the positive hessian gives monotone descent here
    # first recorded value is the loss of the init score after one round; the init score itself:
    constant = loss.mean_loss(y_tr, np.full(len(y_tr), loss.init_score(y_tr)))
    assert train_curve[0] < constant
    proba = fxgb.predict_proba(booster, xgb.DMatrix(X_te), loss, probability="focal")  # sigmoid
    assert proba.shape == (len(y_te), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    held_out = loss.mean_loss(y_te, np.log(proba[:, 1]) - np.log(proba[:, 0]))
    held_out_constant = loss.mean_loss(y_te, np.full(len(y_te), loss.init_score(y_tr)))
    assert held_out < 0.6 * held_out_constant
    assert average_precision_score(y_te, proba[:, 1]) > 5 * y_te.mean()


def test_xgboost_base_score_is_the_init_score():
    X_tr, _, y_tr, _ = _binary_data()
    loss = BinaryFocalLoss(gamma=2.0, alpha=0.25)
    booster = _train_xgb(loss, X_tr, y_tr, rounds=0)
    margin = fxgb.predict_margin(booster, xgb.DMatrix(X_tr[:5]))
    np.testing.assert_allclose(margin, loss.init_score(y_tr), rtol=1e-6)  # float32 inside XGBoost


def test_xgboost_multiclass_learns():
    X_tr, X_te, y_tr, y_te = _multiclass_data()
    loss = MulticlassFocalLoss(3, gamma=2.0, alpha=[0.3, 1.0, 2.0])
    history = {}
    booster = _train_xgb(loss, X_tr, y_tr, evals_result=history)
    curve = history["train"]["focal_loss"]
    assert curve[-1] < 0.5 * curve[0]
    proba = fxgb.predict_proba(booster, xgb.DMatrix(X_te), loss, probability="focal")  # softmax
    assert proba.shape == (len(y_te), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    init = loss.init_score(y_tr)
    margin = np.log(proba)
    assert loss.mean_loss(y_te, margin) < 0.6 * loss.mean_loss(y_te, np.tile(init, (len(y_te), 1)))
    assert np.mean(proba.argmax(axis=1) == y_te) > 0.9


def test_xgboost_hooks_apply_weights_once_and_return_framework_shapes():
    X_tr, _, y_tr, _ = _multiclass_data()
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y_tr))
    loss = MulticlassFocalLoss(3, gamma=1.0)
    d = xgb.DMatrix(X_tr, y_tr, weight=w)
    raw = np.random.default_rng(1).normal(size=(len(y_tr), 3)).astype(np.float32)
    g, h = fxgb.objective(loss)(raw, d)
    w = d.get_weight().astype(np.float64)  # the data set stores weights as float32
    g_ref, h_ref = loss.gradient_hessian(y_tr, raw, w)
    assert g.shape == h.shape == (len(y_tr), 3)
    # float32, as XGBoost stores gradient pairs: exactly the float64 results rounded once
    assert g.dtype == h.dtype == np.float32
    np.testing.assert_array_equal(g, g_ref.astype(np.float32))
    np.testing.assert_array_equal(h, h_ref.astype(np.float32))
    name, value = fxgb.metric(loss)(raw, d)
    assert name == "focal_loss"
    assert value == pytest.approx(np.sum(w * loss.loss(y_tr, raw)) / np.sum(w), rel=1e-12)


def test_xgboost_weight_two_equals_duplicated_rows():
    X_tr, X_te, y_tr, _ = _binary_data()
    X_tr, y_tr = X_tr[:600], y_tr[:600]
    w = np.where(np.arange(600) % 4 == 0, 2.0, 1.0)
    dup = np.repeat(np.arange(600), w.astype(int))
    loss = BinaryFocalLoss(gamma=2.0, alpha=0.4)
    params = {**XGB_PARAMS, "tree_method": "exact"}
    preds = []
    for X, y, weight in [(X_tr, y_tr, w), (X_tr[dup], y_tr[dup], None)]:
        d = xgb.DMatrix(X, y, weight=weight)
        b = xgb.train({**params, **fxgb.training_params(loss, y, weight)}, d, 20, obj=fxgb.objective(loss))
        preds.append(fxgb.predict_proba(b, xgb.DMatrix(X_te), loss)[:, 1])
    np.testing.assert_allclose(preds[0], preds[1], rtol=1e-5, atol=1e-7)


def test_xgboost_finite_difference_objective_matches_closed_form():
    X_tr, X_te, y_tr, _ = _binary_data()
    preds = []
    for derivatives in ("closed_form", "finite_difference"):
        loss = BinaryFocalLoss(gamma=2.0, alpha=0.25, hessian="exact", derivatives=derivatives)
        booster = _train_xgb(loss, X_tr, y_tr, rounds=30)
        preds.append(fxgb.predict_proba(booster, xgb.DMatrix(X_te), loss)[:, 1])
    np.testing.assert_allclose(preds[0], preds[1], rtol=1e-4, atol=1e-6)


def test_xgboost_multiclass_finite_difference_matches_closed_form():
    X_tr, X_te, y_tr, _ = _multiclass_data()
    preds = []
    for derivatives in ("closed_form", "finite_difference"):
        loss = MulticlassFocalLoss(3, gamma=2.0, hessian="exact", derivatives=derivatives)
        booster = _train_xgb(loss, X_tr, y_tr, rounds=15)
        preds.append(fxgb.predict_proba(booster, xgb.DMatrix(X_te), loss))
    np.testing.assert_allclose(preds[0], preds[1], rtol=1e-4, atol=1e-6)


def test_xgboost_early_stopping_on_focal_metric():
    X_tr, X_te, y_tr, y_te = _binary_data()
    loss = BinaryFocalLoss(gamma=2.0)
    dvalid = xgb.DMatrix(X_te, y_te)
    booster = xgb.train(
        {**XGB_PARAMS, "eta": 0.5, **fxgb.training_params(loss, y_tr)}, xgb.DMatrix(X_tr, y_tr), 500,
        obj=fxgb.objective(loss), custom_metric=fxgb.metric(loss), evals=[(dvalid, "valid")],
        early_stopping_rounds=10, verbose_eval=False,
    )
    assert booster.best_iteration < 499
    assert booster.best_score == pytest.approx(
        loss.mean_loss(y_te, fxgb.predict_margin(booster, dvalid, iteration_range=(0, booster.best_iteration + 1))),
        rel=1e-5,
    )


# --- LightGBM --------------------------------------------------------------------------------------
def _train_lgb(loss, X, y, rounds=60, weight=None, valid=None, callbacks=()):
    init = loss.init_score(y, weight)
    dtrain = lgb.Dataset(X, y, weight=weight, init_score=flgb.init_score(loss, y, init=init))
    valid_sets, names = [dtrain], ["train"]
    if valid is not None:
        Xv, yv = valid
        valid_sets.append(lgb.Dataset(Xv, yv, init_score=flgb.init_score(loss, yv, init=init), reference=dtrain))
        names.append("valid")
    history = {}
    booster = lgb.train(
        {**LGB_PARAMS, **flgb.training_params(loss)}, dtrain, rounds, valid_sets=valid_sets,
        valid_names=names, feval=flgb.metric(loss),
        callbacks=[lgb.record_evaluation(history), *callbacks],
    )
    return booster, init, history


def test_lightgbm_binary_learns():
    X_tr, X_te, y_tr, y_te = _binary_data()
    loss = BinaryFocalLoss(gamma=2.0, alpha=0.25)
    booster, init, history = _train_lgb(loss, X_tr, y_tr)
    curve = history["train"]["focal_loss"]
    assert curve[-1] < 0.5 * curve[0]
    assert curve[0] < loss.mean_loss(y_tr, np.full(len(y_tr), init))
    proba = flgb.predict_proba(booster, X_te, loss, init)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    margin = flgb.predict_margin(booster, X_te, init)
    assert loss.mean_loss(y_te, margin) < 0.6 * loss.mean_loss(y_te, np.full(len(y_te), init))
    assert average_precision_score(y_te, proba[:, 1]) > 5 * y_te.mean()


def test_lightgbm_multiclass_learns_and_uses_2d_arrays():
    X_tr, X_te, y_tr, y_te = _multiclass_data()
    loss = MulticlassFocalLoss(3, gamma=2.0, alpha=[0.3, 1.0, 2.0])
    booster, init, history = _train_lgb(loss, X_tr, y_tr)
    curve = history["train"]["focal_loss"]
    assert curve[-1] < 0.5 * curve[0]
    margin = flgb.predict_margin(booster, X_te, init)
    assert margin.shape == (len(y_te), 3)
    assert loss.mean_loss(y_te, margin) < 0.6 * loss.mean_loss(y_te, np.tile(init, (len(y_te), 1)))
    assert np.mean(margin.argmax(axis=1) == y_te) > 0.9


def test_lightgbm_hooks_apply_weights_once():
    X_tr, _, y_tr, _ = _binary_data()
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y_tr))
    loss = BinaryFocalLoss(gamma=2.0, alpha=0.25)
    d = lgb.Dataset(X_tr, y_tr, weight=w).construct()
    raw = np.random.default_rng(1).normal(size=len(y_tr))
    g, h = flgb.objective(loss)(raw, d)
    w = d.get_weight().astype(np.float64)  # the data set stores weights as float32
    g_ref, h_ref = loss.gradient_hessian(y_tr, raw, w)
    assert g.dtype == h.dtype == np.float32  # LightGBM's precision, rounded once from float64
    np.testing.assert_array_equal(g, g_ref.astype(np.float32))
    np.testing.assert_array_equal(h, h_ref.astype(np.float32))
    name, value, higher_better = flgb.metric(loss)(raw, d)
    assert (name, higher_better) == ("focal_loss", False)
    assert value == pytest.approx(np.sum(w * loss.loss(y_tr, raw)) / np.sum(w), rel=1e-12)


def test_lightgbm_weighted_gamma0_reproduces_builtin_binary():
    """Weights applied exactly once: at gamma = 0 our hook is LightGBM's own weighted log loss.

    (Weight 2 versus duplicated rows is not an identity in LightGBM itself — its bin boundaries and
    row counts see the duplicates — so the built-in objective is the reference here.)
    """
    X_tr, X_te, y_tr, _ = _binary_data()
    w = np.random.default_rng(3).uniform(0.2, 3.0, len(y_tr))
    builtin = lgb.train({**LGB_PARAMS, "objective": "binary"}, lgb.Dataset(X_tr, y_tr, weight=w), 30)
    loss = BinaryFocalLoss(gamma=0.0)
    booster, init, _ = _train_lgb(loss, X_tr, y_tr, rounds=30, weight=w)
    np.testing.assert_allclose(
        flgb.predict_proba(booster, X_te, loss, init)[:, 1], builtin.predict(X_te), rtol=1e-6, atol=1e-9
    )


def test_xgboost_weighted_gamma0_reproduces_builtin_logistic():
    X_tr, X_te, y_tr, _ = _binary_data()
    w = np.random.default_rng(3).uniform(0.2, 3.0, len(y_tr))
    d = xgb.DMatrix(X_tr, y_tr, weight=w)
    builtin = xgb.train({**XGB_PARAMS, "objective": "binary:logistic"}, d, 30)
    loss = BinaryFocalLoss(gamma=0.0)
    booster = _train_xgb(loss, X_tr, y_tr, rounds=30, weight=w)
    np.testing.assert_allclose(
        fxgb.predict_proba(booster, xgb.DMatrix(X_te), loss)[:, 1],
        builtin.predict(xgb.DMatrix(X_te)), rtol=1e-5, atol=1e-7,
    )


def test_lightgbm_finite_difference_objective_matches_closed_form():
    X_tr, X_te, y_tr, _ = _binary_data()
    preds = []
    for derivatives in ("closed_form", "finite_difference"):
        loss = BinaryFocalLoss(gamma=2.0, alpha=0.25, hessian="exact", derivatives=derivatives)
        booster, init, _ = _train_lgb(loss, X_tr, y_tr, rounds=30)
        preds.append(flgb.predict_proba(booster, X_te, loss, init)[:, 1])
    np.testing.assert_allclose(preds[0], preds[1], rtol=1e-4, atol=1e-6)


def test_lightgbm_early_stopping_on_focal_metric():
    X_tr, X_te, y_tr, y_te = _binary_data()
    loss = BinaryFocalLoss(gamma=2.0)
    booster, init, history = _train_lgb(
        loss, X_tr, y_tr, rounds=500, valid=(X_te, y_te),
        callbacks=[lgb.early_stopping(10, verbose=False)],
    )
    assert booster.best_iteration < 500
    valid_curve = history["valid"]["focal_loss"]
    assert booster.best_iteration == int(np.argmin(valid_curve)) + 1


# --- both ------------------------------------------------------------------------------------------
def test_hooks_pickle_and_keep_their_loss():
    loss = MulticlassFocalLoss(3, gamma=2.0, alpha=[1, 2, 3])
    for hook in (fxgb.objective(loss), fxgb.metric(loss), flgb.objective(loss), flgb.metric(loss)):
        clone = pickle.loads(pickle.dumps(hook))
        assert clone == hook and clone.loss == loss


def test_hooks_reject_non_losses():
    with pytest.raises(TypeError, match="loss must be a focalboost loss object"):
        fxgb.objective("binary:logistic")
    with pytest.raises(TypeError, match="loss must be a focalboost loss object"):
        flgb.metric(object())


def test_hooks_reject_labels_outside_the_classes():
    loss = BinaryFocalLoss()
    d = xgb.DMatrix(np.zeros((3, 2)), np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"class indices in 0..1"):
        fxgb.objective(loss)(np.zeros(3, dtype=np.float32), d)


# --- what a boosting round allocates -------------------------------------------------------------
def _peak_bytes(func):
    """Peak bytes traced by tracemalloc during func() (numpy buffers included)."""
    import tracemalloc

    func()  # compile / warm up first
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("n_classes", [2, 4])
def test_hooks_allocate_only_the_float32_gradient_and_hessian(n_classes):
    """No copy of labels, weights or results: a call allocates grad and hess and nothing else
    (~0 besides). Enough rows that a copy of the labels (4 bytes per row) would show."""
    rng = np.random.default_rng(0)
    n = 100_000
    X = rng.normal(size=(n, 3))
    y = rng.integers(0, n_classes, n).astype(np.float64)
    w = rng.uniform(0.5, 2.0, n)
    loss = BinaryFocalLoss(2.0, 0.25) if n_classes == 2 else MulticlassFocalLoss(n_classes, 2.0)
    shape = (n,) if n_classes == 2 else (n, n_classes)
    results = 2 * 4 * int(np.prod(shape))  # grad + hess, float32
    slack = 64 * 1024

    d = xgb.DMatrix(X, y, weight=w)
    raw = rng.normal(size=shape).astype(np.float32)  # as XGBoost passes margins
    obj = fxgb.objective(loss)
    obj(raw, d)  # the fast paths' one-time feature checks (focalboost._compat) run outside the count
    # labels and weights are read in place; with FOCALBOOST_FAST_PATHS=0 they are copied
    copies = 0 if _compat.fast_paths_enabled() else 2 * 4 * n
    assert _peak_bytes(lambda: obj(raw, d)) < results + copies + slack

    ds = lgb.Dataset(X, y, weight=w).construct()
    raw = rng.normal(size=shape)
    if n_classes > 2:
        raw = np.asfortranarray(raw)  # LightGBM passes a column-major (n, K) view of its scores
    lobj = flgb.objective(loss)
    assert _peak_bytes(lambda: lobj(raw, ds)) < results + slack
    g, h = lobj(raw, ds)
    # LightGBM flattens class by class and converts to float32: neither copies these arrays
    for a in (g, h):
        assert a.dtype == np.float32
        assert np.shares_memory(a.ravel(order="F"), a)


def test_lightgbm_multiclass_predict_proba_allocates_only_its_output():
    """LightGBM's raw scores are float64 and ours: the posterior is written over them, so
    predict_proba (estimator and native helper) allocates one (n, K) array, not two."""
    from focalboost import FocalLGBMClassifier
    from focalboost._adapter import probability_from_margin

    rng = np.random.default_rng(3)
    K, n = 6, 40_000
    X_train = rng.normal(size=(3_000, 4))
    y_train = (X_train[:, 0] * 2 + rng.normal(size=3_000)).round().clip(-2, 3) + 2
    X = rng.normal(size=(n, 4))
    output = n * K * 8
    slack = 256 * 1024
    for probability in ("posterior", "auto"):
        model = FocalLGBMClassifier(gamma=2.0, n_estimators=5, num_leaves=7, verbose=-1,
                                    probability=probability)
        model.fit(X_train, y_train, eval_set=[(X_train[:500], y_train[:500])])
        assert model.n_classes_ == K
        if probability == "auto":
            assert model.temperature_ != 1.0  # the division by T is done in place too
        proba = model.predict_proba(X)
        margin = model.decision_function(X)
        ref = probability_from_margin(model.loss_, margin.copy(), probability, model.temperature_,
                                      model.strength_)  # not in place
        np.testing.assert_array_equal(proba, ref)
        np.testing.assert_array_equal(model.decision_function(X), margin)  # nothing kept changed
        assert _peak_bytes(lambda: model.predict_proba(X)) < output + slack
        booster, init = model.booster_, 0.0  # the estimator folds its init score into the trees
        native = flgb.predict_proba(booster, X, model.loss_, init, probability=probability)
        np.testing.assert_array_equal(native, proba)
        assert _peak_bytes(lambda: flgb.predict_proba(booster, X, model.loss_, init,
                                                      probability=probability)) < output + slack


def test_xgboost_objective_sees_labels_and_weights_changed_between_rounds():
    """The hooks read the DMatrix's buffers in place and cache nothing: set_label / set_weight
    between two calls are seen."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 3))
    y = (rng.random(500) < 0.3).astype(np.float64)
    w = rng.uniform(0.5, 2.0, 500)
    d = xgb.DMatrix(X, y)
    loss = BinaryFocalLoss(2.0, 0.25)
    raw = rng.normal(size=500).astype(np.float32)
    obj = fxgb.objective(loss)
    g0, _ = obj(raw, d)
    d.set_label(1.0 - y)
    d.set_weight(w)
    g1, h1 = obj(raw, d)
    g_ref, h_ref = loss.gradient_hessian(1.0 - y, raw, w.astype(np.float32))
    np.testing.assert_array_equal(g1, g_ref.astype(np.float32))
    np.testing.assert_array_equal(h1, h_ref.astype(np.float32))
    assert not np.array_equal(g0, g1)
    name, value = fxgb.metric(loss)(raw, d)
    assert value == pytest.approx(loss.mean_loss(1.0 - y, raw, w.astype(np.float32)), rel=1e-12)


@pytest.mark.parametrize("classes", [2, 3])
def test_lightgbm_estimator_trains_the_hooks_model_of_a_dataset_init_score(classes):
    """FocalLGBMClassifier starts LightGBM's training scores at 0 and adds the init score in the
    objective (no per-row init score held by LightGBM); the hooks as documented put it into the
    Dataset. Same trees: the margins agree up to the rounding of init + trees summed in another
    order (measured: 0 here, the float32 gradients absorb it)."""
    from focalboost import FocalLGBMClassifier

    X, y = make_classification(n_samples=3000, n_features=8, n_informative=5, n_classes=classes,
                               random_state=3)
    est = FocalLGBMClassifier(gamma=2.0, loss_scale=1.0, n_estimators=25, num_leaves=15, n_jobs=1,
                              verbose=-1).fit(X, y)
    loss = est.loss_
    init = loss.init_score(y)
    params = {"num_leaves": 15, "num_threads": 1, "verbose": -1, **flgb.training_params(loss)}
    dtrain = lgb.Dataset(X, y, init_score=flgb.init_score(loss, y, init=init))
    booster = lgb.train(params, dtrain, 25)
    np.testing.assert_allclose(est.decision_function(X), flgb.predict_margin(booster, X, init),
                               rtol=0, atol=1e-12)
    assert est.booster_.num_trees() == booster.num_trees()


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_lightgbm_estimator_loads_its_kernel_before_lightgbm_builds_its_data(classes, weighted, monkeypatch):
    """FocalLGBMClassifier.fit loads the kernel on two rows of LightGBM's argument types before
    the Dataset exists (peak memory, benchmarks/RESULTS.md 2026-12-03): every round then calls
    the kernel with the argument types the warm-up compiled (numba types: dtype, layout, None)."""
    import numba

    import focalboost.sklearn._lightgbm as sk_lgb
    from focalboost import FocalLGBMClassifier
    from focalboost import _kernels

    calls = []
    run = _kernels._run

    def spy_run(kernel, args, *rest):
        calls.append((kernel, tuple(numba.typeof(a) for a in args)))
        return run(kernel, args, *rest)

    warm = sk_lgb.load_kernel_before_training

    def spy_warm(*args, **kwargs):
        calls.append("warm-up")
        warm(*args, **kwargs)
        calls.append("trained")

    monkeypatch.setattr(_kernels, "_run", spy_run)
    monkeypatch.setattr(sk_lgb, "load_kernel_before_training", spy_warm)
    X, y = make_classification(n_samples=400, n_features=5, n_informative=3, n_classes=classes,
                               random_state=4)
    weights = np.linspace(0.5, 2.0, len(y)) if weighted else None
    FocalLGBMClassifier(gamma=2.0, n_estimators=3, num_leaves=4, n_jobs=1, verbose=-1).fit(
        X, y, sample_weight=weights)
    start, end = calls.index("warm-up"), calls.index("trained")
    warmed = calls[start + 1:end]
    kernel = _kernels._binary_grad_hess_kernel if classes == 2 else _kernels._multiclass_grad_hess_kernel
    assert [k for k, _ in warmed] == [kernel]
    rounds = [c for c in calls[end + 1:] if c[0] is kernel]
    assert len(rounds) == 3
    assert all(types == warmed[0][1] for _, types in rounds), (warmed, rounds)
