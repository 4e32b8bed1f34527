"""``focalboost compare``: the command line (argument parsing, messages, exit codes) and
:func:`main`, the entry point of the ``focalboost`` console script.

Parsing an argument, printing ``--help`` or an argument error imports neither a boosting library
nor scikit-learn, pandas or matplotlib: :func:`compare` imports the engine when it runs.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import traceback
import warnings

from focalboost import __version__
from focalboost.metrics import ECE_BINS

from .datasets import DEFAULT_DATASETS, MAX_CATEGORIES, DataError
from .settings import (
    BACKENDS,
    DEFAULT_BINARY_ALPHAS,
    DEFAULT_GAMMAS,
    DEFAULT_MULTICLASS_ALPHAS,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USAGE,
    MAX_GAMMA,
    MAX_SEED,
    SEARCH_MODES,
    CLIError,
    Settings,
    alpha_label,
)


def _parse_gammas(text):
    values = []
    for part in _split_list(text):
        try:
            value = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"gamma values must be numbers >= 0, got {part!r}"
            ) from None
        if not math.isfinite(value) or value < 0:
            raise argparse.ArgumentTypeError(
                f"gamma values must be finite numbers >= 0, got {part!r}"
            )
        if value > MAX_GAMMA:
            raise argparse.ArgumentTypeError(
                f"gamma values must be at most {MAX_GAMMA:g} (the focal factor (1 - p)^gamma "
                f"is then below 1e-30 for every row predicted at p >= 0.5), got {part!r}"
            )
        values.append(value)
    return tuple(values)


def _parse_alphas(text):
    values = []
    for part in _split_list(text):
        low = part.lower()
        if low in ("none", "null"):
            values.append(None)
        elif low == "balanced":
            values.append("balanced")
        elif ":" in part:  # per-class vector for multiclass, e.g. 1:2:4
            try:
                vec = [float(v) for v in part.split(":")]
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"a per-class alpha is numbers joined by ':', got {part!r}"
                ) from None
            if any(not (math.isfinite(v) and v > 0) for v in vec):
                raise argparse.ArgumentTypeError(
                    f"per-class alpha weights must be > 0, got {part!r}"
                )
            values.append(tuple(vec))
        else:
            try:
                value = float(part)
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"alpha values must be 'none', 'balanced', a number in (0, 1) (binary) or "
                    f"per-class weights like 1:2:4 (multiclass), got {part!r}"
                ) from None
            if not 0 < value < 1:
                raise argparse.ArgumentTypeError(
                    f"a binary alpha must lie in the open interval (0, 1), got {part!r}"
                )
            values.append(value)
    return tuple(values)


def _split_list(text):
    parts = [p.strip() for p in str(text).split(",")]
    if not parts or any(p == "" for p in parts):
        raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
    return parts


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer from 0 to {MAX_SEED}, got {text!r}"
        ) from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to {MAX_SEED}, got {text!r}")
    return value


def _usable_cpus():
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``PROG: error: MESSAGE (see 'PROG --help')``, exit 2,
    instead of the usage block then the message (the subcommand's parser is of this class too)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser():
    parser = _Parser(
        prog="focalboost",
        description="Focal loss as a first-class objective for XGBoost and LightGBM.",
    )
    parser.add_argument("--version", action="version", version=f"focalboost {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    cmp = sub.add_parser(
        "compare",
        help="focal loss against log loss and class weighting on real imbalanced data",
        description=(
            "Train built-in log loss, class-weighted log loss and focal loss (gamma/alpha "
            "chosen by cross-validation) with XGBoost and/or LightGBM on one split of a real "
            "imbalanced data set; print a table and write CSV, JSON and PNG figures. Focal "
            "models appear twice: raw sigmoid/softmax ('focal') and corrected ('focal "
            "posterior'), compared by log loss, Brier score and ECE (expected calibration "
            f"error: {ECE_BINS} equal-count bins of the predicted probability, |mean predicted "
            "- observed rate| weighted by bin size; multiclass: of the top-label probability). "
            "Several --target columns: multi-label mode."
        ),
        epilog=(
            "Every change made to the data (rows without a target, columns dropped, encoded or "
            "renamed, the row sample) is printed, one line each, and listed in results.json "
            "(data_changes). Exit codes: 0 done; 2 bad input, one line on stderr; 1 an "
            "unexpected error (a bug: its traceback)."
        ),
    )
    data = cmp.add_argument_group("data")
    data.add_argument(
        "--data", metavar="PATH", help="a CSV or Parquet file (default: a built-in data set)"
    )
    data.add_argument(
        "--target",
        metavar="COLUMN[,COLUMN...]",
        help="the target column of --data; several comma-separated columns make a multi-label "
        "problem: each column binary (0/1, booleans or two values; positive: 1/True, else the "
        "rarer value), reported per label and as macro PR-AUC. Multi-label models: XGBoost "
        "log loss and focal loss on the 2-D target (multi-output trees); LightGBM one model per "
        "label (MultiOutputClassifier), each early-stopped on its own validation label; the same "
        "focal gamma/alpha search, alpha applied to every label; no class-weighted model",
    )
    data.add_argument(
        "--dataset",
        default="nasscds",
        choices=sorted(DEFAULT_DATASETS),
        help="built-in data set when --data is not given: nasscds (binary, 4.5%% positive) or "
        "diamonds (5 classes); default nasscds",
    )
    data.add_argument(
        "--drop", metavar="COLS", default="", help="comma-separated columns to leave out"
    )
    data.add_argument(
        "--positive-class",
        metavar="LABEL",
        help="binary target: the label of class 1 (default: 1/True, else the rarer class); "
        "not with several --target columns",
    )
    data.add_argument(
        "--max-categories",
        metavar="N",
        type=_positive_int,
        default=MAX_CATEGORIES,
        help=f"text columns with more distinct values are refused (default {MAX_CATEGORIES})",
    )
    data.add_argument(
        "--max-rows",
        metavar="N",
        type=_positive_int,
        help="use a stratified sample of this many rows",
    )

    models = cmp.add_argument_group("models")
    models.add_argument(
        "--backend", default="both", choices=["xgboost", "lightgbm", "both"], help="default both"
    )
    models.add_argument(
        "--gamma",
        type=_parse_gammas,
        metavar="LIST",
        help=f"focal gamma values to search (default {','.join(f'{g:g}' for g in DEFAULT_GAMMAS)})",
    )
    models.add_argument(
        "--alpha",
        type=_parse_alphas,
        metavar="LIST",
        help="focal alpha values to search: none, balanced, numbers in (0, 1) "
        "(binary) or per-class weights like 1:2:4 (default none,0.25,balanced "
        "binary; none,balanced multiclass)",
    )
    models.add_argument(
        "--cv-folds", metavar="K", type=_positive_int, help="folds of the focal search (default 3)"
    )
    models.add_argument(
        "--n-estimators",
        metavar="N",
        type=_positive_int,
        help="maximum boosting rounds (default 2000)",
    )
    models.add_argument(
        "--learning-rate", metavar="ETA", type=float, help="shrinkage of every model (default 0.05)"
    )
    models.add_argument(
        "--early-stopping-rounds",
        metavar="N",
        type=_positive_int,
        help="stop after this many rounds without improvement (default 50)",
    )
    models.add_argument(
        "--test-size",
        metavar="FRACTION",
        type=_fraction,
        default=0.25,
        help="share of rows held out for the test (default 0.25)",
    )
    models.add_argument(
        "--valid-size",
        metavar="FRACTION",
        type=_fraction,
        default=0.2,
        help="share of the non-test rows used for early stopping (default 0.2)",
    )
    models.add_argument(
        "--seed",
        metavar="INT",
        type=_seed,
        default=0,
        help="of the splits and the models (default 0)",
    )
    models.add_argument(
        "--search-mode",
        choices=SEARCH_MODES,
        default="fast",
        help="how focalboost.FocalSearchCV searches gamma and alpha: fast (default: each fold "
        "binned once, weak candidates dropped by successive halving over the boosting rounds) "
        "or exhaustive (every candidate on every fold, as GridSearchCV)",
    )
    models.add_argument(
        "--n-jobs",
        metavar="N",
        type=_positive_int,
        help="threads per model (default 1: fastest for data of this size, and robust "
        "on a busy machine)",
    )

    run = cmp.add_argument_group("run")
    run.add_argument(
        "--output-dir",
        default="focalboost-output",
        metavar="DIR",
        help="where results.csv/json and the figures go (default ./focalboost-output)",
    )
    run.add_argument(
        "--quick",
        action="store_true",
        help="smoke run in seconds: 3,000 rows, 60 fast rounds, a 2x2 search on 2 folds",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def settings_from_args(args):
    backends = BACKENDS if args.backend == "both" else (args.backend,)
    overrides = {
        "backends": backends,
        "test_size": args.test_size,
        "valid_size": args.valid_size,
        "seed": args.seed,
        "n_jobs": args.n_jobs,
        "progress": not args.no_progress,
        "search_mode": args.search_mode,
    }
    for key in (
        "gamma",
        "alpha",
        "cv_folds",
        "n_estimators",
        "learning_rate",
        "early_stopping_rounds",
        "max_rows",
    ):
        value = getattr(args, key)
        if value is not None:
            overrides[{"gamma": "gammas", "alpha": "alphas"}.get(key, key)] = value
    if args.cv_folds is not None and args.cv_folds < 2:
        raise CLIError(f"--cv-folds must be at least 2, got {args.cv_folds}")
    if args.learning_rate is not None and not (0 < args.learning_rate <= 1):
        raise CLIError(f"--learning-rate must be in (0, 1], got {args.learning_rate}")
    # more OpenMP threads than CPUs only slows a fit down (see Settings.threads); far more
    # crashed LightGBM outright (measured: --n-jobs 100000 ended in a segmentation fault)
    if args.n_jobs is not None and args.n_jobs > _usable_cpus():
        raise CLIError(
            f"--n-jobs must be at most the {_usable_cpus()} CPU(s) this process may use, "
            f"got {args.n_jobs}"
        )
    return Settings.quick_defaults(**overrides) if args.quick else Settings(**overrides)


def load_data(args):
    from . import datasets

    drop = [c for c in (p.strip() for p in args.drop.split(",")) if c]
    if args.data is None:
        if args.target is not None:
            raise CLIError("--target needs --data (the built-in data sets have their own targets)")
        if drop or args.positive_class is not None:
            raise CLIError("--drop and --positive-class apply to --data files only")
        return datasets.load_dataset(args.dataset)
    if args.target is None:
        raise CLIError(
            f"--data {args.data} needs --target COLUMN (the column to predict; several "
            "comma-separated binary columns for multi-label)"
        )
    return datasets.load_file(
        args.data,
        args.target,
        drop=drop,
        positive_class=args.positive_class,
        max_categories=args.max_categories,
    )


def check_alphas(settings, dataset):
    if dataset.is_multilabel:
        for alpha in settings.alpha_grid(2):
            if isinstance(alpha, tuple):
                raise CLIError(
                    f"--alpha {alpha_label(alpha)}: with several target columns alpha is "
                    "applied to every label: a number in (0, 1), 'none' or 'balanced'"
                )
        return
    for alpha in settings.alpha_grid(dataset.n_classes):
        if dataset.is_binary and isinstance(alpha, tuple):
            raise CLIError(
                f"--alpha {alpha_label(alpha)}: per-class weights are for multiclass targets; "
                "binary alpha is a number in (0, 1), 'none' or 'balanced'"
            )
        if not dataset.is_binary and isinstance(alpha, float):
            raise CLIError(
                f"--alpha {alpha:g}: a single number is the binary class-1 weight; for "
                f"{dataset.n_classes} classes use 'none', 'balanced' or per-class weights "
                "like " + ":".join(["1"] * dataset.n_classes)
            )
        if not dataset.is_binary and isinstance(alpha, tuple) and len(alpha) != dataset.n_classes:
            raise CLIError(
                f"--alpha {alpha_label(alpha)}: {len(alpha)} weights for "
                f"{dataset.n_classes} classes"
            )


def warning_lines(caught):
    """Python warnings raised while the models trained, as ``warning: ...`` lines: one per
    distinct message (its first line) with the number of times it came, instead of a block of
    file:line text on stderr for every fit of the search."""
    counts = {}
    for w in caught:
        first = str(w.message).strip().splitlines()[0] if str(w.message).strip() else ""
        key = (w.category.__name__, first)
        counts[key] = counts.get(key, 0) + 1
    return [
        f"warning ({category}): {message}" + (f" ({n} times)" if n > 1 else "")
        for (category, message), n in counts.items()
    ]


def compare(args, stdout=None):
    """Run ``focalboost compare`` with parsed ``args``: print the table, write the files;
    returns the :class:`~focalboost.compare.engine.Comparison`."""
    import matplotlib

    from .engine import run_comparison, sample_rows
    from .report import check_output_dir, format_table, table_notes, write_outputs

    matplotlib.use("Agg")  # files only, no display
    stdout = stdout or sys.stdout
    settings = settings_from_args(args)
    check_output_dir(args.output_dir)
    dataset = load_data(args)
    check_alphas(settings, dataset)
    print(dataset.summary(), file=stdout)
    dataset = sample_rows(dataset, settings)  # as run_comparison would, to print it first
    for change in dataset.changes:  # each one is in results.json's data_changes too
        print(change["message"], file=stdout)
    stdout.flush()
    with warnings.catch_warnings(record=True) as caught:  # one printed line each, not stderr
        warnings.simplefilter("always")
        result = run_comparison(dataset, settings)
    result.warnings += warning_lines(caught)
    paths = write_outputs(result, args.output_dir)
    s = result.split
    print(
        f"\ntest set: {s['test']:,} rows (train {s['train']:,}, early-stopping validation "
        f"{s['valid']:,}; focal search: {s['cv_folds']}-fold CV on the training rows, "
        f"FocalSearchCV {s['search_mode']} mode)",
        file=stdout,
    )
    for line in result.warnings:
        print(line, file=stdout)
    print(format_table(result), file=stdout)
    print("\n" + table_notes(dataset), file=stdout)
    print(f"wrote {', '.join(str(p) for p in paths.values())}", file=stdout)
    print(f"total {result.wall_seconds:.0f} s", file=stdout)
    return result


def _library_error(exc):
    """The boosting library's name if ``exc`` is its own error class (XGBoostError,
    LightGBMError), else None."""
    module = type(exc).__module__.split(".")[0]
    return {"xgboost": "XGBoost", "lightgbm": "LightGBM"}.get(module)


def _first_line(exc):
    """The first line of a library's message, without XGBoost's ``[time] file:line:`` prefix
    (the C++ stack trace that follows is for XGBoost's developers)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    line = lines[0] if lines else type(exc).__name__
    return re.sub(r"^\[[\d:]+\]\s+\S+:\d+:\s*", "", line)


def main(argv=None):
    """Entry point of the ``focalboost`` console script; returns the exit code.

    Exit codes: 0 success; 2 bad input (argparse's usage errors, :class:`CLIError`,
    :class:`~focalboost.compare.datasets.DataError`, and an error raised by XGBoost or LightGBM
    itself, which is about the data focalboost gave it): one line on stderr, no traceback;
    1 anything else, a bug: the traceback and a line asking for a report; 130 interrupted.

    Parameters
    ----------
    argv : list of str, optional
        The arguments; default ``sys.argv[1:]``.

    Returns
    -------
    int
    """
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors: message + exit 2 (argparse)
    prefix = f"focalboost {args.command}"
    try:
        if args.command == "compare":
            compare(args)
    except (CLIError, DataError) as exc:
        print(f"{prefix}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("focalboost: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout closed early (| head): stop quietly, as Python's docs advise
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_INTERNAL
    except Exception as exc:
        library = _library_error(exc)
        if library:  # every input check focalboost knows of passed, yet the library refused
            print(f"{prefix}: error: {library} refused the data: {_first_line(exc)}", file=sys.stderr)
            return EXIT_USAGE
        traceback.print_exc()
        print(
            f"{prefix}: internal error (a bug, not a problem focalboost found in the input): "
            "please report it with the command line and the traceback above",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
