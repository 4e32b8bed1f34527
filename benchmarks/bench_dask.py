"""Training time of the Dask estimators on a LocalCluster, against the single-machine focal
estimators and against the libraries' built-in objective under Dask, on the same data.

    python benchmarks/bench_dask.py                       # 60k rows x 20 features, 100 trees
    python benchmarks/bench_dask.py --rows 200000 --repeats 5
    python benchmarks/bench_dask.py --rows 2000 --trees 5 --repeats 1    # smoke run

Run it on an otherwise idle machine: the load average is printed with the table.

The cluster is 2 worker processes x 1 thread; the single-machine estimators get n_jobs=2, so
both sides use two cores. Times are the median of --repeats fits (wall clock, data already in
the workers' memory for Dask, a first untimed fit warms up imports and the cluster). Prints
markdown rows for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import time

import dask
import dask.array as da
import lightgbm
import xgboost
from distributed import Client, LocalCluster, wait
from lightgbm.dask import DaskLGBMClassifier
from sklearn.datasets import make_classification
from xgboost.dask import DaskXGBClassifier

import focalboost
from focalboost.compare.report import cpu_model as _cpu_model
from focalboost.dask import FocalDaskLGBMClassifier, FocalDaskXGBClassifier
from focalboost.sklearn import FocalLGBMClassifier, FocalXGBClassifier


def _median_time(fit, repeats):
    fit()  # warm-up, untimed
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fit()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    weights = [0.9] if args.classes == 2 else [0.8, 0.15] + [0.05 / (args.classes - 2)] * (args.classes - 2)
    X, y = make_classification(
        n_samples=args.rows, n_features=args.features, n_informative=args.features // 2,
        n_classes=args.classes, n_clusters_per_class=1, weights=weights, random_state=0,
    )
    xgb_kw = dict(n_estimators=args.trees, max_depth=6, learning_rate=0.1, tree_method="hist")
    lgb_kw = dict(n_estimators=args.trees, num_leaves=31, learning_rate=0.1, verbose=-1)
    focal = dict(gamma=2.0, alpha="balanced")

    rows = []
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    with cluster, Client(cluster):  # the default client of the Dask estimators
        chunk = -(-args.rows // 4)  # 4 partitions, 2 per worker
        Xd = da.from_array(X, chunks=(chunk, args.features)).persist()
        yd = da.from_array(y, chunks=chunk).persist()
        wait([Xd, yd])
        cases = [
            ("XGBoost", "FocalDaskXGBClassifier (LocalCluster 2x1)",
             lambda: FocalDaskXGBClassifier(**focal, **xgb_kw).fit(Xd, yd)),
            ("XGBoost", "DaskXGBClassifier, built-in logloss (LocalCluster 2x1)",
             lambda: DaskXGBClassifier(**xgb_kw).fit(Xd, yd)),
            ("XGBoost", "FocalXGBClassifier (one process, n_jobs=2)",
             lambda: FocalXGBClassifier(**focal, n_jobs=2, **xgb_kw).fit(X, y)),
            ("LightGBM", "FocalDaskLGBMClassifier (LocalCluster 2x1)",
             lambda: FocalDaskLGBMClassifier(**focal, **lgb_kw).fit(Xd, yd)),
            ("LightGBM", "DaskLGBMClassifier, built-in logloss (LocalCluster 2x1)",
             lambda: DaskLGBMClassifier(**lgb_kw).fit(Xd, yd)),
            ("LightGBM", "FocalLGBMClassifier (one process, n_jobs=2)",
             lambda: FocalLGBMClassifier(**focal, n_jobs=2, **lgb_kw).fit(X, y)),
        ]
        for library, name, fit in cases:
            seconds = _median_time(fit, args.repeats)
            rows.append((library, name, seconds))
            print(f"{library:9s} {name:58s} {seconds:7.2f} s", flush=True)

    today = datetime.date.today().isoformat()
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print()
    print(
        f"Dask training time, {args.rows} rows x {args.features} features, {args.classes} classes, "
        f"{args.trees} trees, median of {args.repeats} (after a warm-up fit); {today}, "
        f"{os.cpu_count()} cores ({_cpu_model() or 'unknown CPU'}), focalboost {focalboost.__version__}, "
        f"xgboost {xgboost.__version__}, lightgbm {lightgbm.__version__}, dask "
        f"{dask.__version__}; load average at the end {load} (1, 5, 15 min)"
    )
    print()
    print("| library | estimator | fit time (s) | vs. focal single machine |")
    print("|---|---|---:|---:|")
    for library, name, seconds in rows:
        reference = next(s for lib, n, s in rows if lib == library and "one process" in n)
        print(f"| {library} | {name} | {seconds:.2f} | {seconds / reference:.2f}x |")


if __name__ == "__main__":
    main()
