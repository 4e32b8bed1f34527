"""``import focalboost`` loads the maths only: XGBoost, LightGBM, pandas, scikit-learn and Dask are
imported when a name that needs them is first used (module ``__getattr__``)."""

import json
import subprocess
import sys

import pytest

HEAVY = ("xgboost", "lightgbm", "pandas", "sklearn", "dask", "distributed", "matplotlib")


def _loaded_after(code):
    """The heavy modules loaded in a fresh interpreter after running ``code``."""
    script = f"import sys, json\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_focalboost_loads_no_booster_and_no_pandas():
    assert _loaded_after("import focalboost; focalboost.BinaryFocalLoss(gamma=2.0)") == []


def test_the_maths_runs_without_the_boosters():
    code = (
        "import numpy as np, focalboost\n"
        "loss = focalboost.MulticlassFocalLoss(3, gamma=2.0)\n"
        "loss.gradient_hessian(np.array([0, 1, 2]), np.zeros((3, 3)))\n"
        "focalboost.class_alpha(np.array([0, 1, 1, 2]), 'inverse_frequency')\n"
        "focalboost.binary_posterior(np.array([0.3]), gamma=2.0)"
    )
    assert _loaded_after(code) == []


@pytest.mark.parametrize("name, module", [("FocalXGBClassifier", "xgboost"), ("FocalLGBMClassifier", "lightgbm")])
def test_an_estimator_loads_its_library_on_first_use(name, module):
    loaded = _loaded_after(f"from focalboost import {name}")
    assert module in loaded


def test_lazy_names_are_listed_and_resolve():
    import focalboost
    from focalboost.sklearn import FocalLGBMClassifier, FocalXGBClassifier

    assert {"FocalXGBClassifier", "FocalLGBMClassifier"} <= set(dir(focalboost))
    assert focalboost.FocalXGBClassifier is FocalXGBClassifier
    assert focalboost.FocalLGBMClassifier is FocalLGBMClassifier
    assert set(focalboost.__all__) <= set(dir(focalboost))
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        focalboost.NoSuchName  # noqa: B018


def test_search_loads_no_booster_until_used():
    loaded = _loaded_after("from focalboost import FocalSearchCV")
    assert "xgboost" not in loaded and "lightgbm" not in loaded


def _modules_loaded_after(code, names):
    script = f"import sys, json\n{code}\nprint(json.dumps([m for m in {names!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_loads_neither_numba_nor_scipy_optimize():
    # start-up (issue 17, part 5): scipy.optimize is imported for an init score only, numba and the
    # kernels at the first kernel call (the boosting libraries may import scipy.optimize themselves)
    assert _modules_loaded_after("import focalboost", ("numba", "scipy.optimize")) == []
    code = "from focalboost import FocalXGBClassifier, FocalLGBMClassifier"
    assert _modules_loaded_after(code, ("numba", "focalboost._kernels")) == []


@pytest.mark.parametrize("name, loads, not_loaded", [
    ("FocalXGBClassifier", "xgboost", "lightgbm"), ("FocalLGBMClassifier", "lightgbm", "xgboost"),
])
def test_an_estimator_loads_only_its_own_library(name, loads, not_loaded):
    """Peak memory (issue 17.4): ``import xgboost`` alone adds ~20 MB to a LightGBM fit's process."""
    for code in (f"from focalboost import {name}", f"from focalboost.sklearn import {name}"):
        loaded = _loaded_after(code)
        assert loads in loaded and not_loaded not in loaded


def test_a_lightgbm_fit_does_not_load_xgboost():
    code = (
        "import numpy as np\n"
        "from focalboost import FocalLGBMClassifier\n"
        "X = np.random.default_rng(0).normal(size=(300, 3)); y = (X[:, 0] > 0).astype(int)\n"
        "FocalLGBMClassifier(n_estimators=3, verbose=-1, n_jobs=1).fit(X, y).predict_proba(X)"
    )
    assert "xgboost" not in _loaded_after(code)
