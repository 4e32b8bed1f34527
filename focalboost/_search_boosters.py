"""Fast mode of :class:`focalboost.FocalSearchCV`: one binned data set per fold, one booster per
candidate trained round by round with the libraries' public ``Booster.update``.

Everything a candidate needs before training comes from the estimator core
(:mod:`focalboost.sklearn._core`): labels and weights (:class:`LocalTargets`), alpha, loss, init
score and loss scale (:class:`FocalSetup`); the booster parameters come from the estimator itself
(XGBoost: the engine ``XGBClassifier`` the focal estimator trains, as ``XGBClassifier.fit`` turns
it into booster parameters; LightGBM: ``LGBMClassifier._process_params``, already checked by
:mod:`focalboost._compat.lightgbm`). So a candidate trained to ``n_estimators`` rounds is the
model the estimator's ``fit`` gives on the fold (tests/test_search.py compares the scores).
"""

from __future__ import annotations

import threading

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils import _safe_indexing

from ._adapter import init_score_rows, library_gradient_hessian, probability_from_margin
from .sklearn._core import FocalSetup, LocalTargets, check_plain_array, labels_from_margin


def fast_estimator_problems(library, estimator):
    """Settings a shared binned data set and plain boosters cannot reproduce (a list of them)."""
    params = estimator.get_params()
    problems = []
    if library == "xgboost":
        if params.get("early_stopping_rounds") is not None:
            problems.append(f"early_stopping_rounds={params['early_stopping_rounds']!r}")
        if params.get("callbacks"):
            problems.append("callbacks")
        if params.get("tree_method") not in (None, "hist", "auto"):
            problems.append(f"tree_method={params['tree_method']!r}")
        if params.get("booster") not in (None, "gbtree"):
            problems.append(f"booster={params['booster']!r}")
        if params.get("device") not in (None, "cpu"):
            problems.append(f"device={params['device']!r}")
    else:
        for name in ("boosting_type",):
            if params.get(name) not in (None, "gbdt"):
                problems.append(f"{name}={params[name]!r}")
    return [f"{type(estimator).__name__}({p})" for p in problems]


class _Scored(ClassifierMixin, BaseEstimator):
    """A fitted stand-in for the estimator, for the scorer: the held-out part's margins of one
    candidate, turned into ``predict_proba`` / ``predict`` by the estimators' own rules (the
    ``X`` it is given is that held-out part)."""

    def __init__(self, classes, loss, probability, margin):
        self.classes_ = classes
        self.loss_ = loss
        self.probability = probability
        self.margin = margin

    def predict_proba(self, X):
        return probability_from_margin(self.loss_, self.margin, self.probability)

    def predict(self, X):
        return labels_from_margin(self, self.margin)


class _ScoredWithDecision(_Scored):
    """As :class:`_Scored`, with ``decision_function`` (FocalLGBMClassifier has one; scorers
    such as ``"roc_auc"`` prefer it)."""

    def decision_function(self, X):
        return self.margin


class FoldData:
    """One fold: its training part binned once, its held-out part, the estimator core's targets."""

    def __init__(self, library, estimator, X, y, sample_weight, train, test):
        self.library = library
        self.estimator = estimator
        X_train = check_plain_array(_safe_indexing(X, train))
        self.X_test = check_plain_array(_safe_indexing(X, test))
        self.y_test = _safe_indexing(y, test)
        weights = None if sample_weight is None else _safe_indexing(np.asarray(sample_weight), train)
        self.targets = LocalTargets(X_train, _safe_indexing(y, train), weights,
                                    estimator.get_params())
        self.lock = threading.Lock()
        if library == "xgboost":
            self._bin_xgboost(X_train)
        else:
            self._bin_lightgbm(X_train)

    def _bin_xgboost(self, X_train):
        import xgboost as xgb

        est = self.estimator
        common = dict(missing=est.missing, enable_categorical=est.enable_categorical,
                      feature_types=est.feature_types, nthread=est.n_jobs)
        # what XGBClassifier.fit builds for tree_method hist (its _create_dmatrix)
        self.dtrain = xgb.QuantileDMatrix(X_train, label=self.targets.codes,
                                          weight=self.targets.loss_weights, max_bin=est.max_bin,
                                          **common)
        self.dtest = xgb.DMatrix(self.X_test, **common)

    def _bin_lightgbm(self, X_train):
        import lightgbm as lgb

        params = self.lightgbm_params(clone(self.estimator), None)
        self.dtrain = lgb.Dataset(X_train, label=self.targets.codes,
                                  weight=self.targets.loss_weights, params=params,
                                  free_raw_data=True).construct()

    def lightgbm_params(self, est, objective):
        """The booster parameters ``LGBMClassifier.fit`` would train ``est`` with."""
        from ._compat import lightgbm as lgb_compat

        lgb_compat.check_process_params()
        est._n_classes = self.targets.classes.shape[0]
        est._fit_objective = objective
        try:
            params = est._process_params("fit")
        finally:
            del est._fit_objective
        params["objective"] = "none"  # the gradients come from Booster.update(fobj=...)
        params["metric"] = "None"
        return params

    def candidate(self, params):
        est = clone(self.estimator).set_params(**params)
        setup = FocalSetup(est, self.targets.codes, self.targets.classes, self.targets.loss_weights)
        if self.library == "xgboost":
            return _XGBCandidate(self, est, setup)
        return _LGBMCandidate(self, est, setup)


class _Candidate:
    def __init__(self, fold, estimator, setup):
        self.fold = fold
        self.estimator = estimator
        self.setup = setup
        self.rounds = 0

    def train_to(self, rounds):
        while self.rounds < rounds:
            self._round(self.rounds)
            self.rounds += 1

    def finish(self):
        """No more rounds for this candidate (its final score follows)."""

    def score(self, scorer):
        fold = self.fold
        kind = _ScoredWithDecision if hasattr(self.estimator, "decision_function") else _Scored
        model = kind(fold.targets.classes, self.setup.loss, self.estimator.probability,
                     self.margin())
        return scorer(model, fold.X_test, fold.y_test)


class _XGBCandidate(_Candidate):
    def __init__(self, fold, estimator, setup):
        import xgboost as xgb

        from . import xgboost as fxgb
        from .sklearn._core import xgboost_engine_params

        super().__init__(fold, estimator, setup)
        K = fold.targets.classes.shape[0]
        engine = xgb.XGBClassifier(**xgboost_engine_params(estimator, setup, K))
        params = engine.get_xgb_params()  # as XGBClassifier.fit with a callable objective:
        params["objective"] = "binary:logistic"
        if K > 2:
            params["objective"] = "multi:softprob"
            params["num_class"] = K
        with fold.lock:
            self.booster = xgb.Booster(params, [fold.dtrain, fold.dtest])
        self.objective = fxgb.XGBoostObjective(setup.loss, setup.scale)

    def _round(self, i):
        from ._compat.xgboost import training_margins

        dtrain = self.fold.dtrain
        # Booster.update(dtrain, i, fobj) without its copy of the margins (same values)
        grad, hess = self.objective(training_margins(self.booster, dtrain), dtrain)
        self.booster.boost(dtrain, i, grad=grad, hess=hess)

    def margin(self):
        out = self.booster.predict(self.fold.dtest, output_margin=True)
        return np.asarray(out, dtype=np.float64)


class _LGBMCandidate(_Candidate):
    def __init__(self, fold, estimator, setup):
        import lightgbm as lgb

        super().__init__(fold, estimator, setup)
        params = fold.lightgbm_params(estimator, setup.objective)
        self.init = np.asarray(setup.init, dtype=np.float64)
        # predict with the training threads (as LGBMClassifier.predict passes n_jobs): LightGBM's
        # predictor otherwise sets OpenMP to every core, and the next rounds then ran on them
        # (measured: 13 s instead of 0.6 s for a small search on 2 busy cores)
        self.num_threads = params["num_threads"]
        rows = init_score_rows(setup.loss, fold.targets.codes, init=setup.init)
        with fold.lock:
            # as FocalLGBMClassifier.fit: every row starts at the focal init score. LightGBM copies
            # a Dataset's init score into the booster's scores when the booster is created, so
            # the shared Dataset takes each candidate's init score in turn (under the fold's lock)
            fold.dtrain.set_init_score(rows)
            self.booster = lgb.Booster(params, fold.dtrain)
        self.folded = False

    def _objective(self, preds, data):
        return library_gradient_hessian(
            self.setup.loss, data.get_label(), preds, data.get_weight(), self.setup.scale
        )

    def _round(self, i):
        if self.folded:
            raise RuntimeError("this candidate's init score is folded into its trees: no more rounds")
        self.booster.update(fobj=self._objective)

    def finish(self):
        """No more rounds: fold the init score into the first trees, as FocalLGBMClassifier.fit
        does, so the margins are the booster's raw scores computed as the estimator's are."""
        from .sklearn._persistence import fold_init_score

        if not self.folded:
            fold_init_score(self.booster, self.init)
            self.folded = True

    def margin(self):
        raw = np.asarray(self.booster.predict(self.fold.X_test, raw_score=True,
                                                  num_threads=self.num_threads), dtype=np.float64)
        return raw if self.folded else raw + self.init
