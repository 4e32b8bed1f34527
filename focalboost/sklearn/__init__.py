"""scikit-learn estimators: :class:`FocalXGBClassifier` and :class:`FocalLGBMClassifier`.

Drop-in replacements for ``xgboost.XGBClassifier`` and ``lightgbm.LGBMClassifier`` that train
with the focal loss of :mod:`focalboost.losses` and still behave like scikit-learn classifiers:
any labels, ``classes_``, ``sample_weight``, real probabilities from ``predict_proba``, margins from
``decision_function``, early stopping, pickling, ``Pipeline`` / ``GridSearchCV`` / ``clone``.

Layout: :mod:`._core` holds everything the estimators share (the focal parameters, targets,
weights, init scores, metrics, probabilities; its docstring has the design notes);
:mod:`._xgboost` and :mod:`._lightgbm` are the thin layers for each library, and
:mod:`focalboost.dask` builds the distributed twins on the same core.
"""

from ._core import FOCAL_PARAMS
from ._lightgbm import FocalLGBMClassifier
from ._xgboost import FocalXGBClassifier

__all__ = ["FocalXGBClassifier", "FocalLGBMClassifier", "FOCAL_PARAMS"]
