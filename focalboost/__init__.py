"""focalboost: focal loss as a first-class objective for XGBoost and LightGBM.

``import focalboost`` loads the maths (losses, posterior, class weights) only; the estimators and
the loss contract are imported on first use (module ``__getattr__``), so that importing the
package does not load XGBoost, LightGBM, pandas or Dask. The submodules are imported as usual:
``from focalboost import xgboost as fxgb`` loads XGBoost, ``focalboost.lightgbm`` LightGBM.
"""

from ._lazy import lazy_attributes

from .class_weights import binary_alpha, class_alpha
from .finite_difference import FiniteDifferenceBinaryLoss, FiniteDifferenceMulticlassLoss
from .losses import BinaryFocalLoss, MulticlassFocalLoss, MultiLabelFocalLoss
from .posterior import (
    binary_optimal_margin,
    binary_posterior,
    multiclass_optimal_margin,
    multiclass_posterior,
)

#: public names imported on first access: name -> module (relative to this package)
_LAZY = {
    "FocalXGBClassifier": ".sklearn._xgboost",  # each estimator loads its own library only
    "FocalLGBMClassifier": ".sklearn._lightgbm",
    "BoostingLoss": ".base",
    "FocalSearchCV": ".search",
}

__all__ = [
    "FocalXGBClassifier",
    "FocalLGBMClassifier",
    "FocalSearchCV",
    "BoostingLoss",
    "BinaryFocalLoss",
    "MulticlassFocalLoss",
    "MultiLabelFocalLoss",
    "FiniteDifferenceBinaryLoss",
    "FiniteDifferenceMulticlassLoss",
    "binary_alpha",
    "class_alpha",
    "binary_posterior",
    "multiclass_posterior",
    "binary_optimal_margin",
    "multiclass_optimal_margin",
]
__version__ = "0.1.0"


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
