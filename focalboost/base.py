"""The loss contract: what focalboost's hooks and estimators ask of a loss object.

:class:`BoostingLoss` writes it down. Every loss of focalboost derives from it
(:class:`~focalboost.BinaryFocalLoss`, :class:`~focalboost.MulticlassFocalLoss`,
:class:`~focalboost.MultiLabelFocalLoss`, the ``FiniteDifference*Loss`` wrappers), and so can a
user's own loss: a subclass writes the maths (``loss``, ``gradient_hessian``, ``init_score``,
``predict_proba``) and says what kind of loss it is (``kind``, and ``n_classes`` for a multiclass
loss); the base class derives everything else the hooks use. Such an object then trains through
every hook: :func:`focalboost.xgboost.train`, ``xgb.train(obj=focalboost.xgboost.objective(loss),
custom_metric=focalboost.xgboost.metric(loss))``, ``lgb.train`` with
:func:`focalboost.lightgbm.objective` and :func:`focalboost.lightgbm.metric`, and
``xgboost.dask.train`` with the helpers of :mod:`focalboost.dask`.

:func:`check_loss` is what every hook runs on the loss it is given: it names the members an
object lacks.

Duck typing. An object that does not derive from :class:`BoostingLoss` is accepted when it has
*every* member of the contract, the ones with defaults included (:data:`REQUIRED_MEMBERS` and
:data:`DEFAULT_MEMBERS`; :class:`SupportsBoostingLoss` is the same list as a
:class:`typing.Protocol`, for type checkers): the defaults live in the base class, so an object
outside it has to bring its own, and :func:`check_loss` lists the ones it lacks. Deriving from
:class:`BoostingLoss` is the short way.

Shapes. ``n`` rows; binary losses take labels (n,) in {0, 1} and margins (n,); multiclass losses
labels (n,) in 0..K-1 and margins (n, K); multi-label losses a 0/1 indicator matrix (n, L) and
margins (n, L). Margins ("raw predictions") are log-odds, not probabilities. The hooks pass
labels, margins and weights as the library holds them (often float32, and multiclass margins from
LightGBM as a column-major (n, K) view); a loss converts what it needs.
"""

from __future__ import annotations

import abc
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from ._validation import as_weights

#: the kinds of loss, and the number of dimensions of their margins
RAW_NDIM = {"binary": 1, "multiclass": 2, "multilabel": 2}
KINDS = tuple(RAW_NDIM)

#: members every loss must define itself (``n_classes`` too for ``kind = "multiclass"``)
REQUIRED_MEMBERS = ("kind", "loss", "gradient_hessian", "init_score", "predict_proba")
#: members :class:`BoostingLoss` defines; an object outside it must define them too
DEFAULT_MEMBERS = ("n_classes", "raw_ndim", "loss_sums", "mean_loss", "fast_gradient_hessian")
_METHODS = ("loss", "gradient_hessian", "init_score", "predict_proba", "loss_sums", "mean_loss",
            "fast_gradient_hessian")


class BoostingLoss(abc.ABC):
    """Base class of every loss that trains a gradient-boosting model through focalboost.

    A subclass sets ``kind`` (and ``n_classes`` for a multiclass loss) and implements the four
    abstract methods, which hold the maths: :meth:`loss`, :meth:`gradient_hessian`,
    :meth:`init_score` and :meth:`predict_proba`. Everything else the hooks and estimators use has
    a default here: :attr:`raw_ndim`, :meth:`loss_sums`, :meth:`mean_loss`,
    :meth:`fast_gradient_hessian` (no fast path) and :meth:`posterior` (not known).

    Attributes
    ----------
    kind : {"binary", "multiclass", "multilabel"}
        Required (a class attribute). What the loss classifies: one label in {0, 1} per row
        (margins (n,)), one of K classes per row (margins (n, K)), or L independent 0/1 labels
        per row (margins (n, L)). The hooks shape margins and set library parameters
        (``num_class``) from it.
    n_classes : int
        Required for ``kind = "multiclass"`` (K >= 2, a class attribute or set in ``__init__``);
        2 by default for the binary and multi-label kinds.
    n_labels : int or None
        Multi-label losses: the number of labels if the loss fixes it (e.g. per-label
        parameters), else None (taken from the data). Default None.

    Notes
    -----
    Every method computes per row and is called by the hooks once per boosting round (gradient
    and hessian) and once per round and evaluation set (the metric, through :meth:`loss_sums`).
    ``sample_weight`` is None (no weights) or an (n,) array of weights >= 0, which multiply the
    per-row loss, gradient and hessian exactly once. For Dask, the loss must pickle (define the
    class at module level).

    The class attributes and methods an existing loss used under private names still answer to
    them (``_raw_ndim``, ``_fast_gradient_hessian``); new code uses the public names.

    Examples
    --------
    A log loss with a weight for each class (``w1`` for class 1, ``w0`` for class 0): with
    ``w1 = w0 = 1`` it is XGBoost's ``binary:logistic``.

    >>> import numpy as np
    >>> from scipy.special import expit, log_expit
    >>> from focalboost.base import BoostingLoss
    >>> class WeightedLogLoss(BoostingLoss):
    ...     kind = "binary"
    ...
    ...     def __init__(self, w1=1.0, w0=1.0):
    ...         self.w1, self.w0 = float(w1), float(w0)
    ...
    ...     def _weight(self, y, sample_weight):
    ...         a = np.where(y == 1, self.w1, self.w0)
    ...         return a if sample_weight is None else a * sample_weight
    ...
    ...     def loss(self, y_true, raw_prediction, sample_weight=None):
    ...         y, x = np.asarray(y_true), np.asarray(raw_prediction, dtype=np.float64)
    ...         return self._weight(y, sample_weight) * -log_expit(np.where(y == 1, x, -x))
    ...
    ...     def gradient_hessian(self, y_true, raw_prediction, sample_weight=None):
    ...         y, x = np.asarray(y_true), np.asarray(raw_prediction, dtype=np.float64)
    ...         a, p = self._weight(y, sample_weight), expit(x)
    ...         return a * (p - y), a * p * (1.0 - p)
    ...
    ...     def init_score(self, y_true, sample_weight=None):
    ...         y = np.asarray(y_true)
    ...         w = np.ones(y.shape) if sample_weight is None else np.asarray(sample_weight, float)
    ...         return float(np.log(self.w1 * w[y == 1].sum() / (self.w0 * w[y == 0].sum())))
    ...
    ...     def predict_proba(self, raw_prediction):
    ...         x = np.asarray(raw_prediction, dtype=np.float64)
    ...         return np.column_stack([expit(-x), expit(x)])

    It trains through every hook; here :func:`focalboost.xgboost.train`:

    >>> import xgboost as xgb
    >>> from focalboost import xgboost as fxgb
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 3))
    >>> y = (X[:, 0] + rng.normal(size=400) > 1.0).astype(float)
    >>> loss = WeightedLogLoss(w1=3.0)
    >>> booster = fxgb.train({"max_depth": 2, "nthread": 1}, xgb.DMatrix(X, y), 10, loss=loss)
    >>> fxgb.predict_proba(booster, xgb.DMatrix(X), loss, probability="focal").shape
    (400, 2)
    >>> bool(np.isclose(loss.mean_loss(y, np.zeros(400)), np.log(2) * np.mean(np.where(y == 1, 3, 1))))
    True
    """

    kind: ClassVar[str]
    n_classes: int
    n_labels = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # a binary or multi-label loss has two classes (per label); a multiclass one says how many
        if getattr(cls, "kind", None) in ("binary", "multilabel") and not hasattr(cls, "n_classes"):
            cls.n_classes = 2

    # --- derived from the kind ------------------------------------------------------------------
    @property
    def raw_ndim(self):
        """Number of dimensions of the margins: 1 for binary (n,), 2 for multiclass (n, K) and
        multi-label (n, L) losses. Default: from :attr:`kind`."""
        return RAW_NDIM[self.kind]

    # --- the maths: required ---------------------------------------------------------------------
    @abc.abstractmethod
    def loss(self, y_true, raw_prediction, sample_weight=None):
        """Per-row loss. Required.

        Parameters
        ----------
        y_true : array-like of shape (n,) or (n, L)
            Labels: {0, 1} (binary), 0..K-1 (multiclass) or a 0/1 indicator matrix (multi-label);
            any numeric dtype (the libraries pass float32).
        raw_prediction : array-like of shape (n,), (n, K) or (n, L)
            Margins (log-odds), float32 or float64.
        sample_weight : None or array-like of shape (n,), default None
            Weights >= 0 that multiply each row's loss.

        Returns
        -------
        ndarray of shape (n,) (binary, multiclass) or (n, L) (multi-label, one loss per label)
            float64, weighted by ``sample_weight``.
        """

    @abc.abstractmethod
    def gradient_hessian(self, y_true, raw_prediction, sample_weight=None):
        """Gradient and (diagonal) hessian of the loss with respect to the margins. Required.

        Parameters
        ----------
        y_true : array-like of shape (n,) or (n, L)
            Labels, as for :meth:`loss`.
        raw_prediction : array-like of shape (n,), (n, K) or (n, L)
            Margins, as for :meth:`loss`.
        sample_weight : None or array-like of shape (n,), default None
            Row weights, as for :meth:`loss`.

        Returns
        -------
        grad, hess : ndarray of the shape of ``raw_prediction``
            (n,) binary, (n, K) multiclass, (n, L) multi-label; float64 (float32 is kept as the
            libraries store it); both multiplied by ``sample_weight`` once. The libraries learn
            nothing from rows whose hessian is <= 0, so a loss whose true second derivative can
            be negative should return a positive substitute (focalboost's focal losses do by
            default, ``hessian="positive"``).
        """

    @abc.abstractmethod
    def init_score(self, y_true, sample_weight=None):
        """The best constant margin: the constant prediction that minimises the weighted sum of
        the loss over the rows. Required.

        The hooks start every row there (XGBoost's ``base_score``, LightGBM's ``init_score``).
        Under Dask, :func:`focalboost.dask.init_score` calls it with labels 0..K-1 weighted by
        the class weight totals, so it must depend on the labels through those totals only.

        Parameters
        ----------
        y_true : array-like of shape (n,) or (n, L)
            Labels, as for :meth:`loss`.
        sample_weight : None or array-like of shape (n,), default None
            Row weights, as for :meth:`loss`.

        Returns
        -------
        float (binary), ndarray of shape (K,) (multiclass) or (L,) (multi-label)
        """

    @abc.abstractmethod
    def predict_proba(self, raw_prediction):
        """The link function of the margins (sigmoid/softmax): what the model's output means
        before any correction (``probability="focal"`` in the predict helpers); the class
        posterior is :meth:`posterior`. Required.

        Parameters
        ----------
        raw_prediction : array-like of shape (n,), (n, K) or (n, L)
            Margins.

        Returns
        -------
        ndarray of shape (n, 2) (binary: classes 0 and 1), (n, K) (multiclass, rows sum to 1) or
        (n, L) (multi-label: the probability of each label), float64.
        """

    # --- derived from the maths: defaults ------------------------------------------------------
    def loss_sums(self, y_true, raw_prediction, sample_weight=None):
        """``(sum(w * loss), sum(w))``: the numerator and denominator of :meth:`mean_loss`.

        Sums add up across shards of the data and means do not, so a distributed metric adds
        these two numbers over workers and divides once (:func:`focalboost.xgboost.mean_loss`,
        :func:`focalboost.dask.mean_loss`). Default: from :meth:`loss`.

        Parameters
        ----------
        y_true : array-like of shape (n,) or (n, L)
            Labels, as for :meth:`loss`.
        raw_prediction : array-like of shape (n,), (n, K) or (n, L)
            Margins, as for :meth:`loss`.
        sample_weight : None or array-like of shape (n,), default None
            Row weights, as for :meth:`loss`; an empty array (XGBoost's "no weights") means
            none.

        Returns
        -------
        (float, float)
            Without weights the denominator is the number of rows; for per-label losses (n, L)
            both count every label. Empty data gives ``(0.0, 0.0)``.
        """
        if sample_weight is not None and np.size(sample_weight) == 0:
            sample_weight = None
        per_row = np.asarray(self.loss(y_true, raw_prediction, sample_weight), dtype=np.float64)
        w = as_weights(sample_weight, per_row.shape[0])
        if w is None:
            return float(np.sum(per_row)), float(per_row.size)
        return float(np.sum(per_row)), float(np.sum(w) * int(np.prod(per_row.shape[1:])))

    def mean_loss(self, y_true, raw_prediction, sample_weight=None):
        """Weighted mean loss ``sum(w * loss) / sum(w)``: the metric the hooks report.

        Default: the ratio of :meth:`loss_sums` (:func:`mean_from_sums`). For per-label losses
        (n, L) it is the mean over rows and labels.

        Parameters
        ----------
        y_true : array-like of shape (n,) or (n, L)
            Labels, as for :meth:`loss`.
        raw_prediction : array-like of shape (n,), (n, K) or (n, L)
            Margins, as for :meth:`loss`.
        sample_weight : None or array-like of shape (n,), default None
            Row weights, as for :meth:`loss`.

        Returns
        -------
        float
            NaN when the weights sum to 0 (all-zero weights, or no rows): a mean over no weight is
            undefined. No exception is raised, so an evaluation set of zero total weight reports
            NaN every round, as XGBoost reports its built-in metrics then.
        """
        return mean_from_sums(*self.loss_sums(y_true, raw_prediction, sample_weight))

    def fast_gradient_hessian(self, y_true, raw_prediction, sample_weight=None, out=None):
        """An optional fast path for :meth:`gradient_hessian`, or None. Default: None.

        The hooks call it first, with ``out`` a (grad, hess) pair of preallocated float32 arrays
        of the shape (and memory order) of the margins, the precision XGBoost and LightGBM keep.
        Return ``out`` filled with the gradient and hessian (weighted once), or None where there
        is no fast path for this input: the hooks then call :meth:`gradient_hessian`. Invalid
        input should raise, not return None. focalboost's focal losses run their fused numba
        kernels here.

        Parameters
        ----------
        y_true : array-like of shape (n,) or (n, L)
            Labels, as for :meth:`loss`.
        raw_prediction : array-like of shape (n,), (n, K) or (n, L)
            Margins, as for :meth:`loss`.
        sample_weight : None or array-like of shape (n,), default None
            Row weights, as for :meth:`loss`.
        out : None or (ndarray, ndarray), default None
            Preallocated float32 gradient and hessian of the shape of ``raw_prediction``.

        Returns
        -------
        None, or (grad, hess) of the shape of ``raw_prediction``
        """
        return None

    def posterior(self, raw_prediction):
        """Estimated class posterior P(y | x) from margins. Optional; the default raises
        NotImplementedError.

        It differs from :meth:`predict_proba` whenever the loss is not a proper scoring rule
        (class weights, focal factors): focalboost's focal losses undo their known distortion
        (:mod:`focalboost.posterior`). The estimators and the native ``predict_proba`` helpers
        call it for their default ``probability="posterior"``; a loss without it needs
        ``probability="focal"`` there.

        Parameters
        ----------
        raw_prediction : array-like of shape (n,), (n, K) or (n, L)
            Margins.

        Returns
        -------
        ndarray of the shape of :meth:`predict_proba`'s
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not define posterior(); predict_proba() gives the "
            "probabilities the loss was trained for"
        )

    # --- the former private names (kept for code that still reads them) ------------------------
    @property
    def _raw_ndim(self):
        """Former private name of :attr:`raw_ndim`."""
        return self.raw_ndim

    def _fast_gradient_hessian(self, y_true, raw_prediction, sample_weight=None, out=None):
        """Former private name of :meth:`fast_gradient_hessian`."""
        return self.fast_gradient_hessian(y_true, raw_prediction, sample_weight, out=out)


def mean_from_sums(total, weight):
    """``total / weight``, the weighted mean of :meth:`BoostingLoss.loss_sums`; NaN (no exception,
    no warning) for ``weight == 0``: all-zero weights or no rows, where the mean is undefined.

    Parameters
    ----------
    total : float
        ``sum(w * loss)``.
    weight : float
        ``sum(w)``.

    Returns
    -------
    float
    """
    return float(total) / float(weight) if weight != 0 else float("nan")


@runtime_checkable
class SupportsBoostingLoss(Protocol):
    """The loss contract as a structural type: every member the hooks use (see
    :class:`BoostingLoss` for what each returns). A :class:`BoostingLoss` satisfies it."""

    kind: str
    n_classes: int
    raw_ndim: int

    def loss(self, y_true, raw_prediction, sample_weight=None): ...

    def gradient_hessian(self, y_true, raw_prediction, sample_weight=None): ...

    def init_score(self, y_true, sample_weight=None): ...

    def predict_proba(self, raw_prediction): ...

    def loss_sums(self, y_true, raw_prediction, sample_weight=None): ...

    def mean_loss(self, y_true, raw_prediction, sample_weight=None): ...

    def fast_gradient_hessian(self, y_true, raw_prediction, sample_weight=None, out=None): ...


def check_loss(loss):
    """``loss`` if it meets the contract of :class:`BoostingLoss`, else the error naming what
    it lacks or gets wrong.

    Accepted: instances of :class:`BoostingLoss` subclasses, and any other object with every
    member of the contract (:data:`REQUIRED_MEMBERS`, :data:`DEFAULT_MEMBERS`).

    Parameters
    ----------
    loss : object
        The loss object to check.

    Returns
    -------
    object
        ``loss`` itself.

    Raises
    ------
    TypeError
        A member is missing or not callable, or ``loss`` is a class rather than an instance.
    ValueError
        ``kind``, ``n_classes`` or ``raw_ndim`` has a value outside the contract.
    """
    name = type(loss).__name__
    if isinstance(loss, type):
        raise TypeError(
            f"loss must be a focalboost loss object, an instance; got the class {loss.__name__} "
            f"(call it: {loss.__name__}(...))"
        )
    subclass = isinstance(loss, BoostingLoss)
    needed = REQUIRED_MEMBERS if subclass else REQUIRED_MEMBERS + DEFAULT_MEMBERS
    if getattr(loss, "kind", None) == "multiclass" and "n_classes" not in needed:
        needed = needed + ("n_classes",)
    missing = [member for member in needed if not hasattr(loss, member)]
    if missing:
        hint = (
            "set them in the subclass"
            if subclass
            else "derive from focalboost.base.BoostingLoss (which provides "
            f"{list(DEFAULT_MEMBERS[1:])}) or define them"
        )
        raise TypeError(
            f"loss must be a focalboost loss object (a BoostingLoss such as BinaryFocalLoss, or an "
            f"object with every member of the loss contract); {name} lacks {missing}: {hint}"
        )
    not_callable = [member for member in _METHODS if not callable(getattr(loss, member, None))]
    if not_callable:
        raise TypeError(f"loss: the members {not_callable} of {name} must be methods")
    kind = loss.kind
    if kind not in KINDS:
        raise ValueError(f"{name}.kind must be one of {list(KINDS)}, got {kind!r}")
    n_classes = loss.n_classes
    if kind == "multiclass":
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
            raise ValueError(
                f"{name}.n_classes must be an integer >= 2 for a multiclass loss, got {n_classes!r}"
            )
    elif n_classes != 2:
        raise ValueError(
            f"{name}.n_classes must be 2 for a {kind} loss, got {n_classes!r} (a loss of K > 2 "
            "classes has kind = 'multiclass')"
        )
    if loss.raw_ndim != RAW_NDIM[kind]:
        raise ValueError(
            f"{name}.raw_ndim must be {RAW_NDIM[kind]} for a {kind} loss, got {loss.raw_ndim!r}"
        )
    return loss
