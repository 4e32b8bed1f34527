"""End-to-end training time: focal objective vs the library's built-in objective, same trees.

For each library and task the same data set is trained with

* ``builtin``: XGBoost ``binary:logistic`` / ``multi:softprob``, LightGBM ``binary`` / ``multiclass``;
* ``focalboost hook``: ``focalboost.xgboost.objective(loss)`` / ``focalboost.lightgbm.objective(loss)``
  as shipped (gamma = 2, alpha = 0.25 binary; gamma = 2 multiclass), passed to ``xgb.train`` /
  ``lgb.train``: the fused numba kernel, float32 results, labels read without a copy;
* ``focalboost.xgboost.train`` (XGBoost): the same hook through focalboost's own entry point,
  which also reads the margins in place instead of the copy ``xgb.train`` makes every round (the
  path ``FocalXGBClassifier`` takes too);
* ``zero-cost objective (replay)`` (binary): hands back the hook's recorded gradients, so its time
  is the library's own cost of a custom objective (margin copy, gradient handover), the floor any
  Python objective pays; for XGBoost also with the margins read in place.

Same trees: XGBoost ``tree_method=hist, max_depth=6``; LightGBM ``num_leaves=63``; the same
learning rate and number of rounds; all cores. The focal runs start from the loss's best constant
margin (XGBoost ``base_score``, LightGBM ``init_score``). Runs are interleaved (builtin, focal,
builtin, ...) and the median of the repeats is reported, so slow drifts of a shared machine hit all
contenders alike. Memory: tracemalloc (numpy registers its buffers with it) around one objective call
and around one boosting round.
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc

import numpy as np

from focalboost import xgboost as fxgb
from focalboost.losses import BinaryFocalLoss, MulticlassFocalLoss

GAMMA = 2.0
ALPHA = 0.25
LEARNING_RATE = 0.1
CORES = os.cpu_count() or 1
THREADS = CORES  # library threads; --quick uses 1 (tiny data: thread barriers would dominate)


# --- data --------------------------------------------------------------------------------------
def make_binary(n, d=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    beta = rng.normal(size=d) / np.sqrt(d)
    logit = 2.0 * X @ beta + 0.5 * np.sin(3.0 * X[:, 0]) * X[:, 1] - 2.0
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
    return X, y


def make_multiclass(n, k=10, d=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    W = rng.normal(size=(d, k)) / np.sqrt(d)
    logits = 2.0 * X @ W + 0.3 * rng.gumbel(size=(n, k)) + np.linspace(1.0, -1.0, k)
    y = np.argmax(logits, axis=1).astype(np.float32)
    return X, y


# --- minimal native hooks around the kernel --------------------------------------------------
class _Timed:
    """Accumulates the time spent inside the objective."""

    def __init__(self):
        self.seconds = 0.0
        self.calls = 0

    def __deepcopy__(self, memo):  # lgb.train deep-copies its params, objective included
        return self

    def _done(self, t0):
        self.seconds += time.perf_counter() - t0
        self.calls += 1


class RecordingObjective:
    """Wraps a hook and keeps a float32 copy of every round's gradient and hessian."""

    def __init__(self, inner):
        self.inner = inner
        self.rounds = []

    def __deepcopy__(self, memo):
        return self

    def __call__(self, predt, data):
        grad, hess = self.inner(predt, data)
        self.rounds.append((np.array(grad, np.float32), np.array(hess, np.float32)))
        return grad, hess


class ReplayObjective(_Timed):
    """A zero-cost objective: hands back the recorded gradients of round i. It grows the very trees
    the kernel grows (both libraries round gradients to float32), so its time is the library's
    own cost of a custom objective."""

    def __init__(self, rounds):
        super().__init__()
        self.rounds = rounds

    def __call__(self, predt, data):
        t0 = time.perf_counter()
        result = self.rounds[self.calls % len(self.rounds)]
        self._done(t0)
        return result


class TimedAdapter(_Timed):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def __call__(self, predt, data):
        t0 = time.perf_counter()
        result = self.inner(predt, data)
        self._done(t0)
        return result


def _focal_loss(n_classes):
    if n_classes == 2:
        return BinaryFocalLoss(GAMMA, ALPHA)
    return MulticlassFocalLoss(n_classes, GAMMA)


def _hook(lib, n_classes):
    """The shipped objective of ``focalboost.<lib>``, timed."""
    module = __import__(f"focalboost.{lib}", fromlist=["objective"])
    return TimedAdapter(module.objective(_focal_loss(n_classes)))


# --- XGBoost -----------------------------------------------------------------------------------
def _without_openmp_team(train):
    """``train`` with the kernels on focalboost's thread pool, as with FOCALBOOST_OPENMP_TEAM=0."""
    from focalboost import _openmp_team

    def run(num_rounds):
        pid, missing = os.getpid(), object()
        saved = _openmp_team._found.get(pid, missing)
        _openmp_team._found[pid] = None  # what discovery records when switched off
        try:
            return train(num_rounds)
        finally:
            if saved is missing:
                del _openmp_team._found[pid]
            else:
                _openmp_team._found[pid] = saved

    return run


def xgboost_contenders(X, y, n_classes, rounds, replay=False):
    import xgboost as xgb

    dtrain = xgb.DMatrix(X, label=y, nthread=THREADS)
    base = {"tree_method": "hist", "max_depth": 6, "eta": LEARNING_RATE, "nthread": THREADS, "verbosity": 0}
    if n_classes == 2:
        builtin = {**base, "objective": "binary:logistic"}
    else:
        builtin = {**base, "objective": "multi:softprob", "num_class": n_classes}
    init = _focal_loss(n_classes).init_score(y)
    focal = {**base, "disable_default_eval_metric": True}
    if n_classes == 2:
        focal["base_score"] = float(init)
    else:
        focal.update(num_class=n_classes, base_score=[float(v) for v in np.asarray(init)])

    def trainer(params, make_obj, in_place=False):
        def train(num_rounds):
            obj = make_obj() if make_obj else None
            callbacks = [fxgb._InPlaceMargins(obj)] if in_place else None
            t0 = time.perf_counter()
            booster = xgb.train(params, dtrain, num_rounds, obj=obj, callbacks=callbacks)
            return time.perf_counter() - t0, obj, booster

        return train

    def focalboost_train(num_rounds):
        """The public ``focalboost.xgboost.train`` (it also derives ``base_score`` from the labels,
        inside the timed call); its objective is the timed hook, so that its time is shown too."""
        obj = _hook("xgboost", n_classes)
        shipped = fxgb.objective
        fxgb.objective = lambda loss: obj  # what train() builds, wrapped in the timer
        try:
            t0 = time.perf_counter()
            booster = fxgb.train(base, dtrain, num_rounds, loss=obj.inner.loss)
            return time.perf_counter() - t0, obj, booster
        finally:
            fxgb.objective = shipped

    contenders = {
        "builtin": trainer(builtin, None),
        "focalboost hook": trainer(focal, lambda: _hook("xgboost", n_classes)),
        "focalboost.xgboost.train": focalboost_train,
    }
    if n_classes == 2:  # the binary kernel runs on XGBoost's OpenMP team; here without it
        contenders["focalboost hook, own thread pool"] = _without_openmp_team(
            trainer(focal, lambda: _hook("xgboost", n_classes))
        )
    if replay:
        recorder = RecordingObjective(_hook("xgboost", n_classes))
        xgb.train(focal, dtrain, rounds, obj=recorder)
        contenders["zero-cost objective (replay)"] = trainer(focal, lambda: ReplayObjective(recorder.rounds))
        contenders["zero-cost objective (replay), margins in place"] = trainer(
            focal, lambda: ReplayObjective(recorder.rounds), in_place=True
        )

    def round_memory(name):
        if name.startswith("zero-cost"):
            return float("nan")
        params = builtin if name == "builtin" else focal
        obj = None if name == "builtin" else _hook("xgboost", n_classes)
        booster = xgb.Booster(params, [dtrain])
        if name == "focalboost.xgboost.train":
            fxgb._InPlaceMargins(obj).before_training(booster)
        for i in range(2):  # warm: the first round allocates the prediction cache
            booster.update(dtrain, i, obj)
        return _traced_peak(lambda: booster.update(dtrain, 2, obj))

    def call_memory(name):
        if name.startswith("zero-cost"):
            return float("nan")
        obj = _hook("xgboost", n_classes)
        shape = (len(y),) if n_classes == 2 else (len(y), n_classes)
        predt = np.zeros(shape, np.float32)
        obj(predt, dtrain)  # warm (and fill the caches)
        return _traced_peak(lambda: obj(predt, dtrain))

    return contenders, round_memory, call_memory


# --- LightGBM ----------------------------------------------------------------------------------
def lightgbm_contenders(X, y, n_classes, rounds, replay=False):
    import lightgbm as lgb

    base = {
        "num_leaves": 63,
        "learning_rate": LEARNING_RATE,
        "num_threads": THREADS,
        "verbose": -1,
        "force_col_wise": True,  # the same histogram layout in every run (no timing-based choice)
    }
    builtin = {**base, "objective": "binary"} if n_classes == 2 else {**base, "objective": "multiclass", "num_class": n_classes}
    init = _focal_loss(n_classes).init_score(y)
    init_rows = np.full(len(y), float(init)) if n_classes == 2 else np.tile(np.asarray(init, float), (len(y), 1))
    d_builtin = lgb.Dataset(X, y, params=base, free_raw_data=False).construct()
    d_focal = lgb.Dataset(X, y, init_score=init_rows, params=base, free_raw_data=False).construct()
    focal = {**base, "metric": "None"}
    if n_classes > 2:
        focal["num_class"] = n_classes

    def trainer(params, dataset, make_obj):
        def train(num_rounds):
            obj = make_obj() if make_obj else None
            p = dict(params) if obj is None else {**params, "objective": obj}
            t0 = time.perf_counter()
            booster = lgb.train(p, dataset, num_rounds)
            return time.perf_counter() - t0, obj, booster

        return train

    contenders = {
        "builtin": trainer(builtin, d_builtin, None),
        "focalboost hook": trainer(focal, d_focal, lambda: _hook("lightgbm", n_classes)),
    }
    if replay:
        recorder = RecordingObjective(_hook("lightgbm", n_classes))
        lgb.train({**focal, "objective": recorder}, d_focal, rounds)
        contenders["zero-cost objective (replay)"] = trainer(
            focal, d_focal, lambda: ReplayObjective(recorder.rounds)
        )

    def make(name):
        return None if name == "builtin" else _hook("lightgbm", n_classes)

    def round_memory(name):
        if name.startswith("zero-cost"):
            return float("nan")
        obj = make(name)
        # what lgb.train does with a callable objective: "none" in the params, fobj to update()
        params = builtin if obj is None else {**focal, "objective": "none"}
        booster = lgb.Booster(params, d_builtin if obj is None else d_focal)
        for _ in range(2):
            booster.update(fobj=obj)
        return _traced_peak(lambda: booster.update(fobj=obj))

    def call_memory(name):
        if name.startswith("zero-cost"):
            return float("nan")
        obj = make(name)
        preds = np.zeros(len(y)) if n_classes == 2 else np.zeros((len(y), n_classes), order="F")
        obj(preds, d_focal)
        return _traced_peak(lambda: obj(preds, d_focal))

    return contenders, round_memory, call_memory


# --- measurement -------------------------------------------------------------------------------
def _cpu_times():
    """(busy jiffies of the whole machine, jiffies of this process), or None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        with open("/proc/self/stat") as f:
            mine = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle, int(mine[11]) + int(mine[12])  # utime + stime, all threads


def others_cores(before, after, seconds):
    """Cores used by OTHER processes between two _cpu_times() samples (NaN if unknown)."""
    if before is None or after is None or seconds <= 0:
        return float("nan")
    ticks = os.sysconf("SC_CLK_TCK")
    return max(0.0, ((after[0] - before[0]) - (after[1] - before[1])) / ticks / seconds)


def wait_until_idle(max_wait, threshold=0.1, window=2.0):
    """Wait (up to ``max_wait`` seconds) until other processes use under ``threshold`` cores."""
    deadline = time.monotonic() + max_wait
    while True:
        before, t0 = _cpu_times(), time.monotonic()
        time.sleep(window)
        busy = others_cores(before, _cpu_times(), time.monotonic() - t0)
        if not busy > threshold or time.monotonic() > deadline:  # NaN (not Linux): no waiting
            return busy


def _traced_peak(func):
    """Peak bytes traced by tracemalloc above the level before ``func()`` (numpy buffers included)."""
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        func()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


def measure(contenders, rounds, repeats, warmup_rounds=2, wait_idle=0.0):
    """Median times of interleaved runs; also the most CPU other processes took during one."""
    for train in contenders.values():  # warm-up: JIT compilation, caches, thread pools
        train(warmup_rounds)
    times = {name: [] for name in contenders}
    objective = {name: [] for name in contenders}
    others = []
    leaves = {}
    for _ in range(repeats):
        for name, train in contenders.items():
            gc.collect()
            if wait_idle:
                wait_until_idle(wait_idle)
            before = _cpu_times()
            seconds, obj, booster = train(rounds)
            others.append(others_cores(before, _cpu_times(), seconds))
            times[name].append(seconds)
            if obj is not None and getattr(obj, "calls", 0):
                objective[name].append(obj.seconds / obj.calls)
            leaves[name] = mean_leaves(booster)
            del booster
    others = [v for v in others if v == v]
    results = {
        name: {
            "median_s": float(np.median(times[name])),
            "runs_s": times[name],
            "objective_ms_per_round": float(np.median(objective[name])) * 1e3 if objective[name] else None,
            "leaves_per_tree": leaves[name],
        }
        for name in contenders
    }
    return results, (max(others) if others else float("nan"))


def mean_leaves(booster):
    """Mean number of leaves per tree: the contenders must grow trees of the same size."""
    if hasattr(booster, "get_dump"):  # XGBoost
        tree_json = booster.get_dump(dump_format="json")
        return float(np.mean([dump.count('"leaf"') for dump in tree_json]))
    info = booster.dump_model()["tree_info"]  # LightGBM
    return float(np.mean([tree["num_leaves"] for tree in info]))


TARGETS = {("xgboost", "binary"): 1.10, ("lightgbm", "binary"): 1.15,
           ("xgboost", "multiclass"): 1.25, ("lightgbm", "multiclass"): 1.25}


def run(quick=False, repeats=None, rounds=None, libs=("xgboost", "lightgbm"),
        tasks=("binary", "multiclass"), memory=True, replay=True, wait_idle=0.0,
        out=print):
    global THREADS
    if quick:
        n_bin, n_mc, rounds, repeats = 2_000, 1_000, rounds or 3, repeats or 1
        THREADS = 1
    else:
        n_bin, n_mc, rounds, repeats = 1_000_000, 200_000, rounds or 100, repeats or 3
    results = {}
    for task in tasks:
        k = 2 if task == "binary" else 10
        X, y = make_binary(n_bin) if task == "binary" else make_multiclass(n_mc, k)
        for lib in libs:
            build = xgboost_contenders if lib == "xgboost" else lightgbm_contenders
            load0 = os.getloadavg()[0]
            # the replay row (float32 copies of every round's gradients) only for binary: memory
            contenders, round_memory, call_memory = build(X, y, k, rounds, replay and k == 2)
            res, others = measure(contenders, rounds, repeats, wait_idle=wait_idle)
            load1 = os.getloadavg()[0]
            base = res["builtin"]["median_s"]
            mem = {}
            if memory:
                for name in contenders:
                    mem[name] = {
                        "round_MB": round_memory(name) / 1e6,
                        "call_MB": None if name == "builtin" else call_memory(name) / 1e6,
                    }
            results[(lib, task)] = {"results": res, "memory": mem}
            shape = f"{len(y):,} rows x {X.shape[1]}" + ("" if k == 2 else f", {k} classes")
            out(
                f"\n### Training: {lib} {task}, {shape}, {rounds} rounds, {THREADS} threads "
                f"(median of {repeats}; load average {load0:.1f} -> {load1:.1f}; other processes "
                f"took at most {others:.2f} cores during a timed run)\n"
            )
            out(format_table(res, base, mem, len(y) * (1 if k == 2 else k), TARGETS[(lib, task)]))
    return results


def _mb(value):
    return "-" if value is None or value != value else f"{value:.1f}"  # None or NaN: not measured


def format_table(res, base, mem, n_margins, target):
    lines = [
        "| objective | train s (median) | runs | ratio vs builtin | target | objective ms/round "
        "| leaves/tree | peak MB per round | peak MB per objective call (float32 grad+hess = "
        f"{8 * n_margins / 1e6:.1f}) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in res.items():
        ratio = r["median_s"] / base
        ok = "" if name == "builtin" else ("met" if ratio <= target else "NOT met")
        m = mem.get(name, {})
        round_mb, call_mb = _mb(m.get("round_MB")), _mb(m.get("call_MB"))
        obj_ms = f"{r['objective_ms_per_round']:.2f}" if r["objective_ms_per_round"] is not None else "-"
        runs = ", ".join(f"{s:.2f}" for s in r["runs_s"])
        lines.append(
            f"| {name} | {r['median_s']:.2f} | {runs} | {ratio:.3f} | "
            f"{'' if name == 'builtin' else f'<= {target:.2f} ({ok})'} | {obj_ms} | "
            f"{r['leaves_per_tree']:.1f} | {round_mb} | {call_mb} |"
        )
    return "\n".join(lines)
