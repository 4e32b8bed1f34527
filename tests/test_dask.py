"""Distributed training on a 2-worker LocalCluster: native XGBoost hooks and the Dask estimators.

Data are small and their features take few values (every value present in every shard), so that
the libraries' distributed histograms equal the single-machine ones and distributed models can be
compared with single-machine models tree for tree.
"""

import inspect
import os
import pickle
import sys
import threading

import numpy as np
import pytest

import distributed  # noqa: F401  (a dev dependency: fail, never skip)
import cloudpickle  # noqa: E402  (a dependency of distributed)
import dask.array as da  # noqa: E402
import dask.dataframe as dd  # noqa: E402
import lightgbm  # noqa: E402
import pandas as pd  # noqa: E402
import xgboost as xgb  # noqa: E402
from distributed import Client, LocalCluster, get_worker  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from xgboost import dask as dxgb  # noqa: E402

from focalboost import BinaryFocalLoss, MulticlassFocalLoss, MultiLabelFocalLoss  # noqa: E402
from focalboost import dask as fdask  # noqa: E402
from focalboost import xgboost as fxgb  # noqa: E402
from focalboost.dask import FocalDaskLGBMClassifier, FocalDaskXGBClassifier  # noqa: E402
from focalboost.sklearn import FocalLGBMClassifier, FocalXGBClassifier  # noqa: E402

pytestmark = pytest.mark.slow  # minutes, not seconds: `pytest -m "not slow"` skips them

# the workers unpickle this module's callbacks by value: they cannot import the test module
cloudpickle.register_pickle_by_value(sys.modules[__name__])

# seconds for anything that could hang on a broken cluster: a guard against a hang, never a speed
# limit (a 60 s limit failed once at load ~9 on a 2-core machine; these calls take 1-5 s idle)
TIMEOUT = 900
XGB_KW = dict(n_estimators=15, max_depth=3, learning_rate=0.3)
# min_child_samples=0: LightGBM's data-parallel learner estimates leaf row counts from hessian
# sums (focal hessians vary by orders of magnitude), so min_data_in_leaf acts differently from
# one machine; min_child_weight (a hessian sum) is exact in both.
LGB_KW = dict(n_estimators=15, num_leaves=8, learning_rate=0.2, min_child_samples=0, verbose=-1)


def _with_timeout(func, timeout=TIMEOUT):
    """Run func() in a thread; fail the test (instead of hanging CI) if it takes too long."""
    box = {}

    def run():
        try:
            box["value"] = func()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"distributed call did not finish within {timeout} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _cluster():
    # processes=True: closest to a real cluster, and a worker can die without killing the test
    return LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")


@pytest.fixture(scope="module")
def client():
    with _cluster() as cluster, Client(cluster) as c:
        c.wait_for_workers(2, timeout=TIMEOUT)
        yield c


def _data(n_classes, seed=0, n=3000):
    """Imbalanced data with discrete features; rows sorted so that the LAST rows hold the rarest
    class (a worker given only the first rows never sees it)."""
    X, y = make_classification(
        n_samples=n, n_features=6, n_informative=4, n_redundant=0, n_classes=n_classes,
        n_clusters_per_class=1, weights=[0.85, 0.1, 0.05][:n_classes] if n_classes == 3 else [0.9],
        flip_y=0.01, random_state=seed,
    )
    X = np.clip(np.round(X * 2) / 2, -2.5, 2.5)
    order = np.argsort(y == n_classes - 1, kind="stable") if n_classes == 3 else np.arange(n)
    X, y = X[order], y[order]
    w = np.random.default_rng(seed).uniform(0.2, 3.0, n)
    return X, y, w


def _placed(client, array, cuts, workers):
    """A Dask array whose row blocks array[cuts[i]:cuts[i+1]] live on workers[i] (unequal shards)."""
    blocks = []
    for (lo, hi), worker in zip(zip(cuts[:-1], cuts[1:]), workers):
        part = array[lo:hi]
        # hash=False: a unique key per scatter. Content-hashed keys collide with the same data
        # scattered by an earlier test whose release the scheduler is still processing ("lost data")
        future = client.scatter(part, workers=[worker], hash=False)
        blocks.append(da.from_delayed(future, shape=part.shape, dtype=part.dtype))
    return da.concatenate(blocks)


def _workers(client):
    return sorted(client.scheduler_info()["workers"])


# --- native hooks under xgboost.dask.train -------------------------------------------------------
@pytest.mark.parametrize("n_classes", [2, 3])
def test_xgboost_dask_train_matches_local_and_reports_the_global_weighted_metric(client, n_classes):
    X, y, w = _data(n_classes)
    # 2400 rows on one worker, 600 on the other, with weights 5x smaller on the small shard:
    # the average of the two per-worker means is far from the weighted mean over all rows
    w = w.copy()
    w[2400:] *= 0.2
    cuts, workers = [0, 2400, 3000], _workers(client)
    Xd, yd, wd = (_placed(client, a, cuts, workers) for a in (X, y, w))
    loss = BinaryFocalLoss(gamma=2.0, alpha=0.25) if n_classes == 2 else MulticlassFocalLoss(3, 2.0)

    params = {"max_depth": 3, "eta": 0.3, **fdask.training_params(loss, yd, wd)}
    local_params = {"max_depth": 3, "eta": 0.3, **fxgb.training_params(loss, y, w)}
    np.testing.assert_allclose(params["base_score"], local_params["base_score"], atol=1e-9)
    dtrain = dxgb.DaskDMatrix(client, Xd, yd, weight=wd)
    # a validation set held by one worker only: the other evaluates an empty shard
    dvalid = dxgb.DaskDMatrix(client, _placed(client, X[:500], [0, 500], workers[:1]),
                              _placed(client, y[:500], [0, 500], workers[:1]))
    out = _with_timeout(lambda: dxgb.train(
        client, params, dtrain, 15, obj=fxgb.objective(loss), custom_metric=fxgb.metric(loss),
        evals=[(dtrain, "train"), (dvalid, "valid")], verbose_eval=False,
    ))
    booster, history = out["booster"], out["history"]

    local = xgb.train({**local_params, "nthread": 1}, xgb.DMatrix(X, y, weight=w), 15,
                      obj=fxgb.objective(loss))
    margin = booster.predict(xgb.DMatrix(X), output_margin=True)
    np.testing.assert_allclose(margin, local.predict(xgb.DMatrix(X), output_margin=True), atol=1e-6)

    curve = history["train"]["focal_loss"]
    assert curve[-1] < 0.6 * curve[0]  # it learns
    true_mean = loss.mean_loss(y, margin, w)
    naive = np.mean([loss.mean_loss(y[lo:hi], margin[lo:hi], w[lo:hi]) for lo, hi in [(0, 2400), (2400, 3000)]])
    assert abs(naive - true_mean) > 100 * 1e-6  # the two aggregations really differ here
    assert curve[-1] == pytest.approx(true_mean, abs=1e-6)  # XGBoost prints metrics with %f
    assert history["valid"]["focal_loss"][-1] == pytest.approx(loss.mean_loss(y[:500], margin[:500]), abs=1e-6)

    # the map-reduce helpers agree with the single-machine numbers
    assert fdask.mean_loss(loss, yd, da.from_array(margin, chunks=700), wd) == pytest.approx(true_mean, rel=1e-12)
    proba = fdask.predict_proba(client, booster, Xd, loss).compute()  # the posterior by default
    np.testing.assert_allclose(proba, loss.posterior(margin), atol=1e-12)
    focal = fdask.predict_proba(client, booster, Xd, loss, probability="focal").compute()
    np.testing.assert_allclose(focal, loss.predict_proba(margin), atol=1e-12)


def test_init_score_helpers_take_one_pass_over_distributed_labels(client):
    X, y, w = _data(3)
    loss = MulticlassFocalLoss(3, gamma=1.0, alpha=[0.2, 0.3, 0.5])
    yd, wd = da.from_array(y, chunks=700), da.from_array(w, chunks=700)
    np.testing.assert_allclose(fdask.init_score(loss, yd, wd), loss.init_score(y, w), atol=1e-8)
    classes, totals = fdask.class_totals(yd, wd)
    np.testing.assert_array_equal(classes, [0, 1, 2])
    np.testing.assert_allclose(totals, np.bincount(y, weights=w), rtol=1e-12)
    rows = fdask.init_score_rows_like(loss, yd, loss.init_score(y, w)).compute()
    assert rows.shape == (3000, 3)
    with pytest.raises(ValueError, match="class indices 0..2"):
        fdask.init_score(loss, yd + 1)
    with pytest.raises(TypeError, match="MultiLabelFocalLoss"):
        fdask.training_params(MultiLabelFocalLoss(), yd)


# --- the estimators ------------------------------------------------------------------------------
ESTIMATORS = [
    pytest.param(FocalDaskXGBClassifier, FocalXGBClassifier, XGB_KW, id="xgboost"),
    pytest.param(FocalDaskLGBMClassifier, FocalLGBMClassifier, LGB_KW, id="lightgbm"),
]


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("dask_cls, local_cls, kwargs", ESTIMATORS)
def test_estimator_matches_single_machine(client, dask_cls, local_cls, kwargs, n_classes):
    X, y, w = _data(n_classes)
    labels = np.array(["cat", "dog", "emu"])[y]
    # unequal shards; in the multiclass case the rare class ("emu") lives on one worker only
    cuts, workers = [0, 2200, 3000], _workers(client)
    Xd, yd, wd = (_placed(client, a, cuts, workers) for a in (X, labels, w))
    Xv, yv, wv = (_placed(client, a[:1000], [0, 800, 1000], workers) for a in (X, labels, w))
    eval_weight = (
        {"sample_weight_eval_set": [wv]} if dask_cls is FocalDaskXGBClassifier
        else {"eval_sample_weight": [wv]}
    )
    focal = dict(gamma=2.0, alpha="balanced")

    model = dask_cls(**focal, **kwargs)
    _with_timeout(lambda: model.fit(Xd, yd, sample_weight=wd, eval_set=[(Xv, yv)], **eval_weight))
    local_eval = (
        {"sample_weight_eval_set": [w[:1000]], "verbose": False} if local_cls is FocalXGBClassifier
        else {"eval_sample_weight": [w[:1000]]}
    )
    local = local_cls(**focal, **kwargs).fit(X, labels, sample_weight=w,
                                             eval_set=[(X[:1000], labels[:1000])], **local_eval)

    np.testing.assert_array_equal(model.classes_, local.classes_)
    np.testing.assert_allclose(model.alpha_, local.alpha_, rtol=1e-12)
    np.testing.assert_allclose(model.init_score_, local.init_score_, atol=1e-8)
    assert model.loss_scale_ == local.loss_scale_
    # probability="auto": the temperature fitted on the (distributed) eval set, as on one machine
    assert model.temperature_ != 1.0
    assert model.temperature_ == pytest.approx(local.temperature_, rel=1e-4)
    proba = model.predict_proba(Xd).compute()
    assert proba.shape == (3000, n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba, local.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(model.predict(Xd).compute(), local.predict(X))

    codes = np.searchsorted(local.classes_, labels)
    local_margin = (local.predict(X, output_margin=True) if local_cls is FocalXGBClassifier
                    else local.decision_function(X))
    assert model.focal_loss(Xd, yd, wd) == pytest.approx(local.loss_.mean_loss(codes, local_margin, w), rel=1e-6)
    # the reported metric of the (unequally sharded, weighted) eval set is the weighted mean
    # over all of its rows
    name = "validation_0" if dask_cls is FocalDaskXGBClassifier else "valid_0"
    valid_metric = model.evals_result_[name]
    assert valid_metric["focal_loss"][-1] == pytest.approx(model.focal_loss(Xv, yv, wv), abs=1e-6)
    curve = valid_metric["focal_loss"]
    assert curve[-1] < 0.7 * curve[0]  # it learns


@pytest.mark.parametrize("dask_cls, local_cls, kwargs", ESTIMATORS)
def test_estimator_on_dask_dataframes(client, dask_cls, local_cls, kwargs):
    X, y, w = _data(2)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    Xf = dd.from_pandas(frame, npartitions=3)
    yf = dd.from_pandas(pd.Series(np.where(y == 1, "yes", "no"), name="target"), npartitions=3)
    wf = dd.from_pandas(pd.Series(w, name="w"), npartitions=3)
    focal = dict(alpha=0.7, probability="focal")
    model = _with_timeout(lambda: dask_cls(**focal, **kwargs).fit(Xf, yf, sample_weight=wf))
    proba = model.predict_proba(Xf).compute()
    local = local_cls(**focal, **kwargs).fit(frame, np.where(y == 1, "yes", "no"), sample_weight=w)
    np.testing.assert_allclose(proba, local.predict_proba(frame), atol=1e-6)
    np.testing.assert_array_equal(model.predict(Xf).compute(), local.predict(frame))


@pytest.mark.parametrize("dask_cls, local_cls, kwargs", ESTIMATORS)
def test_estimator_parameters_mirror_single_machine(dask_cls, local_cls, kwargs):
    focal = ("gamma", "alpha", "hessian", "loss_scale", "probability")
    dask_defaults = inspect.signature(dask_cls.__init__).parameters
    local_defaults = inspect.signature(local_cls.__init__).parameters
    for name in focal:
        assert dask_defaults[name].default == local_defaults[name].default, name
    model = dask_cls(gamma=1.0, alpha=[1.0, 2.0], **kwargs)
    params = model.get_params()
    assert "objective" not in params
    assert {name: params[name] for name in focal} == {
        name: local_cls(gamma=1.0, alpha=[1.0, 2.0]).get_params()[name] for name in focal
    }
    assert clone(model).get_params()["gamma"] == 1.0
    with pytest.raises(ValueError, match="objective"):
        dask_cls(objective="binary:logistic")
    with pytest.raises(NotFittedError):
        model.predict_proba(da.zeros((4, 6)))


def test_fitted_estimators_pickle(client):
    X, y, _ = _data(2, n=600)
    Xd, yd = da.from_array(X, chunks=300), da.from_array(y, chunks=300)
    for cls, kwargs in ((FocalDaskXGBClassifier, XGB_KW), (FocalDaskLGBMClassifier, LGB_KW)):
        model = _with_timeout(lambda: cls(**kwargs).fit(Xd, yd))
        restored = pickle.loads(pickle.dumps(model))
        np.testing.assert_allclose(restored.predict_proba(Xd).compute(), model.predict_proba(Xd).compute())


def test_lightgbm_rejects_early_stopping(client):
    X, y, _ = _data(2, n=600)
    Xd, yd = da.from_array(X, chunks=300), da.from_array(y, chunks=300)
    with pytest.raises(ValueError, match="early stopping"):
        FocalDaskLGBMClassifier(early_stopping_round=5, **LGB_KW).fit(Xd, yd)
    with pytest.raises(ValueError, match="early stopping"):
        FocalDaskLGBMClassifier(**LGB_KW).fit(Xd, yd, callbacks=[lightgbm.early_stopping(5)])


@pytest.mark.parametrize("dask_cls, kwargs", [(FocalDaskXGBClassifier, XGB_KW), (FocalDaskLGBMClassifier, LGB_KW)])
def test_an_eval_label_not_seen_in_training_is_a_clear_error_before_training(client, dask_cls, kwargs):
    # 338c24d: XGBoost "AssertionError: error" after 10 s; LightGBM an error after training
    X, y, _ = _data(2, n=600)
    Xd, yd = da.from_array(X, chunks=300), da.from_array(y, chunks=300)
    yv = da.from_array(np.where(np.arange(600) == 7, 5, y), chunks=300)
    model = dask_cls(**kwargs)
    with pytest.raises(ValueError, match=r"eval_set y contains labels \[5\] that are not among"):
        _with_timeout(lambda: model.fit(Xd, yd, eval_set=[(Xd, yv)]))
    assert not hasattr(model, "loss_")  # nothing was trained


def test_an_input_error_during_training_fails_without_waiting_for_lost_workers(client, monkeypatch):
    def no_waiting(seconds):
        raise AssertionError("waited for a lost worker after an input error")

    monkeypatch.setattr(fdask.time, "sleep", no_waiting)
    model = FocalDaskXGBClassifier()

    def train():
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        model._run_on_cluster(client, train)

    def library_error():  # a library error may be a lost peer's socket error: it waits
        raise xgb.core.XGBoostError("socket reset")

    with pytest.raises(AssertionError, match="waited for a lost worker"):
        model._run_on_cluster(client, library_error)


def test_xgboost_early_stopping_sees_the_global_metric(client):
    X, y, w = _data(2)
    Xd, yd, wd = (da.from_array(a, chunks=1000) for a in (X, y, w))
    Xv, yv = da.from_array(X[:900], chunks=(600, 6)), da.from_array(y[:900], chunks=600)
    model = FocalDaskXGBClassifier(n_estimators=200, max_depth=3, learning_rate=0.5, early_stopping_rounds=3)
    _with_timeout(lambda: model.fit(Xd, yd, sample_weight=wd, eval_set=[(Xv, yv)]))
    curve = model.evals_result_["validation_0"]["focal_loss"]
    assert model.best_iteration < len(curve) - 1 < 199  # stopped early, on every worker alike
    assert curve[model.best_iteration] == min(curve)
    best = model.focal_loss(Xv, yv, iteration_range=(0, model.best_iteration + 1))
    assert best == pytest.approx(curve[model.best_iteration], abs=1e-6)


# --- a worker dying during training --------------------------------------------------------------
class _KillXGBWorker(xgb.callback.TrainingCallback):
    """Ends the process of one worker (os._exit) after a few boosting rounds."""

    def __init__(self, victim, at):
        self.victim, self.at = victim, at

    def after_iteration(self, model, epoch, evals_log):
        if epoch == self.at and get_worker().address == self.victim:
            os._exit(1)
        return False


class _KillLGBMWorker:
    def __init__(self, victim, at):
        self.victim, self.at = victim, at

    def __call__(self, env):
        if env.iteration == self.at and get_worker().address == self.victim:
            os._exit(1)


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_a_worker_dying_mid_training_raises_a_clear_error(library):
    X, y, _ = _data(2, n=2000)
    with _cluster() as cluster, Client(cluster) as c:
        c.wait_for_workers(2, timeout=TIMEOUT)
        workers = _workers(c)
        Xd, yd = (_placed(c, a, [0, 1000, 2000], workers) for a in (X, y))
        victim = workers[1]
        if library == "xgboost":
            dask_cls, local_cls, kwargs = FocalDaskXGBClassifier, FocalXGBClassifier, XGB_KW
            model = dask_cls(callbacks=[_KillXGBWorker(victim, 3)], **kwargs)
            fit = lambda: model.fit(Xd, yd)  # noqa: E731
        else:
            dask_cls, local_cls, kwargs = FocalDaskLGBMClassifier, FocalLGBMClassifier, LGB_KW
            model = dask_cls(**kwargs)
            fit = lambda: model.fit(Xd, yd, callbacks=[_KillLGBMWorker(victim, 3)])  # noqa: E731
        with pytest.raises(RuntimeError, match="left the Dask cluster during distributed training"):
            _with_timeout(fit)
        assert not hasattr(model, "loss_")  # nothing half-fitted
        with pytest.raises(NotFittedError):
            model.predict_proba(Xd)

        # The survivor trains again, alone: its (single) worker thread is the one whose fit
        # failed. LightGBM leaves a failed fit's network in thread-local state and does not
        # reset it for a one-machine fit ("Socket send error, Broken pipe" before the fix).
        local = local_cls(**kwargs).fit(X, y)
        Xs, ys = (_placed(c, a, [0, 2000], [workers[0]]) for a in (X, y))
        alone = _with_timeout(lambda: dask_cls(**kwargs).fit(Xs, ys))
        np.testing.assert_allclose(alone.predict_proba(Xs).compute(), local.predict_proba(X), atol=1e-6)

        # the nanny restarts the worker; a retry on data Dask can recompute trains correctly
        c.wait_for_workers(2, timeout=TIMEOUT)
        Xr, yr = da.from_array(X, chunks=(500, 6)), da.from_array(y, chunks=500)
        retry = _with_timeout(lambda: dask_cls(**kwargs).fit(Xr, yr))
        np.testing.assert_allclose(retry.predict_proba(Xr).compute(), local.predict_proba(X), atol=1e-6)


def test_label_pass_validates_like_the_single_machine_estimators(client):
    X, y, w = _data(2, n=600)
    Xd, yd = da.from_array(X, chunks=300), da.from_array(y, chunks=300)
    bad = w.copy()
    bad[500] = -1.0
    for cls, kwargs in ((FocalDaskXGBClassifier, XGB_KW), (FocalDaskLGBMClassifier, LGB_KW)):
        with pytest.raises(ValueError, match="sample_weight must contain finite weights >= 0"):
            cls(**kwargs).fit(Xd, yd, sample_weight=da.from_array(bad, chunks=300))
        with pytest.raises(ValueError, match="at least 2 classes"):
            cls(**kwargs).fit(Xd, da.zeros(600, chunks=300))
        with pytest.raises(ValueError, match="multi-label"):
            cls(**kwargs).fit(Xd, da.from_array(np.column_stack([y, y]), chunks=300))
        with pytest.raises(ValueError, match="only one class with positive weight"):
            cls(**kwargs).fit(Xd, yd, sample_weight=da.from_array(np.where(y == 1, 0.0, 1.0), chunks=300))


# --- the margins read in place on the workers ----------------------------------------------------
class _RequireInPlace(xgb.callback.TrainingCallback):
    """Fails a worker's training unless its rounds read the margins in place."""

    def before_iteration(self, model, epoch, evals_log):
        if type(model) is not fxgb._InPlaceMarginBooster:
            raise AssertionError(f"the worker trains a {type(model).__name__}")
        return False


def test_xgboost_workers_read_labels_and_margins_in_place(client):
    X, y, w = _data(3)
    Xd, yd, wd = (da.from_array(a, chunks=1000) for a in (X, y, w))
    model = FocalDaskXGBClassifier(n_estimators=3, max_depth=2, callbacks=[_RequireInPlace()])
    _with_timeout(lambda: model.fit(Xd, yd, sample_weight=wd))
    assert type(model.get_booster()) is xgb.Booster
    assert len(model.get_params()["callbacks"]) == 1


def test_a_dask_xgboost_model_file_loads_into_the_local_estimator(client, tmp_path):
    X, y, _ = _data(3, n=900)
    labels = np.array(["low", "mid", "high"])[y]
    Xd, yd = da.from_array(X, chunks=300), da.from_array(labels, chunks=300)
    model = _with_timeout(lambda: FocalDaskXGBClassifier(alpha="balanced", **XGB_KW).fit(Xd, yd))
    model.save_model(tmp_path / "dask.ubj")
    local = FocalXGBClassifier().load_model(tmp_path / "dask.ubj")
    np.testing.assert_array_equal(local.classes_, model.classes_)
    np.testing.assert_array_equal(local.predict_proba(X), model.predict_proba(Xd).compute())
    again = FocalDaskXGBClassifier().load_model(tmp_path / "dask.ubj")
    again.client = client
    np.testing.assert_array_equal(again.predict(Xd).compute(), model.predict(Xd).compute())
