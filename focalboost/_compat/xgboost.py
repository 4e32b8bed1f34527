"""XGBoost's private internals, each behind a feature check with a public fallback.

* :func:`dmatrix_info`: a DMatrix's labels / weights as a view of its own buffer
  (``XGDMatrixGetFloatInfo``), or ``DMatrix.get_float_info`` (a copy);
* :func:`training_margins`: the margins of a training round as a view of XGBoost's prediction
  buffer (``XGBoosterPredictFromDMatrix``), or ``Booster.predict(..., training=True)`` (a copy);
* :class:`InPlaceMargins`: a training callback that makes the rounds of ``xgb.train`` use both
  (:class:`InPlaceMarginBooster`), or does nothing (XGBoost's own rounds);
* :func:`library_path`: where libxgboost is (for :mod:`focalboost._openmp_team`), or None.

The switch and the checks are described in :mod:`focalboost._compat`. A view is only valid while
XGBoost holds the object and until its next call of the same kind: every caller here reads it at
once and keeps no reference.
"""

from __future__ import annotations

import ctypes
import inspect
import json
import os

import numpy as np
import xgboost as xgb

from .._adapter import RoundBuffers
from . import Feature


def _core():
    from xgboost import core  # the module holding the private names

    return core


def _same(a, b):
    """Bit for bit: same shape, dtype and bytes."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


# --- labels and weights ---------------------------------------------------------------------------
def _shaped(flat, n_rows):
    """(n,) for one value per row, (n, L) for multi-target labels, (0,) if the field is not set."""
    if flat.size == 0:
        return np.empty(0, dtype=np.float32)
    return flat if flat.size == n_rows else flat.reshape(n_rows, -1)


def _info_view(dmatrix, field):
    core = _core()
    length = core.c_bst_ulong()
    pointer = ctypes.POINTER(ctypes.c_float)()
    core._check_call(
        core._LIB.XGDMatrixGetFloatInfo(
            dmatrix.handle, core.c_str(field), ctypes.byref(length), ctypes.byref(pointer)
        )
    )
    if length.value == 0:
        return np.empty(0, dtype=np.float32)
    view = np.ctypeslib.as_array(pointer, shape=(length.value,))
    view.flags.writeable = False
    return _shaped(view, dmatrix.num_row())


def _info_public(dmatrix, field):
    flat = np.asarray(dmatrix.get_float_info(field), dtype=np.float32).reshape(-1)
    return _shaped(flat, dmatrix.num_row())


def _check_helpers(function):
    """The private Python helpers of ``xgboost.core`` and the C ``function`` exist."""
    core = _core()
    for name in ("_check_call", "c_str", "c_bst_ulong"):
        if not callable(getattr(core, name, None)):
            raise AttributeError(f"xgboost.core.{name} is missing")
    if not isinstance(getattr(core, "_LIB", None), ctypes.CDLL):
        raise AttributeError("xgboost.core._LIB is not a ctypes library")
    getattr(core._LIB, function)  # AttributeError if the C function is gone


def _check_info():
    _check_helpers("XGDMatrixGetFloatInfo")
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    dmatrix = xgb.DMatrix(X, label=[0, 1, 1, 0, 1, 0], weight=[0.5, 1, 2, 3, 0.25, 1], nthread=1)
    cases = [(dmatrix, "label"), (dmatrix, "weight")]
    cases.append((xgb.DMatrix(X, label=np.arange(18).reshape(6, 3) % 2, nthread=1), "label"))
    cases.append((xgb.DMatrix(X, label=np.zeros(6), nthread=1), "weight"))  # not set: empty
    for d, field in cases:
        view, public = _info_view(d, field), _info_public(d, field)
        if not _same(view, public):
            raise ValueError(f"the {field} view differs from DMatrix.get_float_info({field!r})")
    dmatrix.set_label([1, 1, 0, 0, 1, 1])  # the view is read anew: sees a change between rounds
    if not _same(_info_view(dmatrix, "label"), _info_public(dmatrix, "label")):
        raise ValueError("the label view does not follow DMatrix.set_label")


_INFO = Feature(
    "xgboost.dmatrix_info", _check_info, "DMatrix.get_float_info (copies labels and weights every round)",
    own_thread=True,
)


def dmatrix_info(dmatrix, field):
    """``dmatrix``'s ``"label"`` or ``"weight"`` as float32: (n,), (n, L) for multi-target labels,
    (0,) if not set.

    Fast path: a read-only view of the DMatrix's own buffer (``get_label()`` copies the labels on
    every call, i.e. every boosting round: 4 MB at 1M rows). The view is always current (nothing
    is cached: ``set_label`` between rounds is seen); use it only while XGBoost holds the DMatrix,
    e.g. inside one objective call. Fallback: ``dmatrix.get_float_info(field)``, the same values.
    """
    if _INFO.available():
        return _info_view(dmatrix, field)
    return _info_public(dmatrix, field)


# --- margins of a training round -------------------------------------------------------------------
_TRAINING_MARGINS = json.dumps(
    {"type": 1, "training": True, "iteration_begin": 0, "iteration_end": 0, "strict_shape": False}
).encode()


def _margins_view(booster, dtrain):
    core = _core()
    c_shape = ctypes.POINTER(core.c_bst_ulong)()
    dims = core.c_bst_ulong()
    preds = ctypes.POINTER(ctypes.c_float)()
    core._check_call(
        core._LIB.XGBoosterPredictFromDMatrix(
            booster.handle,
            dtrain.handle,
            _TRAINING_MARGINS,
            ctypes.byref(c_shape),
            ctypes.byref(dims),
            ctypes.byref(preds),
        )
    )
    shape = tuple(int(c_shape[i]) for i in range(dims.value))
    if 0 in shape:
        return np.empty(shape, dtype=np.float32)
    view = np.ctypeslib.as_array(preds, shape=shape)
    view.flags.writeable = False
    return view


def _margins_public(booster, dtrain):
    return xgb.Booster.predict(booster, dtrain, output_margin=True, training=True)


def _tiny_data(seed=0, n=40):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    return X, (X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(np.float32)


def _check_training_margins():
    _check_helpers("XGBoosterPredictFromDMatrix")
    X, y = _tiny_data()
    for params, label in [
        ({"objective": "binary:logistic"}, y),
        ({"objective": "multi:softprob", "num_class": 3}, np.arange(len(y)) % 3),
    ]:
        dtrain = xgb.DMatrix(X, label=label, nthread=1)
        booster = xgb.train({**params, "nthread": 1, "max_depth": 2}, dtrain, 2)
        public = _margins_public(booster, dtrain)  # first: the view's buffer is the last call's
        if not _same(_margins_view(booster, dtrain), public):
            raise ValueError("the margin view differs from Booster.predict(training=True)")


_MARGINS = Feature(
    "xgboost.training_margins", _check_training_margins,
    "Booster.predict(output_margin=True, training=True) (a copy of the margins)", own_thread=True,
)


def training_margins(booster, dtrain):
    """What ``booster.predict(dtrain, output_margin=True, training=True)`` returns.

    Fast path: without the copy, a read-only view of the output buffer XGBoost keeps per booster
    and thread, valid until this booster's next prediction on this thread: read it at once.
    """
    if _MARGINS.available():
        return _margins_view(booster, dtrain)
    return _margins_public(booster, dtrain)


# --- in-place rounds -------------------------------------------------------------------------------
class InPlaceMarginBooster(xgb.Booster):
    """A ``Booster`` whose rounds hand the objective XGBoost's margins in place.

    ``Booster.update(dtrain, i, fobj)`` with a custom objective calls ``self.predict(dtrain,
    output_margin=True, training=True)``, which copies the margins into a new numpy array (4 MB and
    0.6-1 ms a round at 1M rows, with the page zeroing and the cache misses that go with it), then
    ``fobj(margins, dtrain)``, then trains on the gradients. This does the same with a view of
    XGBoost's own buffer (:func:`training_margins`): the same margins from the same C call, so the
    same gradients and the same model, bit for bit. A hook with a ``_round_into`` method
    (focalboost's :class:`focalboost.xgboost.XGBoostObjective`) writes the gradient and hessian
    into the same two arrays every round (:class:`focalboost._adapter.RoundBuffers`): ``boost``
    has copied them into XGBoost's gradient pairs before it returns.

    Only :class:`InPlaceMargins` makes one, by switching the class of the booster that
    ``xgb.train`` created for the length of the training run; pickles and copies are plain
    ``Booster`` objects.
    """

    def update(self, dtrain, iteration, fobj=None):
        hook = self.__dict__.get("_focalboost_objective")
        if fobj is None or hook is None or not isinstance(dtrain, xgb.DMatrix):
            return super().update(dtrain, iteration, fobj)
        # hook replaces fobj: the same objective, reading labels and weights in place
        margins = _margins_view(self, dtrain)
        round_into = getattr(hook, "_round_into", None)
        if round_into is None:
            grad, hess = hook(margins, dtrain)
        else:  # the same values, in the last round's arrays (boost copies them before returning)
            grad, hess = round_into(margins, dtrain, self._focalboost_buffers)
        self.boost(dtrain, iteration, grad=grad, hess=hess)

    def __reduce_ex__(self, protocol):
        # pickled during training (e.g. by a checkpoint callback): a plain Booster
        state = self.__getstate__()
        state.pop("_focalboost_objective", None)
        state.pop("_focalboost_buffers", None)
        return (_new_booster, (), state)


def _new_booster():
    return xgb.Booster.__new__(xgb.Booster)


def _switch(model, objective):
    model.__class__ = InPlaceMarginBooster
    model._focalboost_objective = objective
    model._focalboost_buffers = RoundBuffers()  # this training run's gradient and hessian


def _unswitch(model):
    model.__dict__.pop("_focalboost_objective", None)
    model.__dict__.pop("_focalboost_buffers", None)
    model.__class__ = xgb.Booster


def _parameters(function):
    return list(inspect.signature(function).parameters)


def _check_in_place():
    """The Booster methods the subclass relies on, then a tiny training run both ways."""
    if not _MARGINS.available():
        raise RuntimeError(f"the margin view is not available ({_MARGINS.reason})")
    if _parameters(xgb.Booster.update)[:4] != ["self", "dtrain", "iteration", "fobj"]:
        raise TypeError(f"Booster.update{inspect.signature(xgb.Booster.update)} changed")
    boost = inspect.signature(xgb.Booster.boost).parameters
    if not {"dtrain", "iteration", "grad", "hess"} <= set(boost):
        raise TypeError(f"Booster.boost{inspect.signature(xgb.Booster.boost)} changed")
    if "__getstate__" not in vars(xgb.Booster):  # InPlaceMarginBooster.__reduce_ex__ uses it
        raise AttributeError("Booster.__getstate__ is missing")
    X, y = _tiny_data(1)
    dtrain = xgb.DMatrix(X, label=y, nthread=1)
    params = {"nthread": 1, "max_depth": 2, "eta": 0.5, "base_score": 0.0}
    calls = []

    def logistic(margins, d):
        p = 1.0 / (1.0 + np.exp(-np.asarray(margins, dtype=np.float64)))
        return p - d.get_label(), p * (1.0 - p)

    def in_place(margins, d):
        calls.append(type(margins))
        return logistic(margins, d)

    class Switch(xgb.callback.TrainingCallback):
        def before_training(self, model):
            _switch(model, in_place)
            return model

        def after_training(self, model):
            _unswitch(model)
            return model

    def refuse(margins, d):
        raise AssertionError("the in-place round called XGBoost's objective")

    fast = xgb.train(params, dtrain, 3, obj=refuse, callbacks=[Switch()])
    plain = xgb.train(params, dtrain, 3, obj=logistic)
    if len(calls) != 3 or type(fast) is not xgb.Booster:
        raise RuntimeError("the switched booster's rounds did not run in place")
    if fast.save_raw() != plain.save_raw():
        raise ValueError("in-place rounds grew other trees than Booster.update")


_IN_PLACE = Feature(
    "xgboost.in_place_rounds", _check_in_place,
    "XGBoost's own rounds (Booster.update copies the margins every round)", own_thread=True,
)


class InPlaceMargins(xgb.callback.TrainingCallback):
    """Training callback: rounds with a custom objective run ``objective`` on margins read in
    place (:class:`InPlaceMarginBooster`), from ``before_training`` to ``after_training``.

    ``objective`` must compute what the ``obj`` given to ``xgb.train`` computes (it replaces it):
    :func:`focalboost.xgboost.train` passes the same hook; ``FocalXGBClassifier`` passes the native
    hook of its loss in place of its scikit-learn-style objective (which would copy the labels
    every round). A booster that is not a plain ``xgb.Booster`` (``xgb.cv``'s folds) is left
    alone, and so is every booster when the fast path is off or failed its check (XGBoost's own
    rounds: the same model). Call :meth:`restore` after training in any case, as ``xgb.train``
    skips ``after_training`` when it raises.
    """

    def __init__(self, objective):
        super().__init__()
        self.objective = objective
        self._model = None

    def before_training(self, model):
        if type(model) is xgb.Booster and _IN_PLACE.available():
            _switch(model, self.objective)
            self._model = model
        return model

    def after_training(self, model):
        self.restore()
        return model

    def restore(self):
        """Turn the booster back into a plain ``xgb.Booster`` (idempotent)."""
        model, self._model = self._model, None
        if model is not None:
            _unswitch(model)


# --- where libxgboost is ---------------------------------------------------------------------------
def _check_library_path():
    path = getattr(getattr(_core(), "_LIB", None), "_name", None)
    if not isinstance(path, str) or not os.path.isfile(path):
        raise AttributeError(f"xgboost.core._LIB._name is not the library's path ({path!r})")


_LIBRARY = Feature("xgboost.library_path", _check_library_path, "no OpenMP team (focalboost's thread pool)")


def library_path():
    """The file of the libxgboost this process loaded, or None (fast paths off, check failed)."""
    if _LIBRARY.available():
        return _core()._LIB._name
    return None


FEATURES = {feature.name: feature for feature in (_INFO, _MARGINS, _IN_PLACE, _LIBRARY)}


# --- the scikit-learn estimators -------------------------------------------------------------------
def _check_booster_attribute():
    # XGBModel keeps its fitted booster as ``_Booster``; get_booster() returns it
    model = xgb.XGBModel()
    booster = xgb.Booster()
    model._Booster = booster
    if model.get_booster() is not booster:
        raise AttributeError("XGBModel.get_booster() does not return XGBModel._Booster")


_BOOSTER = Feature(
    "xgboost.set_booster", _check_booster_attribute,
    "the booster is handed over through XGBModel.load_model of its serialised bytes",
)


def set_booster(estimator, booster):
    """Make ``booster`` the fitted booster of the XGBoost scikit-learn ``estimator``.

    Fast path: the attribute ``XGBModel.get_booster`` reads (``_Booster``). Public fallback:
    ``XGBModel.load_model`` of the booster's UBJSON bytes and ``load_config`` of its configuration
    (an exact copy, training parameters included); the estimator's public attributes, which
    ``load_model`` sets from the model, are put back.
    """
    if _BOOSTER.available():
        estimator._Booster = booster
        return
    # load_model sets objective, booster, base_score, feature_types, enable_categorical from the
    # model: parameters a fit must not change (scikit-learn's check_dont_overwrite_parameters)
    public = {k: v for k, v in vars(estimator).items() if not k.startswith("_") and not k.endswith("_")}
    xgb.XGBModel.load_model(estimator, booster.save_raw("ubj"))
    estimator.get_booster().load_config(booster.save_config())  # the training parameters too
    for name in [k for k in vars(estimator) if not k.startswith("_") and not k.endswith("_")]:
        if name not in public:
            delattr(estimator, name)
    vars(estimator).update(public)


FEATURES[_BOOSTER.name] = _BOOSTER
