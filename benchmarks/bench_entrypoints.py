"""Every entry point against the library's built-in objective, prediction, memory and start-up
(issue 17, parts 2-5). Ratios come from interleaved pairs: each pair runs the built-in and the
focal contender back to back, the order alternating from pair to pair (B F, F B, B F, ...), and
the table gives the median of the pair ratios (focal / built-in) next to each pair's ratio, so a
shared machine's drift hits both sides of a pair alike. The load average is printed with each
table.

Parts (``python -m benchmarks --only NAME``, each with ``--quick``: tiny data, seconds):

* ``entrypoints``: training time, built-in objective vs focal loss (gamma = 2; alpha = 0.25 for
  binary), 100 rounds, the same trees (XGBoost ``hist``, depth 6; LightGBM 63 leaves), all cores:
  ``XGBClassifier`` vs ``FocalXGBClassifier``, ``xgb.train`` vs ``focalboost.xgboost.train``,
  ``LGBMClassifier`` vs ``FocalLGBMClassifier``, ``lgb.train`` with the built-in objective vs with
  the hooks of ``focalboost.lightgbm``; binary 1M x 20, multiclass K = 10 200k x 20, K = 50 50k x
  20, multi-label (XGBoost: 5 labels, 200k x 20, ``binary:logistic`` multi-output); the Dask
  estimators on a LocalCluster of 2 workers x 1 thread (binary 200k x 20, ``--dask-rows``). For
  LightGBM K = 50 also the hooks at gamma = 0 (softmax cross-entropy through the same hooks: the
  hooks' own cost). LightGBM K = 50 trains with ``min_sum_hessian_in_leaf=1`` (XGBoost's default
  ``min_child_weight``; ``min_child_weight`` in the estimators): at LightGBM's default 1e-3, 1,000
  rows a class and 63 leaves, leaves of a few rows and hessian ~1e-3 take huge values and all three
  models diverge (the built-in's training log loss is 3.7 at round 20 and 148,000 at round 100,
  after which its trees shrink to 2-5 leaves), so the timing measured how fast each collapsed.
  The table prints each K = 50 LightGBM model's training log loss at the last round.
* ``predict``: ``predict_proba`` (default posterior correction) vs the built-in classifier's on
  1M rows, binary and K = 10 (100 trees trained on 100k rows), and the bytes each allocates
  beyond its output (tracemalloc peak minus the output's size).
* ``memory``: peak RSS (``resource.getrusage``, ``ru_maxrss``) of a fit on 5M x 20 float32, each
  fit in its own fresh process (20 rounds: the peak is the data and the binned matrix, not the
  rounds), with the RSS just before ``fit`` (the data alone).
* ``startup``: a fresh process's first fit (import of the estimator + fit of 10 trees on 10k rows,
  timed from before the import), with the numba cache warm, and cold (``NUMBA_CACHE_DIR`` an empty
  directory: the kernels compile); the warm case also with ``n_jobs=1`` for both classifiers (no
  OpenMP barriers, whose waits swing a 10-tree fit by seconds on a busy machine, so that what is
  left is the start-up work itself). Each row gives the import time of both sides too.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from .bench_training import ALPHA, CORES, GAMMA, LEARNING_RATE, make_binary, make_multiclass

ROOT = Path(__file__).resolve().parent.parent
XGB_TREE = dict(max_depth=6, tree_method="hist")
LGB_TREE = dict(num_leaves=63, force_col_wise=True, verbose=-1)
#: LightGBM K = 50 only: LightGBM's default min_sum_hessian_in_leaf (1e-3) lets all three models
#: diverge on 1,000 rows a class (module docstring); 1.0 is XGBoost's default min_child_weight
LGB_K50_MIN_HESSIAN = 1.0


def load():
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def paired(builtin, focal, pairs, warmup=True):
    """(builtin seconds, focal seconds, focal/builtin ratio per pair); order alternates."""
    if warmup:  # JIT compilation, thread pools, imports
        builtin()
        focal()
    rows = []
    for i in range(pairs):
        times = {}
        order = (("b", builtin), ("f", focal)) if i % 2 == 0 else (("f", focal), ("b", builtin))
        for key, func in order:
            gc.collect()
            t0 = time.perf_counter()
            func()
            times[key] = time.perf_counter() - t0
        rows.append((times["b"], times["f"], times["f"] / times["b"]))
    return rows


def _row(out, name, task, size, rows):
    b, f, r = (np.array(col) for col in zip(*rows))
    pairs = ", ".join(f"{v:.3f}" for v in r)
    out(f"| {name} | {task} | {size} | {np.median(b):.3f} | {np.median(f):.3f} | {pairs} | "
        f"**{np.median(r):.3f}** |")
    return float(np.median(r))


def make_multilabel(n, labels=5, d=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    W = rng.normal(size=(d, labels)) / np.sqrt(d)
    logit = 2.0 * X @ W - np.linspace(1.0, 3.0, labels)
    Y = (rng.random((n, labels)) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
    return X, Y


def _data(task, quick):
    if task == "binary":
        n = 2_000 if quick else 1_000_000
        return make_binary(n)
    if task == "multiclass K=10":
        return make_multiclass(2_000 if quick else 200_000, k=10)
    if task == "multiclass K=50":
        return make_multiclass(5_000 if quick else 50_000, k=50)
    if task == "multi-label L=5":
        return make_multilabel(2_000 if quick else 200_000)
    raise ValueError(task)


def _focal_alpha(task):
    return ALPHA if task == "binary" else None


def _loss(task, y):
    from focalboost import BinaryFocalLoss, MulticlassFocalLoss, MultiLabelFocalLoss

    if task == "binary":
        return BinaryFocalLoss(GAMMA, ALPHA)
    if task.startswith("multiclass"):
        return MulticlassFocalLoss(int(y.max()) + 1, GAMMA)
    return MultiLabelFocalLoss(GAMMA)


def xgboost_pairs(task, X, y, rounds, threads):
    import xgboost as xgb
    from xgboost import XGBClassifier

    from focalboost import FocalXGBClassifier
    from focalboost import xgboost as fxgb

    kw = dict(n_estimators=rounds, learning_rate=LEARNING_RATE, n_jobs=threads, **XGB_TREE)
    focal = dict(gamma=GAMMA, alpha=_focal_alpha(task))
    yield ("XGBClassifier.fit vs FocalXGBClassifier.fit",
           lambda: XGBClassifier(**kw).fit(X, y), lambda: FocalXGBClassifier(**focal, **kw).fit(X, y))
    dtrain = xgb.DMatrix(X, label=y, nthread=threads)
    params = dict(eta=LEARNING_RATE, nthread=threads, verbosity=0, **XGB_TREE)
    if task.startswith("multiclass"):
        builtin = dict(params, objective="multi:softprob", num_class=int(y.max()) + 1)
    else:
        builtin = dict(params, objective="binary:logistic")
    loss = _loss(task, y)
    yield ("xgb.train vs focalboost.xgboost.train",
           lambda: xgb.train(builtin, dtrain, rounds),
           lambda: fxgb.train(params, dtrain, rounds, loss=loss))


def _margin_log_loss(margin, y):
    """Training softmax cross-entropy of a model's margins (n, K): a sanity check that the timed
    models converge, not their objective."""
    from scipy.special import log_softmax

    return float(-log_softmax(margin, axis=1)[np.arange(len(y)), y.astype(np.int64)].mean())


def _keep_margin(margins, name, func, X, margin_of):
    """``func`` that also records how to get the margins of the model it returns, under
    ``margins[name]`` (called after the timing: predicting is not part of a fit's time); ``func``
    itself when ``margins`` is None."""
    if margins is None:
        return func

    def run():
        model = func()
        margins[name] = lambda: margin_of(model, X)
        return model

    return run


def lightgbm_pairs(task, X, y, rounds, threads, margins=None):
    import lightgbm as lgb
    from lightgbm import LGBMClassifier

    from focalboost import FocalLGBMClassifier, MulticlassFocalLoss
    from focalboost import lightgbm as flgb

    kw = dict(n_estimators=rounds, learning_rate=LEARNING_RATE, n_jobs=threads, **LGB_TREE)
    params = dict(learning_rate=LEARNING_RATE, num_threads=threads, **LGB_TREE)
    if task == "multiclass K=50":
        kw["min_child_weight"] = params["min_sum_hessian_in_leaf"] = LGB_K50_MIN_HESSIAN
    focal = dict(gamma=GAMMA, alpha=_focal_alpha(task))

    def keep(name, func, margin_of):
        return _keep_margin(margins, name, func, X, margin_of)

    yield ("LGBMClassifier.fit vs FocalLGBMClassifier.fit",
           keep("LGBMClassifier", lambda: LGBMClassifier(**kw).fit(X, y),
                lambda model, X: model.predict(X, raw_score=True)),
           keep("FocalLGBMClassifier", lambda: FocalLGBMClassifier(**focal, **kw).fit(X, y),
                lambda model, X: model.decision_function(X)))
    if task.startswith("multiclass"):
        builtin = dict(params, objective="multiclass", num_class=int(y.max()) + 1)
    else:
        builtin = dict(params, objective="binary")
    loss = _loss(task, y)

    def hooks(loss=loss):  # what focalboost.lightgbm's docstring shows a user
        init = loss.init_score(y)
        data = lgb.Dataset(X, y, init_score=flgb.init_score(loss, y, init=init))
        return lgb.train({**params, **flgb.training_params(loss)}, data, rounds)

    def raw(booster, X, loss=None):  # the hooks' margins: the booster's raw scores + the init score
        return booster.predict(X, raw_score=True) + (0.0 if loss is None else loss.init_score(y))

    gamma0 = MulticlassFocalLoss(loss.n_classes, 0.0) if task == "multiclass K=50" else None

    yield ("lgb.train, built-in vs focalboost.lightgbm hooks",
           keep("lgb.train built-in", lambda: lgb.train(builtin, lgb.Dataset(X, y), rounds), raw),
           keep("hooks gamma=2", hooks, lambda booster, X: raw(booster, X, loss)))
    if gamma0 is not None:  # the hooks' own cost: the same loss as the built-in objective
        yield ("lgb.train, built-in vs focalboost.lightgbm hooks at gamma=0 (softmax cross-entropy)",
               lambda: lgb.train(builtin, lgb.Dataset(X, y), rounds),
               keep("hooks gamma=0", lambda: hooks(gamma0), lambda booster, X: raw(booster, X, gamma0)))


def dask_pairs(quick, rounds, rows=None):
    import dask.array as da
    from distributed import Client, LocalCluster, wait
    from lightgbm.dask import DaskLGBMClassifier
    from xgboost.dask import DaskXGBClassifier

    from focalboost.dask import FocalDaskLGBMClassifier, FocalDaskXGBClassifier

    n = rows or (2_000 if quick else 200_000)
    X, y = make_binary(n)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)
    chunk = -(-n // 4)  # 4 partitions, 2 per worker
    Xd = da.from_array(X, chunks=(chunk, X.shape[1])).persist()
    yd = da.from_array(y, chunks=chunk).persist()
    wait([Xd, yd])
    xkw = dict(n_estimators=rounds, learning_rate=LEARNING_RATE, **XGB_TREE)
    lkw = dict(n_estimators=rounds, learning_rate=LEARNING_RATE, **LGB_TREE)
    focal = dict(gamma=GAMMA, alpha=ALPHA)
    cases = [
        ("DaskXGBClassifier vs FocalDaskXGBClassifier",
         lambda: DaskXGBClassifier(**xkw).fit(Xd, yd), lambda: FocalDaskXGBClassifier(**focal, **xkw).fit(Xd, yd)),
        ("DaskLGBMClassifier vs FocalDaskLGBMClassifier",
         lambda: DaskLGBMClassifier(**lkw).fit(Xd, yd), lambda: FocalDaskLGBMClassifier(**focal, **lkw).fit(Xd, yd)),
    ]
    return (client, cluster), f"{n:,} x {X.shape[1]}", cases


TASKS = ("binary", "multiclass K=10", "multiclass K=50", "multi-label L=5")


def run_entrypoints(quick=False, repeats=None, rounds=None, tasks=TASKS, libs=("xgboost", "lightgbm", "dask"),
                    out=print, dask_rows=None):
    pairs = repeats or (1 if quick else 3)
    rounds = rounds or (3 if quick else 100)
    threads = 1 if quick else CORES
    out(f"\n### Entry points: training, built-in objective vs focal loss, {rounds} rounds, {threads} "
        f"threads, {pairs} interleaved pairs (load average at start {load()})\n")
    out("| entry point | task | rows x features | built-in s (median) | focal s (median) | pair ratios | "
        "median ratio |")
    out("|---|---|---|---:|---:|---|---:|")
    results, notes = {}, []
    for task in tasks:
        X, y = _data(task, quick)
        size = f"{X.shape[0]:,} x {X.shape[1]}"
        makers = []
        if "xgboost" in libs:
            makers.append(xgboost_pairs)
        if "lightgbm" in libs and not task.startswith("multi-label"):  # LightGBM has no multi-output
            makers.append(lightgbm_pairs)
        for maker in makers:
            margins = {} if maker is lightgbm_pairs and task == "multiclass K=50" else None
            extra = {"margins": margins} if maker is lightgbm_pairs else {}
            for name, builtin, focal in maker(task, X, y, rounds, threads, **extra):
                results[(name, task)] = _row(out, name, task, size, paired(builtin, focal, pairs))
            if margins:
                losses = ", ".join(f"{k} {_margin_log_loss(m(), y):.4f}" for k, m in margins.items())
                notes.append(f"LightGBM {task}, training softmax cross-entropy of each model's margins "
                             f"after its last timed fit: {losses}")
    if "dask" in libs:
        (client, cluster), size, cases = dask_pairs(quick, rounds, dask_rows)
        try:
            for name, builtin, focal in cases:
                results[(name, "binary")] = _row(out, name, "binary (LocalCluster 2 x 1)", size,
                                                 paired(builtin, focal, pairs))
        finally:
            client.close()
            cluster.close()
    for note in notes:
        out(f"\n{note}")
    out(f"\nload average at end: {load()}")
    return results


# --- predict -------------------------------------------------------------------------------------
def _traced(func):
    gc.collect()
    tracemalloc.start()
    try:
        result = func()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak


def run_predict(quick=False, repeats=None, out=print):
    from lightgbm import LGBMClassifier
    from xgboost import XGBClassifier

    from focalboost import FocalLGBMClassifier, FocalXGBClassifier

    n, n_fit, trees = (5_000, 1_000, 5) if quick else (1_000_000, 100_000, 100)
    pairs = repeats or (1 if quick else 3)
    threads = 1 if quick else CORES
    out(f"\n### predict_proba on {n:,} rows x 20, {trees} trees (trained on {n_fit:,} rows), default "
        f"posterior correction vs the built-in classifier, {pairs} interleaved pairs (load average "
        f"at start {load()})\n")
    out("| classifiers | task | built-in s (median) | focal s (median) | pair ratios | median ratio | "
        "extra MB beyond the output: built-in / focal |")
    out("|---|---|---:|---:|---|---:|---|")
    results = {}
    for task in ("binary", "multiclass K=10"):
        X, y = make_binary(n) if task == "binary" else make_multiclass(n, k=10)
        Xf, yf = X[:n_fit], y[:n_fit]
        alpha = _focal_alpha(task)
        xkw = dict(n_estimators=trees, learning_rate=LEARNING_RATE, n_jobs=threads, **XGB_TREE)
        lkw = dict(n_estimators=trees, learning_rate=LEARNING_RATE, n_jobs=threads, **LGB_TREE)
        models = {
            "XGBClassifier vs FocalXGBClassifier": (
                XGBClassifier(**xkw).fit(Xf, yf), FocalXGBClassifier(gamma=GAMMA, alpha=alpha, **xkw).fit(Xf, yf)),
            "LGBMClassifier vs FocalLGBMClassifier": (
                LGBMClassifier(**lkw).fit(Xf, yf), FocalLGBMClassifier(gamma=GAMMA, alpha=alpha, **lkw).fit(Xf, yf)),
        }
        for name, (builtin, focal) in models.items():
            rows = paired(lambda: builtin.predict_proba(X), lambda: focal.predict_proba(X), pairs)
            extra = []
            for model in (builtin, focal):
                proba, peak = _traced(lambda: model.predict_proba(X))
                extra.append((peak - proba.nbytes) / 1e6)
            b, f, r = (np.array(col) for col in zip(*rows))
            out(f"| {name} | {task} | {np.median(b):.3f} | {np.median(f):.3f} | "
                f"{', '.join(f'{v:.3f}' for v in r)} | **{np.median(r):.3f}** | {extra[0]:.1f} / {extra[1]:.1f} |")
            results[(name, task)] = (float(np.median(r)), extra)
    out(f"\nload average at end: {load()}")
    return results


# --- memory and start-up: one fresh process per measurement -------------------------------------
_CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
spec = json.loads(sys.argv[1])
import numpy as np
if spec["part"] == "memory":  # bench_training.make_binary, without importing focalboost
    # generated in float32 and in row blocks, so that making the data never needs more memory
    # than the data (a float64 draw of 5M x 20 peaks at 1.6 GB, above either fit's peak)
    rng = np.random.default_rng(0)
    n = spec["rows"]
    X = rng.standard_normal(size=(n, 20), dtype=np.float32)
    beta = (rng.normal(size=20) / np.sqrt(20)).astype(np.float32)
    y = np.empty(n, dtype=np.float32)
    for i in range(0, n, 500_000):
        b = X[i:i + 500_000]
        logit = 2.0 * b @ beta + 0.5 * np.sin(3.0 * b[:, 0]) * b[:, 1] - 2.0
        y[i:i + 500_000] = rng.random(b.shape[0]) < 1.0 / (1.0 + np.exp(-logit))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open("/proc/self/status") as f:
        data_hwm = next((int(line.split()[1]) for line in f if line.startswith("VmHWM")), 0)
t0 = time.perf_counter()
if spec["lib"] == "xgboost":
    if spec["focal"]:
        from focalboost import FocalXGBClassifier as C
    else:
        from xgboost import XGBClassifier as C
    kw = dict(max_depth=6, tree_method="hist")
else:
    if spec["focal"]:
        from focalboost import FocalLGBMClassifier as C
    else:
        from lightgbm import LGBMClassifier as C
    kw = dict(num_leaves=63, verbose=-1)
    if spec.get("layout"):  # force_col_wise / force_row_wise (see run_memory)
        kw["force_" + spec["layout"].replace("-", "_")] = True
focal = dict(gamma=2.0, alpha=0.25) if spec["focal"] else {{}}
if spec.get("threads"):
    kw["n_jobs"] = spec["threads"]
imported = time.perf_counter() - t0
fit_kw = {{}}
phases = {{}}  # memory: the process's high-water mark (VmHWM, kB) after imports, at round 0
def hwm():
    with open("/proc/self/status") as f:
        return next((int(line.split()[1]) for line in f if line.startswith("VmHWM")), 0)
if spec["part"] == "memory":  # (ru_maxrss also counts the parent's RSS at fork; VmHWM does not)
    phases["data"], phases["imported"] = data_hwm, hwm()
    if spec["lib"] == "xgboost":
        import xgboost as xgb
        class RoundZero(xgb.callback.TrainingCallback):
            def before_training(self, model):
                phases["round_0"] = hwm()
                return model
        kw["callbacks"] = [RoundZero()]
    else:
        def round_zero(env):
            if env.iteration == env.begin_iteration:
                phases["round_0"] = hwm()
        round_zero.before_iteration = True
        fit_kw["callbacks"] = [round_zero]
if spec["part"] == "startup":
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10_000, 20)).astype(np.float32)
    y = (X[:, 0] + rng.normal(size=10_000) > 1).astype(np.float32)
C(n_estimators=spec["trees"], learning_rate=0.1, **kw, **focal).fit(X, y, **fit_kw)
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if spec["part"] == "memory":
    phases["end"] = hwm()
print(json.dumps(dict(seconds=seconds, import_seconds=imported, peak_kb=peak, phases_kb=phases,
                      before_kb=before if spec["part"] == "memory" else 0)))
"""


def _child(spec, env=None):
    code = _CHILD.format(root=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=3600)
    if done.returncode:
        raise RuntimeError(f"benchmark child {spec} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_memory(quick=False, repeats=None, out=print):
    rows, trees = (20_000, 3) if quick else (5_000_000, 20)
    pairs = repeats or 1
    out(f"\n### Peak RSS of a fit, {rows:,} x 20 float32, {trees} trees, each fit in a fresh process, "
        f"{pairs} interleaved pairs (load average at start {load()})\n")
    out("| library | RSS before fit, MB | built-in peak MB | focal peak MB | pair ratios (peak) | "
        "median ratio | focal - built-in, MB |")
    out("|---|---:|---:|---:|---|---:|---:|")
    if "llvmlite" in sys.modules:  # python -m benchmarks runs this part before loading numba
        out("\n**This process has loaded llvmlite**: Linux does not page out code that two processes "
            "map, so the focal children keep ~70 MB of LLVM's code pages resident that a user's own "
            "process releases (`focalboost._kernels.release_llvm_pages`).\n")
    results, phases = {}, {}
    # LightGBM picks its histogram layout by timing both at booster creation (unless forced): the
    # row-wise one holds a row-wise copy of the binned data (~100 MB here), so the built-in fit's
    # own peak was 978 MB in one run and 1,055 MB in the next. Each pair is measured with the
    # same layout forced on both sides, once per layout.
    for lib, layout in (("xgboost", None), ("lightgbm", "col-wise"), ("lightgbm", "row-wise")):
        label = lib if layout is None else f"{lib}, {layout}"
        runs = []
        for i in range(pairs):
            spec = dict(part="memory", lib=lib, rows=rows, trees=trees, layout=layout)
            order = (False, True) if i % 2 == 0 else (True, False)
            got = {focal: _child(dict(spec, focal=focal)) for focal in order}
            runs.append((got[False], got[True]))
        b = np.array([r[0]["peak_kb"] for r in runs]) / 1024
        f = np.array([r[1]["peak_kb"] for r in runs]) / 1024
        before = np.median([r[0]["before_kb"] for r in runs]) / 1024
        ratio = f / b
        out(f"| {label} | {before:.0f} | {np.median(b):.0f} | {np.median(f):.0f} | "
            f"{', '.join(f'{v:.3f}' for v in ratio)} | **{np.median(ratio):.3f}** | {np.median(f - b):.0f} |")
        results[label] = float(np.median(ratio))
        phases[label] = runs
    out("\nWhere the high-water mark (VmHWM, this process's own: ru_maxrss above also counts the "
        "parent's RSS when it forked) rises, MB, median over the pairs: from the data to importing the "
        "classifier's modules; the fit up to the first round (label checks, DMatrix / Dataset, "
        "focalboost's set-up and numba's first kernel load); the rounds.\n")
    out("| library | classifier | data made | + imports | + fit until round 0 | + rounds | peak (VmHWM) |")
    out("|---|---|---:|---:|---:|---:|---:|")
    for lib, runs in phases.items():
        for k, name in ((0, "built-in"), (1, "focal")):
            marks = np.array([[r[k]["phases_kb"].get(m, np.nan) for m in ("data", "imported", "round_0", "end")]
                              for r in runs])
            b, i, z, p = np.median(marks, axis=0) / 1024
            out(f"| {lib} | {name} | {b:.0f} | {i - b:+.0f} | {z - i:+.0f} | {p - z:+.0f} | {p:.0f} |")
    out(f"\nload average at end: {load()}")
    return results


def run_startup(quick=False, repeats=None, out=print):
    pairs = repeats or (1 if quick else 3)
    trees = 10
    out(f"\n### Start-up: a fresh process's first fit (import + fit, 10k x 20, {trees} trees), "
        f"{pairs} interleaved pairs per row (load average at start {load()})\n")
    out("| library | numba cache | threads | built-in s (median) | focal s (median) | import s, built-in / "
        "focal (median) | pair differences s | median difference s |")
    out("|---|---|---|---:|---:|---|---|---:|")
    results = {}
    for lib in ("xgboost", "lightgbm"):
        # threads 1: no OpenMP barriers, whose waits on a busy machine swing a 10-tree fit by
        # seconds; what is left is the start-up work itself (imports, kernel loading, checks)
        for cache, threads in (("warm", None), ("warm", 1), ("cold", None)):
            spec = dict(part="startup", lib=lib, trees=trees, threads=threads)
            if cache == "warm":
                _child(dict(spec, focal=True))  # fills the default cache (the "warm" rows)
            diffs, bs, fs, imports = [], [], [], []
            for i in range(pairs):
                env = None
                tmp = None
                if cache == "cold":
                    tmp = tempfile.TemporaryDirectory(prefix="focalboost-numba-")
                    env = {"NUMBA_CACHE_DIR": tmp.name, "FOCALBOOST_NUMBA_CACHE": "1"}
                order = (False, True) if i % 2 == 0 else (True, False)
                got = {focal: _child(dict(spec, focal=focal), env if focal else None) for focal in order}
                if tmp is not None:
                    tmp.cleanup()
                imports.append((got[False]["import_seconds"], got[True]["import_seconds"]))
                bs.append(got[False]["seconds"])
                fs.append(got[True]["seconds"])
                diffs.append(got[True]["seconds"] - got[False]["seconds"])
            ib, if_ = np.median(imports, axis=0)
            out(f"| {lib} | {cache} | {threads or 'all'} | {np.median(bs):.2f} | {np.median(fs):.2f} | "
                f"{ib:.2f} / {if_:.2f} | {', '.join(f'{v:+.2f}' for v in diffs)} | **{np.median(diffs):+.2f}** |")
            results[(lib, cache) if threads is None else (lib, cache, threads)] = float(np.median(diffs))
    out(f"\nload average at end: {load()}")
    return results
