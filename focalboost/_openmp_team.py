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
kernels then use focalboost's thread pool). :func:`team` makes the kernels of the calling thread
use it for a ``with`` block. The team's threads run :func:`_binary_team_body`, a numba ``cfunc``
that takes chunks of rows from a shared atomic counter (as the thread pool does) and calls the
same kernel, so results are bit for bit those of the thread pool (tested). Only the XGBoost
binary case takes this path (float32 labels, margins and outputs, as the XGBoost hook has them);
it is the one that needed it (the other targets are met with the thread pool).

``FOCALBOOST_OPENMP_TEAM=0`` switches it off.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import struct
import threading

import numpy as np
from llvmlite import ir
from numba import carray, cfunc, types
from numba.extending import intrinsic

_local = threading.local()
_found = {}  # pid -> GOMP_parallel or None


def enabled():
    return os.environ.get("FOCALBOOST_OPENMP_TEAM", "1").strip().lower() not in ("0", "false", "no")


def current():
    """The GOMP_parallel the kernels of this thread use now, or None."""
    return getattr(_local, "parallel", None)


@contextlib.contextmanager
def team(parallel):
    """Kernels called by this thread inside the block run on ``parallel``'s team (None: no-op)."""
    previous = current()
    _local.parallel = parallel
    try:
        yield
    finally:
        _local.parallel = previous


def _needed_libraries(path):
    """The ``DT_NEEDED`` names of a 64-bit little-endian ELF shared library (empty if not one)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return []
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names = []
    for _name, kind, _flags, _addr, offset, size, link, _info, _align, entsize in sections:
        if kind != 6:  # SHT_DYNAMIC
            continue
        strtab = sections[link][4]
        for j in range(size // (entsize or 16)):
            tag, value = struct.unpack_from("<qQ", data, offset + j * 16)
            if tag == 0:  # DT_NULL
                break
            if tag == 1:  # DT_NEEDED
                end = data.index(b"\0", strtab + value)
                names.append(data[strtab + value:end].decode())
    return names


def _gomp_parallel_of(library_path):
    """``GOMP_parallel`` of the GNU OpenMP runtime ``library_path`` links, if already loaded."""
    for name in _needed_libraries(library_path):
        if not name.startswith("libgomp"):
            continue
        lib = ctypes.CDLL(name, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)  # OSError unless loaded
        parallel = lib.GOMP_parallel
        parallel.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
        parallel.restype = None
        return parallel
    return None


def xgboost_team():
    """XGBoost's ``GOMP_parallel`` (cached per process), or None where it cannot be used."""
    pid = os.getpid()
    if pid not in _found:
        parallel = None
        if enabled():
            try:
                from xgboost import core

                parallel = _gomp_parallel_of(core._LIB._name)
            except Exception:  # noqa: BLE001 - any surprise: the thread pool serves instead
                parallel = None
        _found[pid] = parallel
    return _found[pid]


# ---------------------------------------------------------------------------------------------
# The team's work: a cfunc over a block of int64 slots (addresses, sizes, flags)
# ---------------------------------------------------------------------------------------------

_N, _Y, _RAW, _W, _GRAD, _HESS, _NEXT, _CHUNK, _EXACT, _INT_GAMMA, _GAMMA_I, _FLOATS, _BAD = range(13)
_SLOTS = 16


@intrinsic
def _float32_at(typingctx, address):
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], ir.PointerType(ir.FloatType()))

    return types.CPointer(types.float32)(types.int64), codegen


@intrinsic
def _float64_at(typingctx, address):
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], ir.PointerType(ir.DoubleType()))

    return types.CPointer(types.float64)(types.int64), codegen


@intrinsic
def _fetch_add(typingctx, address, value):
    """Atomically add ``value`` to the int64 at ``address``; the value before."""

    def codegen(context, builder, signature, args):
        pointer = builder.inttoptr(args[0], ir.PointerType(ir.IntType(64)))
        return builder.atomic_rmw("add", pointer, args[1], "monotonic")

    return types.int64(types.int64, types.int64), codegen


def _make_binary_team_body():
    from ._kernels import _binary_grad_hess_kernel as kernel

    @cfunc(types.void(types.voidptr), cache=True, error_model="numpy")
    def _binary_team_body(data):
        a = carray(data, (_SLOTS,), np.int64)
        n = a[_N]
        chunk = a[_CHUNK]
        n_chunks = (n + chunk - 1) // chunk
        y = carray(_float32_at(a[_Y]), (n,))
        raw = carray(_float32_at(a[_RAW]), (n,))
        grad = carray(_float32_at(a[_GRAD]), (n,))
        hess = carray(_float32_at(a[_HESS]), (n,))
        f = carray(_float64_at(a[_FLOATS]), (3,))  # gamma, alpha1, alpha0
        exact = a[_EXACT] != 0
        bad_y = 0
        bad_x = 0
        bad_w = 0
        while True:
            i = _fetch_add(a[_NEXT], 1)
            if i >= n_chunks:
                break
            start = i * chunk
            stop = min(n, start + chunk)
            if a[_W] != 0:
                w = carray(_float32_at(a[_W]), (n,))
                if a[_INT_GAMMA] != 0:
                    c = kernel(y, raw, a[_GAMMA_I], f[1], f[2], exact, w, grad, hess, start, stop)
                else:
                    c = kernel(y, raw, f[0], f[1], f[2], exact, w, grad, hess, start, stop)
            elif a[_INT_GAMMA] != 0:
                c = kernel(y, raw, a[_GAMMA_I], f[1], f[2], exact, None, grad, hess, start, stop)
            else:
                c = kernel(y, raw, f[0], f[1], f[2], exact, None, grad, hess, start, stop)
            bad_y += c[0]
            bad_x += c[1]
            bad_w += c[2]
        _fetch_add(a[_BAD], bad_y)
        _fetch_add(a[_BAD] + 8, bad_x)
        _fetch_add(a[_BAD] + 16, bad_w)

    return _binary_team_body


_body = None
_body_lock = threading.Lock()


def _binary_body():
    global _body
    with _body_lock:
        if _body is None:
            _body = _make_binary_team_body()
        return _body


_F32 = np.dtype(np.float32)


def _f32_c(a):
    return isinstance(a, np.ndarray) and a.dtype == _F32 and a.ndim == 1 and a.flags.c_contiguous


def takes_binary(args):
    """Whether the team body takes these binary kernel arguments (float32, C order)."""
    y, raw, gamma, _a1, _a0, _exact, w, grad, hess = args
    return all(_f32_c(v) for v in (y, raw, grad, hess)) and (w is None or _f32_c(w))


def run_binary(parallel, args, n_rows, n_threads, chunk):
    """The binary kernel over all rows on ``parallel``'s team of ``n_threads``; its bad counts."""
    y, raw, gamma, a1, a0, exact, w, grad, hess = args
    body = _binary_body()
    floats = np.array([float(gamma), a1, a0])
    counts = np.zeros(3, np.int64)
    counter = np.zeros(1, np.int64)
    a = np.zeros(_SLOTS, np.int64)
    a[_N], a[_CHUNK] = n_rows, chunk
    a[_Y], a[_RAW], a[_GRAD], a[_HESS] = (v.ctypes.data for v in (y, raw, grad, hess))
    a[_W] = 0 if w is None else w.ctypes.data
    a[_NEXT], a[_FLOATS], a[_BAD] = counter.ctypes.data, floats.ctypes.data, counts.ctypes.data
    a[_EXACT] = int(bool(exact))
    is_int = isinstance(gamma, (int, np.integer))
    a[_INT_GAMMA], a[_GAMMA_I] = int(is_int), int(gamma) if is_int else 0
    # the arrays above stay referenced here until GOMP_parallel returns (all threads done)
    parallel(body.address, a.ctypes.data, n_threads, 0)
    return tuple(int(v) for v in counts)
