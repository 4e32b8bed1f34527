"""``focalboost compare`` (focalboost.compare.cli) end to end (--quick) and its messages for bad
input."""

import contextlib
import io
import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from focalboost import metrics
from focalboost.compare import cli
from focalboost.compare.engine import run_comparison
from focalboost.compare.settings import DEFAULT_BINARY_ALPHAS, DEFAULT_MULTICLASS_ALPHAS, Settings

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


@pytest.mark.slow  # a whole compare run
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
        "ECE",
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
    assert "warning" not in out  # 34 fatal crashes among the 750 test rows: enough
    # every change to the data: one printed line each, in order, and in results.json
    changes = [
        "dropped column(s) injSeverity, caseid, weight, rownames (injSeverity encodes the "
        "outcome, caseid is an identifier, weight a survey weight, rownames a row number)",
        "encoded text column(s) as categories: dvcat (5 values), airbag (2 values), seatbelt "
        "(2 values), sex (2 values), abcat (3 values), occRole (2 values)",
        "using a stratified sample of 3,000 rows (--quick)",
    ]
    assert out.splitlines()[1:4] == changes
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
    assert table["ece"].between(0, 1).all()
    assert (post["ece"] < raw["ece"]).all()  # raw focal output: under-confident
    # the calibration figure: one panel per backend, raw and corrected focal curves in each
    assert doc["metrics"]["ece"].startswith("expected calibration error over 15 equal-count bins")
    search = next(m for m in doc["models"] if m["kind"] == "focal")["search"]
    assert len(search) == 4 and all(len(s["fold_scores"]) == 2 for s in search)
    assert doc["dataset"]["positive_class"] == "dead"
    assert "injSeverity" in doc["dataset"]["dropped"]
    assert [c["message"] for c in doc["data_changes"]] == changes
    assert [c["change"] for c in doc["data_changes"]] == [
        "drop_columns",
        "encode_columns",
        "sample_rows",
    ]
    assert doc["data_changes"][2]["rows"] == 3000 and doc["data_changes"][2]["rows_before"] == 26217


def test_metrics_are_scikit_learn_s():
    from sklearn.metrics import average_precision_score, f1_score

    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.1).astype(int)
    p = np.clip(0.1 + 0.4 * y + 0.2 * rng.normal(size=500), 0.001, 0.999)
    m = metrics.binary_metrics(y, p)
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert m["best_f1"] == pytest.approx(f1_score(y, p >= m["best_f1_threshold"]))
    perfect = metrics.binary_metrics(y, y * 0.9 + 0.05)
    assert perfect["recall_at_90_precision"] == 1.0 and perfect["best_f1"] == 1.0


def test_expected_calibration_error_by_hand():
    ece = metrics.expected_calibration_error
    # equal-count bins {0.1, 0.2} and {0.3, 0.4}: |0.15 - 0| and |0.35 - 1|, 2 rows each
    assert ece([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], n_bins=2) == pytest.approx(0.4)
    two_columns = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])  # class 1: column 1
    assert ece([0, 0, 1, 1], two_columns, n_bins=2) == pytest.approx(0.4)
    # ties stay in one bin: four rows at 0.1 (1 positive), five at 0.8 (3 positive)
    y, p = [0, 0, 0, 1, 1, 1, 1, 0, 0], [0.1] * 4 + [0.8] * 5
    expected = (4 * abs(0.1 - 1 / 4) + 5 * abs(0.8 - 3 / 5)) / 9
    assert ece(y, p, n_bins=2) == pytest.approx(expected)
    assert ece(y, p, n_bins=15) == pytest.approx(expected)  # no more bins than distinct values
    assert ece(y, p, n_bins=2, strategy="uniform") == pytest.approx(expected)
    assert ece([0, 0, 0, 1], [0.25] * 4) == pytest.approx(0.0)  # calibrated
    # multiclass: top-label probabilities 0.7 (right), 0.6 (wrong), 0.5 (right), 0.8 (right)
    P = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8]])
    y = [0, 1, 1, 2]
    assert ece(y, P, n_bins=1) == pytest.approx(abs(0.65 - 0.75))
    assert ece(y, P, n_bins=2) == pytest.approx((2 * abs(0.55 - 0.5) + 2 * abs(0.75 - 1)) / 4)
    # multi-label: the mean of the labels' binary ECEs
    Y = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    Pl = np.array([[0.1, 0.25], [0.2, 0.25], [0.3, 0.25], [0.4, 0.25]])
    assert ece(Y, Pl, n_bins=2) == pytest.approx((0.4 + 0.25) / 2)
    # a bin's weight is its share of rows: the row counts are reported with the bins
    mean_pred, frac, counts = metrics.reliability_bins(np.linspace(0, 1, 30), np.ones(30), n_bins=3)
    assert counts.tolist() == [10, 10, 10] and frac.tolist() == [1, 1, 1]


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


@pytest.mark.slow  # a whole compare run
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


def test_every_data_change_is_printed_and_recorded(tmp_path, capsys):
    """Rows without a target were dropped without a word (and not in results.json): now each
    change is one line after the summary and an entry of results.json's data_changes."""
    frame = _user_frame(n=300).assign(
        member=lambda f: np.arange(len(f)) % 3 == 0,  # booleans
        size=lambda f: (np.arange(len(f)) % 7).astype(str),  # numbers written as text
    )
    frame.loc[[3, 50, 51, 200], "label"] = np.nan
    frame.to_parquet(tmp_path / "changes.parquet")  # keeps booleans and text of numbers
    code, out, err = _run(
        capsys, "--quick", "--data", str(tmp_path / "changes.parquet"), "--target", "label",
        "--drop", "id,x2", "--max-rows", "250", "--backend", "lightgbm", "--gamma", "1",
        "--alpha", "none", "--no-progress", "--output-dir", str(tmp_path / "out"),
    )
    assert code == 0, err
    lines = [
        "dropped 4 rows whose target 'label' is missing (300 -> 296 rows)",
        "dropped column(s) id, x2 (--drop)",
        "encoded text column(s) as categories: colour (3 values)",
        "read text column(s) of numbers as numbers: size",
        "encoded boolean column(s) as 0/1: member",
        "using a stratified sample of 250 rows (--quick)",
    ]
    printed = out.splitlines()
    assert printed[0].startswith("changes.parquet: 296 rows, 4 features (1 categorical)")
    assert printed[1:7] == lines and printed[7] == ""
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [c["message"] for c in doc["data_changes"]] == lines
    rows, drop, category, number, boolean, sample = doc["data_changes"]
    assert rows == {
        "change": "drop_rows",
        "rows": 4,
        "rows_before": 300,
        "rows_after": 296,
        "reason": "missing target 'label'",
        "message": lines[0],
    }
    assert drop["columns"] == ["id", "x2"] and drop["reason"] == "--drop"
    assert (category["as"], category["columns"]) == ("category", ["colour"])
    assert (number["as"], number["columns"]) == ("number", ["size"])
    assert (boolean["as"], boolean["columns"]) == ("0/1", ["member"])
    assert (sample["rows"], sample["rows_before"]) == (250, 296)
    assert doc["split"]["rows"] == 250


def test_columns_without_a_value_are_dropped_and_said(tmp_path, capsys):
    """A text column with no value became a category without categories, on which XGBoost
    failed (an internal error); a CSV whose lines end in a comma has such a column."""
    frame = _user_frame(n=200).drop(columns="id").assign(notes=None)
    frame.to_parquet(tmp_path / "empty_col.parquet")
    code, out, err = _run(
        capsys, "--quick", "--data", str(tmp_path / "empty_col.parquet"), "--target", "label",
        "--backend", "xgboost", "--gamma", "1", "--alpha", "none", "--no-progress",
        "--output-dir", str(tmp_path / "out"),
    )
    assert code == 0, err
    assert out.splitlines()[1] == "dropped column(s) notes (no value in any row)"
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["data_changes"][0]["columns"] == ["notes"]
    assert "notes" not in doc["dataset"]["features"]
    csv_text = "x,label,\n" + "".join(f"{i % 7},{'a' if i % 3 else 'b'},\n" for i in range(60))
    (tmp_path / "trailing.csv").write_text(csv_text)  # a third, unnamed, empty column
    from focalboost.compare.datasets import load_file

    data = load_file(tmp_path / "trailing.csv", "label")
    assert list(data.X.columns) == ["x"]
    assert data.changes[0]["message"] == "dropped column(s) Unnamed: 2 (no value in any row)"


def test_names_the_libraries_refuse_are_renamed_printed_and_recorded(tmp_path, capsys):
    """'c[1]' failed in XGBoost and LightGBM, 'd:e' and 'a b'-with-'a_b' in LightGBM, each with
    a traceback (LightGBM's also a [Fatal] line from C++)."""
    frame = _user_frame(n=200).drop(columns="id")
    frame = frame.rename(columns={"x1": "c[1]", "x2": "d:e"}).assign(**{"a b": 1.0})
    frame.to_csv(tmp_path / "names.csv", index=False)
    code, out, err = _run(
        capsys, "--quick", "--data", str(tmp_path / "names.csv"), "--target", "label",
        "--gamma", "1", "--alpha", "none", "--no-progress", "--output-dir", str(tmp_path / "out"),
    )
    assert code == 0, err
    line = (
        "renamed column(s) for XGBoost/LightGBM, which do not take \" , : [ ] { } < or "
        "whitespace in feature names: 'c[1]' -> 'c_1_', 'd:e' -> 'd_e', 'a b' -> 'a_b'"
    )
    assert out.splitlines()[2] == line
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["data_changes"][-1] == {
        "change": "rename_columns",
        "columns": {"c[1]": "c_1_", "d:e": "d_e", "a b": "a_b"},
        "message": line,
    }
    assert doc["dataset"]["features"] == ["c_1_", "d_e", "colour", "a_b"]


@pytest.mark.slow  # a whole compare run
def test_quick_multiclass_parquet(tmp_path, capsys):
    path = tmp_path / "three.parquet"  # pyarrow is a dev (and compare) dependency
    _user_frame(n=900, n_classes=3, seed=1).to_parquet(path)
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
    for column in ("macro PR-AUC", "bal. acc.", "macro F1", "log loss", "Brier", "ECE"):
        assert column in header
    assert "PR-AUC  ROC-AUC" not in header
    table, doc = _check_files(tmp_path / "out", 4)
    assert _names(rows) == [
        "xgboost logloss",
        "xgboost weighted",
        "xgboost focal",
        "xgboost focal posterior",
    ]
    metrics = ["macro_pr_auc", "balanced_accuracy", "macro_f1", "log_loss", "brier", "ece"]
    assert table[metrics].notna().all().all()
    assert (tmp_path / "out" / "focal_gradients_multiclass.png").read_bytes().startswith(PNG_MAGIC)
    assert doc["dataset"]["classes"] == ["high", "low", "mid"]
    assert {s["alpha"] for s in doc["models"][2]["search"]} == {"none", "1:2:1"}


# --- several target columns: multi-label ----------------------------------------------------------
def _multilabel_frame(n=900, seed=2):
    """Three labels of different kinds: 0/1 ints, 'yes'/'no' text, booleans."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], n)

    def draw(score):
        return rng.random(n) < 1 / (1 + np.exp(-score))

    return pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "colour": colour,
            "id": np.arange(n),
            "a": draw(2 * x1 - 2.5).astype(int),
            "b": np.where(draw(x2 + (colour == "red") - 2), "yes", "no"),
            "c": draw(1.5 * x1 + x2 - 3),
        }
    )


@pytest.mark.slow  # a whole compare run
def test_quick_multilabel_csv(tmp_path, capsys):
    path = tmp_path / "labels.csv"
    frame = _multilabel_frame()
    frame.to_csv(path, index=False)
    outdir = tmp_path / "out"
    code, out, err = _run(
        capsys,
        "--quick",
        "--data",
        str(path),
        "--target",
        "a,b,c",
        "--drop",
        "id",
        "--output-dir",
        str(outdir),
        "--no-progress",
    )
    assert code == 0, err
    assert "labels.csv: 900 rows, 3 features (1 categorical), 3 labels (multi-label): a " in out
    assert out.splitlines()[1:3] == [
        "dropped column(s) id (--drop)",
        "encoded text column(s) as categories: colour (3 values)",
    ]
    header, rows = _table_rows(out)
    columns = ["PR-AUC a", "PR-AUC b", "PR-AUC c", "macro PR-AUC", "macro ROC-AUC"]
    for column in columns + ["±95%", "log loss", "Brier", "ECE", "trees", "gamma", "alpha"]:
        assert column in header
    assert header.index("PR-AUC c") < header.index("macro PR-AUC")
    assert _names(rows) == [
        f"{b} {k}" for b in ("xgboost", "lightgbm") for k in ("logloss", "focal", "focal posterior")
    ]
    table, doc = _check_files(outdir, 6)
    per_label = table[["pr_auc[a]", "pr_auc[b]", "pr_auc[c]"]]
    np.testing.assert_allclose(table["macro_pr_auc"], per_label.mean(axis=1))
    rates = frame[["a"]].mean().item(), (frame["b"] == "yes").mean(), frame["c"].mean()
    assert (per_label > np.array(rates) + 0.1).all().all()  # well above a random ranking
    assert table[["roc_auc[a]", "roc_auc[b]", "roc_auc[c]"]].gt(0.6).all().all()
    # the posterior correction is monotone per label: same ranking, better probabilities
    raw = table[table["model"].str.endswith("focal")].reset_index(drop=True)
    post = table[table["model"].str.endswith("focal posterior")].reset_index(drop=True)
    np.testing.assert_allclose(raw[per_label.columns], post[per_label.columns])
    assert (post["log_loss"] < raw["log_loss"]).all() and (post["ece"] < raw["ece"]).all()
    assert doc["dataset"]["targets"] == ["a", "b", "c"]
    assert doc["dataset"]["positive_classes"] == ["1", "yes", "True"]
    models = {m["name"]: m for m in doc["models"]}
    assert len(models["lightgbm logloss"]["n_trees_per_label"]) == 3  # one model per label
    assert models["xgboost focal"]["gamma"] in (1.0, 2.0)
    assert len(models["xgboost focal"]["search"]) == 4
    assert "multi-output trees" in out and "one model per label" in out


def test_multilabel_split_is_stratified_on_the_rarest_label():
    from focalboost.compare.datasets import from_dataframe

    frame = _multilabel_frame(n=400, seed=3)
    data = from_dataframe(frame.drop(columns="id"), ["a", "b", "c"], name="m")
    rarest = int(np.argmin(data.label_counts))
    settings = Settings.quick_defaults(progress=False, bootstrap=0, backends=("xgboost",))
    for seed in range(3):
        result = run_comparison(data, settings.__class__(**{**settings.__dict__, "seed": seed}))
        assert result.y_test.shape == (100, 3)
        share = result.y_test[:, rarest].sum() / 100
        assert abs(share - data.Y[:, rarest].mean()) <= 0.01  # a random split: +-0.03 typical
        assert (result.y_test.sum(axis=0) > 0).all()


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
        (["--data", "{header_only}", "--target", "label"], "the data have no rows (only the "
         "header: 'x1', 'x2', 'colour', 'id', 'label')"),
        (
            ["--data", "{csv}", "--target", "lable"],
            "target column 'lable' not found; the columns are: 'x1', 'x2', 'colour', 'id', 'label'",
        ),
        (["--data", "{one_class}", "--target", "label"], "has a single class 'ok' in all 200 rows"),
        (
            ["--data", "{text_id}", "--target", "label", "--drop", "id"],
            "cannot encode these non-numeric column(s): 'name' (text with 200 distinct values",
        ),
        (["--data", "{csv}"], "needs --target COLUMN"),
        (["--target", "label"], "--target needs --data"),
        (
            ["--data", "{csv}", "--target", "label", "--drop", "id", "--alpha", "1:2"],
            "per-class weights are for multiclass targets",
        ),
        (
            ["--data", "{tiny_class}", "--target", "label", "--drop", "id"],
            "class(es) with fewer than 10 rows ('fraud': 3)",
        ),
        (
            ["--data", "{csv}", "--target", "label", "--drop", "nothere"],
            "column(s) to drop not found",
        ),
        # several target columns (multi-label)
        (
            ["--data", "{ml_one}", "--target", "label,flag"],
            "target column 'flag' has a single value 1 in all 200 rows; with several target "
            "columns every column must be one binary label",
        ),
        (
            ["--data", "{ml_three}", "--target", "label,flag"],
            "target column 'flag' has 3 distinct values (0, 1, 2); with several target columns",
        ),
        (["--data", "{csv}", "--target", "label,x1"], "target column 'x1' has 200 distinct values"),
        (
            ["--data", "{csv}", "--target", "label,nothere,colour"],
            "target column(s) ['nothere'] not found; the columns are: 'x1', 'x2'",
        ),
        (
            ["--data", "{ml_rare}", "--target", "label,flag", "--drop", "id"],
            "label(s) with fewer than 10 rows on one side ('flag': 3 with, 197 without)",
        ),
        (
            ["--data", "{ml_one}", "--target", "label,colour", "--positive-class", "ok"],
            "--positive-class is for one binary target",
        ),
        (
            ["--data", "{ml_rare}", "--target", "label,flag", "--drop", "id", "--alpha", "1:2"],
            "with several target columns alpha is applied to every label",
        ),
        # infinite features: XGBoost's traceback and C++ stack (exit 1); LightGBM ran silently
        (
            ["--data", "{inf}", "--target", "label", "--backend", "xgboost"],
            "feature column(s) with infinite values or values too large for float32 (XGBoost's "
            "feature type): 'x1' (1 infinite); 'x2' (2 infinite, 1 beyond +-3.4e38). Missing "
            "values (NaN, empty cells) are fine",
        ),
        (
            ["--data", "{inf}", "--target", "label", "--backend", "lightgbm"],
            "'x1' (1 infinite); 'x2' (2 infinite, 1 beyond +-3.4e38)",
        ),
        (["--data", "{inf}", "--target", "label,flag"], "'x1' (1 infinite)"),
        # identifiers, names the libraries refuse, repeated names
        (
            ["--data", "{csv}", "--target", "label"],
            "column(s) that look like row identifiers, not features (a model could only memorise "
            "them): 'id' (integers, a different one in every row, named like an identifier). "
            "Leave them out with --drop id",
        ),
        (
            ["--data", "{saved_index}", "--target", "label", "--drop", "id"],
            "'Unnamed: 0' (integers, a different one in every row, named like an identifier). "
            "Leave them out with --drop 'Unnamed: 0'",
        ),
        (
            ["--data", "{row_number}", "--target", "label", "--drop", "id"],
            "'n' (integers increasing down the file: a row number or a time stamp)",
        ),
        (
            ["--data", "{text_id_few}", "--target", "label", "--drop", "id"],
            "'name' (text, a different value in every row)",
        ),
        (
            ["--data", "{repeated}", "--target", "label"],
            "column name(s) 'x1' appear more than once in the header of '",
        ),
        (
            ["--data", "{clash}", "--target", "label", "--drop", "id"],
            "with them replaced by '_', 'a b' and 'a_b' would have the same name",
        ),
        # a test part without a single positive gave PR-AUC 0.000 and exit 0
        (
            ["--data", "{fewpos}", "--target", "label", "--drop", "id", "--test-size", "0.03"],
            "class(es) with fewer than 34 rows ('fraud': 13); the comparison needs at least 34 "
            "rows per class for its stratified test, validation and 2-fold splits (--test-size "
            "0.03, --valid-size 0.2, --cv-folds 2)",
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
        "ml_one": lambda f: f.assign(flag=1),
        "ml_three": lambda f: f.assign(flag=np.arange(len(f)) % 3),
        "ml_rare": lambda f: f.assign(flag=(np.arange(len(f)) < 3).astype(int)),
        "header_only": lambda f: f.iloc[:0],
        "saved_index": lambda f: f,  # written with its index below: pandas' 'Unnamed: 0'
        "row_number": lambda f: f.assign(n=np.arange(len(f)) + 1000),
        "text_id_few": lambda f: f.assign(name=[f"person {i}" for i in range(len(f))]).iloc[:60],
        "repeated": lambda f: f.rename(columns={"x2": "x1"}),
        "clash": lambda f: f.assign(**{"a b": 1.0, "a_b": 2.0}),
        "fewpos": lambda f: f.assign(label=np.where(np.arange(len(f)) % 16 == 0, "fraud", "ok")),
        "inf": lambda f: f.assign(
            x1=np.where(np.arange(len(f)) == 5, np.inf, f["x1"]),
            x2=np.select([np.arange(len(f)) == 7, np.arange(len(f)) == 9, np.arange(len(f)) == 11],
                         [-np.inf, np.inf, 1e300], np.where(np.arange(len(f)) == 3, np.nan, f["x2"])),
            flag=np.arange(len(f)) % 2,
        ),
    }.items():
        path = tmp_path / f"{name}.csv"
        change(frame).to_csv(path, index=name == "saved_index")
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
        (["--seed", "-1"], "argument --seed: expected an integer from 0 to 4294967295, got '-1'"),
        (["--seed", str(2**32)], "argument --seed: expected an integer from 0 to 4294967295"),
        (["--gamma", "1,1e200"], "gamma values must be at most 100"),
    ],
)
def test_bad_option_is_a_usage_error(args, message, capsys):
    """One line: the message and where the options are listed (no usage block, no traceback)."""
    with pytest.raises(SystemExit) as info:
        cli.main(["compare", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("focalboost compare: error: argument --")
    assert message in err and err.endswith("(see 'focalboost compare --help')\n")


def test_n_jobs_beyond_the_cpus_is_refused_before_anything_runs(tmp_path):
    """--n-jobs 100000 crashed LightGBM with a segmentation fault (exit 139): run in a
    subprocess, so that a regression fails this test instead of killing pytest."""
    proc = subprocess.run(
        [sys.executable, "-m", "focalboost", "compare", "--quick", "--n-jobs", "100000",
         "--backend", "lightgbm", "--no-progress", "--output-dir", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("focalboost compare: error: --n-jobs must be at most the ")
    assert proc.stderr.count("\n") == 1 and not (tmp_path / "o").exists()


def test_output_dir_that_cannot_be_written_is_refused_before_the_run(user_csv, tmp_path, capsys):
    (tmp_path / "busy" / "results.csv").mkdir(parents=True)  # a directory in the way
    (tmp_path / "file").write_text("")
    for outdir, message in [
        (tmp_path / "busy", "cannot write results.csv in --output-dir"),
        (tmp_path / "file" / "sub", "is a file, not a directory"),
    ]:
        code, out, err = _run(
            capsys, "--data", str(user_csv), "--target", "label", "--output-dir", str(outdir)
        )
        assert code == 2 and out == "", err  # refused before the data summary
        assert message in err and err.count("\n") == 1


def _raise(exc):
    def compare(args, stdout=None):
        raise exc

    return compare


def test_a_boosting_library_error_is_one_line(monkeypatch, capsys):
    """The libraries' own errors (XGBoost's carries its C++ stack) are about the data they were
    given: one line with the library's first message line, exit 2."""
    import xgboost

    message = (
        "[19:22:33] /workspace/src/data/data.cc:1104: Check failed: valid: Input data contains "
        "`inf` or a value too large\nStack trace:\n  [bt] (0) libxgboost.so(+0x1)\n"
    )
    monkeypatch.setattr(cli, "compare", _raise(xgboost.core.XGBoostError(message)))
    code, out, err = _run(capsys, "--quick")
    assert code == 2
    assert err == (
        "focalboost compare: error: XGBoost refused the data: Check failed: valid: Input data "
        "contains `inf` or a value too large\n"
    )


def test_an_unexpected_error_is_a_bug_report_with_exit_code_1(monkeypatch, capsys):
    monkeypatch.setattr(cli, "compare", _raise(ZeroDivisionError("oops")))
    code, out, err = _run(capsys, "--quick")
    assert code == 1
    assert "Traceback" in err and "ZeroDivisionError: oops" in err
    assert err.splitlines()[-1].startswith("focalboost compare: internal error (a bug")


def test_few_test_positives_are_a_printed_and_recorded_warning(tmp_path, capsys):
    """24 positives in 200 rows: 6 in the 50 test rows, a PR-AUC of noise; the run goes on."""
    frame = _user_frame(n=200).assign(
        label=lambda f: np.where(np.arange(len(f)) % 25 < 3, "fraud", "ok")
    )
    frame.to_csv(tmp_path / "few.csv", index=False)
    code, out, err = _run(
        capsys, "--quick", "--data", str(tmp_path / "few.csv"), "--target", "label",
        "--drop", "id", "--backend", "lightgbm", "--gamma", "1", "--alpha", "none",
        "--no-progress", "--output-dir", str(tmp_path / "out"),
    )
    assert code == 0, err
    line = (
        "warning: only 6 test rows of class 'fraud' (fewer than 10): the PR-AUC, ROC-AUC, F1 "
        "and ECE rest on them and are mostly noise; use more rows (--max-rows) or a larger "
        "--test-size"
    )
    assert out.count("warning:") == 1 and line + "\n" in out
    assert out.index("test set: 50 rows") < out.index(line) < out.index("model ")
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["warnings"] == [line]


@pytest.mark.slow  # a fresh interpreter
def test_output_piped_into_head_is_no_internal_error(tmp_path):
    """| head closing stdout early gave a BrokenPipeError traceback and the bug-report line."""
    script = (
        f"{sys.executable} -m focalboost compare --data {tmp_path / 'x.csv'} --target label "
        f"--drop id --backend lightgbm --quick --gamma 1 --alpha none --no-progress "
        f"--output-dir {tmp_path / 'out'} | head -1"
    )
    _user_frame(n=200).to_csv(tmp_path / "x.csv", index=False)
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.stdout.startswith("x.csv: 200 rows")
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert "BrokenPipe" not in proc.stderr


def test_a_model_that_learned_nothing_is_a_printed_and_recorded_warning(tmp_path, capsys):
    """gamma 100 leaves focal loss no hessian to split on: one tree, the same probability for
    every row, ROC-AUC 0.500 in the table, and no word about it."""
    path = tmp_path / "u.csv"
    _user_frame(n=300).to_csv(path, index=False)
    code, out, err = _run(
        capsys, "--quick", "--data", str(path), "--target", "label", "--drop", "id",
        "--backend", "xgboost", "--gamma", "100", "--alpha", "none", "--no-progress",
        "--output-dir", str(tmp_path / "out"),
    )
    assert code == 0, err
    line = (
        "warning: xgboost focal (gamma 100, alpha none) gave the same probabilities for every "
        "test row: it learned nothing, and its scores are those of a constant"
    )
    assert line + "\n" in out
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["warnings"][0] == line
    # the estimator's own warning says why, before training (focalboost.sklearn: no split)
    others = doc["warnings"][1:]
    assert others and all("no tree can split" in w for w in others)
    assert out.count("warning") == 1 + len(others)
    focal = next(m for m in doc["models"] if m["name"] == "xgboost focal")
    assert focal["roc_auc"] == 0.5 and focal["n_trees"] == 1


def test_python_warnings_during_training_are_counted_lines_not_stderr(tmp_path, capsys):
    import warnings

    from focalboost.compare import engine

    fit = engine.fit_model

    def fit_and_warn(spec, model, *args):
        warnings.warn(f"odd thing in {spec.backend}\nsecond line", UserWarning)
        return fit(spec, model, *args)

    path = tmp_path / "u.csv"
    _user_frame(n=200).to_csv(path, index=False)
    try:
        engine.fit_model = fit_and_warn
        code, out, err = _run(
            capsys, "--quick", "--data", str(path), "--target", "label", "--drop", "id",
            "--backend", "lightgbm", "--gamma", "1", "--alpha", "none", "--no-progress",
            "--output-dir", str(tmp_path / "out"),
        )
    finally:
        engine.fit_model = fit
    assert code == 0 and err == ""
    # the 3 final fits (the focal search runs in FocalSearchCV, not through fit_model)
    line = "warning (UserWarning): odd thing in lightgbm (3 times)"
    assert line + "\n" in out
    assert json.loads((tmp_path / "out" / "results.json").read_text())["warnings"][-1] == line


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



@pytest.mark.slow  # a fresh interpreter
@pytest.mark.parametrize("command", [[], ["compare"]], ids=["options", "compare-options"])
def test_python_m_focalboost_compare(command, tmp_path):
    """``python -m focalboost.compare [compare] OPTIONS`` is ``focalboost compare OPTIONS``."""
    missing = tmp_path / "x.parquet"
    proc = subprocess.run(
        [sys.executable, "-m", "focalboost.compare", *command, "--data", str(missing), "--target", "y"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"focalboost compare: error: data file not found: '{missing}'"
    proc = subprocess.run(
        [sys.executable, "-m", "focalboost.compare", *command, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("usage: focalboost compare [-h]")

def test_console_script_is_declared():
    """pyproject.toml declares `focalboost = "focalboost.compare.cli:main"` (reinstall after a
    change: pip install --no-deps -e .)."""
    from importlib.metadata import entry_points

    scripts = entry_points(group="console_scripts", name="focalboost")
    assert [s.value for s in scripts] == ["focalboost.compare.cli:main"]


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
    assert full.alpha_grid(2) == DEFAULT_BINARY_ALPHAS
    assert parser.parse_args(["compare"]).output_dir == "focalboost-output"  # in .gitignore
    assert full.alpha_grid(5) == DEFAULT_MULTICLASS_ALPHAS


@pytest.mark.parametrize("mode", ["fast", "exhaustive"])
def test_search_mode_is_used_and_said(tmp_path, capsys, mode):
    """--search-mode reaches FocalSearchCV, the output line and results.json say which; the
    exhaustive search's fold scores are those of fitting every candidate with fit_model (the
    comparison's own early-stopped fit) and scoring it with selection_score."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    from focalboost.compare import engine
    from focalboost.compare.settings import ModelSpec, Settings

    path = tmp_path / "u.csv"
    _user_frame(n=400).to_csv(path, index=False)
    code, out, err = _run(
        capsys, "--quick", "--data", str(path), "--target", "label", "--drop", "id",
        "--backend", "xgboost", "--search-mode", mode, "--no-progress",
        "--output-dir", str(tmp_path / "out"),
    )
    assert code == 0, err
    assert f"FocalSearchCV {mode} mode" in out
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    focal = next(m for m in doc["models"] if m["kind"] == "focal")
    assert focal["search_mode"] == mode and doc["settings"]["search_mode"] == mode
    assert ("max_rounds" in focal["search"][0]) == (mode == "fast")
    if mode == "fast":
        return
    # the exhaustive search by hand, the way the comparison searched before FocalSearchCV
    settings = Settings.quick_defaults(backends=("xgboost",), search_mode=mode, progress=False)
    from focalboost.compare.datasets import load_file

    dataset = engine.sample_rows(load_file(str(path), "label", drop=["id"]), settings)
    X, y = dataset.X, dataset.y
    idx_fit, _ = train_test_split(np.arange(len(y)), test_size=settings.test_size, stratify=y,
                                  random_state=settings.seed)
    idx_train, idx_valid = train_test_split(idx_fit, test_size=settings.valid_size,
                                            stratify=y[idx_fit], random_state=settings.seed)
    X_train, y_train = X.iloc[idx_train], y[idx_train]
    cv = StratifiedKFold(settings.cv_folds, shuffle=True, random_state=settings.seed)
    spec = ModelSpec("xgboost", "focal", searched=True)
    params = {"gamma": 1.0, "alpha": "balanced"}
    scores = []
    for fit_rows, score_rows in cv.split(X_train, y_train):
        model = engine.build_model(spec, settings, 2, y_train[fit_rows], params)
        engine.fit_model(spec, model, settings, 2, X_train.iloc[fit_rows], y_train[fit_rows],
                         X.iloc[idx_valid], y[idx_valid])
        proba = engine.predicted_proba(model, X_train.iloc[score_rows])
        scores.append(engine.selection_score(y_train[score_rows], proba, 2))
    row = next(s for s in focal["search"] if s["gamma"] == 1.0 and s["alpha"] == "balanced")
    assert row["fold_scores"] == scores
