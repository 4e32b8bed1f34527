"""What a comparison run depends on: :class:`Settings`, the models (:class:`ModelSpec`), the
default search space, exit codes and :class:`CLIError`.

Nothing here imports numpy, pandas or a boosting library: ``focalboost --help`` and an argument
error need this module and nothing heavier.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_INTERNAL = 1  # an unexpected error: a bug in focalboost (or a library), with its traceback
EXIT_USAGE = 2  # bad input: one line on stderr, no traceback
BACKENDS = ("xgboost", "lightgbm")
SEARCH_MODES = ("fast", "exhaustive")  # focalboost.FocalSearchCV's modes

#: search space of the focal model (overridable with --gamma / --alpha)
DEFAULT_GAMMAS = (0.5, 1.0, 2.0, 3.0)
DEFAULT_BINARY_ALPHAS = (None, 0.25, "balanced")
DEFAULT_MULTICLASS_ALPHAS = (None, "balanced")
QUICK_GAMMAS = (1.0, 2.0)
QUICK_ALPHAS = (None, "balanced")

#: largest --gamma. The focal factor (1 - p)^gamma weighs a row predicted at p = 0.5 by 2^-100 at
#: gamma = 100, so larger values change nothing but the numerics: measured on a 300-row file,
#: XGBoost's margins turned NaN (an internal error) at gamma = 1e200, 1e300 and 1e307, while
#: 1e4 to 1e100 still trained.
MAX_GAMMA = 100.0
#: --seed is a NumPy / scikit-learn random_state: 0 <= seed < 2**32
MAX_SEED = 2**32 - 1


class CLIError(Exception):
    """A problem with the command's input; printed as one line, exit code 2."""


@dataclass
class Settings:
    """Everything a comparison run depends on (from the command line or built in code).

    Parameters
    ----------
    backends : tuple of str, default ("xgboost", "lightgbm")
        The libraries to compare.
    gammas : tuple of float, default (0.5, 1.0, 2.0, 3.0)
        The focal search's gammas.
    alphas : tuple, optional
        The focal search's alphas (None, floats, rule names); default by the number of classes.
    cv_folds : int, default 3
        Folds of the focal search's cross-validation.
    n_estimators : int, default 2000
        Most boosting rounds (early stopping ends sooner).
    learning_rate : float, default 0.05
        Learning rate of every model.
    early_stopping_rounds : int, default 50
        Rounds without improvement on the validation part before stopping.
    max_depth : int, default 6
        XGBoost's tree depth.
    num_leaves : int, default 31
        LightGBM's leaves per tree.
    test_size : float, default 0.25
        Share of the rows scored once, at the end.
    valid_size : float, default 0.2
        Share of the rest used for early stopping.
    seed : int, default 0
        Seed of the splits, the search and the models.
    n_jobs : int, optional
        Threads per model (default 1).
    max_rows : int, optional
        Stratified sample of this many rows first.
    progress : bool, default True
        Show progress bars.
    quick : bool, default False
        Whether this is a ``--quick`` run (recorded in the results).
    bootstrap : int, default 200
        Bootstrap resamples of the test part for the PR-AUC interval (0: none).
    search_mode : {"fast", "exhaustive"}, default "fast"
        :class:`focalboost.FocalSearchCV`'s mode for the focal search (``--search-mode``).
    """

    backends: tuple = BACKENDS
    gammas: tuple = DEFAULT_GAMMAS
    alphas: tuple | None = None  # None: the default for binary/multiclass
    cv_folds: int = 3
    n_estimators: int = 2000
    learning_rate: float = 0.05
    early_stopping_rounds: int = 50
    max_depth: int = 6  # XGBoost
    num_leaves: int = 31  # LightGBM
    test_size: float = 0.25
    valid_size: float = 0.2
    seed: int = 0
    n_jobs: int | None = None
    max_rows: int | None = None
    progress: bool = True
    quick: bool = False
    bootstrap: int = 200  # resamples of the test set for the PR-AUC interval (0: none)
    search_mode: str = "fast"  # FocalSearchCV's mode for the focal search: "fast" | "exhaustive"

    @classmethod
    def quick_defaults(cls, **overrides):
        """Seconds instead of minutes: fewer rows, fast learning rate, tiny search.

        Parameters
        ----------
        **overrides
            Settings to set otherwise.

        Returns
        -------
        Settings
        """
        values = dict(
            gammas=QUICK_GAMMAS,
            alphas=QUICK_ALPHAS,
            cv_folds=2,
            n_estimators=60,
            learning_rate=0.3,
            early_stopping_rounds=10,
            max_depth=4,
            num_leaves=15,
            max_rows=3000,
            bootstrap=50,
            quick=True,
        )
        values.update(overrides)
        return cls(**values)

    def threads(self):
        """Threads per model: 1 unless ``n_jobs`` says otherwise.

        On data of this size (tens of thousands of rows) a second OpenMP thread gains little,
        and on a machine whose cores are busy with other work it costs a lot: measured on 2 shared
        cores, a 20,000-row XGBoost fit took 0.7 s with one thread and 4-17 s with two (the threads
        spin-wait for each other). Raise ``--n-jobs`` for large files on an idle machine.
        """
        return 1 if self.n_jobs is None else self.n_jobs

    def alpha_grid(self, n_classes):
        """The alphas the focal search tries: ``alphas``, else the default for the data.

        Parameters
        ----------
        n_classes : int
            2 for binary (and multi-label) data, K for multiclass.

        Returns
        -------
        tuple
        """
        if self.alphas is not None:
            return tuple(self.alphas)
        return DEFAULT_BINARY_ALPHAS if n_classes == 2 else DEFAULT_MULTICLASS_ALPHAS


@dataclass
class ModelSpec:
    """One model of the comparison: how to build it and how to fit it with early stopping."""

    backend: str
    kind: str  # "logloss" | "weighted" | "focal"
    searched: bool = False

    @property
    def name(self):
        return f"{self.backend} {self.kind}"


def alpha_label(alpha):
    """How an alpha is printed and stored: ``none``, ``balanced``, ``0.25``, ``1:2:4``."""
    import numpy as np

    if alpha is None:
        return "none"
    if isinstance(alpha, str):
        return alpha
    if np.ndim(alpha) == 0:
        return f"{float(alpha):g}"
    return ":".join(f"{float(a):g}" for a in alpha)
