"""Multi-label LightGBM with early stopping: one model per label, each stopped on its own label.

XGBoost fits a multi-label (n, L) target as one model with multi-output trees
(``FocalXGBClassifier().fit(X, Y)``). LightGBM fits one label at a time, and scikit-learn's
``MultiOutputClassifier`` cannot early-stop each label's model: it passes the same fit arguments
to every label, so label l cannot get its own validation labels ``Y_valid[:, l]``.
:class:`EarlyStoppedMultiOutputClassifier` does that.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import clone
from sklearn.multioutput import MultiOutputClassifier

__all__ = ["EarlyStoppedMultiOutputClassifier"]


def _lgb_eval_kwargs(X_valid, y_valid):
    """LightGBM >= 4.7 takes ``eval_X``/``eval_y`` (``eval_set`` is deprecated there)."""
    import inspect

    import lightgbm as lgb

    if "eval_X" in inspect.signature(lgb.LGBMModel.fit).parameters:
        return {"eval_X": (X_valid,), "eval_y": (y_valid,)}
    return {"eval_set": [(X_valid, y_valid)]}  # pragma: no cover - lightgbm < 4.7


class EarlyStoppedMultiOutputClassifier(MultiOutputClassifier):
    """One LightGBM classifier per label, each early-stopped on its own validation label.

    ``fit`` trains a clone of ``estimator`` on each column of the 0/1 label matrix ``Y``,
    with LightGBM's ``early_stopping`` callback on the same column of ``Y_valid``. This is how a
    LightGBM user gets multi-label focal loss with early stopping: wrap a
    :class:`~focalboost.FocalLGBMClassifier` (every label then has its own init score, and
    ``alpha="balanced"`` is computed per label). Prediction (``predict_proba``: a list of one
    (n, 2) array per label, ``predict``: the (n, L) labels) and ``classes_`` are
    ``MultiOutputClassifier``'s.

    Parameters
    ----------
    estimator : lightgbm.LGBMClassifier
        The unfitted model cloned for each label: a ``lightgbm.LGBMClassifier`` or a subclass
        such as :class:`~focalboost.FocalLGBMClassifier`. Its ``n_estimators`` is the maximum
        number of rounds.
    n_jobs : int, default=None
        As in ``MultiOutputClassifier`` (parallel ``predict``); ``fit`` trains the labels one
        after another (give the estimator its own ``n_jobs`` for threads).

    Attributes
    ----------
    estimators_ : list of estimator
        The fitted model of each label, in the order of ``Y``'s columns; ``best_iteration_`` of
        each is the number of rounds its early stopping kept.
    classes_ : list of numpy.ndarray
        The classes of each label.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : numpy.ndarray of str
        Feature names seen in ``fit`` (only when ``X`` has string column names).

    See Also
    --------
    sklearn.multioutput.MultiOutputClassifier : the same without early stopping.
    focalboost.FocalXGBClassifier : multi-label focal loss in one XGBoost model (``fit(X, Y)``).

    Examples
    --------
    >>> import numpy as np
    >>> from focalboost import FocalLGBMClassifier
    >>> from focalboost.multioutput import EarlyStoppedMultiOutputClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 4))
    >>> Y = np.column_stack([X[:, 0] > 1, X[:, 1] + X[:, 2] > 1.5]).astype(int)
    >>> clf = EarlyStoppedMultiOutputClassifier(
    ...     FocalLGBMClassifier(gamma=2.0, alpha="balanced", n_estimators=500, verbose=-1))
    >>> clf = clf.fit(X[:400], Y[:400], X_valid=X[400:], Y_valid=Y[400:],
    ...               early_stopping_rounds=20)
    >>> [p.shape for p in clf.predict_proba(X[:3])]
    [(3, 2), (3, 2)]
    """

    def fit(self, X, Y, *, X_valid, Y_valid, early_stopping_rounds):
        """Fit one clone of ``estimator`` per label, early-stopped on that label's validation.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, n_features)
            Training features (anything ``estimator.fit`` accepts, e.g. pandas categories).
        Y : array-like of shape (n_samples, n_labels)
            Training labels, one column per label.
        X_valid : array-like or pandas.DataFrame of shape (n_valid, n_features)
            Validation features for early stopping, shared by all labels.
        Y_valid : array-like of shape (n_valid, n_labels)
            Validation labels: label l's model stops on column l.
        early_stopping_rounds : int
            Stop a label's training after this many rounds without improvement of its
            validation metric (the estimator's own: log loss, or focal loss for
            :class:`~focalboost.FocalLGBMClassifier`).

        Returns
        -------
        self : EarlyStoppedMultiOutputClassifier
            The fitted classifier.
        """
        import lightgbm as lgb

        if not isinstance(self.estimator, lgb.LGBMClassifier):
            raise TypeError(
                "estimator must be a lightgbm.LGBMClassifier (or a subclass such as "
                f"focalboost.FocalLGBMClassifier), got {type(self.estimator).__name__}"
            )
        Y, Y_valid = np.asarray(Y), np.asarray(Y_valid)
        if Y.ndim != 2 or Y_valid.ndim != 2 or Y.shape[1] != Y_valid.shape[1]:
            raise ValueError(
                "Y and Y_valid must be 2-D with the same number of label columns, got shapes "
                f"{Y.shape} and {Y_valid.shape}"
            )
        self.estimators_ = []
        for j in range(Y.shape[1]):
            model = clone(self.estimator)
            callbacks = [lgb.early_stopping(early_stopping_rounds, verbose=False)]
            kwargs = _lgb_eval_kwargs(X_valid, Y_valid[:, j])
            with warnings.catch_warnings():
                warnings.filterwarnings(
                    "ignore", message=".*eval_set.*deprecated", category=Warning
                )
                model.fit(X, Y[:, j], callbacks=callbacks, **kwargs)
            self.estimators_.append(model)
        for attr in ("n_features_in_", "feature_names_in_"):
            if hasattr(self.estimators_[0], attr):
                setattr(self, attr, getattr(self.estimators_[0], attr))
        self.classes_ = [model.classes_ for model in self.estimators_]
        return self
