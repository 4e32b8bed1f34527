"""focalboost._compat: every fast path through XGBoost's / LightGBM's internals equals its public
fallback bit for bit; FOCALBOOST_FAST_PATHS=0 turns them all off without touching an internal;
a failed feature check falls back, says so once, and the model is still the same."""

import ctypes
import hashlib
import logging
import os
import subprocess
import sys
import threading

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb

from focalboost import BinaryFocalLoss, FocalLGBMClassifier, FocalXGBClassifier, MulticlassFocalLoss
from focalboost import _compat, _openmp_team
from focalboost import xgboost as fxgb
from focalboost._compat import lightgbm as compat_lgb
from focalboost._compat import xgboost as compat_xgb

FAST = _compat.fast_paths_enabled()  # False when the suite runs with FOCALBOOST_FAST_PATHS=0
needs_fast = pytest.mark.skipif(not FAST, reason="FOCALBOOST_FAST_PATHS=0: the fast paths are off")
PARAMS = {"max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0}


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _data(n=1500, seed=0, classes=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    score = X[:, 0] + X[:, 1] + rng.normal(size=n)
    y = (score > 1.0).astype(int) if classes == 2 else np.digitize(score, [-1.0, 0.5])
    return X, y, rng.uniform(0.2, 3.0, n)


@pytest.fixture
def fresh_checks():
    """Call it after changing the library: the feature checks run again (they are cached per
    process); forgotten again after the test."""
    yield _compat.reset_checks
    _compat.reset_checks()


# --- each fast path equals its public fallback ---------------------------------------------------
@needs_fast
@pytest.mark.parametrize("target", ["binary", "multi-target"])
@pytest.mark.parametrize("weighted", [False, True])
def test_label_and_weight_views_equal_get_label_and_get_weight(target, weighted):
    X, y, w = _data()
    label = y if target == "binary" else np.column_stack([y, 1 - y, y])
    d = xgb.DMatrix(X, label, weight=w if weighted else None)
    for field, public in (("label", d.get_label()), ("weight", d.get_weight())):
        with _compat.fast_paths(True):
            view = compat_xgb.dmatrix_info(d, field)
        with _compat.fast_paths(False):
            fallback = compat_xgb.dmatrix_info(d, field)
        if view.size:
            assert not view.flags.writeable and fallback.flags.writeable  # the view, then a copy
        assert _same(view, fallback) and _same(fallback, public)
    assert compat_xgb.dmatrix_info(d, "weight").size == (len(y) if weighted else 0)


@needs_fast
@pytest.mark.parametrize("params", [
    {"objective": "binary:logistic"},
    {"objective": "multi:softprob", "num_class": 3},
    {"objective": "binary:logistic", "multi_label": 3},  # one output per label
])
def test_margin_view_equals_predict_training(params):
    """(dart draws new dropped trees at every training prediction: tests/test_xgboost_train.py
    compares whole dart models instead.)"""
    params = dict(params)
    X, y, _ = _data(classes=params.get("num_class", 2))
    labels = params.pop("multi_label", 0)
    d = xgb.DMatrix(X, np.column_stack([y] * labels) if labels else y)
    booster = xgb.train({**PARAMS, **params}, d, 4)
    with _compat.fast_paths(False):
        public = compat_xgb.training_margins(booster, d)
    again = booster.predict(d, output_margin=True, training=True)
    view = compat_xgb.training_margins(booster, d)
    assert not view.flags.writeable
    assert _same(view, public) and _same(view, again)


def _models(fit):
    """``fit()`` with the fast paths on, then off; both results."""
    with _compat.fast_paths(True):
        fast = fit()
    with _compat.fast_paths(False):
        plain = fit()
    return fast, plain


@pytest.mark.parametrize("classes", [2, 3])
def test_train_grows_the_same_booster_with_and_without_fast_paths(classes):
    X, y, w = _data(classes=classes)
    loss = BinaryFocalLoss(2.0, 0.25) if classes == 2 else MulticlassFocalLoss(3, 2.0)
    dtrain, dvalid = xgb.DMatrix(X[:1000], y[:1000], weight=w[:1000]), xgb.DMatrix(X[1000:], y[1000:])
    histories = []

    def fit():
        histories.append({})
        return fxgb.train(PARAMS, dtrain, 8, loss=loss, evals=[(dvalid, "valid")],
                          evals_result=histories[-1], verbose_eval=False).save_raw()

    fast, plain = _models(fit)
    assert fast == plain
    assert histories[0] == histories[1]


@pytest.fixture
def team_on(monkeypatch):
    """The OpenMP team is opt-in: on for the test (FOCALBOOST_OPENMP_TEAM=1)."""
    monkeypatch.setenv("FOCALBOOST_OPENMP_TEAM", "1")


@pytest.mark.parametrize("classes", [2, 3])
def test_estimators_fit_the_same_models_with_and_without_fast_paths(classes, team_on):
    """FocalXGBClassifier: labels, weights and margins in place and, for binary, the kernel on
    XGBoost's OpenMP team (opted in), against the copies and focalboost's thread pool."""
    X, y, w = _data(n=120_000, classes=classes)  # two kernel threads need 100,000 rows

    def fit():
        clf = FocalXGBClassifier(gamma=2.0, n_estimators=4, max_depth=3, n_jobs=2)
        return clf.fit(X, y, sample_weight=w).get_booster().save_raw()

    fast, plain = _models(fit)
    assert fast == plain

    def fit_lgb():
        clf = FocalLGBMClassifier(gamma=2.0, n_estimators=4, num_leaves=7, n_jobs=2, verbose=-1)
        return clf.fit(X[:5000], y[:5000]).booster_.model_to_string()

    fast, plain = _models(fit_lgb)
    assert fast == plain


@needs_fast
def test_the_fast_paths_are_taken_when_on(monkeypatch, team_on):
    """What the equalities above compare really differs: views, a switched booster, the team."""
    X, y, _ = _data()
    seen = []
    original = compat_xgb.InPlaceMarginBooster.update

    def update(self, *args, **kwargs):
        seen.append(type(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(compat_xgb.InPlaceMarginBooster, "update", update)
    fxgb.train(PARAMS, xgb.DMatrix(X, y), 2, loss=BinaryFocalLoss(2.0, 0.25))
    assert seen == [compat_xgb.InPlaceMarginBooster] * 2
    assert _openmp_team.xgboost_team() is not None or not sys.platform.startswith("linux")
    with _compat.fast_paths(False):
        assert _openmp_team.xgboost_team() is None
        assert compat_xgb.library_path() is None
    monkeypatch.delenv("FOCALBOOST_OPENMP_TEAM")
    assert _openmp_team.xgboost_team() is None  # opt-in: off by default


def test_network_free_is_harmless_without_a_network(caplog):
    caplog.set_level(logging.DEBUG, logger="focalboost")
    assert compat_lgb.network_free() is FAST  # nothing set up: LGBM_NetworkFree does nothing
    with _compat.fast_paths(False):
        assert compat_lgb.network_free() is False
    assert "LGBM_NetworkFree skipped (fast paths switched off)" in caplog.text
    # LightGBM trains normally after it
    X, y, _ = _data(n=300)
    lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(X, y), 2)


# --- the switch ----------------------------------------------------------------------------------
def test_fast_paths_context_manager_nests_and_restores(team_on):
    before = _compat.fast_paths_enabled()
    with _compat.fast_paths(False):
        assert not _compat.fast_paths_enabled()
        assert not _openmp_team.enabled()
        with _compat.fast_paths(True):
            assert _compat.fast_paths_enabled()
        assert not _compat.fast_paths_enabled()
        assert not any(feature.available() for feature in _compat.features().values())
    assert _compat.fast_paths_enabled() == before


_SWITCHED_OFF = r"""
import hashlib, sys
import numpy as np
import xgboost as xgb
from focalboost import _compat, _openmp_team
from focalboost import xgboost as fxgb
from focalboost._compat import lightgbm as compat_lgb, xgboost as compat_xgb
from focalboost import BinaryFocalLoss, FocalXGBClassifier

def refuse(*args, **kwargs):
    raise AssertionError("a private XGBoost/LightGBM internal was touched")

# every way focalboost reaches a private internal raises: the private modules' attributes
# (xgboost.core._LIB, _check_call, ...; lightgbm.basic._LIB, _safe_call), the booster switch,
# the feature checks and the OpenMP team's discovery (asked for: FOCALBOOST_OPENMP_TEAM=1)
compat_xgb._core = compat_lgb._basic = compat_xgb._switch = refuse
for feature in _compat.features().values():
    feature._check = refuse
_openmp_team._discover = refuse

assert not _compat.fast_paths_enabled() and not _openmp_team.enabled()
rng = np.random.default_rng(0)
X = rng.normal(size=(120_000, 5))
y = (X[:, 0] + rng.normal(size=len(X)) > 1.0).astype(int)
w = rng.uniform(0.2, 3.0, len(X))
loss = BinaryFocalLoss(2.0, 0.25)
booster = fxgb.train({"max_depth": 3, "nthread": 2, "seed": 0}, xgb.DMatrix(X, y, weight=w), 5, loss=loss)
clf = FocalXGBClassifier(gamma=2.0, n_estimators=4, max_depth=3, n_jobs=2).fit(X, y, sample_weight=w)
assert compat_lgb.network_free() is False
for raw in (booster.save_raw(), clf.get_booster().save_raw()):
    print(hashlib.sha256(raw).hexdigest())
"""


def test_environment_switch_trains_the_same_models_without_touching_internals():
    """FOCALBOOST_FAST_PATHS=0 in a fresh interpreter: every private access raises there, and the
    models are those trained here with the fast paths (if on)."""
    env = dict(os.environ, FOCALBOOST_FAST_PATHS="0", FOCALBOOST_OPENMP_TEAM="1")
    done = subprocess.run([sys.executable, "-c", _SWITCHED_OFF], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120_000, 5))
    y = (X[:, 0] + rng.normal(size=len(X)) > 1.0).astype(int)
    w = rng.uniform(0.2, 3.0, len(X))
    booster = fxgb.train({"max_depth": 3, "nthread": 2, "seed": 0}, xgb.DMatrix(X, y, weight=w), 5,
                         loss=BinaryFocalLoss(2.0, 0.25))
    clf = FocalXGBClassifier(gamma=2.0, n_estimators=4, max_depth=3, n_jobs=2).fit(X, y, sample_weight=w)
    here = [hashlib.sha256(raw).hexdigest() for raw in (booster.save_raw(), clf.get_booster().save_raw())]
    assert done.stdout.split() == here


def test_environment_values(monkeypatch):
    for value, on in [("0", False), (" OFF ", False), ("False", False), ("no", False), ("1", True),
                      ("", True), ("yes", True)]:
        monkeypatch.setenv("FOCALBOOST_FAST_PATHS", value)
        assert _compat._read_environment() is on, value
    monkeypatch.delenv("FOCALBOOST_FAST_PATHS")
    assert _compat._read_environment() is True


def test_the_environment_is_read_once_at_import():
    code = ("import os; from focalboost import _compat; os.environ['FOCALBOOST_FAST_PATHS'] = '1'; "
            "print(_compat.fast_paths_enabled())")
    env = dict(os.environ, FOCALBOOST_FAST_PATHS="0")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


# --- a failed feature check ----------------------------------------------------------------------
class _Hiding(ctypes.CDLL):
    """libxgboost as a future release might ship it: some C functions gone."""

    def __init__(self, real, hidden):
        super().__init__(real._name, handle=real._handle)
        self.__dict__.update({k: v for k, v in vars(real).items() if k not in hidden})  # restypes
        for name in hidden:
            self.__dict__.pop(name, None)
        self._hidden = set(hidden)

    def __getattr__(self, name):
        if name in self.__dict__.get("_hidden", ()):
            raise AttributeError(f"undefined symbol: {name}")
        return super().__getattr__(name)


def _fallback_lines(caplog, name):
    return [r for r in caplog.records if r.levelno == logging.WARNING and repr(name) in r.getMessage()]


def _train_binary(rounds=4):
    X, y, w = _data()
    dtrain = xgb.DMatrix(X, y, weight=w)
    return fxgb.train(PARAMS, dtrain, rounds, loss=BinaryFocalLoss(2.0, 0.25)).save_raw()


@needs_fast
def test_a_missing_c_function_falls_back_logs_once_and_trains_the_same(fresh_checks, monkeypatch, caplog):
    reference = _train_binary()
    caplog.set_level(logging.WARNING, logger="focalboost")
    core = xgb.core
    monkeypatch.setattr(core, "_LIB", _Hiding(core._LIB, {"XGDMatrixGetFloatInfo"}))
    fresh_checks()
    assert _train_binary() == reference
    assert _train_binary() == reference
    lines = _fallback_lines(caplog, "xgboost.dmatrix_info")
    assert len(lines) == 1  # once per process, not once per call
    assert "XGDMatrixGetFloatInfo" in lines[0].getMessage() and "public path" in lines[0].getMessage()
    assert not compat_xgb.FEATURES["xgboost.dmatrix_info"].available()
    assert compat_xgb.FEATURES["xgboost.in_place_rounds"].available()  # the others still serve
    X, y, w = _data()
    with pytest.raises(AttributeError):
        compat_xgb._info_view(xgb.DMatrix(X, y), "label")  # what would have been called


@needs_fast
def test_a_changed_meaning_is_caught_by_the_self_test(fresh_checks, monkeypatch, caplog):
    """A release whose prediction type 1 no longer meant margins: the margin view differs from
    predict(training=True), so neither the view nor the in-place rounds are used."""
    reference = _train_binary()
    caplog.set_level(logging.WARNING, logger="focalboost")
    changed = compat_xgb._TRAINING_MARGINS.replace(b'"type": 1', b'"type": 0')  # probabilities
    monkeypatch.setattr(compat_xgb, "_TRAINING_MARGINS", changed)
    fresh_checks()
    switched = []
    monkeypatch.setattr(compat_xgb, "_switch", lambda *args: switched.append(args))
    assert _train_binary() == reference
    assert switched == []  # the booster was never switched
    assert len(_fallback_lines(caplog, "xgboost.training_margins")) == 1
    assert len(_fallback_lines(caplog, "xgboost.in_place_rounds")) == 1
    assert "differs from Booster.predict" in caplog.text


@needs_fast
def test_a_changed_booster_update_signature_falls_back(fresh_checks, monkeypatch, caplog):
    reference = _train_binary()
    caplog.set_level(logging.WARNING, logger="focalboost")
    original = xgb.Booster.update

    def update(self, dtrain, iteration, hooks=None, fobj=None):  # a new parameter before fobj
        return original(self, dtrain, iteration, fobj)

    monkeypatch.setattr(xgb.Booster, "update", update)
    fresh_checks()
    assert _train_binary() == reference
    [line] = _fallback_lines(caplog, "xgboost.in_place_rounds")
    assert "Booster.update" in line.getMessage()


@needs_fast
def test_a_missing_lightgbm_function_makes_network_free_a_logged_no_op(fresh_checks, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG, logger="focalboost")
    from lightgbm import basic

    monkeypatch.delattr(basic, "_safe_call")
    fresh_checks()
    assert compat_lgb.network_free() is False
    assert compat_lgb.network_free() is False
    assert len(_fallback_lines(caplog, "lightgbm.network_free")) == 1
    assert "LGBM_NetworkFree skipped (AttributeError: lightgbm.basic._safe_call is missing)" in caplog.text


@needs_fast
def test_a_missing_library_path_leaves_the_thread_pool(fresh_checks, monkeypatch, caplog, team_on):
    caplog.set_level(logging.WARNING, logger="focalboost")
    monkeypatch.setattr(_openmp_team, "_found", {})
    monkeypatch.setattr(xgb.core, "_LIB", _Hiding(xgb.core._LIB, {"_name"}))
    fresh_checks()
    X, y, w = _data(n=120_000)
    with _compat.fast_paths(False):
        plain = FocalXGBClassifier(n_estimators=3, max_depth=3, n_jobs=2).fit(X, y, sample_weight=w)
    fit = FocalXGBClassifier(n_estimators=3, max_depth=3, n_jobs=2).fit(X, y, sample_weight=w)
    assert _openmp_team.xgboost_team() is None
    assert len(_fallback_lines(caplog, "xgboost.library_path")) == 1
    assert fit.get_booster().save_raw() == plain.get_booster().save_raw()


# --- the checks run outside the caller's XGBoost communicator ------------------------------------
@needs_fast
def test_a_check_started_inside_a_distributed_worker_does_not_join_its_collective(fresh_checks):
    """XGBoost keeps its communicator per thread; the self-tests build DMatrix objects, whose
    construction is a collective call. Two workers of a 2-worker communicator: only one runs the
    checks (the other has nothing to match it with); it must finish, then both all-reduce."""
    from xgboost import collective
    from xgboost.tracker import RabitTracker

    fresh_checks()
    tracker = RabitTracker(n_workers=2, host_ip="127.0.0.1")
    tracker.start()
    args = tracker.worker_args()
    results, errors = {}, []

    def worker(rank):
        try:
            with collective.CommunicatorContext(**args):
                if collective.get_rank() == 0:
                    results["checked"] = [f.available() for f in compat_xgb.FEATURES.values()]
                total = collective.allreduce(np.array([1.0]), collective.Op.SUM)
                results[collective.get_rank()] = float(total[0])
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)  # a hang guard, not a timing assertion: a deadlock never ends
    assert not errors and not any(t.is_alive() for t in threads), errors
    assert results == {"checked": [True] * len(compat_xgb.FEATURES), 0: 2.0, 1: 2.0}


def test_set_booster_fallback_hands_over_the_same_booster_and_keeps_the_parameters():
    X, y, _ = _data()
    trained = xgb.XGBClassifier(n_estimators=3, max_depth=2, gamma=0.5, n_jobs=1).fit(X, y).get_booster()
    results = []
    for fast in (True, False):
        target = FocalXGBClassifier(n_estimators=3, n_jobs=1)
        before = {k: v for k, v in vars(target).items() if not k.endswith("_")}
        with _compat.fast_paths(fast):
            compat_xgb.set_booster(target, trained)
        assert {k: v for k, v in vars(target).items() if not k.endswith("_") and not k.startswith("_")} == {
            k: v for k, v in before.items() if not k.startswith("_")}
        booster = target.get_booster()
        results.append((booster.save_raw(), booster.save_config()))
    assert results[0] == results[1] == [(trained.save_raw(), trained.save_config())][0]


# --- LightGBM: the training init score is let go once the booster has started from it ------------
def _init_score_seen_at_round_0(fit_callbacks_fit):
    """What LightGBM holds of the training init score after round 0 (Python, C++), and the array
    FocalLGBMClassifier made for it."""
    seen = {}

    def spy(env):
        if env.iteration == 0:
            seen["python"] = env.model.train_set.init_score
            seen["cpp"] = env.model.train_set.get_field("init_score")

    model = fit_callbacks_fit([spy])
    return model, seen


@pytest.mark.parametrize("classes", [2, 3])
def test_lightgbm_fit_gives_the_training_set_no_init_score(classes, monkeypatch):
    """FocalLGBMClassifier starts LightGBM's training scores at 0 and its objective adds the init
    score: no per-row training init score is made, and LightGBM holds none (a Dataset's would be
    copied into C++, kept there until training ends, and back into Python: 3 x 40 MB binary on
    5M rows, benchmarks/RESULTS.md, issue 17.4). The evaluation sets still start at it."""
    import focalboost.sklearn._lightgbm as sk_lgb

    X, y, _ = _data(n=3000, classes=classes)
    made = []
    rows = sk_lgb.init_score_rows
    monkeypatch.setattr(sk_lgb, "init_score_rows", lambda *a, **k: made.append(rows(*a, **k)) or made[-1])

    def fit(callbacks):
        clf = FocalLGBMClassifier(gamma=2.0, n_estimators=4, num_leaves=7, n_jobs=1, verbose=-1)
        return clf.fit(X, y, eval_set=[(X[:500], y[:500])], callbacks=callbacks)

    model, seen = _init_score_seen_at_round_0(fit)
    assert seen["python"] is None and seen["cpp"] is None
    assert [a.shape[0] for a in made] == [500]  # the evaluation set's rows only
    valid = model.evals_result_["valid_0"]["focal_loss"][-1]
    margin = model.decision_function(X[:500])
    assert valid == pytest.approx(model.loss_.mean_loss(model._le.transform(y[:500]), margin), rel=1e-12)
    # the training data itself as the evaluation set (LGBMClassifier on LightGBM 4.6 would evaluate
    # it on the training scores, which exclude the init score here): the metric of the model
    clf = FocalLGBMClassifier(gamma=2.0, n_estimators=4, num_leaves=7, n_jobs=1, verbose=-1)
    clf.fit(X, y, eval_set=[(X, y)])
    train = clf.evals_result_["valid_0"]["focal_loss"][-1]
    assert train == pytest.approx(clf.loss_.mean_loss(clf._le.transform(y), clf.decision_function(X)), rel=1e-12)


@needs_fast
def test_lightgbm_fit_without_a_users_init_score_runs_no_release(fresh_checks):
    """Nothing to release (the training set has no init score): the release callback, and the
    feature check it runs once per process (two small trainings), stay out of the fit."""
    from focalboost._compat.lightgbm import _INIT_SCORE

    fresh_checks()
    X, y, _ = _data(n=3000)
    FocalLGBMClassifier(gamma=2.0, n_estimators=2, num_leaves=7, n_jobs=1, verbose=-1).fit(X, y)
    assert _INIT_SCORE._result is None
    FocalLGBMClassifier(gamma=2.0, n_estimators=2, num_leaves=7, n_jobs=1, verbose=-1).fit(
        X, y, init_score=np.zeros(len(y)))
    assert _INIT_SCORE._result is not None


@needs_fast
@pytest.mark.parametrize("classes", [2, 3])
def test_lightgbm_fit_frees_the_python_copy_of_a_users_init_score(classes):
    """A user's init_score goes into LightGBM's Dataset: the Python copy LightGBM reads back is
    let go before the first round (ReleaseInitScore); the same trees."""
    X, y, _ = _data(n=3000, classes=classes)
    start = np.full((3000,) if classes == 2 else (3000, classes), 0.25)

    def fit(callbacks):
        clf = FocalLGBMClassifier(gamma=2.0, n_estimators=4, num_leaves=7, n_jobs=1, verbose=-1)
        return clf.fit(X, y, init_score=start, callbacks=callbacks)

    fast, seen = _init_score_seen_at_round_0(fit)
    assert seen["python"] is None and seen["cpp"] is None
    with _compat.fast_paths(False):  # LightGBM's copies kept
        plain, kept = _init_score_seen_at_round_0(fit)
    assert kept["python"].shape == kept["cpp"].shape == ((3000,) if classes == 2 else (3000, classes))
    assert fast.booster_.model_to_string() == plain.booster_.model_to_string()


@needs_fast
def test_a_dataset_that_keeps_its_init_score_fails_the_check_and_trains_the_same(fresh_checks, monkeypatch, caplog):
    X, y, _ = _data(n=3000)

    def fit():  # a user's init score: the one LightGBM's Dataset holds (see above)
        clf = FocalLGBMClassifier(gamma=2.0, n_estimators=4, num_leaves=7, n_jobs=1, verbose=-1)
        return clf.fit(X, y, init_score=np.full(len(y), -1.0)).booster_.model_to_string()

    reference = fit()
    caplog.set_level(logging.WARNING, logger="focalboost")
    set_field = lgb.Dataset.set_field

    def ignore_none(self, field_name, data):  # a release where None no longer clears a field
        return self if data is None else set_field(self, field_name, data)

    monkeypatch.setattr(lgb.Dataset, "set_field", ignore_none)
    fresh_checks()
    assert fit() == reference
    assert fit() == reference
    [line] = _fallback_lines(caplog, "lightgbm.release_init_score")
    assert "left LightGBM's copy in place" in line.getMessage()
