"""Test-wide settings.

One OpenMP thread per library call: on a 2-core machine whose cores are busy, XGBoost's and
LightGBM's spin-waiting threads make a small fit 10-100x slower, and tests measure correctness,
not speed (benchmarks/ measures speed). Set before XGBoost/LightGBM load; notebook kernels and
subprocesses inherit it.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")


import numpy as np  # noqa: E402
import pytest  # noqa: E402


def _make_data(kind, n=800, seed=0, labels=None):
    """Small imbalanced data with signal: ``kind`` "binary" (about 15 % class 1), "multiclass"
    (3 classes) or "multilabel" (3 labels, 0/1 indicator); ``labels`` maps the codes 0..K-1 to
    other class labels (strings, ...)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    if kind == "binary":
        y = (X[:, 0] + 0.5 * rng.normal(size=n) > 1.2).astype(int)
    elif kind == "multiclass":
        y = np.argmax(X[:, :3] + 0.7 * rng.normal(size=(n, 3)) + np.array([1.0, 0.0, -0.8]), axis=1)
    elif kind == "multilabel":
        y = (X[:, :3] + rng.normal(scale=0.7, size=(n, 3)) > np.array([0.8, 1.2, 1.6])).astype(int)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return X, (y if labels is None else np.asarray(labels)[y])


@pytest.fixture
def make_data():
    """The shared data maker: ``make_data(kind, n=800, seed=0, labels=None) -> (X, y)``."""
    return _make_data
