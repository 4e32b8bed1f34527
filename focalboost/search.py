"""``FocalSearchCV``: the gamma/alpha search of a focal estimator, cheaper than ``GridSearchCV``.

Two modes (see the class docstring for every decision they make):

* ``mode="exhaustive"`` trains exactly what ``GridSearchCV`` trains (the same clones, folds,
  parameters, fit parameters and scorer) and returns the same ``best_params_``, the same
  ``cv_results_`` scores and the same refit trees, bit for bit (tests/test_search.py compares them;
  the refit's ``predict_proba`` differs only by the strength and temperature fitted on the
  out-of-fold margins, ``calibrate="auto"``: identical with ``calibrate=False``);
* ``mode="fast"`` (default) bins each fold once (one ``QuantileDMatrix`` / ``lgb.Dataset`` per
  fold, shared by every candidate), trains the candidates' boosters round by round with the
  libraries' public ``Booster.update`` and drops the weak ones by successive halving over the
  boosting rounds; the best candidate is then refit on all the data with the user's
  ``n_estimators``, as ``GridSearchCV`` refits.
"""

from __future__ import annotations

import logging
import math
import numbers
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.metrics import average_precision_score, check_scoring
from sklearn.model_selection import ParameterGrid, check_cv
from sklearn.preprocessing import label_binarize
from sklearn.utils import _safe_indexing
from sklearn.utils.metaestimators import _safe_split, available_if
from sklearn.utils.validation import _check_method_params, check_is_fitted, indexable

logger = logging.getLogger("focalboost")

#: the default search space, as ``focalboost compare`` (focalboost/compare/settings.py)
DEFAULT_GAMMAS = (0.5, 1.0, 2.0, 3.0)
DEFAULT_BINARY_ALPHAS = (None, 0.25, "balanced")
DEFAULT_MULTICLASS_ALPHAS = (None, "balanced")
MODES = ("fast", "exhaustive")
#: the parameters fast mode may search: the focal ones (they change the loss, never the binned data)
FAST_PARAMS = ("gamma", "alpha", "hessian", "loss_scale", "probability")
#: successive halving: each rung keeps ceil(1/HALVING_FACTOR) of the candidates, and the rungs'
#: round budgets are n_estimators / HALVING_FACTOR**2, n_estimators / HALVING_FACTOR, n_estimators
HALVING_FACTOR = 3
N_RUNGS = 3
#: the first rung also keeps the best candidate of each value of these parameters (see
#: _rung_keep): alpha sets the class weighting, hence the init score and how fast the margins move,
#: so candidates of different alphas are at different points of their learning curves after
#: n_estimators / 9 rounds (recorded curves: benchmarks/RESULTS.md, "Fast mode's first rung");
#: () is plain successive halving
FIRST_RUNG_KEEPS_BEST_OF = ("alpha",)


def average_precision(estimator, X, y):
    """The default score: average precision of ``estimator.predict_proba(X)`` (binary: of
    ``classes_[1]``; multiclass: macro one-vs-rest), what ``focalboost compare`` maximises. A
    scikit-learn scorer (``scorer(estimator, X, y)``): pass it to ``GridSearchCV(scoring=...)`` to
    compare like with like."""
    proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    classes = estimator.classes_
    y = np.asarray(y)
    if len(classes) == 2:
        return _average_precision(y == classes[1], proba[:, 1])
    onehot = label_binarize(y, classes=classes)
    if not onehot.any(axis=0).all():  # a class absent from y: scikit-learn's warning and value
        return float(average_precision_score(onehot, proba, average="macro"))
    return float(np.average([_average_precision(onehot[:, k] == 1, proba[:, k])
                             for k in range(onehot.shape[1])]))


def _average_precision(positive, score):
    """``sklearn.metrics.average_precision_score(positive, score)`` for a boolean ``positive``
    and float64 ``score`` of one dimension, computed as scikit-learn computes it (its
    ``precision_recall_curve`` step function) without its input validation, which took most of
    the time of a fast-mode rung's score (2-3 ms a call on 6,555 rows). Equal to scikit-learn's
    to the last bits (tests/test_search.py); without positives, scikit-learn's own."""
    n_positive = np.count_nonzero(positive)
    if n_positive == 0 or np.isnan(score).any():
        return float(average_precision_score(positive, score))
    order = np.argsort(score, kind="mergesort")[::-1]
    score, positive = score[order], positive[order]
    ends = np.r_[np.flatnonzero(np.diff(score)), score.shape[0] - 1]  # last row of each value
    tps = np.cumsum(positive, dtype=np.float64)[ends]
    precision = np.r_[(tps / (ends + 1.0))[::-1], 1.0]  # tps + fps = rows up to that value
    recall = np.r_[(tps / tps[-1])[::-1], 0.0]
    return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))


def default_param_grid(n_classes, prefix=""):
    """The compare default: gamma (0.5, 1, 2, 3) x alpha (None, 0.25, "balanced") for binary
    problems, alpha (None, "balanced") for multiclass."""
    alphas = DEFAULT_BINARY_ALPHAS if n_classes == 2 else DEFAULT_MULTICLASS_ALPHAS
    return {f"{prefix}gamma": list(DEFAULT_GAMMAS), f"{prefix}alpha": list(alphas)}


def _focal_library(estimator):
    """"xgboost" / "lightgbm" for a focal estimator, else None (no import of either library
    unless the estimator's class comes from it)."""
    for cls in type(estimator).__mro__:
        module = cls.__module__
        if module.startswith("focalboost.sklearn") and cls.__name__ == "FocalXGBClassifier":
            return "xgboost"
        if module.startswith("focalboost.sklearn") and cls.__name__ == "FocalLGBMClassifier":
            return "lightgbm"
    return None


def _final_step(estimator):
    """(focal estimator, parameter prefix): the estimator itself, a Pipeline's last step, or the
    ``estimator`` of a meta-estimator (e.g. ``MultiOutputClassifier``)."""
    steps = getattr(estimator, "steps", None)
    if steps:
        name, last = steps[-1]
        return last, f"{name}__"
    inner = getattr(estimator, "estimator", None)
    if _focal_library(estimator) is None and inner is not None and _focal_library(inner):
        return inner, "estimator__"
    return estimator, ""


class FocalSearchCV(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Search the focal parameters (gamma, alpha) of a focal estimator by cross-validation.

    A drop-in for ``sklearn.model_selection.GridSearchCV`` over
    :class:`~focalboost.FocalXGBClassifier` or :class:`~focalboost.FocalLGBMClassifier`:
    the same folds (``check_cv(cv, y, classifier=True)``), scorer, ``cv_results_`` format and
    refit, at a fraction of the cost in the default ``mode="fast"``.

    Parameters
    ----------
    estimator : FocalXGBClassifier, FocalLGBMClassifier or Pipeline
        The estimator whose parameters are searched; its other parameters (``n_estimators``,
        ``learning_rate``, ...) are used as they are. A ``Pipeline`` ending in a focal estimator
        (or a meta-estimator such as ``MultiOutputClassifier`` whose ``estimator`` is one) is
        accepted by ``mode="exhaustive"`` only.
    param_grid : dict or list of dicts, default=None
        As for ``GridSearchCV``. None: the ``focalboost compare`` default, gamma (0.5, 1, 2, 3) x
        alpha (None, 0.25, "balanced") for binary ``y``, alpha (None, "balanced") for multiclass
        (for a Pipeline, on its last step).
    scoring : str, callable or None, default=None
        A scikit-learn scorer name or callable ``scorer(estimator, X, y)`` (higher is better).
        None: :func:`average_precision` (macro one-vs-rest for multiclass), what
        ``focalboost compare`` maximises.
    mode : {"fast", "exhaustive"}, default="fast"
        How the candidates are trained and chosen (below).
    cv : int, cross-validation generator or iterable, default=None
        As for ``GridSearchCV`` (None: 5-fold; an int: ``StratifiedKFold``).
    refit : bool, default=True
        Refit the best candidate on all of ``X`` (``best_estimator_``), with the same
        ``fit_params``.
    n_jobs : int or None, default=None
        Candidates trained at the same time, in threads of this process (no copies of the data:
        in fast mode they share each fold's binned data set). None or 1: one at a time; -1: one
        per CPU. Each candidate also uses the estimator's own ``n_jobs`` threads. Logged on the
        ``focalboost`` logger (INFO).
    calibrate : {"auto", False}, default="auto"
        The refit model's ``probability="auto"`` calibration (``strength_``, ``temperature_``;
        see :mod:`focalboost.calibration`). ``"auto"``: when the refit estimator has
        ``probability="auto"`` and its ``fit`` gets no evaluation set, they are fitted (log
        loss) on the out-of-fold margins of the best candidate, the models the search trained
        on each fold and scored on its held-out part (cross-fitting, as scikit-learn's
        ``CalibratedClassifierCV(ensemble=False)``); the refit's own fit would otherwise fall
        back to the exact posterior (1, 1). If ``fit_params`` pass the refit an evaluation set
        (XGBoost ``eval_set``, LightGBM ``eval_set`` / ``eval_X``), that set wins: the refit
        calibrates on it as it always does, and the out-of-fold margins are not used.
        ``False``: the refit keeps what its own ``fit`` gives. Which one happened is in
        ``best_estimator_.probability_calibration_`` and on the ``focalboost`` logger (INFO).

    Attributes
    ----------
    best_params_, best_score_, best_index_, best_estimator_, cv_results_, n_splits_, scorer_, \
refit_time_, classes_, n_features_in_
        As in ``GridSearchCV``. Fast mode adds ``cv_results_["n_rounds"]``: the boosting rounds
        each candidate was scored at.
    mode_ : str
        The mode used.

    Notes
    -----
    **Exhaustive mode** gives what ``GridSearchCV(estimator, param_grid, scoring=..., cv=...)``
    gives: the same fold scores, ``best_params_`` and refit model (its trees; its
    ``predict_proba`` up to the refit's (s, T), below). Where the grid varies only the
    focal parameters and the only fit parameter is ``sample_weight`` (and the estimator is a plain
    focal estimator with ``tree_method`` hist / ``boosting_type`` gbdt), it shares work: each
    fold's training part is binned once and every candidate is trained on it to
    ``n_estimators`` rounds, exactly as fast mode's steps 1 and 2 below, without halving. The
    boosters are the ones ``fit`` grows (XGBoost: the same ``QuantileDMatrix`` contents and
    booster parameters; LightGBM: the shared ``Dataset`` takes each candidate's init score before
    its booster is created, and the init score is folded into the first trees as ``fit`` folds
    it), so the scores are equal (tests/test_search.py compares them with ``GridSearchCV`` to
    1e-12 and finds them equal). Otherwise (a Pipeline, other grid parameters, other fit
    parameters such as an ``eval_set``) each candidate is fitted by
    ``clone(estimator).set_params(**params).fit`` on the fold, with the fit parameters indexed as
    ``GridSearchCV`` indexes them, and the log says why. Errors raise (``error_score="raise"``).

    **Fast mode** (the grid varies only the focal parameters ``gamma``, ``alpha``, ``hessian``,
    ``loss_scale``, ``probability``; fit parameters: ``sample_weight`` and, for early stopping,
    one evaluation set: XGBoost ``eval_set`` with ``early_stopping_rounds``, LightGBM
    ``eval_X``/``eval_y`` or ``eval_set`` with ``callbacks=[lightgbm.early_stopping(k)]``, on the
    default ``focal_loss`` metric; anything else raises a ``ValueError`` naming it):

    1. *One binned data set per fold.* Each fold's training part is binned once
       (``xgboost.QuantileDMatrix`` with the estimator's ``max_bin``, ``missing``,
       ``enable_categorical``, ``feature_types``; ``lightgbm.Dataset`` with the estimator's
       dataset parameters); every candidate's booster trains on it. The focal parameters change
       the loss, never the bins, so this is what the estimator would build each time.
    2. *The estimator's own setup.* Each candidate's labels, weights (``sample_weight``,
       ``scale_pos_weight``, ``class_weight``), alpha, init score and loss scale come from the
       estimator core (``focalboost.sklearn._core``: ``LocalTargets``, ``FocalSetup``) on the
       fold's training part, and its booster parameters from the estimator itself
       (``XGBClassifier`` parameters / ``LGBMClassifier._process_params``), so a candidate trained
       to ``n_estimators`` rounds is the model ``fit`` would give on that fold.
    3. *Successive halving over boosting rounds, each alpha represented at the first rung.*
       All ``c`` candidates are trained on every fold to ``ceil(n_estimators / 9)`` rounds and
       scored on the fold's held-out part (the same folds and rows ``GridSearchCV`` scores) with
       the scorer, given what the estimator would predict (its ``predict_proba`` rule on the
       booster's margins). They are ranked by their mean score over the folds (ties: first in
       ``param_grid`` order; a NaN mean last); the best ``ceil(c / 3)`` continue, **and so does
       the best candidate of each value of** ``alpha`` (``FIRST_RUNG_KEEPS_BEST_OF``). The
       survivors' boosters continue (no round is trained twice) to ``ceil(n_estimators / 3)``
       rounds, are scored and ranked again, and the best third of them (``ceil(s / 3)`` of the
       ``s`` survivors) continue to ``n_estimators`` rounds. The best candidate at
       ``n_estimators`` rounds wins (ties: first in ``param_grid`` order), so ``best_score_`` is
       a score of the same model ``GridSearchCV`` would score. Why each alpha: alpha sets the
       class weighting, so the init score and how fast the margins move; after
       ``n_estimators / 9`` rounds candidates of different alphas are at different points of
       their learning curves (on nassCDS with LightGBM, alpha "balanced" ranked last at 12 of
       100 rounds and first from 30-40 rounds on), while within one alpha the early ranking held
       on the recorded curves (benchmarks/RESULTS.md). On the default binary grid that is 12
       candidates, then 4 or 5 (6 at most), then 2: 3.6-4.1 ``n_estimators`` worth of rounds
       per fold instead of GridSearchCV's 12. The log (INFO) says when the first rung keeps
       more than ``ceil(c / 3)``.
    4. *Early stopping only if the estimator asks for it.* Without it, every candidate is scored
       at the rung's round budget, never at a round chosen on the held-out part it is scored on
       (that would favour candidates by noise). With early stopping on an evaluation set (fit
       parameters above) each candidate evaluates the weighted mean focal loss on that set every
       round and stops after ``k`` rounds without a strictly smaller value, the libraries' rule,
       and is scored at its best round, as the estimator's ``predict`` would be; a candidate that
       stopped keeps its score at later rungs.
    5. *Refit* (``refit=True``): ``clone(estimator).set_params(**best_params_).fit(X, y,
       **fit_params)``, exactly as ``GridSearchCV``.

    **The refit's probabilities** (``calibrate="auto"``, a refit with ``probability="auto"`` and
    no evaluation set): the search already trained the best candidate on every fold and predicted
    the fold's held-out part; those out-of-fold margins (in fold order, with the held-out rows'
    ``sample_weight``) are held-out data for the refit's ``strength_`` and ``temperature_``,
    fitted by :func:`focalboost.calibration.fit_strength_temperature` and set on the refit as
    its fit sets them after an evaluation set (so ``predict_proba``, ``save_model``, ONNX export
    and pickles agree). In both modes the trees, ``best_params_`` and ``cv_results_`` are not
    touched: in exhaustive mode they stay ``GridSearchCV``'s, and the refit's probabilities
    differ from ``GridSearchCV``'s refit only by (s, T) (with s < 1 or an alpha, ``predict``,
    the argmax of the probabilities, can differ too; the margins do not). The margins come from
    the fold models the mode trains anyway (fast mode: the best candidate's boosters at
    ``n_estimators`` rounds; exhaustive mode: the models ``GridSearchCV`` would fit, predicted
    once more on the held-out part, outside ``mean_score_time``); the fit takes about a second
    (at most ``MAX_FIT_MARGINS`` margins, :func:`focalboost.calibration.fit_rows`) and is
    counted in ``refit_time_``. Not done (logged, the refit keeps its exact posterior) for a
    multi-label ``y``, a meta-estimator around the focal estimator, or folds whose training part
    lacks a class.

    ``cv_results_`` keeps one entry per candidate in ``param_grid`` order: its
    ``split<i>_test_score`` are the scores at the last rung it reached (``n_rounds``), and
    ``rank_test_score`` ranks first by the rung reached, then by mean score. ``mean_fit_time``
    is the candidate's training time on a fold summed over its rungs (the fold's binning, shared,
    is not in it).
    """

    def __init__(self, estimator, param_grid=None, *, scoring=None, mode="fast", cv=None,
                 refit=True, n_jobs=None, calibrate="auto"):
        self.estimator = estimator
        self.param_grid = param_grid
        self.scoring = scoring
        self.mode = mode
        self.cv = cv
        self.refit = refit
        self.n_jobs = n_jobs
        self.calibrate = calibrate

    # --- checks ------------------------------------------------------------------------------------
    def _check(self, y):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {self.mode!r}")
        if not isinstance(self.refit, bool):
            raise ValueError(f"refit must be True or False, got {self.refit!r}")
        if not (self.calibrate is False or (isinstance(self.calibrate, str)
                                            and self.calibrate == "auto")):
            raise ValueError(f"calibrate must be 'auto' or False, got {self.calibrate!r}")
        if isinstance(self.scoring, (list, tuple, set, dict)):
            raise ValueError(
                f"scoring must be one scorer name or callable (multi-metric search is not "
                f"supported), got {self.scoring!r}"
            )
        if self.n_jobs is not None and (
            isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, numbers.Integral)
            or self.n_jobs == 0
        ):
            raise ValueError(f"n_jobs must be None, -1 or an int >= 1, got {self.n_jobs!r}")
        final, prefix = _final_step(self.estimator)
        library = _focal_library(final)
        if library is None:
            raise TypeError(
                "FocalSearchCV's estimator must be a FocalXGBClassifier, a FocalLGBMClassifier "
                f"or a Pipeline ending in one, got {type(self.estimator).__name__}"
                + (f" ending in {type(final).__name__}" if prefix else "")
            )
        y_arr = np.asarray(y)
        self._multilabel = y_arr.ndim == 2 and y_arr.shape[1] > 1
        if self.param_grid is None:
            n_classes = np.unique(y_arr).shape[0] if y_arr.ndim == 1 else 2
            grid = default_param_grid(n_classes, prefix)
        else:
            grid = self.param_grid
        candidates = list(ParameterGrid(grid))  # validates the grid (as GridSearchCV)
        if not candidates:
            raise ValueError("param_grid has no candidate")
        return library, candidates

    def _threads(self, n_tasks):
        n = 1 if self.n_jobs is None else self.n_jobs
        if n < 0:
            import os

            n = max((os.cpu_count() or 1) + 1 + n, 1)
        return max(1, min(n, n_tasks))

    # --- fit ---------------------------------------------------------------------------------------
    def fit(self, X, y, groups=None, **fit_params):
        """Run the search, then refit the best candidate on all of ``X`` (``refit=True``).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            The training rows.
        y : array-like of shape (n_samples,)
            The labels, of any type the estimator accepts.
        groups : array-like of shape (n_samples,), default=None
            Group labels for a group-aware splitter (``GroupKFold``, ...), passed to
            ``cv.split(X, y, groups)`` as ``GridSearchCV.fit`` passes them; not passed to the
            estimator.
        **fit_params : dict
            Passed to the estimator's ``fit`` (row-aligned ones, such as ``sample_weight``,
            indexed per fold as ``GridSearchCV`` does). Fast mode accepts ``sample_weight``
            only.

        Returns
        -------
        self : FocalSearchCV
            The fitted search.
        """
        library, candidates = self._check(y)
        X, y, groups = indexable(X, y, groups)
        cv = check_cv(self.cv, y, classifier=True)
        folds = list(cv.split(X, y, groups))
        self.n_splits_ = len(folds)
        self.scorer_ = average_precision if self.scoring is None else check_scoring(
            self.estimator, scoring=self.scoring
        )
        self.mode_ = self.mode
        threads = self._threads(len(candidates))
        logger.info(
            "FocalSearchCV(mode=%r): %d candidates x %d folds, %d candidate(s) at a time in threads",
            self.mode, len(candidates), len(folds), threads,
        )
        # the refit's probability calibration from the out-of-fold margins (None: not wanted,
        # else why not): the search paths keep what they need to give them (self._margins_of)
        self._no_oof = self._oof_unwanted(fit_params)
        self._margins_of = None
        try:
            self._search_and_refit(library, X, y, fit_params, candidates, folds, threads)
        finally:
            del self._no_oof, self._margins_of  # the folds' boosters/margins: not kept
        return self

    def _search_and_refit(self, library, X, y, fit_params, candidates, folds, threads):
        if self.mode == "fast":
            self._check_shared(library, candidates, fit_params, raise_error=True)
            results = self._fit_boosters(library, X, y, fit_params, candidates, folds, threads,
                                         halving=True)
        elif self._check_shared(library, candidates, fit_params, raise_error=False) is None:
            logger.info("FocalSearchCV exhaustive: one binned data set per fold, every candidate "
                        "trained to n_estimators rounds")
            results = self._fit_boosters(library, X, y, fit_params, candidates, folds, threads,
                                         halving=False)
        else:
            logger.info("FocalSearchCV exhaustive: each candidate fitted by the estimator's fit "
                        "(no shared binned data: %s)",
                        self._check_shared(library, candidates, fit_params, raise_error=False))
            results = self._fit_exhaustive(X, y, fit_params, candidates, folds, threads)
        self.cv_results_ = results
        self.best_index_ = int(np.argmin(results["rank_test_score"]))  # first of the best
        self.best_params_ = candidates[self.best_index_]
        self.best_score_ = float(results["mean_test_score"][self.best_index_])
        if self.refit:
            t0 = time.perf_counter()
            best = clone(self.estimator).set_params(**clone(self.best_params_, safe=False))
            best.fit(X, y, **fit_params)
            self._calibrate_refit(best, y, fit_params, folds)
            self.refit_time_ = time.perf_counter() - t0
            self.best_estimator_ = best
            if hasattr(best, "n_features_in_"):
                self.n_features_in_ = best.n_features_in_
            if hasattr(best, "feature_names_in_"):
                self.feature_names_in_ = best.feature_names_in_

    # --- the refit's probability calibration from the out-of-fold margins -------------------------
    def _oof_unwanted(self, fit_params):
        """None if the refit's (strength, temperature) are to be fitted on the best candidate's
        out-of-fold margins (the search paths then keep them), else why not."""
        if self.calibrate is False:
            return "calibrate=False"
        if not self.refit:
            return "refit=False"
        prefix = _final_step(self.estimator)[1]
        given = sorted(name for name in (f"{prefix}eval_set", f"{prefix}eval_X")
                       if fit_params.get(name) is not None)
        if given:
            return (f"the refit is given an evaluation set ({', '.join(given)}): its own fit "
                    "calibrates on it")
        if self._multilabel:
            return "y is a 2-D multi-label indicator (no temperature fit)"
        return None

    def _calibrate_refit(self, best, y, fit_params, folds):
        """Fit the refit's (strength, temperature) of ``probability="auto"`` on the best
        candidate's out-of-fold margins (cross-fitting) and set them through the estimator's own
        path (``_calibrate_on``: estimator, booster attributes, model files, ONNX, pickles)."""
        from .calibration import has_weight
        from .sklearn._core import encoder_for

        final, prefix = _final_step(best)
        if prefix and not hasattr(best, "steps"):  # a meta-estimator: its fitted focal models
            logger.info("FocalSearchCV: the refit is a %s: its focal models keep their own "  # are
                        "probability calibration (out-of-fold margins not used)",  # inside it
                        type(best).__name__)
            return
        if final.get_params()["probability"] != "auto":
            return  # no strength or temperature in that probability mode
        reason = self._no_oof
        if reason is None and self._margins_of is None:
            reason = "the search kept no out-of-fold margins"
        margins = None
        if reason is None:
            margins = self._margins_of(self.best_index_)
            if any(m is None for m, _ in margins):
                reason = "a fold's model gives no margins"
            elif any(not np.array_equal(c, final.classes_) for _, c in margins):
                reason = "a fold's training part lacks a class of y"
        if reason is None:
            codes, weights = [], []
            sample_weight = fit_params.get(f"{prefix}sample_weight")
            for _, test in folds:
                codes.append(encoder_for(final.classes_).transform(
                    np.ravel(np.asarray(_safe_indexing(y, test)))))
                if sample_weight is not None:
                    weights.append(_safe_indexing(np.asarray(sample_weight), test))
            weight = None if sample_weight is None else np.concatenate(weights)
            if not has_weight(weight):
                reason = "the held-out rows' sample weights sum to 0"
        if reason is not None:
            logger.info("FocalSearchCV: the refit's probability='auto' keeps its own calibration "
                        "(%s): out-of-fold margins not used (%s)",
                        final.probability_calibration_, reason)
            return
        margin = np.concatenate([m for m, _ in margins], axis=0)
        source = (f"the out-of-fold margins of FocalSearchCV's {len(folds)} folds, the best "
                  f"candidate as its {self.mode} search trained it")
        final._calibrate_on(np.concatenate(codes), margin, weight, source)

    def _fit_exhaustive(self, X, y, fit_params, candidates, folds, threads):
        parts = []
        for train, test in folds:  # split once per fold, not once per candidate
            X_train, y_train = _safe_split(self.estimator, X, y, train)
            X_test, y_test = _safe_split(self.estimator, X, y, test, train)
            parts.append((X_train, y_train, _check_method_params(X, fit_params, train), X_test, y_test))

        keep = self._no_oof is None
        kept = {}

        def one(task):
            i, k = task
            X_train, y_train, params, X_test, y_test = parts[k]
            model = clone(self.estimator).set_params(**clone(candidates[i], safe=False))
            t0 = time.perf_counter()
            model.fit(X_train, y_train, **params)
            t1 = time.perf_counter()
            score = self.scorer_(model, X_test, y_test)
            t2 = time.perf_counter()
            if keep:  # for the refit's calibration (not in fit or score time)
                kept[task] = _focal_margin(model, X_test)
            return t1 - t0, t2 - t1, score

        tasks = [(i, k) for i in range(len(candidates)) for k in range(len(folds))]
        if threads == 1:
            out = [one(task) for task in tasks]
        else:
            with ThreadPoolExecutor(threads) as pool:
                out = list(pool.map(one, tasks))
        shape = (len(candidates), len(folds))
        fit_time = np.array([o[0] for o in out]).reshape(shape)
        score_time = np.array([o[1] for o in out]).reshape(shape)
        scores = np.array([o[2] for o in out], dtype=np.float64).reshape(shape)
        if keep:
            self._margins_of = lambda i: [kept[(i, k)] for k in range(len(folds))]
        return _cv_results(candidates, scores, fit_time, score_time)

    def _check_shared(self, library, candidates, fit_params, raise_error):
        """None if the candidates can share one binned data set per fold (fast mode, and
        exhaustive mode's shortcut); else why not (a ValueError when ``raise_error``)."""
        from ._search_boosters import early_stopping_spec, fast_estimator_problems

        problems = []
        if _final_step(self.estimator)[1]:
            problems.append(f"the estimator is a {type(self.estimator).__name__} around the focal "
                            "estimator")
        if self._multilabel:
            problems.append("y is a 2-D multi-label indicator")
        names = sorted({name for params in candidates for name in params})
        other = [name for name in names if name not in FAST_PARAMS]
        if other:
            problems.append(f"param_grid varies {other}, not only the focal parameters "
                            f"{list(FAST_PARAMS)} (which never change the binned data)")
        self._stopping = None
        if self.mode == "fast":  # early stopping on one evaluation set is reproduced
            self._stopping, more = early_stopping_spec(library, self.estimator, fit_params)
            problems += more
        else:  # exhaustive: identical models only through what is verified identical
            unknown = sorted(set(fit_params) - {"sample_weight"})
            if unknown:
                problems.append(f"fit parameters {unknown} (only sample_weight is shared)")
        if not problems:
            problems += fast_estimator_problems(library, self.estimator,
                                                early_stopping=self._stopping is not None)
        if not problems:
            return None
        reason = "; ".join(problems)
        if raise_error:
            raise ValueError(f"mode='fast' cannot be used here: {reason}. Use mode='exhaustive' "
                             "(the estimator's own fit for every candidate, as GridSearchCV)")
        return reason

    def _fit_boosters(self, library, X, y, fit_params, candidates, folds, threads, halving):
        from ._search_boosters import FoldData

        sample_weight = fit_params.get("sample_weight")
        n_rounds_total = _n_rounds(library, self.estimator)
        budgets = _budgets(n_rounds_total) if halving else [n_rounds_total]
        n_c, n_f = len(candidates), len(folds)
        fold_data = [
            FoldData(library, self.estimator, X, y, sample_weight, train, test, self._stopping)
            for train, test in folds
        ]
        boosters = [[None] * n_f for _ in range(n_c)]
        base_params = self.estimator.get_params()
        scores = np.full((n_c, n_f), np.nan)
        fit_time = np.zeros((n_c, n_f))
        score_time = np.zeros((n_c, n_f))
        reached = np.zeros(n_c, dtype=np.int64)
        alive = list(range(n_c))
        pool = ThreadPoolExecutor(threads) if threads > 1 else None

        def advance(task):
            i, k, rounds = task
            t0 = time.perf_counter()
            if boosters[i][k] is None:
                boosters[i][k] = fold_data[k].candidate(candidates[i])
            boosters[i][k].train_to(rounds)
            if rounds == n_rounds_total:
                boosters[i][k].finish()
            t1 = time.perf_counter()
            score = boosters[i][k].score(self.scorer_)
            fit_time[i, k] += t1 - t0
            score_time[i, k] += time.perf_counter() - t1
            scores[i, k] = score

        try:
            for rung, rounds in enumerate(budgets):
                tasks = [(i, k, rounds) for i in alive for k in range(n_f)]
                if pool is None:
                    for task in tasks:
                        advance(task)
                else:
                    list(pool.map(advance, tasks))
                reached[alive] = rounds
                means = np.array([np.mean(scores[i]) for i in alive])
                best = _ranked(means)[0]
                logger.info(
                    "FocalSearchCV fast: rung %d/%d, %d candidate(s) at %d rounds; best mean "
                    "score %.6g (%s)", rung + 1, len(budgets), len(alive), rounds,
                    means[best], candidates[alive[best]],
                )
                if rung + 1 < len(budgets):
                    keep = max(1, math.ceil(len(alive) / HALVING_FACTOR))
                    groups = None
                    if rung == 0 and FIRST_RUNG_KEEPS_BEST_OF:
                        groups = [_group_of(candidates[i], base_params) for i in alive]
                    survivors = [alive[j] for j in _rung_keep(means, keep, groups)]
                    if len(survivors) > keep:
                        logger.info(
                            "FocalSearchCV fast: rung %d keeps %d candidate(s) instead of %d: "
                            "the best of each %s too", rung + 1, len(survivors), keep,
                            "/".join(FIRST_RUNG_KEEPS_BEST_OF),
                        )
                    for i in set(alive) - set(survivors):  # dropped: free their boosters
                        boosters[i] = [None] * n_f
                    alive = survivors
        finally:
            if pool is not None:
                pool.shutdown()
        if self._no_oof is None:  # the refit's calibration: the best candidate's held-out margins
            # (the margins its last score read: at n_estimators rounds, or its best round)
            self._margins_of = lambda i: [(boosters[i][k].scored_margin,
                                           fold_data[k].targets.classes) for k in range(n_f)]
        if not halving:
            return _cv_results(candidates, scores, fit_time, score_time)
        results = _cv_results(candidates, scores, fit_time, score_time, reached=reached)
        results["n_rounds"] = reached
        return results

    # --- delegation --------------------------------------------------------------------------------
    def _fitted_best(self):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_

    @property
    def classes_(self):
        """The classes of the refit model."""
        return self._fitted_best().classes_

    def _has(name):
        def check(self):
            if hasattr(self, "best_estimator_"):
                return hasattr(self.best_estimator_, name)
            return hasattr(self.estimator, name)

        return check

    @available_if(_has("predict"))
    def predict(self, X):
        """``best_estimator_.predict(X)``."""
        return self._fitted_best().predict(X)

    @available_if(_has("predict_proba"))
    def predict_proba(self, X):
        """``best_estimator_.predict_proba(X)``."""
        return self._fitted_best().predict_proba(X)

    @available_if(_has("decision_function"))
    def decision_function(self, X):
        """``best_estimator_.decision_function(X)``."""
        return self._fitted_best().decision_function(X)

    def score(self, X, y):
        """The search's scorer (``scorer_``) on the refit model.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            The rows to score.
        y : array-like of shape (n_samples,)
            Their labels.

        Returns
        -------
        score : float
            ``scorer_(best_estimator_, X, y)``.
        """
        return self.scorer_(self._fitted_best(), X, y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.estimator.__sklearn_tags__()
        tags.input_tags = inner.input_tags
        tags.target_tags = inner.target_tags
        return tags


def _focal_margin(model, X):
    """(margins, classes) of a fitted focal estimator or Pipeline ending in one on ``X``
    (init score included, at the best iteration), or (None, None) for another wrapper."""
    final, prefix = _final_step(model)
    if prefix and not hasattr(model, "steps"):
        return None, None
    if prefix:
        X = model[:-1].transform(X)
    margin = final._margin(X) if hasattr(final, "_margin") else final.decision_function(X)
    return np.asarray(margin, dtype=np.float64), final.classes_


def _n_rounds(library, estimator):
    n = estimator.get_params()["n_estimators"]
    if n is None:  # XGBoost's default
        n = 100
    if not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n_estimators must be an int >= 1, got {n!r}")
    return int(n)


def _budgets(n_rounds):
    """The rungs' round budgets: n / 9, n / 3, n (rounded up, without repeats)."""
    budgets = []
    for k in range(N_RUNGS - 1, -1, -1):
        b = max(1, math.ceil(n_rounds / HALVING_FACTOR**k))
        if not budgets or b > budgets[-1]:
            budgets.append(b)
    return budgets


def _group_of(params, base_params):
    """A candidate's values of ``FIRST_RUNG_KEEPS_BEST_OF`` (the estimator's where the grid does
    not set them), as a hashable key (``repr``: alphas may be lists or arrays)."""
    return tuple(repr(params.get(name, base_params.get(name))) for name in FIRST_RUNG_KEEPS_BEST_OF)


def _ranked(means):
    """Indices of ``means`` best first: higher mean first, equal means in ``param_grid`` order
    (as ``GridSearchCV``), a NaN mean last."""
    return sorted(range(len(means)),
                  key=lambda j: (-means[j] if not np.isnan(means[j]) else np.inf, j))


def _rung_keep(means, keep, groups=None):
    """The candidates a rung keeps (indices into ``means``, increasing).

    ``means`` are the candidates' mean scores at the rung, in ``param_grid`` order. They are
    ranked higher first (equal means in order; a NaN mean last) and the first ``keep`` are kept.
    With ``groups`` (one hashable key per candidate), the best candidate of each group with a
    finite mean is kept too.
    """
    means = np.asarray(means, dtype=np.float64)
    order = _ranked(means)
    kept = set(order[:keep])
    if groups is not None:
        seen = set()
        for j in order:
            if not np.isnan(means[j]) and groups[j] not in seen:
                seen.add(groups[j])
                kept.add(j)
    return sorted(kept)


def _cv_results(candidates, scores, fit_time, score_time, reached=None):
    """scikit-learn's ``cv_results_`` (GridSearchCV's formulas: np.average, np.std, rank "min")."""
    from numpy.ma import MaskedArray

    n_c, n_f = scores.shape
    results = {}
    for name, values in (("fit_time", fit_time), ("score_time", score_time)):
        mean = np.average(values, axis=1)
        results[f"mean_{name}"] = mean
        results[f"std_{name}"] = np.sqrt(np.average((values - mean[:, None]) ** 2, axis=1))
    names = sorted({name for params in candidates for name in params})
    for name in names:
        column = MaskedArray(np.empty(n_c, dtype=object), mask=True)
        for i, params in enumerate(candidates):
            if name in params:
                column[i] = params[name]
        results[f"param_{name}"] = column
    results["params"] = candidates
    for k in range(n_f):
        results[f"split{k}_test_score"] = scores[:, k]
    mean = np.average(scores, axis=1)
    results["mean_test_score"] = mean
    results["std_test_score"] = np.sqrt(np.average((scores - mean[:, None]) ** 2, axis=1))
    results["rank_test_score"] = _rank(mean, reached)
    return results


def _rank(mean, reached=None):
    """GridSearchCV's rank (``rankdata(-mean, "min")``, NaN last); with ``reached``, candidates
    that reached more rounds rank first."""
    from scipy.stats import rankdata

    key = np.where(np.isnan(mean), -np.inf, mean)
    if reached is None:
        if np.isnan(mean).all():
            return np.ones(mean.shape[0], dtype=np.int32)
        return rankdata(-key, method="min").astype(np.int32)
    # lexicographic: rounds reached first, then score (ties share the lowest rank)
    pairs = list(zip(-reached, -key))
    ordered = sorted(set(pairs))
    first = {}
    position = 1
    for pair in ordered:
        first[pair] = position
        position += pairs.count(pair)
    return np.array([first[p] for p in pairs], dtype=np.int32)
