""":class:`FocalXGBClassifier`: the XGBoost layer over the estimator core (:mod:`._core`)."""

from __future__ import annotations

import numpy as np
from sklearn.utils import column_or_1d
from sklearn.utils.validation import check_is_fitted
from xgboost import XGBClassifier, XGBModel

from ._core import (
    FOCAL_ATTRIBUTES_DOC,
    FOCAL_PARAMS_DOC,
    FocalSetup,
    LocalTargets,
    calibrate_probability,
    check_n_features,
    check_plain_array,
    encoder_for,
    focal_estimator,
    indicator_targets,
    is_multilabel,
    labels_from_margin,
    proba_from_margin,
    reject_continued_training,
    same_data,
    store_xgboost_fit,
    xgboost_engine_params,
)

XGBOOST_DOC = """
    Every ``{library}`` parameter keeps its name, meaning and default, except ``objective``
    (always the focal loss) and XGBoost's ``gamma`` / ``alpha`` aliases: here ``gamma`` and
    ``alpha`` are the **focal** parameters; XGBoost's minimum split loss is ``min_split_loss``
    and its L1 penalty ``reg_alpha``.

    Parameters
    ----------{focal}
    min_split_loss : float, default=None
        XGBoost's ``gamma``: minimum loss reduction to split a leaf (None: XGBoost's default, 0).
    **kwargs
        Any ``{library}`` parameter (``n_estimators``, ``learning_rate``, ``max_depth``,
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
"""

def _float32_codes(y, codes, classes):
    """The label codes as float32 (XGBoost's label type). The user's own ``y`` when it already holds
    exactly those values, a float32 vector whose classes are 0..K-1 (no copy: 20 MB on 5M rows);
    -0.0 and 0.0 are the same class and the same label to XGBoost and to the kernels."""
    if (
        classes is not None
        and isinstance(y, np.ndarray)
        and y.dtype == np.float32
        and y.ndim == 1
        and np.array_equal(classes, np.arange(classes.shape[0]))
    ):
        return y
    return codes.astype(np.float32)

@focal_estimator("xgboost")
class FocalXGBClassifier(XGBClassifier):
    __doc__ = f"""XGBoost classifier trained with the focal loss (drop-in for ``XGBClassifier``).
    {XGBOOST_DOC.format(library="XGBClassifier", focal=FOCAL_PARAMS_DOC)}
    Attributes
    ----------{FOCAL_ATTRIBUTES_DOC}
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

    ``save_model`` / ``load_model`` keep everything ``predict_proba`` needs (see
    :meth:`save_model`), as does pickle/joblib. ``xgb_model`` (continued training) is not
    supported.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True  # 2-D indicator y: MultiLabelFocalLoss
        tags.no_validation = False  # XGBClassifier says True; we validate y, weights and arrays
        return tags

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

        Parameters
        ----------
        X : array-like or pandas DataFrame of shape (n, n_features)
            Features.
        y : array-like of shape (n,) or (n, L)
            Labels of any type, or a 0/1 indicator matrix (multi-label).
        sample_weight : array-like of shape (n,), optional
            Row weights (multiplied by ``scale_pos_weight`` for ``classes_[1]`` rows).
        base_margin : array-like, optional
            Per-row margins to start from instead of the focal init score (then also needed at
            predict time).
        eval_set : list of (X, y), optional
            Evaluation sets: the metrics and early stopping (``early_stopping_rounds``) use them.
        verbose : bool or int, default True
            As in ``XGBClassifier.fit``: print the evaluation every round (or every ``verbose`` rounds).
        xgb_model : None
            Continued training is not supported: anything but None raises a ``ValueError``.
        sample_weight_eval_set : list of array-like, optional
            Row weights of each evaluation set.
        base_margin_eval_set : list of array-like, optional
            Start margins of each evaluation set.
        feature_weights : array-like of shape (n_features,), optional
            XGBoost's feature weights for column sampling.

        Returns
        -------
        self
        """
        self._validate_params()
        reject_continued_training("xgb_model", xgb_model, self)
        X = check_plain_array(X)
        multilabel = is_multilabel(y)
        targets = LocalTargets(
            X, y, sample_weight, {"scale_pos_weight": self.scale_pos_weight}, multilabel=multilabel
        )
        setup = FocalSetup(self, targets.codes, targets.classes, targets.loss_weights)
        classes = np.array([0, 1]) if multilabel else targets.classes  # as XGBClassifier
        engine = XGBClassifier(**xgboost_engine_params(self, setup, classes.shape[0], multilabel))
        if eval_set is not None and multilabel:
            eval_set = [(Xe, indicator_targets(ye).astype(np.float32)) for Xe, ye in eval_set]
        elif eval_set is not None:
            encoder = encoder_for(classes)
            eval_set = [(Xe, encoder.transform(column_or_1d(ye)).astype(np.float32)) for Xe, ye in eval_set]
        optional = {} if feature_weights is None else {"feature_weights": feature_weights}
        # float32, XGBoost's own label and weight type: the same values it would store, without
        # its conversion of int64 codes / float64 weights (tens of ms a fit); the int64 codes are
        # let go before training (40 MB on 5M rows)
        y_fit = _float32_codes(y, targets.codes, None if multilabel else targets.classes)
        w_fit = None if targets.weights is None else targets.weights.astype(np.float32)
        n_outputs = y_fit.shape[1] if multilabel else None
        del targets
        try:
            engine.fit(
                X,
                y_fit,
                sample_weight=w_fit,
                base_margin=base_margin,
                eval_set=eval_set,
                verbose=verbose,
                sample_weight_eval_set=sample_weight_eval_set,
                base_margin_eval_set=base_margin_eval_set,
                **optional,
            )
        finally:
            setup.in_place.restore()
        if multilabel:  # one output per label
            self.n_outputs_ = n_outputs
        elif hasattr(self, "n_outputs_"):
            del self.n_outputs_
        self._classes = classes
        store_xgboost_fit(self, engine, setup, classes, getattr(self, "n_outputs_", None))
        self._calibrate(X, eval_set, sample_weight_eval_set, base_margin_eval_set, multilabel)
        return self

    def _calibrate(self, X, eval_set, weights, base_margins, multilabel):
        """``temperature_`` from the last evaluation set at the best iteration (see
        :func:`focalboost.sklearn._core.calibrate_probability`)."""
        if multilabel:
            return calibrate_probability(self, reason="multi-label model (no temperature fit)")
        if not eval_set:
            return calibrate_probability(self, reason="no eval_set")
        X_eval, y_eval = eval_set[-1]
        if same_data(X_eval, X):
            return calibrate_probability(self, reason="the last eval_set is the training data")
        last = len(eval_set) - 1
        weight = weights[last] if weights is not None and len(weights) > last else None
        base_margin = base_margins[last] if base_margins is not None and len(base_margins) > last else None
        margin = self._margin(X_eval, base_margin=base_margin)
        where = "the last eval_set" + (f" at best_iteration {self.best_iteration}"
                                       if hasattr(self, "best_iteration") and self.early_stopping_rounds
                                       else "")
        self._calibrate_on(y_eval, margin, weight, where)

    def _calibrate_on(self, y_codes, margin, sample_weight, source):
        """Fit ``strength_``/``temperature_`` on held-out ``margin`` (the last eval_set, or
        ``FocalSearchCV``'s out-of-fold margins) and store them wherever the model is read
        from: the estimator and the booster's attributes (``focalboost.xgboost.predict_proba``,
        model files, pickles)."""
        fitted = calibrate_probability(self, y_codes, margin, sample_weight, source=source)
        from .. import xgboost as fxgb

        # the native helpers (focalboost.xgboost.predict_proba) and model files read it there
        self.get_booster().set_attr(**{fxgb.TEMPERATURE_ATTR: repr(self.temperature_),
                                       fxgb.STRENGTH_ATTR: repr(self.strength_)})
        return fitted

    # --- predict ---------------------------------------------------------------------------------
    def _margin(self, X, float64=True, **kwargs):
        """Margins including the init score, at ``best_iteration`` after early stopping; float64,
        or XGBoost's float32 as they are with ``float64=False`` (predict_proba: the posterior
        reads them without a copy)."""
        check_is_fitted(self)
        X = check_plain_array(X)
        check_n_features(self, X)
        margin = XGBModel.predict(self, X, output_margin=True, **kwargs)
        return np.asarray(margin, dtype=np.float64) if float64 else margin

    def predict_proba(self, X, validate_features=True, base_margin=None, iteration_range=None):
        """Class probabilities (n, n_classes) in ``classes_`` order (see ``probability``).

        Parameters
        ----------
        X : array-like or pandas DataFrame of shape (n, n_features)
            Features.
        validate_features : bool, default True
            Check the feature names against those of the training data (XGBoost's check).
        base_margin : array-like, optional
            The start margins, when ``fit`` was given ``base_margin``.
        iteration_range : (int, int), optional
            Trees to use; default: up to ``best_iteration`` after early stopping, else all.

        Returns
        -------
        ndarray of shape (n, n_classes), or (n, L) multi-label
        """
        margin = self._margin(
            X,
            float64=False,
            validate_features=validate_features,
            base_margin=base_margin,
            iteration_range=iteration_range,
        )
        return proba_from_margin(self, margin)

    def predict(
        self,
        X,
        *,
        output_margin=False,
        validate_features=True,
        base_margin=None,
        iteration_range=None,
    ):
        """Class labels: ``classes_[argmax(predict_proba(X))]`` (see ``probability``).

        ``output_margin=True`` returns the margins instead, as ``XGBClassifier`` does: log-odds of
        ``classes_[1]`` (n,) for binary, (n, n_classes) for multiclass, including the init score.
        (Like ``XGBClassifier``, this estimator has no ``decision_function``.)

        Parameters
        ----------
        X : array-like or pandas DataFrame of shape (n, n_features)
            Features.
        output_margin : bool, default False
            Return the margins instead of the labels.
        validate_features : bool, default True
            Check the feature names against those of the training data (XGBoost's check).
        base_margin : array-like, optional
            The start margins, when ``fit`` was given ``base_margin``.
        iteration_range : (int, int), optional
            Trees to use; default: up to ``best_iteration`` after early stopping, else all.

        Returns
        -------
        ndarray of shape (n,), (n, n_classes) or (n, L)
            Labels, or margins with ``output_margin=True``.
        """
        kwargs = dict(
            validate_features=validate_features,
            base_margin=base_margin,
            iteration_range=iteration_range,
        )
        margin = self._margin(X, **kwargs)
        return margin if output_margin else labels_from_margin(self, margin)
