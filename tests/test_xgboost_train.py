"""focalboost.xgboost.train and FocalXGBClassifier: margins read in place, the same models bit for bit.

Both hand the objective XGBoost's own margin buffer instead of the copy ``Booster.predict`` makes
(``_InPlaceMargins``). These tests hold them to the model the plain path trains, show that the
copy is really skipped, and that the switched booster never escapes (returned, pickled, raised).
"""

import pickle

import numpy as np
import pytest
import xgboost as xgb

from focalboost import BinaryFocalLoss, FocalXGBClassifier, MulticlassFocalLoss, MultiLabelFocalLoss
from focalboost import _compat
from focalboost import xgboost as fxgb

PARAMS = {"max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0}


# With FOCALBOOST_FAST_PATHS=0 (CI runs this file both ways) every round takes XGBoost's own
# copying path; the models must be the same either way.
FAST = _compat.fast_paths_enabled()
ROUND_CLASS = fxgb._InPlaceMarginBooster if FAST else xgb.Booster  # the booster's class in a round


def _copies(rounds):
    """Training predictions (margin copies) expected in ``rounds`` rounds of fxgb.train."""
    return 0 if FAST else rounds


@pytest.fixture(autouse=True, scope="module")
def _fast_paths_checked():
    """Run the one-time feature checks (focalboost._compat) before the tests count calls: their
    self-tests call Booster.predict and get_label themselves. The fast paths must pass them here."""
    passed = [feature.available() for feature in _compat.features().values()]
    assert all(passed) == FAST


def _data(kind, n=2000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    noise = rng.normal(size=(n, 3))
    if kind == "binary":
        return X, (X[:, 0] + noise[:, 0] > 1.2).astype(int), BinaryFocalLoss(2.0, 0.25)
    if kind == "multiclass":
        y = np.digitize(X[:, 0] + X[:, 1] + noise[:, 0], [-1.0, 0.5, 1.5])
        return X, y, MulticlassFocalLoss(4, 2.0, alpha=[0.1, 0.2, 0.3, 0.4])
    Y = (X[:, :3] + noise > 0.8).astype(int)
    return X, Y, MultiLabelFocalLoss(2.0, 0.3)


class _TrainingPredictions:
    """Counts ``Booster.predict(..., training=True)``: the copying call the in-place path skips."""

    def __init__(self, monkeypatch):
        self.calls = 0
        original = xgb.Booster.predict

        def predict(booster, data, *args, training=False, **kwargs):
            self.calls += bool(training)
            return original(booster, data, *args, training=training, **kwargs)

        monkeypatch.setattr(xgb.Booster, "predict", predict)


def _plain(monkeypatch):
    """Switch the in-place path off: what XGBoost does for any custom objective."""
    monkeypatch.setattr(fxgb._InPlaceMargins, "before_training", lambda self, model: model)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("weighted", [False, True])
def test_train_gives_the_model_of_xgb_train_with_the_hooks(kind, weighted, monkeypatch):
    X, y, loss = _data(kind)
    w = np.random.default_rng(1).uniform(0.2, 3.0, len(X)) if weighted else None
    dtrain = xgb.DMatrix(X, y, weight=w)
    dvalid = xgb.DMatrix(X[:500], y[:500])
    counter = _TrainingPredictions(monkeypatch)
    fast_history = {}
    fast = fxgb.train(PARAMS, dtrain, 12, loss=loss, evals=[(dvalid, "valid")],
                      evals_result=fast_history, verbose_eval=False)
    assert counter.calls == _copies(12)  # every round read the margins in place
    assert type(fast) is xgb.Booster and "_focalboost_objective" not in fast.__dict__
    counter.calls = 0
    history = {}
    plain = xgb.train(
        {**PARAMS, **fxgb.training_params(loss, y, w)}, dtrain, 12, obj=fxgb.objective(loss),
        custom_metric=fxgb.metric(loss), evals=[(dvalid, "valid")], evals_result=history,
        verbose_eval=False,
    )
    assert counter.calls == 12  # the copying path, once a round
    # train() also fits the temperature of probability="auto" on the last evals (not multi-label)
    # and keeps it as a booster attribute: the trees are the same
    temperature = fast.attr(fxgb.TEMPERATURE_ATTR)
    assert (temperature is None) == (kind == "multilabel")
    assert (fast.attr(fxgb.STRENGTH_ATTR) is None) == (kind == "multilabel")
    fast.set_attr(**{fxgb.TEMPERATURE_ATTR: None, fxgb.STRENGTH_ATTR: None})
    assert fast.save_raw() == plain.save_raw()
    assert fast_history == history


def test_train_matches_dart_dropout_and_early_stopping(monkeypatch):
    """dart drops trees in the training prediction: the C call is the one predict makes."""
    X, y, loss = _data("binary")
    dtrain, dvalid = xgb.DMatrix(X[:1500], y[:1500]), xgb.DMatrix(X[1500:], y[1500:])
    params = {**PARAMS, "booster": "dart", "rate_drop": 0.3, "skip_drop": 0.0, "eta": 0.5}
    kwargs = dict(evals=[(dvalid, "valid")], early_stopping_rounds=3, verbose_eval=False)
    counter = _TrainingPredictions(monkeypatch)
    fast = fxgb.train(params, dtrain, 40, loss=loss, **kwargs)
    assert counter.calls == _copies(fast.num_boosted_rounds())
    _plain(monkeypatch)
    counter.calls = 0
    plain = fxgb.train(params, dtrain, 40, loss=loss, **kwargs)
    assert counter.calls == plain.num_boosted_rounds()
    assert fast.best_iteration == plain.best_iteration < 39  # stopped early
    assert fast.save_raw() == plain.save_raw()


def test_train_fills_in_only_the_missing_training_params():
    X, y, loss = _data("binary")
    dtrain = xgb.DMatrix(X, y)
    still = {**PARAMS, "eta": 0.0}  # a tree of zero leaves: the margins are base_score
    booster = fxgb.train(still, dtrain, 1, loss=loss)
    margins = booster.predict(dtrain, output_margin=True)
    np.testing.assert_array_equal(margins, np.float32(loss.init_score(y)))  # the best constant
    own = fxgb.train({**still, "base_score": -1.25}, dtrain, 1, loss=loss)
    np.testing.assert_array_equal(own.predict(dtrain, output_margin=True), np.float32(-1.25))
    with pytest.raises(TypeError, match="obj"):
        fxgb.train(PARAMS, dtrain, 1, loss=loss, obj=fxgb.objective(loss))


def test_a_booster_pickled_during_training_is_a_plain_booster():
    X, y, loss = _data("multiclass")
    dtrain = xgb.DMatrix(X, y)

    class Checkpoint(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            self.seen = type(model)
            self.pickled = pickle.dumps(model)
            self.margins = model.predict(dtrain, output_margin=True)
            return False

    checkpoint = Checkpoint()
    final = fxgb.train(PARAMS, dtrain, 4, loss=loss, callbacks=[checkpoint])
    assert checkpoint.seen is ROUND_CLASS  # the switched class during training
    restored = pickle.loads(checkpoint.pickled)
    assert type(restored) is xgb.Booster and "_focalboost_objective" not in restored.__dict__
    np.testing.assert_array_equal(restored.predict(dtrain, output_margin=True), checkpoint.margins)
    np.testing.assert_array_equal(final.predict(dtrain, output_margin=True), checkpoint.margins)


def test_the_booster_is_restored_when_training_raises():
    X, y, loss = _data("binary")
    dtrain = xgb.DMatrix(X, y)
    seen = []

    class Spoil(xgb.callback.TrainingCallback):
        def before_training(self, model):
            seen.append(model)
            return model

        def before_iteration(self, model, epoch, evals_log):
            seen.append(type(model))
            if epoch == 2:  # not a binary label: the objective raises in the third round
                dtrain.set_label(np.where(np.arange(len(y)) == 7, 2, y))
            return False

    with pytest.raises(ValueError, match="class indices"):
        fxgb.train(PARAMS, dtrain, 5, loss=loss, callbacks=[Spoil()])
    assert seen[1:] == [ROUND_CLASS] * 3  # the raise came from the in-place path
    assert type(seen[0]) is xgb.Booster and "_focalboost_objective" not in seen[0].__dict__


def test_an_update_without_the_focal_objective_is_xgboosts_own():
    """The switched class changes only rounds with a custom objective: obj=None is a built-in
    objective's round, as in a plain Booster."""
    X, y, loss = _data("binary")
    dtrain = xgb.DMatrix(X, y)
    params = {**PARAMS, "objective": "binary:logistic"}
    switched, plain = xgb.Booster(params, [dtrain]), xgb.Booster(params, [dtrain])
    callback = fxgb._InPlaceMargins(fxgb.objective(loss))
    callback.before_training(switched)
    for i in range(3):
        switched.update(dtrain, i)
        plain.update(dtrain, i)
    callback.restore()
    callback.restore()  # idempotent
    assert type(switched) is xgb.Booster
    assert switched.save_raw() == plain.save_raw()


@pytest.mark.parametrize(
    "kind, options",
    [("binary", {}), ("binary", {"loss_scale": 2.5, "alpha": 0.3}), ("multiclass", {}), ("multilabel", {})],
)
def test_focal_xgb_classifier_reads_labels_and_margins_in_place(kind, options, monkeypatch):
    X, y, _ = _data(kind)
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(X))
    labels = {"calls": 0}
    original_get_label = xgb.DMatrix.get_label

    def get_label(dmatrix):
        labels["calls"] += 1
        return original_get_label(dmatrix)

    monkeypatch.setattr(xgb.DMatrix, "get_label", get_label)
    counter = _TrainingPredictions(monkeypatch)
    model = FocalXGBClassifier(n_estimators=8, max_depth=3, n_jobs=1, **options)
    fast = model.fit(X, y, sample_weight=w).get_booster().save_raw()
    assert counter.calls == _copies(8) and labels["calls"] == _copies(8)
    assert type(model.get_booster()) is xgb.Booster
    _plain(monkeypatch)
    counter.calls = labels["calls"] = 0
    plain = FocalXGBClassifier(n_estimators=8, max_depth=3, n_jobs=1, **options).fit(X, y, sample_weight=w)
    assert counter.calls == 8 and labels["calls"] == 8  # XGBClassifier's path: two copies a round
    assert fast == plain.get_booster().save_raw()


def test_focal_xgb_classifier_keeps_the_users_callbacks():
    X, y, _ = _data("binary")
    rounds = []

    class Count(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            rounds.append(epoch)
            return False

    model = FocalXGBClassifier(n_estimators=5, max_depth=2, n_jobs=1, callbacks=[Count()])
    model.fit(X, y)
    assert rounds == [0, 1, 2, 3, 4]
    assert len(model.get_params()["callbacks"]) == 1  # the estimator's own parameter is unchanged


def test_train_with_a_users_save_best_early_stopping_returns_a_plain_booster(monkeypatch):
    """EarlyStopping(save_best=True) among the user's callbacks ends training before ours does
    and returns a sliced copy: still a plain Booster, the same as on the plain path."""
    X, y, loss = _data("binary")
    dtrain, dvalid = xgb.DMatrix(X[:1500], y[:1500]), xgb.DMatrix(X[1500:], y[1500:])

    def fit():
        stop = xgb.callback.EarlyStopping(rounds=2, save_best=True)
        return fxgb.train({**PARAMS, "eta": 1.0}, dtrain, 60, loss=loss, evals=[(dvalid, "valid")],
                          callbacks=[stop], verbose_eval=False)

    counter = _TrainingPredictions(monkeypatch)
    fast = fit()
    assert counter.calls == 0 if FAST else counter.calls > fast.num_boosted_rounds()  # sliced
    assert type(fast) is xgb.Booster and "_focalboost_objective" not in fast.__dict__
    assert fast.num_boosted_rounds() < 60
    _plain(monkeypatch)
    assert fast.save_raw() == fit().save_raw()
