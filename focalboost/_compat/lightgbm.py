"""LightGBM's private internals, each behind a feature check (see :mod:`focalboost._compat`).

* :func:`network_free`: free LightGBM's thread-local network state
  (``lightgbm.basic._safe_call(lightgbm.basic._LIB.LGBM_NetworkFree())``, what LightGBM's own Dask
  training does after a successful fit), or nothing;
* :class:`ReleaseInitScore`: a training callback that lets go of LightGBM's Python copy of a
  user's per-row training init score once the booster has started its scores from it
  (``Booster.train_set``, an undocumented attribute, and the public ``Dataset.set_field(
  "init_score", None)``), or keeps it.
"""

from __future__ import annotations

import ctypes
import inspect

from . import Feature, fast_paths_enabled, logger


def _basic():
    from lightgbm import basic  # the module holding the private names

    return basic


def _check_network_free():
    basic = _basic()
    if not callable(getattr(basic, "_safe_call", None)):
        raise AttributeError("lightgbm.basic._safe_call is missing")
    if not isinstance(getattr(basic, "_LIB", None), ctypes.CDLL):
        raise AttributeError("lightgbm.basic._LIB is not a ctypes library")
    basic._LIB.LGBM_NetworkFree  # noqa: B018 - AttributeError if the C function is gone


_NETWORK_FREE = Feature(
    "lightgbm.network_free", _check_network_free,
    "LightGBM's network is not freed after a failed fit (a later fit on that thread may fail)",
)


def network_free():
    """Free LightGBM's network (sockets, rank, number of machines) of the calling thread.

    LightGBM keeps it in thread-local state and frees it only after a *successful* Dask fit; call
    this after a failed one. Freeing a network that is not set up does nothing. With the fast
    paths off (or LightGBM's internals changed: logged once as a warning) this does nothing and
    logs a debug line. Returns True if the network was freed.
    """
    if not _NETWORK_FREE.available():
        logger.debug(
            "LGBM_NetworkFree skipped (%s)",
            "fast paths switched off" if not fast_paths_enabled() else _NETWORK_FREE.reason,
        )
        return False
    basic = _basic()
    basic._safe_call(basic._LIB.LGBM_NetworkFree())
    return True


FEATURES = {_NETWORK_FREE.name: _NETWORK_FREE}


# --- the per-row init score, once training has started from it -----------------------------------
def _release(booster):
    """Let go of the training set's init score in LightGBM: the Python copy
    ``Dataset.set_init_score`` read back is freed; the C++ field is cleared
    (``Dataset.set_field(name, None)``), but LightGBM clears it with ``std::vector::clear``, which
    keeps its memory until the Dataset is freed."""
    dataset = booster.train_set
    dataset.set_init_score(None)
    dataset.set_field("init_score", None)


def _check_release():
    import lightgbm as lgb
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(np.float64)

    def logistic(preds, data):
        p = 1.0 / (1.0 + np.exp(-preds))
        return p - data.get_label(), p * (1.0 - p)

    params = {"objective": logistic, "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5}
    models = []
    for callbacks in ([], [ReleaseInitScore(checked=False)]):
        train = lgb.Dataset(X, label=y, init_score=np.full(200, -0.7))
        booster = lgb.train(params, train, 3, callbacks=callbacks)
        models.append(booster.model_to_string())
        if callbacks and train.get_field("init_score") is not None:
            raise ValueError("Dataset.set_field('init_score', None) left LightGBM's copy in place")
    if models[0] != models[1]:
        raise ValueError("releasing the init score after the booster started changed the trees")


_INIT_SCORE = Feature(
    "lightgbm.release_init_score", _check_release,
    "LightGBM keeps its two copies of the training set's init score (Python and C++) until the "
    "end of training (memory, not speed)",
)
FEATURES[_INIT_SCORE.name] = _INIT_SCORE


class ReleaseInitScore:
    """LightGBM callback: before the first round, let go of what LightGBM keeps of a per-row
    training init score that the booster no longer reads.

    LightGBM copies a training set's ``init_score`` twice, into C++ (read once, when the booster
    is created, to start its training scores) and back into Python (``Dataset.init_score``), and
    keeps both until training ends. This frees the Python copy (40 MB for a binary problem on 5M
    rows) and clears the C++ field, whose memory LightGBM keeps (``std::vector::clear``; measured:
    RSS falls by the Python copy only). No score, tree or model changes (the feature check trains
    both ways and compares the model text). With the fast paths off, or the check failed (logged
    once), both copies are kept.

    ``FocalLGBMClassifier`` gives the training set no init score of its own (its objective adds
    it, see ``fit``): this serves a user's ``init_score``. ``checked=False`` skips the feature
    check (the check itself trains with this callback).
    """

    before_iteration = True
    order = 0

    def __init__(self, checked=True):
        self.checked = checked

    def __call__(self, env):
        if env.iteration != env.begin_iteration:
            return
        import lightgbm as lgb

        booster = env.model  # a CVBooster in lightgbm.cv: left alone
        if isinstance(booster, lgb.Booster) and (not self.checked or _INIT_SCORE.available()):
            _release(booster)


# --- the scikit-learn and Dask estimators ----------------------------------------------------------
# Unlike the fast paths above, these have no public equivalent: LightGBM offers no public way to
# hand a fitted Booster to an LGBMClassifier, to keep the focal parameters out of the booster's
# parameters, or to choose the model a Dask worker fits. Each is checked; where the check fails the
# estimators raise a clear error (or, for the worker model, fall back and log) instead of failing
# later inside LightGBM.
_FITTED_ATTRIBUTES = (
    "_Booster", "_n_features", "_n_features_in", "_best_iteration", "_best_score",
    "_evals_result", "_classes", "_n_classes", "_objective", "fitted_",
)


def set_fitted_state(estimator, booster, classes, objective, *, best_iteration=-1, best_score=None,
                     evals_result=None):
    """Make ``estimator`` (an ``LGBMClassifier``) a fitted model of ``booster``: what
    ``LGBMClassifier.fit`` stores, set by hand (loading a model file, the Dask estimator's
    booster). Checked afterwards through LightGBM's public properties: a LightGBM release that
    keeps this state differently gets a RuntimeError naming the version, not wrong predictions."""
    n_features = booster.num_feature()
    estimator._Booster = booster
    estimator._n_features = n_features
    estimator._n_features_in = n_features
    estimator._best_iteration = best_iteration
    estimator._best_score = best_score or {}
    estimator._evals_result = evals_result or {}
    estimator._classes = classes
    estimator._n_classes = len(classes)
    estimator._objective = objective
    estimator.fitted_ = True
    names = booster.feature_name()
    estimator._fitted_with_feature_names = names != [f"Column_{i}" for i in range(n_features)]
    try:
        ok = (
            estimator.booster_ is booster
            and estimator.n_features_in_ == n_features
            and estimator.best_iteration_ == best_iteration
            and estimator.n_classes_ == len(classes)
        )
    except Exception as error:  # noqa: BLE001 - reported below with the version
        ok, reason = False, f"{type(error).__name__}: {error}"
    else:
        reason = "the public properties do not read the state set"
    if not ok:
        import lightgbm

        raise RuntimeError(
            f"lightgbm {lightgbm.__version__} keeps a fitted LGBMClassifier's state differently "
            f"from the versions focalboost supports ({reason}); please report this, and pin "
            "lightgbm to a version focalboost's pyproject.toml allows"
        )


def _check_process_params():
    from lightgbm.sklearn import LGBMModel

    method = getattr(LGBMModel, "_process_params", None)
    if method is None or "stage" not in inspect.signature(method).parameters:
        raise AttributeError("LGBMModel._process_params(stage) is missing")


def check_process_params():
    """``LGBMModel._process_params(stage)``, which FocalLGBMClassifier overrides to pass the focal
    objective and keep the focal parameters out of the booster, exists: else a clear error."""
    try:
        _check_process_params()
    except AttributeError as error:
        import lightgbm

        raise RuntimeError(
            f"FocalLGBMClassifier cannot train with lightgbm {lightgbm.__version__}: {error}. "
            "Pin lightgbm to a version focalboost's pyproject.toml allows."
        ) from None


def process_params_available():
    """Whether ``LGBMModel._process_params(stage)`` exists (see :func:`booster_params`)."""
    try:
        _check_process_params()
    except AttributeError:
        return False
    return True


def booster_params(estimator, n_classes, objective):
    """The booster parameters ``LGBMClassifier.fit`` would train ``estimator`` (a
    FocalLGBMClassifier) with on ``n_classes`` classes, from LightGBM's own
    ``_process_params("fit")`` (aliases, ``num_class``, ``num_threads`` from ``n_jobs``, ...), for
    :class:`focalboost.FocalSearchCV`'s boosters. Callers check :func:`process_params_available`
    first; without it FocalSearchCV fits each candidate with the estimator's public ``fit``."""
    check_process_params()
    estimator._n_classes = n_classes
    estimator._fit_objective = objective
    try:
        return estimator._process_params("fit")
    finally:
        del estimator._fit_objective


def is_early_stopping_callback(callback):
    """Whether ``callback`` is ``lightgbm.early_stopping(...)``'s (a private class: checked by
    name and by the attribute it carries, so a renamed class is still recognised)."""
    return type(callback).__name__ == "_EarlyStoppingCallback" or hasattr(callback, "stopping_rounds")


def _check_dask_model_factory():
    from lightgbm.dask import DaskLGBMRegressor

    method = getattr(DaskLGBMRegressor, "_lgb_dask_fit", None)
    if method is None or "model_factory" not in inspect.signature(method).parameters:
        raise AttributeError("DaskLGBMRegressor._lgb_dask_fit(model_factory=...) is missing")


_DASK_MODEL = Feature(
    "lightgbm.dask_model_factory", _check_dask_model_factory,
    "Dask workers fit LightGBM's own model, whose network is not freed after a failed fit",
)


def dask_engine_class():
    """A ``DaskLGBMRegressor`` whose workers free LightGBM's network when their fit fails
    (``_lgb_dask_fit(model_factory=...)``), or plain ``DaskLGBMRegressor`` if that is not
    available (logged once)."""
    from lightgbm.dask import DaskLGBMRegressor

    if not _DASK_MODEL.available():
        return DaskLGBMRegressor
    return _safe_dask_regressor()


def _safe_dask_regressor():
    import lightgbm
    from lightgbm.dask import DaskLGBMRegressor

    global _SAFE_DASK_REGRESSOR
    if _SAFE_DASK_REGRESSOR is None:

        class WorkerLGBMRegressor(lightgbm.LGBMRegressor):
            """The model each worker fits; frees LightGBM's network when its fit fails.

            LightGBM keeps its network (sockets, rank, number of machines) in thread-local state
            and frees it only after a *successful* fit. A fit that fails (a peer worker died, a
            socket reset) left the worker thread believing it still had peers, and
            ``LGBM_NetworkInit`` with one machine does not reset that state, so the next training
            on that thread failed with "Socket send error, Broken pipe"."""

            def fit(self, *args, **kwargs):
                try:
                    return super().fit(*args, **kwargs)
                except BaseException:
                    network_free()
                    raise

        class SafeDaskLGBMRegressor(DaskLGBMRegressor):
            """``DaskLGBMRegressor`` whose workers fit :class:`WorkerLGBMRegressor`."""

            def _lgb_dask_fit(self, *, model_factory, **kwargs):
                return super()._lgb_dask_fit(model_factory=WorkerLGBMRegressor, **kwargs)

        _SAFE_DASK_REGRESSOR = SafeDaskLGBMRegressor
    return _SAFE_DASK_REGRESSOR


_SAFE_DASK_REGRESSOR = None
FEATURES[_DASK_MODEL.name] = _DASK_MODEL
