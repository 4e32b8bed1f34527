"""Test-wide settings.

One OpenMP thread per library call: on a 2-core machine whose cores are busy, XGBoost's and
LightGBM's spin-waiting threads make a small fit 10-100x slower, and tests measure correctness,
not speed (benchmarks/ measures speed). Set before XGBoost/LightGBM load; notebook kernels and
subprocesses inherit it.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
