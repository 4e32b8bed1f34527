"""What a comparison reports: the table (columns, text table, DataFrame), the notes printed under
it, ``results.csv`` / ``results.json`` with the environment, and the figures
(:mod:`focalboost.compare.figures`) written next to them.

:func:`cpu_model` (the CPU's name, for results and benchmark headers) is public: the benchmarks
import it.
"""

from __future__ import annotations

import json
import math
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from focalboost.metrics import ECE_BINS, ECE_STRATEGY

from .settings import CLIError, alpha_label

# --- the table ------------------------------------------------------------------------------------

BINARY_COLUMNS = [
    # key, header, format
    ("pr_auc", "PR-AUC", "{:.3f}"),
    ("pr_auc_ci_halfwidth", "±95%", "{:.3f}"),
    ("roc_auc", "ROC-AUC", "{:.3f}"),
    ("log_loss", "log loss", "{:.4f}"),
    ("brier", "Brier", "{:.4f}"),
    ("ece", "ECE", "{:.4f}"),
    ("best_f1", "best F1", "{:.3f}"),
    ("best_f1_threshold", "F1 thr", "{:.3f}"),
    ("recall_at_90_precision", "R@P90", "{:.3f}"),
]
MULTICLASS_COLUMNS = [
    ("macro_pr_auc", "macro PR-AUC", "{:.3f}"),
    ("pr_auc_ci_halfwidth", "±95%", "{:.3f}"),
    ("balanced_accuracy", "bal. acc.", "{:.3f}"),
    ("macro_f1", "macro F1", "{:.3f}"),
    ("log_loss", "log loss", "{:.4f}"),
    ("brier", "Brier", "{:.4f}"),
    ("ece", "ECE", "{:.4f}"),
]
#: multi-label: one "PR-AUC <label>" column per label comes first (see multilabel_columns)
MULTILABEL_COLUMNS = [
    ("macro_pr_auc", "macro PR-AUC", "{:.3f}"),
    ("pr_auc_ci_halfwidth", "±95%", "{:.3f}"),
    ("macro_roc_auc", "macro ROC-AUC", "{:.3f}"),
    ("log_loss", "log loss", "{:.4f}"),
    ("brier", "Brier", "{:.4f}"),
    ("ece", "ECE", "{:.4f}"),
]
COMMON_COLUMNS = [
    ("n_trees", "trees", "{}"),
    ("fit_seconds", "fit s", "{:.1f}"),
    ("gamma", "gamma", "{}"),
    ("alpha", "alpha", "{}"),
]


def multilabel_columns(labels):
    """Table columns of a multi-label run: PR-AUC of each label, then the macro metrics."""
    per_label = [(f"pr_auc[{label}]", f"PR-AUC {label}", "{:.3f}") for label in labels]
    return per_label + MULTILABEL_COLUMNS


def columns(result):
    """The printed table's columns of a :class:`~focalboost.compare.engine.Comparison`:
    (key, header, format), the metrics then the common ones."""
    if result.is_multilabel:
        metrics = multilabel_columns(result.dataset.labels)
    else:
        metrics = BINARY_COLUMNS if result.is_binary else MULTICLASS_COLUMNS
    return metrics + COMMON_COLUMNS


def results_frame(result):
    """The results as a pandas DataFrame (one row per model output): ``results.csv``."""
    import pandas as pd

    cols = columns(result)
    keys = [k for k, _, _ in cols[: len(cols) - len(COMMON_COLUMNS)]]
    if result.is_multilabel:  # the per-label ROC-AUC is in the CSV, not in the printed table
        keys += [f"roc_auc[{label}]" for label in result.dataset.labels]
    key = "pr_auc" if result.is_binary else "macro_pr_auc"
    keys += [f"{key}_ci_low", f"{key}_ci_high"]
    keys += [k for k, _, _ in COMMON_COLUMNS] + ["search_seconds", "search_mode", "cv_score"]
    records = [
        {"model": r["name"], "output": r["output"], **{k: r.get(k) for k in keys}}
        for r in result.rows
    ]
    return pd.DataFrame.from_records(records)


def format_table(result):
    """The results as a fixed-width text table."""
    columns = result.columns()
    header = ["model"] + [h for _, h, _ in columns]
    lines = []
    for row in result.rows:
        cells = [row["name"]]
        for key, _, fmt in columns:
            value = row.get(key)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                cells.append("-")
            else:
                cells.append(fmt.format(value))
        lines.append(cells)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines)]
    out = [
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths))
        )
    ]
    out.append("  ".join("-" * w for w in widths))
    for cells in lines:
        out.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
            )
        )
    return "\n".join(out)


def table_notes(dataset):
    """The notes printed under the table: what the columns and the models are."""
    ece = f"ECE: expected calibration error ({ECE_BINS} equal-count bins"
    if dataset.is_multilabel:
        return (
            "PR-AUC <label>: average precision of each label; macro: the mean over labels; ±95%: "
            "half-width of a bootstrap 95% interval of the macro PR-AUC (test rows resampled);\n"
            "log loss, Brier: means over labels; "
            + ece
            + ", mean over labels);\nfocal: gamma/alpha chosen by CV macro average precision, "
            "alpha applied to each label ('balanced': per label); focal posterior: the same "
            "model's probabilities with the focal/alpha distortion undone;\nxgboost: one model "
            "with multi-output trees; lightgbm: one model per label, each early-stopped on its "
            "own label (trees: their mean); no class-weighted models in multi-label mode"
        )
    if dataset.is_binary:
        return (
            "±95%: half-width of a bootstrap 95% interval of the PR-AUC (test rows resampled);\n"
            + ece
            + " of P(positive));\n"
            "focal: gamma/alpha chosen by CV average precision; focal posterior: the same model's "
            "probabilities with the focal/alpha distortion undone;\nweighted: scale_pos_weight = "
            "n_negative / n_positive; F1 thr: probability threshold of the best F1; R@P90: recall "
            "at 90% precision; trees: rounds kept by early stopping"
        )
    return (
        "±95%: half-width of a bootstrap 95% interval of the macro PR-AUC (test rows "
        "resampled);\nBrier: mean of sum_k (p_k - [y = k])^2; "
        + ece
        + " of the top-label probability against its accuracy);\nfocal: gamma/alpha chosen "
        "by CV macro average precision; focal posterior: the same model's probabilities with "
        "the focal/alpha distortion undone;\nweighted: balanced sample weights; trees: rounds "
        "kept by early stopping"
    )


# --- results.json ---------------------------------------------------------------------------------


def environment():
    """Date, versions and machine of a run (``results.json``'s ``environment``)."""
    import lightgbm
    import sklearn
    import xgboost

    import focalboost

    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "focalboost": focalboost.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "xgboost": xgboost.__version__,
        "lightgbm": lightgbm.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
    }


def cpu_model():
    """The CPU's model name (``/proc/cpuinfo``; else ``platform.processor()``, else None)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _dataset_doc(ds):
    common = {
        "name": ds.name,
        "description": ds.description,
        "features": list(map(str, ds.X.columns)),
        "categorical": ds.categorical,
        "dropped": ds.dropped,
    }
    if ds.is_multilabel:
        return {
            **common,
            "targets": list(ds.labels),
            "multilabel": True,
            "positive_classes": [str(c) for c in ds.positive_classes],
            "negative_classes": [str(c) for c in ds.negative_classes],
            "label_counts": ds.label_counts.tolist(),
            "rows": int(len(ds.Y)),
        }
    return {
        **common,
        "target": ds.target,
        "classes": [str(c) for c in ds.classes],
        "positive_class": None if ds.positive_class is None else str(ds.positive_class),
        "class_counts": ds.class_counts.tolist(),
    }


def check_output_dir(output_dir):
    """Refuse an ``--output-dir`` that cannot be written, before the run (which may take
    minutes) rather than after it; creates nothing."""
    out = Path(output_dir)
    probe = out
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise CLIError(
            f"cannot create --output-dir {str(out)!r}: {str(probe)!r} is a file, not a directory"
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise CLIError(f"cannot write to --output-dir {str(out)!r}: no permission on {str(probe)!r}")
    for name in ("results.csv", "results.json"):
        if (out / name).is_dir():
            raise CLIError(
                f"cannot write {name} in --output-dir {str(out)!r}: a directory of that name "
                "is in the way"
            )


def write_outputs(result, output_dir):
    """results.csv, results.json and the PNG figures; returns the written paths."""
    out = Path(output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create --output-dir {str(out)!r}: {exc.strerror or exc}") from None
    try:
        return _write_outputs(result, out)
    except OSError as exc:  # a file in the way, a full disk, no permission
        where = exc.filename or out
        raise CLIError(
            f"cannot write to --output-dir {str(out)!r}: {exc.strerror or exc} ({where})"
        ) from None


def _write_outputs(result, out):
    import matplotlib.pyplot as plt

    from .figures import make_figures

    paths = {}
    table = result.table()
    paths["csv"] = out / "results.csv"
    table.to_csv(paths["csv"], index=False)

    ds = result.dataset
    settings = result.settings
    doc = {
        "dataset": _dataset_doc(ds),
        # everything done to the data on the way from the file, one printed line each
        "data_changes": list(getattr(ds, "changes", [])),
        "split": result.split,
        "metrics": {
            "ece": f"expected calibration error over {ECE_BINS} "
            f"{'equal-count' if ECE_STRATEGY == 'quantile' else 'equal-width'} bins of the "
            "predicted probability: sum of (rows in bin / n) * |mean predicted - observed rate|; "
            + (
                "the mean over labels of each label's ECE"
                if ds.is_multilabel
                else "of P(positive class)"
                if ds.is_binary
                else "top-label: bins of the largest probability, observed = accuracy of its class"
            ),
        },
        "settings": {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in settings.__dict__.items()
            if k not in ("alphas",)
        }
        | {
            "alphas": [
                alpha_label(a)
                for a in settings.alpha_grid(2 if ds.is_multilabel else ds.n_classes)
            ],
            "threads": settings.threads(),
        },
        "warnings": list(result.warnings),
        "environment": environment(),
        "wall_seconds": result.wall_seconds,
        "models": result.rows,
    }
    paths["json"] = out / "results.json"
    paths["json"].write_text(json.dumps(_jsonable(doc), indent=2) + "\n")

    for name, fig in make_figures(result).items():
        path = out / f"{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths[name] = path
    return paths
