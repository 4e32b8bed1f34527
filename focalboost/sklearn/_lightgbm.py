""":class:`FocalLGBMClassifier`: the LightGBM layer over the estimator core (:mod:`._core`)."""

from __future__ import annotations

import copy
import inspect
from pathlib import Path

import numpy as np
from lightgbm import LGBMClassifier
from lightgbm.basic import LightGBMError
from lightgbm.sklearn import LGBMModel
from sklearn.metrics import log_loss
from sklearn.utils import column_or_1d
from sklearn.utils.validation import check_is_fitted

from .._adapter import DEFAULT_METRIC_NAME, init_score_rows, load_kernel_before_training
from .._compat import lightgbm as lgb_compat
from ._core import (
    FOCAL_ATTRIBUTES_DOC,
    FOCAL_PARAMS,
    FOCAL_PARAMS_DOC,
    FocalObjective,
    FocalSetup,
    LocalTargets,
    calibrate_probability,
    check_n_features,
    encoder_for,
    focal_estimator,
    labels_from_margin,
    probability_for_metrics,
    proba_from_margin,
    reject_continued_training,
    reject_is_unbalance,
    same_data,
)
from ._persistence import (
    fold_init_score,
    lightgbm_model_text,
    lightgbm_read_model_text,
    restore_metadata,
)

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

LIGHTGBM_PARAMS_DOC = """
    **kwargs
        Any ``{library}`` parameter (``n_estimators``, ``learning_rate``, ``num_leaves``,
        ``max_depth``, ``min_child_weight``, ``min_child_samples``, ``subsample``,
        ``colsample_bytree``, ``reg_lambda``, ``class_weight``, ``random_state``, ``n_jobs``,
        LightGBM parameters such as ``verbose``, ...).

        - ``class_weight`` multiplies the sample weights, as in ``LGBMClassifier``; ``alpha``
          weights classes inside the focal loss.
        - ``scale_pos_weight`` (binary only) multiplies the weights of ``classes_[1]`` rows
          (LightGBM itself ignores it for custom objectives); ``is_unbalance`` is rejected (use
          ``alpha="balanced"`` or ``class_weight="balanced"``)."""


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
        return self.func(y_true, probability_for_metrics(self.loss, y_pred), *rest)


@focal_estimator("lightgbm")
class FocalLGBMClassifier(LGBMClassifier):
    __doc__ = f"""LightGBM classifier trained with the focal loss (drop-in for ``LGBMClassifier``).

    Every ``LGBMClassifier`` parameter keeps its name, meaning and default, except ``objective``
    (always the focal loss).

    Parameters
    ----------{FOCAL_PARAMS_DOC}{LIGHTGBM_PARAMS_DOC.format(library="LGBMClassifier")}
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

    **Init score.** Training starts from the focal init score ``init_score_``. It is not given
    to LightGBM as a per-row ``init_score`` (LightGBM would keep a copy of it in C++ for the whole
    fit: 40 MB on 5M binary rows): LightGBM's training scores start at 0 and the objective adds
    ``init_score_`` to them in its kernel, while the evaluation sets start at it as their
    ``init_score``. The trees are those of a per-row ``init_score`` up to the rounding of the sum
    (tested against the native hooks). LightGBM does not store an ``init_score`` in the model, so
    after training it is folded into the leaf values of the first iteration's trees: the
    booster's raw scores *are* the margins, in ``decision_function``, ``predict(raw_score=True)``,
    ``booster_.predict(X)``, a saved model file loaded by plain LightGBM, and ``pred_contrib``
    (contributions sum to the margin). Predicting from ``start_iteration > 0`` leaves the init
    score out. A user ``init_score`` in ``fit`` replaces the focal one for training and, as in
    LightGBM, is not part of the model (``init_score_`` is then 0). ``init_model`` (continued
    training) is not supported.

    **Model files.** :meth:`save_model` writes LightGBM's text format with the focal metadata
    (one ``focalboost:`` line, which LightGBM's reader skips); :meth:`load_model` restores the
    estimator whole. Pickle/joblib keep everything too.

    Attributes
    ----------{FOCAL_ATTRIBUTES_DOC}
    booster_, best_iteration_, best_score_, evals_result_, feature_importances_, objective_, ...
        As in ``LGBMClassifier`` (``objective_`` is the focal objective callable).
    """

    def _process_params(self, stage):
        """LightGBM's parameter processing, with the focal objective and without the focal
        parameters (which would otherwise reach the booster) or built-in metrics on margins."""
        if stage == "fit":
            self._objective = self._fit_objective
        params = super()._process_params(stage)  # checked in fit: lgb_compat.check_process_params
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

        Parameters
        ----------
        X : array-like or pandas DataFrame of shape (n, n_features)
            Features.
        y : array-like of shape (n,)
            Labels of any type.
        sample_weight : array-like of shape (n,), optional
            Row weights (multiplied by ``class_weight`` and, for ``classes_[1]``, ``scale_pos_weight``).
        init_score : array-like, optional
            Per-row margins to start from instead of the focal init score (not kept in the model).
        eval_set : list of (X, y), optional
            Evaluation sets, as in ``LGBMClassifier.fit`` (or ``eval_X`` / ``eval_y``).
        eval_names : list of str, optional
            Names of the evaluation sets.
        eval_sample_weight : list of array-like, optional
            Row weights of each evaluation set.
        eval_class_weight : list of dict or "balanced", optional
            Class weights of each evaluation set, as in ``LGBMClassifier.fit``.
        eval_init_score : list of array-like, optional
            Start margins of each evaluation set.
        eval_metric : str, callable or list, optional
            Metrics besides ``"focal_loss"`` (see the class notes for which names are computed where).
        feature_name : list of str or "auto", default "auto"
            Feature names, as in LightGBM.
        categorical_feature : list or "auto", default "auto"
            Categorical features, as in LightGBM.
        callbacks : list of callable, optional
            LightGBM callbacks, such as ``lightgbm.early_stopping(k)``.
        init_model : None
            Continued training is not supported: anything but None raises a ``ValueError``.
        eval_X : array-like or tuple of array-like, optional
            Features of the evaluation set(s) (LightGBM 4.7's form of ``eval_set``).
        eval_y : array-like or tuple of array-like, optional
            Labels of the evaluation set(s).

        Returns
        -------
        self
        """
        self._validate_params()
        lgb_compat.check_process_params()
        reject_continued_training("init_model", init_model, self)
        params = self.get_params(deep=False)
        reject_is_unbalance(self, params)
        targets = LocalTargets(X, y, sample_weight, params)
        y_codes, classes = targets.codes, targets.classes
        # LightGBM multiplies class_weight in itself: the objective sees targets.loss_weights
        setup = FocalSetup(self, y_codes, classes, targets.loss_weights)

        eval_pairs = self._eval_pairs(eval_set, eval_X, eval_y, classes)
        eval_init = eval_init_score
        objective = setup.objective
        release = []
        if init_score is None:  # start from the focal init, evaluation sets too
            # The training set gets no per-row init score: LightGBM's training scores start at 0
            # and the objective adds the init score to them as its kernel reads them. A Dataset's
            # init score is copied into C++ and back into Python and the C++ copy is kept until
            # training ends (40 MB binary on 5M rows, K x that multiclass). The trees are those
            # of a Dataset init score up to the rounding of init + trees (summed in another
            # order); fold_init_score below puts the init score into the model.
            objective = setup.objective.starting_at(setup.init)
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
            # LightGBM copies it into C++ and back into Python: the callback frees the Python
            # copy before the first round (see ReleaseInitScore)
            release = [lgb_compat.ReleaseInitScore()]

        fit_args = dict(
            sample_weight=targets.weights,
            init_score=init_score,  # a user's, or None
            eval_names=eval_names,
            eval_sample_weight=eval_sample_weight,
            eval_class_weight=eval_class_weight,
            eval_init_score=eval_init,
            eval_metric=self._engine_eval_metric(eval_metric, params, setup.loss),
            feature_name=feature_name,
            categorical_feature=categorical_feature,
            callbacks=[*(callbacks or ()), *release],
        )
        if eval_pairs and _LGBM_HAS_EVAL_XY:  # lightgbm >= 4.6 deprecates eval_set ...
            fit_args["eval_X"] = tuple(X_eval for X_eval, _, _ in eval_pairs)
            fit_args["eval_y"] = tuple(codes for _, codes, _ in eval_pairs)  # ... and the
        elif eval_pairs:  # eval_X/eval_y path does not encode labels; eval_set does
            # (X, y) itself as an evaluation set: LGBMClassifier would evaluate it on the training
            # scores, which exclude the init score here; a copy of y makes it an evaluation set
            # like any other (as eval_X/eval_y always are)
            fit_args["eval_set"] = [
                (X_eval, copy.copy(y_eval) if X_eval is X and y_eval is y else y_eval)
                for X_eval, _, y_eval in eval_pairs
            ]
        # the gradient and hessian go into the same two arrays every round (LightGBM uses them
        # within the round): no new memory a round, let go after training
        objective = objective.for_training()
        self._fit_objective = objective
        # numba and the kernel load now, before LightGBM's Dataset and booster (peak memory)
        load_kernel_before_training(setup.loss, len(y_codes),
                                    targets.weights is not None or self.class_weight is not None,
                                    objective.offset)
        # LightGBM encodes y again itself and hands the objective its own labels: the int64 codes
        # are let go before training (40 MB on 5M rows), as in FocalXGBClassifier.fit
        del targets, y_codes
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
            objective.buffers.release()
            self.__dict__.pop("_keep_all_features", None)
        self._objective = setup.objective  # objective_: on the model's margins, as predicted
        fold_init_score(self.booster_, self.init_score_)  # the booster's raw scores: the margins
        setup.store(self)
        self._calibrate(X, eval_pairs, eval_sample_weight, eval_init_score)
        return self

    def _calibrate(self, X, eval_pairs, weights, init_scores):
        """``temperature_`` from the last evaluation set at the best iteration (see
        :func:`focalboost.sklearn._core.calibrate_probability`)."""
        if not eval_pairs:
            return calibrate_probability(self, reason="no eval_set")
        X_eval, y_eval, _ = eval_pairs[-1]
        if same_data(X_eval, X):
            return calibrate_probability(self, reason="the last eval_set is the training data")
        last = len(eval_pairs) - 1
        weight = weights[last] if weights is not None and len(weights) > last else None
        margin = self.decision_function(X_eval)
        given = init_scores[last] if init_scores is not None and len(init_scores) > last else None
        if given is not None:  # a user's init score: part of that set's margins, as in training
            margin = margin + np.asarray(given, dtype=np.float64).reshape(margin.shape, order="F")
        where = "the last eval_set" + (f" at best_iteration_ {self.best_iteration_}"
                                       if self.best_iteration_ else "")
        self._calibrate_on(y_eval, margin, weight, where)

    def _calibrate_on(self, y_codes, margin, sample_weight, source):
        """Fit ``strength_``/``temperature_`` on held-out ``margin`` (the last eval_set, or
        ``FocalSearchCV``'s out-of-fold margins) and store them wherever the model is read
        from: the estimator and its booster (``focalboost.lightgbm.predict_proba``, pickles;
        model files read the estimator's)."""
        fitted = calibrate_probability(self, y_codes, margin, sample_weight, source=source)
        from .. import lightgbm as flgb

        setattr(self.booster_, flgb.TEMPERATURE_ATTR, self.temperature_)  # for flgb.predict_proba
        setattr(self.booster_, flgb.STRENGTH_ATTR, self.strength_)
        return fitted

    # --- model files -----------------------------------------------------------------------------
    def save_model(self, fname):
        """Save the model in LightGBM's text format, every iteration, with its focal metadata
        (classes, focal parameters, init score, probability mode, best iteration) on one
        ``focalboost:`` line. ``lightgbm.Booster(model_file=fname).predict(X)`` gives this
        model's margins (the init score is in the trees); :meth:`load_model` restores the
        estimator.

        Parameters
        ----------
        fname : str or path-like
            The file to write.
        """
        check_is_fitted(self)
        Path(fname).write_text(lightgbm_model_text(self))

    def load_model(self, fname):
        """Load a model written by :meth:`save_model`; returns the estimator.

        Parameters
        ----------
        fname : str or path-like
            A file written by :meth:`save_model`.

        Returns
        -------
        self
        """
        import lightgbm

        text, meta = lightgbm_read_model_text(Path(fname).read_text(), self)
        booster = lightgbm.Booster(model_str=text)
        classes = restore_metadata(self, meta)
        objective = FocalObjective(self.loss_, self.loss_scale_)
        lgb_compat.set_fitted_state(
            self, booster, classes, objective, best_iteration=meta["best_iteration"]
        )
        from .. import lightgbm as flgb

        setattr(booster, flgb.TEMPERATURE_ATTR, self.temperature_)  # for flgb.predict_proba
        setattr(booster, flgb.STRENGTH_ATTR, self.strength_)
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
        encoder = encoder_for(classes)
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
        """Margins (log-odds of ``classes_[1]``, shape (n,); or (n, n_classes) multiclass), the
        init score included, at ``best_iteration_`` after early stopping.

        Parameters
        ----------
        X : array-like or pandas DataFrame of shape (n, n_features)
            Features.
        start_iteration : int, default 0
            First iteration to use (from ``start_iteration > 0`` the init score is left out).
        num_iteration : int, optional
            Number of iterations to use; default: ``best_iteration_`` after early stopping, else all.
        validate_features : bool, default False
            Check the feature names against those of the training data (LightGBM's check).
        **kwargs
            Passed to LightGBM's ``predict``.

        Returns
        -------
        ndarray of shape (n,) or (n, n_classes)
        """
        check_is_fitted(self)
        check_n_features(self, X)
        raw = LGBMModel.predict(
            self,
            X,
            raw_score=True,
            start_iteration=start_iteration,
            num_iteration=num_iteration,
            validate_features=validate_features,
            **kwargs,
        )
        return np.asarray(raw, dtype=np.float64)

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
        """Class probabilities (n, n_classes) in ``classes_`` order (see ``probability``).
        ``raw_score=True`` returns the margins; ``pred_leaf`` and
        ``pred_contrib`` are LightGBM's.

        Parameters
        ----------
        X : array-like or pandas DataFrame of shape (n, n_features)
            Features.
        raw_score : bool, default False
            Return the margins (as :meth:`decision_function`) instead.
        start_iteration : int, default 0
            First iteration to use (from ``start_iteration > 0`` the init score is left out).
        num_iteration : int, optional
            Number of iterations to use; default: ``best_iteration_`` after early stopping, else all.
        pred_leaf : bool, default False
            Return LightGBM's leaf indices instead.
        pred_contrib : bool, default False
            Return LightGBM's feature contributions (to the margin) instead.
        validate_features : bool, default False
            Check the feature names against those of the training data (LightGBM's check).
        **kwargs
            Passed to LightGBM's ``predict``.

        Returns
        -------
        ndarray of shape (n, n_classes)
            Or LightGBM's output for ``raw_score``, ``pred_leaf``, ``pred_contrib``.
        """
        return self._output(
            X, proba_from_margin, raw_score, start_iteration, num_iteration, pred_leaf,
            pred_contrib, validate_features, kwargs,
        )

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
        """Class labels: ``classes_[argmax(predict_proba(X))]``; ``raw_score``,
        ``pred_leaf`` and ``pred_contrib`` as in :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like or pandas DataFrame of shape (n, n_features)
            Features.
        raw_score : bool, default False
            Return the margins (as :meth:`decision_function`) instead.
        start_iteration : int, default 0
            First iteration to use (from ``start_iteration > 0`` the init score is left out).
        num_iteration : int, optional
            Number of iterations to use; default: ``best_iteration_`` after early stopping, else all.
        pred_leaf : bool, default False
            Return LightGBM's leaf indices instead.
        pred_contrib : bool, default False
            Return LightGBM's feature contributions (to the margin) instead.
        validate_features : bool, default False
            Check the feature names against those of the training data (LightGBM's check).
        **kwargs
            Passed to LightGBM's ``predict``.

        Returns
        -------
        ndarray of shape (n,)
            Or LightGBM's output for ``raw_score``, ``pred_leaf``, ``pred_contrib``.
        """
        return self._output(
            X, labels_from_margin, raw_score, start_iteration, num_iteration, pred_leaf,
            pred_contrib, validate_features, kwargs,
        )

    def _output(self, X, from_margin, raw_score, start_iteration, num_iteration, pred_leaf,
                pred_contrib, validate_features, kwargs):
        """``from_margin(self, margins)``, or LightGBM's raw scores, leaves or contributions."""
        iterations = dict(start_iteration=start_iteration, num_iteration=num_iteration)
        if pred_leaf or pred_contrib:
            check_is_fitted(self)
            check_n_features(self, X)
            return LGBMModel.predict(
                self,
                X,
                pred_leaf=pred_leaf,
                pred_contrib=pred_contrib,
                validate_features=validate_features,
                **iterations,
                **kwargs,
            )
        margin = self.decision_function(X, validate_features=validate_features, **iterations, **kwargs)
        # our own array: a multiclass posterior is written into it (no second (n, K) array)
        return margin if raw_score else from_margin(self, margin, overwrite_margin=True)
