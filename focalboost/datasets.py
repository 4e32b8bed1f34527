"""Deprecated: the data sets of ``focalboost compare`` moved to :mod:`focalboost.compare.datasets`.

This module re-exports its names and warns once, on import. It will be removed in 0.3.
"""

import warnings

from .compare.datasets import (
    COMPRESSION_SUFFIXES,
    CSV_SUFFIXES,
    DEFAULT_DATASETS,
    MAX_CATEGORIES,
    PARQUET_SUFFIXES,
    DataError,
    Dataset,
    MultiLabelDataset,
    encode_features,
    from_dataframe,
    load_dataset,
    load_diamonds,
    load_file,
    load_nasscds,
    multilabel_strata,
    read_table,
    split_targets,
)

__all__ = [
    "COMPRESSION_SUFFIXES",
    "CSV_SUFFIXES",
    "DEFAULT_DATASETS",
    "MAX_CATEGORIES",
    "PARQUET_SUFFIXES",
    "DataError",
    "Dataset",
    "MultiLabelDataset",
    "encode_features",
    "from_dataframe",
    "load_dataset",
    "load_diamonds",
    "load_file",
    "load_nasscds",
    "multilabel_strata",
    "read_table",
    "split_targets",
]

warnings.warn(
    "focalboost.datasets moved to focalboost.compare.datasets; the old path will be removed "
    "in 0.3",
    FutureWarning,
    stacklevel=2,  # the importing statement (warnings skips importlib's frames)
)
