"""The comparison's figures (matplotlib, through :mod:`focalboost.plot`): precision-recall
curves, reliability curves with each model's ECE, and the focal derivatives.
"""

from __future__ import annotations

import numpy as np

from focalboost.metrics import ECE_BINS, ECE_STRATEGY

#: multi-label figures draw one panel per label up to this many labels
MAX_LABEL_PANELS = 8


def make_figures(result):
    """The figures of a :class:`~focalboost.compare.engine.Comparison`, by file stem:
    ``pr_curves``, ``calibration``, ``focal_gradients`` (and ``focal_gradients_multiclass``)."""
    if result.dataset.is_multilabel:
        return _multilabel_figures(result)
    return _figures(result)


def _figures(result):
    """Binary and multiclass: PR curves (all models in one panel per class), reliability curves
    (one panel per backend, raw and corrected focal output side by side), focal derivatives."""
    import matplotlib.pyplot as plt

    from focalboost import plot

    ds = result.dataset
    classes = [str(c) for c in ds.classes]
    # binary: the posterior correction is monotone, its PR curve would hide under the raw one
    pr_probas = {
        row["name"]: result.probas[row["name"]]
        for row in result.rows
        if not ds.is_binary or row["output"] == "raw"
    }
    figures = {
        "pr_curves": plot.plot_precision_recall(
            result.y_test,
            pr_probas,
            classes=classes,
            styles=_styles(result.rows),
            title=f"{ds.name}: precision-recall on the test set ({len(result.y_test):,} rows)"
            if ds.is_binary
            else None,
        ),
    }
    backends = list(dict.fromkeys(row["backend"] for row in result.rows))
    fig, axes = plt.subplots(
        1, len(backends), figsize=(6.6 * len(backends), 6.4), layout="constrained", squeeze=False
    )
    styles = _styles(result.rows, by_backend=False)
    for ax, backend in zip(axes.flat, backends):
        names = [row["name"] for row in result.rows if row["backend"] == backend]
        plot.plot_calibration(
            result.y_test,
            {name: result.probas[name] for name in names},
            classes=classes,
            n_bins=ECE_BINS,
            strategy=ECE_STRATEGY,
            styles=styles,
            ax=ax,
            title=backend,
        )
    what = f"P(y = {classes[1]!r})" if ds.is_binary else "top-label probability"
    fig.suptitle(
        f"{ds.name}: calibration on the test set ({len(result.y_test):,} rows), {what}, "
        f"{ECE_BINS} equal-count bins\nfocal: the focal model's raw sigmoid/softmax (dashed, "
        "open squares); focal posterior: the same model corrected (purple)"
    )
    figures["calibration"] = fig
    figures["focal_gradients"] = plot.plot_focal_derivatives()
    if not ds.is_binary:  # the true class's entries of the softmax focal loss, K of this data
        figures["focal_gradients_multiclass"] = plot.plot_focal_derivatives(
            n_classes=ds.n_classes, label=0
        )
    return figures


def _multilabel_figures(result):
    """Multi-label: per-label PR curves (one panel per label, every model; the corrected focal
    output ranks as the raw one) and per-label reliability curves (a row of panels per
    backend), for the first :data:`MAX_LABEL_PANELS` labels; the binary focal derivatives."""
    import matplotlib.pyplot as plt

    from focalboost import plot

    ds = result.dataset
    labels = list(ds.labels)[:MAX_LABEL_PANELS]
    more = "" if ds.n_labels <= MAX_LABEL_PANELS else f" (first {MAX_LABEL_PANELS} labels)"
    Y = result.y_test
    ncols = len(labels)

    fig, axes = plt.subplots(
        1, ncols, figsize=(5.6 * ncols, 5.4), layout="constrained", squeeze=False
    )
    styles = _styles(result.rows)
    raw = [row["name"] for row in result.rows if row["output"] == "raw"]
    for j, (ax, label) in enumerate(zip(axes.flat, labels)):
        plot.plot_precision_recall(
            Y[:, j],
            {name: result.probas[name][:, j] for name in raw},
            classes=["", label],
            styles=styles,
            ax=ax,
            title=f"label {label!r}",
        )
    fig.suptitle(f"{ds.name}: precision-recall per label on the test set ({len(Y):,} rows){more}")
    figures = {"pr_curves": fig}

    backends = list(dict.fromkeys(row["backend"] for row in result.rows))
    fig, axes = plt.subplots(
        len(backends),
        ncols,
        figsize=(5.2 * ncols, 5.2 * len(backends)),
        layout="constrained",
        squeeze=False,
    )
    styles = _styles(result.rows, by_backend=False)
    for r, backend in enumerate(backends):
        names = [row["name"] for row in result.rows if row["backend"] == backend]
        for j, label in enumerate(labels):
            plot.plot_calibration(
                Y[:, j],
                {name: result.probas[name][:, j] for name in names},
                classes=["", label],
                n_bins=ECE_BINS,
                strategy=ECE_STRATEGY,
                styles=styles,
                ax=axes[r, j],
                title=f"{backend}, label {label!r}",
            )
    fig.suptitle(
        f"{ds.name}: calibration per label on the test set ({len(Y):,} rows){more}, "
        f"{ECE_BINS} equal-count bins\nfocal: the focal model's raw sigmoid (dashed, open "
        "squares); focal posterior: the same model corrected (purple)"
    )
    figures["calibration"] = fig
    figures["focal_gradients"] = plot.plot_focal_derivatives()  # each label is a binary focal loss
    return figures


def _styles(rows, by_backend=True):
    """Line styles: colour by model kind; the backend by line style (``by_backend``, figures with
    both backends in one panel), else the raw focal output dashed with open square markers."""
    colors = {"logloss": "tab:blue", "weighted": "tab:orange", "focal": "tab:green"}
    dashes = {"xgboost": "-", "lightgbm": "--"}
    styles = {}
    for row in rows:
        corrected = row.get("output") not in (None, "raw")  # the posterior-corrected focal output
        style = {"color": "tab:purple" if corrected else colors.get(row["kind"], "tab:grey")}
        if by_backend:
            style["ls"] = dashes.get(row["backend"], "-")
        elif row["kind"] == "focal" and not corrected:
            style.update(ls="--", marker="s", mfc="white")
        styles[row["name"]] = style
    return styles
