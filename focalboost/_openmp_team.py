"""Run the binary kernel on the OpenMP team of the library that calls the objective (XGBoost).

Why. Inside ``xgb.train`` a custom objective runs between two of XGBoost's OpenMP parallel regions.
After each region, XGBoost's worker threads (GNU OpenMP) keep spinning on their cores for a while
before they sleep, and focalboost's own threads then compete with them for the same cores.
Measured on 2 cores (benchmarks/RESULTS.md, run D, 1M rows): with focalboost's thread pool the
binary kernel took 3.8 ms per round inside ``xgb.train`` (2.0-2.2 ms alone), and a round took
2.6 ms longer than with the kernel on XGBoost's team, where the kernel took 2.4 ms: 100 rounds
went from 1.175x to 1.107x the built-in ``binary:logistic``. Run through ``GOMP_parallel`` of
XGBoost's own OpenMP runtime, the kernel's work is done by those very threads.

How. :func:`xgboost_team` finds the GNU OpenMP runtime XGBoost's library is linked against (its
``DT_NEEDED`` entry, opened with ``RTLD_NOLOAD``: only the copy already loaded) and returns its
``GOMP_parallel``, or None (another OpenMP runtime, another platform, anything unexpected: the
kernels then run in the calling thread, see :func:`inside_xgboost`). :func:`team` makes the kernels of the calling thread
use it for a ``with`` block. The team's threads run a numba ``cfunc`` (``_binary_team_body`` in
:mod:`focalboost._kernels`, next to the kernel it calls, so that the disk cache of the compiled
code is renewed whenever the kernel's source changes) that takes chunks of rows from a shared
atomic counter (as the thread pool does) and calls the same kernel, so results are bit for bit
those of the thread pool (tested). Only the XGBoost binary case takes this path (float32 labels,
margins and outputs, as the XGBoost hook has them); it is the one that needed it (the other
targets are met with the thread pool).

**Opt-in**: ``FOCALBOOST_OPENMP_TEAM=1`` switches it on (read at every hook call);
``FOCALBOOST_FAST_PATHS=0`` keeps it off whatever that says (:mod:`focalboost._compat`, where
libxgboost's path is found: a private XGBoost attribute). Why not on by default (decided
2026-12-02, benchmarks/RESULTS.md): since the labels, weights and margins are read in place, the
estimators meet their target without it: ``FocalXGBClassifier.fit`` took 1.047-1.096x
``XGBClassifier.fit`` with the thread pool, 1.013-1.059x with the team (1M x 20, 100 trees,
three interleaved runs), and the team calls GNU OpenMP's ABI (``GOMP_parallel``) behind
XGBoost's back, a private contract that fork, threads and other OpenMP runtimes could break. It
was tested under all three (tests/test_openmp_team.py) and fixed for fork (it may start no
thread XGBoost would not: see :class:`_Team`). Without it the kernels called from XGBoost's
objective run in the calling thread alone, not in focalboost's thread pool (since 2026-12-02,
:func:`inside_xgboost`): that removed most of what the team gained.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import struct
import sys
import threading

from . import _compat
from ._compat import logger

_local = threading.local()
_found = {}  # pid -> GOMP_parallel or None


def enabled():
    """Whether the team may be used: ``FOCALBOOST_OPENMP_TEAM=1`` (opt-in) and the fast paths on
    (``FOCALBOOST_FAST_PATHS``, :mod:`focalboost._compat`)."""
    if not _compat.fast_paths_enabled():
        return False
    return os.environ.get("FOCALBOOST_OPENMP_TEAM", "0").strip().lower() in ("1", "true", "yes", "on")


#: ``team(CALLING_THREAD)``: the kernels of the block run in the calling thread alone, without
#: focalboost's thread pool (inside XGBoost's objective when the team is not used; see
#: :func:`inside_xgboost`)
CALLING_THREAD = "calling thread"


def current():
    """The GOMP_parallel the kernels of this thread use now, ``CALLING_THREAD``, or None."""
    return getattr(_local, "parallel", None)


def inside_xgboost(forked=False):
    """Where the kernels called from XGBoost's objective run: XGBoost's OpenMP team when it is
    switched on (``FOCALBOOST_OPENMP_TEAM=1``) and usable, else the calling thread alone.

    Why not focalboost's thread pool there: the objective runs between two of XGBoost's OpenMP
    parallel regions, whose worker threads keep spinning on the other cores for a while after
    each region; the pool's threads then compete with them, while the calling thread has its
    core to itself. Measured (benchmarks/RESULTS.md, 2026-12-02, 2 cores, interleaved pairs,
    ratio of ``FocalXGBClassifier.fit`` to ``XGBClassifier.fit``): with the pool, binary 1M rows
    1.048x, K = 10 200k rows 1.078x, multi-label 1.093-1.099x; with ``NUMBA_NUM_THREADS=1`` (the
    kernels in the calling thread everywhere) 1.024x, 0.997x, 1.039x; with this function
    1.063x, 1.059x, 1.059x (binary and K = 10 within the noise of those runs, multi-label
    clearly better). ``forked``: a child forked after OpenMP threads ran (the team's threads do
    not exist there) gets the calling thread."""
    parallel = None if forked else xgboost_team()
    return CALLING_THREAD if parallel is None else parallel


@contextlib.contextmanager
def team(parallel):
    """Kernels called by this thread inside the block run on ``parallel``'s team, or in the
    calling thread alone for ``CALLING_THREAD`` (None: no-op)."""
    previous = current()
    _local.parallel = parallel
    try:
        yield
    finally:
        _local.parallel = previous


_PT_LOAD, _PT_DYNAMIC = 1, 2
_DT_NULL, _DT_NEEDED, _DT_STRTAB = 0, 1, 5


def _needed_libraries(path):
    """The ``DT_NEEDED`` names of a 64-bit little-endian ELF shared library (empty if not one).

    Reads only what the dynamic loader reads: the ELF header, the program headers, the dynamic
    segment and the few names (a few KiB; libxgboost is 225 MiB and was once read whole, into
    every process that trained).
    """
    with open(path, "rb", buffering=0) as f:

        def read(offset, size):
            f.seek(offset)
            data = f.read(size)
            if len(data) != size:
                raise ValueError("truncated ELF file")
            return data

        header = f.read(64)
        if len(header) < 64 or header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
            return []
        phoff, = struct.unpack_from("<Q", header, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", header, 0x36)
        table = read(phoff, phentsize * phnum)
        # (p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align)
        segments = [struct.unpack_from("<IIQQQQQQ", table, i * phentsize) for i in range(phnum)]
        dynamic = [s for s in segments if s[0] == _PT_DYNAMIC]
        if not dynamic:
            return []
        raw = read(dynamic[0][2], dynamic[0][5])
        needed, strtab = [], None
        for j in range(len(raw) // 16):
            tag, value = struct.unpack_from("<qQ", raw, j * 16)
            if tag == _DT_NULL:
                break
            if tag == _DT_NEEDED:
                needed.append(value)
            elif tag == _DT_STRTAB:
                strtab = value
        # DT_STRTAB is a virtual address: its file offset through the PT_LOAD segment holding it
        load = [s for s in segments if s[0] == _PT_LOAD and s[3] <= (strtab or 0) < s[3] + s[5]]
        if strtab is None or not load:
            return []
        base = strtab - load[0][3] + load[0][2]
        names = []
        for value in needed:
            f.seek(base + value)
            name = f.read(256).split(b"\0", 1)[0]
            names.append(name.decode())
        return names


class _Team:
    """``GOMP_parallel(fn, data, num_threads, flags)`` of XGBoost's OpenMP runtime, never asking for
    more threads than that runtime gives a parallel region of the calling thread by default
    (``omp_get_max_threads()``: ``OMP_NUM_THREADS``, else the cores).

    Why the cap: the kernels ask for numba's thread count (all cores). Under ``OMP_NUM_THREADS=1``
    XGBoost never starts a worker thread of its runtime, but the team did, and GNU OpenMP's
    workers do not survive ``fork``: a child process of a parent that had trained then hung in its
    first focal round, where XGBoost alone trains fine (benchmarks/RESULTS.md, 2026-12-02).
    """

    def __init__(self, parallel, max_threads):
        self._parallel = parallel
        self._max_threads = max_threads

    def __call__(self, fn, data, num_threads, flags):
        self._parallel(fn, data, max(1, min(int(num_threads), self._max_threads())), flags)

    def __repr__(self):
        return f"<XGBoost's OpenMP team: {self._parallel!r}>"


def _gomp_parallel_of(library_path):
    """``GOMP_parallel`` of the GNU OpenMP runtime ``library_path`` links, if already loaded
    (a :class:`_Team`)."""
    for name in _needed_libraries(library_path):
        if not name.startswith("libgomp"):
            continue
        lib = ctypes.CDLL(name, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)  # OSError unless loaded
        parallel = lib.GOMP_parallel
        parallel.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
        parallel.restype = None
        max_threads = lib.omp_get_max_threads
        max_threads.argtypes, max_threads.restype = [], ctypes.c_int
        return _Team(parallel, max_threads)
    return None


def _discover():
    from ._compat.xgboost import library_path  # imports xgboost: only when the team is asked for

    path = library_path()  # None: fast paths off, or its check failed (logged)
    if path is None:
        return None
    try:
        parallel = _gomp_parallel_of(path)
        problem = None if parallel is not None else "XGBoost's library links no GNU OpenMP runtime"
    except Exception as error:  # noqa: BLE001 - any surprise: the thread pool serves instead
        parallel, problem = None, f"{type(error).__name__}: {error}"
    if problem is not None:
        # expected off Linux (XGBoost's wheels link another OpenMP runtime there): debug only
        log = logger.warning if sys.platform.startswith("linux") else logger.debug
        log(
            "focalboost fast path 'openmp_team' is not available (%s); the binary kernel runs on "
            "focalboost's thread pool instead: the same results, slower inside xgb.train", problem,
        )
    return parallel


def xgboost_team():
    """XGBoost's ``GOMP_parallel`` (discovered once per process), or None where it is not used."""
    if not enabled():
        return None
    pid = os.getpid()
    if pid not in _found:
        _found[pid] = _discover()
    return _found[pid]
