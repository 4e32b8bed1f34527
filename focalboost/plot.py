"""Figures: focal-loss derivatives against the margin, and model-comparison curves (matplotlib).

* :func:`plot_focal_derivatives` — gradient and hessian (exact and the ``"positive"`` policy) of
  focal loss against the margin for several gamma, binary or for the true class of a softmax, with
  the margin where the exact hessian turns negative marked, and the gradient relative to log loss.
* :func:`plot_precision_recall` — precision-recall curves of several models on one test set.
* :func:`plot_calibration` — reliability curves (mean predicted probability against the observed
  frequency in bins) of several models, each with its expected calibration error in the legend
  (the bins and the ECE are those of :func:`focalboost.metrics.expected_calibration_error`).

Every function returns a :class:`matplotlib.figure.Figure` (created with ``pyplot`` unless you pass
``ax``), so it displays in a notebook and can be saved with ``fig.savefig(path)``. The functions
never select a backend: scripts without a display should call ``matplotlib.use("Agg")`` first
(``focalboost compare`` does).

``probas`` arguments are mappings from a model's name to its predicted probabilities on the same
rows: (n,) or (n, 2) for binary (the class-1 column is used), (n, K) for multiclass. ``styles``
optionally maps names to keyword arguments of ``Axes.plot`` (colour, line style).
"""

from __future__ import annotations

import numpy as np

try:
    import matplotlib.pyplot as plt
    from matplotlib.transforms import blended_transform_factory, offset_copy
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "focalboost.plot needs matplotlib: pip install matplotlib (or 'focalboost[compare]')"
    ) from exc

from scipy import optimize

from .losses import BinaryFocalLoss, MulticlassFocalLoss

__all__ = [
    "focal_derivatives",
    "negative_hessian_margin",
    "plot_focal_derivatives",
    "plot_precision_recall",
    "plot_calibration",
]

DEFAULT_GAMMAS = (0.0, 0.5, 1.0, 2.0, 5.0)


# --- focal derivatives ----------------------------------------------------------------------------


def _loss_object(gamma, alpha, n_classes, hessian):
    if n_classes == 2:
        return BinaryFocalLoss(gamma, alpha=alpha, hessian=hessian)
    return MulticlassFocalLoss(n_classes, gamma, alpha=alpha, hessian=hessian)


def focal_derivatives(margin, gamma, *, alpha=None, n_classes=2, label=1, hessian="exact"):
    """Gradient and hessian of focal loss along a line of margins, from the closed forms.

    Binary (``n_classes=2``): the row has label ``label`` and margin ``margin``.
    Multiclass: the row's true class is ``label``, its margin is ``margin`` and every other class
    has margin 0; the returned values are the true class's entries dL/dz_y and d2L/dz_y2.

    Parameters
    ----------
    margin : array-like
        The margins at which to evaluate.
    gamma : float
        Focusing parameter.
    alpha : None, float or array-like, default None
        Class weights, as for the loss objects.
    n_classes : int, default 2
        2: binary focal loss; more: softmax focal loss.
    label : int, default 1
        The row's label (binary) or true class (multiclass).
    hessian : {"exact", "positive"}, default "exact"
        Which hessian to return.

    Returns
    -------
    gradient, hessian : ndarray
        float64, shaped like ``margin``.
    """
    margin = np.asarray(margin, dtype=np.float64)
    loss = _loss_object(gamma, alpha, n_classes, hessian)
    flat = margin.ravel()
    if n_classes == 2:
        y = np.full(flat.shape[0], label)
        grad, hess = loss.gradient_hessian(y, flat)
    else:
        if not 0 <= label < n_classes:
            raise ValueError(f"label must be a class index in 0..{n_classes - 1}, got {label!r}")
        raw = np.zeros((flat.shape[0], n_classes))
        raw[:, label] = flat
        y = np.full(flat.shape[0], label)
        grad, hess = loss.gradient_hessian(y, raw)
        grad, hess = grad[:, label], hess[:, label]
    return grad.reshape(margin.shape), hess.reshape(margin.shape)


def negative_hessian_margin(gamma, *, n_classes=2, label=1, margin_range=(-50.0, 50.0)):
    """The margin where the exact focal hessian changes sign, or None if it stays positive.

    Binary with ``label=1`` (or the true class of a softmax): the exact hessian is negative for
    margins below the returned value; with ``label=0`` above it. ``alpha`` only scales the
    hessian, so it does not move the root. Found with Brent's method on the closed form.

    Parameters
    ----------
    gamma : float
        Focusing parameter.
    n_classes : int, default 2
        2: binary focal loss; more: softmax focal loss (true class, other margins 0).
    label : int, default 1
        The row's label (binary) or true class (multiclass).
    margin_range : (float, float), default (-50.0, 50.0)
        The interval searched for the sign change.

    Returns
    -------
    float or None
    """
    if gamma == 0:
        return None

    def h(x):
        return float(
            focal_derivatives(np.array([x]), gamma, n_classes=n_classes, label=label)[1][0]
        )

    grid = np.linspace(margin_range[0], margin_range[1], 2001)
    values = focal_derivatives(grid, gamma, n_classes=n_classes, label=label)[1]
    sign_change = np.flatnonzero(np.sign(values[:-1]) != np.sign(values[1:]))
    if sign_change.size == 0:
        return None
    i = sign_change[0]
    return float(optimize.brentq(h, grid[i], grid[i + 1], xtol=1e-12))


def plot_focal_derivatives(
    gammas=DEFAULT_GAMMAS,
    *,
    alpha=None,
    n_classes=2,
    label=1,
    margin_range=(-8.0, 8.0),
    num=1601,
    fig=None,
):
    """Focal-loss gradient and hessian against the margin, one curve per gamma (closed forms).

    Three panels:

    1. the gradient dL/dx;
    2. the hessian: exact (solid) and the default ``hessian="positive"`` policy (dashed), with the
       margin where the exact hessian turns negative marked (dot and dotted line) and the region
       below zero shaded;
    3. the size of the gradient relative to log loss's, ``|dL/dx| / |dCE/dx|`` (log scale): how much
       focal loss down-weights easy rows (right) against hard ones (left). The seed note drew the
       gradients rescaled to meet at one end; this ratio shows the same thing without rescaling.

    Parameters
    ----------
    gammas : sequence of float >= 0
    alpha : None, float in (0, 1) (binary) or per-class vector (multiclass)
        Only scales the curves (alpha_t multiplies loss, gradient and hessian).
    n_classes : int, default 2
        2 for binary focal loss; K > 2 plots the true class's entries of softmax focal loss with
        the other K - 1 margins at 0.
    label : int, default 1
        Binary: the row's label (1: hard rows on the left). Multiclass: the true class.
    margin_range : (float, float)
    num : int
        Points on the margin axis.
    fig : matplotlib Figure, optional
        Drawn into (three subplots are added); a new figure otherwise.
    """
    gammas = [float(g) for g in gammas]
    if not gammas:
        raise ValueError("gammas must contain at least one value")
    lo, hi = map(float, margin_range)
    if not lo < hi:
        raise ValueError(f"margin_range must be (low, high) with low < high, got {margin_range!r}")
    x = np.linspace(lo, hi, int(num))
    if fig is None:
        fig = plt.figure(figsize=(15, 4.8), layout="constrained")
    ax_g, ax_h, ax_r = fig.subplots(1, 3)
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(gammas)))
    _, ce_grad = None, focal_derivatives(x, 0.0, n_classes=n_classes, label=label)[0]
    if alpha is not None:
        ce_grad = focal_derivatives(x, 0.0, alpha=alpha, n_classes=n_classes, label=label)[0]

    roots = []
    for gamma, color in zip(gammas, colors):
        kw = dict(alpha=alpha, n_classes=n_classes, label=label)
        grad, hess_exact = focal_derivatives(x, gamma, hessian="exact", **kw)
        _, hess_pos = focal_derivatives(x, gamma, hessian="positive", **kw)
        ax_g.plot(x, grad, color=color, lw=2, label=f"γ = {gamma:g}")
        ax_h.plot(x, hess_exact, color=color, lw=2)
        if gamma > 0:
            ax_h.plot(x, hess_pos, color=color, lw=1.5, ls="--")
        root = negative_hessian_margin(gamma, n_classes=n_classes, label=label)
        if root is not None and lo <= root <= hi:
            ax_h.axvline(root, color=color, lw=0.8, ls=":")
            ax_h.plot([root], [0.0], "o", color=color, ms=6, mec="black", mew=0.6)
            side = "below" if (n_classes > 2 or label == 1) else "above"
            roots.append(f"γ = {gamma:g}: {side} {root:.2f}")
        ratio = np.abs(grad) / np.abs(ce_grad)
        ax_r.semilogy(x, np.maximum(ratio, 1e-300), color=color, lw=2)

    kind = "binary" if n_classes == 2 else f"softmax, K = {n_classes}"
    xlabel = (
        "margin x (log-odds of class 1)" if n_classes == 2 else "true-class margin z_y (others 0)"
    )
    who = f"label y = {label}" if n_classes == 2 else f"true class {label}"
    hard = "left" if (n_classes > 2 or label == 1) else "right"
    alpha_text = "" if alpha is None else f", α = {alpha if np.ndim(alpha) == 0 else list(alpha)}"

    ax_g.axhline(0, color="grey", lw=0.6)
    d = "x" if n_classes == 2 else "z_y"
    ax_g.set(title=f"gradient dL/d{d}", xlabel=xlabel, ylabel="gradient")
    ax_g.legend(title=f"{who}{alpha_text}", fontsize=9)

    ymin = min(line.get_ydata().min() for line in ax_h.get_lines() if len(line.get_ydata()) > 2)
    ymax = max(line.get_ydata().max() for line in ax_h.get_lines() if len(line.get_ydata()) > 2)
    span = ymax - min(ymin, 0.0)
    ax_h.set_ylim(min(ymin, 0.0) - 0.08 * span, ymax + 0.05 * span)
    ax_h.axhspan(ax_h.get_ylim()[0], 0.0, color="tab:red", alpha=0.07, lw=0)
    ax_h.axhline(0, color="grey", lw=0.6)
    ax_h.plot([], [], color="black", lw=2, label="exact")
    ax_h.plot([], [], color="black", lw=1.5, ls="--", label='hessian="positive"')
    ax_h.plot([], [], "o", color="white", mec="black", label="exact hessian = 0")
    ax_h.legend(fontsize=9, loc="upper left" if hard == "left" else "upper right")
    if roots:
        ax_h.text(
            0.03 if hard == "right" else 0.97,
            0.96,
            "exact hessian < 0\n" + "\n".join(roots),
            transform=ax_h.transAxes,
            ha="left" if hard == "right" else "right",
            va="top",
            fontsize=8,
            bbox=dict(boxstyle="round", fc="white", ec="lightgrey"),
        )
    ax_h.set(title=f"hessian d²L/d{d}²  (red: exact < 0)", xlabel=xlabel, ylabel="hessian")

    ax_r.axhline(1.0, color="grey", lw=0.6)
    bottom = max(ax_r.get_ylim()[0], 1e-8)
    ax_r.set_ylim(bottom, 3.0)
    ax_r.set(
        title="|gradient| relative to log loss (γ = 0)",
        xlabel=xlabel,
        ylabel=f"|dL/d{d}| / |dCE/d{d}|",
    )
    for label, at_left in (("hard rows", hard == "left"), ("easy rows", hard != "left")):
        ax_r.text(
            0.03 if at_left else 0.97,
            0.05,
            label,
            transform=ax_r.transAxes,
            ha="left" if at_left else "right",
            fontsize=9,
            color="dimgrey",
        )
    for ax in (ax_g, ax_h, ax_r):
        ax.set_xlim(lo, hi)
        ax.grid(alpha=0.3)
    fig.suptitle(f"Focal loss against the margin ({kind}, closed forms)")
    return fig


# --- model comparison -----------------------------------------------------------------------------


def _as_proba(p, n_classes):
    p = np.asarray(p, dtype=np.float64)
    if n_classes == 2:
        if p.ndim == 2:
            if p.shape[1] != 2:
                raise ValueError(f"binary probabilities must be (n,) or (n, 2), got {p.shape}")
            p = p[:, 1]
        return p
    if p.ndim != 2 or p.shape[1] != n_classes:
        raise ValueError(
            f"multiclass probabilities must have shape (n, {n_classes}), got {p.shape}"
        )
    return p


def _check_inputs(y_true, probas, classes):
    y = np.asarray(y_true)
    if not probas:
        raise ValueError("probas must map at least one model name to probabilities")
    first = np.asarray(next(iter(probas.values())))
    n_classes = len(classes) if classes is not None else (2 if first.ndim == 1 else first.shape[1])
    out = {}
    for name, p in probas.items():
        p = _as_proba(p, n_classes)
        if p.shape[0] != y.shape[0]:
            raise ValueError(f"probas[{name!r}] has {p.shape[0]} rows, y_true has {y.shape[0]}")
        out[name] = p
    if classes is None:
        classes = list(range(n_classes))
    return y, out, list(classes), n_classes


def _style(styles, name, i):
    base = {"color": plt.get_cmap("tab10")(i % 10), "lw": 1.8}
    if styles and name in styles:
        base.update(styles[name])
    return base


def plot_precision_recall(y_true, probas, *, classes=None, styles=None, ax=None, title=None):
    """Precision-recall curves of several models; average precision (PR-AUC) in the legend.

    Binary: one panel for class 1, with the positive rate (a random model's precision) drawn.
    Multiclass: one panel per class (one-vs-rest); ``ax`` is then not accepted.
    ``y_true`` holds class indices 0..K-1; ``classes`` gives their names.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Class indices 0..K-1.
    probas : dict of str to array-like of shape (n, K)
        Each model's class probabilities, by model name (the legend).
    classes : sequence of str, optional
        The class names (default: the indices).
    styles : dict of str to dict, optional
        Matplotlib line keywords per model name.
    ax : matplotlib Axes, optional
        Where to draw (binary only); default: a new figure.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib Figure
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    y, probas, classes, n_classes = _check_inputs(y_true, probas, classes)
    if n_classes == 2:
        if ax is None:
            fig, ax = plt.subplots(figsize=(7, 6), layout="constrained")
        else:
            fig = ax.figure
        _pr_panel(
            ax,
            y == 1,
            {k: p for k, p in probas.items()},
            styles,
            precision_recall_curve,
            average_precision_score,
        )
        ax.set_title(title or f"Precision-recall, positive class {classes[1]!r}")
        return fig
    if ax is not None:
        raise ValueError(
            "ax is only accepted for binary data; multiclass draws one panel per class"
        )
    ncols = min(3, n_classes)
    nrows = -(-n_classes // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(5.2 * ncols, 4.6 * nrows), layout="constrained", squeeze=False
    )
    for k in range(n_classes):
        ax_k = axes.flat[k]
        _pr_panel(
            ax_k,
            y == k,
            {n: p[:, k] for n, p in probas.items()},
            styles,
            precision_recall_curve,
            average_precision_score,
        )
        ax_k.set_title(f"class {classes[k]!r}")
    for ax_k in list(axes.flat)[n_classes:]:
        ax_k.set_visible(False)
    fig.suptitle(title or "Precision-recall, one class against the rest")
    return fig


def _pr_panel(ax, positive, scores, styles, pr_curve, ap_score):
    rate = float(np.mean(positive))
    for i, (name, s) in enumerate(scores.items()):
        precision, recall, _ = pr_curve(positive, s)
        ap = ap_score(positive, s)
        ax.step(
            recall,
            precision,
            where="post",
            label=f"{name}  (AP {ap:.3f})",
            **_style(styles, name, i),
        )
    ax.axhline(rate, color="grey", lw=0.8, ls=":", label=f"random (positive rate {rate:.3f})")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left", handlelength=3.5)  # PR curves leave it empty


def plot_calibration(
    y_true,
    probas,
    *,
    classes=None,
    n_bins=15,
    strategy="quantile",
    log_scale=None,
    styles=None,
    ax=None,
    title=None,
    show_ece=True,
):
    """Reliability curves: mean predicted probability against observed frequency, per bin.

    Binary: P(class 1). Multiclass: the top-label probability against the accuracy of the top
    label. ``strategy="quantile"`` (default) puts the same number of rows in each bin, which
    keeps bins populated when most probabilities are small (rare positives). ``log_scale``
    (default: when the positive rate is below 20 %) draws both axes logarithmically so the
    low-probability bins where most rows live are visible. A perfectly calibrated model lies on
    the diagonal; focal loss pushes probabilities towards 0.5 (under-confidence).

    ``show_ece`` adds each model's expected calibration error over the drawn bins to its legend
    entry: the mean vertical distance of its points from the diagonal, weighted by the rows in
    each bin (:func:`focalboost.metrics.expected_calibration_error`; with the defaults, 15
    equal-count bins, it is the ECE column of ``focalboost compare``).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Class indices 0..K-1.
    probas : dict of str to array-like of shape (n, K)
        Each model's class probabilities, by model name (the legend).
    classes : sequence of str, optional
        The class names (default: the indices).
    styles : dict of str to dict, optional
        Matplotlib line keywords per model name.
    ax : matplotlib Axes, optional
        Where to draw (binary only); default: a new figure.
    title : str, optional
        Figure title.
    n_bins : int, default 15
        Number of bins.
    strategy : {"quantile", "uniform"}, default "quantile"
        Equal-count or equal-width bins.
    log_scale : bool, optional
        Logarithmic axes; default: when the positive rate is below 20 %.
    show_ece : bool, default True
        Each model's ECE in its legend entry.

    Returns
    -------
    matplotlib Figure
    """
    from .metrics import expected_calibration_error

    y, probas, classes, n_classes = _check_inputs(y_true, probas, classes)
    if strategy not in ("quantile", "uniform"):
        raise ValueError(f"strategy must be 'quantile' or 'uniform', got {strategy!r}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 6), layout="constrained")
    else:
        fig = ax.figure
    if n_classes == 2:
        rate = float(np.mean(y == 1))
        what = f"P(y = {classes[1]!r})"
    else:
        rate = None
        what = "top-label probability"
    if log_scale is None:
        log_scale = rate is not None and rate < 0.2
    curves = []
    for i, (name, p) in enumerate(probas.items()):
        if n_classes == 2:
            conf, hit = p, (y == 1).astype(np.float64)
        else:
            conf, hit = p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64)
        label = name
        if show_ece:
            ece = expected_calibration_error(y, p, n_bins=n_bins, strategy=strategy)
            label = f"{name}  (ECE {ece:.4f})"
        curves.append((name, label, i) + _reliability(conf, hit, n_bins, strategy))
    if log_scale:
        positive = [v for *_, m, f in curves for v in np.concatenate([m, f]) if v > 0]
        lo = max(min(positive) / 1.5, 1e-4) if positive else 1e-4
        ax.set_xscale("log")
        ax.set_yscale("log")
        limits = (lo, 1.0)
    else:
        limits = (0.0, 1.0)
    zeros = False
    for name, label, i, mean_pred, frac in curves:
        style = {"marker": "o", "ms": 4, **_style(styles, name, i)}
        if log_scale:
            # a bin without a single hit has no place on a log axis: a triangle on the bottom
            # edge (y in axes units, lifted by half the marker so all of it is inside), clipped
            # like the curves' own points: a bin left of the axis floor is not drawn
            empty = frac <= 0
            zeros |= bool(empty.any())
            ax.plot(mean_pred, np.where(empty, np.nan, frac), label=label, **style)
            edge = blended_transform_factory(ax.transData, ax.transAxes)
            ax.plot(
                mean_pred[empty],
                np.zeros(empty.sum()),
                "v",
                ms=6,
                color=style["color"],
                transform=offset_copy(edge, fig=ax.figure, y=6 / 2 + 1.0 + 0.5, units="points"),
            )
        else:
            ax.plot(mean_pred, frac, label=label, **style)
    ax.set_xlim(*limits)
    ax.set_ylim(*limits)
    ax.plot(limits, limits, color="grey", ls=":", lw=1, label="perfectly calibrated")
    if zeros:
        ax.plot([], [], "v", color="grey", label="bin with no positive (0)")
    ax.set(xlabel=f"mean predicted {what} in bin", ylabel="observed frequency in bin")
    ax.set_aspect("equal")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left", handlelength=3.5)
    bins = f"{n_bins} {'equal-count' if strategy == 'quantile' else 'equal-width'} bins"
    ax.set_title(title or f"Calibration ({what}, {bins})")
    return fig


def _reliability(conf, hit, n_bins, strategy):
    """Mean confidence and mean hit rate per non-empty bin (:func:`focalboost.metrics.reliability_bins`,
    the bins of the ECE)."""
    from .metrics import reliability_bins

    mean_pred, frac, _ = reliability_bins(conf, hit, n_bins, strategy)
    return mean_pred, frac
