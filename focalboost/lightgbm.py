"""Native LightGBM hooks: ``params["objective"] = objective(loss)`` and ``feval=metric(loss)``.

LightGBM (>= 4) with a callable objective ignores ``boost_from_average``, computes its default
metric on raw scores and does NOT add a data set's ``init_score`` back at predict time. So: put the
loss's best constant into every Dataset's ``init_score`` (:func:`init_score`), set
``metric="None"`` (:func:`training_params`), and add the same constant to raw predictions
(:func:`predict_margin` / :func:`predict_proba`).

Example::

    loss = BinaryFocalLoss(gamma=2.0, alpha=0.25)
    init = loss.init_score(y_train)
    dtrain = lgb.Dataset(X_train, y_train, init_score=init_score(loss, y_train, init=init))
    dvalid = lgb.Dataset(X_valid, y_valid, init_score=init_score(loss, y_valid, init=init))
    params = {"num_leaves": 31, "learning_rate": 0.05, **training_params(loss)}
    booster = lgb.train(params, dtrain, 300, valid_sets=[dvalid], feval=metric(loss),
                        callbacks=[lgb.early_stopping(20)])
    proba = predict_proba(booster, X_test, loss, init)
"""

from __future__ import annotations

import warnings
import weakref

import numpy as np

from ._adapter import (
    DEFAULT_METRIC_NAME,
    _Hook,
    check_loss,
    init_score_rows,
    is_multiclass,
    is_multilabel,
    library_gradient_hessian,
    no_split_reason,
    probability_from_margin,
)


class _LightGBMHook(_Hook):
    def __init__(self, loss, *args):
        if is_multilabel(loss):
            raise ValueError(
                "LightGBM has no multi-output trees, so a MultiLabelFocalLoss cannot train one "
                "LightGBM booster: train one model per label, e.g. "
                "sklearn.multioutput.MultiOutputClassifier(FocalLGBMClassifier(...))"
            )
        super().__init__(loss, *args)


class LightGBMObjective(_LightGBMHook):
    """``(preds, train_data) -> (grad, hess)`` for ``params["objective"]``; weights applied once.

    On its first call for a Dataset (the init scores) it warns (``UserWarning``) when no tree can
    split from there (:func:`focalboost._adapter.no_split_reason`: e.g. a gamma so large that
    (1 - p)^gamma underflows), under the Dataset's ``min_sum_hessian_in_leaf`` (default 1e-3).

    Returns float32 arrays, the precision LightGBM keeps (it rounds float64 ones to exactly these
    values, in a copy made every round); multiclass as (n, K) arrays in column-major memory order,
    which LightGBM reads class by class without a copy. ``get_label()`` and ``get_weight()``
    return the Dataset's stored arrays (no copy), so a round allocates nothing else.

    Parameters
    ----------
    loss : BoostingLoss
        A focalboost loss object (or any object with the loss contract). A multi-label loss is refused
        (``ValueError``): LightGBM has no multi-output trees.
    *args
        None: the loss is the only argument.
    """

    def __call__(self, preds, train_data):
        grad, hess = library_gradient_hessian(self.loss, train_data.get_label(), preds, train_data.get_weight())
        if train_data not in _started:  # the first round on this Dataset: preds are its init scores
            _started.add(train_data)
            _warn_if_no_split(self.loss, grad, hess, train_data.params)
        return grad, hess


#: Datasets whose first round the objective has seen (the no-split check runs once per Dataset)
_started = weakref.WeakSet()
#: LightGBM's names for the least summed hessian of a leaf, and its default
_MIN_HESSIAN_NAMES = ("min_sum_hessian_in_leaf", "min_sum_hessian_per_leaf", "min_sum_hessian",
                      "min_hessian", "min_child_weight")
_MIN_HESSIAN_DEFAULT = 1e-3


def _warn_if_no_split(loss, grad, hess, params):
    """``UserWarning`` when no tree can split from the first round's gradients and hessians
    (:func:`focalboost._adapter.no_split_reason`) under ``min_sum_hessian_in_leaf``."""
    params = params or {}
    name = next((k for k in _MIN_HESSIAN_NAMES if params.get(k) is not None), None)
    min_hessian = float(params[name]) if name else _MIN_HESSIAN_DEFAULT
    reason = no_split_reason(loss, grad, hess, min_hessian, name or "min_sum_hessian_in_leaf")
    if reason is not None:
        warnings.warn(reason, UserWarning, stacklevel=3)


class LightGBMMetric(_LightGBMHook):
    """``(preds, eval_data) -> (name, weighted mean loss, False)`` for ``lgb.train(feval=...)``.

    Parameters
    ----------
    loss : BoostingLoss
        A focalboost loss object (or any object with the loss contract).
    name : str, default "focal_loss"
        The metric's name in LightGBM's evaluation log.
    """

    def __init__(self, loss, name=DEFAULT_METRIC_NAME):
        super().__init__(loss)
        self.name = name

    def __call__(self, preds, eval_data):
        value = self.loss.mean_loss(eval_data.get_label(), preds, eval_data.get_weight())
        return self.name, value, False


def objective(loss):
    """The LightGBM objective callable of a focalboost loss (for ``params["objective"]``).

    Parameters
    ----------
    loss : BoostingLoss
        A focalboost loss object (or any object with the loss contract).

    Returns
    -------
    LightGBMObjective
    """
    return LightGBMObjective(loss)


def metric(loss, name=DEFAULT_METRIC_NAME):
    """The LightGBM ``feval`` callable of a focalboost loss (weighted mean loss, lower is better).

    Parameters
    ----------
    loss : BoostingLoss
        A focalboost loss object (or any object with the loss contract).
    name : str, default "focal_loss"
        The metric's name in LightGBM's evaluation log.

    Returns
    -------
    LightGBMMetric
    """
    return LightGBMMetric(loss, name)


def training_params(loss):
    """``{"objective": objective(loss), "metric": "None"}`` plus ``num_class`` for multiclass.

    Parameters
    ----------
    loss : BoostingLoss
        A focalboost loss object (or any object with the loss contract).

    Returns
    -------
    dict
    """
    params = {"objective": objective(loss), "metric": "None"}
    if is_multiclass(loss):
        params["num_class"] = loss.n_classes
    return params


def init_score(loss, y, sample_weight=None, init=None):
    """Per-row init score for ``lgb.Dataset(init_score=...)``: (n,) binary, (n, K) multiclass.

    ``init`` reuses a constant computed on the training labels (do that for validation sets).

    Parameters
    ----------
    loss : BoostingLoss
        A focalboost loss object (or any object with the loss contract).
    y : array-like of shape (n,)
        The labels of the Dataset.
    sample_weight : array-like of shape (n,), optional
        Its weights (used when ``init`` is None).
    init : float or array-like of shape (K,), optional
        The constant to repeat; default ``loss.init_score(y, sample_weight)``.

    Returns
    -------
    ndarray of shape (n,) or (n, K)
    """
    return init_score_rows(check_loss(loss), y, sample_weight, init=init)


def predict_margin(booster, X, init, **kwargs):
    """Raw scores plus the constant ``init`` LightGBM does not add back itself (0 for a booster
    whose init score is folded into its trees, as the focal estimators' are). LightGBM uses the
    best iteration after early stopping unless ``num_iteration`` says otherwise.

    Parameters
    ----------
    booster : lightgbm.Booster
        A booster trained with a focal objective.
    X : array-like
        The rows to predict.
    init : float or array-like of shape (K,)
        The init score the booster was trained from (0 if it is folded into the trees).
    **kwargs
        Passed to ``booster.predict`` (``num_iteration``, ...).

    Returns
    -------
    ndarray of shape (n,) or (n, K)
    """
    margin = np.asarray(booster.predict(X, raw_score=True, **kwargs), dtype=np.float64)
    init = np.asarray(init, dtype=np.float64)
    if margin.flags.writeable and margin.shape == np.broadcast_shapes(margin.shape, init.shape):
        return np.add(margin, init, out=margin)  # LightGBM's fresh array: no second copy
    return margin + init


#: the Python attributes of a ``lightgbm.Booster`` holding the temperature and strength of
#: probability="auto"
TEMPERATURE_ATTR = "focalboost_temperature"
STRENGTH_ATTR = "focalboost_strength"


def calibrate(booster, X, y, loss, init, sample_weight=None, **kwargs):
    """Fit the strength and temperature of ``probability="auto"`` on held-out rows (``X``,
    encoded labels ``y``; margins at the best iteration, plus ``init``) and keep them on
    ``booster`` (the Python attributes ``focalboost_strength`` and ``focalboost_temperature``; a
    LightGBM model file does not keep them: pass ``strength=`` and ``temperature=`` to
    :func:`predict_proba` after loading one). Returns ``(strength, temperature)``. Rows beyond
    ``focalboost.calibration.MAX_FIT_MARGINS`` margins are sampled (``focalboost.calibration.fit_rows``).
    See :func:`focalboost.calibration.fit_strength_temperature`.

    Parameters
    ----------
    booster : lightgbm.Booster
        A booster trained with a focal objective.
    X : array-like
        Held-out rows.
    y : array-like of shape (n,)
        Their encoded labels.
    loss : BoostingLoss
        The focal loss the booster was trained with.
    init : float or array-like of shape (K,)
        The init score the booster was trained from (0 if it is folded into the trees).
    sample_weight : array-like of shape (n,), optional
        Row weights (default: all 1).
    **kwargs
        Passed to ``booster.predict`` (``num_iteration``, ...).

    Returns
    -------
    strength : float
        The fitted correction strength s.
    temperature : float
        The fitted temperature T.
    """
    from .calibration import fit_held_out

    margin = predict_margin(booster, X, init, **kwargs)
    s, T, _ = fit_held_out(check_loss(loss), y, margin, sample_weight)
    setattr(booster, TEMPERATURE_ATTR, T)
    setattr(booster, STRENGTH_ATTR, s)
    return s, T


def predict_proba(booster, X, loss, init, *, probability="auto", temperature=None, strength=None,
                  **kwargs):
    """Probabilities from a booster trained with a focal objective, as the estimators give them:
    (n, 2) binary, (n, K) multiclass. ``probability="auto"`` (default) is the posterior
    correction at a strength, of the margins divided by a temperature: ``strength`` and
    ``temperature`` if given, else those :func:`calibrate` (or a focal estimator's fit with an
    evaluation set) kept on ``booster``, else 1 and 1 (the exact posterior); ``"posterior"`` the
    exact class posterior, ``"focal"`` the raw sigmoid/softmax of the margins (see
    :func:`focalboost._adapter.probability_from_margin`).

    Parameters
    ----------
    booster : lightgbm.Booster
        A booster trained with a focal objective.
    X : array-like
        The rows to predict.
    loss : BoostingLoss
        A focalboost loss object (or any object with the loss contract).
    init : float or array-like of shape (K,)
        The init score the booster was trained from (0 if it is folded into the trees).
    probability : {"auto", "posterior", "focal"}, default "auto"
        ``"auto"``: the posterior correction at the strength, of the margins divided by the
        temperature; ``"posterior"``: the exact class posterior; ``"focal"``: the raw
        sigmoid/softmax (:mod:`focalboost.calibration`).
    temperature : float, optional
        Default: the booster's ``focalboost_temperature`` attribute (set by :func:`calibrate`),
        else 1.
    strength : float in [0, 1], optional
        Default: the booster's ``focalboost_strength`` attribute, else 1.
    **kwargs
        Passed to ``booster.predict`` (``num_iteration``, ...).

    Returns
    -------
    ndarray of shape (n, 2) or (n, K)
    """
    margin = predict_margin(booster, X, init, **kwargs)
    if temperature is None:
        temperature = getattr(booster, TEMPERATURE_ATTR, 1.0)
    if strength is None:
        strength = getattr(booster, STRENGTH_ATTR, 1.0)
    return probability_from_margin(check_loss(loss), margin, probability, temperature, strength,
                                   overwrite_margin=True)  # our own array (predict_margin)
