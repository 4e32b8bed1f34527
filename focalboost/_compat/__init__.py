"""The only place focalboost touches private internals of XGBoost and LightGBM.

focalboost takes a few fast paths through the boosting libraries' internals. Each one lives in
:mod:`focalboost._compat.xgboost` or :mod:`focalboost._compat.lightgbm`, behind a *feature check*,
and has a *public fallback* that gives the same results, bit for bit (tested), only slower:

==========================  =======================================  ==========================================
fast path                   private internal it uses                 public fallback
==========================  =======================================  ==========================================
labels and weights in       ``xgboost.core._LIB``:                   ``DMatrix.get_float_info`` (a copy
place (``dmatrix_info``)    ``XGDMatrixGetFloatInfo`` through        every call, i.e. every round)
                            ctypes, ``core._check_call``, ``c_str``
margins in place            ``XGBoosterPredictFromDMatrix`` through  ``Booster.predict(dtrain, output_margin=True,
(``training_margins``)      ctypes with a hand-built config          training=True)`` (a copy every round)
in-place rounds             the ``__class__`` of the live booster    nothing: XGBoost's own ``Booster.update``,
(``InPlaceMargins``)        ``xgb.train`` made is switched to a      which copies the margins every round
                            subclass overriding ``Booster.update``
OpenMP team (opt-in:        ``core._LIB._name`` (libxgboost's path)  focalboost's thread pool
``FOCALBOOST_OPENMP_TEAM``  and the ``GOMP_parallel`` of the GNU     (the default)
``=1``; :mod:`focalboost.   OpenMP runtime libxgboost links
_openmp_team`)
freeing LightGBM's network  ``lightgbm.basic._LIB.LGBM_NetworkFree``  none: nothing is freed (a debug log line)
(``network_free``)          and ``_safe_call``
freeing LightGBM's Python   ``Booster.train_set`` (undocumented),    none: LightGBM keeps both copies until
copy of a user's training   then the public ``Dataset.set_field(     training ends (memory, not results)
init score                  "init_score", None)``
(``ReleaseInitScore``)
==========================  =======================================  ==========================================

**The switch.** ``FOCALBOOST_FAST_PATHS=0`` (or ``false``, ``no``, ``off``) in the environment,
read once (when this module is first imported, before focalboost trains anything), turns every
fast path off: no private XGBoost or LightGBM internal is touched (not even looked up), the
OpenMP team is off, and models are the same, bit for bit. Use it when a new XGBoost or LightGBM release misbehaves with focalboost, or to rule the fast
paths out when chasing a problem. In code (e.g. tests) the context manager :func:`fast_paths`
switches them for a block: ``with fast_paths(False): ...``; :func:`fast_paths_enabled` says
whether they are on. (The OpenMP team is off unless ``FOCALBOOST_OPENMP_TEAM=1`` asks for it, see
:mod:`focalboost._openmp_team`; ``FOCALBOOST_FAST_PATHS=0`` keeps it off even then.)

**Feature checks.** Each fast path is checked once per process, the first time it is needed: the
private symbols must exist with the expected signatures, and a self-test on a tiny DMatrix /
booster must show that the fast path returns exactly what the public path returns (the label view
equals ``get_label()``, the margin view equals ``predict(..., training=True)``, in-place rounds
grow the same trees). The self-tests run in a thread of their own: XGBoost keeps its collective
communicator per thread, so a self-test that starts inside a distributed worker (``xgboost.dask``)
never takes part in that worker's collective calls.

**A failed check is not silent.** When a check fails (not when the user switched the fast paths
off), focalboost takes the public path and logs one WARNING per fast path and process on the
``focalboost`` logger, naming the fast path, the reason and the cost. Without any logging
configuration Python prints it to stderr. Logging rather than ``warnings.warn``: the fallback is
correct, only slower, so it must not become an error in a test suite run with ``-W error``, and a
library's warning filters should not decide whether it is seen. Silence it with
``logging.getLogger("focalboost").setLevel(logging.ERROR)``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading

__all__ = ["fast_paths", "fast_paths_enabled", "Feature", "logger"]

logger = logging.getLogger("focalboost")

ENVIRONMENT_VARIABLE = "FOCALBOOST_FAST_PATHS"
_OFF = ("0", "false", "no", "off")


def _read_environment():
    return os.environ.get(ENVIRONMENT_VARIABLE, "1").strip().lower() not in _OFF


_from_environment = _read_environment()  # read once, at import
_override = None  # set by fast_paths()


def fast_paths_enabled():
    """Whether the fast paths may be taken (each still has to pass its feature check)."""
    return _from_environment if _override is None else _override


@contextlib.contextmanager
def fast_paths(enabled):
    """Switch every fast path on or off (process-wide) for the ``with`` block.

    ``with fast_paths(False):`` is ``FOCALBOOST_FAST_PATHS=0`` for the block. The switch is read
    when a fast path is about to be taken: an XGBoost training run decides whether its rounds are
    in place when it starts (``before_training``).
    """
    global _override
    previous = _override
    _override = bool(enabled)
    try:
        yield
    finally:
        _override = previous


def _run_in_own_thread(func):
    """``func()`` in a new thread (outside any per-thread XGBoost communicator); re-raises."""
    outcome = {}

    def target():
        try:
            outcome["value"] = func()
        except BaseException as error:  # noqa: BLE001 - handed back to the caller
            outcome["error"] = error

    thread = threading.Thread(target=target, name="focalboost-feature-check", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


class Feature:
    """One fast path's feature check: run once per process, the first time it is asked.

    ``check()`` raises (any exception) when the fast path cannot be used, with a message saying
    why; ``fallback`` says what is done instead (for the log line). ``own_thread`` runs the check
    in a thread of its own (checks that build XGBoost objects).
    """

    def __init__(self, name, check, fallback, own_thread=False):
        self.name = name
        self._check = check
        self.fallback = fallback
        self.own_thread = own_thread
        self._lock = threading.Lock()
        self._result = None  # None: not checked yet; else (ok, reason)

    def available(self):
        """True if the fast paths are on and this one passed its check (checked on first call)."""
        if not fast_paths_enabled():
            return False
        result = self._result
        if result is None:
            with self._lock:
                if self._result is None:
                    self._result = self._run()
                result = self._result
        return result[0]

    def _run(self):
        try:
            if self.own_thread:
                _run_in_own_thread(self._check)
            else:
                self._check()
        except Exception as error:  # noqa: BLE001 - any failure: the public path serves
            reason = f"{type(error).__name__}: {error}"
            logger.warning(
                "focalboost fast path %r is not available with this version (%s); using the "
                "public path instead: %s. Results are the same, only slower. (Set %s=0 to switch "
                "all fast paths off.)", self.name, reason, self.fallback, ENVIRONMENT_VARIABLE,
            )
            return False, reason
        return True, None

    @property
    def reason(self):
        """Why the last check failed (None if it passed or has not run)."""
        return None if self._result is None else self._result[1]

    def reset(self):
        """Forget the check's result (tests: check again after changing the library)."""
        with self._lock:
            self._result = None

    def __repr__(self):
        state = "unchecked" if self._result is None else ("ok" if self._result[0] else "failed")
        return f"Feature({self.name!r}, {state})"


def features():
    """Every fast path's :class:`Feature` (importing the library modules)."""
    from . import lightgbm, xgboost

    return {**xgboost.FEATURES, **lightgbm.FEATURES}


def reset_checks():
    """Forget every feature check's result (tests)."""
    for feature in features().values():
        feature.reset()
