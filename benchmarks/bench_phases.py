"""Where an XGBoost round goes with a custom objective: a per-phase breakdown (binary, 1M rows).

``xgb.train(obj=f)`` does, every round: ``predict(output_margin=True, training=True)`` (a copy of
the margins into a new numpy array), ``f(predt, dtrain)``, then ``XGBoosterTrainOneIter`` with the
gradient and hessian (converted to XGBoost's float32 gradient pairs, then one tree is grown). This
script times those three phases separately, next to a built-in ``binary:logistic`` round, so that
the cost of the objective itself is seen apart from XGBoost's own custom-objective path; and once
more with the margins read in place, as ``focalboost.xgboost.train`` does (the same C call as
``predict``, without the copy).

The three phases are the public calls ``xgb.train`` makes itself: ``Booster.predict`` and
``Booster.boost(dtrain, i, grad=..., hess=...)`` (``XGBoosterTrainOneIter``), with the hook between.

Run through ``python -m benchmarks --only phases``.
"""

from __future__ import annotations

import gc
import time

import numba
import numpy as np

from focalboost import xgboost as fxgb

from .bench_training import CORES, LEARNING_RATE, _focal_loss, make_binary


def _copied_margins(booster, dtrain):
    return booster.predict(dtrain, output_margin=True, training=True)


def _custom_rounds(xgb, dtrain, params, rounds, hook, margins=_copied_margins):
    booster = xgb.Booster(params, [dtrain])
    phases = {"predict": 0.0, "objective": 0.0, "train_one_iter": 0.0}
    for i in range(rounds):
        t0 = time.perf_counter()
        predt = margins(booster, dtrain)
        t1 = time.perf_counter()
        grad, hess = hook(predt, dtrain)
        t2 = time.perf_counter()
        booster.boost(dtrain, i, grad=grad, hess=hess)  # XGBoosterTrainOneIter
        t3 = time.perf_counter()
        phases["predict"] += t1 - t0
        phases["objective"] += t2 - t1
        phases["train_one_iter"] += t3 - t2
    phases["round"] = sum(phases.values())
    return {k: v / rounds for k, v in phases.items()}


def _builtin_rounds(xgb, dtrain, params, rounds):
    booster = xgb.Booster(params, [dtrain])
    t0 = time.perf_counter()
    for i in range(rounds):
        booster.update(dtrain, i)
    return {"round": (time.perf_counter() - t0) / rounds}


def run(quick=False, repeats=None, out=print):
    import xgboost as xgb

    n, rounds = (5_000, 5) if quick else (1_000_000, 100)
    repeats = repeats or (1 if quick else 3)
    threads = 1 if quick else CORES
    X, y = make_binary(n)
    dtrain = xgb.DMatrix(X, label=y, nthread=threads)
    base = {"tree_method": "hist", "max_depth": 6, "eta": LEARNING_RATE, "nthread": threads, "verbosity": 0}
    builtin = {**base, "objective": "binary:logistic"}
    focal = {**base, "base_score": float(_focal_loss(2).init_score(y)), "disable_default_eval_metric": True}
    hook = fxgb.objective(_focal_loss(2))  # the shipped objective: float32 out, labels in place
    all_threads = numba.get_num_threads()

    def custom(k, margins=_copied_margins):
        def run_(num_rounds):
            numba.set_num_threads(k)
            try:
                return _custom_rounds(xgb, dtrain, focal, num_rounds, hook, margins)
            finally:
                numba.set_num_threads(all_threads)

        return run_

    configs = {
        "built-in binary:logistic": lambda num_rounds: _builtin_rounds(xgb, dtrain, builtin, num_rounds),
        f"focalboost hook, kernel on {all_threads} threads": custom(all_threads),
        "focalboost hook, kernel on 1 thread": custom(1),
        # what focalboost.xgboost.train and FocalXGBClassifier do: the same C call, no copy
        f"margins read in place (focalboost.xgboost.train), kernel on {all_threads} threads": custom(
            all_threads, fxgb._training_margins
        ),
    }
    for func in configs.values():  # warm-up: JIT compilation, thread pools
        func(2)
    results = {name: [] for name in configs}
    for _ in range(repeats):
        for name, func in configs.items():
            gc.collect()
            results[name].append(func(rounds))
    base_round = np.median([r["round"] for r in results["built-in binary:logistic"]])
    out(
        f"\n### XGBoost round by phase: binary, {n:,} rows x {X.shape[1]}, {rounds} rounds, "
        f"{threads} XGBoost threads (median of {repeats}, ms per round)\n"
    )
    out("| run | predict (margins) | objective | TrainOneIter (grad handover + tree) | round | vs built-in |")
    out("|---|---:|---:|---:|---:|---:|")
    for name, runs in results.items():
        med = {k: np.median([r[k] for r in runs]) * 1e3 for k in runs[0]}
        cells = [f"{med[k]:.2f}" if k in med else "-" for k in ("predict", "objective", "train_one_iter")]
        out(f"| {name} | {' | '.join(cells)} | {med['round']:.2f} | {med['round'] / base_round / 1e3:.3f} |")
    return results
