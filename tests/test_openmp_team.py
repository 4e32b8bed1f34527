"""The binary kernel on XGBoost's own OpenMP team (focalboost._openmp_team): found where it should
be, bit for bit the thread pool's results, errors intact, and used by the XGBoost hooks."""

import ctypes
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import xgboost as xgb

from focalboost import BinaryFocalLoss, FocalXGBClassifier
from focalboost import _kernels, _openmp_team
from focalboost._compat.xgboost import library_path
from focalboost import xgboost as fxgb

N = 150_000  # enough rows for two threads (MIN_MARGINS_PER_THREAD = 50,000 per thread)


def _runtime():
    """XGBoost's GNU OpenMP runtime: the library the team's GOMP_parallel belongs to."""
    name = next(n for n in _openmp_team._needed_libraries(library_path()) if n.startswith("libgomp"))
    return ctypes.CDLL(name, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)


@pytest.fixture(scope="module", autouse=True)
def team_on_two_threads():
    """This module tests the team, so it is switched on (FOCALBOOST_OPENMP_TEAM=1) unless the fast
    paths are off; and the parallel regions of the main thread get two threads (conftest sets
    OMP_NUM_THREADS=1, which caps the team at one thread)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FOCALBOOST_OPENMP_TEAM", "1")
        if not _openmp_team.enabled() or _openmp_team.xgboost_team() is None:
            yield
            return
        lib = _runtime()
        before = lib.omp_get_max_threads()
        lib.omp_set_num_threads(2)
        try:
            yield
        finally:
            lib.omp_set_num_threads(before)


@pytest.fixture(scope="module")
def parallel(team_on_two_threads):
    if not _openmp_team.enabled():
        pytest.skip("the OpenMP team is switched off (FOCALBOOST_FAST_PATHS=0)")
    found = _openmp_team.xgboost_team()
    if sys.platform.startswith("linux"):
        # the pip wheels of XGBoost link GNU OpenMP on Linux: the path must be live here
        assert found is not None
    if found is None:
        pytest.fail("no GNU OpenMP runtime found next to XGBoost on this platform")
    return found


def _data(seed=0, n=N):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 4.0, n).astype(np.float32)
    x[:4] = [-1e4, 1e4, -30.0, 0.0]
    y = (rng.random(n) < 0.2).astype(np.float32)
    w = rng.uniform(0.0, 3.0, n).astype(np.float32)
    return y, x, w


def _buffers(n=N):
    return np.empty(n, np.float32), np.empty(n, np.float32)


@pytest.mark.parametrize("gamma", [0, 2, 2.5])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("exact", [False, True])
def test_team_results_equal_the_thread_pool_bit_for_bit(parallel, monkeypatch, gamma, weighted, exact):
    y, x, w = _data()
    w = w if weighted else None
    pool = _kernels.binary_gradient_hessian(y, x, gamma, 0.25, exact, w, _buffers())
    calls = []
    run = _kernels.run_binary_on_team
    monkeypatch.setattr(_kernels, "run_binary_on_team", lambda *a: calls.append(1) or run(*a))
    with _openmp_team.team(parallel):
        team = _kernels.binary_gradient_hessian(y, x, gamma, 0.25, exact, w, _buffers())
    assert calls == [1]  # the team ran it
    for a, b in zip(team, pool):
        np.testing.assert_array_equal(a, b)


def test_inputs_the_team_does_not_take_use_the_thread_pool(parallel):
    y, x, w = _data()
    ref = _kernels.binary_gradient_hessian(y, x, 2, 0.25)  # float64 outputs
    with _openmp_team.team(parallel):
        assert not _kernels.team_takes_binary((y, x, 0.0, 2, 0.25, 0.75, False, None, *ref))
        again = _kernels.binary_gradient_hessian(y, x, 2, 0.25)
        strided = _kernels.binary_gradient_hessian(y[::2], x[::2], 2, 0.25, False, None, _buffers(N // 2))
        # an offset (FocalLGBMClassifier's init score; never on XGBoost's team): the pool runs it
        assert not _kernels.team_takes_binary((y, x, 0.5, 2, 0.25, 0.75, False, None, *_buffers()))
        shifted = _kernels.binary_gradient_hessian(y, x, 2, 0.25, False, None, _buffers(), offset=0.5)
    for a, b in zip(again, ref):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(strided[0], ref[0][::2].astype(np.float32))
    expected = _kernels.binary_gradient_hessian(y, x.astype(np.float64) + 0.5, 2, 0.25)
    for a, b in zip(shifted, expected):
        np.testing.assert_array_equal(a, b.astype(np.float32))


def test_team_reports_invalid_input_like_the_thread_pool(parallel):
    y, x, w = _data()
    y[N - 1] = 2.0
    with _openmp_team.team(parallel), pytest.raises(ValueError, match=r"1 invalid label\(s\), e.g. \[2.0\]"):
        _kernels.binary_gradient_hessian(y, x, 2, 0.25, False, None, _buffers())
    y, x, w = _data()
    x[77_000] = np.nan
    w[100] = -1.0
    with _openmp_team.team(parallel), pytest.raises(ValueError, match="NaN or infinite margins"):
        _kernels.binary_gradient_hessian(y, x, 2, 0.25, False, w, _buffers())
    x[77_000] = 0.0
    with _openmp_team.team(parallel), pytest.raises(ValueError, match=r"e.g. \[-1.0\]"):
        _kernels.binary_gradient_hessian(y, x, 2, 0.25, False, w, _buffers())


_XGBOOST_TEAM = _openmp_team.xgboost_team
_RUN_BINARY = _kernels.run_binary_on_team


def _train(monkeypatch, use_team, make_model):
    calls = []
    monkeypatch.setattr(_kernels, "run_binary_on_team", lambda *a: calls.append(1) or _RUN_BINARY(*a))
    monkeypatch.setattr(_openmp_team, "xgboost_team", lambda: _XGBOOST_TEAM() if use_team else None)
    return make_model(), len(calls)


@pytest.mark.parametrize("api", ["native", "sklearn"])
def test_xgboost_hooks_train_on_the_team_and_grow_the_same_trees(parallel, monkeypatch, api):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(N, 4))
    y = (X[:, 0] + rng.normal(size=N) > 1.5).astype(np.float64)
    w = rng.uniform(0.5, 2.0, N)
    loss = BinaryFocalLoss(2.0, 0.25)

    def native():
        d = xgb.DMatrix(X, y, weight=w)
        params = {"max_depth": 3, "eta": 0.3, "nthread": 2, **fxgb.training_params(loss, y, w)}
        return xgb.train(params, d, 5, obj=fxgb.objective(loss)).predict(d, output_margin=True)

    def sklearn():
        clf = FocalXGBClassifier(gamma=2.0, alpha=0.25, n_estimators=5, max_depth=3, n_jobs=2)
        return clf.fit(X, y, sample_weight=w).predict_proba(X)

    make = native if api == "native" else sklearn
    with_team, team_calls = _train(monkeypatch, True, make)
    without, pool_calls = _train(monkeypatch, False, make)
    assert team_calls == 5 and pool_calls == 0
    np.testing.assert_array_equal(with_team, without)


@pytest.mark.parametrize("api", ["native", "sklearn", "multiclass"])
def test_without_the_team_xgboost_hooks_run_the_kernels_in_the_calling_thread(monkeypatch, api):
    """Team off (the default): inside XGBoost's objective the kernels do not use focalboost's
    thread pool (whose threads compete with XGBoost's spinning OpenMP workers) but run in the
    calling thread, with the pool's results bit for bit; outside XGBoost the pool is used."""
    from focalboost import MulticlassFocalLoss

    monkeypatch.setenv("FOCALBOOST_OPENMP_TEAM", "0")
    monkeypatch.setattr(_openmp_team, "_found", {})
    monkeypatch.setattr(_kernels, "n_threads", lambda n: 2)  # as on 2+ cores whatever numba says
    from focalboost.sklearn._core import FocalObjective

    pooled, inside = [], []  # pool uses; the hook calls running now
    real_pool = _kernels._thread_pool
    monkeypatch.setattr(_kernels, "_thread_pool", lambda: pooled.append(bool(inside)) or real_pool())
    for hook in (fxgb.XGBoostObjective, FocalObjective):
        def call(self, *args, _real=hook.__call__):
            inside.append(1)
            try:
                return _real(self, *args)
            finally:
                inside.pop()
        monkeypatch.setattr(hook, "__call__", call)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(N, 4))
    K = 3 if api == "multiclass" else 2
    y = np.digitize(X[:, 0] + rng.normal(size=N), [0.8, 1.5][: K - 1]).astype(np.float64)
    loss = MulticlassFocalLoss(K, 2.0) if K > 2 else BinaryFocalLoss(2.0, 0.25)
    raw = rng.normal(size=(N, K) if K > 2 else N).astype(np.float32)
    pool_result = loss.fast_gradient_hessian(y, raw)  # outside XGBoost: the thread pool
    assert pooled == [False]
    pooled.clear()
    if api == "sklearn":
        FocalXGBClassifier(gamma=2.0, alpha=0.25, n_estimators=3, max_depth=2, n_jobs=2).fit(X, y)
    else:
        d = xgb.DMatrix(X, y)
        params = {"max_depth": 2, "nthread": 2, **fxgb.training_params(loss, y)}
        fxgb.train(params, d, 3, loss=loss)
        grad, hess = fxgb.objective(loss)(raw.reshape(-1), d)
        for ours, pool in zip((grad, hess), pool_result):
            np.testing.assert_array_equal(ours.reshape(pool.shape), pool.astype(np.float32))
    assert True not in pooled  # set-up checks outside the rounds may use the pool


def test_discovery_gives_none_for_a_library_without_gnu_openmp(parallel, tmp_path):
    not_elf = tmp_path / "lib.so"
    not_elf.write_bytes(b"not an ELF file")
    assert _openmp_team._needed_libraries(str(not_elf)) == []
    assert _openmp_team._gomp_parallel_of(str(not_elf)) is None
    needed = _openmp_team._needed_libraries(library_path())
    assert any(name.startswith("libgomp") for name in needed)  # what discovery relies on


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("FOCALBOOST_OPENMP_TEAM", "0")
    monkeypatch.setattr(_openmp_team, "_found", {})
    assert _openmp_team.xgboost_team() is None


_CACHE_CODE = """
from focalboost import _kernels
print(_kernels._binary_team_body().cache_hits)
"""


@pytest.mark.slow  # fresh interpreters
def test_the_team_body_is_compiled_once_then_loaded_from_the_disk_cache(tmp_path):
    """A second process loads the compiled team body and adds nothing to the cache (it once added
    an entry per process: numba keyed the cache on a closure holding a dispatcher)."""
    import subprocess

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), FOCALBOOST_NUMBA_CACHE="1")
    hits = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", _CACHE_CODE], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        hits.append(int(done.stdout))
    assert hits == [0, 1]
    entries = [p.name for p in tmp_path.rglob("*_binary_team_body*.nbc")]
    assert len(entries) == 1, entries


def _read_bytes():
    """Bytes this process has read through read(2) so far (Linux /proc/self/io, 'rchar')."""
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("rchar:")).split()[1])


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="needs Linux /proc/self/io")
def test_discovery_reads_the_elf_headers_not_the_whole_library(parallel):
    """libxgboost is 225 MiB: discovery once read all of it into every process that trained."""
    path = library_path()
    assert os.path.getsize(path) > 10 * 2**20
    before = _read_bytes()
    needed = _openmp_team._needed_libraries(path)
    read = _read_bytes() - before
    assert any(name.startswith("libgomp") for name in needed)
    assert read < 256 * 2**10, f"read {read:,} bytes of a {os.path.getsize(path):,}-byte library"


def _needed_from_section_headers(path):
    """A second reading of DT_NEEDED, through the section headers (the whole file in memory)."""
    import struct

    data = open(path, "rb").read()
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names = []
    for _n, kind, _f, _a, offset, size, link, _i, _al, _e in sections:
        if kind == 6:  # SHT_DYNAMIC
            strtab = sections[link][4]
            for j in range(size // 16):
                tag, value = struct.unpack_from("<qQ", data, offset + j * 16)
                if tag == 0:
                    break
                if tag == 1:
                    names.append(data[strtab + value:data.index(b"\0", strtab + value)].decode())
    return names


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF shared libraries")
def test_needed_libraries_agree_with_the_section_headers():
    import lightgbm
    import numba.np.ufunc.omppool as omppool

    paths = [os.path.join(os.path.dirname(lightgbm.__file__), "lib", "lib_lightgbm.so"), omppool.__file__]
    for path in paths:
        expected = _needed_from_section_headers(path)
        assert expected and _openmp_team._needed_libraries(path) == expected


# --- the team under fork, threads and other OpenMP runtimes --------------------------------------
def test_the_team_never_asks_for_more_threads_than_xgboosts_runtime_gives(parallel, monkeypatch):
    """The kernels ask for numba's thread count; the team caps it at the runtime's
    omp_get_max_threads() (OMP_NUM_THREADS), so it starts no OpenMP thread XGBoost would not."""
    if _kernels.n_threads(N) < 2:
        pytest.skip("one numba thread: the kernels never ask for a team")
    asked = []
    real = parallel._parallel
    monkeypatch.setattr(parallel, "_parallel", lambda fn, data, n, flags: asked.append(n) or real(fn, data, n, flags))
    y, x, w = _data()
    pool = _kernels.binary_gradient_hessian(y, x, 2, 0.25, False, w, _buffers())
    lib = _runtime()
    try:
        for icv in (1, 2):
            lib.omp_set_num_threads(icv)
            with _openmp_team.team(parallel):
                team = _kernels.binary_gradient_hessian(y, x, 2, 0.25, False, w, _buffers())
            for a, b in zip(team, pool):
                np.testing.assert_array_equal(a, b)
    finally:
        lib.omp_set_num_threads(2)
    assert asked == [1, 2]


_FORK = r"""
import hashlib, multiprocessing, sys
import numpy as np
from focalboost import FocalXGBClassifier, _kernels

rng = np.random.default_rng(0)
X = rng.normal(size=(150_000, 4)).astype(np.float32)
y = (X[:, 0] + rng.normal(size=len(X)) > 1.0).astype(int)
calls = []
run = _kernels.run_binary_on_team
_kernels.run_binary_on_team = lambda *a: calls.append(1) or run(*a)

def fit():
    model = FocalXGBClassifier(n_estimators=3, max_depth=3, n_jobs=2).fit(X, y)
    return hashlib.sha256(model.get_booster().save_raw()).hexdigest()

def child(queue):
    queue.put((fit(), len(calls)))

parent = fit()
assert len(calls) == 3, calls  # the parent's rounds ran on the team
context = multiprocessing.get_context("fork")
queue = context.Queue()
process = context.Process(target=child, args=(queue,))
process.start()
process.join(300)  # a hang guard: the child takes a second
if process.is_alive():
    process.kill()
    sys.exit("the forked child hung")
model, child_calls = queue.get()
assert process.exitcode == 0 and model == parent and child_calls == 6, (process.exitcode, child_calls)
print("ok")
"""


@pytest.mark.slow  # fresh interpreters
def test_a_forked_child_trains_after_the_parent_trained_on_the_team(parallel):
    """Under OMP_NUM_THREADS=1 XGBoost starts no OpenMP thread and survives fork (GNU OpenMP's
    threads do not); the team once started one anyway (numba's thread count), and the child's
    first focal round hung. (Without OMP_NUM_THREADS=1 XGBoost itself hangs in such a child.)"""
    env = dict(os.environ, OMP_NUM_THREADS="1", FOCALBOOST_OPENMP_TEAM="1")
    done = subprocess.run([sys.executable, "-c", _FORK], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_threads_fitting_at_once_grow_the_models_of_sequential_fits(parallel, monkeypatch):
    calls = []
    monkeypatch.setattr(_kernels, "run_binary_on_team", lambda *a: calls.append(1) or _RUN_BINARY(*a))
    rng = np.random.default_rng(5)
    data = []
    for _ in range(3):
        X = rng.normal(size=(N, 4)).astype(np.float32)
        data.append((X, (X[:, 1] + rng.normal(size=N) > 1.0).astype(int)))

    def fit(X, y):
        model = FocalXGBClassifier(n_estimators=4, max_depth=3, n_jobs=2).fit(X, y)
        return model.get_booster().save_raw()

    sequential = [fit(X, y) for X, y in data]
    assert len(calls) == 12
    lib = _runtime()
    results, errors = [None] * len(data), []

    def work(i):
        lib.omp_set_num_threads(2)  # per thread: new threads start from OMP_NUM_THREADS=1
        try:
            results[i] = fit(*data[i])
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(data))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)  # a hang guard
    assert not errors and not any(t.is_alive() for t in threads), errors
    assert len(calls) == 24  # the concurrent rounds ran on the team too
    assert results == sequential


_FOREIGN = r"""
import ctypes, hashlib, os, sys
if sys.argv[1] == "llvm":  # LLVM's OpenMP runtime first, in the global namespace: it exports
    llvm = ctypes.CDLL("libomp.so.5", mode=os.RTLD_GLOBAL)  # GOMP_* too (and may take XGBoost's calls)
    llvm.omp_set_num_threads(2)
import numba
import numpy as np

rng = np.random.default_rng(0)
X = rng.normal(size=(150_000, 4)).astype(np.float32)
y = (X[:, 0] + rng.normal(size=len(X)) > 1.0).astype(int)

@numba.njit(parallel=True)
def total(x):
    s = 0.0
    for i in numba.prange(x.shape[0]):
        s += x[i]
    return s

def others():
    # other OpenMP runtimes at work in this process: LightGBM's and numba's (the system
    # libgomp.so.1), scikit-learn's (a vendored libgomp, sharing the soname of XGBoost's)
    import lightgbm
    from sklearn.ensemble import HistGradientBoostingClassifier
    lightgbm.train({"objective": "binary", "num_threads": 2, "verbose": -1},
                   lightgbm.Dataset(X[:20_000], y[:20_000]), 3)
    HistGradientBoostingClassifier(max_iter=3).fit(X[:20_000], y[:20_000])
    total(X[:, 0].copy())

others()
from focalboost import FocalXGBClassifier, _kernels, _openmp_team
calls = []
run = _kernels.run_binary_on_team
_kernels.run_binary_on_team = lambda *a: calls.append(1) or run(*a)

def fit():
    model = FocalXGBClassifier(n_estimators=3, max_depth=3, n_jobs=2).fit(X, y)
    return hashlib.sha256(model.get_booster().save_raw()).hexdigest()

team = fit()
others()
again = fit()
os.environ["FOCALBOOST_OPENMP_TEAM"] = "0"
pool = fit()
runtimes = {line.split()[-1] for line in open("/proc/self/maps") if "libgomp" in line}
print(numba.threading_layer(), len(runtimes), len(calls), team == again == pool)
"""


def _llvm_openmp():
    try:
        ctypes.CDLL("libomp.so.5")  # Debian's libomp5 package, if installed
    except OSError:
        return False
    return True


@pytest.mark.slow  # fresh interpreters
@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="Linux")
@pytest.mark.parametrize("first", ["gnu", "llvm"])
def test_the_team_works_next_to_other_openmp_runtimes(parallel, first):
    if first == "llvm" and not _llvm_openmp():
        pytest.skip("LLVM's OpenMP runtime (libomp.so.5) is not installed")
    env = dict(os.environ, OMP_NUM_THREADS="2", FOCALBOOST_OPENMP_TEAM="1")
    done = subprocess.run([sys.executable, "-c", _FOREIGN, first], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    layer, runtimes, calls, same = done.stdout.split()
    assert int(runtimes) >= 2  # two GNU OpenMP runtimes loaded at once
    assert int(calls) == 6 and same == "True"
