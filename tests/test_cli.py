"""``focalboost compare`` end to end (--quick) and its messages for bad input."""

import contextlib
import io
import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from focalboost import cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = ("pr_curves.png", "calibration.png", "focal_gradients.png")


def _run(capsys, *argv):
    code = cli.main(["compare", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _table_rows(out):
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("model "))
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        rows.append(line)
    return lines[start], rows


def _names(rows):
    """Model names of the printed table (the name column is padded, then two spaces)."""
    return [re.split(r"\s{2,}", row)[0] for row in rows]


def _check_files(outdir, n_models):
    for name in FIGURES:
        data = (outdir / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000, name
    table = pd.read_csv(outdir / "results.csv")
    assert len(table) == n_models
    doc = json.loads((outdir / "results.json").read_text())
    assert len(doc["models"]) == n_models
    assert doc["environment"]["xgboost"] and doc["split"]["test"] > 0
    return table, doc


# --- the default data set -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def quick_default(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("quick")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["compare", "--quick", "--output-dir", str(outdir)])
    return code, out.getvalue(), err.getvalue(), outdir


def test_quick_default_run(quick_default):
    code, out, err, outdir = quick_default
    assert code == 0, err
    assert "nassCDS: 26,217 rows" in out and "stratified sample of 3,000 rows" in out
    header, rows = _table_rows(out)
    for column in (
        "PR-AUC",
        "±95%",
        "ROC-AUC",
        "log loss",
        "Brier",
        "best F1",
        "F1 thr",
        "R@P90",
        "fit s",
        "gamma",
        "alpha",
    ):
        assert column in header
    assert _names(rows) == [
        f"{b} {k}"
        for b in ("xgboost", "lightgbm")
        for k in ("logloss", "weighted", "focal", "focal posterior")
    ]
    assert "focal_gradients.png" in out
    assert "focalboost compare" in err and "fit" in err  # the progress bar, on stderr
    table, doc = _check_files(outdir, 8)
    assert table["pr_auc"].between(0.045, 1).all()  # better than the positive rate
    assert (table["pr_auc_ci_low"] <= table["pr_auc"]).all()
    assert (table["pr_auc"] <= table["pr_auc_ci_high"]).all()
    assert table["roc_auc"].between(0.5, 1).all()
    focal = table[table["model"].str.endswith("focal")]
    assert focal["gamma"].isin([1.0, 2.0]).all() and focal["alpha"].isin(["none", "balanced"]).all()
    assert table.loc[~table["model"].str.contains("focal"), "gamma"].isna().all()
    # the posterior correction is monotone: same ranking, better calibrated probabilities
    raw = table[table["model"].str.endswith("focal")].reset_index(drop=True)
    post = table[table["model"].str.endswith("focal posterior")].reset_index(drop=True)
    assert (post["output"] == "posterior").all() and (raw["output"] == "raw").all()
    assert np.allclose(raw["pr_auc"], post["pr_auc"]) and np.allclose(
        raw["roc_auc"], post["roc_auc"]
    )
    assert (post["log_loss"] < raw["log_loss"]).all()
    search = next(m for m in doc["models"] if m["kind"] == "focal")["search"]
    assert len(search) == 4 and all(len(s["fold_scores"]) == 2 for s in search)
    assert doc["dataset"]["positive_class"] == "dead"
    assert "injSeverity" in doc["dataset"]["dropped"]


def test_metrics_are_scikit_learn_s():
    from sklearn.metrics import average_precision_score, f1_score

    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.1).astype(int)
    p = np.clip(0.1 + 0.4 * y + 0.2 * rng.normal(size=500), 0.001, 0.999)
    m = cli.binary_metrics(y, p)
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert m["best_f1"] == pytest.approx(f1_score(y, p >= m["best_f1_threshold"]))
    perfect = cli.binary_metrics(y, y * 0.9 + 0.05)
    assert perfect["recall_at_90_precision"] == 1.0 and perfect["best_f1"] == 1.0


# --- a user's CSV (through python -m focalboost, as a user runs it) -------------------------------
def _user_frame(n=900, n_classes=2, seed=0):
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], n)
    score = 1.5 * x1 + (colour == "red") - 2.5
    if n_classes == 2:
        label = np.where(rng.random(n) < 1 / (1 + np.exp(-score)), "fraud", "ok")
    else:
        label = np.digitize(score + rng.normal(size=n), [-3.5, -2.0])
        label = np.array(["low", "mid", "high"])[label]
    return pd.DataFrame(
        {"x1": x1, "x2": rng.normal(size=n), "colour": colour, "id": np.arange(n), "label": label}
    )


def test_quick_csv_run_as_module(tmp_path):
    path = tmp_path / "mine.csv"
    _user_frame().to_csv(path, index=False)
    outdir = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "focalboost",
            "compare",
            "--quick",
            "--data",
            str(path),
            "--target",
            "label",
            "--drop",
            "id",
            "--backend",
            "lightgbm",
            "--output-dir",
            str(outdir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "mine.csv: 900 rows, 3 features (1 categorical), target 'label'" in proc.stdout
    _, rows = _table_rows(proc.stdout)
    assert _names(rows) == [
        "lightgbm logloss",
        "lightgbm weighted",
        "lightgbm focal",
        "lightgbm focal posterior",
    ]
    _, doc = _check_files(outdir, 4)
    assert doc["dataset"]["positive_class"] == "fraud"  # the rarer label
    assert doc["dataset"]["categorical"] == ["colour"]


def test_quick_multiclass_csv(tmp_path, capsys):
    path = tmp_path / "three.parquet" if _has_pyarrow() else tmp_path / "three.csv"
    frame = _user_frame(n=900, n_classes=3, seed=1)
    frame.to_parquet(path) if path.suffix == ".parquet" else frame.to_csv(path, index=False)
    code, out, err = _run(
        capsys,
        "--quick",
        "--data",
        str(path),
        "--target",
        "label",
        "--drop",
        "id",
        "--backend",
        "xgboost",
        "--alpha",
        "none,1:2:1",
        "--gamma",
        "1",
        "--output-dir",
        str(tmp_path / "out"),
        "--no-progress",
    )
    assert code == 0, err
    assert err == ""  # --no-progress
    header, rows = _table_rows(out)
    for column in ("macro PR-AUC", "bal. acc.", "macro F1", "log loss"):
        assert column in header
    assert "PR-AUC  ROC-AUC" not in header
    table, doc = _check_files(tmp_path / "out", 4)
    assert _names(rows) == [
        "xgboost logloss",
        "xgboost weighted",
        "xgboost focal",
        "xgboost focal posterior",
    ]
    assert table[["macro_pr_auc", "balanced_accuracy", "macro_f1", "log_loss"]].notna().all().all()
    assert (tmp_path / "out" / "focal_gradients_multiclass.png").read_bytes().startswith(PNG_MAGIC)
    assert doc["dataset"]["classes"] == ["high", "low", "mid"]
    assert {s["alpha"] for s in doc["models"][2]["search"]} == {"none", "1:2:1"}


def _has_pyarrow():
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


# --- bad input: a message, exit code 2, no traceback ----------------------------------------------
@pytest.fixture
def user_csv(tmp_path):
    path = tmp_path / "data.csv"
    _user_frame(n=200).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "{dir}/nope.csv", "--target", "label"], "data file not found: '"),
        (
            ["--data", "{csv}", "--target", "lable"],
            "target column 'lable' not found; the columns are: 'x1', 'x2', 'colour', 'id', 'label'",
        ),
        (["--data", "{one_class}", "--target", "label"], "has a single class 'ok' in all 200 rows"),
        (
            ["--data", "{text_id}", "--target", "label"],
            "cannot encode these non-numeric column(s): 'name' (text with 200 distinct values",
        ),
        (["--data", "{csv}"], "needs --target COLUMN"),
        (["--target", "label"], "--target needs --data"),
        (
            ["--data", "{csv}", "--target", "label", "--alpha", "1:2"],
            "per-class weights are for multiclass targets",
        ),
        (
            ["--data", "{tiny_class}", "--target", "label"],
            "class(es) with fewer than 10 rows ('fraud': 3)",
        ),
        (
            ["--data", "{csv}", "--target", "label", "--drop", "nothere"],
            "column(s) to drop not found",
        ),
    ],
)
def test_bad_input_message_and_exit_code(args, message, user_csv, tmp_path, capsys):
    frame = pd.read_csv(user_csv)
    files = {"dir": str(tmp_path), "csv": str(user_csv)}
    for name, change in {
        "one_class": lambda f: f.assign(label="ok"),
        "text_id": lambda f: f.assign(name=[f"person {i}" for i in range(len(f))]),
        "tiny_class": lambda f: f.assign(label=np.where(np.arange(len(f)) < 3, "fraud", "ok")),
    }.items():
        path = tmp_path / f"{name}.csv"
        change(frame).to_csv(path, index=False)
        files[name] = str(path)
    argv = [a.format(**files) for a in args]
    code, out, err = _run(capsys, *argv, "--quick", "--output-dir", str(tmp_path / "o"))
    assert code == 2
    assert message in err
    assert err.startswith("focalboost compare: error: ")
    assert "Traceback" not in err + out
    assert not (tmp_path / "o").exists()  # nothing written


@pytest.mark.parametrize(
    "args, message",
    [
        (["--backend", "catboost"], "argument --backend: invalid choice: 'catboost'"),
        (["--gamma", "1,-2"], "gamma values must be finite numbers >= 0, got '-2'"),
        (["--alpha", "0.25,1.5"], "binary alpha must lie in the open interval (0, 1), got '1.5'"),
        (["--alpha", "sometimes"], "alpha values must be 'none', 'balanced'"),
        (["--dataset", "iris"], "argument --dataset: invalid choice: 'iris'"),
        (["--test-size", "2"], "expected a number in (0, 1), got '2'"),
    ],
)
def test_bad_option_is_a_usage_error(args, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["compare", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "usage: focalboost compare" in err


def test_no_traceback_from_the_process(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "focalboost",
            "compare",
            "--data",
            str(tmp_path / "x.parquet"),
            "--target",
            "y",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == f"focalboost compare: error: data file not found: '{tmp_path / 'x.parquet'}'"
    )


def test_console_script_is_declared():
    """pyproject.toml declares `focalboost = "focalboost.cli:main"` (reinstall after a change)."""
    from importlib.metadata import entry_points

    scripts = entry_points(group="console_scripts", name="focalboost")
    assert [s.value for s in scripts] == ["focalboost.cli:main"]


def test_settings_from_arguments():
    parser = cli.build_parser()
    args = parser.parse_args(
        [
            "compare",
            "--quick",
            "--gamma",
            "0.5,3",
            "--alpha",
            "none,0.3,balanced",
            "--backend",
            "xgboost",
            "--cv-folds",
            "4",
        ]
    )
    s = cli.settings_from_args(args)
    assert s.quick and s.max_rows == 3000 and s.backends == ("xgboost",)
    assert s.gammas == (0.5, 3.0) and s.alphas == (None, 0.3, "balanced") and s.cv_folds == 4
    full = cli.settings_from_args(parser.parse_args(["compare"]))
    assert (
        full.backends == ("xgboost", "lightgbm") and full.max_rows is None and full.threads() == 1
    )
    assert full.alpha_grid(2) == cli.DEFAULT_BINARY_ALPHAS
    assert parser.parse_args(["compare"]).output_dir == "focalboost-output"  # in .gitignore
    assert full.alpha_grid(5) == cli.DEFAULT_MULTICLASS_ALPHAS
