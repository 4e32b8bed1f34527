"""Model files that are what they claim: ``save_model`` / ``load_model`` for the focal estimators.

A focal model's file must keep its meaning outside focalboost:

* **What is stored.** The libraries' own formats (XGBoost JSON or UBJSON, LightGBM text), plus one
  JSON document of focal metadata (:func:`model_metadata`: classes, focal parameters, alpha, init
  score, probability mode, how to turn margins into probabilities). XGBoost keeps it as the
  booster attribute ``"focalboost"``; LightGBM as a ``focalboost:{...}`` line before the final
  ``pandas_categorical:`` line of the model text (LightGBM's reader ignores it).
* **Plain loads give the focal margins exactly.** XGBoost keeps the init score in the model
  (``base_score``); the LightGBM estimators fold it into the leaf values of the first iteration
  right after training (:func:`fold_init_score`), so ``lgb.Booster(model_file=...).predict(X)``
  (raw scores, as LightGBM returns them for a custom objective) is the focal model's margin.
* **No wrong "probability" through another door.** ``xgb.XGBClassifier().load_model`` of a focal
  file raises XGBoost's ``TypeError`` (the file says its estimator type is
  ``focalboost.FocalXGBClassifier``, not ``classifier``): its ``predict_proba`` would otherwise be
  the raw focal sigmoid, which is not the posterior. A plain ``xgb.Booster`` loads it; its
  ``predict(output_margin=True)`` gives the margins and ``attr("focalboost")`` their meaning.
"""

from __future__ import annotations

import json

import numpy as np

from ..losses import MultiLabelFocalLoss
from ._core import FOCAL_PARAMS, _make_loss

FORMAT = "focalboost"
FORMAT_VERSION = 1
#: the estimator type an XGBoost file declares (XGBClassifier.load_model refuses it)
XGB_ESTIMATOR_TYPE = "focalboost.FocalXGBClassifier"
_LGBM_KEY = "focalboost:"
_LGBM_PANDAS_KEY = "pandas_categorical:"

POSTERIOR_FORMULA = (
    "binary: x = margin (log-odds of classes[1]); phi(y) = log(1 + exp(y)) * exp(-y); "
    "logit(P(classes[1])) = (1 + gamma) * x + log1p(gamma * phi(x)) - log1p(gamma * phi(-x)) "
    "+ log((1 - alpha) / alpha) (the last term 0 when alpha is null). multiclass: "
    "u_k = z_k - logsumexp(z_j, j != k), log w_k = log_sigmoid(u_k) - gamma * log_sigmoid(-u_k) "
    "- log1p(gamma * phi(-u_k)) - log(alpha_k); P = softmax(log w). probability='focal': "
    "sigmoid/softmax of the margins. probability='auto': the posterior formula with gamma * "
    "strength in place of gamma and alpha_k ** strength in place of alpha_k (binary: "
    "log((1 - alpha) / alpha) * strength), applied to margin / temperature (the 'strength' and "
    "'temperature' entries; 1 and 1 are the exact posterior); probability='posterior': both 1."
)


def _jsonable(value):
    """``value`` if JSON gives it back unchanged, else None."""
    try:
        return value if json.loads(json.dumps(value)) == value else None
    except (TypeError, ValueError):
        return None


def _task(estimator):
    if isinstance(estimator.loss_, MultiLabelFocalLoss):
        return "multilabel"
    return "binary" if estimator.n_classes_ == 2 else "multiclass"


def model_metadata(estimator, *, init_folded):
    """The focal metadata of a fitted estimator, as a JSON-ready dict."""
    classes = np.asarray(estimator.classes_)
    if classes.dtype.kind not in "biufUO":
        raise TypeError(
            f"cannot save classes_ of dtype {classes.dtype} in a model file; use int, float, bool "
            "or string labels"
        )
    labels = classes.tolist()
    if _jsonable(labels) is None:
        raise TypeError(f"cannot save classes_ {labels[:5]}: only int, float, bool and str labels")
    params = estimator.get_params(deep=False)
    focal = {name: params[name] for name in FOCAL_PARAMS}
    if _jsonable(focal["alpha"]) is None:  # e.g. a mapping with non-string keys: the value used
        alpha = estimator.alpha_
        focal["alpha"] = None if alpha is None else np.asarray(alpha).tolist()
    alpha = estimator.alpha_
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "task": _task(estimator),
        "classes": labels,
        "classes_dtype": classes.dtype.str,
        "gamma": estimator.loss_.gamma,
        "alpha": None if alpha is None else np.asarray(alpha, dtype=np.float64).tolist(),
        "hessian": estimator.loss_.hessian,
        "loss_scale": estimator.loss_scale_,
        "init_score": np.asarray(estimator.init_score_, dtype=np.float64).tolist(),
        "init_score_in_margins": True,
        "init_score_folded_into_trees": init_folded,
        "probability": estimator.probability,
        "temperature": float(getattr(estimator, "temperature_", 1.0)),
        "strength": float(getattr(estimator, "strength_", 1.0)),
        "probability_calibration": getattr(estimator, "probability_calibration_", None),
        "params": focal,
        "margin": "raw score of the model file: log-odds of classes[1] (binary), one margin per "
        "class (multiclass) or per label (multilabel); the init score is included",
        "posterior": POSTERIOR_FORMULA,
    }
    if meta["task"] == "multilabel":
        meta["n_outputs"] = int(estimator.n_outputs_)
    if "base_score" in params:
        meta["base_score"] = _jsonable(params["base_score"])
    return meta


def check_metadata(text, estimator):
    """The metadata document of a file, or a clear error if it is not a focal model file."""
    name = type(estimator).__name__
    if text is None:
        raise ValueError(
            f"{name}.load_model: the file holds no focalboost metadata; it was not written by a "
            f"focal estimator's save_model (load a plain model with the library's own classifier)"
        )
    meta = json.loads(text)
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{name}.load_model: unknown focalboost model format {meta.get('format')!r} version "
            f"{meta.get('format_version')!r}; this focalboost reads version {FORMAT_VERSION}"
        )
    return meta


def restore_metadata(estimator, meta):
    """Set the fitted attributes (and the focal parameters) a file's metadata describes."""
    for name, value in meta["params"].items():
        setattr(estimator, name, value)
    classes = np.array(meta["classes"], dtype=np.dtype(meta["classes_dtype"]))
    alpha = meta["alpha"]
    if alpha is not None and (meta["task"] == "multiclass" or isinstance(alpha, list)):
        alpha = np.asarray(alpha, dtype=np.float64)
    if meta["task"] == "multilabel":
        loss = MultiLabelFocalLoss(meta["gamma"], alpha, meta["hessian"])
    else:
        loss = _make_loss(classes.shape[0], meta["gamma"], alpha, meta["hessian"])
    init = np.asarray(meta["init_score"], dtype=np.float64)
    estimator.loss_ = loss
    estimator.alpha_ = alpha
    estimator.loss_scale_ = meta["loss_scale"]
    estimator.init_score_ = float(init) if init.ndim == 0 else init
    estimator.temperature_ = float(meta.get("temperature", 1.0))  # files before it: exact posterior
    estimator.strength_ = float(meta.get("strength", 1.0))
    estimator.probability_calibration_ = meta.get("probability_calibration") or (
        "exact posterior (temperature 1): the model file keeps no temperature"
    )
    return classes


# --- XGBoost -------------------------------------------------------------------------------------
def xgboost_save_model(estimator, fname):
    """The booster in XGBoost's format (``.json`` or ``.ubj`` by the file name), with the focal
    metadata as the booster attribute ``"focalboost"``."""
    meta = json.dumps(model_metadata(estimator, init_folded=False))
    booster = estimator.get_booster()
    booster.set_attr(focalboost=meta, scikit_learn=json.dumps({"_estimator_type": XGB_ESTIMATOR_TYPE}))
    try:
        booster.save_model(fname)
    finally:
        booster.set_attr(focalboost=None, scikit_learn=None)


def xgboost_load_model(estimator, fname, library_load_model):
    """Load a file written by :func:`xgboost_save_model` into ``estimator``."""
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(fname)
    meta = check_metadata(booster.attr("focalboost"), estimator)
    booster.set_attr(focalboost=None, scikit_learn=None)
    library_load_model(booster.save_raw("ubj"))  # XGBoost's own attributes of a loaded model
    classes = restore_metadata(estimator, meta)
    estimator.objective = None  # XGBoost's load sets the booster's objective: not a parameter
    estimator.base_score = meta.get("base_score")  # ... and base_score: the user's, restored
    if meta["task"] == "multilabel":
        estimator.n_outputs_ = meta["n_outputs"]
        classes = np.array([0, 1])
    estimator.n_classes_ = classes.shape[0]
    return classes


# --- LightGBM ------------------------------------------------------------------------------------
def fold_init_score(booster, init):
    """Add the constant ``init`` (float, or one value per class) to every leaf of the first
    iteration's trees (tree k is class k's), so that the booster's raw scores are the margins.

    Exact in float64: each leaf value becomes ``leaf + init`` rounded once, which LightGBM's text
    format stores to the last bit; the margins then sum ``(leaf_0 + init) + leaf_1 + ...``.
    """
    init = np.atleast_1d(np.asarray(init, dtype=np.float64))
    if not np.any(init):
        return
    trees = booster.dump_model(start_iteration=0, num_iteration=1)["tree_info"]
    if len(trees) != init.shape[0]:
        raise ValueError(f"the first iteration has {len(trees)} trees but the init score has {init.shape[0]} values")
    for tree_id, (tree, value) in enumerate(zip(trees, init)):
        for leaf_id in range(tree["num_leaves"]):
            booster.set_leaf_output(tree_id, leaf_id, booster.get_leaf_output(tree_id, leaf_id) + value)


def lightgbm_model_text(estimator):
    """The model in LightGBM's text format, every iteration, with the focal metadata line."""
    meta = model_metadata(estimator, init_folded=True)
    meta["best_iteration"] = int(estimator.best_iteration_ or 0)
    text = estimator.booster_.model_to_string(num_iteration=-1)
    lines = text.splitlines()
    at = next(i for i in range(len(lines) - 1, -1, -1) if lines[i].startswith(_LGBM_PANDAS_KEY))
    lines.insert(at, _LGBM_KEY + json.dumps(meta))
    return "\n".join(lines) + "\n"


def lightgbm_read_model_text(text, estimator):
    """(model text without the metadata line, metadata) of a file written by a focal estimator."""
    lines = text.splitlines()
    found = [i for i, line in enumerate(lines) if line.startswith(_LGBM_KEY)]
    meta = check_metadata(lines[found[-1]][len(_LGBM_KEY):] if found else None, estimator)
    del lines[found[-1]]
    return "\n".join(lines) + "\n", meta
