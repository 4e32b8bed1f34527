"""Every argument and input check of the loss objects, the kernels and the adapters.

Every check raises ``ValueError`` (or ``TypeError`` for a wrong kind of object) whose message
names the argument, shows the bad value and says what is allowed. There is one wording per error:
the numpy formulas (:mod:`focalboost._base`), the fused kernels (:mod:`focalboost._kernels`) and
the posterior maps (:mod:`focalboost.posterior`) all raise through the functions here, so an input
gets the same message whichever path computes it.

Order of the checks. The structure of every array comes first (dtypes, then shapes: margins,
labels, weights), the values second (finite margins, then valid labels, then valid weights). The
kernels check the structure before their pass over the rows and flag bad values during it, so
with this order both paths report the same problem when an input has several.
"""

from __future__ import annotations

import numbers

import numpy as np

HESSIAN_CHOICES = ("positive", "exact")
DERIVATIVE_CHOICES = ("closed_form", "finite_difference")
#: dtype kinds accepted as numbers: float, signed and unsigned integer, bool
NUMERIC_KINDS = "fiub"


# --- parameters ----------------------------------------------------------------------------------
def check_gamma(gamma):
    if isinstance(gamma, (bool, np.bool_)) or not isinstance(gamma, numbers.Real):
        raise TypeError(f"gamma must be a real number >= 0, got {gamma!r} of type {type(gamma).__name__}")
    gamma = float(gamma)
    if not np.isfinite(gamma) or gamma < 0:
        raise ValueError(f"gamma must be a finite number >= 0, got {gamma!r}")
    return gamma


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def check_callable(name, value):
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {value!r}")
    return value


def check_binary_alpha(alpha):
    """``None`` (no weighting) or a number strictly inside (0, 1): the weight of class 1."""
    if alpha is None:
        return None
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, numbers.Real):
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


def check_label_alpha(alpha):
    """Multi-label alpha: ``None``, one number in (0, 1) for every label, or a 1-D vector of
    per-label numbers in (0, 1)."""
    if alpha is None or np.ndim(alpha) == 0:
        return check_binary_alpha(alpha)
    arr = np.asarray(alpha, dtype=np.float64)
    if arr.ndim != 1 or not np.all((arr > 0) & (arr < 1)):
        raise ValueError(
            "alpha must be None, a number in (0, 1) or a 1-D vector of per-label numbers "
            f"in (0, 1), got {np.asarray(alpha).tolist()}"
        )
    return arr


def check_n_classes(n_classes):
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    return int(n_classes)


def check_exactly_one(raw_prediction, proba):
    if (raw_prediction is None) == (proba is None):
        raise TypeError(
            "pass exactly one of raw_prediction (margins, the accurate path) and proba "
            "(the focal model's probabilities)"
        )


# --- margins -------------------------------------------------------------------------------------
def numeric_array(value, name):
    """``value`` as an array of a numeric dtype (float, integer or bool), not converted."""
    arr = np.asarray(value)
    if arr.dtype.kind not in NUMERIC_KINDS:
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    return arr


def check_n_columns(arr, n_columns=None, name="raw_prediction", per="one margin per class"):
    """A 2-D ``arr`` has ``n_columns`` columns (``None``: at least 2, one per class)."""
    if n_columns is None:
        if arr.shape[1] < 2:
            raise ValueError(f"{name} must have at least 2 columns (classes), got shape {arr.shape}")
    elif arr.shape[1] != n_columns:
        raise ValueError(f"{name} must have {n_columns} columns ({per}), got shape {arr.shape}")
    return arr


def margin_array(raw_prediction, ndim, n_columns=None, name="raw_prediction"):
    """The structure of margins: a numeric array of ``ndim`` dimensions (and, for ``ndim == 2``,
    ``n_columns`` columns, or at least 2 for ``None``); dtype and values as given."""
    raw = numeric_array(raw_prediction, name)
    if raw.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {raw.shape}")
    if ndim == 2:
        check_n_columns(raw, n_columns, name)
    return raw


def non_finite_error(raw, name="raw_prediction"):
    """The error for margins with NaN or infinite values (counted by rows)."""
    finite = np.isfinite(raw)
    rows = np.count_nonzero(~(finite if finite.ndim == 1 else finite.all(axis=tuple(range(1, finite.ndim)))))
    return ValueError(f"{name} must be finite; found {rows} row(s) with NaN or infinite margins")


def check_finite(raw, name="raw_prediction"):
    if not np.all(np.isfinite(raw)):
        raise non_finite_error(raw, name)
    return raw


def as_raw(raw_prediction, ndim, name="raw_prediction"):
    """Margins as a float64 array of ``ndim`` dimensions, all finite."""
    raw = numeric_array(raw_prediction, name)
    if raw.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {raw.shape}")
    return check_finite(raw.astype(np.float64, copy=False), name)


# --- labels --------------------------------------------------------------------------------------
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


def check_label_dtype(y, n_classes, name="y_true"):
    """Labels of a numeric dtype (float, integer or bool)."""
    if y.dtype.kind not in NUMERIC_KINDS:
        raise ValueError(f"{name} must hold class indices 0..{n_classes - 1}, got dtype {y.dtype}")
    return y


def label_error(y, n_classes, name="y_true"):
    """The error for labels that are not class indices 0..n_classes-1 (NaN named first)."""
    yf = np.asarray(y).astype(np.float64)
    if np.any(np.isnan(yf)):
        return ValueError(f"{name} contains NaN; labels must be class indices 0..{n_classes - 1}")
    invalid = ~np.isin(yf, np.arange(n_classes))
    return ValueError(
        f"{name} must hold class indices in 0..{n_classes - 1}; found "
        f"{np.count_nonzero(invalid)} invalid label(s), e.g. {np.unique(yf[invalid])[:5].tolist()}"
    )


def labels_from(y, n_classes, name="y_true"):
    """Class indices (int64) from labels of a checked numeric dtype, or :func:`label_error`."""
    if y.dtype.kind == "b":
        return y.astype(np.int64)
    yf = y.astype(np.float64, copy=False)
    with np.errstate(invalid="ignore"):
        yi = yf.astype(np.int64)
    if np.any(yi != yf) or np.any(yi < 0) or np.any(yi >= n_classes):
        raise label_error(yf, n_classes, name)
    return yi


def as_labels(y_true, n_classes, n_rows, name="y_true"):
    """Integer class labels 0..n_classes-1 (floats equal to integers, and bools, are accepted)."""
    y = check_label_dtype(label_vector(y_true, n_rows, name), n_classes, name)
    return labels_from(y, n_classes, name)


def as_indicator(y_true, shape, name="y_true"):
    """y as a float 0/1 matrix of the given shape (n, L); L = -1 accepts any number of labels."""
    y = np.asarray(y_true)
    if y.ndim != 2 or y.shape[0] != shape[0] or (shape[1] != -1 and y.shape[1] != shape[1]):
        raise ValueError(
            f"{name} must be a 2-D 0/1 indicator matrix of shape {tuple(shape)}, got shape {y.shape}"
        )
    if y.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold 0/1 indicators, got dtype {y.dtype}")
    y = y.astype(np.float64)
    if not np.all((y == 0) | (y == 1)):
        bad = np.unique(y[(y != 0) & (y != 1)])[:5]
        raise ValueError(f"{name} must hold only 0 and 1 (multi-label indicators), found {bad.tolist()}")
    return y


def check_matrix(arr, name, shape="(n, L)"):
    """A 2-D array (e.g. per-label posteriors (n, L))."""
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape {shape}, got shape {arr.shape}")
    return arr


def check_n_labels(raw, n_labels):
    """Multi-label margins (n, L) have the number of labels a per-label alpha fixes."""
    if n_labels is not None and raw.shape[1] != n_labels:
        raise ValueError(f"raw_prediction has {raw.shape[1]} labels but alpha has {n_labels} values")
    return raw


def check_class_totals(totals, every_class=False, name="y_true"):
    """Class weight totals that admit a constant init score: two classes (``every_class``: all
    of them) with positive weight."""
    if np.count_nonzero(totals) < 2:
        raise ValueError(
            f"{name} must contain at least two classes with positive weight to fit an init "
            f"score; class weight totals are {totals.tolist()}"
        )
    if every_class and np.any(totals == 0):
        missing = np.flatnonzero(totals == 0).tolist()
        raise ValueError(
            f"{name} has no (positively weighted) rows of class(es) {missing}: the best "
            "constant margin for them is -infinity"
        )
    return totals


# --- weights -------------------------------------------------------------------------------------
def weight_vector(sample_weight, n_rows, name="sample_weight"):
    """The structure of weights: ``None`` (also for an empty array: XGBoost reports "no weights"
    that way) or a numeric 1-D array of ``n_rows`` weights, dtype and values as given. An object
    array is converted to float64 (a TypeError if it holds anything but numbers)."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight)
    if w.size == 0:
        return None
    if w.dtype.kind == "O":
        try:
            w = w.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a numeric array, got dtype {w.dtype}") from None
    elif w.dtype.kind not in NUMERIC_KINDS:
        raise TypeError(f"{name} must be a numeric array, got dtype {w.dtype}")
    if w.ndim != 1 or w.shape[0] != n_rows:
        raise ValueError(f"{name} must be a 1-D array of {n_rows} weights, got shape {w.shape}")
    return w


def weight_error(w, name="sample_weight"):
    """The error for weights that are not all finite and >= 0."""
    wf = np.asarray(w).astype(np.float64)
    invalid = ~(np.isfinite(wf) & (wf >= 0))
    return ValueError(
        f"{name} must contain finite weights >= 0 only; found {np.count_nonzero(invalid)} "
        f"invalid weight(s), e.g. {np.unique(wf[invalid])[:5].tolist()}"
    )


def check_weight_values(w, name="sample_weight"):
    if w is not None and (not np.all(np.isfinite(w)) or np.any(w < 0)):
        raise weight_error(w, name)
    return w


def as_weights(sample_weight, n_rows, name="sample_weight"):
    """``None`` or a 1-D float64 vector of finite non-negative weights."""
    w = weight_vector(sample_weight, n_rows, name)
    if w is None:
        return None
    return check_weight_values(w.astype(np.float64, copy=False), name)


# --- everything a loss takes, in the order of the module docstring ------------------------------
def check_data(y_true, raw_prediction, sample_weight, ndim, n_classes):
    """``(y, raw, w)`` for a binary (``ndim == 1``) or multiclass (``ndim == 2``, ``n_classes``
    columns) loss: int64 labels 0..n_classes-1, finite float64 margins, ``None`` or float64
    weights >= 0."""
    raw = margin_array(raw_prediction, ndim, n_classes)
    y = check_label_dtype(label_vector(y_true, raw.shape[0]), n_classes)
    w = weight_vector(sample_weight, raw.shape[0])
    raw = check_finite(raw.astype(np.float64, copy=False))
    y = labels_from(y, n_classes)
    w = None if w is None else check_weight_values(w.astype(np.float64, copy=False))
    return y, raw, w


def check_out(out, shape, name="out"):
    """A (grad, hess) pair of preallocated, writeable, non-overlapping float64 or float32 arrays
    of ``shape`` (any memory order)."""
    grad, hess = out
    for arr in (grad, hess):
        if (
            not isinstance(arr, np.ndarray)
            or arr.shape != shape
            or arr.dtype not in (np.dtype(np.float32), np.dtype(np.float64))
        ):
            raise ValueError(
                f"{name} must be a pair of float64 (or float32) arrays of shape {shape}, got "
                f"{getattr(arr, 'shape', None)} {getattr(arr, 'dtype', type(arr).__name__)}"
            )
        if not arr.flags.writeable:
            raise ValueError(f"{name} arrays must be writeable")
    if np.shares_memory(grad, hess):
        raise ValueError(f"{name}: gradient and hessian buffers must not overlap")
    return grad, hess


def function_name(function):
    """``module.qualname`` of a function (its repr for other callables), for messages."""
    qualname = getattr(function, "__qualname__", None)
    if qualname is None:
        return repr(function)
    module = getattr(function, "__module__", None)
    return qualname if module in (None, "builtins", "__main__") else f"{module}.{qualname}"


def _rows_of(arr, bad):
    """Indices of the rows of ``arr`` where the boolean ``bad`` (same leading axis) holds."""
    return np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1)) if bad.ndim else np.array([], int)


def check_loss_output(value, shape, name="loss_function", function=None, margins=None, rows_at=None):
    """A user's loss function returned one finite float64 loss per row (shape ``shape``).

    ``function`` and ``margins`` (what it was called with) name the function and show the
    margins of the rows where it returned NaN or an infinite value; ``rows_at``, the rows' own
    margins when ``margins`` are points around them (finite differences).
    """
    value = np.asarray(value, dtype=np.float64)
    if value.shape != shape:
        raise ValueError(f"{name} must return one loss per row, shape {shape}, got shape {value.shape}")
    if margins is not None and not np.all(np.isfinite(value)):
        rows = _rows_of(value, ~np.isfinite(value))
        raise ValueError(
            f"{name} {function_name(function)} must return finite losses; it returned NaN or "
            f"infinite values for {rows.size} row(s) (e.g. rows {rows[:3].tolist()}: "
            f"{value[rows[:3]].tolist()}) at the margins {np.asarray(margins)[rows[:3]].tolist()}"
            + ("" if rows_at is None or rows_at is margins else
               f", evaluated for the finite differences around the rows' margins "
               f"{np.asarray(rows_at)[rows[:3]].tolist()}")
        )
    return value


def check_finite_differences(grad, hess, function, margins, name="loss_function"):
    """The finite-difference gradient and hessian of a user's loss are finite (they overflow
    when the loss values are too large for differences of them, ~1e307)."""
    bad = ~(np.isfinite(grad) & np.isfinite(hess))
    if np.any(bad):
        rows = _rows_of(bad, bad)
        raise ValueError(
            f"the finite differences of {name} {function_name(function)} are not finite for "
            f"{rows.size} row(s) (its losses are too large to difference), e.g. at the margins "
            f"{np.asarray(margins)[rows[:3]].tolist()}"
        )
    return grad, hess


# --- probabilities -------------------------------------------------------------------------------
def as_probabilities(value, name, binary, positive=False, row_sum_tolerance=1e-4):
    """Probabilities as float64: binary (n,) or (n, 2), else (n, K >= 2); rows of 2-D sum to 1
    within ``row_sum_tolerance``.

    ``positive``: every entry must be > 0 (and a 1-D one < 1), as the inverse maps need. In 2-D an
    entry may round to 1 when the others, which carry the digits, are positive.
    """
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a numeric array of probabilities, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if binary:
        ok, shapes = arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 2), "(n,) or (n, 2)"
    else:
        ok, shapes = arr.ndim == 2 and arr.shape[1] >= 2, "(n, K) with K >= 2"
    if not ok:
        raise ValueError(f"{name} must have shape {shapes}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; it has NaN or infinite values")
    if positive and arr.ndim == 1:
        bad, allowed = (arr <= 0) | (arr >= 1), "the open interval (0, 1)"
    elif positive:
        bad, allowed = (arr <= 0) | (arr > 1), "(0, 1]"
    else:
        bad, allowed = (arr < 0) | (arr > 1), "[0, 1]"
    if np.any(bad):
        raise ValueError(
            f"{name} must hold probabilities in {allowed}, found {np.unique(arr[bad])[:5].tolist()}"
        )
    if arr.ndim == 2:
        sums = arr.sum(axis=1)
        off = np.abs(sums - 1.0) > row_sum_tolerance
        if np.any(off):
            hint = " (margins go in raw_prediction)" if name == "proba" else ""
            raise ValueError(
                f"the rows of {name} must sum to 1 (within {row_sum_tolerance}){hint}; "
                f"{int(off.sum())} row(s) do not, e.g. {sums[off][:3].tolist()}"
            )
    return arr


def check_proba_out(out, shape):
    """``out`` of a posterior, if it is a writeable C-contiguous float64 array of ``shape``;
    else ValueError."""
    if not (isinstance(out, np.ndarray) and out.shape == shape and out.dtype == np.float64
            and out.flags.c_contiguous and out.flags.writeable):
        raise ValueError(f"out must be a writeable C-contiguous float64 array of shape {shape}")
    return out
