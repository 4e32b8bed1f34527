"""The posterior correction off the focal optimum: one temperature, fitted on held-out margins.

The posterior correction (:mod:`focalboost.posterior`) is exact where the margins are the focal
risk's minimiser. A finite booster's margins are not: early rounds are too timid, overfit rounds
too bold, and the correction sharpens whatever it is given (binary: logit(eta) ~ (1 + gamma) x),
so an overfit focal model's corrected probabilities can be worse than its raw sigmoid.

The remedy is one parameter, a temperature T on the margins before the correction::

    p = posterior(margin / T)

* T = 1 is the exact correction;
* in the binary case T ~ 1 + gamma gives back roughly the raw sigmoid (logit(eta) ~ (1 + gamma)
  x / T), and a larger T softens further (an overfit model);
* T < 1 sharpens (an under-trained model).

T is the minimiser of the weighted log loss of ``posterior(margin / T)`` on held-out rows (for
the estimators: the last evaluation set, at the best iteration after early stopping). The scale
of the margins is all it changes: the order of the rows, hence ROC and PR AUC, and the class of
largest posterior in a row without ``alpha`` stay the same. The log loss is a smooth function of
log T with a single minimum in practice; it is minimised by a bounded scalar search over
``TEMPERATURE_BOUNDS``.

Functions
---------
tempered_posterior(loss, margin, temperature)
    ``loss.posterior(margin / temperature)``.
fit_temperature(loss, y, margin, sample_weight=None)
    The temperature minimising the log loss of ``tempered_posterior`` on (y, margin).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

__all__ = ["TEMPERATURE_BOUNDS", "fit_temperature", "tempered_posterior", "weighted_log_loss"]

#: the range searched for the temperature: wide enough for margins 20 times too bold or too timid
TEMPERATURE_BOUNDS = (0.05, 20.0)
#: probabilities are clipped to [PROBA_FLOOR, 1] inside the log loss (one confident mistake would
#: otherwise give +inf and decide the fit alone)
PROBA_FLOOR = 1e-15


def tempered_posterior(loss, margin, temperature):
    """``loss.posterior(margin / temperature)``: (n, 2) binary, (n, K) multiclass.

    ``temperature`` must be a positive finite number; 1 is the exact correction.
    """
    temperature = check_temperature(temperature)
    margin = np.asarray(margin, dtype=np.float64)
    return loss.posterior(margin if temperature == 1.0 else margin / temperature)


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
    """Weighted mean of -log proba[i, y_i] (probabilities clipped below at ``PROBA_FLOOR``)."""
    y = np.asarray(y).astype(np.int64)
    picked = np.asarray(proba, dtype=np.float64)[np.arange(y.shape[0]), y]
    losses = -np.log(np.clip(picked, PROBA_FLOOR, 1.0))
    if sample_weight is None:
        return float(np.mean(losses))
    return float(np.average(losses, weights=np.asarray(sample_weight, dtype=np.float64)))


def fit_temperature(loss, y, margin, sample_weight=None):
    """The temperature T minimising the log loss of ``loss.posterior(margin / T)`` on (y, margin).

    Parameters
    ----------
    loss : BinaryFocalLoss or MulticlassFocalLoss
        The loss the model was trained with (its ``posterior`` is the exact correction).
    y : array-like of shape (n,)
        Encoded labels 0..K-1 of held-out rows.
    margin : array-like of shape (n,) or (n, K)
        The model's margins on those rows (init score included).
    sample_weight : array-like of shape (n,), optional

    Returns
    -------
    float
        T in ``TEMPERATURE_BOUNDS`` (a value at a bound means the data wanted more).
    """
    y = np.asarray(y)
    margin = np.asarray(margin, dtype=np.float64)
    if y.ndim != 1 or y.shape[0] == 0 or margin.shape[0] != y.shape[0]:
        raise ValueError(
            f"fit_temperature needs labels (n,) and margins of n rows, n > 0; got labels of shape "
            f"{y.shape} and margins of shape {margin.shape}"
        )
    if sample_weight is not None and np.size(sample_weight) == 0:
        sample_weight = None  # XGBoost's "no weights"

    def objective(log_t):
        return weighted_log_loss(y, loss.posterior(margin / np.exp(log_t)), sample_weight)

    lo, hi = np.log(TEMPERATURE_BOUNDS[0]), np.log(TEMPERATURE_BOUNDS[1])
    result = minimize_scalar(objective, bounds=(lo, hi), method="bounded", options={"xatol": 1e-5})
    log_t = float(result.x)
    # the bounded search never evaluates the ends, nor T = 1 exactly: keep whichever is best
    candidates = [log_t, 0.0, lo, hi]
    values = [float(result.fun), objective(0.0), objective(lo), objective(hi)]
    return float(np.exp(candidates[int(np.argmin(values))]))
