"""The gradient and hessian of focalboost's own training loops go into the same two arrays every
round (``focalboost._adapter.RoundBuffers``): the same values and models as new arrays, shown
here with ``RoundBuffers.pair`` patched to hand out new arrays every call (the old behaviour);
the arrays really are the same in every round (the spies keep every round's arrays alive, so new
arrays could not share an address); nothing is kept after training; each thread has its own."""

import copy
import pickle
import threading

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb

from focalboost import (BinaryFocalLoss, FocalLGBMClassifier, FocalSearchCV, FocalXGBClassifier,
                        MulticlassFocalLoss, MultiLabelFocalLoss, _compat)
from focalboost import xgboost as fxgb
from focalboost._adapter import RoundBuffers, _float32_pair, library_gradient_hessian

FAST = _compat.fast_paths_enabled()  # XGBoost's in-place rounds (off: XGBoost's own, new arrays)


@pytest.fixture(autouse=True, scope="module")
def _fast_paths_checked():
    """The one-time feature checks (focalboost._compat) run before any spy is installed."""
    assert all(feature.available() for feature in _compat.features().values()) == FAST


def _fresh_pairs(monkeypatch):
    """The behaviour before RoundBuffers: new arrays at every call."""
    monkeypatch.setattr(RoundBuffers, "pair", lambda self, shape, order: _float32_pair(shape, order))


def _data(n_classes, n=1500, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    score = X[:, 0] + 0.7 * X[:, 1] + rng.normal(size=n)
    if n_classes == 2:
        return X, (score > 1.0).astype(int)
    return X, np.digitize(score, np.linspace(-1.5, 1.5, n_classes - 1))


# --- the buffers themselves -------------------------------------------------------------------
def test_a_pair_is_kept_per_shape_order_and_thread_and_released():
    buffers = RoundBuffers()
    g, h = buffers.pair((7,), "C")
    assert g.dtype == h.dtype == np.float32 and g is not h
    again = buffers.pair((7,), "C")
    assert again[0] is g and again[1] is h
    assert buffers.pair((8,), "C")[0] is not g  # another shape: new arrays
    f = buffers.pair((8, 3), "F")
    assert f[0].flags.f_contiguous and not f[0].flags.c_contiguous
    c = buffers.pair((8, 3), "C")
    assert c[0] is not f[0] and c[0].flags.c_contiguous
    other = []
    thread = threading.Thread(target=lambda: other.append(buffers.pair((8, 3), "C")))
    thread.start()
    thread.join()
    assert other[0][0] is not c[0]  # another thread never gets this thread's arrays
    buffers.release()
    assert buffers.pair((8, 3), "C")[0] is not c[0]


def test_buffers_pickle_without_arrays_and_deep_copy_to_themselves():
    """A pickled copy (a Dask worker's) has no arrays; a deep copy (lightgbm.train deep-copies
    its params, objective included) is the same buffers, so that releasing them releases what
    the copy trained with."""
    buffers = RoundBuffers()
    g, _ = buffers.pair((5,), "C")
    twin = pickle.loads(pickle.dumps(buffers))
    assert getattr(twin._local, "pair", None) is None
    assert twin.pair((5,), "C")[0] is not g
    assert copy.deepcopy(buffers) is buffers


@pytest.mark.parametrize("kind", ["binary", "binary64", "multiclass F", "multiclass C", "multilabel"])
def test_library_gradient_hessian_into_buffers_is_bit_identical(kind):
    rng = np.random.default_rng(3)
    n = 300
    w = rng.uniform(0.1, 2.0, n).astype(np.float32)
    if kind.startswith("binary"):
        loss = BinaryFocalLoss(2.0, 0.3)
        y = (rng.random(n) < 0.3).astype(np.float32)
        raw = rng.normal(size=n).astype(np.float64 if kind == "binary64" else np.float32)
        offset = -0.4
    elif kind.startswith("multiclass"):
        loss = MulticlassFocalLoss(4, 1.5, alpha=[0.1, 0.2, 0.3, 0.4])
        y = rng.integers(0, 4, n).astype(np.float32)
        raw = np.asarray(rng.normal(size=(n, 4)), order=kind[-1])
        offset = np.array([0.1, -0.2, 0.3, 0.0])
    else:
        loss = MultiLabelFocalLoss(2.0, 0.3)
        y = (rng.random((n, 3)) < 0.4).astype(np.float32)
        raw = rng.normal(size=(n, 3))
        offset = None
    buffers = RoundBuffers()
    first = library_gradient_hessian(loss, y, raw, w, 1.0, offset, buffers=buffers)
    kept = [a.copy() for a in first]
    second = library_gradient_hessian(loss, y, raw * 1.5, w, 1.0, offset, buffers=buffers)
    assert second[0] is first[0] and second[1] is first[1]  # the same arrays, overwritten
    want = library_gradient_hessian(loss, y, raw * 1.5, w, 1.0, offset)
    want_first = library_gradient_hessian(loss, y, raw, w, 1.0, offset)
    for got, expected in zip(second, want):
        assert got.dtype == expected.dtype and got.flags.f_contiguous == expected.flags.f_contiguous
        np.testing.assert_array_equal(got, expected)
    for got, expected in zip(kept, want_first):
        np.testing.assert_array_equal(got, expected)
    assert not np.array_equal(kept[0], second[0])


# --- the training loops -----------------------------------------------------------------------
class _XGBoostGradients:
    """Every gradient array Booster.boost was given (kept alive)."""

    def __init__(self, monkeypatch):
        self.grads = []
        original = xgb.Booster.boost

        def boost(booster, *args, **kwargs):
            if kwargs.get("grad") is not None:
                self.grads.append(kwargs["grad"])
            return original(booster, *args, **kwargs)

        monkeypatch.setattr(xgb.Booster, "boost", boost)


@pytest.mark.skipif(not FAST, reason="XGBoost's own rounds (fast paths off) call the hook itself")
@pytest.mark.parametrize("n_classes", [2, 3])
def test_xgboost_rounds_reuse_two_arrays_and_train_the_same_model(n_classes, monkeypatch):
    X, y = _data(n_classes)
    loss = BinaryFocalLoss(2.0, 0.25) if n_classes == 2 else MulticlassFocalLoss(3, 2.0)
    params = {"max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0}
    spy = _XGBoostGradients(monkeypatch)
    booster = fxgb.train(params, xgb.DMatrix(X, y), 6, loss=loss)
    model = FocalXGBClassifier(n_estimators=6, max_depth=3, n_jobs=1).fit(X, y)
    assert len(spy.grads) == 12
    assert all(g is spy.grads[0] for g in spy.grads[:6]) and all(g is spy.grads[6] for g in spy.grads[6:])
    assert spy.grads[0] is not spy.grads[6]  # a training run's own pair
    for b in (booster, model.get_booster()):
        assert type(b) is xgb.Booster and "_focalboost_buffers" not in b.__dict__
    _fresh_pairs(monkeypatch)
    spy.grads.clear()
    assert fxgb.train(params, xgb.DMatrix(X, y), 6, loss=loss).save_raw() == booster.save_raw()
    fresh = FocalXGBClassifier(n_estimators=6, max_depth=3, n_jobs=1).fit(X, y)
    assert fresh.get_booster().save_raw() == model.get_booster().save_raw()
    assert len({id(g) for g in spy.grads}) == 12  # the patched pair: new arrays every round


class _LightGBMGradients:
    def __init__(self, monkeypatch):
        self.grads = []
        self.buffers = []
        original = lgb.basic.Booster._Booster__boost
        original_pair = RoundBuffers.pair

        def boost(booster, *args, **kwargs):  # (grad, hess) positional on LightGBM 4.6,
            self.grads.append(args[0] if args else kwargs["grad"])  # keyword-only on 4.7
            return original(booster, *args, **kwargs)

        def pair(buffers, shape, order):
            self.buffers.append(buffers)
            return original_pair(buffers, shape, order)

        monkeypatch.setattr(lgb.basic.Booster, "_Booster__boost", boost)
        monkeypatch.setattr(RoundBuffers, "pair", pair)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("users_init_score", [False, True])
def test_lightgbm_fit_reuses_two_arrays_and_keeps_none_after(n_classes, users_init_score, monkeypatch):
    X, y = _data(n_classes)
    init = None
    if users_init_score:
        init = np.full(len(y), 0.1) if n_classes == 2 else np.full((len(y), n_classes), 0.1)
    kw = dict(gamma=2.0, n_estimators=6, num_leaves=7, n_jobs=1, verbose=-1)
    spy = _LightGBMGradients(monkeypatch)
    model = FocalLGBMClassifier(**kw).fit(X, y, init_score=init)
    assert len(spy.grads) == 6 and all(g is spy.grads[0] for g in spy.grads)
    [buffers] = {id(b): b for b in spy.buffers}.values()
    assert getattr(buffers._local, "pair", None) is None  # released after training
    assert model.objective_.buffers is None  # the fitted objective_ returns new arrays
    g1, _ = model.objective_(y, np.zeros(len(y)) if n_classes == 2 else np.zeros((len(y), n_classes)))
    g2, _ = model.objective_(y, np.zeros_like(np.asarray(g1, dtype=np.float64)))
    assert g1 is not g2
    _fresh_pairs(monkeypatch)
    fresh = FocalLGBMClassifier(**kw).fit(X, y, init_score=init)
    assert fresh.booster_.model_to_string() == model.booster_.model_to_string()


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_search_candidates_reuse_arrays_within_their_rounds(library, monkeypatch):
    """FocalSearchCV's boosters: one pair per batch of rounds; the same search result as with
    new arrays every round."""
    X, y = _data(2, n=900)
    est = (FocalXGBClassifier(n_estimators=8, max_depth=2, n_jobs=1) if library == "xgboost"
           else FocalLGBMClassifier(n_estimators=8, num_leaves=5, n_jobs=1, verbose=-1))
    grid = {"gamma": [0.0, 2.0], "alpha": [None, 0.25]}
    made = []
    original = RoundBuffers.__init__

    def init(self):
        made.append(self)
        original(self)

    monkeypatch.setattr(RoundBuffers, "__init__", init)
    search = FocalSearchCV(est, grid, mode="exhaustive", cv=3, n_jobs=1).fit(X, y)
    rounds = 4 * 3 * 8  # candidates x folds x rounds
    assert 0 < len(made) < rounds / 4
    _fresh_pairs(monkeypatch)
    fresh = FocalSearchCV(est, grid, mode="exhaustive", cv=3, n_jobs=1).fit(X, y)
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], fresh.cv_results_["mean_test_score"])
    assert search.best_params_ == fresh.best_params_


# --- what a round allocates -------------------------------------------------------------------
class _TracedAfterFirstRound:
    """tracemalloc's peak over the rounds after the first (numpy registers its buffers with it;
    the libraries' C++ allocations are not traced)."""

    def __init__(self):
        import tracemalloc

        self.tracemalloc = tracemalloc
        self.peak = None

    def round_done(self, epoch):
        if epoch == 0:
            self.tracemalloc.start()
            self.tracemalloc.reset_peak()

    def stop(self):
        self.peak = self.tracemalloc.get_traced_memory()[1]
        self.tracemalloc.stop()


def _xgboost_rounds_peak(X, y, loss):
    traced = _TracedAfterFirstRound()

    class Trace(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            traced.round_done(epoch)
            return False

        def after_training(self, model):
            traced.stop()
            return model

    fxgb.train({"max_depth": 2, "nthread": 1}, xgb.DMatrix(X, y), 6, loss=loss, callbacks=[Trace()])
    return traced.peak


def _lightgbm_rounds_peak(X, y):
    traced = _TracedAfterFirstRound()

    def trace(env):
        traced.round_done(env.iteration)
        if env.iteration == env.end_iteration - 1:
            traced.stop()

    FocalLGBMClassifier(gamma=2.0, n_estimators=6, num_leaves=4, n_jobs=1, verbose=-1).fit(
        X, y, callbacks=[trace])
    return traced.peak


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_rounds_after_the_first_allocate_no_gradient(library, monkeypatch):
    """The rounds after the first allocate (almost) nothing in Python: not the 2 x 4 bytes a row
    of new gradient and hessian arrays, which they did before RoundBuffers (the second half of
    the test puts that back to show the measurement sees it)."""
    if library == "xgboost" and not FAST:
        pytest.skip("XGBoost's own rounds (fast paths off) copy the margins and call the hook")
    X, y = _data(2, n=100_000)
    arrays = 2 * 4 * len(y)
    slack = 64 * 1024
    run = ((lambda: _xgboost_rounds_peak(X, y, BinaryFocalLoss(2.0, 0.25))) if library == "xgboost"
           else (lambda: _lightgbm_rounds_peak(X, y)))
    run()  # loads the kernel
    assert run() < slack
    _fresh_pairs(monkeypatch)
    assert run() > arrays
