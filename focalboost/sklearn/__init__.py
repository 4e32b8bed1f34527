"""scikit-learn estimators: :class:`FocalXGBClassifier` and :class:`FocalLGBMClassifier`.

Drop-in replacements for ``xgboost.XGBClassifier`` and ``lightgbm.LGBMClassifier`` that train
with the focal loss of :mod:`focalboost.losses` and still behave like scikit-learn classifiers:
any labels, ``classes_``, ``sample_weight``, real probabilities from ``predict_proba``, margins from
``decision_function``, early stopping, pickling, ``Pipeline`` / ``GridSearchCV`` / ``clone``.

Layout: :mod:`._core` holds everything the estimators share (the focal parameters, targets,
weights, init scores, metrics, probabilities; its docstring has the design notes);
:mod:`._xgboost` and :mod:`._lightgbm` are the thin layers for each library, and
:mod:`focalboost.dask` builds the distributed twins on the same core.

Each estimator is imported on first use (module ``__getattr__``), so that a LightGBM fit does not
load XGBoost (measured: ``import xgboost`` adds ~20 MB to the resident memory, and so to the peak
of a fit in that process) and an XGBoost fit does not load LightGBM.
"""

from .._lazy import lazy_attributes

from ._core import FOCAL_PARAMS

#: estimator name -> the module defining it (relative to this package)
_LAZY = {"FocalXGBClassifier": "._xgboost", "FocalLGBMClassifier": "._lightgbm"}

__all__ = ["FocalXGBClassifier", "FocalLGBMClassifier", "FOCAL_PARAMS"]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
