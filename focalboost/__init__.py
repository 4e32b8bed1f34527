"""focalboost: focal loss as a first-class objective for XGBoost and LightGBM."""

from .class_weights import binary_alpha, class_alpha
from .finite_difference import FiniteDifferenceBinaryLoss, FiniteDifferenceMulticlassLoss
from .losses import BinaryFocalLoss, MulticlassFocalLoss, MultiLabelFocalLoss
from .sklearn import FocalLGBMClassifier, FocalXGBClassifier
from .posterior import (
    binary_optimal_margin,
    binary_posterior,
    multiclass_optimal_margin,
    multiclass_posterior,
)

__all__ = [
    "FocalXGBClassifier",
    "FocalLGBMClassifier",
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
