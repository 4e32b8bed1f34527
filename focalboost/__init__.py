"""focalboost: focal loss as a first-class objective for XGBoost and LightGBM."""

from .class_weights import binary_alpha, class_alpha
from .finite_difference import FiniteDifferenceBinaryLoss, FiniteDifferenceMulticlassLoss
from .losses import BinaryFocalLoss, MulticlassFocalLoss, MultiLabelFocalLoss

__all__ = [
    "BinaryFocalLoss",
    "MulticlassFocalLoss",
    "MultiLabelFocalLoss",
    "FiniteDifferenceBinaryLoss",
    "FiniteDifferenceMulticlassLoss",
    "binary_alpha",
    "class_alpha",
]
__version__ = "0.1.0"
