"""Native XGBoost hooks: ``xgb.train(params, dtrain, obj=objective(loss), custom_metric=metric(loss))``.

XGBoost (>= 3) with a custom objective reads ``base_score`` as a *margin* (default 0.5, i.e. a
probability of 0.62 for binary) and keeps it at predict time; it accepts a vector for multiclass.
:func:`training_params` sets it to the loss's best constant margin and switches off the default
metric, which would be computed on margins as if they were probabilities.

Example::

    loss = BinaryFocalLoss(gamma=2.0, alpha=0.25)
    params = {"max_depth": 4, "eta": 0.1, **training_params(loss, y_train)}
    booster = xgb.train(params, dtrain, 200, obj=objective(loss), custom_metric=metric(loss),
                        evals=[(dvalid, "valid")], early_stopping_rounds=20)
    proba = predict_proba(booster, xgb.DMatrix(X_test), loss)   # (n, 2) or (n, K)

:func:`train` does the same in one call (``train(params, dtrain, 200, loss=loss, evals=...)``)
and trains faster: it hands the objective XGBoost's own margins instead of the copy that
``xgb.train`` makes for a custom objective every round (:class:`_InPlaceMargins`).

The private XGBoost internals behind these fast paths (reading labels, weights and margins in
place) live in :mod:`focalboost._compat.xgboost`, each behind a feature check with a public
fallback; ``FOCALBOOST_FAST_PATHS=0`` switches them all off (:mod:`focalboost._compat`). The
names ``_info``, ``_training_margins``, ``_InPlaceMargins`` and ``_InPlaceMarginBooster`` are
re-exported here for the modules that use them.
"""

from __future__ import annotations

import numpy as np
import xgboost as xgb
from xgboost import collective

import logging

from . import _openmp_team
from .base import mean_from_sums
from ._compat.xgboost import InPlaceMarginBooster as _InPlaceMarginBooster  # noqa: F401
from ._compat.xgboost import InPlaceMargins as _InPlaceMargins
from ._compat.xgboost import dmatrix_info as _info
from ._compat.xgboost import training_margins as _training_margins  # noqa: F401
from ._adapter import (
    DEFAULT_METRIC_NAME,
    _Hook,
    check_loss,
    is_multiclass,
    is_multilabel,
    forked_after_openmp,
    library_gradient_hessian,
    probability_from_margin,
    warn_if_no_split,
    warn_if_omp_dynamic,
)


_logger = logging.getLogger("focalboost")


def _raw(loss, predt, n_rows):
    """XGBoost's margins as the loss expects them: (n,) binary, (n, K) multiclass, (n, L) multi-label."""
    predt = np.asarray(predt)
    if n_rows:
        per_row, rest = divmod(predt.size, n_rows)
        wanted = loss.n_classes if is_multiclass(loss) else 1 if loss.raw_ndim == 1 else loss.n_labels or per_row
        if rest or per_row != wanted:
            raise ValueError(
                f"XGBoost gave {predt.size} margins for {n_rows} rows, {predt.size / n_rows:g} per "
                f"row, but {type(loss).__name__} (a {loss.kind} loss) takes {wanted} per row: the "
                "booster's num_class does not match the loss (see focalboost.xgboost.train)"
            )
    if loss.raw_ndim == 1:
        return predt.reshape(n_rows)
    if n_rows == 0:  # an empty shard (a Dask worker holding no rows of an eval set)
        return predt.reshape(0, loss.n_classes if is_multiclass(loss) else (loss.n_labels or 0))
    return predt.reshape(n_rows, -1)


class XGBoostObjective(_Hook):
    """``(predt, dtrain) -> (grad, hess)`` for ``xgb.train(obj=...)``; weights applied once.

    Returns float32 arrays (XGBoost stores gradient pairs as float32: the values are exactly those
    it would round float64 results to) and reads labels and weights without copying them, so a
    round allocates nothing beyond the gradient and hessian (:func:`_info`).

    Parameters
    ----------
    loss : BoostingLoss
        A focalboost loss object (or any object with the loss contract).
    scale : float, default 1.0
        Constant factor on gradient and hessian (the estimators' ``loss_scale``).
    """

    def __init__(self, loss, scale=1.0):
        super().__init__(loss)
        self.scale = float(scale)  # FocalXGBClassifier's loss_scale (focalboost.sklearn); else 1
        warn_if_omp_dynamic(stacklevel=3)

    def __call__(self, predt, dtrain):
        return self._round_into(predt, dtrain, None)

    def _round_into(self, predt, dtrain, buffers):
        """``self(predt, dtrain)`` written into ``buffers`` (a
        :class:`focalboost._adapter.RoundBuffers`, or None for new arrays): what focalboost's own
        rounds call, as they hand the result to ``Booster.boost`` at once."""
        y = _info(dtrain, "label")
        raw = _raw(self.loss, predt, y.shape[0])
        # the kernels run in the calling thread, or (binary, opt-in) on XGBoost's own OpenMP
        # threads, but not in a child forked after they ran: they do not exist there
        with _openmp_team.team(_openmp_team.inside_xgboost(forked_after_openmp())):
            return library_gradient_hessian(self.loss, y, raw, _info(dtrain, "weight"), self.scale,
                                            buffers=buffers)


class XGBoostMetric(_Hook):
    """``(predt, dmatrix) -> (name, weighted mean loss)`` for ``xgb.train(custom_metric=...)``.

    Lower is better. ``predt`` are margins (XGBoost passes margins to custom metrics). In
    distributed training the value is the weighted mean over all workers' rows (:func:`mean_loss`).

    Parameters
    ----------
    loss : BoostingLoss
        A focalboost loss object (or any object with the loss contract).
    name : str, default "focal_loss"
        The metric's name in XGBoost's evaluation log.
    """

    def __init__(self, loss, name=DEFAULT_METRIC_NAME):
        super().__init__(loss)
        self.name = name
        warn_if_omp_dynamic(stacklevel=3)

    def __call__(self, predt, dmatrix):
        return self.name, mean_loss(self.loss, _info(dmatrix, "label"), predt, _info(dmatrix, "weight"))


def mean_loss(loss, y, predt, sample_weight=None):
    """Weighted mean loss sum(w * loss) / sum(w) of XGBoost margins ``predt``, over ALL rows.

    In distributed training (``xgboost.dask``, PySpark, any run inside an
    ``xgboost.collective.CommunicatorContext`` with more than one worker) each worker holds one
    shard: the two sums are all-reduced over the workers, so every worker returns the same,
    correctly weighted mean. (XGBoost alone would average per-worker means: wrong whenever the
    shards differ in size or weight.) Every worker evaluates every eval set once per round, so
    all workers make the same all-reduce calls; an empty shard contributes zeros. NaN when the
    weights sum to 0 over all workers (:func:`focalboost.base.mean_from_sums`).

    Parameters
    ----------
    loss : BoostingLoss
        A focalboost loss object (or any object with the loss contract).
    y : array-like of shape (n,) or (n, L)
        Labels.
    predt : array-like
        XGBoost margins.
    sample_weight : array-like of shape (n,), optional
        Row weights (an empty array means none).

    Returns
    -------
    float
    """
    raw = _raw(loss, predt, np.shape(y)[0])
    if sample_weight is not None and np.size(sample_weight) == 0:
        sample_weight = None  # XGBoost's "no weights" is an empty array
    sums = np.array(loss.loss_sums(y, raw, sample_weight), dtype=np.float64)
    if collective.get_world_size() > 1:
        sums = collective.allreduce(sums, collective.Op.SUM)
    return mean_from_sums(sums[0], sums[1])


def objective(loss):
    """The XGBoost objective callable of a focalboost loss.

    Parameters
    ----------
    loss : BoostingLoss
        A focalboost loss object (or any object with the loss contract).

    Returns
    -------
    XGBoostObjective
    """
    return XGBoostObjective(loss)


def metric(loss, name=DEFAULT_METRIC_NAME):
    """The XGBoost custom metric callable of a focalboost loss (weighted mean loss).

    Parameters
    ----------
    loss : BoostingLoss
        A focalboost loss object (or any object with the loss contract).
    name : str, default "focal_loss"
        The metric's name in XGBoost's evaluation log.

    Returns
    -------
    XGBoostMetric
    """
    return XGBoostMetric(loss, name)


def train(
    params, dtrain, num_boost_round=10, *, loss, custom_metric=None, callbacks=None, **kwargs
):
    """``xgb.train`` with the focal ``loss`` as objective; returns the trained ``Booster``.

    The same model as ``xgb.train(params, dtrain, num_boost_round, obj=objective(loss),
    custom_metric=metric(loss), ...)`` (tested bit for bit), but faster: every round the objective
    reads XGBoost's margins where XGBoost keeps them, instead of the copy into a new numpy array
    that ``xgb.train`` makes for a custom objective (1M rows: 4 MB and 0.6-1 ms a round; see
    :class:`_InPlaceMargins` and benchmarks/RESULTS.md).

    * ``params``: XGBoost's; whatever :func:`training_params` sets and ``params`` does not
      (``base_score`` = the loss's best constant margin, ``disable_default_eval_metric``,
      ``num_class``) is filled in from the labels and weights of ``dtrain``. A ``num_class``
      that does not fit the loss (a binary or multi-label loss with ``num_class`` > 1, a
      multiclass loss of another number of classes) is a ``ValueError`` before training.
    * ``xgb_model`` (continued training): the new trees start from the existing model's margins,
      and its ``base_score`` is kept as it is. It is *not* recomputed from ``dtrain``'s labels:
      ``base_score`` is added to every tree's output, so a new one would shift the margins of the
      trees already trained (by up to 0.63 in a 4,000-row test where the second batch had more
      positives) and silently change the model being continued. The old trees therefore give
      the same margins before and after (tested). A ``base_score`` in ``params`` that differs
      from the model's is refused (``ValueError``) for the same reason; ``num_class`` must match.
    * A model that cannot learn is a ``UserWarning`` before training: when the focal gradients
      and hessians at the starting margins are so small (a gamma of 50 or more makes
      (1 - p)^gamma underflow) that no tree can split under ``min_child_weight``
      (:func:`focalboost._adapter.no_split_reason` gives the criterion); not checked when
      continuing ``xgb_model``.
    * ``custom_metric``: default :func:`metric` (the weighted mean focal loss, for ``evals``
      and ``early_stopping_rounds``); pass your own to replace it.
    * every other keyword (``evals``, ``early_stopping_rounds``, ``evals_result``,
      ``verbose_eval``, ``callbacks``, ...) goes to ``xgb.train`` unchanged; ``obj`` is not
      accepted (the loss is the objective).

    Parameters
    ----------
    params : dict
        XGBoost's parameters.
    dtrain : xgboost.DMatrix
        Training data with labels (and weights).
    num_boost_round : int, default 10
        Number of boosting rounds.
    loss : BoostingLoss
        A focalboost loss object (or any object with the loss contract).
    custom_metric : callable, optional
        Default: :func:`metric` of ``loss``.
    callbacks : list of xgboost.callback.TrainingCallback, optional
        XGBoost callbacks (focalboost adds its own for the margins read in place).
    **kwargs
        Every other argument of ``xgb.train``.

    Returns
    -------
    xgboost.Booster
    """
    if "obj" in kwargs:
        raise TypeError("train() takes the objective from loss=...; do not pass obj")
    check_loss(loss)
    warn_if_omp_dynamic(stacklevel=2)
    params = dict(params)
    _check_num_class(loss, params.get("num_class"), "params")
    xgb_model = kwargs.get("xgb_model")
    if xgb_model is None:
        weights = _info(dtrain, "weight")
        defaults = training_params(loss, _info(dtrain, "label"), weights if weights.size else None)
    else:
        defaults = _continued_training_params(loss, xgb_model, params)
    params = {**defaults, **params}
    if xgb_model is None:
        _warn_if_no_split(loss, dtrain, params)
    hook = objective(loss)
    in_place = _InPlaceMargins(hook)
    try:
        booster = xgb.train(
            params,
            dtrain,
            num_boost_round,
            obj=hook,
            custom_metric=metric(loss) if custom_metric is None else custom_metric,
            callbacks=[*(callbacks or ()), in_place],
            **kwargs,
        )
    finally:
        in_place.restore()  # also when training raised (xgb.train then skips after_training)
    from .calibration import has_weight

    evals = [d for d, _ in (kwargs.get("evals") or ()) if d is not dtrain]
    weighted = bool(evals) and has_weight(_info(evals[-1], "weight"))
    if evals and weighted and not is_multilabel(loss):
        calibrate(booster, evals[-1], loss)
    else:
        why = ("multi-label loss" if is_multilabel(loss) else "the last evals' weights sum to 0"
               if evals else "no evals other than dtrain")
        _logger.info("focalboost: xgboost.train: %s, so predict_proba(probability='auto') uses "
                     "the exact posterior (temperature 1)", why)
    return booster


#: the booster attributes holding the temperature and strength of probability="auto" (decimal
#: strings, kept in model files)
TEMPERATURE_ATTR = "focalboost_temperature"
STRENGTH_ATTR = "focalboost_strength"


def calibrate(booster, dmatrix, loss):
    """Fit the strength and temperature of ``probability="auto"`` on held-out ``dmatrix``
    (labels, weights, margins at the best iteration) and store them on ``booster`` as the
    attributes ``"focalboost_strength"`` and ``"focalboost_temperature"`` (kept in model files);
    returns ``(strength, temperature)``.

    :func:`train` calls it on the last of its ``evals`` (other than ``dtrain``). See
    :func:`focalboost.calibration.fit_strength_temperature`.

    Parameters
    ----------
    booster : xgboost.Booster
        A booster trained with a focal objective.
    dmatrix : xgboost.DMatrix
        Held-out rows with their labels (and weights, if any).
    loss : BoostingLoss
        The focal loss the booster was trained with.

    Returns
    -------
    strength : float
        The fitted correction strength s.
    temperature : float
        The fitted temperature T.
    """
    from .calibration import fit_held_out

    loss = check_loss(loss)
    y = _info(dmatrix, "label")
    margin = _raw(loss, predict_margin(booster, dmatrix), y.shape[0])
    s, T, rows = fit_held_out(loss, y, margin, _info(dmatrix, "weight"))
    booster.set_attr(**{TEMPERATURE_ATTR: repr(T), STRENGTH_ATTR: repr(s)})
    _logger.info("focalboost: xgboost: strength %.4g and temperature %.6g fitted on %d of %d "
                 "held-out rows (log loss) for predict_proba(probability='auto')", s, T,
                 rows.shape[0], y.shape[0])
    return s, T


def booster_calibration(booster):
    """``(strength, temperature)`` stored on ``booster`` by :func:`calibrate` ((1.0, 1.0), the
    exact posterior, when there are none).

    Parameters
    ----------
    booster : xgboost.Booster
        A booster, with or without the attributes.

    Returns
    -------
    strength : float
        The stored correction strength, else 1.
    temperature : float
        The stored temperature, else 1.
    """
    s, T = booster.attr(STRENGTH_ATTR), booster.attr(TEMPERATURE_ATTR)
    return (1.0 if s is None else float(s)), (1.0 if T is None else float(T))


def _warn_if_no_split(loss, dtrain, params):
    """The no-split warning (:func:`focalboost._adapter.warn_if_no_split`) at the margins
    training starts from: ``dtrain``'s base_margin if set, else ``base_score``."""
    y = _info(dtrain, "label")
    n = y.shape[0]
    margin = dtrain.get_base_margin()
    if margin is not None and np.size(margin):
        raw = _raw(loss, margin, n)
    else:
        start = np.asarray(params.get("base_score", 0.5), dtype=np.float64)
        if loss.raw_ndim == 1:
            raw = np.full(n, float(start.reshape(-1)[0]))
        else:
            width = loss.n_classes if is_multiclass(loss) else (np.shape(y)[1] if np.ndim(y) == 2 else 1)
            raw = np.tile(np.broadcast_to(start.reshape(-1), (width,)), (n, 1))
    weights = _info(dtrain, "weight")
    warn_if_no_split(loss, y, raw, weights if weights.size else None,
                     min_hessian=float(params.get("min_child_weight", 1.0)), stacklevel=3)


def _check_num_class(loss, num_class, where):
    """``num_class`` (from ``params`` or a model) fits the loss: K for a K-class loss; 0, 1 or
    unset for a binary or multi-label one (one output per row, or per label)."""
    if num_class is None:
        return
    try:
        value = int(num_class)
    except (TypeError, ValueError):
        raise ValueError(f"{where} num_class must be an integer, got {num_class!r}") from None
    if is_multiclass(loss):
        if value != loss.n_classes:
            raise ValueError(
                f"{where} num_class={value} does not match loss={loss!r}, a multiclass loss of "
                f"{loss.n_classes} classes: set num_class={loss.n_classes} (or leave it out)"
            )
    elif value > 1:
        raise ValueError(
            f"{where} num_class={value} does not fit loss={loss!r}, a {loss.kind} loss (one margin "
            f"per row{'' if loss.kind == 'binary' else ' and label'}): leave num_class out (or 0/1), "
            f"or use MulticlassFocalLoss(n_classes={value}) for {value} classes"
        )


def _model_config(xgb_model):
    """The learner parameters of ``xgb_model`` (a Booster, a model file or its bytes)."""
    import json

    booster = xgb_model if isinstance(xgb_model, xgb.Booster) else xgb.Booster(model_file=xgb_model)
    return json.loads(booster.save_config())["learner"]["learner_model_param"]


def _base_score_values(value):
    """``base_score`` (a number, a list, or XGBoost's config string "[a,b]") as float32 values:
    the precision XGBoost keeps it in."""
    if isinstance(value, str):
        value = [float(v) for v in value.strip("[]").split(",") if v.strip()]
    return np.atleast_1d(np.asarray(value, dtype=np.float64)).astype(np.float32)


def _continued_training_params(loss, xgb_model, params):
    """Defaults for continuing ``xgb_model``: its own ``base_score`` (left unset: XGBoost keeps
    the loaded model's), ``num_class`` checked against the loss."""
    model = _model_config(xgb_model)
    _check_num_class(loss, model.get("num_class"), "xgb_model's")
    if "base_score" in params:
        mine, theirs = _base_score_values(params["base_score"]), _base_score_values(model["base_score"])
        comparable = mine.shape == theirs.shape or mine.size == 1
        if not (comparable and np.all(mine == theirs)):
            raise ValueError(
                f"params base_score={params['base_score']!r} differs from the base_score of the "
                f"model being continued ({model['base_score']}): every tree's output is added to "
                "base_score, so a new one would change the margins of the trees already trained. "
                "Leave base_score out to keep the model's"
            )
    defaults = {"disable_default_eval_metric": True}
    if is_multiclass(loss):
        defaults["num_class"] = loss.n_classes
    return defaults


def training_params(loss, y, sample_weight=None):
    """Parameters a custom focal objective needs: margin-space ``base_score`` and metric settings.

    Returns ``{"base_score": init, "disable_default_eval_metric": True}`` plus ``num_class`` for a
    multiclass loss; merge them into your own parameters. For a multi-label loss (2-D labels)
    XGBoost trains one output per label (``multi_strategy``, default ``"one_output_per_tree"``)
    and ``base_score`` is the vector of per-label init scores.

    Parameters
    ----------
    loss : BoostingLoss
        A focalboost loss object (or any object with the loss contract).
    y : array-like of shape (n,) or (n, L)
        The training labels.
    sample_weight : array-like of shape (n,), optional
        The training weights.

    Returns
    -------
    dict
    """
    check_loss(loss)
    init = np.asarray(loss.init_score(y, sample_weight), dtype=np.float64)
    params = {"disable_default_eval_metric": True}
    if is_multiclass(loss):
        params["num_class"] = loss.n_classes
    params["base_score"] = float(init) if init.ndim == 0 else [float(v) for v in init]
    return params


def best_iteration_range(booster):
    """``iteration_range`` of the rounds up to the best one after early stopping (the
    ``best_iteration`` attribute ``xgb.train`` sets), else ``(0, 0)``: every round.

    Parameters
    ----------
    booster : xgboost.Booster
        A trained booster.

    Returns
    -------
    (int, int)
    """
    best = booster.attr("best_iteration")
    return (0, int(best) + 1) if best is not None else (0, 0)


def predict_margin(booster, dmatrix, *, iteration_range=None, **kwargs):
    """Margins including ``base_score`` (and any ``base_margin`` set on ``dmatrix``), from the
    rounds up to the best iteration after early stopping unless ``iteration_range`` is given
    (``xgb.Booster.predict`` itself uses every round; ``XGBClassifier`` the best ones).

    Parameters
    ----------
    booster : xgboost.Booster
        A booster trained with a focal objective.
    dmatrix : xgboost.DMatrix
        The rows to predict.
    iteration_range : (int, int), optional
        Rounds to use; default :func:`best_iteration_range`.
    **kwargs
        Passed to ``booster.predict``.

    Returns
    -------
    ndarray of shape (n,), (n, K) or (n, L)
    """
    if iteration_range is None:
        iteration_range = best_iteration_range(booster)
    return booster.predict(dmatrix, output_margin=True, iteration_range=iteration_range, **kwargs)


def predict_proba(booster, dmatrix, loss, *, probability="auto", temperature=None, strength=None,
                  **kwargs):
    """Probabilities from a booster trained with a focal objective, as the estimators give them.

    (n, 2) binary, (n, K) multiclass, (n, L) positive-class probabilities for multi-label.
    ``probability="auto"`` (default) is the posterior correction at the booster's strength of
    the margins divided by its temperature (:func:`booster_calibration`: fitted by :func:`train`
    on its last ``evals``, 1 and 1 without; ``strength`` and ``temperature`` override them);
    ``"posterior"`` the exact class posterior (the focal distortion undone), ``"focal"`` the raw
    sigmoid/softmax of the margins; see :func:`focalboost._adapter.probability_from_margin`. The
    best iteration is used after early stopping unless ``iteration_range`` says otherwise
    (:func:`predict_margin`).

    Parameters
    ----------
    booster : xgboost.Booster
        A booster trained with a focal objective.
    dmatrix : xgboost.DMatrix
        The rows to predict.
    loss : BoostingLoss
        A focalboost loss object (or any object with the loss contract).
    probability : {"auto", "posterior", "focal"}, default "auto"
        ``"auto"``: the posterior correction at the booster's strength, of the margins divided by
        its temperature; ``"posterior"``: the exact class posterior; ``"focal"``: the raw
        sigmoid/softmax (:mod:`focalboost.calibration`).
    temperature : float, optional
        Overrides the booster's ``"focalboost_temperature"`` attribute (default: that attribute,
        else 1).
    strength : float in [0, 1], optional
        Overrides the booster's ``"focalboost_strength"`` attribute (default: that attribute,
        else 1).
    **kwargs
        Passed to :func:`predict_margin` (``iteration_range``, ...).

    Returns
    -------
    ndarray of shape (n, 2), (n, K) or (n, L)
    """
    margin = predict_margin(booster, dmatrix, **kwargs)
    stored_s, stored_T = booster_calibration(booster)
    temperature = stored_T if temperature is None else temperature
    strength = stored_s if strength is None else strength
    return probability_from_margin(check_loss(loss), margin, probability, temperature, strength)
