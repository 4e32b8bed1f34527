"""What the XGBoost and LightGBM adapters share: reading a data set's labels/weights, init scores.

The adapters use a loss only through the contract of :class:`focalboost.base.BoostingLoss`
(:func:`check_loss` is re-exported from there).

Fork and ``OMP_DYNAMIC``. Two settings break XGBoost and LightGBM themselves, with or without
focalboost; focalboost detects them and says so instead of leaving a hang or a crash unexplained:

* ``fork`` after training. On Linux both libraries run on GNU OpenMP (libgomp), whose worker
  threads do not exist in a forked child while its bookkeeping says they do: in the child, the
  first call that runs more than one OpenMP thread (a ``DMatrix``, a ``Dataset``, training,
  prediction) hangs forever. Measured with XGBoost 3.2 alone: a parent trains with ``nthread=2``,
  forks; the child hangs in ``xgb.DMatrix(..., nthread=2)``; with ``nthread=1`` in the child it
  works. focalboost notes when a library trains through its hooks (:func:`library_gradient_hessian`)
  and, at ``os.fork``, whether threads outside Python have appeared in the process since
  focalboost loaded (OpenMP's workers; read from ``/proc/self/task``, Linux only). If so, the child
  gets a ``RuntimeWarning`` (:func:`forked_after_openmp`) naming the cause and the cures: the
  ``"spawn"`` or ``"forkserver"`` start methods, or one thread in the child. In such a child the
  XGBoost hook also keeps the binary kernel off XGBoost's OpenMP team (:mod:`focalboost._openmp_team`),
  on focalboost's own thread pool, which a child re-creates (:mod:`focalboost._kernels`): so a child
  training with ``nthread=1`` works. Not detected: a parent that trained before focalboost was
  imported, or without its hooks, and other platforms (their OpenMP runtimes handle fork).
* ``OMP_DYNAMIC=true`` lets the OpenMP runtime give a parallel region fewer threads than asked.
  XGBoost 3.2 crashed (segmentation fault) training with ``nthread=2`` on 5,000 rows under it
  here; LightGBM trained the same model. focalboost's kernels take chunks of rows from a shared
  counter and give the same results with any number of threads. The XGBoost hooks warn
  (``RuntimeWarning``, once per process) when they are created under it
  (:func:`warn_if_omp_dynamic`).
"""

from __future__ import annotations

import os
import sys
import threading
import warnings

import numpy as np

from .base import check_loss

__all__ = [
    "DEFAULT_METRIC_NAME",
    "check_loss",
    "init_score_rows",
    "is_multiclass",
    "is_multilabel",
    "library_gradient_hessian",
    "load_kernel_before_training",
    "RoundBuffers",
    "forked_after_openmp",
    "no_split_reason",
    "warn_if_no_split",
    "warn_if_omp_dynamic",
]

DEFAULT_METRIC_NAME = "focal_loss"


def is_multiclass(loss):
    """Whether ``loss`` is a multiclass loss (``kind == "multiclass"``: margins (n, K))."""
    return getattr(loss, "kind", None) == "multiclass"


def is_multilabel(loss):
    """Whether ``loss`` is a multi-label loss (``kind == "multilabel"``: margins (n, L))."""
    return getattr(loss, "kind", None) == "multilabel"


def init_score_rows(loss, y, sample_weight=None, n_rows=None, init=None):
    """The loss's best constant margin, repeated for every row: (n,) binary, (n, K) otherwise.

    Pass ``init`` to reuse a constant computed on the training labels for another data set.
    """
    if init is None:
        init = loss.init_score(y, sample_weight)
    n = len(y) if n_rows is None else n_rows
    init = np.asarray(init, dtype=np.float64)
    if init.ndim == 0:
        return np.full(n, float(init))
    rows = np.empty((n, init.shape[0]))  # an array owning its memory (np.tile gives a view)
    rows[...] = init
    return rows


def _float32_pair(shape, order):
    """New gradient and hessian arrays: float32, of ``shape``, in ``order`` ("C" or "F")."""
    return np.empty(shape, np.float32, order=order), np.empty(shape, np.float32, order=order)


class RoundBuffers:
    """The gradient and hessian arrays of one training run, written again every round.

    A hook returns new arrays every round because its caller may keep them. focalboost's own
    training loops (the estimators' rounds, ``focalboost.xgboost.train``, the Dask workers,
    FocalSearchCV's boosters) hand them to the library at once, and the library has copied or used
    them before the call returns (XGBoost copies them into its gradient pairs in
    ``XGBoosterTrainOneIter``; LightGBM reads them during ``LGBM_BoosterUpdateOneIterCustom``).
    Those loops write into the same two arrays every round instead.

    Why: a new 2 x n float32 pair every round costs the page faults of fresh memory wherever the
    allocator maps large blocks anew each time. Dask's workers are such a place: the nanny sets
    ``MALLOC_TRIM_THRESHOLD_=65536``, which turns off glibc's adaptive mmap threshold. Measured
    here, 500k rows (one worker's share at 1M): a round's focal gradient 1.08 ms with reused arrays
    or with glibc's defaults, 2.81 ms with new arrays under that setting. In one process the
    same happens to arrays above glibc's 32 MB ceiling (K = 50 at 200k rows: 40 MB each).

    Per thread: a training loop runs on one thread, and two loops that share an objective on
    different threads (a Dask cluster of threads in one process) never share arrays. Nothing
    is kept after a run: ``FocalLGBMClassifier.fit`` calls :meth:`release` at the end of
    training; the XGBoost rounds and FocalSearchCV's boosters drop the object. A deep copy is the
    same object, so that the release reaches the arrays a copy trained with: ``lightgbm.train``
    deep-copies its params, objective included, and trains with the copy. A pickled copy (a Dask
    worker's) starts without arrays, and its arrays go with the worker's copy of the model.
    """

    def __init__(self):
        self._local = threading.local()

    def pair(self, shape, order):
        """Two float32 arrays of ``shape`` in ``order`` ("C" or "F"): this thread's from the last
        round when they fit, else new ones (kept for the next round)."""
        pair = getattr(self._local, "pair", None)
        if pair is None or pair[0].shape != shape or not pair[0].flags[f"{order}_CONTIGUOUS"]:
            pair = self._local.pair = _float32_pair(shape, order)
        return pair

    def release(self):
        """Let this thread's arrays go (other threads' go with this object or their thread)."""
        self._local.pair = None

    def __getstate__(self):
        return {}

    def __setstate__(self, state):
        self._local = threading.local()

    def __deepcopy__(self, memo):
        return self


def library_gradient_hessian(loss, y, raw, sample_weight=None, scale=1.0, offset=None, buffers=None):
    """The hooks' gradient and hessian: float32 arrays, the precision both libraries keep.

    XGBoost (``GradientPair``) and LightGBM (``score_t``) store gradients and hessians as float32
    and round whatever they are given to the nearest float32. The fused kernels compute in float64
    and write float32 directly: the same values, rounded once, with half the memory traffic and no
    conversion copy inside the library (LightGBM copied float64 results into new float32 arrays
    every round). The arrays have the memory order of the margins: LightGBM passes multiclass
    margins as a column-major (n, K) view and takes column-major results without a copy.

    A loss without a fused kernel (finite differences, the multi-label loss, a user's own object)
    and a ``scale`` other than 1 give what ``loss.gradient_hessian`` returns (float64; the library
    converts it). An empty ``sample_weight`` (XGBoost's "no weights") is passed on as None.

    ``offset`` (None, or the init score: a float binary, (K,) multiclass) is added to every
    row's margins first: ``FocalLGBMClassifier`` trains from LightGBM's scores starting at 0
    instead of a per-row ``init_score`` (whose C++ copy LightGBM keeps for the whole fit). The
    focal kernels add it as they read each margin; other losses get ``raw + offset``.

    ``buffers`` (a :class:`RoundBuffers`, only from focalboost's own training loops): the float32
    results are written into its arrays, the same ones every round, instead of new ones.
    """
    _state.trained_in = os.getpid()  # a library is training here (see forked_after_openmp)
    if sample_weight is not None and np.size(sample_weight) == 0:
        sample_weight = None
    if offset is not None and not (scale == 1.0 and getattr(loss, "_takes_offset", False)):
        raw = offset_margins(raw, offset)
        offset = None
    if scale == 1.0:
        shape = np.shape(raw)
        order = "F" if len(shape) == 2 and _column_major(raw) else "C"
        out = _float32_pair(shape, order) if buffers is None else buffers.pair(shape, order)
        kw = {} if offset is None else {"offset": offset}
        result = loss.fast_gradient_hessian(y, raw, sample_weight, out=out, **kw)
        if result is not None:
            return result
        # no fast path for this loss or input: gradient_hessian (focalboost's losses then take
        # their numpy formulas; invalid input has raised already)
        if offset is not None:
            raw = offset_margins(raw, offset)
    grad, hess = loss.gradient_hessian(y, raw, sample_weight)
    if scale != 1.0:
        grad, hess = grad * scale, hess * scale
    return grad, hess


def load_kernel_before_training(loss, n_rows, weighted, offset=None):
    """Load the fused kernel a LightGBM fit will call, on two rows of LightGBM's argument types
    (float32 labels and weights, float64 margins, multiclass in Fortran order), and then let
    LLVM's code pages go (``focalboost._kernels.before_large_work``), before LightGBM builds its
    Dataset and booster.

    Loading it in the first round instead takes numba and LLVM (~90 MB of RSS, most of it
    released right after) through memory when the fit's memory is highest: measured on 5M x 20
    binary, that set the peak of the whole fit (1,053 MB, against 1,024 MB in later rounds). Only
    focalboost's focal losses (the kernels' argument types are theirs); other losses load nothing.
    Argument types this misses cost a load in the first round, as before, not a result.
    """
    if not getattr(loss, "_takes_offset", False) or getattr(loss, "derivatives", None) != "closed_form":
        return
    shape = (2,) if loss.raw_ndim == 1 else (2, loss.n_classes)
    weights = np.ones(2, np.float32) if weighted else None
    library_gradient_hessian(loss, np.zeros(2, np.float32), np.zeros(shape, order="F"), weights,
                             offset=offset)
    kernels = sys.modules.get("focalboost._kernels")
    if kernels is not None:
        kernels.before_large_work(n_rows * int(np.prod(shape[1:])))


def offset_margins(raw, offset):
    """``raw + offset`` as float64 in the margins' memory order (a new array): binary ``offset``
    a float, multiclass (K,) added to each class's column."""
    raw = np.asarray(raw, dtype=np.float64)
    return np.add(raw, np.asarray(offset, dtype=np.float64), order="K")


def no_split_reason(loss, grad, hess, min_hessian, parameter="min_child_weight", scale=None):
    """Why no tree can ever split when boosting starts with these gradients and hessians, or None.

    ``grad`` and ``hess`` are what the library gets at the starting margins (weighted, times
    ``scale``, as float32: :func:`library_gradient_hessian`); ``min_hessian`` is the least summed
    hessian a leaf may have (XGBoost's ``min_child_weight``, default 1; LightGBM's
    ``min_sum_hessian_in_leaf``, default 1e-3), named ``parameter`` in the message; ``scale``
    the estimators' ``loss_scale`` (None where there is none: the native hooks).

    The criterion, for each output (a class's or label's trees; binary: one), is sound: when it
    holds, no tree splits. (1) A split needs two children each with summed hessian >=
    ``min_hessian``, so a total below 2 x ``min_hessian`` cannot split the root; the first tree
    is one leaf, of value -G / (H + lambda), and at the init score (the loss's minimiser) G = 0
    up to rounding, so the margins, hence the next tree's hessians, do not move: every tree is
    one leaf. (2) Gradients that are all exactly 0 give every split a gain of 0. Both happen when
    the focal factor (1 - p)^gamma underflows (gamma of 50 to 1e4) or ``loss_scale`` is tiny
    (1e-30): the model then stays constant without any error. A start away from the minimiser (a
    user's ``base_score``) makes (1) a statement about the first tree only.

    It never warns wrongly, but it does not see every cause: the libraries have other thresholds
    (XGBoost splits only for a gain above 1e-6, which ``reg_lambda`` divides; LightGBM's
    ``min_data_in_leaf``), so a model can stay constant without this warning (e.g. gamma=50 with
    ``min_child_weight=0``).
    """
    grad = np.asarray(grad, dtype=np.float32)  # what the library keeps (it rounds float64)
    hess = np.asarray(hess, dtype=np.float32)
    if grad.size == 0:
        return None
    columns = grad.shape[1] if grad.ndim == 2 else 1
    H = np.sum(hess.reshape(grad.shape[0], columns), axis=0, dtype=np.float64)
    zero = ~np.any(grad.reshape(grad.shape[0], columns) != 0, axis=0)
    stuck = zero | (H < 2.0 * min_hessian)
    if not np.all(stuck):
        return None
    gamma = getattr(loss, "gamma", None)
    causes = []
    if gamma:
        causes.append(f"the focal factor (1 - p)^gamma with gamma={gamma:g}")
    if scale is not None and scale != 1.0:
        causes.append(f"loss_scale={scale:g}")
    cause = f" (shrunk by {' and '.join(causes)})" if causes else ""
    where = "" if columns == 1 else " of every output"
    if np.all(zero):
        what = f"every gradient is 0{cause}, so no split gains anything"
    else:
        what = (f"the hessians{where} sum to at most {np.max(H):.3g}{cause}, below 2 x {parameter} = "
                f"{2.0 * min_hessian:g}, the least the two children of a split need")
    remedy = "lower gamma" + (", raise loss_scale" if scale is not None else "") + f" or lower {parameter}"
    return (
        f"focalboost: no tree can split: at the starting margins (the init score) {what}. Every "
        f"tree will be a single leaf and the model will stay constant; {remedy}"
    )


def warn_if_no_split(loss, y, raw, sample_weight=None, *, min_hessian, parameter="min_child_weight",
                     scale=None, stacklevel=2, formulas=False):
    """Warn (``UserWarning``, the message of :func:`no_split_reason`) when boosting from the
    margins ``raw`` cannot split a single tree; returns the message or None.

    For the estimators, call it where training starts, with the labels and weights the library
    gets, ``raw`` the init score's rows (:func:`init_score_rows`) and the estimator's
    ``min_child_weight`` and ``loss_scale``. Only the class weight totals matter at a constant
    start: labels 0..K-1 weighted by the class totals (K rows) give the same sums as the data.
    ``sample_weight`` may also be an array of ``raw``'s shape, one weight per row and output: two
    multi-label rows (all labels 0, all labels 1) weighted by each label's totals stand for the
    data the same way. ``formulas=True`` computes them with the loss's numpy formulas
    (``reference_gradient_hessian``, when it has them) instead of the kernels: the estimators'
    check on K rows then does not load numba, which loads at the first round instead, after the
    library has built its data (peak memory: numba and LLVM take ~115 MB of RSS, and a LightGBM
    fit peaks while its booster is created).
    """
    reference = getattr(loss, "reference_gradient_hessian", None) if formulas else None
    per_element = sample_weight is not None and np.ndim(sample_weight) == 2
    row_weight = None if per_element else sample_weight
    if reference is None:
        grad, hess = library_gradient_hessian(loss, y, raw, row_weight, 1.0 if scale is None else scale)
    else:
        grad, hess = reference(y, raw, row_weight)
        if scale is not None and scale != 1.0:
            grad, hess = grad * scale, hess * scale
    if per_element:  # (rows, outputs) weights: multi-label rows standing for label totals
        grad, hess = grad * sample_weight, hess * sample_weight
    reason = no_split_reason(loss, grad, hess, min_hessian, parameter, scale)
    if reason is not None:
        warnings.warn(reason, UserWarning, stacklevel=stacklevel + 1)
    return reason


# --- fork and OMP_DYNAMIC (see the module docstring) -------------------------------------------------
def _native_threads():
    """Threads of this process that Python did not start (OpenMP's, BLAS's, ...), or None where
    /proc/self/task cannot tell (not Linux)."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return None
    python = {t.native_id for t in threading.enumerate()}
    return sum(1 for task in tasks if int(task) not in python)


class _State:
    native_at_import = _native_threads()  # BLAS's threads start with numpy, before us
    trained_in = None  # the pid where a library last trained through focalboost's hooks
    at_fork = None  # (parent pid, threads outside Python beyond those at import), set before a fork
    forked_from = None  # in a child: that pair, when the parent's OpenMP threads were running


_state = _State()


def _before_fork():
    _state.at_fork = None
    if _state.trained_in == os.getpid() and _state.native_at_import is not None:
        extra = (_native_threads() or 0) - _state.native_at_import
        if extra > 0:
            _state.at_fork = (os.getpid(), extra)


def _after_fork_in_child():
    _state.forked_from, _state.trained_in = _state.at_fork, None
    if _state.forked_from is not None:
        parent, threads = _state.forked_from
        warnings.warn(
            f"focalboost: this process was forked from process {parent}, where XGBoost or LightGBM "
            f"had trained and {threads} thread(s) outside Python (OpenMP's workers) were running. "
            "GNU OpenMP does not survive fork: here, any XGBoost or LightGBM call that runs more "
            "than one thread (DMatrix, Dataset, training, prediction) hangs. Start processes with "
            "multiprocessing's 'spawn' or 'forkserver' method, or use nthread=1 / num_threads=1 / "
            "n_jobs=1 in this process",
            RuntimeWarning,
            stacklevel=2,
        )


def _after_fork_in_parent():
    _state.at_fork = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child,
                        after_in_parent=_after_fork_in_parent)


def forked_after_openmp():
    """``(parent pid, threads)`` if this process was forked from one where a library had trained
    through focalboost's hooks with OpenMP threads running (a ``RuntimeWarning`` said so at the
    fork), else None. The XGBoost hooks then keep the kernels off XGBoost's OpenMP team."""
    return _state.forked_from


_omp_dynamic_warned = False


def warn_if_omp_dynamic(stacklevel=2):
    """A ``RuntimeWarning`` (once per process) when ``OMP_DYNAMIC`` is true in the environment;
    returns whether it is. See the module docstring."""
    global _omp_dynamic_warned
    dynamic = os.environ.get("OMP_DYNAMIC", "").strip().lower() == "true"
    if dynamic and not _omp_dynamic_warned:
        _omp_dynamic_warned = True
        warnings.warn(
            "focalboost: OMP_DYNAMIC=true lets OpenMP give XGBoost fewer threads than it asks for; "
            "XGBoost 3.2 has crashed (segmentation fault) training under it with more than one "
            "thread. Unset OMP_DYNAMIC or set it to false (focalboost's own kernels are not "
            "affected)",
            RuntimeWarning,
            stacklevel=stacklevel + 1,
        )
    return dynamic


def _column_major(a):
    flags = getattr(a, "flags", None)
    return flags is not None and flags.f_contiguous and not flags.c_contiguous


class _Hook:
    """A picklable callable bound to a loss; no module state, so it runs on Dask workers too."""

    def __init__(self, loss):
        self.loss = check_loss(loss)

    def __repr__(self):
        return f"{type(self).__name__}({self.loss!r})"

    def __eq__(self, other):
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = object.__hash__


def _own_float64(margin):
    """Whether ``margin`` can take a posterior in place: a writeable C-contiguous float64 array."""
    return (isinstance(margin, np.ndarray) and margin.dtype == np.float64
            and margin.flags.c_contiguous and margin.flags.writeable)


#: what ``predict_proba`` returns, at every entry point (estimators, native helpers, Dask, ONNX)
PROBABILITY_CHOICES = ("auto", "posterior", "focal")


def probability_from_margin(loss, margin, probability="auto", temperature=1.0, strength=1.0, *,
                            overwrite_margin=False):
    """The one meaning of "probability" in focalboost, from margins.

    ``"auto"`` (the default everywhere): the posterior correction at ``strength`` s of the
    margins divided by ``temperature`` T (the posterior of a focal loss with gamma s and alpha^s,
    of margin / T; :func:`focalboost.calibration.tempered_posterior`), the (s, T) a fit found on
    held-out margins, (1, 1) (the exact correction) where it had none;
    ``"posterior"``: the exact correction of the focal loss's known distortion
    (``loss.posterior``; :mod:`focalboost.posterior`), whatever ``temperature`` says;
    ``"focal"``: the raw sigmoid/softmax of the margins (``loss.predict_proba``), what the
    model's link function gives. A loss without a posterior (a user's own ``BoostingLoss`` that
    does not define one) needs ``probability="focal"``.

    ``overwrite_margin=True``: the caller owns ``margin`` (a fresh array from the library) and
    no longer needs it. A multiclass posterior of float64 C-contiguous margins (LightGBM's) is
    then written into them (the division by the temperature too): no (n, K) array is allocated
    beyond the margins, which become the result.
    """
    if probability == "focal":
        return loss.predict_proba(margin)
    if probability not in PROBABILITY_CHOICES:
        raise ValueError(f"probability must be one of {list(PROBABILITY_CHOICES)}, got {probability!r}")
    if probability == "auto":
        from .calibration import check_strength, check_temperature, strength_loss

        temperature = check_temperature(temperature)
        if temperature != 1.0 and overwrite_margin and _own_float64(margin):
            margin = np.divide(margin, temperature, out=margin)
        elif temperature != 1.0:
            margin = np.asarray(margin, dtype=np.float64) / temperature
            overwrite_margin = True  # our own copy now
        if check_strength(strength) != 1.0:
            loss = strength_loss(loss, strength)
    from .losses import MulticlassFocalLoss

    try:
        if overwrite_margin and isinstance(loss, MulticlassFocalLoss) and _own_float64(margin):
            return loss.posterior(margin, out=margin)
        return loss.posterior(margin)
    except NotImplementedError:
        raise ValueError(
            f"{type(loss).__name__} defines no posterior(), so its class posterior is unknown: "
            "pass probability='focal' for its predict_proba of the margins, or implement "
            "posterior()"
        ) from None
