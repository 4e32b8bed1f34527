"""focalboost.compare.datasets: the built-in data sets, user files, encoding and its error
messages."""

import numpy as np
import pandas as pd
import pytest

from focalboost.compare import datasets
from focalboost.compare.datasets import (
    DataError,
    encode_features,
    from_dataframe,
    load_file,
    read_table,
)


# --- built-in data sets ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nass():
    return datasets.load_nasscds()


def test_nasscds_target_and_leaks_removed(nass):
    assert len(nass.y) == 26217
    assert nass.classes == ["alive", "dead"]
    assert nass.positive_class == "dead"
    assert nass.class_counts.tolist() == [25037, 1180]  # 4.5 % positive
    for leak in ("injSeverity", "caseid", "weight", "rownames", "dead"):
        assert leak not in nass.X.columns
    assert set(nass.dropped) == {"injSeverity", "caseid", "weight", "rownames"}


def test_nasscds_features_are_numeric_or_category(nass):
    kinds = {c: nass.X[c].dtype for c in nass.X.columns}
    assert set(nass.categorical) == {"dvcat", "airbag", "seatbelt", "sex", "abcat", "occRole"}
    for col, dtype in kinds.items():
        assert isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_numeric_dtype(dtype), col
    assert list(nass.X["seatbelt"].cat.categories) == ["belted", "none"]
    assert "4.5%" in nass.summary()


def test_diamonds_multiclass_in_quality_order():
    d = datasets.load_dataset("diamonds")
    assert d.classes == ["Fair", "Good", "Very Good", "Premium", "Ideal"]
    assert d.n_classes == 5 and not d.is_binary and d.positive_class is None
    assert d.class_counts.tolist() == [1610, 4906, 12082, 13791, 21551]
    assert "cut" not in d.X.columns and "rownames" not in d.X.columns


def test_unknown_builtin_name():
    with pytest.raises(DataError, match="dataset must be one of"):
        datasets.load_dataset("titanic")


def test_subsample_is_stratified_and_keeps_encoding(nass):
    small = nass.subsample(2000, random_state=1)
    assert len(small.y) == 2000 and small.X.shape == (2000, nass.X.shape[1])
    assert abs(small.y.mean() - nass.y.mean()) < 0.002
    assert list(small.X["dvcat"].cat.categories) == list(nass.X["dvcat"].cat.categories)
    assert nass.subsample(None) is nass and nass.subsample(10**6) is nass


# --- encoding -------------------------------------------------------------------------------------
def _frame(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "num_with_nan": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "flag": rng.random(n) < 0.5,
            "colour": rng.choice(["red", "green", "blue"], n),
            "numbers_as_text": rng.integers(0, 9, n).astype(str),
            "label": np.where(rng.random(n) < 0.2, "yes", "no"),
        }
    )


def test_encode_features_types():
    X = encode_features(_frame().drop(columns="label"))
    assert X["num"].dtype == np.float64
    assert X["num_with_nan"].isna().any()  # missing values stay missing
    assert X["flag"].dtype == np.int8 and set(X["flag"].unique()) <= {0, 1}
    assert isinstance(X["colour"].dtype, pd.CategoricalDtype)
    assert list(X["colour"].cat.categories) == ["blue", "green", "red"]
    assert pd.api.types.is_numeric_dtype(X["numbers_as_text"])


def test_encoded_frame_trains_with_both_libraries():
    """The category dtype is split on natively by XGBoost (enable_categorical) and LightGBM."""
    import lightgbm as lgb
    import xgboost as xgb

    data = from_dataframe(_frame(200), "label")
    xgb_model = xgb.XGBClassifier(
        n_estimators=3, enable_categorical=True, tree_method="hist", n_jobs=1
    )
    xgb_model.fit(data.X, data.y)
    lgb_model = lgb.LGBMClassifier(n_estimators=3, min_child_samples=5, n_jobs=1, verbose=-1)
    lgb_model.fit(data.X, data.y)
    assert "colour" in lgb_model.booster_.dump_model()["feature_names"]
    assert (
        lgb_model.booster_.params.get("categorical_column") or lgb_model.booster_.pandas_categorical
    )
    assert xgb_model.predict_proba(data.X).shape == (200, 2)


def test_high_cardinality_text_is_refused_with_its_name():
    df = _frame()
    df["id"] = [f"case-{i}" for i in range(len(df))]
    with pytest.raises(DataError, match=r"'id' \(text with 60 distinct values.*--drop"):
        from_dataframe(df, "label", max_categories=50)
    assert "id" not in from_dataframe(df, "label", drop=["id"]).X.columns


def test_infinite_features_are_refused_with_their_names_nan_is_fine():
    df = _frame()
    df.loc[3, "num"] = -np.inf
    df.loc[[4, 5], "num_with_nan"] = [np.inf, 1e39]  # 1e39 is inf in float32
    with pytest.raises(
        DataError,
        match=r"infinite values or values too large for float32 .*: 'num' \(1 infinite\); "
        r"'num_with_nan' \(1 infinite, 1 beyond \+-3.4e38\)\. Missing values \(NaN",
    ):
        from_dataframe(df, "label")
    df["numbers_as_text"] = "inf"  # text that parses as a number is checked too
    with pytest.raises(DataError, match=r"'numbers_as_text' \(60 infinite\)"):
        from_dataframe(df, "label", drop=["num", "num_with_nan"])
    kept = from_dataframe(df, "label", drop=["num", "num_with_nan", "numbers_as_text"])
    assert list(kept.X.columns) == ["flag", "colour"]  # a dropped column is not checked
    ok = _frame()
    ok.loc[:9, "num"] = np.nan  # NaN is a missing value: kept
    assert from_dataframe(ok, "label").X["num"].isna().sum() == 10


@pytest.mark.parametrize(
    "name, values, refused",
    [
        ("id", np.random.default_rng(0).permutation(60), True),
        ("user_id", np.random.default_rng(0).permutation(60) + 10**6, True),
        ("userId", np.random.default_rng(0).permutation(60), True),
        ("ROW_INDEX", np.random.default_rng(0).permutation(60), True),
        ("serial", np.arange(60) * 3 + 7, True),  # in order: a row number
        ("countdown", np.arange(60)[::-1].astype(float), True),  # integers stored as floats
        ("big", np.uint64(2**63) + np.arange(60, dtype=np.uint64), True),  # not exact as floats
        ("account_id", pd.array(np.arange(60) * 7 % 61, dtype="Int64"), True),  # nullable ints
        ("amount", np.random.default_rng(0).permutation(60), False),  # no order, plain name
        ("paid", np.random.default_rng(0).permutation(60), False),  # 'id' is not a word here
        ("id", np.r_[np.arange(59), np.nan], False),  # a missing value: not an identifier
        ("id", np.arange(60) % 30, False),  # repeated values
        ("sorted", np.arange(60) + 0.5, False),  # not integers
    ],
)
def test_identifier_columns_are_refused_with_the_drop_to_use(name, values, refused):
    df = _frame().assign(**{name: values})
    if refused:
        with pytest.raises(DataError, match=rf"look like row identifiers.*'{name}' .*--drop {name}$"):
            from_dataframe(df, "label")
        assert name not in from_dataframe(df, "label", drop=[name]).X.columns
    else:
        assert name in from_dataframe(df, "label").X.columns


def test_dates_and_objects_are_refused():
    df = _frame()
    df["when"] = pd.date_range("2020-01-01", periods=len(df))
    df["obj"] = [{"a": 1}] * len(df)
    with pytest.raises(DataError, match=r"'when' \(date/time.*'obj' \(objects of type dict\)"):
        from_dataframe(df, "label")


# --- targets --------------------------------------------------------------------------------------
def test_binary_positive_class_defaults():
    df = _frame()
    data = from_dataframe(df, "label")  # text labels: the rarer class is positive
    assert data.positive_class == "yes"
    assert np.array_equal(data.y, (df["label"] == "yes").to_numpy().astype(int))
    df["label01"] = (df["label"] == "no").astype(int)  # 0/1 labels: 1 is positive even if common
    assert from_dataframe(df.drop(columns="label"), "label01").positive_class == 1
    forced = from_dataframe(df, "label", positive_class="no")
    assert forced.classes == ["yes", "no"] and forced.y.mean() > 0.5


def test_missing_target_rows_are_dropped_and_recorded():
    df = _frame()
    df.loc[:4, "label"] = None
    data = from_dataframe(df, "label")
    assert len(data.y) == len(df) - 5
    assert data.changes[0]["message"] == (
        "dropped 5 rows whose target 'label' is missing (60 -> 55 rows)"
    )
    assert [c["change"] for c in from_dataframe(_frame(), "label").changes] == [
        "encode_columns",
        "encode_columns",
        "encode_columns",
    ]  # colour, numbers_as_text, flag: nothing dropped


@pytest.mark.parametrize(
    "change, kwargs, message",
    [
        (
            lambda df: df,
            {"target": "nope"},
            r"target column 'nope' not found; the columns are: 'num'",
        ),
        (lambda df: df.assign(label="no"), {}, r"single class 'no' in all 60 rows"),
        (lambda df: df.assign(label=df["num"]), {}, r"non-integer numbers.*regression target"),
        (lambda df: df, {"drop": ["ghost"]}, r"column\(s\) to drop not found: \['ghost'\]"),
        (lambda df: df, {"positive_class": "maybe"}, r"positive class 'maybe' is not a label"),
        (
            lambda df: df.assign(label=np.arange(60) % 3),
            {"positive_class": 1},
            r"for binary targets",
        ),
        (lambda df: df[["label"]], {}, r"no feature columns left"),
        (lambda df: df.assign(label=np.nan), {}, r"no values \(all missing\)"),
    ],
)
def test_target_errors(change, kwargs, message):
    kwargs = {"target": "label", **kwargs}
    with pytest.raises(DataError, match=message):
        from_dataframe(change(_frame()), **kwargs)


# --- files ----------------------------------------------------------------------------------------
def test_read_csv_tsv_and_semicolon(tmp_path):
    df = _frame()
    df.to_csv(tmp_path / "a.csv", index=False)
    df.to_csv(tmp_path / "b.tsv", sep="\t", index=False)
    df.to_csv(tmp_path / "c.csv.gz", sep=";", index=False)
    for name in ("a.csv", "b.tsv", "c.csv.gz"):
        back = read_table(tmp_path / name)
        assert list(back.columns) == list(df.columns), name
        assert np.allclose(back["num"], df["num"]), name
    data = load_file(tmp_path / "a.csv", "label", drop=["numbers_as_text"])
    assert data.name == "a.csv" and data.positive_class == "yes"


def test_csv_rows_longer_than_the_header(tmp_path):
    """pandas made the first column the index when rows have one field more than the header
    names: 'x' then held the labels and 'label' the extra field, silently."""
    (tmp_path / "trailing.csv").write_text("x,label\n1,a,\n2,b,\n")  # lines end in a comma
    df = read_table(tmp_path / "trailing.csv")
    assert list(df.columns) == ["x", "label"] and df["x"].tolist() == [1, 2]
    assert df["label"].tolist() == ["a", "b"]
    (tmp_path / "extra.csv").write_text("x,label\n1,a,5\n2,b,6\n")
    with pytest.raises(DataError, match="rows have more fields than the header has names"):
        read_table(tmp_path / "extra.csv")
    (tmp_path / "semi.csv").write_text("x;label\n1;a;\n2;b;\n")  # the sniffed separator too
    assert read_table(tmp_path / "semi.csv")["x"].tolist() == [1, 2]


def test_read_parquet(tmp_path):
    import pyarrow  # noqa: F401  (a dev dependency)
    df = _frame()
    df["colour"] = df["colour"].astype("category")
    df.to_parquet(tmp_path / "d.parquet")
    data = load_file(tmp_path / "d.parquet", "label")
    assert isinstance(data.X["colour"].dtype, pd.CategoricalDtype)
    assert len(data.y) == len(df)


def test_file_errors(tmp_path):
    with pytest.raises(DataError, match=r"data file not found: '.*missing\.csv'"):
        read_table(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="is a directory"):
        read_table(tmp_path)
    (tmp_path / "x.xlsx").write_text("not really")
    with pytest.raises(DataError, match=r"cannot tell the format.*\.csv"):
        read_table(tmp_path / "x.xlsx")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="cannot read .* as CSV"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DataError, match="cannot read .* as Parquet|needs pyarrow"):
        read_table(tmp_path / "bad.parquet")


# --- several target columns: multi-label ----------------------------------------------------------
def _labels_frame(n=120, seed=0):
    rng = np.random.default_rng(seed)
    df = _frame(n, seed).drop(columns="label")
    return df.assign(
        ints=(rng.random(n) < 0.3).astype(int),  # 0/1: 1 is positive
        words=np.where(rng.random(n) < 0.7, "common", "rare"),  # text: the rarer value
        bools=rng.random(n) < 0.8,  # booleans: True, even if common
    )


def test_multilabel_positive_value_per_column():
    df = _labels_frame()
    data = from_dataframe(df, ["ints", "words", "bools"], name="m")
    assert isinstance(data, datasets.MultiLabelDataset) and data.is_multilabel
    assert data.labels == ["ints", "words", "bools"] and data.n_labels == 3
    assert data.positive_classes == [1, "rare", True]
    assert data.negative_classes == [0, "common", False]
    expected = np.column_stack(
        [df["ints"] == 1, df["words"] == "rare", df["bools"]]
    ).astype(int)
    assert np.array_equal(data.Y, expected)
    for col in ("ints", "words", "bools", "label"):
        assert col not in data.X.columns
    assert "colour" in data.categorical
    assert "3 labels (multi-label): ints " in data.summary() and "(= 'rare')" in data.summary()
    assert np.array_equal(data.label_counts, expected.sum(axis=0))


def test_multilabel_missing_rows_dropped_and_subsample():
    df = _labels_frame(n=300)
    df.loc[:4, "words"] = None
    df.loc[3:7, "ints"] = np.nan  # rows 0-7 miss a label
    data = from_dataframe(df, ["ints", "words"])
    assert len(data.Y) == 292 and "8 rows with a missing label dropped" in data.description
    assert data.changes[0] == {
        "change": "drop_rows",
        "rows": 8,
        "rows_before": 300,
        "rows_after": 292,
        "reason": "missing target value",
        "missing_per_target": {"ints": 5, "words": 5},
        "message": "dropped 8 rows with a missing target value (ints: 5, words: 5; 300 -> 292 "
        "rows)",
    }
    small = data.subsample(150, random_state=0)
    assert small.Y.shape == (150, 2) and small.X.shape[0] == 150
    assert small.changes[-1]["message"] == "using a stratified sample of 150 rows"
    assert data.changes[-1]["change"] != "sample_rows"  # the full data set is unchanged
    assert small.labels == data.labels and data.subsample(None) is data


def test_multilabel_strata():
    Y = np.array([[1, 1], [1, 0], [0, 0], [0, 1], [1, 1], [1, 0], [0, 0]])
    # label 1 is the rarer (3 rows against 4): rows with it are stratum 1, else label 0, else 2
    assert datasets.multilabel_strata(Y).tolist() == [1, 0, 2, 1, 1, 0, 2]
    # strata below min_size join the largest one
    assert datasets.multilabel_strata(Y, min_size=3).tolist() == [1, 1, 1, 1, 1, 1, 1]


def test_split_targets():
    assert datasets.split_targets("a, b,c") == ["a", "b", "c"]
    assert datasets.split_targets("a") == ["a"]
    assert datasets.split_targets("a,b", columns=["a,b", "x"]) == ["a,b"]  # a column's own name
    assert datasets.split_targets(["a", "b"]) == ["a", "b"]
    with pytest.raises(DataError, match="comma-separated"):
        datasets.split_targets("a,,b")


def test_load_file_with_several_targets(tmp_path):
    _labels_frame().to_csv(tmp_path / "m.csv", index=False)
    data = load_file(tmp_path / "m.csv", "ints,bools", drop=["flag"])
    assert data.labels == ["ints", "bools"] and data.dropped == ["flag"]
    assert load_file(tmp_path / "m.csv", "bools").positive_class is True  # one column: binary


@pytest.mark.parametrize(
    "change, targets, kwargs, message",
    [
        (lambda df: df.assign(ints=1), ["ints", "bools"], {}, r"'ints' has a single value 1"),
        (
            lambda df: df.assign(words=np.arange(len(df)) % 4),
            ["ints", "words"],
            {},
            r"'words' has 4 distinct values \(0, 1, 2, 3\); with several target columns every "
            r"column must be one binary label",
        ),
        (lambda df: df, ["ints", "ghost"], {}, r"target column\(s\) \['ghost'\] not found"),
        (lambda df: df, ["ints", "ints"], {}, r"\['ints'\] given more than once"),
        (lambda df: df, ["ints", "bools"], {"drop": ["bools"]}, r"cannot also be dropped"),
        (lambda df: df, ["ints", "bools"], {"positive_class": 1}, r"for one binary target"),
        (
            lambda df: df.assign(ints=np.nan),
            ["ints", "bools"],
            {},
            r"no row has a value in every target column",
        ),
    ],
)
def test_multilabel_errors(change, targets, kwargs, message):
    with pytest.raises(DataError, match=message):
        from_dataframe(change(_labels_frame()), targets, **kwargs)
