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
    check_n_features,
    check_plain_array,
    encoder_for,
    focal_estimator,
    indicator_targets,
    is_multilabel,
    labels_from_margin,
    proba_from_margin,
    reject_continued_training,
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
        y_fit = targets.codes.astype(np.float32)
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
        return self

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
        """Class probabilities (n, n_classes) in ``classes_`` order (see ``probability``)."""
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
        """
        kwargs = dict(
            validate_features=validate_features,
            base_margin=base_margin,
            iteration_range=iteration_range,
        )
        margin = self._margin(X, **kwargs)
        return margin if output_margin else labels_from_margin(self, margin)
