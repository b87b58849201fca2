"""gn.onnx.export: a gatednp layer or course model as a graph of ONNX LSTM/GRU/RNN nodes.

One node per layer (both directions in it), in layout 0 (time-major: onnxruntime 1.32 refuses
layout=1), with Transpose nodes around the stack for batch_first. Between layers, ONNX's
Y (T, D, B, H) becomes torch's (T, B, D·H): Squeeze the D axis (D = 1) or Transpose to
(T, B, D, H) and Reshape (D = 2). The final states are the layers' Y_h / Y_c concatenated,
(D·num_layers, B, H) as torch's. A course model's head is Gather(last step) + Gemm, or MatMul +
Add on every step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..atomic import write_atomic
from ..gates import convert_gates
from ..linear import Linear
from ..module import Module
from ..recurrent import RNNBase
from .schema import (
    IR_VERSION,
    OPS,
    OPSET,
    UnsupportedError,
    onnx_dtype,
    require_onnx,
    to_onnx_activations,
)

if TYPE_CHECKING:  # the optional extra: imported only when export runs
    import onnx

__all__ = ["export", "node_attributes", "onnx_weights"]


def export(
    model: Module,
    path: str | os.PathLike | None = None,
    *,
    lengths: bool = False,
    initial_state: bool = False,
    opset: int = OPSET,
) -> onnx.ModelProto:
    """The ONNX model of a gatednp layer or course model; written atomically to `path` if given.

    Args:
        model: a gn.LSTM / gn.GRU / gn.RNN, or a course model (gn.LSTMModel, gn.GRUModel, any
            SequenceModel: a layer with a Linear head `fc` on its last step or every step).
        path: where to write the .onnx file (the old file or the new one, never a mix).
        lengths: add the graph input "lengths" (B,) int32, the operators' sequence_lens
            (a layer only).
        initial_state: add the graph inputs "h0" (and "c0" for an LSTM), (D·num_layers, B, H)
            as torch's (a layer only).
        opset: the ai.onnx opset to declare (>= 14, where the operators took their last form).

    Returns:
        The onnx.ModelProto. A layer's graph maps x (T, B, I) or (B, T, I) with batch_first to
        "y", "h_n" (and "c_n"), torch's shapes; a course model's maps "x" to "y", the prediction.
    """
    onnx = require_onnx()
    if opset < 14:
        raise ValueError(f"opset must be >= 14 (layout and the current LSTM/GRU/RNN), got {opset}")
    head: Linear | None = None
    per_step = False
    if isinstance(model, RNNBase):
        layer = model
    elif isinstance(getattr(model, "rnn", None), RNNBase) and isinstance(
        getattr(model, "fc", None), Linear
    ):
        layer, head, per_step = model.rnn, model.fc, bool(getattr(model, "per_step", False))
        if lengths or initial_state:
            raise ValueError(
                f"a {type(model).__name__} takes x alone: lengths and initial_state are options "
                "of a layer's export"
            )
    else:
        raise TypeError(
            "gn.onnx.export takes a gn.LSTM, gn.GRU or gn.RNN, or a course model (a layer `rnn` "
            f"and a Linear head `fc`), got {type(model).__name__}"
        )
    g = Graph(onnx_dtype(layer.dtype))
    y, finals = build_layer(g, layer, lengths=lengths, initial_state=initial_state)
    if head is not None:
        build_head(g, layer, head, per_step, y)
    else:
        D, L, H = layer.num_directions, layer.num_layers, layer.hidden_size
        if layer.batch_first:
            g.node("Transpose", [y], ["y"], "Transpose_y", perm=[1, 0, 2])
        else:
            g.node("Identity", [y], ["y"], "Identity_y")
        dims = ["B", "T"] if layer.batch_first else ["T", "B"]
        g.outputs.append(g.value("y", [*dims, D * H]))
        for s, names in finals.items():
            g.node("Concat", names, [f"{s}_n"], f"Concat_{s}_n", axis=0)
            g.outputs.append(g.value(f"{s}_n", [D * L, "B", H]))
    graph = onnx.helper.make_graph(
        g.nodes, f"gatednp_{type(model).__name__}", g.inputs, g.outputs, g.initializers
    )
    proto = onnx.helper.make_model(
        graph, opset_imports=[onnx.helper.make_opsetid("", opset)], producer_name="gatednp"
    )
    proto.ir_version = IR_VERSION
    onnx.checker.check_model(proto)
    if path is not None:
        data = proto.SerializeToString()
        write_atomic(os.fspath(path), lambda f: f.write(data))
    return proto


@dataclass
class Graph:
    """The nodes, initializers, inputs and outputs of the graph being built."""

    elem: int  # the TensorProto type of the layer's floats
    nodes: list = field(default_factory=list)
    initializers: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)

    def const(self, name: str, value) -> str:
        self.initializers.append(require_onnx().numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str], name: str, **attrs) -> None:
        self.nodes.append(require_onnx().helper.make_node(op, inputs, outputs, name=name, **attrs))

    def value(self, name: str, shape: list, elem: int | None = None):
        return require_onnx().helper.make_tensor_value_info(name, elem or self.elem, shape)


def build_layer(
    g: Graph, layer: RNNBase, *, lengths: bool, initial_state: bool
) -> tuple[str, dict[str, list[str]]]:
    """The nodes of the recurrent stack from the graph input "x": the name of its time-major
    output (T, B, D·H) and, per state, the names of the layers' final states (D, B, H)."""
    op, L, D = OPS[layer.kind.name], layer.num_layers, layer.num_directions
    H, I = layer.hidden_size, layer.input_size
    attrs = node_attributes(layer)
    states = ("h", "c")[: len(layer.kind.state)]
    g.inputs.append(g.value("x", ["B", "T", I] if layer.batch_first else ["T", "B", I]))
    x = "x"
    if layer.batch_first:
        g.node("Transpose", ["x"], ["x_tm"], "Transpose_x", perm=[1, 0, 2])
        x = "x_tm"
    if lengths:
        g.inputs.append(g.value("lengths", ["B"], require_onnx().TensorProto.INT32))
    for s in states if initial_state else ():
        g.inputs.append(g.value(f"{s}0", [D * L, "B", H]))
    finals: dict[str, list[str]] = {s: [] for s in states}
    empty = empty_mask(g, x, lengths) if initial_state else None
    for l in range(L):
        weights = onnx_weights(layer, l)
        inputs = [x, g.const(f"W_{l}", weights["W"]), g.const(f"R_{l}", weights["R"])]
        inputs.append(g.const(f"B_{l}", weights["B"]) if "B" in weights else "")
        inputs.append("lengths" if lengths else "")
        initials = {}  # state -> this layer's initial state, when given
        for s in states:
            if not initial_state:
                inputs.append("")
            elif L == 1:
                inputs.append(initials.setdefault(s, f"{s}0"))
            else:  # this layer's rows of the (D·L, B, H) state
                bounds = [g.const(f"{s}0_{l}_{e}", np.array([v], np.int64)) for e, v in
                          (("start", l * D), ("end", (l + 1) * D), ("axis", 0))]  # fmt: skip
                g.node("Slice", [f"{s}0", *bounds], [f"{s}0_{l}"], f"Slice_{s}0_{l}")
                inputs.append(initials.setdefault(s, f"{s}0_{l}"))
        if "P" in weights:
            inputs.append(g.const(f"P_{l}", weights["P"]))
        while inputs[-1] == "":
            inputs.pop()
        outs = [f"Y_{l}", *(f"Y_{s}_{l}" for s in states)]
        g.node(op, inputs, outs, f"{op}_{l}", hidden_size=H, **attrs)
        for s in states:
            if empty is None:
                finals[s].append(f"Y_{s}_{l}")
            else:  # an empty sequence keeps its initial state (onnxruntime would give zeros)
                g.node(
                    "Where", [empty, initials[s], f"Y_{s}_{l}"], [f"{s}_n_{l}"], f"Where_{s}_{l}"
                )
                finals[s].append(f"{s}_n_{l}")
        x = f"y_{l}"  # (T, B, D·H)
        if D == 1:
            g.node(
                "Squeeze",
                [f"Y_{l}", g.const(f"axes_{l}", np.array([1], np.int64))],
                [x],
                f"Squeeze_{l}",
            )
        else:
            g.node("Transpose", [f"Y_{l}"], [f"Y_{l}_tbdh"], f"Transpose_{l}", perm=[0, 2, 1, 3])
            shape = g.const(f"shape_{l}", np.array([0, 0, D * H], np.int64))  # -1 fails at T = 0
            g.node("Reshape", [f"Y_{l}_tbdh", shape], [x], f"Reshape_{l}")
    return x, finals


def empty_mask(g: Graph, x_tm: str, lengths: bool) -> str:
    """A bool that broadcasts over (D, B, H): which sequences are empty. gatednp keeps the
    initial state of a zero-length sequence (lengths 0, or T = 0), as ONNX's reading of it;
    onnxruntime's kernels return zeros there instead, so the graph says it itself."""
    zero = g.const("zero", np.array(0, np.int32 if lengths else np.int64))
    if lengths:  # (B,) -> (1, B, 1)
        g.node("Equal", ["lengths", zero], ["empty_b"], "Equal_empty")
        g.node(
            "Unsqueeze",
            ["empty_b", g.const("axes_0_2", np.array([0, 2], np.int64))],
            ["empty"],
            "Unsqueeze_empty",
        )
    else:  # T = 0: a scalar
        g.node("Shape", [x_tm], ["x_shape"], "Shape_x")
        g.node(
            "Gather",
            ["x_shape", g.const("time_axis", np.array(0, np.int64))],
            ["T"],
            "Gather_T",
            axis=0,
        )
        g.node("Equal", ["T", zero], ["empty"], "Equal_empty")
    return "empty"


def build_head(g: Graph, layer: RNNBase, fc: Linear, per_step: bool, y_tm: str) -> None:
    """The course model's head on the stack's time-major output `y_tm`: the prediction "y"."""
    W, b = fc.weight.data, None if fc.bias is None else fc.bias.data
    if per_step:
        y = y_tm
        if layer.batch_first:
            g.node("Transpose", [y_tm], ["y_bt"], "Transpose_y", perm=[1, 0, 2])
            y = "y_bt"
        out = "y" if b is None else "y_nobias"
        g.node("MatMul", [y, g.const("fc_weight_t", np.ascontiguousarray(W.T))], [out], "MatMul_fc")
        if b is not None:
            g.node("Add", [out, g.const("fc_bias", b)], ["y"], "Add_fc")
        dims = ["B", "T"] if layer.batch_first else ["T", "B"]
        g.outputs.append(g.value("y", [*dims, fc.out_features]))
        return
    g.node(
        "Gather", [y_tm, g.const("last", np.array(-1, np.int64))], ["y_last"], "Gather_last", axis=0
    )
    inputs = ["y_last", g.const("fc_weight", W)] + (
        [g.const("fc_bias", b)] if b is not None else []
    )
    g.node("Gemm", inputs, ["y"], "Gemm_fc", transB=1)
    g.outputs.append(g.value("y", ["B", fc.out_features]))


def node_attributes(layer: RNNBase) -> dict:
    """The ONNX attributes of the layer's nodes (hidden_size apart); UnsupportedError for what
    the operators cannot express (proj_size, forget_gate="none", input/output_gate="none")."""
    op, D = OPS[layer.kind.name], layer.num_directions
    options = dict(layer.cell_options)
    if layer.proj_size:
        raise UnsupportedError(
            f"proj_size={layer.proj_size} has no ONNX equivalent: the LSTM operator has no "
            "projection (export an LSTM with proj_size=0)"
        )
    for gate in ("forget_gate", "input_gate", "output_gate"):
        if options.get(gate, "gate") == "none":
            hint = ' (forget_gate="coupled" is input_forget=1)' if gate == "forget_gate" else ""
            raise UnsupportedError(
                f'{gate}="none" has no ONNX equivalent: the LSTM operator always has this gate{hint}'
            )
    attrs: dict = {}
    reverse = bool(getattr(layer, "reverse", False))
    if D == 2:
        attrs["direction"] = "bidirectional"
    elif reverse:
        attrs["direction"] = "reverse"
    if options.get("forget_gate") == "coupled":
        attrs["input_forget"] = 1
    if op == "GRU":
        attrs["linear_before_reset"] = int(options["reset_after"])
    activations = options.get("activations")
    if activations is None and op == "RNN" and options["nonlinearity"] != "tanh":
        activations = (options["nonlinearity"],)
    if activations is not None:
        names, alpha, beta = to_onnx_activations(
            activations, options.get("activation_alpha"), options.get("activation_beta")
        )
        attrs["activations"] = names * D  # one set per direction, the same
        if alpha:
            attrs["activation_alpha"] = alpha * D
        if beta:
            attrs["activation_beta"] = beta * D
    if options.get("clip") is not None:
        attrs["clip"] = float(options["clip"])
    return attrs


def onnx_weights(layer: RNNBase, l: int) -> dict[str, np.ndarray]:
    """Layer l's W (D, G·H, I), R (D, G·H, H), B (D, 2·G·H) and P (D, 3H) in ONNX's gate orders.

    A coupled LSTM (f = 1 − i) has no forget rows: they are written as the input gate's rows
    negated, so that σ(−a) = 1 − σ(a) gives f = 1 − i both in runtimes that honour input_forget=1
    (onnxruntime ignores the forget rows) and in those that ignore it (onnx.reference)."""
    cell = layer.kind.name
    gates = layer.kind.gate_names(**layer.cell_options)
    out: dict[str, list[np.ndarray]] = {}
    for suffix in ("", "_reverse")[: layer.num_directions]:
        p = {name: getattr(layer, f"{name}_l{l}{suffix}").data for name in
             ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if hasattr(layer, f"{name}_l{l}{suffix}")}  # fmt: skip

        def onnx_order(w: np.ndarray) -> np.ndarray:
            if cell == "lstm" and "f" not in gates:  # coupled: f = σ(−a_i) = 1 − i
                blocks = dict(zip(gates, np.split(w, len(gates))))
                w = np.concatenate([blocks["i"], -blocks["i"], blocks["g"], blocks["o"]])
            return convert_gates(w, "torch", "onnx", cell=cell)

        out.setdefault("W", []).append(onnx_order(p["weight_ih"]))
        out.setdefault("R", []).append(onnx_order(p["weight_hh"]))
        if "bias_ih" in p:
            out.setdefault("B", []).append(
                np.concatenate([onnx_order(p["bias_ih"]), onnx_order(p["bias_hh"])])
            )
        if getattr(layer, "peepholes", False):
            peep = {g: getattr(layer, f"weight_c{g}_l{l}{suffix}", None) for g in "ifo"}
            peep = {g: None if v is None else v.data for g, v in peep.items()}
            if peep["f"] is None:
                peep["f"] = -peep["i"]  # coupled, as the forget rows
            out.setdefault("P", []).append(np.concatenate([peep["i"], peep["o"], peep["f"]]))
    return {name: np.ascontiguousarray(np.stack(ws)) for name, ws in out.items()}
