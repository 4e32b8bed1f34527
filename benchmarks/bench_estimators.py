"""Estimator fit time: the focal scikit-learn estimators against the libraries' own classifiers.

Binary data of ``bench_training`` (1M x 20), 100 trees, the same tree parameters as there, all
cores; ``fit`` as a user calls it, so each run includes building the library's data set (the
DMatrix / Dataset) as well as training. Rows:

* ``XGBClassifier`` / ``LGBMClassifier``: the built-in log loss;
* ``FocalXGBClassifier`` / ``FocalLGBMClassifier`` (gamma = 2, alpha = 0.25) as shipped;
* ``FocalXGBClassifier, XGBClassifier's copies``: the same estimator with the in-place path
  switched off (``focalboost.xgboost._InPlaceMargins``), i.e. the objective called the way
  ``XGBClassifier`` calls any callable objective (labels, weights and margins copied every round).

Run through ``python -m benchmarks --only estimators``.
"""

from __future__ import annotations

import gc
import os
import time

import numpy as np

from focalboost import xgboost as fxgb

from .bench_training import ALPHA, CORES, GAMMA, LEARNING_RATE, make_binary, wait_until_idle


def _with_copies(fit):
    """``fit`` with FocalXGBClassifier's in-place rounds switched off."""

    def run():
        shipped = fxgb._InPlaceMargins.before_training
        fxgb._InPlaceMargins.before_training = lambda self, model: model
        try:
            return fit()
        finally:
            fxgb._InPlaceMargins.before_training = shipped

    return run


def contenders(X, y, trees, threads):
    from lightgbm import LGBMClassifier
    from xgboost import XGBClassifier

    from focalboost import FocalLGBMClassifier, FocalXGBClassifier

    xgb_kw = dict(n_estimators=trees, max_depth=6, tree_method="hist", learning_rate=LEARNING_RATE,
                  n_jobs=threads)
    lgb_kw = dict(n_estimators=trees, num_leaves=63, learning_rate=LEARNING_RATE, n_jobs=threads,
                  verbose=-1, force_col_wise=True)
    focal = dict(gamma=GAMMA, alpha=ALPHA)

    def focal_xgb():
        return FocalXGBClassifier(**focal, **xgb_kw).fit(X, y)

    return {
        "xgboost": {
            "XGBClassifier": lambda: XGBClassifier(**xgb_kw).fit(X, y),
            "FocalXGBClassifier": focal_xgb,
            "FocalXGBClassifier, XGBClassifier's copies": _with_copies(focal_xgb),
        },
        "lightgbm": {
            "LGBMClassifier": lambda: LGBMClassifier(**lgb_kw).fit(X, y),
            "FocalLGBMClassifier": lambda: FocalLGBMClassifier(**focal, **lgb_kw).fit(X, y),
        },
    }


def run(quick=False, repeats=None, wait_idle=0.0, out=print):
    n, trees = (2_000, 3) if quick else (1_000_000, 100)
    repeats = repeats or (1 if quick else 3)
    threads = 1 if quick else CORES
    X, y = make_binary(n)
    for lib, fits in contenders(X, y, trees, threads).items():
        for fit in fits.values():  # warm-up: JIT compilation, thread pools
            fit()
        times = {name: [] for name in fits}
        load0 = os.getloadavg()[0]
        for _ in range(repeats):
            for name, fit in fits.items():  # interleaved
                gc.collect()
                if wait_idle:
                    wait_until_idle(wait_idle)
                t0 = time.perf_counter()
                fit()
                times[name].append(time.perf_counter() - t0)
        base = np.median(next(iter(times.values())))
        out(
            f"\n### Estimators: {lib} fit, binary, {n:,} rows x {X.shape[1]}, {trees} trees, {threads} "
            f"threads (median of {repeats}; load average {load0:.1f} -> {os.getloadavg()[0]:.1f})\n"
        )
        out("| estimator | fit s (median) | runs | ratio vs the library's classifier |")
        out("|---|---:|---|---:|")
        for name, runs in times.items():
            runs_text = ", ".join(f"{s:.2f}" for s in runs)
            out(f"| {name} | {np.median(runs):.2f} | {runs_text} | {np.median(runs) / base:.3f} |")
