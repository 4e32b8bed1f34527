"""The loss contract (focalboost.base.BoostingLoss): a user's own loss trains through every hook.

Two losses written the way a user would, against the contract only (no focalboost internals):
a class-weighted log loss (binary) and a class-weighted softmax cross-entropy (multiclass). They
are checked against things that can fail: their derivatives against finite differences, the
binary one with unit weights against XGBoost's and LightGBM's own logistic objectives, every
reported metric against the mean loss computed directly, the Dask model against the
single-machine one.
"""

import doctest
import pickle

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb
from scipy.special import expit, log_expit, logsumexp, softmax

import focalboost.base
from focalboost import BinaryFocalLoss, MulticlassFocalLoss, MultiLabelFocalLoss
from focalboost import lightgbm as flgb
from focalboost import xgboost as fxgb
from focalboost._adapter import check_loss as adapter_check_loss
from focalboost.base import BoostingLoss, SupportsBoostingLoss, check_loss
from focalboost.finite_difference import (
    FiniteDifferenceBinaryLoss,
    FiniteDifferenceMulticlassLoss,
    binary_derivatives,
    multiclass_derivatives,
)

XGB_PARAMS = {"max_depth": 3, "eta": 0.3, "nthread": 1}
LGB_PARAMS = {"num_leaves": 8, "learning_rate": 0.2, "verbose": -1, "num_threads": 1}


# --- two user losses, written against the contract only -------------------------------------------
class WeightedLogLoss(BoostingLoss):
    """Log loss with a weight per class (``w1`` for class 1, ``w0`` for class 0); the example of
    the BoostingLoss docstring."""

    kind = "binary"

    def __init__(self, w1=1.0, w0=1.0):
        self.w1, self.w0 = float(w1), float(w0)

    def _weight(self, y, sample_weight):
        a = np.where(y == 1, self.w1, self.w0)
        return a if sample_weight is None else a * sample_weight

    def loss(self, y_true, raw_prediction, sample_weight=None):
        y, x = np.asarray(y_true), np.asarray(raw_prediction, dtype=np.float64)
        return self._weight(y, sample_weight) * -log_expit(np.where(y == 1, x, -x))

    def gradient_hessian(self, y_true, raw_prediction, sample_weight=None):
        y, x = np.asarray(y_true), np.asarray(raw_prediction, dtype=np.float64)
        a, p = self._weight(y, sample_weight), expit(x)
        return a * (p - y), a * p * (1.0 - p)

    def init_score(self, y_true, sample_weight=None):
        y = np.asarray(y_true)
        w = np.ones(y.shape) if sample_weight is None else np.asarray(sample_weight, float)
        return float(np.log(self.w1 * w[y == 1].sum() / (self.w0 * w[y == 0].sum())))

    def predict_proba(self, raw_prediction):
        x = np.asarray(raw_prediction, dtype=np.float64)
        return np.column_stack([expit(-x), expit(x)])


class WeightedSoftmaxLoss(BoostingLoss):
    """Softmax cross-entropy with a weight per class; diagonal hessian a_y p_k (1 - p_k)."""

    kind = "multiclass"

    def __init__(self, class_weight):
        self.class_weight = np.asarray(class_weight, dtype=np.float64)
        self.n_classes = len(self.class_weight)

    def _parts(self, y_true, raw_prediction, sample_weight):
        y = np.asarray(y_true).astype(np.int64)
        Z = np.asarray(raw_prediction, dtype=np.float64)
        a = self.class_weight[y] if sample_weight is None else self.class_weight[y] * sample_weight
        return y, Z, a

    def loss(self, y_true, raw_prediction, sample_weight=None):
        y, Z, a = self._parts(y_true, raw_prediction, sample_weight)
        return a * (logsumexp(Z, axis=1) - Z[np.arange(len(y)), y])

    def gradient_hessian(self, y_true, raw_prediction, sample_weight=None):
        y, Z, a = self._parts(y_true, raw_prediction, sample_weight)
        p = softmax(Z, axis=1)
        grad = p.copy()
        grad[np.arange(len(y)), y] -= 1.0
        return a[:, None] * grad, a[:, None] * p * (1.0 - p)

    def init_score(self, y_true, sample_weight=None):
        totals = np.bincount(np.asarray(y_true).astype(np.int64), sample_weight, self.n_classes)
        z = np.log(self.class_weight * totals)  # the constant optimum: p_k proportional to a_k W_k
        return z - z.mean()

    def predict_proba(self, raw_prediction):
        return softmax(np.asarray(raw_prediction, dtype=np.float64), axis=1)


class DuckLogLoss:
    """Not a BoostingLoss: every member of the contract written out (the duck-typed form)."""

    kind = "binary"
    n_classes = 2
    raw_ndim = 1
    _inner = WeightedLogLoss()

    def loss(self, y_true, raw_prediction, sample_weight=None):
        return self._inner.loss(y_true, raw_prediction, sample_weight)

    def gradient_hessian(self, y_true, raw_prediction, sample_weight=None):
        return self._inner.gradient_hessian(y_true, raw_prediction, sample_weight)

    def init_score(self, y_true, sample_weight=None):
        return self._inner.init_score(y_true, sample_weight)

    def predict_proba(self, raw_prediction):
        return self._inner.predict_proba(raw_prediction)

    def loss_sums(self, y_true, raw_prediction, sample_weight=None):
        return self._inner.loss_sums(y_true, raw_prediction, sample_weight)

    def mean_loss(self, y_true, raw_prediction, sample_weight=None):
        return self._inner.mean_loss(y_true, raw_prediction, sample_weight)

    def fast_gradient_hessian(self, y_true, raw_prediction, sample_weight=None, out=None):
        return None


def _weights(rng, n):
    """Weights exactly representable in float32, the precision XGBoost and LightGBM store them
    in, so that numbers computed here and inside the libraries use the same weights."""
    return rng.uniform(0.2, 3.0, n).astype(np.float32).astype(np.float64)


def _binary_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(size=n) > 1.0).astype(np.float64)
    return X, y, _weights(rng, n)


def _multiclass_data(n=600, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = np.digitize(X[:, 0] + 0.5 * rng.normal(size=n), [-0.5, 0.7]).astype(np.float64)
    return X, y, _weights(rng, n)


# --- the contract itself --------------------------------------------------------------------------
def test_docstring_example_runs():
    """The BoostingLoss docstring's example (a user loss trained by focalboost.xgboost.train)."""
    result = doctest.testmod(focalboost.base, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 10 and result.failed == 0


def test_every_focalboost_loss_is_a_boosting_loss():
    losses = [
        BinaryFocalLoss(), MulticlassFocalLoss(3), MultiLabelFocalLoss(),
        FiniteDifferenceBinaryLoss(np.logaddexp), FiniteDifferenceMulticlassLoss(np.maximum, 4),
    ]
    expected = [("binary", 1, 2), ("multiclass", 2, 3), ("multilabel", 2, 2), ("binary", 1, 2),
                ("multiclass", 2, 4)]
    for loss, (kind, raw_ndim, n_classes) in zip(losses, expected):
        assert isinstance(loss, BoostingLoss) and isinstance(loss, SupportsBoostingLoss)
        assert check_loss(loss) is loss and adapter_check_loss(loss) is loss
        assert (loss.kind, loss.raw_ndim, loss.n_classes) == (kind, raw_ndim, n_classes)
        assert loss._raw_ndim == raw_ndim  # the former private name still answers
    y, x = np.array([0, 1, 1]), np.array([-1.0, 0.5, 2.0])
    out = (np.empty(3, np.float32), np.empty(3, np.float32))
    for fast in (losses[0].fast_gradient_hessian, losses[0]._fast_gradient_hessian):
        grad, hess = fast(y, x, None, out=out)
        assert grad is out[0] and hess is out[1]
    assert losses[3].fast_gradient_hessian(y, x) is None  # no fast path: gradient_hessian
    assert WeightedLogLoss().fast_gradient_hessian(y, x) is None
    assert WeightedLogLoss()._fast_gradient_hessian(y, x) is None


@pytest.mark.parametrize("loss, data", [
    (WeightedLogLoss(w1=3.0, w0=0.5), _binary_data),
    (WeightedSoftmaxLoss([1.0, 2.0, 0.5]), _multiclass_data),
])
def test_user_loss_derivatives_equal_finite_differences(loss, data):
    rng = np.random.default_rng(2)
    _, y, w = data(n=200)
    raw = rng.uniform(-6, 6, (200,) if loss.raw_ndim == 1 else (200, loss.n_classes))
    grad, hess = loss.gradient_hessian(y, raw, w)
    derivatives = binary_derivatives if loss.raw_ndim == 1 else multiclass_derivatives
    g_fd, h_fd = derivatives(lambda yy, r: loss.loss(yy, r, w), y, raw)
    np.testing.assert_allclose(grad, g_fd, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(hess, h_fd, rtol=1e-6, atol=1e-8)
    # the default loss_sums / mean_loss: sums of loss, weights counted once
    per_row = loss.loss(y, raw, w)
    assert loss.loss_sums(y, raw, w) == pytest.approx((per_row.sum(), w.sum()), rel=1e-14)
    assert loss.loss_sums(y, raw, np.empty(0)) == pytest.approx((loss.loss(y, raw).sum(), 200.0))
    assert loss.mean_loss(y, raw, w) == pytest.approx(per_row.sum() / w.sum(), rel=1e-14)
    # init_score is the constant that minimises the weighted mean loss: zero summed gradient
    init = np.asarray(loss.init_score(y, w))
    constant = np.broadcast_to(init, raw.shape)
    assert np.abs(loss.gradient_hessian(y, constant, w)[0].sum(axis=0)).max() < 1e-9 * w.sum()


# --- XGBoost --------------------------------------------------------------------------------------
def test_xgboost_unit_weights_reproduce_binary_logistic():
    """With w1 = w0 = 1 the user loss is log loss: fxgb.train and xgb.train with the hooks give
    XGBoost's own binary:logistic model (sample weights included)."""
    X, y, w = _binary_data()
    d = xgb.DMatrix(X, y, weight=w)
    loss = WeightedLogLoss()
    init = loss.init_score(y, w)
    builtin_params = {**XGB_PARAMS, "objective": "binary:logistic", "base_score": expit(init)}
    builtin = xgb.train(builtin_params, d, 20)
    booster = fxgb.train(XGB_PARAMS, d, 20, loss=loss)
    np.testing.assert_allclose(
        fxgb.predict_margin(booster, d), builtin.predict(d, output_margin=True), rtol=1e-5, atol=1e-5
    )
    # the same model through xgb.train and the hooks, bit for bit
    params = {**XGB_PARAMS, **fxgb.training_params(loss, y, w)}
    hooked = xgb.train(params, d, 20, obj=fxgb.objective(loss), custom_metric=fxgb.metric(loss))
    np.testing.assert_array_equal(fxgb.predict_margin(hooked, d), fxgb.predict_margin(booster, d))


@pytest.mark.parametrize("loss, data", [
    (WeightedLogLoss(w1=4.0), _binary_data),
    (WeightedSoftmaxLoss([1.0, 3.0, 0.5]), _multiclass_data),
])
def test_xgboost_hooks_train_a_user_loss_and_report_its_mean_loss(loss, data):
    X, y, w = data()
    d = xgb.DMatrix(X, y, weight=w)
    evals_result = {}
    booster = fxgb.train(XGB_PARAMS, d, 15, loss=loss, evals=[(d, "train")], evals_result=evals_result,
                         verbose_eval=False)
    margin = fxgb.predict_margin(booster, d)
    curve = evals_result["train"]["focal_loss"]
    assert curve[-1] < 0.7 * curve[0]  # it learns
    assert curve[-1] == pytest.approx(loss.mean_loss(y, margin, w), abs=1e-6)  # XGBoost keeps %f
    # the first round started at the init score
    start = np.broadcast_to(np.asarray(loss.init_score(y, w)), margin.shape)
    assert loss.mean_loss(y, start, w) > curve[0]
    proba = fxgb.predict_proba(booster, d, loss, probability="focal")  # no posterior: its link
    assert proba.shape == (len(y), loss.n_classes)
    # the plain xgb.train form trains the same model and reports the same metric
    params = {**XGB_PARAMS, **fxgb.training_params(loss, y, w)}
    again = {}
    hooked = xgb.train(params, d, 15, obj=fxgb.objective(loss), custom_metric=fxgb.metric(loss),
                       evals=[(d, "train")], evals_result=again, verbose_eval=False)
    np.testing.assert_array_equal(fxgb.predict_margin(hooked, d), margin)
    assert again == evals_result


def test_weights_change_the_model():
    """The class weights are not ignored somewhere on the way (the checks above would pass for
    a loss whose weights were dropped)."""
    X, y, w = _binary_data()
    d = xgb.DMatrix(X, y, weight=w)
    plain = fxgb.predict_margin(fxgb.train(XGB_PARAMS, d, 10, loss=WeightedLogLoss()), d)
    weighted = fxgb.predict_margin(fxgb.train(XGB_PARAMS, d, 10, loss=WeightedLogLoss(w1=4.0)), d)
    # class 1 weighted 4x: margins shift up by about log(4)
    assert np.mean(weighted - plain) == pytest.approx(np.log(4.0), abs=0.3)


# --- LightGBM -------------------------------------------------------------------------------------
def test_lightgbm_unit_weights_reproduce_binary_objective():
    X, y, w = _binary_data()
    loss = WeightedLogLoss()
    init = loss.init_score(y, w)
    rows = flgb.init_score(loss, y, w, init=init)
    builtin = lgb.train({**LGB_PARAMS, "objective": "binary"},
                        lgb.Dataset(X, y, weight=w, init_score=rows), 20)
    booster = lgb.train({**LGB_PARAMS, **flgb.training_params(loss)},
                        lgb.Dataset(X, y, weight=w, init_score=rows), 20)
    np.testing.assert_allclose(
        flgb.predict_margin(booster, X, init), builtin.predict(X, raw_score=True) + init,
        rtol=1e-5, atol=1e-5,
    )


@pytest.mark.parametrize("loss, data", [
    (WeightedLogLoss(w1=4.0), _binary_data),
    (WeightedSoftmaxLoss([1.0, 3.0, 0.5]), _multiclass_data),
])
def test_lightgbm_hooks_train_a_user_loss_and_report_its_mean_loss(loss, data):
    X, y, w = data()
    init = loss.init_score(y, w)
    dtrain = lgb.Dataset(X, y, weight=w, init_score=flgb.init_score(loss, y, w, init=init))
    record = {}
    params = {**LGB_PARAMS, "objective": flgb.objective(loss), "metric": "None"}
    if loss.kind == "multiclass":
        params["num_class"] = loss.n_classes
    booster = lgb.train(params, dtrain, 15, valid_sets=[dtrain], valid_names=["train"],
                        feval=flgb.metric(loss), callbacks=[lgb.record_evaluation(record)])
    margin = flgb.predict_margin(booster, X, init)
    curve = record["train"]["focal_loss"]
    assert curve[-1] < 0.7 * curve[0]
    assert curve[-1] == pytest.approx(loss.mean_loss(y, margin, w), rel=1e-12)
    assert flgb.predict_proba(booster, X, loss, init, probability="focal").shape == (len(y), loss.n_classes)
    with pytest.raises(ValueError, match="defines no posterior"):
        flgb.predict_proba(booster, X, loss, init)


# --- a missing member is named; the old AttributeError is gone ------------------------------------
class _OnlyTheOldFour:
    """What check_loss asked for before the contract was written down."""

    def gradient_hessian(self, y_true, raw_prediction, sample_weight=None): ...

    def mean_loss(self, y_true, raw_prediction, sample_weight=None): ...

    def init_score(self, y_true, sample_weight=None): ...

    def predict_proba(self, raw_prediction): ...


def test_check_loss_names_what_is_missing():
    with pytest.raises(TypeError, match="loss must be a focalboost loss object") as error:
        check_loss(_OnlyTheOldFour())
    message = str(error.value)
    for member in ("kind", "loss", "n_classes", "raw_ndim", "loss_sums", "fast_gradient_hessian"):
        assert f"'{member}'" in message
    assert "'gradient_hessian'" not in message and "BoostingLoss" in message
    # the hooks run check_loss
    for hook in (fxgb.objective, fxgb.metric, flgb.objective, flgb.metric):
        with pytest.raises(TypeError, match=r"_OnlyTheOldFour lacks \['kind'"):
            hook(_OnlyTheOldFour())

    class NoKind(BoostingLoss):
        loss, gradient_hessian = WeightedLogLoss.loss, WeightedLogLoss.gradient_hessian
        init_score, predict_proba = WeightedLogLoss.init_score, WeightedLogLoss.predict_proba

    with pytest.raises(TypeError, match=r"lacks \['kind'\]"):
        check_loss(NoKind())

    class NoClasses(WeightedSoftmaxLoss):
        def __init__(self):
            self.class_weight = np.ones(3)

    with pytest.raises(TypeError, match=r"NoClasses lacks \['n_classes'\]"):
        check_loss(NoClasses())

    class NoProba(BoostingLoss):
        kind = "binary"
        loss = gradient_hessian = init_score = WeightedLogLoss.loss

    with pytest.raises(TypeError, match="abstract method.*predict_proba"):
        NoProba()


def test_check_loss_rejects_values_outside_the_contract():
    class Ordinal(WeightedLogLoss):
        kind = "ordinal"

    kinds = r"\['binary', 'multiclass', 'multilabel'\]"
    with pytest.raises(ValueError, match=r"Ordinal.kind must be one of " + kinds):
        check_loss(Ordinal())

    class ThreeBinary(WeightedLogLoss):
        n_classes = 3

    with pytest.raises(ValueError, match="ThreeBinary.n_classes must be 2 for a binary loss, got 3"):
        check_loss(ThreeBinary())
    with pytest.raises(ValueError, match="n_classes must be an integer >= 2 for a multiclass loss"):
        check_loss(WeightedSoftmaxLoss([1.0]))

    class Flat(WeightedSoftmaxLoss):
        raw_ndim = 1

    with pytest.raises(ValueError, match="Flat.raw_ndim must be 2 for a multiclass loss, got 1"):
        check_loss(Flat([1.0, 1.0, 1.0]))
    with pytest.raises(TypeError, match=r"got the class WeightedLogLoss \(call it"):
        check_loss(WeightedLogLoss)

    class NotCallable(WeightedLogLoss):
        loss_sums = 3.0

    with pytest.raises(TypeError, match=r"\['loss_sums'\] of NotCallable must be methods"):
        check_loss(NotCallable())


def test_a_loss_with_only_the_maths_no_longer_fails_with_attribute_error():
    """The issue's report: a loss that passed check_loss failed inside xgb.train with
    ``AttributeError: 'MyLoss' object has no attribute '_raw_ndim'``. A BoostingLoss with only
    the maths trains, and the hooks find every other member (the private names included)."""
    X, y, w = _binary_data(n=300)
    loss = WeightedLogLoss(w1=2.0)
    params = {**XGB_PARAMS, **fxgb.training_params(loss, y, w)}
    d = xgb.DMatrix(X, y, weight=w)
    booster = xgb.train(params, d, 5, obj=fxgb.objective(loss), custom_metric=fxgb.metric(loss),
                        evals=[(d, "train")], verbose_eval=False)
    assert booster.num_boosted_rounds() == 5
    for name in ("_raw_ndim", "raw_ndim", "loss_sums", "mean_loss", "fast_gradient_hessian"):
        assert hasattr(loss, name)
    # the hooks pickle with the loss (Dask ships them to the workers)
    clone = pickle.loads(pickle.dumps(fxgb.objective(loss)))
    assert type(clone.loss) is WeightedLogLoss and clone.loss.w1 == 2.0


def test_posterior_is_optional():
    with pytest.raises(NotImplementedError, match="WeightedLogLoss does not define posterior"):
        WeightedLogLoss().posterior(np.zeros(3))


# --- duck typing ----------------------------------------------------------------------------------
def test_a_duck_typed_loss_with_every_member_is_accepted():
    duck = DuckLogLoss()
    assert not isinstance(duck, BoostingLoss) and isinstance(duck, SupportsBoostingLoss)
    assert check_loss(duck) is duck
    X, y, w = _binary_data(n=300)
    init = duck.init_score(y, w)
    dtrain = lgb.Dataset(X, y, weight=w, init_score=flgb.init_score(duck, y, w, init=init))
    record = {}
    booster = lgb.train({**LGB_PARAMS, **flgb.training_params(duck)}, dtrain, 5,
                        valid_sets=[dtrain], valid_names=["train"], feval=flgb.metric(duck),
                        callbacks=[lgb.record_evaluation(record)])
    margin = flgb.predict_margin(booster, X, init)
    assert record["train"]["focal_loss"][-1] == pytest.approx(duck.mean_loss(y, margin, w), rel=1e-12)


def test_a_duck_typed_loss_trains_through_xgboost():
    X, y, w = _binary_data(n=300)
    fxgb.train(XGB_PARAMS, xgb.DMatrix(X, y, weight=w), 3, loss=DuckLogLoss())


# --- Dask -----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_xgboost_dask_trains_a_user_loss_like_one_machine():
    """xgboost.dask.train with the hooks and focalboost.dask's init score: the single-machine
    model (features take few values, so the distributed histograms are the local ones) and the
    global weighted metric."""
    import dask.array as da
    from distributed import Client, LocalCluster
    from xgboost import dask as dxgb

    from focalboost import dask as fdask

    X, y, w = _binary_data(n=2000, seed=4)
    X = np.clip(np.round(X * 2) / 2, -2.5, 2.5)
    loss = WeightedLogLoss(w1=3.0)
    local_params = {**XGB_PARAMS, **fxgb.training_params(loss, y, w)}
    local = xgb.train(local_params, xgb.DMatrix(X, y, weight=w), 10, obj=fxgb.objective(loss))
    margin = local.predict(xgb.DMatrix(X), output_margin=True)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0")
    with cluster, Client(cluster) as client:
        Xd, yd, wd = (da.from_array(a, chunks=700) for a in (X, y, w))
        assert fdask.init_score(loss, yd, wd) == pytest.approx(loss.init_score(y, w), rel=1e-12)
        params = {**XGB_PARAMS, **fdask.training_params(loss, yd, wd)}
        assert params["base_score"] == pytest.approx(local_params["base_score"], rel=1e-12)
        dtrain = dxgb.DaskDMatrix(client, Xd, yd, weight=wd)
        out = dxgb.train(client, params, dtrain, 10, obj=fxgb.objective(loss),
                         custom_metric=fxgb.metric(loss), evals=[(dtrain, "train")], verbose_eval=False)
        distributed_margin = out["booster"].predict(xgb.DMatrix(X), output_margin=True)
        np.testing.assert_allclose(distributed_margin, margin, atol=1e-5)
        true_mean = loss.mean_loss(y, distributed_margin, w)
        assert out["history"]["train"]["focal_loss"][-1] == pytest.approx(true_mean, abs=1e-6)
        dmean = fdask.mean_loss(loss, yd, da.from_array(distributed_margin, chunks=700), wd)
        assert dmean == pytest.approx(true_mean, rel=1e-12)
