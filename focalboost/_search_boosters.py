"""Fast mode of :class:`focalboost.FocalSearchCV`: one binned data set per fold, one booster per
candidate trained round by round with the libraries' public ``Booster.update``.

Everything a candidate needs before training comes from the estimator core
(:mod:`focalboost.sklearn._core`): labels and weights (:class:`LocalTargets`), alpha, loss, init
score and loss scale (:class:`FocalSetup`); the booster parameters come from the estimator itself
(XGBoost: the engine ``XGBClassifier`` the focal estimator trains, as ``XGBClassifier.fit`` turns
it into booster parameters; LightGBM: ``LGBMClassifier._process_params`` through
:func:`focalboost._compat.lightgbm.booster_params`, feature-checked: without it fast mode raises
and exhaustive mode fits each candidate with the estimator's ``fit``). So a candidate trained to ``n_estimators`` rounds is the
model the estimator's ``fit`` gives on the fold (tests/test_search.py compares the scores).
"""

from __future__ import annotations

import threading

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils import _safe_indexing

from ._adapter import RoundBuffers, init_score_rows, library_gradient_hessian
from .sklearn._core import (FocalSetup, LocalTargets, check_plain_array, labels_from_margin,
                            proba_from_margin, same_data)


def fast_estimator_problems(library, estimator, early_stopping=False):
    """Settings a shared binned data set and plain boosters cannot reproduce (a list of them)."""
    params = estimator.get_params()
    problems = []
    if library == "xgboost":
        if params.get("early_stopping_rounds") is not None and not early_stopping:
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
        from ._compat.lightgbm import process_params_available

        if not process_params_available():
            problems.append("LightGBM's booster parameters: LGBMModel._process_params is missing "
                            "in this lightgbm")
        for name in ("boosting_type",):
            if params.get(name) not in (None, "gbdt"):
                problems.append(f"{name}={params[name]!r}")
    return [f"{type(estimator).__name__}({p})" for p in problems]


#: fit parameters of early stopping fast mode reproduces, per library
EARLY_STOPPING_FIT_PARAMS = {
    "xgboost": {"eval_set", "sample_weight_eval_set", "verbose"},
    "lightgbm": {"eval_set", "eval_X", "eval_y", "eval_sample_weight", "callbacks"},
}


def early_stopping_spec(library, estimator, fit_params):
    """(spec, problems): early stopping on one evaluation set with the default metric
    (``"focal_loss"``), as the estimator's ``fit`` would do it from ``fit_params``, as a dict
    ``X``, ``y``, ``weight``, ``rounds`` (None without early stopping); ``problems`` lists what fast
    mode cannot reproduce."""
    params = estimator.get_params()
    given = {k: v for k, v in fit_params.items() if k != "sample_weight"}
    problems = []
    unknown = sorted(set(given) - EARLY_STOPPING_FIT_PARAMS[library])
    if unknown:
        problems.append(f"fit parameters {unknown}")
    if library == "xgboost":
        rounds = params.get("early_stopping_rounds")
        sets = given.get("eval_set")
        weights = given.get("sample_weight_eval_set")
        if params.get("eval_metric") not in (None, "focal_loss"):
            problems.append(f"eval_metric={params['eval_metric']!r} (early stopping on the "
                            "default focal_loss only)")
    else:
        callbacks = list(given.get("callbacks") or [])
        from ._compat.lightgbm import is_early_stopping_callback

        stops = [c for c in callbacks if is_early_stopping_callback(c)]
        if len(stops) != len(callbacks) or len(stops) > 1:
            problems.append("callbacks other than one lightgbm.early_stopping")
        stop = stops[0] if stops else None
        rounds = getattr(stop, "stopping_rounds", None)
        if stop is not None and (getattr(stop, "min_delta", 0) or 0) != 0:
            problems.append("early_stopping(min_delta != 0)")
        if "eval_X" in given or "eval_y" in given:
            X_e, y_e = given.get("eval_X"), given.get("eval_y")
            sets = list(zip(X_e, y_e)) if isinstance(X_e, tuple) else [(X_e, y_e)]
        else:
            sets = given.get("eval_set")
            sets = [sets] if isinstance(sets, tuple) else sets
        weights = given.get("eval_sample_weight")
        if any(params.get(name) is not None for name in ("metric", "metrics", "metric_types")):
            problems.append("metric (early stopping on the default focal_loss only)")
    if sets is not None and len(sets) != 1:
        problems.append(f"{len(sets)} evaluation sets (one is supported)")
    if (sets is None) != (rounds is None):
        problems.append(
            "early stopping (early_stopping_rounds / lightgbm.early_stopping) without an "
            "evaluation set" if sets is None else "an evaluation set without early stopping"
        )
    if problems or rounds is None:
        return None, problems
    X_valid, y_valid = sets[0]
    weight = None if weights is None else weights[0]
    return {"X": X_valid, "y": y_valid, "weight": weight, "rounds": int(rounds)}, []


class _Scored(ClassifierMixin, BaseEstimator):
    """A fitted stand-in for the estimator, for the scorer: the held-out part's margins of one
    candidate, turned into ``predict_proba`` / ``predict`` by the estimators' own rules (the
    ``X`` it is given is that held-out part)."""

    def __init__(self, classes, loss, probability, margin, strength=1.0, temperature=1.0):
        self.classes_ = classes
        self.loss_ = loss
        self.probability = probability
        self.margin = margin
        self.strength_ = strength  # probability="auto": what the estimator's fit would set
        self.temperature_ = temperature

    def predict_proba(self, X):
        return proba_from_margin(self, self.margin)

    def predict(self, X):
        return labels_from_margin(self, self.margin)


class _ScoredWithDecision(_Scored):
    """As :class:`_Scored`, with ``decision_function`` (FocalLGBMClassifier has one; scorers
    such as ``"roc_auc"`` prefer it)."""

    def decision_function(self, X):
        return self.margin


class FoldData:
    """One fold: its training part binned once, its held-out part, the estimator core's targets."""

    def __init__(self, library, estimator, X, y, sample_weight, train, test, stopping=None):
        self.library = library
        self.estimator = estimator
        self.stopping = stopping
        X_train = check_plain_array(_safe_indexing(X, train))
        # the estimator's fit fits probability="auto"'s (strength, temperature) on its evaluation
        # set, unless that set is the training data (focalboost.sklearn._core.same_data)
        self.calibrates = stopping is not None and not same_data(stopping["X"], X_train)
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
        self.dvalid = None
        if self.stopping is not None:  # as XGBClassifier.fit builds an eval_set's matrix
            self.y_valid = self.valid_codes()
            self.dvalid = xgb.QuantileDMatrix(self.stopping["X"], label=self.y_valid,
                                              weight=self.stopping["weight"], ref=self.dtrain,
                                              max_bin=est.max_bin, **common)

    def valid_codes(self):
        from .sklearn._core import encoder_for

        return encoder_for(self.targets.classes).transform(np.ravel(self.stopping["y"]))

    def _bin_lightgbm(self, X_train):
        import lightgbm as lgb

        params = self.lightgbm_params(clone(self.estimator), None)
        self.dtrain = lgb.Dataset(X_train, label=self.targets.codes,
                                  weight=self.targets.loss_weights, params=params,
                                  free_raw_data=True).construct()
        # the held-out part as a validation set: LightGBM then keeps its margins up to date
        # round by round, and a rung reads them (Booster.eval_valid) instead of predicting
        # from the data frame anew (measured on nassCDS: 20-30 ms a score, a quarter of the search)
        self.dheld = lgb.Dataset(self.X_test, label=np.zeros(len(self.y_test)),
                                 reference=self.dtrain, params=params,
                                 free_raw_data=True).construct()
        self.dvalid = None
        if self.stopping is not None:
            self.y_valid = self.valid_codes()
            self.dvalid = lgb.Dataset(self.stopping["X"], label=self.y_valid,
                                      weight=self.stopping["weight"], reference=self.dtrain,
                                      params=params, free_raw_data=True).construct()

    def lightgbm_params(self, est, objective):
        """The booster parameters ``LGBMClassifier.fit`` would train ``est`` with."""
        from ._compat import lightgbm as lgb_compat

        params = lgb_compat.booster_params(est, self.targets.classes.shape[0], objective)
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
        self.stopped = False
        self.best_round = None  # with early stopping: the round of the least validation loss
        self.best_loss = np.inf

    def train_to(self, rounds):
        stopping = self.fold.stopping
        # the gradient and hessian of these rounds, written into the same two arrays each round
        # (the library uses them before the round ends), let go after them
        buffers = RoundBuffers()
        while self.rounds < rounds and not self.stopped:
            if self.rounds == 0:  # the first round may build a shared data set's lazy state
                with self.fold.lock:  # (XGBoost's histogram index): one thread at a time
                    self._round(0, buffers)
            else:
                self._round(self.rounds, buffers)
            if stopping is not None:  # the libraries' rule: stop after `rounds` rounds without
                loss = self._valid_loss()  # a strictly smaller validation loss
                if loss < self.best_loss:
                    self.best_loss, self.best_round = loss, self.rounds
                elif self.rounds - self.best_round >= stopping["rounds"]:
                    self.stopped = True
            self.rounds += 1

    def finish(self):
        """No more rounds for this candidate (its final score follows)."""

    def score(self, scorer):
        """The scorer on the fold's held-out part, given what the estimator fitted on the fold's
        training part at this round would predict: the margins at the best round (early
        stopping) and, for ``probability="auto"`` with an evaluation set, the (strength,
        temperature) its fit would fit on that set's margins at the best round."""
        fold = self.fold
        kind = _ScoredWithDecision if hasattr(self.estimator, "decision_function") else _Scored
        strength = temperature = 1.0
        if fold.calibrates and self.estimator.probability == "auto":
            from .calibration import fit_held_out, has_weight

            weight = fold.stopping["weight"]
            if has_weight(weight):  # else the estimator keeps the exact posterior too
                strength, temperature, _ = fit_held_out(self.setup.loss, fold.y_valid,
                                                        self.valid_margin(), weight)
        self.scored_margin = self.margin()  # kept: the refit's calibration reads the best one's
        model = kind(fold.targets.classes, self.setup.loss, self.estimator.probability,
                     self.scored_margin, strength, temperature)
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
            cache = [fold.dtrain, fold.dtest] + ([fold.dvalid] if fold.dvalid is not None else [])
            self.booster = xgb.Booster(params, cache)
        self.objective = fxgb.XGBoostObjective(setup.loss, setup.scale)

    def _valid_loss(self):
        from . import xgboost as fxgb

        margin = self.booster.predict(self.fold.dvalid, output_margin=True)
        return fxgb.mean_loss(self.setup.loss, self.fold.y_valid, margin,
                              self.fold.stopping["weight"])

    def _round(self, i, buffers):
        from ._compat.xgboost import training_margins

        dtrain = self.fold.dtrain
        # Booster.update(dtrain, i, fobj) without its copy of the margins (same values)
        grad, hess = self.objective._round_into(training_margins(self.booster, dtrain), dtrain, buffers)
        self.booster.boost(dtrain, i, grad=grad, hess=hess)

    def margin(self, data=None):
        """The margins of the held-out part (or of ``data``) at the best round, as the
        estimator predicts after early stopping."""
        kwargs = {}
        if self.best_round is not None:
            kwargs["iteration_range"] = (0, self.best_round + 1)
        data = self.fold.dtest if data is None else data
        out = self.booster.predict(data, output_margin=True, **kwargs)
        return np.asarray(out, dtype=np.float64)

    def valid_margin(self):
        return self.margin(self.fold.dvalid)


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
        with fold.lock:
            # as FocalLGBMClassifier.fit: the training scores start at 0 and the objective adds
            # the init score (self._objective); the evaluation sets start at the init score
            self.booster = lgb.Booster(params, fold.dtrain)
            if fold.dvalid is not None:  # its init score too, as the estimator's eval sets
                fold.dvalid.set_init_score(init_score_rows(setup.loss, fold.y_valid,
                                                           init=setup.init))
                self.booster.add_valid(fold.dvalid, "valid")
            fold.dheld.set_init_score(init_score_rows(setup.loss, np.zeros(len(fold.y_test)),
                                                      n_rows=len(fold.y_test), init=setup.init))
            self.booster.add_valid(fold.dheld, "held-out")
        self.folded = False

    def _objective(self, preds, data, buffers):
        return library_gradient_hessian(
            self.setup.loss, data.get_label(), preds, data.get_weight(), self.setup.scale,
            self.setup.init, buffers=buffers,
        )

    def _valid_loss(self):
        fold = self.fold

        def focal_loss(preds, data):
            if data is not fold.dvalid:
                return "focal_loss", np.nan, False
            return "focal_loss", self.setup.loss.mean_loss(data.get_label(), preds,
                                                           data.get_weight()), False

        return next(v for name, _, v, _ in self.booster.eval_valid(feval=focal_loss)
                    if name == "valid")

    def _kept_margins(self, dataset):
        """A validation set's margins (init score included) at the current round, as LightGBM
        keeps them for it."""
        captured = []

        def capture(preds, data):
            if data is dataset:
                captured.append(np.array(preds, dtype=np.float64))
            return "capture", 0.0, False

        self.booster.eval_valid(feval=capture)
        return captured[0]

    def _round(self, i, buffers):
        if self.folded:
            raise RuntimeError("this candidate's init score is folded into its trees: no more rounds")
        self.booster.update(fobj=lambda preds, data: self._objective(preds, data, buffers))

    def finish(self):
        """No more rounds: fold the init score into the first trees, as FocalLGBMClassifier.fit
        does, so the margins are the booster's raw scores computed as the estimator's are."""
        from .sklearn._persistence import fold_init_score

        if not self.folded:
            fold_init_score(self.booster, self.init)
            self.folded = True

    def margin(self, X=None):
        """The margins of the held-out part (or of ``X``, the evaluation set) at the best round;
        after :meth:`finish`, computed as the estimator's ``decision_function`` computes them."""
        if self.best_round is None and X is None:  # at the current round: LightGBM's own
            # validation scores, init score + trees in order, bit for bit what the folded model
            # predicts ((init + leaf) + ... either way), without predicting the data again
            return self._kept_margins(self.fold.dheld)
        kwargs = {} if self.best_round is None else {"num_iteration": self.best_round + 1}
        raw = np.asarray(self.booster.predict(self.fold.X_test if X is None else X, raw_score=True,
                                              num_threads=self.num_threads, **kwargs),
                         dtype=np.float64)
        return raw if self.folded else raw + self.init

    def valid_margin(self):
        return self.margin(self.fold.stopping["X"])
