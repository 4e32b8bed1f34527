"""Argument checks shared by the loss objects and the adapters.

Every check raises ``ValueError`` (or ``TypeError`` for a wrong kind of object) whose message
names the argument, shows the bad value and says what is allowed.
"""

from __future__ import annotations

import numbers

import numpy as np

HESSIAN_CHOICES = ("positive", "exact")
DERIVATIVE_CHOICES = ("closed_form", "finite_difference")


def check_gamma(gamma):
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real):
        raise TypeError(f"gamma must be a real number >= 0, got {gamma!r} of type {type(gamma).__name__}")
    gamma = float(gamma)
    if not np.isfinite(gamma) or gamma < 0:
        raise ValueError(f"gamma must be a finite number >= 0, got {gamma!r}")
    return gamma


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def check_binary_alpha(alpha):
    """``None`` (no weighting) or a number strictly inside (0, 1): the weight of class 1."""
    if alpha is None:
        return None
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(
            f"alpha must be None or a number in (0, 1) (the weight of class 1), got {alpha!r}"
        )
    alpha = float(alpha)
    if not (0.0 < alpha < 1.0):
        raise ValueError(
            f"alpha must be None or a number in the open interval (0, 1) (the weight of class 1), "
            f"got {alpha!r}"
        )
    return alpha


def check_class_alpha(alpha, n_classes):
    """``None`` or a length-``n_classes`` vector of finite positive per-class weights."""
    if alpha is None:
        return None
    arr = np.asarray(alpha, dtype=np.float64)
    if arr.ndim != 1 or (n_classes is not None and arr.shape[0] != n_classes):
        raise ValueError(
            f"alpha must be None or a 1-D vector of {n_classes} positive per-class weights, "
            f"got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"alpha must contain finite weights > 0 only, got {arr.tolist()}")
    return arr


def check_n_classes(n_classes):
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    return int(n_classes)


def as_raw(raw_prediction, ndim, name="raw_prediction"):
    """Margins as a float64 array of ``ndim`` dimensions, all finite."""
    raw = np.asarray(raw_prediction)
    if raw.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a numeric array, got dtype {raw.dtype}")
    raw = raw.astype(np.float64, copy=False)
    if raw.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {raw.shape}")
    if not np.all(np.isfinite(raw)):
        bad = int(np.size(raw) - np.count_nonzero(np.isfinite(raw)))
        raise ValueError(f"{name} must be finite; it has {bad} NaN or infinite value(s)")
    return raw


def label_vector(y_true, n_rows, name="y_true"):
    """``y_true`` as a 1-D array of ``n_rows`` labels, values and dtype as given (an (n, 1)
    column is accepted)."""
    y = np.asarray(y_true)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {y.shape}")
    if y.shape[0] != n_rows:
        raise ValueError(f"{name} has {y.shape[0]} rows but raw_prediction has {n_rows}")
    return y


def as_labels(y_true, n_classes, n_rows, name="y_true"):
    """Integer class labels 0..n_classes-1 (floats equal to integers are accepted)."""
    y = label_vector(y_true, n_rows, name)
    if y.dtype.kind == "b":
        y = y.astype(np.int64)
    if y.dtype.kind not in "fiu":
        raise ValueError(f"{name} must hold class indices 0..{n_classes - 1}, got dtype {y.dtype}")
    yf = y.astype(np.float64, copy=False)
    if np.any(np.isnan(yf)):
        raise ValueError(f"{name} contains NaN; labels must be class indices 0..{n_classes - 1}")
    yi = yf.astype(np.int64)
    if np.any(yi != yf) or np.any(yi < 0) or np.any(yi >= n_classes):
        bad = np.unique(yf[(yi != yf) | (yi < 0) | (yi >= n_classes)])[:5]
        raise ValueError(
            f"{name} must hold class indices in 0..{n_classes - 1}, found {bad.tolist()}"
        )
    return yi


def as_weights(sample_weight, n_rows, name="sample_weight"):
    """``None`` or a 1-D float64 vector of finite non-negative weights."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.size == 0:  # XGBoost reports "no weights" as an empty array
        return None
    if w.ndim != 1 or w.shape[0] != n_rows:
        raise ValueError(f"{name} must be a 1-D array of {n_rows} weights, got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"{name} must contain finite weights >= 0 only")
    return w
