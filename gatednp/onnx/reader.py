"""gn.onnx.load: read a chain of ONNX LSTM/GRU/RNN nodes back into gatednp layers.

The graph is walked once, in its (topological) order. Every tensor derived from the data input
carries its axes, one letter each: T time, B batch, F features, D directions, H hidden, O a
head's outputs, t the last time step kept as an axis. The glue exporters put between layers
(Transpose, Squeeze, Reshape, Gather, Slice, Identity, Concat of the final states) moves those
letters; a recurrent node must receive (T, B, F) (layout 0) or (B, T, F) (layout 1), and a glue
node that would mix the letters in any other way is refused, naming the node. Tensors that do
not derive from the data are "side" values: constants (folded with onnx.reference), zeros, or
graph inputs (the initial states and sequence_lens), checked where a recurrent node reads them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..module import Module
from .build import RecurrentNode, build_model, node_label
from .schema import GATES, UnsupportedError, attributes, require_onnx

if TYPE_CHECKING:  # the optional extra: imported only when load runs
    import onnx

__all__ = ["load", "Flow", "Side"]

GLUE = (
    "Identity",
    "Transpose",
    "Squeeze",
    "Reshape",
    "Gather",
    "Slice",
    "Concat",
    "Shape",
    "Where",
)
HEAD = ("Gemm", "MatMul", "Add")


@dataclass(frozen=True)
class Flow:
    """A tensor derived from the data input: its axes and the node it came out of."""

    axes: str
    layer: int  # -1: the graph's data input; k: recurrent node k (the last one, for states)
    part: str = "y"  # "y", "h" or "c" (a node's Y_h, Y_c), or "head"
    layers: int = 1  # for states: how many layers' states, ending at `layer`, are stacked


@dataclass
class Side:
    """A tensor that does not derive from the data: a constant, zeros, or from graph inputs."""

    value: np.ndarray | None = None  # known constant
    sources: frozenset[str] = frozenset()  # graph inputs it is computed from
    zeros: bool = False  # known to be all zeros, its shape only known at run time
    rows: tuple[int, int] | None = None  # Slice(input, [start], [end], axes=[0]) of one input


@dataclass
class Walk:
    """What the walk has found so far."""

    flows: dict[str, Flow] = field(default_factory=dict)
    sides: dict[str, Side] = field(default_factory=dict)
    nodes: list[RecurrentNode] = field(default_factory=list)
    head: dict = field(default_factory=dict)  # weight (O, F), bias (O,), per_step


def load(
    source: str | os.PathLike | bytes | onnx.ModelProto,
    *,
    weights: Mapping[str, np.ndarray] | None = None,
) -> Module:
    """The gatednp layer (or course model) an ONNX model of LSTM/GRU/RNN nodes computes.

    Args:
        source: a path to an .onnx file, its bytes, or an onnx.ModelProto.
        weights: values of graph inputs that hold parameters (W, R, B, P), for graphs that take
            them as inputs instead of initializers, as the ONNX backend test cases do.

    Returns:
        A gn.LSTM / gn.GRU / gn.RNN (consecutive nodes become num_layers), or, when a Gemm
        (or MatMul + Add) head follows, a gn.LSTMModel / gn.GRUModel (the course's shapes) or a
        SequenceModel. Call it with torch's conventions: x, states (D·num_layers, B, H), lengths.

    Raises:
        UnsupportedError (a ValueError) naming the node and the attribute, input or op that
        gatednp cannot express; ImportError without the onnx extra.
    """
    onnx = require_onnx()
    if isinstance(source, (bytes, bytearray)):
        source = onnx.load_model_from_string(bytes(source))
    elif not isinstance(source, onnx.ModelProto):
        source = onnx.load(os.fspath(source))
    graph = source.graph
    walk = Walk()
    initialized = {t.name for t in graph.initializer}
    for t in graph.initializer:
        walk.sides[t.name] = Side(value=onnx.numpy_helper.to_array(t))
    inputs = [i.name for i in graph.input if i.name not in initialized]
    unknown = sorted(set(weights or {}) - set(inputs) - initialized)
    if unknown:
        raise ValueError(f"weights names {unknown}, which are not inputs of the graph ({inputs})")
    data = data_input(graph, inputs)
    for name in inputs:
        if weights is not None and name in weights:
            walk.sides[name] = Side(value=np.asarray(weights[name]))
        elif name == data:
            walk.flows[name] = Flow("TBF", -1)  # a guess the first recurrent node settles
        else:
            walk.sides[name] = Side(sources=frozenset([name]))
    for index, node in enumerate(graph.node):
        step(walk, node, index)
    if not walk.nodes:
        raise UnsupportedError("the graph has no LSTM, GRU or RNN node")
    outputs = [o.name for o in graph.output]
    return build_model(walk.nodes, walk.head, [walk.flows.get(o) for o in outputs], outputs)


def data_input(graph, inputs: list[str]) -> str:
    """The graph input that reaches the first recurrent node's X (through its first inputs)."""
    producer = {out: node for node in graph.node for out in node.output}
    first = next((n for n in graph.node if n.op_type in GATES), None)
    if first is None:
        raise UnsupportedError("the graph has no LSTM, GRU or RNN node")
    name = first.input[0]
    while name not in inputs:
        if name not in producer or not producer[name].input:
            raise UnsupportedError(
                f"node {node_label(first)}: its input X does not come from a graph input"
            )
        name = producer[name].input[0]
    return name


def step(walk: Walk, node, index: int) -> None:
    """Interpret one node: a recurrent node, glue or head on the data, or a side computation."""
    label = node_label(node, index)
    flows = [walk.flows.get(i) for i in node.input]
    if node.op_type in GATES:
        walk.nodes.append(RecurrentNode.read(node, label, flows[0], walk.sides))
        k, rec = len(walk.nodes) - 1, walk.nodes[-1]
        y_axes, state_axes = ("BTDH", "BDH") if rec.layout else ("TDBH", "DBH")
        for position, out in enumerate(node.output):
            if out:
                walk.flows[out] = Flow(y_axes if position == 0 else state_axes, k, "yhc"[position])
        return
    if not any(flows):
        walk.sides.update(zip(node.output, side_step(walk, node, label)))
        return
    flow = next(f for f in flows if f is not None)
    if node.op_type not in GLUE + HEAD:
        raise UnsupportedError(
            f"node {label}: op {node.op_type} on the recurrent data is not one gatednp can load "
            f"(a chain of LSTM/GRU/RNN nodes, glue {', '.join(GLUE)}, a Gemm or MatMul + Add head)"
        )
    if node.op_type == "Shape":
        walk.sides[node.output[0]] = Side(sources=frozenset(["<shape>"]))
        return
    result = glue(walk, node, label, flow, flows)
    walk.flows[node.output[0]] = result


def const(walk: Walk, node, label: str, position: int, what: str) -> np.ndarray:
    """The constant value of a node's input, or an error naming it."""
    side = walk.sides.get(node.input[position]) if position < len(node.input) else None
    if side is None or side.value is None:
        raise UnsupportedError(f"node {label}: its {what} must be a constant")
    return side.value


def ints(walk: Walk, node, label: str, attr: str, position: int) -> list[int] | None:
    """An int list given as an attribute (older opsets) or as a constant input (newer)."""
    for a in node.attribute:
        if a.name == attr:
            return list(a.ints)
    if position < len(node.input) and node.input[position]:
        return [int(v) for v in np.ravel(const(walk, node, label, position, attr))]
    return None


def glue(walk: Walk, node, label: str, flow: Flow, flows: list) -> Flow:
    """The axes after one glue or head node on the data (Flow), or an error naming the node."""
    op, axes, attrs = node.op_type, flow.axes, attributes(node)
    refuse = UnsupportedError(
        f"node {label}: {op} on a tensor with axes {tuple(axes)} is not glue gatednp can load"
    )
    if op == "Identity":
        return flow
    if op == "Transpose":
        perm = attrs.get("perm", list(reversed(range(len(axes)))))
        return Flow("".join(axes[p] for p in perm), flow.layer, flow.part)
    if op == "Squeeze":
        drop = {a % len(axes) for a in ints(walk, node, label, "axes", 1) or []}
        if not drop or any(axes[a] not in "Dt" for a in drop):
            raise refuse
        if any(axes[a] == "D" for a in drop) and walk.nodes[flow.layer].directions != 1:
            raise refuse
        kept = "".join(c for a, c in enumerate(axes) if a not in drop)
        return Flow(kept.replace("H", "F") if "D" not in kept else kept, flow.layer, flow.part)
    if op == "Reshape":
        shape = [int(v) for v in const(walk, node, label, 1, "shape")]
        merged = axes.find("DH")
        H = walk.nodes[flow.layer].hidden_size if flow.layer >= 0 else None
        D = walk.nodes[flow.layer].directions if flow.layer >= 0 else None
        if merged < 0 or len(shape) != len(axes) - 1 or shape[merged] not in (-1, D * H):
            raise refuse
        if any(v not in (0, -1) for a, v in enumerate(shape) if a != merged) or shape.count(-1) > 1:
            raise refuse
        return Flow(axes[:merged] + "F" + axes[merged + 2 :], flow.layer, flow.part)
    if op == "Gather":
        axis = attrs.get("axis", 0) % len(axes)
        index = const(walk, node, label, 1, "indices")
        if index.ndim != 0 or int(index) != -1:
            raise refuse
        if axes[axis] == "T":  # y[-1]: the last step
            return Flow(axes.replace("T", ""), flow.layer, flow.part)
        if axes[axis] == "D" and flow.part in "hc" and walk.nodes[flow.layer].directions == 1:
            return Flow(axes.replace("D", "").replace("H", "F"), flow.layer, flow.part)  # h_n[-1]
        raise refuse
    if op == "Slice":
        starts, ends = ints(walk, node, label, "starts", 1), ints(walk, node, label, "ends", 2)
        slice_axes = ints(walk, node, label, "axes", 3) or [0]
        steps = ints(walk, node, label, "steps", 4) or [1]
        if (len(slice_axes) != 1 or axes[slice_axes[0] % len(axes)] != "T" or starts != [-1]
                or steps != [1] or ends[0] < 2**31 - 1 or flow.part != "y"):  # fmt: skip
            raise refuse
        return Flow(axes.replace("T", "t"), flow.layer, flow.part)
    if op == "Where":  # Where(empty, initial state, Y_h): gatednp's own zero-length rule
        cond, initial = (walk.sides.get(i) for i in node.input[:2])
        named = initial and {x for x in initial.sources if not x.startswith("<")}
        if (
            flows[2] is not flow
            or flow.part not in "hc"
            or cond is None
            or not named
            or len(named) != 1
        ):
            raise refuse
        return flow
    if op == "Concat":  # the layers' final states, stacked as torch's (D·num_layers, B, H)
        if not all(flows) or axes[attrs.get("axis", 0) % len(axes)] != "D" or flow.part not in "hc":
            raise refuse
        starts = [f.layer - f.layers + 1 for f in flows]
        if starts[1:] != [f.layer + 1 for f in flows[:-1]] or {(f.part, f.axes) for f in flows} != {
            (flow.part, axes)
        }:
            raise refuse  # not consecutive layers' h (or c) in order
        return Flow(axes, flows[-1].layer, flow.part, sum(f.layers for f in flows))
    return head(walk, node, label, flow, attrs, refuse)


def head(walk: Walk, node, label: str, flow: Flow, attrs: dict, refuse: Exception) -> Flow:
    """Gemm on the last step, MatMul (+ Add) on the last step or every step: the linear head."""
    op, axes = node.op_type, flow.axes
    if op == "Add":
        if flow.part != "head" or "bias" in walk.head or walk.flows.get(node.input[0]) is None:
            raise refuse
        bias = const(walk, node, label, 1, "bias B")
        walk.head["bias"] = np.broadcast_to(bias, walk.head["weight"].shape[:1]).copy()
        return flow
    if walk.head or flow.layer != len(walk.nodes) - 1 or axes not in ("BF", "TBF", "BTF"):
        raise refuse
    if op == "Gemm":
        if axes != "BF" or attrs.get("transA", 0):
            raise refuse
        w = const(walk, node, label, 1, "weight B")
        w = (w if attrs.get("transB", 0) else w.T) * attrs.get("alpha", 1.0)
        walk.head["weight"] = w
        if len(node.input) > 2 and node.input[2]:
            bias = const(walk, node, label, 2, "bias C") * attrs.get("beta", 1.0)
            walk.head["bias"] = np.broadcast_to(bias, w.shape[:1]).copy()
    else:  # MatMul
        if walk.flows.get(node.input[0]) is None:
            raise refuse
        walk.head["weight"] = np.ascontiguousarray(const(walk, node, label, 1, "weight").T)
    walk.head["per_step"] = axes != "BF"
    walk.head["batch_first"] = axes == "BTF"
    return Flow(axes.replace("F", "O"), flow.layer, "head")


def side_step(walk: Walk, node, label: str) -> list[Side]:
    """A node whose inputs do not derive from the data: folded when constant, else tracked."""
    onnx = require_onnx()
    sides = [walk.sides.get(i, Side()) if i else None for i in node.input]
    present = [s for s in sides if s is not None]
    attrs = attributes(node)
    if all(s.value is not None for s in present):
        from onnx.reference import ReferenceEvaluator

        feeds = {i: s.value for i, s in zip(node.input, sides) if s is not None}
        values = ReferenceEvaluator(node).run(None, feeds)
        return [Side(value=np.asarray(v)) for v in values]
    if node.op_type == "ConstantOfShape":
        value = attrs.get("value")
        zero = value is None or not np.any(onnx.numpy_helper.to_array(value))
        return [Side(zeros=zero, sources=frozenset(["<shape>"]))]
    if node.op_type == "Expand" and (
        present[0].zeros or (present[0].value is not None and not np.any(present[0].value))
    ):
        return [Side(zeros=True, sources=frozenset(["<shape>"]))]
    sources = frozenset().union(*(s.sources for s in present))
    bounds = [s for s in sides[1:] if s is not None]
    if (
        node.op_type == "Slice"
        and all(s.value is not None for s in bounds)
        and present[0].value is None
    ):
        starts, ends = ints(walk, node, label, "starts", 1), ints(walk, node, label, "ends", 2)
        axes = ints(walk, node, label, "axes", 3) or [0]
        if axes == [0] and len(starts) == 1 and (ints(walk, node, label, "steps", 4) or [1]) == [1]:
            return [Side(sources=sources, rows=(starts[0], ends[0]))]
    if node.op_type in ("Identity", "Cast") and present[0].rows is None:
        return [Side(sources=sources, zeros=present[0].zeros, value=None)] * len(node.output)
    return [Side(sources=sources | {f"<{node.op_type}>"})] * len(node.output)
