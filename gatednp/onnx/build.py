"""From the recurrent nodes the reader found to a gatednp layer: attributes to options, weights
from ONNX's gate orders (gn.convert_gates) to torch's names, and the checks that the nodes stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..gates import convert_gates
from ..module import MODULE_CLASSES, Module
from .schema import (
    DEFAULT_ACTIVATIONS,
    GATES,
    LAYERS,
    UnsupportedError,
    attributes,
    from_onnx_activations,
)

__all__ = ["RecurrentNode", "build_model", "node_label"]

KNOWN = {
    "activation_alpha", "activation_beta", "activations", "clip", "direction", "hidden_size",
    "layout", "input_forget", "linear_before_reset",
}  # fmt: skip
INPUTS = ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P")


def node_label(node, index: int | None = None) -> str:
    """How errors name a node: 'LSTM_0', or '#3 (LSTM)' when it has no name."""
    return repr(node.name) if node.name else f"#{index} ({node.op_type})"


@dataclass
class RecurrentNode:
    """One LSTM/GRU/RNN node, read and checked."""

    label: str
    op: str
    layout: int
    directions: int
    hidden_size: int
    options: dict  # gatednp keywords: forget_gate, reset_after, nonlinearity, peepholes, ...
    arrays: dict  # W, R and the B and P given
    x_axes: str
    x_layer: int
    lengths: str | None  # the graph input giving sequence_lens
    states: dict = field(default_factory=dict)  # "h"/"c": (graph input, rows or None)

    @classmethod
    def read(cls, node, label: str, x, sides: dict) -> RecurrentNode:
        op, attrs = node.op_type, attributes(node)
        for name, value in attrs.items():
            if (
                name not in KNOWN
                or (name == "input_forget" and op != "LSTM")
                or (name == "linear_before_reset" and op != "GRU")
            ):
                raise UnsupportedError(
                    f"node {label}: attribute {name}={value!r} is not one of the {op} operator's"
                )
        if x is None:
            raise UnsupportedError(
                f"node {label}: its input X does not derive from the graph's data input"
            )
        arrays, lengths, states = {}, None, {}
        for position, name in enumerate(node.input):
            role = INPUTS[position]
            if not name or role == "X":
                continue
            side = sides.get(name)
            if role in ("W", "R", "B", "P"):
                if side is None or side.value is None:
                    hint = (
                        f": pass its value in weights={{{name!r}: array}}"
                        if side and side.sources == {name}
                        else ""
                    )
                    raise UnsupportedError(
                        f"node {label}: input {role} ({name!r}) is not a constant{hint}"
                    )
                arrays[role] = np.asarray(side.value)
            elif (
                role != "sequence_lens"
                and side is not None
                and (side.zeros or (side.value is not None and not np.any(side.value)))
            ):
                continue  # zero initial states: the default
            elif (
                side is None
                or side.value is not None
                or len(side.sources) != 1
                or "<" in next(iter(side.sources))
            ):
                raise UnsupportedError(
                    f"node {label}: input {role} ({name!r}) must be a graph input (or zeros): gatednp "
                    "takes lengths and initial states when the layer is called"
                )
            elif role == "sequence_lens":
                lengths = next(iter(side.sources))
            else:
                states[role[-1]] = (next(iter(side.sources)), side.rows)
        W = arrays["W"]
        D, H = W.shape[0], arrays["R"].shape[-1]
        if attrs.get("hidden_size", H) != H or W.shape[1] != GATES[op] * H:
            raise UnsupportedError(
                f"node {label}: hidden_size={attrs.get('hidden_size')} does not fit W {W.shape} and R {arrays['R'].shape}"
            )
        direction = attrs.get("direction", "forward")
        if (direction == "bidirectional") != (D == 2):
            raise UnsupportedError(
                f"node {label}: direction={direction!r} with W of {D} directions"
            )
        options = cell_options(op, attrs, label, D, arrays)
        if direction == "reverse":
            options["reverse"] = True
        return cls(
            label,
            op,
            int(attrs.get("layout", 0)),
            D,
            H,
            options,
            arrays,
            x.axes,
            x.layer,
            lengths,
            states,
        )

    def parameters(self, layer: int) -> dict[str, np.ndarray]:
        """This node's parameters under torch's names for layer `layer` of the stack."""
        cell, G, H = self.op.lower(), GATES[self.op], self.hidden_size
        coupled = self.options.get("forget_gate") == "coupled"

        def torch_order(w: np.ndarray) -> np.ndarray:
            w = convert_gates(w, "onnx", "torch", cell=cell)
            if coupled:  # f = 1 − i: the forget rows are not used
                i, _, g, o = np.split(w, 4)
                w = np.concatenate([i, g, o])
            return w

        out = {}
        for d, suffix in enumerate(("", "_reverse")[: self.directions]):
            out[f"weight_ih_l{layer}{suffix}"] = torch_order(self.arrays["W"][d])
            out[f"weight_hh_l{layer}{suffix}"] = torch_order(self.arrays["R"][d])
            if "B" in self.arrays:
                b = self.arrays["B"][d]
                out[f"bias_ih_l{layer}{suffix}"] = torch_order(b[: G * H])
                out[f"bias_hh_l{layer}{suffix}"] = torch_order(b[G * H :])
            if self.options.get("peepholes"):
                p = self.arrays.get("P", np.zeros((self.directions, 3 * H)))[d]
                peep = dict(zip("iof", np.split(p, 3)))
                for g in "ifo" if not coupled else "io":
                    out[f"weight_c{g}_l{layer}{suffix}"] = peep[g]
        return out


def cell_options(op: str, attrs: dict, label: str, D: int, arrays: dict) -> dict:
    """gatednp's keywords for a node's attributes; activations etc. must agree per direction."""
    options: dict = {}
    if op == "LSTM":
        options["forget_gate"] = "coupled" if attrs.get("input_forget", 0) else "gate"
        options["peepholes"] = "P" in arrays and bool(np.any(arrays["P"]))
    if op == "GRU":
        options["reset_after"] = bool(attrs.get("linear_before_reset", 0))
    if "activations" in attrs:  # α and β without them would go to σ and tanh, which take none
        keys, alpha, beta = from_onnx_activations(
            attrs["activations"], attrs.get("activation_alpha", []),
            attrs.get("activation_beta", []), label,
        )  # fmt: skip
        k = len(keys) // D
        for name, values in (
            ("activations", keys),
            ("activation_alpha", alpha),
            ("activation_beta", beta),
        ):
            if values[:k] != values[k:] and D == 2:
                raise UnsupportedError(
                    f"node {label}: attribute {name}={attrs.get(name)!r} differs between the two "
                    "directions; gatednp uses one set for both"
                )
        keys, alpha, beta = tuple(keys[:k]), tuple(alpha[:k]), tuple(beta[:k])
        plain = all(v is None for v in alpha + beta)
        if op == "RNN" and plain and keys in (("tanh",), ("relu",)):
            options["nonlinearity"] = keys[0]
        elif not (plain and keys == DEFAULT_ACTIVATIONS[op]):
            options["activations"] = keys
            options["activation_alpha"] = None if all(a is None for a in alpha) else alpha
            options["activation_beta"] = None if all(b is None for b in beta) else beta
    if "clip" in attrs:
        options["clip"] = float(attrs["clip"])
    return options


def build_model(nodes: list[RecurrentNode], head: dict, flows: list, names: list[str]) -> Module:
    """The gatednp module the checked nodes make: one layer with num_layers, maybe a head."""
    first, last = nodes[0], nodes[-1]
    for k, node in enumerate(nodes):
        for what in ("op", "directions", "hidden_size", "options", "lengths"):
            if getattr(node, what) != getattr(first, what):
                raise UnsupportedError(
                    f"node {node.label}: its {what} {getattr(node, what)!r} differs from node "
                    f"{first.label}'s {getattr(first, what)!r}; a gatednp stack shares them"
                )
        if ("B" in node.arrays) != ("B" in first.arrays):
            raise UnsupportedError(
                f"node {node.label}: has a bias B and node {first.label} not, or back"
            )
        expected = "BTF" if node.layout else "TBF"
        if node.x_layer != k - 1 or (k > 0 and node.x_axes != expected):
            raise UnsupportedError(
                f"node {node.label}: its X must be the previous layer's Y as (T, B, D·H) "
                f"(layout {node.layout}), got axes {tuple(node.x_axes)} from node #{node.x_layer}"
            )
        for s, (source, rows) in node.states.items():
            D = node.directions
            if len(nodes) > 1 and rows != (k * D, (k + 1) * D):
                raise UnsupportedError(
                    f"node {node.label}: initial_{s} must be rows {k * D}:{(k + 1) * D} of one "
                    f"graph input (D·num_layers, B, H), torch's state, got {source!r} rows {rows}"
                )
    batch_first = first.x_axes != ("BTF" if first.layout else "TBF")
    if first.x_axes not in ("TBF", "BTF"):
        raise UnsupportedError(
            f"node {first.label}: its X has axes {tuple(first.x_axes)}, not (T, B, I)"
        )
    for flow, name in zip(flows, names):
        if flow is not None and flow.part in "hc" and flow.layers != len(nodes):
            raise UnsupportedError(
                f"graph output {name!r} holds the final {flow.part} of {flow.layers} of the "
                f"{len(nodes)} layers; a gatednp layer returns all of them, stacked"
            )
        if flow is None or flow.part != "y":
            continue  # a side value, the final states or the head's prediction
        if flow.layer != len(nodes) - 1 or "T" not in flow.axes:
            raise UnsupportedError(
                f"graph output {name!r} (axes {tuple(flow.axes)} of node #{flow.layer}) is not "
                "what a gatednp layer returns: the last layer's y at every step, h_n, c_n"
            )
        if (flow.axes.index("T") > flow.axes.index("B")) != batch_first:
            raise UnsupportedError(
                f"graph output {name!r} has axes {tuple(flow.axes)}, but the input is "
                f"{'batch' if batch_first else 'time'}-major: gatednp's batch_first is one flag"
            )
    op, I = first.op, first.arrays["W"].shape[-1]
    dtype = first.arrays["W"].dtype
    if dtype not in (np.float32, np.float64):
        raise UnsupportedError(
            f"node {first.label}: W is {dtype}; gatednp runs float32 and float64"
        )
    options = dict(first.options)
    layer_args = dict(num_layers=len(nodes), bias="B" in first.arrays, batch_first=batch_first,
                      bidirectional=first.directions == 2, dtype=dtype, **options)  # fmt: skip
    layer = LAYERS[op](I, first.hidden_size, **layer_args)
    state = {}
    for k, node in enumerate(nodes):
        state.update(node.parameters(k))
    layer.load_state_dict({k: v.astype(dtype) for k, v in state.items()})
    if not head:
        return layer
    return course_model(layer, head, nodes, batch_first, last)


def course_model(layer, head: dict, nodes, batch_first: bool, last) -> Module:
    """A course model around `layer` with the head's weights."""
    if head.get("per_step") and head["batch_first"] != batch_first:
        raise UnsupportedError("the head's input is not in the order of the graph's input")
    if any(n.lengths or n.states for n in nodes):
        raise UnsupportedError(
            f"node {last.label}: a course model takes x alone, not sequence_lens or initial states"
        )
    W = head["weight"].astype(layer.dtype)
    b = head.get("bias", np.zeros(W.shape[0])).astype(layer.dtype)
    if W.shape[1] != layer.hidden_size * layer.num_directions:
        raise UnsupportedError(f"the head's weight {W.shape} does not fit the layer's output")
    plain = (len(nodes) == 1 and layer.num_directions == 1 and batch_first and not head["per_step"]
             and not layer.variant and not getattr(layer, "peepholes", False)
             and layer.bias and last.op in ("LSTM", "GRU"))  # fmt: skip
    # the course's classes live in the lab, which registers them (as checkpoints find them)
    if plain:
        cls = MODULE_CLASSES[f"{last.op}Model"]
        model = cls(layer.input_size, layer.hidden_size, W.shape[0], dtype=layer.dtype)
        model.rnn.load_state_dict(layer.state_dict())
    else:
        model = MODULE_CLASSES["SequenceModel"](layer, W.shape[0], per_step=head["per_step"])
    model.fc.weight.data[...] = W
    model.fc.bias.data[...] = b
    return model
