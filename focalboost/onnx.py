"""Export fitted focal estimators to ONNX, with the posterior correction as ONNX operators.

:func:`to_onnx` turns a fitted :class:`~focalboost.FocalXGBClassifier` or
:class:`~focalboost.FocalLGBMClassifier` (or a scikit-learn pipeline ending in one) into an
``onnx.ModelProto`` with two outputs: the labels and the probabilities. onnxruntime's
probabilities are ``estimator.predict_proba(X)`` (measured: within 3e-7 on float32 and float64
input) and its labels ``classes_[argmax(predict_proba(X))]``, which is ``predict(X)``
(multi-label: the 0/1 indicator of probability > 0.5).
:func:`register_converters` registers the two estimators with skl2onnx, so that
``skl2onnx.to_onnx(Pipeline([..., ("model", FocalXGBClassifier())]), X)`` converts a pipeline;
:func:`to_onnx` calls it.

Needs the ``onnx`` extra (``pip install focalboost[onnx]``: onnx, skl2onnx; onnxruntime to run
the model); this module imports them only when called.

The graph
---------
1. *Trees -> margins.* One ``ai.onnx.ml.TreeEnsembleRegressor`` (``SUM``, no post-transform)
   with one target per margin column, built here from the booster's own model dump (XGBoost:
   the JSON model; LightGBM: ``dump_model()``), then the init margins added in float64:

   * XGBoost keeps the init score in the model (``base_score``: a probability per output for
     ``binary:logistic``, margins for ``multi:softprob``); it is read from the model and turned
     into margins. Splits are XGBoost's ``x < threshold`` on float32 values, missing (NaN) to
     the default branch; a float64 input is cast to float32 first, as XGBoost does: exact.
   * LightGBM keeps no init score: ``FocalLGBMClassifier`` either adds ``init_score_`` to the
     booster's raw scores or folds it into the first trees' leaves; the graph adds what
     ``decision_function`` adds to the raw scores (measured on two rows). Splits are
     ``x <= threshold`` in float64 with LightGBM's missing-value rules (``missing_type`` NaN:
     default branch; None: NaN is 0). The input is cast to float64 (exact for float32) and the
     thresholds and leaf values are float64 (``*_as_tensor`` attributes, ai.onnx.ml opset >= 3).
     With an older ai.onnx.ml opset the thresholds are rounded down to float32, which is exact
     for float32 input only.

   onnxmltools' converters are not used: they output probabilities (we need the margins, which
   keep the digits a probability of 1 - 1e-9 has lost), they need the booster's objective (ours
   is a callable: LightGBM's is ``"none"``, which onnxmltools rejects) and they know no
   multi-label model.

2. *Margins -> probabilities*, in float64 (cast to float32 at the end), for the fitted
   ``loss_`` (``gamma``, ``alpha_``) and ``probability``:

   * ``probability="focal"``: sigmoid (binary, per label) or softmax of the margins;
   * ``probability="auto"``: the margins divided by ``temperature_`` (a ``Div`` node; none when
     it is 1), then the posterior formulas below with gamma ``strength_`` and alpha^``strength_``;
   * ``probability="posterior"``: :mod:`focalboost.posterior`'s formulas. Binary and per label:
     ``t = (1 + gamma) x + log1p(gamma phi(x)) - log1p(gamma phi(-x)) + log((1 - alpha)/alpha)``,
     probabilities ``sigmoid(-t), sigmoid(t)``. Multiclass: ``softmax(log w)`` with
     ``log w_k = z_k - gamma LSO_k - log1p(gamma phi(LSO_k - z_k)) - log alpha_k`` (the module's
     ``g(u) - log alpha`` without the row constant ``(gamma - 1) logsumexp(z)``, which softmax
     cancels), ``LSO_k = logsumexp_{j != k} z_j`` computed from the largest other margin.
     ``phi(y) = softplus(y) e^(-y)`` is evaluated from ``e = exp(-|y|)`` in (0, 1] only, so no
     exponential overflows: margins of any finite size (1e4 included) give finite probabilities.

3. *Labels*: ``classes_[argmax]`` of the float64 probabilities (``ArgMax``, then ``Gather`` from
   ``classes_``: int64 for integer, boolean or integral float labels, strings for string labels,
   as skl2onnx does); multi-label: int64 ``probability > 0.5`` per label, shape (n, L).

Supported: binary and multiclass models of both estimators, multi-label
``FocalXGBClassifier``; ``probability="auto"``, ``"posterior"`` and ``"focal"``; every ``alpha`` and
``gamma`` (0 included); numeric features with missing values (NaN); a model trained with early
stopping exports at its best iteration, the rounds ``predict_proba`` uses; XGBoost
``num_parallel_tree``; float32 or float64 dense input.

Refused with an error naming the reason (never a wrong model): an unfitted estimator
(``NotFittedError``); categorical splits (pandas categorical / ``enable_categorical``,
LightGBM ``categorical_feature``); XGBoost ``booster="dart"`` / ``"gblinear"``,
``multi_strategy="multi_output_tree"`` and a ``missing`` other than NaN; LightGBM
``linear_tree``, ``boosting="rf"`` and ``zero_as_missing=True``; class labels that are neither
integers nor strings (e.g. 0.5); an input that is not a float tensor or has the wrong number of
columns (``NotImplementedError``, ``ValueError`` or ``TypeError``).

Not expressible in the graph, and so not part of it: ``base_margin`` / a LightGBM ``init_score``
at predict time, ``iteration_range`` / ``num_iteration`` other than the default, sparse input
(feed a dense array; entries XGBoost treats as missing must be NaN), pandas input with
non-numeric columns. skl2onnx's ``zipmap`` option works for binary and multiclass models (off
in :func:`to_onnx`); a multi-label model always outputs plain tensors. Dask estimators are not
registered (export the fitted single-machine equivalent).

Pipelines: convert them with a float64 sample. skl2onnx then computes ``StandardScaler`` as
scikit-learn does (``Sub``, ``Div`` in float64) and the pipeline's probabilities match
``pipeline.predict_proba``. With float32 input skl2onnx's scaler is ``ai.onnx.ml.Scaler``,
``(x - mean) * (1 / std)``, which can differ from scikit-learn's ``(x - mean) / std`` by one
float32 ulp; XGBoost's split thresholds are data values, so on data with repeated values (prices,
counts) many rows then land on the other side of a split. The model part stays exact on the
scaler's output; the difference is the scaler's.
"""

from __future__ import annotations

import importlib
import json
import numbers

import numpy as np

__all__ = ["to_onnx", "register_converters"]

#: what to install for this module
EXTRA = "pip install focalboost[onnx]"
#: the oldest main opset the graph is written for (Softmax on the last axis, TopK with k input)
MIN_OPSET = 13
#: below this e = exp(-|y|), log1p(e)/e is its series 1 - e/2 (error < e^2/3 < 4e-11)
_SERIES_BELOW = 1e-5


def _require(module):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"focalboost.onnx needs the optional package {module.split('.')[0]!r}: "
            f"{EXTRA} (onnx, skl2onnx; onnxruntime to run the model)"
        ) from exc


# --- what a fitted estimator exports -------------------------------------------------------------
class _Forest:
    """A tree ensemble as the attribute lists of ``TreeEnsembleRegressor``, plus the init margins
    added after it (float64) and whether thresholds and leaves are float64 (LightGBM)."""

    def __init__(self, n_targets, init, double):
        self.n_targets = int(n_targets)
        self.init = np.broadcast_to(np.asarray(init, dtype=np.float64), (self.n_targets,)).copy()
        self.double = double
        self.nodes = {key: [] for key in ("treeids", "nodeids", "featureids", "modes", "values",
                                          "truenodeids", "falsenodeids", "missing")}
        self.leaves = {key: [] for key in ("treeids", "nodeids", "ids", "weights")}
        self.n_trees = 0

    def add_tree(self, children, split, leaf_value, target):
        """Add one tree of root node 0 for margin column ``target``: ``children(node) -> (left,
        right)`` or None for a leaf, ``split(node) -> (feature, mode, threshold,
        missing_goes_left)``, ``leaf_value(node)``. Nodes are renumbered 0.. breadth first; only
        nodes reachable from the root are written."""
        tree, ids, order = self.n_trees, {0: 0}, [0]
        self.n_trees += 1
        for node in order:  # breadth first; ``order`` grows while we walk it
            kids = children(node)
            for kid in kids or ():
                ids[kid] = len(order)
                order.append(kid)
        for node in order:
            kids = children(node)
            n = self.nodes
            n["treeids"].append(tree)
            n["nodeids"].append(ids[node])
            if kids is None:
                for key, value in (("featureids", 0), ("modes", "LEAF"), ("values", 0.0),
                                   ("truenodeids", 0), ("falsenodeids", 0), ("missing", 0)):
                    n[key].append(value)
                for key, value in (("treeids", tree), ("nodeids", ids[node]), ("ids", target),
                                   ("weights", leaf_value(node))):
                    self.leaves[key].append(value)
                continue
            feature, mode, threshold, missing_left = split(node)
            n["featureids"].append(int(feature))
            n["modes"].append(mode)
            n["values"].append(threshold)
            n["truenodeids"].append(ids[kids[0]])
            n["falsenodeids"].append(ids[kids[1]])
            n["missing"].append(int(bool(missing_left)))

    def attributes(self, double):
        """``TreeEnsembleRegressor`` attributes; ``double``: thresholds and leaf values as float64
        tensors (ai.onnx.ml opset >= 3), else float32 lists."""
        if self.n_trees == 0:  # an empty ensemble is not a valid node: one leaf of weight 0
            self.add_tree(lambda node: None, None, lambda node: 0.0, 0)
        n, leaf = self.nodes, self.leaves
        attrs = dict(
            n_targets=self.n_targets,
            aggregate_function="SUM",
            post_transform="NONE",
            nodes_treeids=n["treeids"],
            nodes_nodeids=n["nodeids"],
            nodes_featureids=n["featureids"],
            nodes_modes=n["modes"],
            nodes_truenodeids=n["truenodeids"],
            nodes_falsenodeids=n["falsenodeids"],
            nodes_missing_value_tracks_true=n["missing"],
            target_treeids=leaf["treeids"],
            target_nodeids=leaf["nodeids"],
            target_ids=leaf["ids"],
        )
        if double:  # float64 tensors: LightGBM's own thresholds and leaf values
            from onnx import numpy_helper

            for key, values in (("nodes_values_as_tensor", n["values"]),
                                ("target_weights_as_tensor", leaf["weights"])):
                attrs[key] = numpy_helper.from_array(np.asarray(values, dtype=np.float64))
        else:  # float32 lists (XGBoost's are float32 already)
            with np.errstate(over="ignore"):  # LightGBM's +-1e300 thresholds: +-inf
                attrs["nodes_values"] = [float(np.float32(v)) for v in n["values"]]
                attrs["target_weights"] = [float(np.float32(v)) for v in leaf["weights"]]
        return attrs


class _Export:
    """What the graph needs from a fitted estimator (checked): kind, loss, classes, forest."""

    def __init__(self, estimator, *, with_forest=True):
        from sklearn.utils.validation import check_is_fitted

        from .losses import MultiLabelFocalLoss
        from .sklearn import FocalLGBMClassifier, FocalXGBClassifier

        if not isinstance(estimator, (FocalXGBClassifier, FocalLGBMClassifier)):
            raise TypeError(
                "focalboost.onnx exports FocalXGBClassifier and FocalLGBMClassifier, got "
                f"{type(estimator).__name__}"
            )
        check_is_fitted(estimator)
        name = type(estimator).__name__
        self.name = name
        self.loss = estimator.loss_
        self.probability = estimator.probability
        #: probability="auto": the posterior of margin / temperature (1: the exact posterior)
        self.temperature = float(getattr(estimator, "temperature_", 1.0))
        self.strength = float(getattr(estimator, "strength_", 1.0))
        self.n_features = int(estimator.n_features_in_)
        if isinstance(self.loss, MultiLabelFocalLoss):
            self.kind = "multilabel"
            self.n_columns = int(estimator.n_outputs_)
            self.classes = np.array([0, 1], dtype=np.int64)
        else:
            self.n_columns = int(estimator.n_classes_)
            self.kind = "binary" if self.n_columns == 2 else "multiclass"
            self.classes = _label_classes(estimator.classes_, name)
        self.is_xgboost = isinstance(estimator, FocalXGBClassifier)
        self.forest = None
        if with_forest:
            if self.is_xgboost:
                self.forest = _xgboost_forest(estimator, self)
            else:
                self.forest = _lightgbm_forest(estimator, self)

    @property
    def n_margins(self):
        return 1 if self.kind == "binary" else self.n_columns


def _label_classes(classes, name):
    """``classes_`` as an int64 or a string array (the ONNX label output's type)."""
    arr = np.asarray(classes)
    kind = arr.dtype.kind
    if kind == "O":
        if all(isinstance(c, str) for c in arr):
            return arr.astype(str)
        if all(isinstance(c, (numbers.Integral, np.bool_)) for c in arr):
            return arr.astype(np.int64)
        kind = "f" if all(isinstance(c, numbers.Real) for c in arr) else "O"
    if kind in "US":
        return arr.astype(str)
    if kind in "biu":
        return arr.astype(np.int64)
    if kind == "f":
        values = arr.astype(np.float64)
        if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            return values.astype(np.int64)
    raise ValueError(
        f"{name}.classes_ = {arr.tolist()!r} cannot be ONNX labels: an ONNX label output is an "
        "int64 or a string tensor; fit with integer or string class labels"
    )


def _xgboost_forest(estimator, export):
    """The trees XGBoost's ``predict`` uses (up to ``best_iteration`` after early stopping) and the
    init margins held by ``base_score``."""
    booster = estimator.get_booster()
    model = json.loads(bytes(booster.save_raw(raw_format="json")))
    learner = model["learner"]
    gbm = learner["gradient_booster"]
    if gbm["name"] != "gbtree":
        raise NotImplementedError(
            f"{export.name} with booster={gbm['name']!r} cannot be exported to ONNX: only "
            "booster='gbtree' (dart weights its trees at predict time, gblinear has none)"
        )
    missing = estimator.missing
    if missing is not None and not (isinstance(missing, numbers.Real) and np.isnan(missing)):
        raise NotImplementedError(
            f"{export.name} with missing={missing!r} cannot be exported to ONNX: only "
            "missing=np.nan (the ONNX tree ensemble sends NaN to the default branch)"
        )
    objective = learner["objective"]["name"]
    expected = {"binary": "binary:logistic", "multilabel": "binary:logistic",
                "multiclass": "multi:softprob"}[export.kind]
    if objective != expected:
        raise ValueError(
            f"{export.name}'s booster has objective {objective!r}, expected {expected!r} for a "
            f"{export.kind} model; cannot export it"
        )
    params = learner["learner_model_param"]
    text = params["base_score"]
    base = np.asarray(json.loads(text) if text.lstrip().startswith("[") else [float(text)],
                      dtype=np.float64)
    if objective == "binary:logistic":  # base_score is a probability per output
        p = base.astype(np.float32).astype(np.float64)
        base = np.log(p) - np.log1p(-p)
    n_targets = export.n_margins
    if base.size not in (1, n_targets):
        raise ValueError(
            f"{export.name}'s booster has {base.size} base_score values for {n_targets} outputs"
        )
    forest = _Forest(n_targets, base, double=False)

    trees = gbm["model"]["trees"]
    info = gbm["model"]["tree_info"]
    indptr = gbm["model"].get("iteration_indptr")
    end = len(trees)
    try:  # XGBModel.predict's rule: best_iteration after early stopping, else every round
        best = estimator.best_iteration
    except AttributeError:
        best = None
    if best is not None:
        if indptr is None:
            raise NotImplementedError(
                f"{export.name}: the booster has best_iteration but no iteration_indptr; cannot "
                "tell which trees predict uses"
            )
        end = int(indptr[best + 1])
    for tree, target in zip(trees[:end], info[:end]):
        if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1:
            raise NotImplementedError(
                f"{export.name} with multi_strategy='multi_output_tree' (vector leaves) cannot "
                "be exported to ONNX; use the default multi_strategy='one_output_per_tree'"
            )
        if any(int(t) != 0 for t in tree.get("split_type", ())):
            raise NotImplementedError(
                f"{export.name} has categorical splits (enable_categorical): the ONNX export "
                "supports numeric features only; one-hot or ordinal-encode them"
            )
        left, right = tree["left_children"], tree["right_children"]
        cond, index = tree["split_conditions"], tree["split_indices"]
        default_left = tree["default_left"]

        def children(i, left=left, right=right):
            return None if left[i] == -1 else (left[i], right[i])

        def split(i, cond=cond, index=index, default_left=default_left):
            # XGBoost: left when x < threshold (float32), NaN to the default branch
            return index[i], "BRANCH_LT", float(np.float32(cond[i])), bool(default_left[i])

        def leaf(i, cond=cond):  # a leaf's value is stored in split_conditions
            return float(np.float32(cond[i]))

        forest.add_tree(children, split, leaf, int(target))
    return forest


def _round_down_float32(value):
    """The largest float32 <= ``value``: for float32 x, x <= value iff x <= this."""
    with np.errstate(over="ignore"):  # beyond the float32 range: +-inf, then the max float32
        f = np.float32(value)
    if float(f) > value:
        f = np.nextafter(f, np.float32(-np.inf))
    return float(f)


def _lightgbm_forest(estimator, export):
    """The trees LightGBM's ``predict`` uses (its ``best_iteration`` after early stopping) and
    the constant ``FocalLGBMClassifier.decision_function`` adds to their raw scores."""
    dump = estimator.booster_.dump_model()  # num_iteration=None: the best iteration if any
    if dump.get("average_output"):
        raise NotImplementedError(
            f"{export.name} with boosting='rf' (averaged trees) cannot be exported to ONNX; "
            "use boosting='gbdt'"
        )
    per_iteration = int(dump["num_tree_per_iteration"])
    if per_iteration != export.n_margins:
        raise ValueError(
            f"{export.name}'s booster has {per_iteration} trees per iteration for "
            f"{export.n_margins} margins; cannot export it"
        )
    forest = _Forest(per_iteration, 0.0, double=True)

    def split(node):
        if node["decision_type"] != "<=":
            raise NotImplementedError(
                f"{export.name} has categorical splits (categorical_feature / pandas category "
                "columns): the ONNX export supports numeric features only"
            )
        missing = node["missing_type"]
        threshold = float(node["threshold"])
        if missing == "NaN":  # NaN goes to the default branch
            missing_left = bool(node["default_left"])
        elif missing == "None":  # NaN is read as 0.0, then compared
            missing_left = 0.0 <= threshold
        else:
            raise NotImplementedError(
                f"{export.name} has splits with missing_type={missing!r} (zero_as_missing=True): "
                "zeros going to the default branch cannot be expressed in the ONNX export"
            )
        return node["split_feature"], "BRANCH_LEQ", threshold, missing_left

    def leaf(node):
        if node.get("leaf_coeff"):
            raise NotImplementedError(
                f"{export.name} with linear_tree=True (linear models in the leaves) cannot be "
                "exported to ONNX"
            )
        return float(node["leaf_value"])

    for i, info in enumerate(dump["tree_info"]):
        nodes = _flatten(info["tree_structure"])
        forest.add_tree(
            lambda k, nodes=nodes: nodes[k][1],
            lambda k, nodes=nodes: split(nodes[k][0]),
            lambda k, nodes=nodes: leaf(nodes[k][0]),
            i % per_iteration,
        )
    forest.init = _lightgbm_offset(estimator, per_iteration)  # once the trees are known good
    return forest


def _lightgbm_offset(estimator, n_margins):
    """What ``decision_function`` adds to the booster's raw scores (a constant per margin).

    ``FocalLGBMClassifier`` has kept the init score in two ways: added at predict time
    (``init_score_``, the booster's raw scores exclude it) or folded into the first trees' leaves
    (the raw scores are the margins). The export follows the estimator's own rule, measured on
    two rows (zeros and ones): margin - raw score is ``init_score_`` in the first case, 0 in the
    second, and must be the same constant on both rows.
    """
    import warnings

    probe = np.vstack([np.zeros(estimator.n_features_in_), np.ones(estimator.n_features_in_)])
    with warnings.catch_warnings():  # "X does not have valid feature names": expected here
        warnings.simplefilter("ignore", UserWarning)
        margin = estimator.decision_function(probe)
        raw = estimator.booster_.predict(probe, raw_score=True)
    offset = (np.asarray(margin, dtype=np.float64) - np.asarray(raw, dtype=np.float64))
    offset = offset.reshape(2, n_margins)
    if not np.allclose(offset[0], offset[1], rtol=0.0, atol=1e-12 * (1.0 + np.abs(raw).max())):
        raise NotImplementedError(
            f"{type(estimator).__name__}.decision_function is not the booster's raw score plus "
            f"a constant (offsets {offset.tolist()}); cannot export it"
        )
    return offset[0]


def _flatten(root):
    """LightGBM's nested tree dict as a list of (node, (left, right) indices or None)."""
    nodes, out = [root], []
    for node in nodes:  # ``nodes`` grows while we walk it
        if "split_index" in node:
            nodes.extend((node["left_child"], node["right_child"]))
            out.append((node, (len(nodes) - 2, len(nodes) - 1)))
        else:
            out.append((node, None))
    return out


# --- writing ONNX nodes: one interface, two back ends ---------------------------------------------
class _Graph:
    """Adds nodes and constants; ``op`` returns its output name(s). Subclasses implement
    ``_node``, ``_constant`` and ``_name``."""

    opset = None  # main (default-domain) opset

    def op(self, op_type, *inputs, outputs=1, out=None, domain="", version=None, **attrs):
        names = [out] if out is not None else [self._name(op_type) for _ in range(outputs)]
        self._node(op_type, list(inputs), names, domain, version, attrs)
        return names[0] if outputs == 1 else names

    def const(self, value, dtype=np.float64):
        arr = np.asarray(value)
        arr = arr.astype(str) if arr.dtype.kind in "USO" else arr.astype(dtype)
        return self._constant(arr)


class _SklGraph(_Graph):
    """skl2onnx's scope and container (the converter)."""

    def __init__(self, scope, container):
        self.scope, self.container = scope, container
        self.opset = container.target_opset
        # TreeEnsembleRegressor: version 3 (float64 attributes) or 1; skl2onnx targets <= 3
        self.ml_opset = min(3, container.target_opset_any_domain("ai.onnx.ml"))

    def _name(self, hint):
        return self.scope.get_unique_variable_name(f"focal_{hint}")

    def _node(self, op_type, inputs, outputs, domain, version, attrs):
        self.container.add_node(
            op_type, inputs, outputs, op_domain=domain, op_version=version,
            name=self.scope.get_unique_operator_name(f"Focal{op_type}"), **attrs,
        )

    def _constant(self, arr):
        from onnx import TensorProto, helper

        name = self._name("const")
        if arr.dtype.kind == "U":
            content = [s.encode("utf-8") for s in arr.ravel()]
            self.container.add_initializer(name, TensorProto.STRING, list(arr.shape), content)
        else:
            dtype = helper.np_dtype_to_tensor_dtype(arr.dtype)
            self.container.add_initializer(name, dtype, list(arr.shape), arr.ravel().tolist())
        return name


class _HelperGraph(_Graph):
    """Plain ``onnx.helper`` lists (a stand-alone model of the margin -> output part)."""

    def __init__(self, opset):
        self.opset = opset
        self.ml_opset = 3
        self.nodes, self.initializers, self._count = [], [], 0

    def _name(self, hint):
        self._count += 1
        return f"{hint}_{self._count}"

    def _node(self, op_type, inputs, outputs, domain, version, attrs):
        from onnx import helper

        node = helper.make_node(op_type, inputs, outputs, domain=domain or None, **attrs)
        self.nodes.append(node)

    def _constant(self, arr):
        from onnx import helper, numpy_helper

        name = self._name("const")
        if arr.dtype.kind == "U":
            tensor = helper.make_tensor(name, 8, arr.shape, [s.encode() for s in arr.ravel()])
        else:
            tensor = numpy_helper.from_array(arr, name)
        self.initializers.append(tensor)
        return name


# --- the graph: trees -> margins -> probabilities -> labels ---------------------------------------
def _write_forest(g, export, x, x_is_double):
    """Margins (n, n_margins) float64 from the input ``x`` (float or double tensor)."""
    from onnx import TensorProto

    forest = export.forest
    double = forest.double and g.ml_opset >= 3
    if double and not x_is_double:
        x = g.op("Cast", x, to=TensorProto.DOUBLE)  # exact: LightGBM compares in float64
    elif not double and x_is_double:
        x = g.op("Cast", x, to=TensorProto.FLOAT)  # exact for XGBoost, which reads float32
    attrs = forest.attributes(double)
    if forest.double and not double:  # old ai.onnx.ml: float32 thresholds, exact for float32 x
        attrs["nodes_values"] = [_round_down_float32(v) for v in forest.nodes["values"]]
    raw = g.op("TreeEnsembleRegressor", x, domain="ai.onnx.ml", version=3 if g.ml_opset >= 3 else 1,
               **attrs)
    raw = g.op("Cast", raw, to=TensorProto.DOUBLE)
    return g.op("Add", raw, g.const(forest.init.reshape(1, -1)))


def _phi_pair(g, y):
    """(phi(y), phi(-y)) with phi(y) = softplus(y) e^(-y), from e = exp(-|y|) in (0, 1]:
    y >= 0: phi(y) = (|y| + log1p(e)) e; y < 0: phi(y) = log1p(e) / e. Finite for any y."""
    e = g.op("Exp", g.op("Neg", g.op("Abs", y)))
    ratio = g.op(  # log1p(e) / e
        "Where",
        g.op("Less", e, g.const(_SERIES_BELOW)),
        g.op("Sub", g.const(1.0), g.op("Mul", e, g.const(0.5))),
        g.op("Div", g.op("Log", g.op("Add", e, g.const(1.0))),
             g.op("Max", e, g.const(_SERIES_BELOW))),
    )
    positive = g.op("Mul", g.op("Add", g.op("Abs", y), g.op("Mul", ratio, e)), e)
    zero = g.const(0.0)
    return (g.op("Where", g.op("Less", y, zero), ratio, positive),
            g.op("Where", g.op("Greater", y, zero), ratio, positive))


def _log1p_gamma(g, phi, gamma):
    return g.op("Log", g.op("Add", g.const(1.0), g.op("Mul", phi, g.const(gamma))))


def _binary_log_odds(g, x, loss):
    """logit(eta): (1 + gamma) x + log1p(gamma phi(x)) - log1p(gamma phi(-x)) + log((1-a)/a);
    ``loss.alpha`` may be one float or one per column (multi-label)."""
    gamma, alpha = float(loss.gamma), loss.alpha
    t = x
    if gamma != 0.0:
        phi_x, phi_minus_x = _phi_pair(g, x)
        t = g.op("Mul", x, g.const(1.0 + gamma))
        t = g.op("Add", t, g.op("Sub", _log1p_gamma(g, phi_x, gamma),
                                _log1p_gamma(g, phi_minus_x, gamma)))
    if alpha is not None:
        a = np.asarray(alpha, dtype=np.float64)
        t = g.op("Add", t, g.const((np.log1p(-a) - np.log(a)).reshape(1, -1)))
    return t


def _others_logsumexp(g, z, K):
    """LSO_k = logsumexp_{j != k} z_j (n, K): shifted by the largest other margin s_k, so every
    exponent is <= 0 and the sum is >= 1 (no overflow, no log 0)."""
    top = g.op("TopK", z, g.const(np.array([2]), np.int64), outputs=2, axis=1)[0]
    first = g.op("Gather", top, g.const(np.array([0]), np.int64), axis=1)
    second = g.op("Gather", top, g.const(np.array([1]), np.int64), axis=1)
    shift = g.op("Where", g.op("Equal", z, first), second, first)  # max over j != k
    diff = g.op(  # [n, k, j] = z_j - s_k
        "Sub",
        g.op("Reshape", z, g.const(np.array([-1, 1, K]), np.int64)),
        g.op("Reshape", shift, g.const(np.array([-1, K, 1]), np.int64)),
    )
    terms = g.op("Mul", g.op("Exp", g.op("Min", diff, g.const(0.0))),
                 g.const(1.0 - np.eye(K)))  # j = k left out
    total = g.op("Reshape", g.op("MatMul", terms, g.const(np.ones((K, 1)))),
                 g.const(np.array([-1, K]), np.int64))
    return g.op("Add", shift, g.op("Log", total))


def _multiclass_log_weights(g, z, loss, K):
    """log w_k up to a row constant: z_k - gamma LSO_k - log1p(gamma phi(-u_k)) - log alpha_k,
    u_k = z_k - LSO_k the log-odds of p_k."""
    gamma, alpha = float(loss.gamma), loss.alpha
    a = z
    if gamma != 0.0:
        lso = _others_logsumexp(g, z, K)
        u = g.op("Sub", z, lso)
        phi_minus_u = _phi_pair(g, u)[1]
        a = g.op("Sub", z, g.op("Mul", lso, g.const(gamma)))
        a = g.op("Sub", a, _log1p_gamma(g, phi_minus_u, gamma))
    if alpha is not None:
        a = g.op("Sub", a, g.const(np.log(np.asarray(alpha, dtype=np.float64)).reshape(1, -1)))
    return a


def _write_outputs(g, export, margin, label_out, proba_out):
    """Probabilities (float32) and labels from the float64 margins."""
    from onnx import TensorProto

    posterior = export.probability in ("auto", "posterior")
    loss = export.loss
    if export.probability == "auto":
        from .calibration import strength_loss

        loss = strength_loss(loss, export.strength)  # gamma s, alpha^s
        if export.temperature != 1.0:  # margin / T (IEEE division, as in numpy)
            margin = g.op("Div", margin, g.const(export.temperature))
    if export.kind == "multiclass":
        a = margin
        if posterior:
            a = _multiclass_log_weights(g, margin, loss, export.n_columns)
        proba = g.op("Softmax", a, axis=1)
    else:
        t = _binary_log_odds(g, margin, loss) if posterior else margin
        if export.kind == "multilabel":
            proba = g.op("Sigmoid", t)
        else:
            proba = g.op("Concat", g.op("Sigmoid", g.op("Neg", t)), g.op("Sigmoid", t), axis=1)
    g.op("Cast", proba, to=TensorProto.FLOAT, out=proba_out)
    if export.kind == "multilabel":  # one 0/1 decision per label at probability 0.5
        g.op("Cast", g.op("Greater", proba, g.const(0.5)), to=TensorProto.INT64, out=label_out)
    else:
        index = g.op("ArgMax", proba, axis=1, keepdims=0)
        g.op("Gather", g.const(export.classes, np.int64), index, axis=0, out=label_out)


def _check_opset(opset, name):
    if opset is not None and opset < MIN_OPSET:
        raise ValueError(
            f"target_opset={opset} is too old to export {name}: the graph needs opset "
            f">= {MIN_OPSET}"
        )


# --- skl2onnx: parser, shape calculator, converter ---------------------------------------------
def _output_types(export, n):
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType

    if export.kind == "multilabel":
        label = Int64TensorType([n, export.n_columns])
    elif export.classes.dtype.kind == "U":
        label = StringTensorType([n])
    else:
        label = Int64TensorType([n])
    return label, FloatTensorType([n, export.n_columns])


def _check_input(operator, export):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    if len(operator.inputs) != 1:
        raise ValueError(
            f"{export.name} takes one input tensor (n, {export.n_features}), got "
            f"{len(operator.inputs)} inputs (pass a 2-D array, not a data frame's columns)"
        )
    var = operator.inputs[0]
    if not isinstance(var.type, (FloatTensorType, DoubleTensorType)):
        raise TypeError(
            f"{export.name} takes a float or double tensor, got {type(var.type).__name__} for "
            f"input {var.onnx_name!r}; cast X to float32"
        )
    shape = getattr(var.type, "shape", None)
    if shape is not None and len(shape) == 2 and isinstance(shape[1], numbers.Integral):
        if shape[1] != export.n_features:
            raise ValueError(
                f"X has {shape[1]} features, but {export.name} is expecting "
                f"{export.n_features} features as input."
            )
    return isinstance(var.type, DoubleTensorType)


def _apply_nocl(scope, operator, export):
    """skl2onnx's ``nocl`` option: class indices 0..K-1 as labels."""
    options = scope.get_options(operator.raw_operator, {"nocl": False})
    if export.kind != "multilabel" and options["nocl"]:
        export.classes = np.arange(export.n_columns, dtype=np.int64)


def _shape_calculator(operator):
    export = _Export(operator.raw_operator, with_forest=False)
    _apply_nocl(operator.scope_inst, operator, export)
    _check_input(operator, export)
    n = operator.inputs[0].get_first_dimension()
    label, proba = _output_types(export, n)
    operator.outputs[0].type = label
    operator.outputs[1].type = proba


def _converter(scope, operator, container):
    export = _Export(operator.raw_operator)
    _apply_nocl(scope, operator, export)
    _check_opset(container.target_opset, export.name)
    x_is_double = _check_input(operator, export)
    g = _SklGraph(scope, container)
    margin = _write_forest(g, export, operator.inputs[0].full_name, x_is_double)
    _write_outputs(g, export, margin, operator.outputs[0].full_name,
                   operator.outputs[1].full_name)


def _parser(scope, model, inputs, custom_parsers=None):
    """skl2onnx's classifier parser (``zipmap`` option) for binary/multiclass models; a
    multi-label model has plain (n, L) label and probability tensors."""
    from skl2onnx._parse import _get_sklearn_operator_name, _parse_sklearn_classifier
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType

    if getattr(model, "n_outputs_", None) is None:
        return _parse_sklearn_classifier(scope, model, inputs, custom_parsers=custom_parsers)
    operator = scope.declare_local_operator(_get_sklearn_operator_name(type(model)), model)
    operator.inputs = inputs
    operator.outputs.append(scope.declare_local_variable("label", Int64TensorType()))
    operator.outputs.append(scope.declare_local_variable("probabilities", FloatTensorType()))
    return operator.outputs


def register_converters():
    """Register ``FocalXGBClassifier`` and ``FocalLGBMClassifier`` with skl2onnx (idempotent).

    Afterwards ``skl2onnx.to_onnx`` converts them, alone or inside a pipeline, with skl2onnx's
    classifier options ``zipmap`` (default True in skl2onnx: a list of dicts instead of the
    probability tensor; binary and multiclass models only) and ``output_class_labels``.
    """
    skl2onnx = _require("skl2onnx")
    _require("onnx")
    from .sklearn import FocalLGBMClassifier, FocalXGBClassifier

    for cls, alias in ((FocalXGBClassifier, "FocalBoostFocalXGBClassifier"),
                       (FocalLGBMClassifier, "FocalBoostFocalLGBMClassifier")):
        skl2onnx.update_registered_converter(
            cls, alias, _shape_calculator, _converter, overwrite=True, parser=_parser,
            options={"zipmap": [True, False, "columns"], "nocl": [False, True],
                     "output_class_labels": [False, True]},
        )


def _initial_types(model, X):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    if X is None:
        n_features = getattr(model, "n_features_in_", None)
        if n_features is None:
            raise TypeError("to_onnx needs X (a sample of the input) or the number of features")
        return [("X", FloatTensorType([None, int(n_features)]))]
    if isinstance(X, numbers.Integral) and not isinstance(X, bool):
        if X < 1:
            raise ValueError(f"the number of features must be >= 1, got {X}")
        return [("X", FloatTensorType([None, int(X)]))]
    if hasattr(X, "dtypes") and hasattr(X, "columns"):  # a data frame: one numeric matrix
        kinds = {np.dtype(t).kind if isinstance(t, np.dtype) else "O" for t in X.dtypes}
        if not kinds <= set("biuf"):
            raise TypeError(
                "to_onnx takes numeric features only; X has non-numeric (e.g. categorical) "
                f"columns: {sorted(map(str, set(X.dtypes)))}"
            )
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"X must hold numbers, got dtype {arr.dtype}")
    kind = DoubleTensorType if arr.dtype == np.float64 else FloatTensorType
    return [("X", kind([None, arr.shape[1]]))]


def to_onnx(model, X=None, *, target_opset=None):
    """Export a fitted focal estimator, or a scikit-learn pipeline ending in one, to ONNX.

    Parameters
    ----------
    model : FocalXGBClassifier, FocalLGBMClassifier or a fitted scikit-learn Pipeline
        Fitted. A pipeline's other steps need skl2onnx converters of their own.
    X : array-like of shape (n_samples, n_features) or int, optional
        A sample of the input (only its dtype and number of columns are used: float64 gives a
        double input, anything else float32) or the number of features (float32 input).
        Default: ``model.n_features_in_`` columns of float32. For a pipeline with a scaler,
        give a float64 sample (see the module docstring).
    target_opset : int or dict, optional
        As in ``skl2onnx.to_onnx`` (default: the newest opset skl2onnx supports); at least 13.

    Returns
    -------
    onnx.ModelProto
        Input ``"X"``; outputs ``"label"`` (``classes_[argmax]``: int64 or string, shape (n,);
        multi-label: int64 (n, L)) and ``"probabilities"`` (float32, (n, n_classes) as
        ``predict_proba``; multi-label (n, L)). No ZipMap.

    Raises
    ------
    ImportError
        skl2onnx or onnx is missing (``pip install focalboost[onnx]``).
    sklearn.exceptions.NotFittedError, TypeError, ValueError, NotImplementedError
        An unfitted estimator, or a model or option the export cannot represent (see the module
        docstring).
    """
    skl2onnx = _require("skl2onnx")
    register_converters()
    from .sklearn import FocalLGBMClassifier, FocalXGBClassifier

    focal = (FocalXGBClassifier, FocalLGBMClassifier)
    if isinstance(model, focal):
        _Export(model, with_forest=False)  # the checks, before skl2onnx's own messages
    main = target_opset.get("") if isinstance(target_opset, dict) else target_opset
    _check_opset(main, type(model).__name__)
    options = {cls: {"zipmap": False} for cls in focal}
    return skl2onnx.to_onnx(
        model, initial_types=_initial_types(model, X), target_opset=target_opset,
        options=options,
    )


def _outputs_model(estimator, opset=None):
    """A stand-alone model of the margin -> outputs part for a fitted estimator: input
    ``"margin"`` (double, (n, n_margins) including the init score), outputs ``"label"`` and
    ``"probabilities"``. For tests of the formulas on margins of any size."""
    onnx = _require("onnx")
    from onnx import TensorProto, helper

    export = _Export(estimator, with_forest=False)
    opset = opset or MIN_OPSET
    g = _HelperGraph(opset)
    _write_outputs(g, export, "margin", "label", "probabilities")
    label_type = TensorProto.STRING if export.classes.dtype.kind == "U" else TensorProto.INT64
    label_shape = [None, export.n_columns] if export.kind == "multilabel" else [None]
    graph = helper.make_graph(
        g.nodes, "focal_outputs",
        [helper.make_tensor_value_info("margin", TensorProto.DOUBLE, [None, export.n_margins])],
        [helper.make_tensor_value_info("label", label_type, label_shape),
         helper.make_tensor_value_info("probabilities", TensorProto.FLOAT,
                                       [None, export.n_columns])],
        initializer=g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model
