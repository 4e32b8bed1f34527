"""The benchmark entry point runs end to end on tiny data and prints its tables (no timing checks:
speed is measured by ``python -m benchmarks`` and reported in benchmarks/RESULTS.md)."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


pytestmark = pytest.mark.slow  # minutes, not seconds: `pytest -m "not slow"` skips them

from benchmarks import bench_kernel, run  # noqa: E402


def test_quick_run_prints_all_tables():
    lines = []
    assert run.main(["--quick"], out=lines.append) == 0
    text = "\n".join(lines)
    assert "Intel" in text or "machine:" in text
    for title in (
        "### Kernel alone: binary",
        "### Kernel alone: multiclass",
        "### Training: xgboost binary",
        "### Training: lightgbm binary",
        "### Training: xgboost multiclass",
        "### Training: lightgbm multiclass",
        "### XGBoost round by phase",
        "### Estimators: xgboost fit",
        "### Estimators: lightgbm fit",
        "### Probability quality: early stopping",
        "### Probability quality: no held-out data",
        "### Summary: default predict_proba (probability='auto') against targets",
        "### Probability quality: tuned by FocalSearchCV, no held-out data",
        "### Summary: targets met by the default predict_proba (set-library pairs)",
    ):
        assert title in text
    for method in ("textbook numpy", "seed recipe", "imbalance-xgboost", "focalboost kernel"):
        assert method in text
    for contender in ("| builtin |", "| focalboost hook |"):
        assert text.count(contender) == 4
    assert text.count("| zero-cost objective (replay) |") == 2  # binary, both libraries
    assert text.count("| focalboost.xgboost.train |") == 2  # XGBoost, binary and multiclass
    assert text.count("| zero-cost objective (replay), margins in place |") == 1
    assert "| margins read in place (focalboost.xgboost.train), kernel on" in text  # phases
    for variant in ("raw", "exact", "temperature", "strength", "platt", "default", "log-loss model (tuned)"):
        assert f"| {variant} |" in text
    for estimator in ("FocalXGBClassifier", "FocalXGBClassifier, XGBClassifier's copies", "FocalLGBMClassifier"):
        assert f"| {estimator} |" in text
    # every timing cell of the kernel tables is a number (or the peer's reason for "-")
    for row in re.findall(r"^\| focalboost kernel.*$", text, flags=re.M):
        assert re.match(r"\| [^|]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+x \|", row), row


def test_contenders_compute_the_same_derivatives():
    """The benchmark compares like with like: every contender returns the focal derivatives."""
    import numpy as np

    from focalboost import _kernels

    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.3).astype(np.float64)
    x = rng.normal(0.0, 3.0, 500)
    g, h = _kernels.binary_gradient_hessian(y, x, bench_kernel.GAMMA, bench_kernel.ALPHA)
    for func in (bench_kernel.textbook_binary, bench_kernel.numpy_reference_binary):
        g2, h2 = func(y, x)
        np.testing.assert_allclose(g2, g, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(h2, h, rtol=1e-9, atol=1e-12)
    g3, h3 = bench_kernel.seed_finite_difference(y, x)
    np.testing.assert_allclose(g3, g, rtol=1e-5, atol=1e-6)  # dx = 1e-6: ~6 digits at best
    assert np.max(np.abs(h3 - h)) > 1e-6  # ... and its hessian is visibly off
    k = 5
    yc = rng.integers(0, k, 300)
    Z = rng.normal(0.0, 2.0, (300, k))
    G, H = _kernels.multiclass_gradient_hessian(yc, Z, bench_kernel.GAMMA)
    G2, H2 = bench_kernel.textbook_multiclass(yc, Z)
    np.testing.assert_allclose(G2, G, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(H2, H, rtol=1e-9, atol=1e-12)


def test_command_line_help():
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0
    assert "--quick" in out.stdout


def test_numexpr_contender_computes_the_same_derivatives():
    import numexpr as ne  # a dev dependency: fail, never skip
    import numpy as np

    from focalboost import _kernels

    rng = np.random.default_rng(1)
    y = (rng.random(400) < 0.3).astype(np.float64)
    x = rng.normal(0.0, 3.0, 400)
    g, h = bench_kernel.numexpr_binary(ne, y, x)
    g_ref, h_ref = _kernels.binary_gradient_hessian(y, x, bench_kernel.GAMMA, bench_kernel.ALPHA)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(h, h_ref, rtol=1e-12, atol=1e-300)


def test_quick_search_benchmark():
    """``python -m benchmarks --only search --quick``: the three searches, both libraries, both
    data sets, with their best parameters and held-out AP."""
    lines = []
    assert run.main(["--quick", "--only", "search", "--search-rules", "none"],
                    out=lines.append) == 0
    text = "\n".join(lines)
    for title in ("### Search: xgboost, nassCDS", "### Search: lightgbm, nassCDS",
                  "### Search: xgboost, synthetic", "### Search: lightgbm, synthetic"):
        assert title in text
    for name in ("GridSearchCV", "FocalSearchCV fast", "FocalSearchCV fast, best of each: none",
                 "FocalSearchCV exhaustive"):
        rows = re.findall(rf"^\| {re.escape(name)} \| [0-9.]+ \| [0-9.]+x \| gamma=[^|]+ \| [0-9.]+ "
                          r"\| [-+][0-9.]+ \| [0-9.]+ n[^|]* \|$", text, flags=re.M)
        assert len(rows) == 4, (name, text)
    # exhaustive mode refits GridSearchCV's model: the same held-out AP, to the last digit
    assert text.count("| FocalSearchCV exhaustive |") == 4
    for row in re.findall(r"^\| FocalSearchCV exhaustive .*$", text, flags=re.M):
        assert row.endswith("| +0.0000 | 12 n |"), row


@pytest.mark.parametrize("part", ["entrypoints", "predict", "memory", "startup"])
def test_issue17_parts_run_quick(part):
    """``python -m benchmarks --quick --only PART``: every table row present, ratios are numbers."""
    lines = []
    argv = ["--quick", "--only", part]
    if part == "entrypoints":
        argv += ["--tasks", "binary,multiclass K=10,multiclass K=50,multi-label L=5", "--libs", "xgboost,lightgbm"]
    assert run.main(argv, out=lines.append) == 0
    text = "\n".join(lines)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "**" in line]
    expected = {
        # binary and K=10: 4 entry points; K=50 also the LightGBM hooks at gamma=0; multi-label: XGBoost's 2
        "entrypoints": 2 * 2 + 2 * 2 + 5 + 2,
        "predict": 4,  # XGBoost and LightGBM, binary and K=10
        "memory": 3,  # XGBoost; LightGBM with each histogram layout forced
        "startup": 6,  # two libraries: warm cache (all threads, 1 thread), cold cache
    }[part]
    assert len(rows) == expected, text
    for row in rows:
        assert re.search(r"\*\*[+-]?[0-9.]+\*\*", row), row
    for name in {
        "entrypoints": ["FocalXGBClassifier.fit", "focalboost.xgboost.train", "FocalLGBMClassifier.fit",
                        "focalboost.lightgbm hooks", "multi-label L=5", "hooks at gamma=0"],
        "predict": ["FocalXGBClassifier", "FocalLGBMClassifier", "multiclass K=10"],
        "memory": ["| xgboost |", "| lightgbm, col-wise |", "| lightgbm, row-wise |"],
        "startup": ["| warm | all |", "| warm | 1 |", "| cold | all |"],
    }[part]:
        assert name in text
    if part == "entrypoints":  # the K=50 LightGBM models' training loss, to show they converge
        line = next(line for line in text.splitlines() if line.startswith("LightGBM multiclass K=50, training"))
        losses = dict(item.rsplit(" ", 1) for item in line.split(": ", 1)[1].split(", "))
        assert set(losses) == {"LGBMClassifier", "FocalLGBMClassifier", "lgb.train built-in", "hooks gamma=2",
                               "hooks gamma=0"}, line
        assert all(0.0 < float(v) < np.log(50) for v in losses.values()), line


def test_memory_part_runs_before_numba_is_loaded():
    """``python -m benchmarks --only memory``: the benchmark process itself does not load numba or
    llvmlite (its mapping of LLVM's code would keep those pages resident in the measured
    children), and says so when it has (as pytest's process here)."""
    code = ("import sys; from benchmarks import run; lines = []; "
            "run.main(['--quick', '--only', 'memory'], out=lines.append); "
            "print('llvmlite' in sys.modules, 'numba' in sys.modules); print('\\n'.join(lines))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.startswith("False False\n"), done.stdout
    assert "has loaded llvmlite" not in done.stdout
    import focalboost._kernels  # noqa: F401  (loads llvmlite here)

    lines = []
    assert run.main(["--quick", "--only", "memory"], out=lines.append) == 0
    assert "has loaded llvmlite" in "\n".join(lines)


def test_dask_entrypoints_run_quick():
    lines = []
    assert run.main(["--quick", "--only", "entrypoints", "--tasks", "", "--libs", "dask"], out=lines.append) == 0
    text = "\n".join(lines)
    assert "| DaskXGBClassifier vs FocalDaskXGBClassifier |" in text
    assert "| DaskLGBMClassifier vs FocalDaskLGBMClassifier |" in text


def test_search_curves_replay(tmp_path):
    """benchmarks/search_curves.py replays rung rules on recorded curves: GridSearchCV's choice
    is the best at n rounds; plain halving (12, 4, 2 candidates: 3.64 n rounds per fold) drops a
    candidate that is last at 12 rounds even if it is best at n (a rank reversal); the default
    first rung keeps it when it is the only one of its alpha."""
    import numpy as np

    from benchmarks import search_curves

    checkpoints = list(search_curves.CHECKPOINTS)
    rng = np.random.default_rng(0)
    scores = np.empty((12, 3, len(checkpoints)))
    for i in range(12):
        scores[i] = 0.5 + 0.01 * i + rng.normal(0, 1e-4, (3, 1))  # 11 best at every rung ...
    scores[0, :, checkpoints.index(12):] = 0.2  # ... but 0 is last at 12 rounds
    scores[0, :, checkpoints.index(30):] = 0.9  # and best from 30 rounds on
    held = np.linspace(0.1, 0.2, 12)
    candidates = [{"alpha": "X" if i == 0 else "Y", "gamma": float(i)} for i in range(12)]
    np.savez(tmp_path / "c.npz", scores=scores, checkpoints=np.array(checkpoints), held_out=held,
             candidates=np.array([repr(c) for c in candidates]), data="toy", library="none")
    trained, sizes, choice = search_curves.replay(scores, checkpoints, [12, 34, 100])
    assert sizes == [12, 4, 2] and choice != 0 and trained == pytest.approx(3.64)
    trained, sizes, choice = search_curves.replay(scores, checkpoints, [12, 34, 100],
                                                  best_of=("alpha",), candidates=candidates)
    assert sizes == [12, 5, 2] and choice == 0 and trained == pytest.approx(3.86)
    lines = []
    search_curves.simulate([tmp_path / "c.npz"], out=lines.append)
    assert any("| toy none | GridSearchCV | 12 n | 12 | {'alpha': 'X', 'gamma': 0.0} |" in line
               for line in lines)
    assert any("n/3, n: best third" in line for line in lines)
