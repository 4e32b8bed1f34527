"""The posterior correction off the focal optimum: a strength and a temperature, fitted on
held-out margins.

The posterior correction (:mod:`focalboost.posterior`) is exact where the margins are the focal
risk's minimiser. A finite booster's margins are not: early rounds are too timid, overfit rounds
too bold, and the correction sharpens whatever it is given (binary: logit(eta) ~ (1 + gamma) x),
so an overfit focal model's corrected probabilities can be worse than its raw sigmoid.

The remedy is two parameters, a correction strength s in [0, 1] and a temperature T > 0 on the
margins::

    p = posterior_{gamma s, alpha^s}(margin / T)

the posterior formula of a focal loss with gamma s and class weights alpha^s (binary: the
log-odds shift s log((1 - alpha) / alpha)), applied to the margins divided by T.

* s = 1, T = 1 is the exact correction (``probability="posterior"``);
* s = 0, T = 1 is the raw sigmoid/softmax of the margins (``probability="focal"``): gamma 0 and
  no class weights (alpha^0 = 1);
* s = 1 and T ~ 1 + gamma give back roughly the raw sigmoid in the binary case; T > 1 softens
  (an overfit model), T < 1 sharpens (an under-trained one).

(s, T) minimise the weighted log loss on held-out rows (for the estimators: the last evaluation
set, at the best iteration after early stopping; for a refit of ``focalboost.FocalSearchCV``
without one: the best candidate's out-of-fold margins), starting from the exact and the raw corners
(whose log losses are evaluated too: the fit is never worse on those rows than either). Both
parameters act on the scale of the margins and on the class-weight shift only: the order of the
rows of a binary model, hence ROC and PR AUC, does not change (multiclass one-vs-rest AUCs can
move a little, as with the exact correction).

Why two parameters (measured, benchmarks/RESULTS.md "Probabilities of focal models on real
data"): a temperature alone cannot reach the raw softmax of a multiclass model, which was the
best of the candidates on several small multiclass sets without early stopping; the strength
alone cannot soften beyond the raw output, which an overfit model on imbalanced data needed
(fitted temperatures up to 7.7 on Caravan).

Functions
---------
tempered_posterior(loss, margin, temperature, strength=1.0)
    ``posterior_{gamma s, alpha^s}(margin / temperature)``.
fit_temperature(loss, y, margin, sample_weight=None, strength=1.0)
    The temperature minimising the log loss at a fixed strength.
fit_strength_temperature(loss, y, margin, sample_weight=None)
    (strength, temperature) minimising the log loss: what ``probability="auto"`` uses.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

__all__ = [
    "TEMPERATURE_BOUNDS",
    "fit_strength_temperature",
    "fit_temperature",
    "strength_loss",
    "tempered_posterior",
    "weighted_log_loss",
]

#: the range searched for the temperature: wide enough for margins 20 times too bold or too timid
TEMPERATURE_BOUNDS = (0.05, 20.0)
#: the estimators fit (s, T) on the margins of at most this many values (rows x columns; a
#: fixed-seed sample of the rows of a larger eval set, said in ``probability_calibration_``): two
#: parameters need no more, and the fit evaluates the posterior about 150 times (measured here, on
#: a shared 2-core machine: 100,000 x 5 multiclass margins 84 s before the cap, 4,000 x 5 about
#: 1 s, 20,000 binary rows about 0.5 s)
MAX_FIT_MARGINS = 20_000
#: probabilities are clipped to [PROBA_FLOOR, 1] inside the log loss (one confident mistake would
#: otherwise give +inf and decide the fit alone)
PROBA_FLOOR = 1e-15


def strength_loss(loss, strength):
    """The focal loss of gamma s and class weights alpha^s (binary: the weight whose log-odds
    shift log((1 - alpha) / alpha) is multiplied by s): ``loss`` itself for s = 1.

    Parameters
    ----------
    loss : BinaryFocalLoss, MulticlassFocalLoss or MultiLabelFocalLoss
        The focal loss to weaken.
    strength : float in [0, 1]
        The correction strength s.

    Returns
    -------
    loss : BoostingLoss
        A loss of the same type with gamma s and class weights alpha^s.
    """
    from .losses import BinaryFocalLoss, MulticlassFocalLoss, MultiLabelFocalLoss

    strength = check_strength(strength)
    if strength == 1.0:
        return loss
    gamma, alpha = loss.gamma * strength, loss.alpha
    if isinstance(loss, MulticlassFocalLoss):
        alpha = None if alpha is None else np.asarray(alpha, dtype=np.float64) ** strength
        return MulticlassFocalLoss(loss.n_classes, gamma, alpha, loss.hessian)
    if alpha is not None:
        a = np.asarray(alpha, dtype=np.float64)
        a = 1.0 / (1.0 + ((1.0 - a) / a) ** strength)
        alpha = float(a) if a.ndim == 0 else a
    if isinstance(loss, MultiLabelFocalLoss):
        return MultiLabelFocalLoss(gamma, alpha, loss.hessian)
    if isinstance(loss, BinaryFocalLoss):
        return BinaryFocalLoss(gamma, alpha, loss.hessian)
    raise ValueError(
        f"a correction strength other than 1 needs a focalboost focal loss, got {type(loss).__name__}"
    )


def tempered_posterior(loss, margin, temperature, strength=1.0):
    """``posterior_{gamma s, alpha^s}(margin / temperature)``: (n, 2) binary, (n, K) multiclass.

    ``temperature`` must be a positive finite number and ``strength`` in [0, 1]; (1, 1) is the
    exact correction, ``loss.posterior(margin)`` to the last bit.

    Parameters
    ----------
    loss : BinaryFocalLoss or MulticlassFocalLoss
        The loss the model was trained with (its ``posterior`` is the exact correction).
    margin : array-like of shape (n,) or (n, K)
        The model's margins (init score included).
    temperature : float
        The temperature T (> 0) the margins are divided by.
    strength : float in [0, 1], default 1
        The correction strength s.

    Returns
    -------
    ndarray of shape (n, 2) or (n, K)
        The probabilities.
    """
    temperature = check_temperature(temperature)
    margin = np.asarray(margin, dtype=np.float64)
    return strength_loss(loss, strength).posterior(margin if temperature == 1.0 else margin / temperature)


def check_strength(strength):
    """``strength`` as a float in [0, 1], or a ``ValueError`` naming it."""
    try:
        value = float(strength)
    except (TypeError, ValueError):
        value = np.nan
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"strength must be a number in [0, 1], got {strength!r}")
    return value


def check_temperature(temperature):
    """``temperature`` as a float, or a ``ValueError`` naming it."""
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        value = np.nan
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")
    return value


def weighted_log_loss(y, proba, sample_weight=None):
    """Weighted mean of -log proba[i, y_i] (probabilities clipped below at ``PROBA_FLOOR``).

    Parameters
    ----------
    y : array-like of shape (n,)
        Encoded labels 0..K-1.
    proba : array-like of shape (n, K)
        Probabilities of the K classes.
    sample_weight : array-like of shape (n,), optional
        Row weights (default: all 1).

    Returns
    -------
    float
        The weighted log loss.
    """
    y = np.asarray(y).astype(np.int64)
    picked = np.asarray(proba, dtype=np.float64)[np.arange(y.shape[0]), y]
    losses = -np.log(np.clip(picked, PROBA_FLOOR, 1.0))
    if sample_weight is None:
        return float(np.mean(losses))
    return float(np.average(losses, weights=np.asarray(sample_weight, dtype=np.float64)))


def _check_fit_input(y, margin, sample_weight):
    y = np.asarray(y)
    margin = np.asarray(margin, dtype=np.float64)
    if y.ndim != 1 or y.shape[0] == 0 or margin.shape[0] != y.shape[0]:
        raise ValueError(
            f"fitting a temperature needs labels (n,) and margins of n rows, n > 0; got labels of "
            f"shape {y.shape} and margins of shape {margin.shape}"
        )
    if sample_weight is not None and np.size(sample_weight) == 0:
        sample_weight = None  # XGBoost's "no weights"
    if not has_weight(sample_weight):
        raise ValueError(
            "fitting a temperature needs held-out rows of positive total weight; the "
            f"sample_weight sums to {np.sum(sample_weight)!r}"
        )
    return y, margin, sample_weight


def fit_rows(n, n_columns=1):
    """Indices of the rows (s, T) are fitted on: all n, or a fixed-seed sample of
    ``MAX_FIT_MARGINS // n_columns`` of them (at least 2,000) in their original order."""
    max_rows = max(2_000, MAX_FIT_MARGINS // max(int(n_columns), 1))
    if n <= max_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size=max_rows, replace=False))


def fit_held_out(loss, y, margin, sample_weight=None):
    """:func:`fit_strength_temperature` on the rows :func:`fit_rows` picks from held-out
    ``(y, margin, sample_weight)`` (an empty ``sample_weight``: no weights), what every door that
    fits (s, T) calls. Returns ``(strength, temperature, rows)``, ``rows`` the indices used."""
    y, margin = np.asarray(y), np.asarray(margin)
    rows = fit_rows(y.shape[0], 1 if margin.ndim == 1 else margin.shape[1])  # a fixed-seed sample
    w = None if sample_weight is None or np.size(sample_weight) == 0 else np.asarray(sample_weight)[rows]
    s, T = fit_strength_temperature(loss, y[rows], margin[rows], w)
    return s, T, rows


def has_weight(sample_weight):
    """Whether rows of these weights (None: all 1) carry information: a positive finite sum."""
    if sample_weight is None or np.size(sample_weight) == 0:
        return True
    total = float(np.sum(np.asarray(sample_weight, dtype=np.float64)))
    return bool(np.isfinite(total) and total > 0)


def fit_temperature(loss, y, margin, sample_weight=None, strength=1.0):
    """The temperature T minimising the log loss of ``tempered_posterior(loss, margin, T,
    strength)`` on (y, margin).

    Parameters
    ----------
    loss : BinaryFocalLoss or MulticlassFocalLoss
        The loss the model was trained with (its ``posterior`` is the exact correction).
    y : array-like of shape (n,)
        Encoded labels 0..K-1 of held-out rows.
    margin : array-like of shape (n,) or (n, K)
        The model's margins on those rows (init score included).
    sample_weight : array-like of shape (n,), optional
        Row weights (default: all 1).
    strength : float in [0, 1], default 1
        The correction strength held fixed (1: the exact correction's gamma and alpha).

    Returns
    -------
    float
        T in ``TEMPERATURE_BOUNDS`` (a value at a bound means the data wanted more).
    """
    y, margin, sample_weight = _check_fit_input(y, margin, sample_weight)
    corrected = strength_loss(loss, strength)

    def objective(log_t):
        return weighted_log_loss(y, corrected.posterior(margin / np.exp(log_t)), sample_weight)

    lo, hi = np.log(TEMPERATURE_BOUNDS[0]), np.log(TEMPERATURE_BOUNDS[1])
    # log T to 1e-3: T to 0.1 %, far below what a few thousand held-out rows can tell apart
    result = minimize_scalar(objective, bounds=(lo, hi), method="bounded", options={"xatol": 1e-3})
    # the bounded search never evaluates the ends, nor T = 1 exactly: keep whichever is best
    candidates = [float(result.x), 0.0, lo, hi]
    values = [float(result.fun), objective(0.0), objective(lo), objective(hi)]
    return float(np.exp(candidates[int(np.argmin(values))]))


def fit_strength_temperature(loss, y, margin, sample_weight=None):
    """(strength s, temperature T) minimising the log loss of ``tempered_posterior(loss, margin,
    T, s)`` on (y, margin): what ``probability="auto"`` uses.

    The temperature is fitted (:func:`fit_temperature`) at the strengths 0, 1/2 and 1, then the
    best of them refined by a bounded search over s (to 0.01) with T refitted at each s. The exact
    (1, 1) and raw (0, 1) corners are among the candidates, so on these rows the fit is never
    worse than either. About 150 evaluations of the posterior on the given rows (the estimators
    pass at most ``MAX_FIT_MARGINS`` margins: :func:`fit_rows`).

    Parameters
    ----------
    loss : BinaryFocalLoss or MulticlassFocalLoss
        The loss the model was trained with (its ``posterior`` is the exact correction).
    y : array-like of shape (n,)
        Encoded labels 0..K-1 of held-out rows.
    margin : array-like of shape (n,) or (n, K)
        The model's margins on those rows (init score included).
    sample_weight : array-like of shape (n,), optional
        Row weights (default: all 1).

    Returns
    -------
    strength : float
        s in [0, 1].
    temperature : float
        T in ``TEMPERATURE_BOUNDS``.
    """
    y, margin, sample_weight = _check_fit_input(y, margin, sample_weight)

    def log_loss_at(s, T):
        return weighted_log_loss(y, tempered_posterior(loss, margin, T, s), sample_weight)

    tried = {}

    def best_at(s):
        s = float(min(max(s, 0.0), 1.0))
        if s not in tried:
            T = fit_temperature(loss, y, margin, sample_weight, s)
            tried[s] = (log_loss_at(s, T), T)
        return tried[s][0]

    grid = [0.0, 0.5, 1.0]
    values = [best_at(s) for s in grid]
    k = int(np.argmin(values))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    minimize_scalar(best_at, bounds=(lo, hi), method="bounded", options={"xatol": 1e-2})
    for s in (0.0, 1.0):  # the corners at T = 1 (the raw and the exact output)
        value = log_loss_at(s, 1.0)
        if value <= tried[s][0]:
            tried[s] = (value, 1.0)
    s = min(tried, key=lambda key: (tried[key][0], -key))  # ties: the stronger correction
    return float(s), float(tried[s][1])
