"""Does FocalXGBClassifier need the OpenMP team (focalboost._openmp_team) to meet its target?

``FocalXGBClassifier.fit`` against ``XGBClassifier.fit`` (binary, 1M x 20 float32, 100 trees,
hist, depth 6, all cores: bench_estimators' setting; target <= 1.10x), with the binary kernel on
XGBoost's OpenMP team ("team") and on focalboost's own thread pool ("pool"). Interleaved in one
process, the order reversed every repetition (X T P, P T X, X T P, ...), so that drift hits all
three alike; each repetition gives a pair of ratios T/X and P/X, and the medians of those ratios
are reported, as is the most CPU other processes took during a timed fit.

    python -m benchmarks.bench_openmp_team --repeats 6 --wait-idle 20
"""

from __future__ import annotations

import argparse
import gc
import os
import time

import numpy as np

from .bench_training import (
    ALPHA, CORES, GAMMA, LEARNING_RATE, _cpu_times, make_binary, others_cores, wait_until_idle,
)


def _pool(fit):
    """``fit`` with the OpenMP team switched off (FOCALBOOST_OPENMP_TEAM is read at every call)."""

    def run():
        saved = os.environ.get("FOCALBOOST_OPENMP_TEAM")
        os.environ["FOCALBOOST_OPENMP_TEAM"] = "0"
        try:
            return fit()
        finally:
            if saved is None:
                del os.environ["FOCALBOOST_OPENMP_TEAM"]
            else:
                os.environ["FOCALBOOST_OPENMP_TEAM"] = saved

    return run


def run(n=1_000_000, trees=100, repeats=6, wait_idle=0.0, out=print):
    from xgboost import XGBClassifier

    from focalboost import FocalXGBClassifier, _openmp_team

    X, y = make_binary(n)
    kw = dict(n_estimators=trees, max_depth=6, tree_method="hist", learning_rate=LEARNING_RATE,
              n_jobs=CORES)

    def focal():
        return FocalXGBClassifier(gamma=GAMMA, alpha=ALPHA, **kw).fit(X, y)

    fits = {"XGBClassifier": lambda: XGBClassifier(**kw).fit(X, y), "team": focal, "pool": _pool(focal)}
    assert _openmp_team.xgboost_team() is not None, "the OpenMP team is not available here"
    for fit in fits.values():  # warm-up: JIT compilation, thread pools
        fit()
    times = {name: [] for name in fits}
    busiest, load0 = 0.0, os.getloadavg()[0]
    for i in range(repeats):
        order = list(fits) if i % 2 == 0 else list(fits)[::-1]
        for name in order:
            gc.collect()
            if wait_idle:
                wait_until_idle(wait_idle)
            before, t0 = _cpu_times(), time.perf_counter()
            fits[name]()
            seconds = time.perf_counter() - t0
            times[name].append(seconds)
            busiest = max(busiest, others_cores(before, _cpu_times(), seconds))
    base = np.array(times["XGBClassifier"])
    out(f"\n### FocalXGBClassifier with and without the OpenMP team: binary, {n:,} rows x "
        f"{X.shape[1]}, {trees} trees, {CORES} threads ({repeats} repetitions, order reversed "
        f"every other one; load average {load0:.1f} -> {os.getloadavg()[0]:.1f}; other processes "
        f"took at most {busiest:.2f} cores during a timed fit)\n")
    out("| fit | s (median) | runs | ratios to XGBClassifier, per repetition | median ratio |")
    out("|---|---:|---|---|---:|")
    for name, runs in times.items():
        ratios = np.array(runs) / base
        out(f"| {name} | {np.median(runs):.2f} | {', '.join(f'{s:.2f}' for s in runs)} | "
            f"{', '.join(f'{r:.3f}' for r in ratios)} | {np.median(ratios):.3f} |")
    team_over_pool = np.array(times["team"]) / np.array(times["pool"])
    out(f"\nteam / pool per repetition: {', '.join(f'{r:.3f}' for r in team_over_pool)}; "
        f"median {np.median(team_over_pool):.3f}")
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS")
    args = parser.parse_args(argv)
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}; load average at start: "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    run(args.rows, args.trees, args.repeats, args.wait_idle)


if __name__ == "__main__":
    main()
