"""scikit-learn estimators: :class:`FocalXGBClassifier` and :class:`FocalLGBMClassifier`.

Drop-in replacements for ``xgboost.XGBClassifier`` and ``lightgbm.LGBMClassifier`` that train
with the focal loss of :mod:`focalboost.losses` and still behave like scikit-learn classifiers:
any labels, ``classes_``, ``sample_weight``, real probabilities from ``predict_proba``, margins from
``decision_function``, early stopping, pickling, ``Pipeline`` / ``GridSearchCV`` / ``clone``.

Design (the README explains it for users)
-----------------------------------------
*Subclasses, not wrappers.* Each estimator subclasses the library's own classifier, so every
parameter of ``XGBClassifier`` / ``LGBMClassifier`` keeps its name, meaning and default, and the
library's fit-time conventions (``eval_set``, ``early_stopping_rounds``, ``callbacks``,
``best_iteration``, ``evals_result_``, ``feature_importances_``, ...) are the library's own code.
Four focal parameters are added: ``gamma``, ``alpha``, ``hessian`` and ``loss_scale``. The
library's ``objective`` is not a parameter: it is always the focal loss.

*Name clash (XGBoost).* ``XGBClassifier`` has its own ``gamma`` (= ``min_split_loss``) and accepts
``alpha`` (= ``reg_alpha``). Here ``gamma`` and ``alpha`` are the *focal* parameters, in both
estimators; XGBoost's minimum split loss is ``min_split_loss`` and its L1 penalty ``reg_alpha``.
The focal parameters never reach the booster (:meth:`FocalXGBClassifier.get_xgb_params` and
:meth:`FocalLGBMClassifier._process_params` strip them; a test checks the booster's config).

*Init score.* Boosting starts from the focal loss's best constant margin (``init_score_``), as the
built-in objectives start from the log-loss one. XGBoost keeps it in the model (``base_score``);
LightGBM does not keep an ``init_score``, so :class:`FocalLGBMClassifier` adds ``init_score_`` to
the booster's raw scores itself.

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
import numbers
from collections.abc import Mapping
from numbers import Real

import numpy as np
from lightgbm import LGBMClassifier
from lightgbm.basic import LightGBMError
from lightgbm.sklearn import LGBMModel
from scipy import sparse
from scipy.special import expit, logit
from sklearn.metrics import log_loss
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import assert_all_finite, column_or_1d
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_consistent_length,
    check_is_fitted,
)
from xgboost import XGBClassifier, XGBModel

from . import xgboost as fxgb
from . import _openmp_team
from ._adapter import DEFAULT_METRIC_NAME, init_score_rows, library_gradient_hessian
from ._validation import HESSIAN_CHOICES, check_binary_alpha, check_class_alpha
from .class_weights import ALPHA_METHODS, binary_alpha, class_alpha
from .losses import BinaryFocalLoss, MulticlassFocalLoss, MultiLabelFocalLoss

__all__ = ["FocalXGBClassifier", "FocalLGBMClassifier"]

#: constructor parameters added by the focal estimators (never passed to a booster)
FOCAL_PARAMS = ("gamma", "alpha", "hessian", "loss_scale", "probability")
PROBABILITY_CHOICES = ("posterior", "focal")

_FOCAL_CONSTRAINTS = {
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

_FOCAL_PARAMS_DOC = """
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
        is prevented by starting from the focal init score, not by this factor (see the
        README). The value used is stored in ``loss_scale_``. Reported metrics are
        unscaled.
    probability : {"posterior", "focal"}, default="posterior"
        What ``predict_proba`` returns. A focal model's sigmoid/softmax output is not the class
        posterior (gamma makes it under-confident, alpha shifts it); ``"posterior"`` undoes that
        known distortion (:mod:`focalboost.posterior`; the identity for ``gamma=0, alpha=None``),
        ``"focal"`` returns the raw sigmoid/softmax of the margins. The correction is monotone in
        the margin, so rankings (ROC/PR AUC) do not change. ``predict`` always returns the class
        of largest margin: without alpha that is also the argmax of either output; with alpha it
        is the cost-weighted decision alpha asks for, which may differ from the argmax of the
        posterior. Metrics computed during training see the raw (focal) probabilities."""

_FOCAL_ATTRIBUTES_DOC = """
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
        The factor applied to gradients and hessians."""


# --- targets, weights, loss ----------------------------------------------------------------------
def _encode_targets(y):
    """1-D finite classification targets -> (codes 0..K-1, classes_). At least two classes."""
    y = column_or_1d(y, warn=True)
    if y.shape[0] == 0:
        raise ValueError("y has 0 samples; a classifier needs samples of at least 2 classes")
    if y.dtype.kind in "fc":
        assert_all_finite(y, input_name="y")
    check_classification_targets(y)
    encoder = LabelEncoder().fit(y)
    classes = encoder.classes_
    if classes.shape[0] < 2:
        raise ValueError(
            "y must contain at least 2 classes to fit a classifier; it contains only one class: "
            f"{classes[0]!r}"
        )
    return encoder.transform(y), classes


def _is_multilabel(y):
    """A 2-D y with more than one column: a multi-label indicator matrix (as for XGBClassifier)."""
    y = y if hasattr(y, "ndim") and hasattr(y, "shape") else np.asarray(y)
    return y.ndim == 2 and y.shape[1] > 1


def _indicator_targets(y):
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


def _check_weights(sample_weight, X, y_codes, classes):
    """Validated float64 weights (or None); every class-with-weight check raises a ValueError."""
    if sample_weight is None:
        return None
    w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    if not np.any(w > 0):
        raise ValueError("sample_weight must contain at least one non-zero weight; all are zero")
    totals = np.bincount(y_codes, weights=w, minlength=classes.shape[0])
    if np.count_nonzero(totals) < 2:
        raise ValueError(
            "sample_weight leaves only one class with positive weight "
            f"({classes[np.flatnonzero(totals)].tolist()}); at least 2 classes are needed"
        )
    return w


def _times_class_one(weights, y_codes, factor, name):
    """Multiply the weights of classes_[1] rows by ``factor`` (binary ``scale_pos_weight``)."""
    if factor is None:
        return weights
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not factor > 0:
        raise ValueError(f"{name} must be a number > 0, got {factor!r}")
    w = np.ones(y_codes.shape[0]) if weights is None else weights.copy()
    w[y_codes == 1] *= float(factor)
    return w


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


class _FocalSetup:
    """Everything fit derives from (y, weights, parameters) before calling the library."""

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
        self.objective = _FocalObjective(
            self.loss, self.scale, xgboost=getattr(estimator, "_trains_with_xgboost", False)
        )

    def xgboost_callbacks(self, callbacks):
        """``callbacks`` plus ``self.in_place`` (:class:`focalboost.xgboost._InPlaceMargins`): the
        XGBoost engine calls ``self.objective`` on labels, weights and margins copied every round;
        the callback runs the native hook of the same loss and scale on all three read in place
        instead (the same booster, bit for bit; tested). Call ``self.in_place.restore()`` after
        fitting."""
        self.in_place = fxgb._InPlaceMargins(fxgb.XGBoostObjective(self.loss, self.scale))
        return [*(callbacks or ()), self.in_place]

    def store(self, estimator):
        estimator.loss_ = self.loss
        estimator.alpha_ = self.alpha
        estimator.loss_scale_ = self.scale


def _probability_for_metrics(loss, raw):
    """What the libraries give metric callables for built-in objectives: P(class 1) or (n, K)."""
    proba = loss.predict_proba(raw)
    return proba[:, 1] if loss.n_classes == 2 else proba


# --- callables handed to the libraries -----------------------------------------------------------
class _FocalObjective:
    """``(y_true, y_pred, sample_weight=None) -> (grad, hess)``, the scikit-learn-API convention of
    both libraries (``XGBClassifier`` passes ``sample_weight`` by keyword, ``LGBMClassifier`` as the
    third positional argument). ``y_pred`` are margins; gradient and hessian come from the loss
    object (which applies the weights), times ``scale``.
    """

    def __init__(self, loss, scale=1.0, xgboost=False):
        self.loss = loss
        self.scale = float(scale)
        self.xgboost = bool(xgboost)  # binary kernels then run on XGBoost's OpenMP threads

    def __call__(self, y_true, y_pred, sample_weight=None):
        # float32 in the margins' memory order: the values the libraries store, no copy by them
        with _openmp_team.team(_openmp_team.xgboost_team() if self.xgboost else None):
            return library_gradient_hessian(self.loss, y_true, y_pred, sample_weight, self.scale)

    def __repr__(self):
        return f"_FocalObjective({self.loss!r}, scale={self.scale!r})"


class _XGBFocalMetric:
    """XGBoost scikit-learn metric: weighted mean focal loss (unscaled) on margins, lower is better.

    XGBoost names a callable metric after its ``__name__``.
    """

    def __init__(self, loss, name=DEFAULT_METRIC_NAME):
        self.loss = loss
        self.__name__ = name

    def __call__(self, y_true, y_score, sample_weight=None):
        # over all workers' rows in distributed training (xgboost.dask), see fxgb.mean_loss
        return fxgb.mean_loss(self.loss, y_true, y_score, sample_weight)


class _XGBProbabilityMetric:
    """A user's ``eval_metric(y_true, y_score[, sample_weight=...])`` fed probabilities.

    With a custom objective XGBoost hands metric callables margins; ``XGBClassifier`` users write
    them for probabilities (P(class 1) for binary, (n, K) for multiclass), so we convert.
    """

    def __init__(self, func, loss):
        self.func = func
        self.loss = loss
        self.__name__ = getattr(func, "__name__", type(func).__name__)

    def __call__(self, y_true, y_score, sample_weight=None):
        proba = _probability_for_metrics(self.loss, y_score)
        if sample_weight is None:
            return self.func(y_true, proba)
        return self.func(y_true, proba, sample_weight=sample_weight)


class _LGBMFocalMetric:
    """LightGBM scikit-learn metric ``(y_true, y_pred, weight) -> (name, value, False)``."""

    def __init__(self, loss, name=DEFAULT_METRIC_NAME):
        self.loss = loss
        self.name = name

    def __call__(self, y_true, y_pred, weight):
        return self.name, self.loss.mean_loss(y_true, y_pred, weight), False


class _LGBMLabelMetric:
    """LightGBM's log loss / classification error, computed on probabilities (LightGBM's own
    built-in versions would read the margins of a custom objective as probabilities)."""

    def __init__(self, loss, kind):
        self.loss = loss
        self.kind = kind
        prefix = "binary" if loss.n_classes == 2 else "multi"
        self.name = f"{prefix}_{kind}"

    def __call__(self, y_true, y_pred, weight):
        proba = self.loss.predict_proba(y_pred)
        y = np.asarray(y_true).astype(np.int64)
        if self.kind == "logloss":
            labels = np.arange(self.loss.n_classes)
            value = log_loss(y, proba, sample_weight=weight, labels=labels)
        else:
            value = float(np.average(np.argmax(proba, axis=1) != y, weights=weight))
        return self.name, float(value), False


class _LGBMProbabilityMetric:
    """A user's LightGBM ``eval_metric`` callable fed probabilities instead of margins.

    LightGBM decides how to call a metric from its number of parameters (2, 3 or 4); this wrapper
    reports the user's own signature, so LightGBM calls it exactly as it would call the user's
    function, and forwards the arguments with ``y_pred`` turned into probabilities.
    """

    def __init__(self, func, loss):
        self.func = func
        self.loss = loss

    @property
    def __signature__(self):
        return inspect.signature(self.func)

    def __call__(self, y_true, y_pred, *rest):
        return self.func(y_true, _probability_for_metrics(self.loss, y_pred), *rest)


def _proba_from_margin(estimator, margin):
    """``predict_proba`` from margins: the posterior correction or the raw sigmoid/softmax."""
    if estimator.probability == "posterior":
        return estimator.loss_.posterior(margin)
    return estimator.loss_.predict_proba(margin)


def _labels_from_margin(estimator, margin):
    """``predict``: the class of largest margin (binary: margin > 0 is ``classes_[1]``);
    multi-label: the 0/1 indicator of each label's margin > 0."""
    margin = np.asarray(margin)
    if isinstance(estimator.loss_, MultiLabelFocalLoss):  # one yes/no decision per label
        return (margin > 0).astype(np.int64)
    codes = (margin > 0).astype(np.int64) if margin.ndim == 1 else np.argmax(margin, axis=1)
    return estimator.classes_[codes]


def _check_plain_array(X):
    """scikit-learn's ``check_array`` for numpy arrays, lists and scipy sparse matrices (clear
    messages for 1-D or empty input); data frames and other containers go to XGBoost unchanged
    (categorical dtypes, feature names, device arrays). NaN stays allowed: XGBoost's ``missing``."""
    if isinstance(X, (np.ndarray, list, tuple)) or sparse.issparse(X):
        return check_array(X, accept_sparse=("csr", "csc"), dtype=None, ensure_all_finite=False)
    return X


def _check_n_features(estimator, X):
    """scikit-learn's message for a wrong number of columns at predict time."""
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) == 2 and shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )


def _reject_objective(estimator, params):
    for name in params:
        if name in estimator._objective_names:
            raise ValueError(
                f"Invalid parameter {name!r} for {type(estimator).__name__}: it always trains "
                "with the focal loss (set gamma, alpha, hessian, loss_scale); use the library's "
                "own classifier for another objective"
            )


def _reject_continued_training(name, value, estimator):
    if value is not None:
        raise NotImplementedError(
            f"{type(estimator).__name__}.fit does not support {name} (continued training): the "
            "focal init score would not be carried over"
        )


def _store_focal_params(estimator, gamma, alpha, hessian, loss_scale, probability):
    """The focal constructor parameters, stored as given (scikit-learn's rule for __init__).

    (A mixin cannot carry get_params/set_params as well: XGBoost's get_params walks
    ``__bases__[0]``, so the library class must stay the first base.)"""
    estimator.gamma = gamma
    estimator.alpha = alpha
    estimator.hessian = hessian
    estimator.loss_scale = loss_scale
    estimator.probability = probability


# --- XGBoost -------------------------------------------------------------------------------------
class FocalXGBClassifier(XGBClassifier):
    __doc__ = f"""XGBoost classifier trained with the focal loss (drop-in for ``XGBClassifier``).

    Every ``XGBClassifier`` parameter keeps its name, meaning and default, except ``objective``
    (always the focal loss) and XGBoost's ``gamma`` / ``alpha`` aliases: here ``gamma`` and
    ``alpha`` are the **focal** parameters; XGBoost's minimum split loss is ``min_split_loss``
    and its L1 penalty ``reg_alpha``.

    Parameters
    ----------{_FOCAL_PARAMS_DOC}
    min_split_loss : float, default=None
        XGBoost's ``gamma``: minimum loss reduction to split a leaf (None: XGBoost's default, 0).
    **kwargs
        Any ``XGBClassifier`` parameter (``n_estimators``, ``learning_rate``, ``max_depth``,
        ``min_child_weight``, ``subsample``, ``colsample_bytree``, ``reg_lambda``, ``reg_alpha``,
        ``random_state``, ``n_jobs``, ``eval_metric``, ``early_stopping_rounds``,
        ``callbacks``, ...).

        - ``base_score``: None (default) starts from the focal loss's best constant margin.
          A value is used as ``XGBClassifier`` uses it: a probability of ``classes_[1]`` for
          binary problems, one margin per class for multiclass.
        - ``scale_pos_weight`` (binary only): multiplies the weights of ``classes_[1]`` rows,
          as in ``XGBClassifier`` (XGBoost itself ignores it for custom objectives).
        - ``eval_metric``: None (default) evaluates ``"focal_loss"``, the weighted mean focal
          loss (unscaled, lower is better) on each ``eval_set``. XGBoost built-in names
          (``"aucpr"``, ``"logloss"``, ``"mlogloss"``, ...) are computed by XGBoost on
          probabilities, as for ``XGBClassifier``; ``"focal_loss"`` may appear in a list; a
          callable ``f(y_true, y_score, sample_weight=None)`` receives probabilities
          (P(classes_[1]) for binary, (n, K) for multiclass) and encoded labels. Early stopping
          (``early_stopping_rounds``) watches the last metric of the last ``eval_set`` and
          ``predict*`` then use ``best_iteration``, all as in XGBoost.

    Attributes
    ----------{_FOCAL_ATTRIBUTES_DOC}
    best_iteration, best_score, evals_result_, feature_importances_, ...
        As in ``XGBClassifier``.

    Notes
    -----
    ``fit`` trains a plain ``XGBClassifier`` on the encoded labels with the focal objective
    (XGBoost's own classifier path for custom objectives: booster objective ``binary:logistic``
    / ``multi:softprob`` with our gradients) and keeps its booster. So the booster's
    ``base_score`` holds the init score, and XGBoost's built-in metrics and
    ``get_booster().predict`` see probabilities. Its rounds run the native hook of the loss on
    labels, weights and margins read in place (``focalboost.xgboost._InPlaceMargins``, one more
    callback after yours), where ``XGBClassifier`` would copy all three every round: the same
    booster, bit for bit.

    Like ``XGBClassifier`` there is no ``decision_function``: the margins are
    ``predict(X, output_margin=True)``. (XGBoost's margins are float32; scikit-learn's
    sample-weight check compares ``decision_function`` outputs to 1e-7, below float32
    resolution.)

    Save with pickle/joblib: ``save_model`` does not store ``classes_`` or the loss.
    ``xgb_model`` (continued training) is not supported.
    """

    _parameter_constraints = dict(_FOCAL_CONSTRAINTS)
    _objective_names = ("objective",)
    _trains_with_xgboost = True

    def __init__(
        self,
        *,
        gamma=2.0,
        alpha=None,
        hessian="positive",
        loss_scale=1.0,
        probability="posterior",
        min_split_loss=None,
        **kwargs,
    ):
        _reject_objective(self, kwargs)
        super().__init__(objective=None, **kwargs)
        _store_focal_params(self, gamma, alpha, hessian, loss_scale, probability)
        self.min_split_loss = min_split_loss

    # --- parameters ------------------------------------------------------------------------------
    def get_params(self, deep=True):
        """Parameters of this estimator: the focal ones and every ``XGBClassifier`` one."""
        params = super().get_params(deep)
        params.pop("objective", None)  # always the focal loss: not a parameter
        return params

    def set_params(self, **params):
        """Set parameters (XGBoost's rules; ``objective`` is rejected)."""
        _reject_objective(self, params)
        return super().set_params(**params)

    def get_xgb_params(self):
        """Parameters for the booster: the focal ones (and ``objective``) are never included."""
        params = super().get_xgb_params()
        for name in FOCAL_PARAMS + ("objective", "scale_pos_weight"):
            params.pop(name, None)
        if params.get("min_split_loss", 0) is None:
            del params["min_split_loss"]
        return params

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True  # 2-D indicator y: MultiLabelFocalLoss
        tags.no_validation = False  # XGBClassifier says True; we validate y, weights and arrays
        return tags

    @property
    def classes_(self):
        """The original class labels (``XGBClassifier`` itself only knows 0..K-1)."""
        try:
            return self._classes
        except AttributeError:
            raise AttributeError(f"{type(self).__name__} is not fitted: no classes_") from None

    # --- fit -------------------------------------------------------------------------------------
    def fit(
        self,
        X,
        y,
        *,
        sample_weight=None,
        base_margin=None,
        eval_set=None,
        verbose=True,
        xgb_model=None,
        sample_weight_eval_set=None,
        base_margin_eval_set=None,
        feature_weights=None,
    ):
        """Fit the focal-loss booster; the arguments are those of ``XGBClassifier.fit``.

        ``y`` may hold any labels (ints, strings, booleans); ``eval_set`` labels are encoded the
        same way. ``xgb_model`` (continued training) is not supported.
        """
        self._validate_params()
        _reject_continued_training("xgb_model", xgb_model, self)
        X = _check_plain_array(X)
        multilabel = _is_multilabel(y)
        if multilabel:  # 2-D indicator y: one sigmoid focal loss per label (multi-output trees)
            y_codes, classes = _indicator_targets(y), None
            check_consistent_length(X, y_codes)
            weights = None
            if sample_weight is not None:
                weights = _check_sample_weight(
                    sample_weight, X, dtype=np.float64, ensure_non_negative=True
                )
            if self.scale_pos_weight is not None:
                raise ValueError(
                    "scale_pos_weight is for binary problems; with a multi-label y give alpha "
                    "per label instead"
                )
        else:
            y_codes, classes = _encode_targets(y)
            check_consistent_length(X, y_codes)
            weights = _check_weights(sample_weight, X, y_codes, classes)
        if self.scale_pos_weight is not None:
            if classes.shape[0] != 2:
                raise ValueError(
                    "scale_pos_weight is defined for binary problems only; y has "
                    f"{classes.shape[0]} classes (use alpha for per-class weights)"
                )
            weights = _times_class_one(weights, y_codes, self.scale_pos_weight, "scale_pos_weight")
        setup = _FocalSetup(self, y_codes, classes, weights)

        params = self.get_params(deep=False)
        for name in FOCAL_PARAMS + ("scale_pos_weight", "base_score", "eval_metric"):
            params.pop(name)
        if params.get("min_split_loss") is None:
            params.pop("min_split_loss", None)
        params.setdefault("disable_default_eval_metric", True)
        base_score = self.base_score
        if base_score is None:
            if multilabel:  # binary:logistic per label: probabilities
                base_score = [float(v) for v in expit(setup.init)]
            elif classes.shape[0] == 2:  # binary:logistic reads base_score as a probability
                base_score = float(expit(setup.init))
            else:  # multi:softprob reads it as margins
                base_score = [float(v) for v in setup.init]
        params["callbacks"] = setup.xgboost_callbacks(params.get("callbacks"))
        engine = XGBClassifier(
            objective=setup.objective,
            base_score=base_score,
            eval_metric=self._engine_eval_metric(setup.loss),
            **params,
        )
        if eval_set is not None and multilabel:
            eval_set = [(Xe, _indicator_targets(ye)) for Xe, ye in eval_set]
        elif eval_set is not None:
            encoder = LabelEncoder()
            encoder.classes_ = classes
            eval_set = [(Xe, encoder.transform(column_or_1d(ye))) for Xe, ye in eval_set]
        optional = {} if feature_weights is None else {"feature_weights": feature_weights}
        try:
            engine.fit(
                X,
                y_codes,
                sample_weight=weights,
                base_margin=base_margin,
                eval_set=eval_set,
                verbose=verbose,
                sample_weight_eval_set=sample_weight_eval_set,
                base_margin_eval_set=base_margin_eval_set,
                **optional,
            )
        finally:
            setup.in_place.restore()
        self._Booster = engine.get_booster()
        if hasattr(engine, "evals_result_"):
            self.evals_result_ = engine.evals_result_
        elif hasattr(self, "evals_result_"):
            del self.evals_result_
        if multilabel:  # as XGBClassifier: classes_ [0, 1], one output per label
            classes = np.array([0, 1])
            self.n_outputs_ = y_codes.shape[1]
        elif hasattr(self, "n_outputs_"):
            del self.n_outputs_
        self._classes = classes
        self.n_classes_ = classes.shape[0]
        setup.store(self)
        if self.base_score is None:
            self.init_score_ = setup.init
        elif multilabel:
            self.init_score_ = logit(np.broadcast_to(np.asarray(self.base_score, float), (self.n_outputs_,)))
        elif self.n_classes_ == 2:
            self.init_score_ = float(logit(self.base_score))
        else:
            init = np.asarray(self.base_score, dtype=np.float64)
            self.init_score_ = np.broadcast_to(init, (self.n_classes_,)).copy()
        return self

    def _engine_eval_metric(self, loss):
        metric = self.eval_metric
        if metric is None:
            return _XGBFocalMetric(loss)
        items = [metric] if isinstance(metric, str) or callable(metric) else list(metric)
        out = []
        for item in items:
            if isinstance(item, str):
                out.append(_XGBFocalMetric(loss) if item == DEFAULT_METRIC_NAME else item)
            elif callable(item):
                out.append(_XGBProbabilityMetric(item, loss))
            else:
                raise TypeError(
                    f"eval_metric entries must be metric names or callables, got {item!r}"
                )
        return out[0] if len(out) == 1 else out

    # --- predict ---------------------------------------------------------------------------------
    def _margin(self, X, **kwargs):
        """Margins including the init score, at ``best_iteration`` after early stopping."""
        check_is_fitted(self)
        X = _check_plain_array(X)
        _check_n_features(self, X)
        margin = XGBModel.predict(self, X, output_margin=True, **kwargs)
        return np.asarray(margin, dtype=np.float64)

    def predict_proba(self, X, validate_features=True, base_margin=None, iteration_range=None):
        """Class probabilities (n, n_classes) in ``classes_`` order: sigmoid/softmax of margins."""
        margin = self._margin(
            X,
            validate_features=validate_features,
            base_margin=base_margin,
            iteration_range=iteration_range,
        )
        return _proba_from_margin(self, margin)

    def predict(
        self,
        X,
        *,
        output_margin=False,
        validate_features=True,
        base_margin=None,
        iteration_range=None,
    ):
        """Class labels: the class of largest margin (see ``probability`` for how this relates to
        ``predict_proba``).

        ``output_margin=True`` returns the margins instead, as ``XGBClassifier`` does: log-odds of
        ``classes_[1]`` (n,) for binary, (n, n_classes) for multiclass, including the init score.
        (Like ``XGBClassifier``, this estimator has no ``decision_function``.)
        """
        kwargs = dict(
            validate_features=validate_features,
            base_margin=base_margin,
            iteration_range=iteration_range,
        )
        margin = self._margin(X, **kwargs)
        return margin if output_margin else _labels_from_margin(self, margin)


# --- LightGBM ------------------------------------------------------------------------------------
_LGBM_OBJECTIVE_NAMES = ("objective", "objective_type", "app", "application", "loss")
_LGBM_METRIC_NAMES = ("metric", "metrics", "metric_types")
_LGBM_NO_METRIC = {"none", "null", "na", "custom", ""}
_LGBM_LOGLOSS = {
    "logloss", "binary_logloss", "binary", "multi_logloss", "multiclass", "softmax",
    "multiclassova", "multiclass_ova", "ova", "ovr",
}  # fmt: skip
_LGBM_ERROR = {"error", "binary_error", "multi_error"}
_LGBM_RANK_METRICS = {"auc", "average_precision"}  # computed by LightGBM: margins are fine
_NO_FEATURES = "num_features()) > (0)"  # LightGBM's check message when no feature is usable
_LGBM_HAS_EVAL_XY = "eval_X" in inspect.signature(LGBMClassifier.fit).parameters


class FocalLGBMClassifier(LGBMClassifier):
    __doc__ = f"""LightGBM classifier trained with the focal loss (drop-in for ``LGBMClassifier``).

    Every ``LGBMClassifier`` parameter keeps its name, meaning and default, except ``objective``
    (always the focal loss).

    Parameters
    ----------{_FOCAL_PARAMS_DOC}
    **kwargs
        Any ``LGBMClassifier`` parameter (``n_estimators``, ``learning_rate``, ``num_leaves``,
        ``max_depth``, ``min_child_weight``, ``min_child_samples``, ``subsample``,
        ``colsample_bytree``, ``reg_lambda``, ``class_weight``, ``random_state``, ``n_jobs``,
        LightGBM parameters such as ``verbose``, ...).

        - ``class_weight`` multiplies the sample weights, as in ``LGBMClassifier``; ``alpha``
          weights classes inside the focal loss.
        - ``scale_pos_weight`` (binary only) multiplies the weights of ``classes_[1]`` rows
          (LightGBM itself ignores it for custom objectives); ``is_unbalance`` is rejected (use
          ``alpha="balanced"`` or ``class_weight="balanced"``).
        - ``metric``: replaces the default metric, ``"focal_loss"``, like LightGBM's ``metric``.

    Notes
    -----
    **Metrics and early stopping.** ``fit(..., eval_X=..., eval_y=...)`` (or ``eval_set``)
    evaluates ``"focal_loss"``, the weighted mean focal loss (unscaled, lower is better), plus
    whatever ``fit(eval_metric=...)`` adds, as ``LGBMClassifier`` adds to its default metric.
    ``callbacks=[lightgbm.early_stopping(k)]`` stops on them and ``predict*`` use
    ``best_iteration_``. LightGBM computes its built-in metrics on raw margins when the objective
    is custom, so: ``"auc"`` and ``"average_precision"`` (rank-based) are left to LightGBM;
    ``"logloss"`` / ``"binary_logloss"`` / ``"multi_logloss"`` and ``"error"`` /
    ``"binary_error"`` / ``"multi_error"`` are computed here on probabilities; other names raise
    a ``ValueError``. A callable receives probabilities (P(classes_[1]) for binary, (n, K) for
    multiclass) as for ``LGBMClassifier``; LightGBM evaluates built-in names before callables.

    **Init score.** LightGBM does not store an ``init_score`` in the model, so the focal init
    score ``init_score_`` is added to the booster's raw scores by ``decision_function``,
    ``predict_proba`` and ``predict(raw_score=True)``; ``booster_.predict(X, raw_score=True) +
    init_score_`` gives the margins. ``pred_contrib`` / ``pred_leaf`` are LightGBM's, unchanged
    (contributions sum to the margin minus ``init_score_``). A user ``init_score`` in ``fit``
    replaces the focal one for training and, as in LightGBM, is not added at predict time
    (``init_score_`` is then 0). ``init_model`` (continued training) is not supported.

    Attributes
    ----------{_FOCAL_ATTRIBUTES_DOC}
    booster_, best_iteration_, best_score_, evals_result_, feature_importances_, objective_, ...
        As in ``LGBMClassifier`` (``objective_`` is the focal objective callable).
    """

    _parameter_constraints = dict(_FOCAL_CONSTRAINTS)
    _objective_names = _LGBM_OBJECTIVE_NAMES

    def __init__(
        self,
        *,
        gamma=2.0,
        alpha=None,
        hessian="positive",
        loss_scale=1.0,
        probability="posterior",
        **kwargs,
    ):
        _reject_objective(self, kwargs)
        super().__init__(**kwargs)
        _store_focal_params(self, gamma, alpha, hessian, loss_scale, probability)

    # --- parameters ------------------------------------------------------------------------------
    def get_params(self, deep=True):
        """Parameters of this estimator: the focal ones and every ``LGBMClassifier`` one."""
        params = super().get_params(deep)
        params.pop("objective", None)  # always the focal loss: not a parameter
        return params

    def set_params(self, **params):
        """Set parameters (LightGBM's rules; ``objective`` and its aliases are rejected)."""
        _reject_objective(self, params)
        return super().set_params(**params)

    def _process_params(self, stage):
        """LightGBM's parameter processing, with the focal objective and without the focal
        parameters (which would otherwise reach the booster) or built-in metrics on margins."""
        if stage == "fit":
            self._objective = self._fit_objective
        params = super()._process_params(stage)
        for name in FOCAL_PARAMS + ("scale_pos_weight",) + _LGBM_METRIC_NAMES:
            params.pop(name, None)
        params["metric"] = []  # fit() passes every metric through eval_metric
        if getattr(self, "_keep_all_features", False):
            params["feature_pre_filter"] = False
        return params

    # --- fit -------------------------------------------------------------------------------------
    def fit(
        self,
        X,
        y,
        sample_weight=None,
        init_score=None,
        eval_set=None,
        eval_names=None,
        eval_sample_weight=None,
        eval_class_weight=None,
        eval_init_score=None,
        eval_metric=None,
        feature_name="auto",
        categorical_feature="auto",
        callbacks=None,
        init_model=None,
        *,
        eval_X=None,
        eval_y=None,
    ):
        """Fit the focal-loss booster; the arguments are those of ``LGBMClassifier.fit``.

        ``y`` may hold any labels; evaluation labels (``eval_X``/``eval_y`` or ``eval_set``) are
        encoded the same way. See the class notes for metrics, early stopping and init scores.
        """
        self._validate_params()
        _reject_continued_training("init_model", init_model, self)
        params = self.get_params(deep=False)
        if params.get("is_unbalance"):
            raise ValueError(
                "is_unbalance is not used by FocalLGBMClassifier; use alpha='balanced' (inside "
                "the focal loss) or class_weight='balanced' (sample weights)"
            )
        y_codes, classes = _encode_targets(y)
        check_consistent_length(X, y_codes)
        weights = _check_weights(sample_weight, X, y_codes, classes)
        spw = params.get("scale_pos_weight")
        if spw is not None and spw != 1.0:
            if classes.shape[0] != 2:
                raise ValueError(
                    "scale_pos_weight is defined for binary problems only; y has "
                    f"{classes.shape[0]} classes (use alpha for per-class weights)"
                )
            weights = _times_class_one(weights, y_codes, spw, "scale_pos_weight")
        loss_weights = weights  # what the objective will see: LightGBM multiplies class_weight in
        if self.class_weight is not None:
            class_weights = compute_sample_weight(self.class_weight, y)
            loss_weights = class_weights if weights is None else weights * class_weights
        setup = _FocalSetup(self, y_codes, classes, loss_weights)

        eval_pairs = self._eval_pairs(eval_set, eval_X, eval_y, classes)
        eval_init = eval_init_score
        if init_score is None:  # start from the focal init, evaluation sets too
            init_score = init_score_rows(setup.loss, y_codes, init=setup.init)
            self.init_score_ = setup.init
            given = list(eval_init_score) if eval_init_score is not None else []
            eval_init = [
                given[i]
                if i < len(given) and given[i] is not None
                else init_score_rows(setup.loss, y_eval, init=setup.init)
                for i, (_, y_eval, _) in enumerate(eval_pairs)
            ]
        else:  # the user's init score: as in LightGBM, not stored in the model
            self.init_score_ = 0.0 if classes.shape[0] == 2 else np.zeros(classes.shape[0])

        fit_args = dict(
            sample_weight=weights,
            init_score=init_score,
            eval_names=eval_names,
            eval_sample_weight=eval_sample_weight,
            eval_class_weight=eval_class_weight,
            eval_init_score=eval_init,
            eval_metric=self._engine_eval_metric(eval_metric, params, setup.loss),
            feature_name=feature_name,
            categorical_feature=categorical_feature,
            callbacks=callbacks,
        )
        if eval_pairs and _LGBM_HAS_EVAL_XY:  # lightgbm >= 4.6 deprecates eval_set ...
            fit_args["eval_X"] = tuple(X_eval for X_eval, _, _ in eval_pairs)
            fit_args["eval_y"] = tuple(codes for _, codes, _ in eval_pairs)  # ... and the
        elif eval_pairs:  # eval_X/eval_y path does not encode labels; eval_set does
            fit_args["eval_set"] = [(X_eval, y_eval) for X_eval, _, y_eval in eval_pairs]
        self._fit_objective = setup.objective
        try:
            try:
                super().fit(X, y, **fit_args)
            except LightGBMError as error:
                # LightGBM's custom-objective path crashes when no feature can be split (all
                # filtered by feature_pre_filter, e.g. fewer than 2 * min_child_samples rows),
                # where its built-in objectives train a constant model. Keep the features: the
                # trees are then single leaves and the model is the init score, as built-in.
                if _NO_FEATURES not in str(error) or "feature_pre_filter" in params:
                    raise
                self._keep_all_features = True
                super().fit(X, y, **fit_args)
        finally:
            del self._fit_objective
            self.__dict__.pop("_keep_all_features", None)
        setup.store(self)
        return self

    @staticmethod
    def _eval_pairs(eval_set, eval_X, eval_y, classes):
        """Evaluation sets as (X, encoded labels, original labels) triples."""
        if eval_set is not None and (eval_X is not None or eval_y is not None):
            raise ValueError("Specify either 'eval_set' or 'eval_X' and 'eval_y', but not both.")
        if eval_set is None:
            if (eval_X is None) != (eval_y is None):
                raise ValueError("You must specify eval_X and eval_y, not just one of them.")
            if eval_X is None:
                return []
            if isinstance(eval_X, tuple) != isinstance(eval_y, tuple) or (
                isinstance(eval_X, tuple) and len(eval_X) != len(eval_y)
            ):
                raise ValueError("eval_X and eval_y must both be tuples of the same length, or not")
            if isinstance(eval_X, tuple):
                eval_set = list(zip(eval_X, eval_y))
            else:
                eval_set = [(eval_X, eval_y)]
        elif isinstance(eval_set, tuple):
            eval_set = [eval_set]
        encoder = LabelEncoder()
        encoder.classes_ = classes
        return [
            (X_eval, encoder.transform(column_or_1d(y_eval)), y_eval) for X_eval, y_eval in eval_set
        ]

    def _engine_eval_metric(self, eval_metric, params, loss):
        """``fit(eval_metric=...)`` and the ``metric`` parameter as LightGBM would treat them,
        with metrics LightGBM would compute on margins replaced by probability-based ones."""
        user_default = next((params[n] for n in _LGBM_METRIC_NAMES if n in params), None)
        metrics = []
        for source in (eval_metric, user_default):
            if source is None:
                continue
            items = [source] if isinstance(source, str) or callable(source) else list(source)
            metrics.extend(items)
        if user_default is None:
            metrics.append(DEFAULT_METRIC_NAME)
        out, seen = [], set()
        for item in metrics:
            if callable(item):
                out.append(_LGBMProbabilityMetric(item, loss))
                continue
            if not isinstance(item, str):
                raise TypeError(f"eval_metric entries must be names or callables, got {item!r}")
            name = item.lower()
            if name in _LGBM_NO_METRIC or name in seen:
                continue
            seen.add(name)
            if name == DEFAULT_METRIC_NAME:
                out.append(_LGBMFocalMetric(loss))
            elif name in _LGBM_LOGLOSS:
                out.append(_LGBMLabelMetric(loss, "logloss"))
            elif name in _LGBM_ERROR:
                out.append(_LGBMLabelMetric(loss, "error"))
            elif name in _LGBM_RANK_METRICS:
                out.append(name)
            else:
                raise ValueError(
                    f"eval_metric {item!r} is not supported by {type(self).__name__}: with a "
                    "custom objective LightGBM computes built-in metrics on margins. Use "
                    f"'{DEFAULT_METRIC_NAME}', 'logloss', 'error', 'auc', 'average_precision' or "
                    "a callable (it receives probabilities)"
                )
        return out

    # --- predict ---------------------------------------------------------------------------------
    def decision_function(
        self, X, *, start_iteration=0, num_iteration=None, validate_features=False, **kwargs
    ):
        """Margins including ``init_score_`` (log-odds of ``classes_[1]``, shape (n,); or
        (n, n_classes) multiclass), at ``best_iteration_`` after early stopping."""
        check_is_fitted(self)
        _check_n_features(self, X)
        raw = LGBMModel.predict(
            self,
            X,
            raw_score=True,
            start_iteration=start_iteration,
            num_iteration=num_iteration,
            validate_features=validate_features,
            **kwargs,
        )
        return np.asarray(raw, dtype=np.float64) + self.init_score_

    def predict_proba(
        self,
        X,
        raw_score=False,
        start_iteration=0,
        num_iteration=None,
        pred_leaf=False,
        pred_contrib=False,
        validate_features=False,
        **kwargs,
    ):
        """Class probabilities (n, n_classes) in ``classes_`` order: sigmoid/softmax of the
        margins. ``raw_score=True`` returns the margins (with ``init_score_``); ``pred_leaf`` and
        ``pred_contrib`` are LightGBM's."""
        iterations = dict(start_iteration=start_iteration, num_iteration=num_iteration)
        if pred_leaf or pred_contrib:
            check_is_fitted(self)
            _check_n_features(self, X)
            return LGBMModel.predict(
                self,
                X,
                pred_leaf=pred_leaf,
                pred_contrib=pred_contrib,
                validate_features=validate_features,
                **iterations,
                **kwargs,
            )
        margin = self.decision_function(
            X, validate_features=validate_features, **iterations, **kwargs
        )
        return margin if raw_score else _proba_from_margin(self, margin)

    def predict(
        self,
        X,
        raw_score=False,
        start_iteration=0,
        num_iteration=None,
        pred_leaf=False,
        pred_contrib=False,
        validate_features=False,
        **kwargs,
    ):
        """Class labels: the class of largest margin (see ``probability``); ``raw_score``,
        ``pred_leaf`` and ``pred_contrib`` as in :meth:`predict_proba`."""
        iterations = dict(start_iteration=start_iteration, num_iteration=num_iteration)
        if raw_score or pred_leaf or pred_contrib:
            return self.predict_proba(
                X,
                raw_score=raw_score,
                pred_leaf=pred_leaf,
                pred_contrib=pred_contrib,
                validate_features=validate_features,
                **iterations,
                **kwargs,
            )
        margin = self.decision_function(X, validate_features=validate_features, **iterations, **kwargs)
        return _labels_from_margin(self, margin)

