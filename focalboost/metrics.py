"""Metrics of a classifier's probabilities, as `focalboost compare` reports them.

Binary (PR-AUC, ROC-AUC, log loss, Brier, ECE, best F1 and its threshold, recall at 90 %
precision), multiclass and multi-label summaries, and the expected calibration error with the
reliability bins it is computed on (shared with :mod:`focalboost.plot`).
"""

from __future__ import annotations

import numpy as np

#: expected calibration error: bins of the predicted probability (see expected_calibration_error)
ECE_BINS = 15
ECE_STRATEGY = "quantile"


def reliability_bins(conf, hit, n_bins=ECE_BINS, strategy=ECE_STRATEGY):
    """Bins of a reliability diagram: mean prediction, observed rate and size of each bin.

    ``conf`` are predicted probabilities, ``hit`` the 0/1 outcomes they predict.

    * ``strategy="quantile"`` (equal-count bins): the rows sorted by ``conf`` are cut into
      ``n_bins`` runs of (nearly) equal length; rows with the same ``conf`` stay together, in the
      bin of the middle row of their run, so a bin never splits tied predictions (with many ties
      there are fewer, larger bins).
    * ``strategy="uniform"`` (equal-width bins): ``n_bins`` intervals of [0, 1],
      ``[b / n_bins, (b + 1) / n_bins)``, the last one closed.

    Empty bins are left out. Returns ``(mean_pred, frac, counts)``, arrays over the bins in
    increasing order of ``conf``.

    Parameters
    ----------
    conf : array-like of shape (n,)
        Predicted probabilities.
    hit : array-like of shape (n,)
        The 0/1 outcomes they predict.
    n_bins : int, default ECE_BINS (15)
        Number of bins.
    strategy : {"quantile", "uniform"}, default ECE_STRATEGY ("quantile")
        Equal-count or equal-width bins.

    Returns
    -------
    mean_pred, frac, counts : ndarray
        Over the non-empty bins, in increasing order of ``conf``.
    """
    conf = np.asarray(conf, dtype=np.float64).ravel()
    hit = np.asarray(hit, dtype=np.float64).ravel()
    n_bins = int(n_bins)
    if n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    if strategy == "quantile":
        n = conf.shape[0]
        order = np.argsort(conf, kind="stable")
        values, first, inverse, sizes = np.unique(
            conf[order], return_index=True, return_inverse=True, return_counts=True
        )
        middle = first + (sizes - 1) // 2  # sorted position of each tie group's middle row
        bins = np.empty(n, dtype=np.int64)
        bins[order] = (middle * n_bins // max(n, 1))[inverse.ravel()]
    elif strategy == "uniform":
        bins = np.clip((conf * n_bins).astype(np.int64), 0, n_bins - 1)
    else:
        raise ValueError(f"strategy must be 'quantile' or 'uniform', got {strategy!r}")
    counts = np.bincount(bins, minlength=n_bins)
    keep = counts > 0
    mean_pred = np.bincount(bins, weights=conf, minlength=n_bins)[keep] / counts[keep]
    frac = np.bincount(bins, weights=hit, minlength=n_bins)[keep] / counts[keep]
    return mean_pred, frac, counts[keep]


def expected_calibration_error(y_true, proba, n_bins=ECE_BINS, strategy=ECE_STRATEGY):
    """Expected calibration error: sum over bins of ``(rows in bin / n) * |mean predicted - observed|``.

    The bins are those of :func:`reliability_bins`: by default 15 equal-count bins of the
    predicted probability (tied predictions kept in one bin), which stay populated when most
    predictions are small (rare positives; equal-width bins would put nearly every row in the
    first bin). 0 is perfect; it is a biased (upward) estimate on few rows per bin.

    * binary, ``y_true`` (n,) in {0, 1}: bins of P(class 1), observed = share of class 1;
    * multiclass, ``y_true`` (n,) in 0..K-1 and ``proba`` (n, K): top-label (confidence) ECE, bins
      of the largest probability, observed = share of rows whose arg-max class is right;
    * multi-label, ``y_true`` (n, L) 0/1 and ``proba`` (n, L): the mean over labels of each
      label's binary ECE.

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, L)
        Labels: {0, 1}, 0..K-1, or a 0/1 indicator matrix (multi-label).
    proba : array-like of shape (n,), (n, 2), (n, K) or (n, L)
        Predicted probabilities.
    n_bins : int, default ECE_BINS (15)
        Number of bins.
    strategy : {"quantile", "uniform"}, default ECE_STRATEGY ("quantile")
        Equal-count or equal-width bins (:func:`reliability_bins`).

    Returns
    -------
    float
    """
    y = np.asarray(y_true)
    P = np.asarray(proba, dtype=np.float64)
    if y.ndim == 2:  # multi-label
        return float(
            np.mean(
                [
                    expected_calibration_error(y[:, j], P[:, j], n_bins, strategy)
                    for j in range(y.shape[1])
                ]
            )
        )
    if P.ndim == 1 or P.shape[1] == 2:
        conf = P if P.ndim == 1 else P[:, 1]
        hit = (y == 1).astype(np.float64)
    else:
        conf = P.max(axis=1)
        hit = (P.argmax(axis=1) == y).astype(np.float64)
    mean_pred, frac, counts = reliability_bins(conf, hit, n_bins, strategy)
    return float(np.sum(counts * np.abs(mean_pred - frac)) / counts.sum())


def binary_metrics(y_true, proba):
    """PR-AUC, ROC-AUC, log loss, Brier, ECE, best F1 and its threshold, recall at 90% precision.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Labels in {0, 1}.
    proba : array-like of shape (n,) or (n, 2)
        P(class 1), or both columns.

    Returns
    -------
    dict
        Metric name -> value (the columns of ``focalboost compare``).
    """
    from sklearn.metrics import (
        average_precision_score,
        brier_score_loss,
        log_loss,
        precision_recall_curve,
        roc_auc_score,
    )

    p = np.asarray(proba, dtype=np.float64)
    p = p[:, 1] if p.ndim == 2 else p
    precision, recall, thresholds = precision_recall_curve(y_true, p)
    denom = precision[:-1] + recall[:-1]
    f1 = np.divide(
        2 * precision[:-1] * recall[:-1], denom, out=np.zeros_like(denom), where=denom > 0
    )
    best = int(np.argmax(f1))
    reachable = precision >= 0.9
    return {
        "pr_auc": float(average_precision_score(y_true, p)),
        "roc_auc": float(roc_auc_score(y_true, p)),
        "log_loss": float(log_loss(y_true, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "brier": float(brier_score_loss(y_true, p)),
        "ece": expected_calibration_error(y_true, p),
        "best_f1": float(f1[best]),
        "best_f1_threshold": float(thresholds[best]),
        "recall_at_90_precision": float(recall[reachable].max()) if reachable.any() else 0.0,
    }


def multiclass_metrics(y_true, proba):
    """Macro PR-AUC (one-vs-rest), balanced accuracy, macro F1, log loss, Brier, top-label ECE.

    Brier is the multiclass Brier score: the mean over rows of sum_k (p_k - [y = k])^2 (0 is
    perfect, 2 the worst).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Class indices 0..K-1.
    proba : array-like of shape (n, K)
        Class probabilities.

    Returns
    -------
    dict
        Metric name -> value.
    """
    from sklearn.metrics import (
        average_precision_score,
        balanced_accuracy_score,
        f1_score,
        log_loss,
    )
    from sklearn.preprocessing import label_binarize

    P = np.asarray(proba, dtype=np.float64)
    P = P / P.sum(axis=1, keepdims=True)  # float32 rows (XGBoost) sum to 1 only within 1e-7
    K = P.shape[1]
    pred = P.argmax(axis=1)
    onehot = label_binarize(y_true, classes=np.arange(K))
    return {
        "macro_pr_auc": float(average_precision_score(onehot, P, average="macro")),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, pred)),
        "macro_f1": float(f1_score(y_true, pred, average="macro")),
        "log_loss": float(log_loss(y_true, P, labels=np.arange(K))),
        "brier": float(np.mean(np.sum((P - onehot) ** 2, axis=1))),
        "ece": expected_calibration_error(y_true, P),
    }


def multilabel_metrics(Y_true, proba, labels):
    """Per-label and macro PR-AUC and ROC-AUC; log loss, Brier and ECE averaged over labels.

    ``Y_true`` (n, L) 0/1, ``proba`` (n, L) positive-class probabilities. Per-label values are
    keyed ``"pr_auc[<label>]"`` / ``"roc_auc[<label>]"``; macro = the unweighted mean over labels.

    Parameters
    ----------
    Y_true : array-like of shape (n, L)
        0/1 indicator matrix.
    proba : array-like of shape (n, L)
        Positive-class probability of each label.
    labels : sequence of str
        The label names, in column order (for the per-label keys).

    Returns
    -------
    dict
        Metric name -> value.
    """
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

    Y = np.asarray(Y_true)
    P = np.clip(np.asarray(proba, dtype=np.float64), 1e-15, 1 - 1e-15)
    out, pr, roc, ll, brier = {}, [], [], [], []
    for j, label in enumerate(labels):
        pr.append(float(average_precision_score(Y[:, j], P[:, j])))
        roc.append(float(roc_auc_score(Y[:, j], P[:, j])))
        ll.append(float(log_loss(Y[:, j], P[:, j], labels=[0, 1])))
        brier.append(float(np.mean((P[:, j] - Y[:, j]) ** 2)))
        out[f"pr_auc[{label}]"] = pr[-1]
    for j, label in enumerate(labels):
        out[f"roc_auc[{label}]"] = roc[j]
    out.update(
        macro_pr_auc=float(np.mean(pr)),
        macro_roc_auc=float(np.mean(roc)),
        log_loss=float(np.mean(ll)),
        brier=float(np.mean(brier)),
        ece=expected_calibration_error(Y, P),
    )
    return out
