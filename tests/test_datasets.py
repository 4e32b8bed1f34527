"""focalboost.datasets, the old path of focalboost.compare.datasets: a FutureWarning on import and
the same objects. (The data sets themselves: test_compare_datasets.py.)"""

import importlib
import json
import subprocess
import sys
import warnings

from focalboost.compare import datasets

#: every public name focalboost.datasets had in 0.1
OLD_NAMES = [
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


def test_old_names_are_the_new_objects():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        old = importlib.import_module("focalboost.datasets")
    assert sorted(old.__all__) == sorted(OLD_NAMES)
    for name in OLD_NAMES:
        assert getattr(old, name) is getattr(datasets, name), name


def test_import_warns_once_at_the_importing_line():
    code = (
        "import importlib, json, warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    from focalboost import datasets\n"
        "    import focalboost.datasets\n"
        "    importlib.import_module('focalboost.datasets')\n"
        "print(json.dumps([[w.category.__name__, str(w.message), w.filename, w.lineno]\n"
        "                  for w in caught if 'focalboost' in str(w.message)]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == [
        [
            "FutureWarning",
            "focalboost.datasets moved to focalboost.compare.datasets; the old path will be "
            "removed in 0.3",
            "<string>",
            4,
        ]
    ]
