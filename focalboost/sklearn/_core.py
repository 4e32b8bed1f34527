"""The estimator core: everything the four focal estimators share, written once.

:class:`~focalboost.FocalXGBClassifier`, :class:`~focalboost.FocalLGBMClassifier` and their Dask
twins (:mod:`focalboost.dask`) are thin layers over this module:

* the focal parameters (``gamma``, ``alpha``, ``hessian``, ``loss_scale``, ``probability``), their
  defaults, constraints and documentation: one table, installed on each class by
  :func:`focal_estimator` (``__init__`` with the right signature, ``get_params``,
  ``set_params``, ``_parameter_constraints``);
* targets and weights: label encoding, multi-label indicators, ``sample_weight`` checks,
  ``scale_pos_weight`` and ``class_weight`` as per-class factors (:func:`pos_weight_factors`,
  :func:`class_weight_factors`);
* what ``fit`` derives before calling a library (:class:`FocalSetup`: alpha, loss, init score,
  loss scale, objective), and the init score a user ``base_score`` stands for
  (:func:`init_score_from_base_score`);
* the XGBoost engine both XGBoost estimators train (:func:`xgboost_engine_params`,
  :func:`store_xgboost_fit`, :func:`xgboost_eval_metric`);
* ``predict_proba`` and ``predict`` from margins (:func:`proba_from_margin`,
  :func:`labels_from_margin`), the same rule for every estimator.

Design (the user guide explains it for users: docs/user_guide/estimators.md)
----------------------------------------------------------------------------
*Subclasses, not wrappers.* Each estimator subclasses the library's own classifier, so every
parameter of ``XGBClassifier`` / ``LGBMClassifier`` keeps its name, meaning and default, and the
library's fit-time conventions (``eval_set``, ``early_stopping_rounds``, ``callbacks``,
``best_iteration``, ``evals_result_``, ``feature_importances_``, ...) are the library's own code.
The library's ``objective`` is not a parameter: it is always the focal loss. XGBoost's
``get_params`` walks ``__bases__[0]``, so the library class (or a mixin without ``get_params``)
must stay the first base: that is why the shared parameter methods are installed by a class
decorator rather than inherited from a mixin.

*Name clash (XGBoost).* ``XGBClassifier`` has its own ``gamma`` (= ``min_split_loss``) and accepts
``alpha`` (= ``reg_alpha``). Here ``gamma`` and ``alpha`` are the *focal* parameters, in every
estimator; XGBoost's minimum split loss is ``min_split_loss`` and its L1 penalty ``reg_alpha``.
The focal parameters never reach the booster (a test checks the booster's config).

*Init score.* Boosting starts from the focal loss's best constant margin (``init_score_``), as the
built-in objectives start from the log-loss one. XGBoost keeps it in the model (``base_score``);
LightGBM does not keep an ``init_score``, so the LightGBM estimators add ``init_score_`` to the
booster's raw scores themselves.

*No stalling.* Focal hessians are small for well-classified rows ((1 - p_t)^gamma shrinks them),
and XGBoost does not split a node whose hessian sum is below ``min_child_weight`` (default 1).
What stalls boosting is the *starting point*: at the log-loss init (the class log-odds, where
``boost_from_average``-style starts put it) a rare class makes every majority row
well-classified, and the mean focal hessian is 4 to 20 times smaller than the log loss's (5 % to
1 % positives, gamma=2; 0.0005 vs 0.0099 per row at 1 %), so the first trees have no split. The
focal loss's own best constant is much less extreme (p = 0.15 instead of 0.01 in that example)
and its hessians there are *larger* than the log loss's at the log-loss init; starting from it
(``init_score_``), trees split from the first round under every library default
(tests/test_sklearn.py shows both). The positive hessian (default) also keeps confidently wrong
rows from subtracting curvature.

*Loss scale.* ``loss_scale`` multiplies the focal gradient and hessian by a constant (the
minimiser does not move; only ``min_child_weight``, ``reg_lambda``, ``reg_alpha`` and
``min_split_loss`` / ``min_split_gain`` see it). The default 1.0 trains on the focal loss as
written, exactly like the native hooks (:mod:`focalboost.xgboost`, :mod:`focalboost.lightgbm`).
``"auto"`` is for hyper-parameters tuned on log loss: it makes the weighted mean hessian at the
focal init equal to the log loss's at the log-loss init (exactly 1 for ``gamma=0,
alpha=None``). It is not a stalling fix: for gamma <= 2 it is usually < 1 (0.3-0.5 on
imbalanced data). Metrics (``focal_loss``) are always reported unscaled.
"""

from __future__ import annotations

import inspect
import logging
import numbers
import sys
from collections.abc import Mapping
from numbers import Real

import numpy as np
from scipy import sparse
from scipy.special import expit, logit
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import assert_all_finite, column_or_1d
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_consistent_length,
    check_is_fitted,
)

from .. import _openmp_team
from .._adapter import (
    DEFAULT_METRIC_NAME,
    PROBABILITY_CHOICES,
    RoundBuffers,
    forked_after_openmp,
    init_score_rows,
    library_gradient_hessian,
    probability_from_margin,
    warn_if_no_split,
)
from .._validation import HESSIAN_CHOICES, check_binary_alpha, check_class_alpha
from ..class_weights import ALPHA_METHODS, binary_alpha, class_alpha
from ..losses import BinaryFocalLoss, MulticlassFocalLoss, MultiLabelFocalLoss

_logger = logging.getLogger("focalboost")

#: the focal parameters every focal estimator adds, with their defaults (never passed to a booster)
FOCAL_DEFAULTS = {
    "gamma": 2.0,
    "alpha": None,
    "hessian": "positive",
    "loss_scale": 1.0,
    "probability": "auto",
}
FOCAL_PARAMS = tuple(FOCAL_DEFAULTS)
#: LightGBM's names (and aliases) of its objective parameter, rejected by the LightGBM estimators
LGBM_OBJECTIVE_NAMES = ("objective", "objective_type", "app", "application", "loss")

FOCAL_CONSTRAINTS = {
    "gamma": [Interval(Real, 0, None, closed="left")],
    "alpha": [
        None,
        Interval(Real, 0, 1, closed="neither"),
        StrOptions(set(ALPHA_METHODS)),
        Mapping,
        "array-like",
    ],
    "hessian": [StrOptions(set(HESSIAN_CHOICES))],
    "loss_scale": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
    "probability": [StrOptions(set(PROBABILITY_CHOICES))],
}

FOCAL_PARAMS_DOC = """
    gamma : float >= 0, default=2.0
        Focusing parameter of the focal loss -alpha_t (1 - p_t)^gamma log p_t. ``gamma=0`` is
        (alpha-weighted) log loss. **Not** XGBoost's ``gamma`` (minimum split loss): that one is
        ``min_split_loss`` here.
    alpha : None, float, mapping, array-like or {"balanced", "inverse_frequency", "enet"}, \
default=None
        Class weights inside the loss. ``None``: no weighting. Binary problems: a float in (0, 1)
        is the weight of ``classes_[1]`` (``classes_[0]`` gets ``1 - alpha``). Any problem: a
        mapping ``{label: weight}`` covering every class, or an array of positive weights in
        ``classes_`` order (binary: only the ratio matters, converted to ``w1 / (w0 + w1)``).
        A string computes the weights from the class frequencies of ``y`` weighted by
        ``sample_weight`` (and ``class_weight`` / ``scale_pos_weight``) with
        :func:`focalboost.class_alpha` / :func:`focalboost.binary_alpha`. The value used is
        stored in ``alpha_``. **Not** XGBoost's ``alpha`` (L1 penalty): that one is
        ``reg_alpha``.
    hessian : {"positive", "exact"}, default="positive"
        ``"exact"`` is the true second derivative, negative for confidently wrong rows (boosting
        learns nothing from them); ``"positive"`` drops its one negative term.
    loss_scale : float > 0 or "auto", default=1.0
        Constant factor on the focal gradient and hessian. It does not move the minimiser; it
        changes how ``min_child_weight``, ``reg_lambda``, ``reg_alpha`` and the split-gain
        thresholds act.
        ``1.0`` trains on the focal loss as written (as the native hooks do). ``"auto"`` makes
        the weighted mean hessian at the focal init equal to that of log loss at its own init,
        for hyper-parameters tuned on log loss (exactly 1 for ``gamma=0, alpha=None``). Stalling
        is prevented by starting from the focal init score, not by this factor (see
        :doc:`/user_guide/estimators`). The value used is stored in ``loss_scale_``. Reported metrics are
        unscaled.
    probability : {"auto", "posterior", "focal"}, default="auto"
        What ``predict_proba`` returns. A focal model's sigmoid/softmax output is not the class
        posterior (gamma makes it under-confident, alpha shifts it). ``"posterior"`` undoes that
        known distortion exactly (:mod:`focalboost.posterior`; the identity for ``gamma=0,
        alpha=None``): right at the focal optimum, too sharp for an overfit booster.
        ``"auto"`` is that correction at a strength ``strength_`` (gamma s, alpha^s; s = 0 is
        the raw output) of the margins divided by a temperature ``temperature_``, both fitted
        (log loss) on the last ``eval_set`` at the best iteration
        (:mod:`focalboost.calibration`); without an evaluation set they are 1 and 1, the exact
        posterior, unless :class:`~focalboost.FocalSearchCV` refits the model (it fits them on
        its out-of-fold margins; ``probability_calibration_`` says which). ``"focal"`` returns the raw sigmoid/softmax of
        the margins. Both corrections are monotone in the margin, so binary rankings (ROC/PR
        AUC) do not change. ``predict`` returns ``classes_[argmax(predict_proba(X))]`` in every
        mode (multi-label: each label's probability > 1/2). With ``alpha``, the cost-weighted
        decision alpha implies is the class of largest margin: ``probability="focal"``, or for
        binary problems ``sklearn.model_selection.FixedThresholdClassifier`` at the posterior of
        margin 0 (see
        :doc:`/user_guide/probabilities`). Metrics computed during training see the raw (focal)
        probabilities."""

FOCAL_ATTRIBUTES_DOC = """
    classes_ : ndarray of shape (n_classes,)
        The original class labels.
    n_classes_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names (pandas).
    loss_ : BinaryFocalLoss or MulticlassFocalLoss
        The (unscaled) loss, on the encoded labels 0..n_classes-1.
    alpha_ : None, float or ndarray of shape (n_classes,)
        The class weights used.
    init_score_ : float or ndarray of shape (n_classes,)
        The initial margin boosting started from.
    loss_scale_ : float
        The factor applied to gradients and hessians.
    temperature_, strength_ : float
        The temperature and correction strength of ``probability="auto"``: fitted on the last
        ``eval_set`` (at the best iteration), 1.0 and 1.0 (the exact posterior) without one;
        a refit of :class:`~focalboost.FocalSearchCV` fits them on the search's out-of-fold
        margins instead.
    probability_calibration_ : str
        Where they come from, in words (also logged on the ``focalboost`` logger)."""


# --- the parameter table, installed on each estimator class ----------------------------------------
#: what differs between the libraries: the names of the objective parameter (rejected), the
#: parameters added to the focal ones, what the library's ``__init__`` is always given
_LIBRARIES = {
    "xgboost": dict(
        objective_names=("objective",),
        extra={"min_split_loss": None},  # XGBoost's own gamma, under its other name
        library_defaults={"objective": None},
    ),
    "lightgbm": dict(objective_names=LGBM_OBJECTIVE_NAMES, extra={}, library_defaults={}),
}


def focal_estimator(library):
    """Class decorator: the focal parameters on a subclass of a ``library`` classifier
    (``"xgboost"`` or ``"lightgbm"``).

    Installs ``__init__`` (keyword-only focal parameters plus the library's extra ones, then every
    library parameter through ``**kwargs``; its signature is what scikit-learn's ``get_params``
    reads), ``get_params`` (without ``objective``: always the focal loss), ``set_params`` (rejects
    the library's objective names), ``_parameter_constraints`` (the focal ones) and, for XGBoost,
    ``get_xgb_params`` (the booster never sees a focal parameter).
    """
    spec = _LIBRARIES[library]
    own = {**FOCAL_DEFAULTS, **spec["extra"]}
    fixed = spec["library_defaults"]

    def decorate(cls):
        def __init__(self, **kwargs):
            values = {name: kwargs.pop(name, default) for name, default in own.items()}
            reject_objective(self, kwargs)
            super(cls, self).__init__(**fixed, **kwargs)
            for name, value in values.items():  # stored as given (scikit-learn's rule)
                setattr(self, name, value)

        kind = inspect.Parameter
        __init__.__signature__ = inspect.Signature(
            [kind("self", kind.POSITIONAL_OR_KEYWORD)]
            + [kind(name, kind.KEYWORD_ONLY, default=value) for name, value in own.items()]
            + [kind("kwargs", kind.VAR_KEYWORD)]
        )

        def get_params(self, deep=True):
            """Parameters of this estimator: the focal ones and every library one.

            Parameters
            ----------
            deep : bool, default True
                Also return the parameters of contained estimators (scikit-learn's convention).

            Returns
            -------
            dict
            """
            params = super(cls, self).get_params(deep)
            params.pop("objective", None)  # always the focal loss: not a parameter
            return params

        def set_params(self, **params):
            """Set parameters (the library's rules; ``objective`` and its aliases are rejected).

            Parameters
            ----------
            **params
                Parameter names and values.

            Returns
            -------
            self
            """
            reject_objective(self, params)
            return super(cls, self).set_params(**params)

        def get_xgb_params(self):
            """Parameters for the booster: the focal ones (and ``objective``) are never included."""
            params = super(cls, self).get_xgb_params()
            for name in FOCAL_PARAMS + ("objective", "scale_pos_weight"):
                params.pop(name, None)
            if params.get("min_split_loss", 0) is None:
                del params["min_split_loss"]
            return params

        def save_model(self, fname):
            """Save the model in XGBoost's format (JSON or UBJSON, by the file name's extension)
            with its focal metadata (classes, focal parameters, init score, probability mode) as
            the booster attribute ``"focalboost"``. ``load_model`` of a focal estimator restores
            it whole; a plain ``xgboost.Booster`` loads it and gives the same margins
            (``predict(output_margin=True)``); ``xgboost.XGBClassifier().load_model`` refuses it
            (its ``predict_proba`` would not be this model's probability).

            Parameters
            ----------
            fname : str or path-like
                The file; ``.json`` or ``.ubj`` chooses the format.
            """
            from ._persistence import xgboost_save_model

            check_is_fitted(self, "loss_")
            xgboost_save_model(self, fname)

        def load_model(self, fname):
            """Load a model written by ``save_model`` (a path, or the file's bytes as a
            ``bytearray``): the booster, classes, focal parameters, init score and probability
            mode. Returns the estimator.

            Parameters
            ----------
            fname : str, path-like or bytearray
                The file, or its bytes.

            Returns
            -------
            self
            """
            from ._persistence import xgboost_load_model

            self._classes = xgboost_load_model(self, fname, super(cls, self).load_model)
            return self

        def classes_(self):
            """The original class labels (XGBoost itself only knows 0..K-1)."""
            try:
                return self._classes
            except AttributeError:
                raise AttributeError(f"{type(self).__name__} is not fitted: no classes_") from None

        methods = [__init__, get_params, set_params]
        if library == "xgboost":
            methods += [get_xgb_params, save_model, load_model]
            cls._trains_with_xgboost = True  # binary kernels run on XGBoost's OpenMP threads
            cls.classes_ = property(classes_)
        for func in methods:
            func.__qualname__ = f"{cls.__qualname__}.{func.__name__}"
            func.__module__ = cls.__module__
            setattr(cls, func.__name__, func)
        cls._parameter_constraints = dict(FOCAL_CONSTRAINTS)
        cls._objective_names = spec["objective_names"]
        return cls

    return decorate


def reject_objective(estimator, params):
    for name in params:
        if name in estimator._objective_names:
            raise ValueError(
                f"Invalid parameter {name!r} for {type(estimator).__name__}: it always trains "
                "with the focal loss (set gamma, alpha, hessian, loss_scale); use the library's "
                "own classifier for another objective"
            )


def reject_continued_training(name, value, estimator):
    if value is not None:
        raise NotImplementedError(
            f"{type(estimator).__name__}.fit does not support {name} (continued training): the "
            "focal init score would not be carried over"
        )


def reject_is_unbalance(estimator, params):
    if params.get("is_unbalance"):
        raise ValueError(
            f"is_unbalance is not used by {type(estimator).__name__}; use alpha='balanced' "
            "(inside the focal loss) or class_weight='balanced' (sample weights)"
        )


# --- targets and weights -------------------------------------------------------------------------
def encode_targets(y):
    """1-D finite classification targets -> (codes 0..K-1, classes_). At least two classes."""
    y = column_or_1d(y, warn=True)
    if y.shape[0] == 0:
        raise ValueError("y has 0 samples; a classifier needs samples of at least 2 classes")
    if y.dtype.kind in "fc":
        assert_all_finite(y, input_name="y")
    check_classification_targets(y)
    encoder = LabelEncoder().fit(y)
    check_two_classes(encoder.classes_)
    return encoder.transform(y), encoder.classes_


def check_two_classes(classes):
    """The sorted unique labels of ``y`` must hold at least 2 classes."""
    if classes.shape[0] < 2:
        raise ValueError(
            "y must contain at least 2 classes to fit a classifier; it contains only one class: "
            f"{classes[0]!r}"
        )


def encoder_for(classes):
    """A fitted ``LabelEncoder`` for known ``classes`` (evaluation labels, Dask partitions)."""
    encoder = LabelEncoder()
    encoder.classes_ = classes
    return encoder


def is_multilabel(y):
    """A 2-D y with more than one column: a multi-label indicator matrix (as for XGBClassifier)."""
    y = y if hasattr(y, "ndim") and hasattr(y, "shape") else np.asarray(y)
    return y.ndim == 2 and y.shape[1] > 1


def indicator_targets(y):
    """2-D 0/1 indicator y (n, L) as float64; every label column must hold both values."""
    Y = check_array(y, dtype=np.float64, input_name="y")
    if not np.all((Y == 0) | (Y == 1)):
        bad = np.unique(Y[(Y != 0) & (Y != 1)])[:5].tolist()
        raise ValueError(f"a 2-D y is a multi-label indicator matrix and must hold only 0 and 1, found {bad}")
    constant = np.flatnonzero(Y.min(axis=0) == Y.max(axis=0))
    if constant.size:
        raise ValueError(
            f"multi-label y: label column(s) {constant.tolist()} hold a single value; every label "
            "needs both 0 and 1 rows"
        )
    return Y


def check_class_totals(totals, classes):
    """Class weight totals of ``sample_weight``: some weight, and on at least two classes."""
    if not np.any(totals > 0):
        raise ValueError("sample_weight must contain at least one non-zero weight; all are zero")
    if np.count_nonzero(totals) < 2:
        raise ValueError(
            "sample_weight leaves only one class with positive weight "
            f"({classes[np.flatnonzero(totals)].tolist()}); at least 2 classes are needed"
        )


def check_weights(sample_weight, X, y_codes, classes):
    """Validated float64 weights (or None); every class-with-weight check raises a ValueError."""
    if sample_weight is None:
        return None
    w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    check_class_totals(np.bincount(y_codes, weights=w, minlength=classes.shape[0]), classes)
    return w


def pos_weight_factors(scale_pos_weight, n_classes):
    """``scale_pos_weight`` as per-class multipliers (binary: of classes_[1] rows), or None.

    XGBoost and LightGBM ignore ``scale_pos_weight`` for custom objectives, so the focal
    estimators apply it to the sample weights, as ``XGBClassifier`` applies it to the gradients.
    """
    spw = scale_pos_weight
    if spw is None:
        return None
    if isinstance(spw, bool) or not isinstance(spw, numbers.Real) or not spw > 0:
        raise ValueError(f"scale_pos_weight must be a number > 0, got {spw!r}")
    if spw == 1.0:
        return None
    if n_classes != 2:
        raise ValueError(
            "scale_pos_weight is defined for binary problems only; y has "
            f"{n_classes} classes (use alpha for per-class weights)"
        )
    return np.array([1.0, float(spw)])


def class_weight_factors(class_weight, classes, counts):
    """``class_weight`` as per-class multipliers (LightGBM's / scikit-learn's rules), or None:
    ``"balanced"`` is n / (K n_k) on the unweighted class ``counts``, a mapping gives a factor per
    class (1 for classes it leaves out)."""
    if class_weight is None:
        return None
    if isinstance(class_weight, str) and class_weight == "balanced":
        return counts.sum() / (classes.shape[0] * counts)
    if isinstance(class_weight, Mapping):
        return np.array([float(class_weight.get(c, 1.0)) for c in classes.tolist()])
    raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {class_weight!r}")


def combine_factors(*factors):
    """The product of per-class multipliers (None stands for all ones); None if all are None."""
    given = [f for f in factors if f is not None]
    if not given:
        return None
    out = np.ones_like(given[0])
    for f in given:
        out = out * f
    return out


def times_factors(weights, y_codes, factors):
    """``weights`` (or 1) times ``factors[code]`` per row; ``weights`` unchanged if no factors."""
    if factors is None:
        return weights
    base = np.ones(y_codes.shape[0]) if weights is None else weights
    return base * factors[y_codes]


class LocalTargets:
    """Targets and weights of a single-machine ``fit``, checked and encoded.

    ``codes``: labels 0..K-1 (or the (n, L) indicator matrix for a multi-label ``y``, with
    ``classes`` None); ``weights``: what the library gets as ``sample_weight`` (``sample_weight``
    times ``scale_pos_weight``); ``loss_weights``: what the objective sees (times
    ``class_weight`` too, which LightGBM multiplies in itself).
    """

    def __init__(self, X, y, sample_weight, params, *, multilabel=False):
        self.multilabel = multilabel
        if multilabel:  # 2-D indicator y: one sigmoid focal loss per label (multi-output trees)
            self.codes, self.classes = indicator_targets(y), None
            check_consistent_length(X, self.codes)
            self.weights = None
            if sample_weight is not None:
                self.weights = _check_sample_weight(
                    sample_weight, X, dtype=np.float64, ensure_non_negative=True
                )
            if params.get("scale_pos_weight") is not None:
                raise ValueError(
                    "scale_pos_weight is for binary problems; with a multi-label y give alpha "
                    "per label instead"
                )
            self.loss_weights = self.weights
            return
        self.codes, self.classes = encode_targets(y)
        check_consistent_length(X, self.codes)
        weights = check_weights(sample_weight, X, self.codes, self.classes)
        K = self.classes.shape[0]
        self.weights = times_factors(
            weights, self.codes, pos_weight_factors(params.get("scale_pos_weight"), K)
        )
        class_weight = params.get("class_weight")  # LightGBM only
        counts = np.bincount(self.codes, minlength=K).astype(np.float64)
        self.loss_weights = times_factors(
            self.weights, self.codes, class_weight_factors(class_weight, self.classes, counts)
        )


# --- alpha, loss, init score, loss scale ---------------------------------------------------------
def _resolve_alpha(alpha, classes, y_codes, weights):
    """The ``alpha`` parameter -> None, a binary float, or a length-K vector (classes_ order)."""
    K = classes.shape[0]
    if alpha is None:
        return None
    if isinstance(alpha, str):  # one of ALPHA_METHODS (checked by _parameter_constraints)
        if K == 2:
            return binary_alpha(y_codes, alpha, sample_weight=weights)
        return class_alpha(y_codes, alpha, n_classes=K, sample_weight=weights)
    if isinstance(alpha, numbers.Real):
        if K != 2:
            raise ValueError(
                f"alpha={alpha!r} is a single number, which is the weight of classes_[1] in a "
                f"binary problem, but y has {K} classes; give a mapping {{label: weight}} or an "
                f"array of {K} weights in classes_ order"
            )
        return check_binary_alpha(alpha)
    if isinstance(alpha, Mapping):
        labels = classes.tolist()
        unknown = [key for key in alpha if key not in labels]
        missing = [label for label in labels if label not in alpha]
        if unknown or missing:
            raise ValueError(
                f"alpha as a mapping must give a weight for every class of y and nothing else; "
                f"classes {labels}, unknown keys {unknown}, missing classes {missing}"
            )
        vector = [alpha[label] for label in labels]
    else:
        vector = alpha
    vector = check_class_alpha(vector, K)
    if K == 2:  # only the ratio matters for binary focal loss: alpha = w1 / (w0 + w1)
        return float(vector[1] / (vector[0] + vector[1]))
    return vector


def _make_loss(n_classes, gamma, alpha, hessian):
    if n_classes == 2:
        return BinaryFocalLoss(gamma=gamma, alpha=alpha, hessian=hessian)
    return MulticlassFocalLoss(n_classes, gamma=gamma, alpha=alpha, hessian=hessian)


def _mean_hessian_at(loss, init, totals):
    """Summed hessian of ``loss`` at the constant margin ``init``, weighted by class ``totals``."""
    K = totals.shape[0]
    labels = np.arange(K)
    raw = init_score_rows(loss, labels, init=init)
    return float(np.sum(loss.gradient_hessian(labels, raw, totals)[1]))


def _auto_loss_scale(loss, init, y_codes, weights):
    """log-loss mean hessian at the log-loss init / focal mean hessian at the focal init."""
    if loss.gamma == 0.0 and loss.alpha is None:
        return 1.0  # the focal loss is log loss: exactly 1, no rounding
    K = loss.n_classes
    totals = np.bincount(y_codes, weights=weights, minlength=K).astype(np.float64)
    reference = _make_loss(K, 0.0, None, "positive")
    reference_hessian = _mean_hessian_at(reference, reference.init_score(y_codes, weights), totals)
    focal_hessian = _mean_hessian_at(loss, init, totals)
    if not focal_hessian > 0:  # exact hessian summing to <= 0: measure the positive one
        positive = _make_loss(K, loss.gamma, loss.alpha, "positive")
        focal_hessian = _mean_hessian_at(positive, init, totals)
    return reference_hessian / focal_hessian


def _resolve_label_alpha(alpha, Y, weights):
    """Multi-label ``alpha`` -> None, one float for all labels, or one float per label."""
    L = Y.shape[1]
    if alpha is None:
        return None
    if isinstance(alpha, str):  # a frequency rule, applied to each label column
        return np.array([binary_alpha(Y[:, i], alpha, sample_weight=weights) for i in range(L)])
    if isinstance(alpha, Mapping):
        raise ValueError("alpha as a mapping is for class labels; for a multi-label y give one "
                         f"float or an array of {L} floats in (0, 1)")
    if isinstance(alpha, numbers.Real):
        return check_binary_alpha(alpha)
    vector = np.asarray(alpha, dtype=np.float64)
    if vector.shape != (L,) or not np.all((vector > 0) & (vector < 1)):
        raise ValueError(
            f"alpha for a multi-label y with {L} labels must be a float or {L} floats in (0, 1) "
            f"(the positive-class weight of each label), got {np.asarray(alpha).tolist()}"
        )
    return vector


def _auto_label_scale(loss, init, Y, weights):
    """``loss_scale="auto"`` for multi-label: summed log-loss hessian at its init over the focal one."""
    if loss.gamma == 0.0 and loss.alpha is None:
        return 1.0
    reference = MultiLabelFocalLoss(0.0)
    start = reference.init_score(Y, weights)
    ref_h = reference.gradient_hessian(Y, np.tile(start, (Y.shape[0], 1)), weights)[1].sum()
    positive = MultiLabelFocalLoss(loss.gamma, loss.alpha)
    focal_h = positive.gradient_hessian(Y, np.tile(init, (Y.shape[0], 1)), weights)[1].sum()
    return float(ref_h / focal_h)


class FocalSetup:
    """Everything fit derives from (y, weights, parameters) before calling the library.

    ``y_codes`` are labels 0..K-1 (or a multi-label indicator matrix with ``classes`` None).
    Everything here depends on the labels through the class weight totals only, so the Dask
    estimators pass the K labels ``0..K-1`` weighted by the distributed totals and get exactly
    the single-machine alpha, init score and loss scale.
    """

    def __init__(self, estimator, y_codes, classes, weights):
        if classes is None:  # multi-label: y_codes is the (n, L) indicator matrix
            self.alpha = _resolve_label_alpha(estimator.alpha, y_codes, weights)
            self.loss = MultiLabelFocalLoss(estimator.gamma, self.alpha, estimator.hessian)
        else:
            self.alpha = _resolve_alpha(estimator.alpha, classes, y_codes, weights)
            self.loss = _make_loss(classes.shape[0], estimator.gamma, self.alpha, estimator.hessian)
        self.init = self.loss.init_score(y_codes, weights)
        if not isinstance(estimator.loss_scale, str):
            self.scale = float(estimator.loss_scale)
        elif classes is None:  # "auto", multi-label
            self.scale = _auto_label_scale(self.loss, self.init, y_codes, weights)
        else:  # "auto"
            self.scale = _auto_loss_scale(self.loss, self.init, y_codes, weights)
        self.objective = FocalObjective(
            self.loss, self.scale, xgboost=getattr(estimator, "_trains_with_xgboost", False)
        )
        if getattr(estimator, "base_score", None) is None:  # boosting starts at self.init
            self._warn_if_no_split(estimator, y_codes, classes, weights)
        kernels = sys.modules.get("focalboost._kernels")  # loaded above only by a user's loss
        if kernels is not None:  # LLVM's pages, before the library's data and trees (peak memory)
            kernels.before_large_work(np.size(y_codes))

    def _warn_if_no_split(self, estimator, y_codes, classes, weights):
        """A ``UserWarning`` when no tree can split from the init score (focal hessians below
        ``min_child_weight``, e.g. a huge gamma or a tiny ``loss_scale``): a constant model.
        Only the class weight totals matter at a constant start, so K rows weighted by them
        stand in for the data (as on Dask); multi-label: two rows (every label 0, every label 1)
        weighted by each label's totals."""
        min_child_weight = getattr(estimator, "min_child_weight", None)
        if min_child_weight is None:  # XGBoost's default
            min_child_weight = 1.0
        if classes is None:
            n, L = y_codes.shape
            row_weights = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
            ones = row_weights @ (y_codes != 0)
            y = np.array([np.zeros(L), np.ones(L)], dtype=y_codes.dtype)
            w = np.array([row_weights.sum() - ones, ones])
        else:
            K = classes.shape[0]
            y, w = np.arange(K), np.bincount(y_codes, weights=weights, minlength=K).astype(float)
        raw = init_score_rows(self.loss, y, init=self.init)
        warn_if_no_split(
            self.loss, y, raw, w, min_hessian=float(min_child_weight), scale=self.scale, stacklevel=4,
            formulas=True,
        )

    def xgboost_callbacks(self, callbacks):
        """``callbacks`` plus ``self.in_place`` (:class:`focalboost.xgboost._InPlaceMargins`): the
        XGBoost engine calls ``self.objective`` on labels, weights and margins copied every round;
        the callback runs the native hook of the same loss and scale on all three read in place
        instead (the same booster, bit for bit; tested). Call ``self.in_place.restore()`` after
        fitting."""
        from .. import xgboost as fxgb

        self.in_place = fxgb._InPlaceMargins(fxgb.XGBoostObjective(self.loss, self.scale))
        return [*(callbacks or ()), self.in_place]

    def store(self, estimator):
        estimator.loss_ = self.loss
        estimator.alpha_ = self.alpha
        estimator.loss_scale_ = self.scale


def init_score_from_base_score(base_score, setup, n_classes, n_outputs=None):
    """``init_score_``: the focal init, or the margin a user's XGBoost ``base_score`` stands for
    (binary and multi-label: a probability; multiclass: margins), as an array of the init
    score's shape ((K,) multiclass, (L,) multi-label, a float binary)."""
    if base_score is None:
        return setup.init
    if n_outputs is not None:
        return logit(np.broadcast_to(np.asarray(base_score, float), (n_outputs,)))
    if n_classes == 2:
        return float(logit(base_score))
    return np.broadcast_to(np.asarray(base_score, dtype=np.float64), (n_classes,)).copy()


# --- the XGBoost engine (FocalXGBClassifier and FocalDaskXGBClassifier) --------------------------
def xgboost_engine_params(estimator, setup, n_classes, multilabel=False):
    """Keyword arguments for the engine ``XGBClassifier`` / ``DaskXGBClassifier`` a focal
    XGBoost estimator trains: its own parameters without the focal ones, the focal objective,
    ``base_score`` (the focal init unless the user set one), the metric, the in-place callback."""
    params = estimator.get_params(deep=False)
    for name in FOCAL_PARAMS + ("scale_pos_weight", "base_score", "eval_metric", "client"):
        params.pop(name, None)
    if params.get("min_split_loss") is None:
        params.pop("min_split_loss", None)
    params.setdefault("disable_default_eval_metric", True)
    base_score = estimator.base_score
    if base_score is None:
        if multilabel:  # binary:logistic per label: probabilities
            base_score = [float(v) for v in expit(setup.init)]
        elif n_classes == 2:  # binary:logistic reads base_score as a probability
            base_score = float(expit(setup.init))
        else:  # multi:softprob reads it as margins
            base_score = [float(v) for v in setup.init]
    # the engine's rounds read labels, weights and margins in place (also on Dask workers)
    params["callbacks"] = setup.xgboost_callbacks(params.get("callbacks"))
    return dict(
        params,
        objective=setup.objective,
        base_score=base_score,
        eval_metric=xgboost_eval_metric(estimator.eval_metric, setup.loss),
    )


def store_xgboost_fit(estimator, engine, setup, classes, n_outputs=None):
    """Copy what a fitted XGBoost engine learnt onto the focal estimator."""
    from .._compat.xgboost import set_booster

    set_booster(estimator, engine.get_booster())
    if hasattr(engine, "evals_result_"):
        estimator.evals_result_ = engine.evals_result_
    elif hasattr(estimator, "evals_result_"):
        del estimator.evals_result_
    estimator.n_classes_ = classes.shape[0]
    setup.store(estimator)
    estimator.init_score_ = init_score_from_base_score(
        estimator.base_score, setup, estimator.n_classes_, n_outputs
    )


def xgboost_eval_metric(metric, loss):
    """``eval_metric`` for the engine: ``"focal_loss"`` (default) and callables on margins turned
    into the focal metric and probability-fed callables; XGBoost's built-in names unchanged."""
    if metric is None:
        return XGBFocalMetric(loss)
    items = [metric] if isinstance(metric, str) or callable(metric) else list(metric)
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(XGBFocalMetric(loss) if item == DEFAULT_METRIC_NAME else item)
        elif callable(item):
            out.append(XGBProbabilityMetric(item, loss))
        else:
            raise TypeError(f"eval_metric entries must be metric names or callables, got {item!r}")
    return out[0] if len(out) == 1 else out


# --- callables handed to the libraries -----------------------------------------------------------
def probability_for_metrics(loss, raw):
    """What the libraries give metric callables for built-in objectives: P(class 1) or (n, K)."""
    proba = loss.predict_proba(raw)
    return proba[:, 1] if loss.n_classes == 2 else proba


class FocalObjective:
    """``(y_true, y_pred, sample_weight=None) -> (grad, hess)``, the scikit-learn-API convention of
    both libraries (``XGBClassifier`` passes ``sample_weight`` by keyword, ``LGBMClassifier`` as the
    third positional argument). ``y_pred`` are margins; gradient and hessian come from the loss
    object (which applies the weights), times ``scale``. ``offset`` (the init score, or None) is
    added to the margins first: ``FocalLGBMClassifier`` trains with LightGBM's scores starting at
    0 (see its ``fit``); its ``objective_`` after fit takes the model's margins (no offset).

    Every call returns new arrays, except on the copy :meth:`for_training` makes for one
    training run.
    """

    def __init__(self, loss, scale=1.0, xgboost=False, offset=None, buffers=None):
        self.loss = loss
        self.scale = float(scale)
        self.xgboost = bool(xgboost)  # kernels then run in the calling thread (or XGBoost's team)
        self.offset = offset
        self.buffers = buffers  # a RoundBuffers: the results go into the last call's arrays

    def __call__(self, y_true, y_pred, sample_weight=None):
        # float32 in the margins' memory order: the values the libraries store, no copy by them;
        # a child forked after OpenMP threads ran keeps the kernels off XGBoost's dead team
        where = _openmp_team.inside_xgboost(forked_after_openmp()) if self.xgboost else None
        with _openmp_team.team(where):
            return library_gradient_hessian(self.loss, y_true, y_pred, sample_weight, self.scale,
                                            self.offset, buffers=self.buffers)

    def starting_at(self, offset):
        """The same objective on margins that exclude ``offset`` (LightGBM's training scores
        when the init score is not in the Dataset)."""
        return FocalObjective(self.loss, self.scale, self.xgboost, offset, self.buffers)

    def for_training(self):
        """The same objective writing every call's results into the same two arrays per thread
        (:class:`focalboost._adapter.RoundBuffers`), for a library's training loop, which uses
        them before the next call; ``buffers.release()`` after training lets them go."""
        return FocalObjective(self.loss, self.scale, self.xgboost, self.offset, RoundBuffers())

    def __repr__(self):
        extra = "" if self.offset is None else f", offset={self.offset!r}"
        return f"FocalObjective({self.loss!r}, scale={self.scale!r}{extra})"


class XGBFocalMetric:
    """XGBoost scikit-learn metric: weighted mean focal loss (unscaled) on margins, lower is better.

    XGBoost names a callable metric after its ``__name__``.
    """

    def __init__(self, loss, name=DEFAULT_METRIC_NAME):
        self.loss = loss
        self.__name__ = name

    def __call__(self, y_true, y_score, sample_weight=None):
        from .. import xgboost as fxgb

        # over all workers' rows in distributed training (xgboost.dask), see fxgb.mean_loss
        return fxgb.mean_loss(self.loss, y_true, y_score, sample_weight)


class XGBProbabilityMetric:
    """A user's ``eval_metric(y_true, y_score[, sample_weight=...])`` fed probabilities.

    With a custom objective XGBoost hands metric callables margins; ``XGBClassifier`` users write
    them for probabilities (P(class 1) for binary, (n, K) for multiclass), so we convert.
    """

    def __init__(self, func, loss):
        self.func = func
        self.loss = loss
        self.__name__ = getattr(func, "__name__", type(func).__name__)

    def __call__(self, y_true, y_score, sample_weight=None):
        proba = probability_for_metrics(self.loss, y_score)
        if sample_weight is None:
            return self.func(y_true, proba)
        return self.func(y_true, proba, sample_weight=sample_weight)


# --- predict_proba and predict from margins ------------------------------------------------------
def proba_from_margin(estimator, margin, overwrite_margin=False):
    """``predict_proba`` from margins: the tempered or exact posterior, or the raw sigmoid/softmax
    (``overwrite_margin``: see :func:`focalboost._adapter.probability_from_margin`)."""
    return probability_from_margin(
        estimator.loss_, margin, estimator.probability, getattr(estimator, "temperature_", 1.0),
        getattr(estimator, "strength_", 1.0), overwrite_margin=overwrite_margin,
    )


def same_data(X_eval, X):
    """Whether an evaluation set is the training data itself (the same object, or an equal
    numpy array): a temperature fitted there would sharpen an overfit model further."""
    if X_eval is X:
        return True
    if isinstance(X_eval, np.ndarray) and isinstance(X, np.ndarray) and X_eval.shape == X.shape:
        return bool(np.array_equal(X_eval, X, equal_nan=X.dtype.kind == "f"))
    return False


def calibrate_probability(estimator, y_codes=None, margin=None, sample_weight=None, source="",
                          reason="no eval_set"):
    """Set ``temperature_``, ``strength_`` and ``probability_calibration_`` after a fit, and
    log the choice; returns whether they were fitted.

    With held-out ``margin`` and ``y_codes`` (the last evaluation set, at the best iteration):
    the (strength, temperature) minimising the log loss there
    (:func:`focalboost.calibration.fit_strength_temperature`). Without (``margin`` None: no
    evaluation set, or only the training data, or a multi-label model): 1.0 and 1.0, the exact
    posterior, and ``reason`` says why. Fitting more models (an internal split, cross-fitting) would change the
    model and cost more fits: an estimator's ``fit`` does not do it behind the user's back;
    :class:`focalboost.FocalSearchCV` has those fits anyway and passes their out-of-fold margins
    (through the estimators' ``_calibrate_on``, which calls this).
    """
    from ..calibration import fit_held_out, has_weight

    if margin is not None and not has_weight(sample_weight):
        margin, reason = None, "the last eval_set's sample weights sum to 0"
    if margin is None:
        estimator.temperature_ = estimator.strength_ = 1.0
        estimator.probability_calibration_ = (
            f"exact posterior (strength 1, temperature 1): {reason}; pass an eval_set of held-out "
            "rows to fit them"
        )
    else:
        n = np.shape(margin)[0]
        s, T, rows = fit_held_out(estimator.loss_, y_codes, margin, sample_weight)
        estimator.strength_, estimator.temperature_ = s, T
        used = f"{n} rows" if rows.shape[0] == n else f"a fixed-seed sample of {rows.shape[0]} of its {n} rows"
        estimator.probability_calibration_ = (
            f"strength {s:.4g} and temperature {T:.6g} fitted on {source} ({used}, log loss)"
        )
    _logger.info("focalboost: %s: probability='auto' uses the %s", type(estimator).__name__,
                 estimator.probability_calibration_)
    return margin is not None


def labels_from_margin(estimator, margin, overwrite_margin=False):
    """``predict``: ``classes_[argmax(predict_proba)]``, the class the probabilities favour, in
    every ``probability`` mode (binary: ``classes_[1]`` where its probability is above 1/2; a tie
    gives ``classes_[0]``); multi-label: the 0/1 indicator of each label's probability > 1/2.

    This is scikit-learn's contract (``check_classifiers_train``, voting, scorers and
    ``FixedThresholdClassifier`` mix ``predict`` with ``predict_proba``). With ``alpha`` set and
    ``probability="posterior"`` it is the Bayes decision for the posterior, not the
    cost-weighted decision alpha implies (the class of largest margin): that one is ``predict``
    with ``probability="focal"``, or ``FixedThresholdClassifier`` (binary; see :doc:`/user_guide/probabilities`)."""
    proba = proba_from_margin(estimator, margin, overwrite_margin)
    if isinstance(estimator.loss_, MultiLabelFocalLoss):  # one yes/no decision per label
        return (proba > 0.5).astype(np.int64)
    return estimator.classes_[np.argmax(proba, axis=1)]


def check_plain_array(X):
    """scikit-learn's ``check_array`` for numpy arrays, lists and scipy sparse matrices (clear
    messages for 1-D or empty input); data frames and other containers go to the library unchanged
    (categorical dtypes, feature names, device arrays). NaN stays allowed: the libraries' missing
    value."""
    if isinstance(X, (np.ndarray, list, tuple)) or sparse.issparse(X):
        return check_array(X, accept_sparse=("csr", "csc"), dtype=None, ensure_all_finite=False)
    return X


def check_n_features(estimator, X):
    """scikit-learn's message for a wrong number of columns at predict time (a Dask collection
    whose column count is unknown passes)."""
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) == 2:
        n = shape[1]
        if isinstance(n, numbers.Integral) and n != estimator.n_features_in_:
            raise ValueError(
                f"X has {n} features, but {type(estimator).__name__} is expecting "
                f"{estimator.n_features_in_} features as input."
            )
