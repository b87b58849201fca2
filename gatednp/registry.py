"""The cell kinds gatednp knows, in one table: what each is made of and how its weights are laid out.

Layers, cells, gate introspection, gradient flow, torch interop and checkpoints all ask this
table (through `layer.kind` / `cell.kind`) instead of guessing from a module's name:

    kind.name          "lstm", "gru" or "rnn"
    kind.math          the cell file: equations and the textbook step (`step`, `step_backward`)
    kind.engine        the fast sequence engine (`forward`, `backward`) proven equal to it
    kind.state         the names of the state tensors: ("h", "c") or ("h",)
    kind.options       the options the step and engine take, with their defaults
    kind.gate_names(**options), kind.layout(...)     the gate blocks and the parameter shapes
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from . import gru, lstm, rnn
from .activations import check_activations, check_clip
from .engine import gru as gru_engine
from .engine import lstm as lstm_engine
from .engine import rnn as rnn_engine
from .module import Parameter, init_uniform

__all__ = ["CellKind", "KINDS", "LSTM_KIND", "GRU_KIND", "RNN_KIND", "check_lstm_extras"]


@dataclass(frozen=True)
class CellKind:
    """One kind of recurrent cell: its math, its engine, its state and its parameter layout."""

    name: str
    math: ModuleType
    engine: ModuleType
    state: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)
    torch_options: frozenset[str] = frozenset()  # the options torch's own cell has too

    def variant(self, options: dict[str, Any]) -> dict[str, Any]:
        """The options that make a cell torch does not have: set away from their defaults."""
        return {
            k: v for k, v in options.items() if v != self.options[k] and k not in self.torch_options
        }

    def check_options(self, **options: Any) -> dict[str, Any]:
        """Every option of this kind, the given ones checked and the others at their defaults;
        the activations in their kept form (activations.check_activations)."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise TypeError(
                f"{self.name} has no option {unknown[0]!r}; it has {list(self.options)}"
            )
        full = {**self.options, **options}
        for name, value in full.items():
            choices = CHOICES.get(name)
            if choices is None:
                continue
            if not isinstance(value, type(self.options[name])):
                raise TypeError(
                    f"{name} must be {' or '.join(map(repr, choices))}, got {type(value).__name__}"
                )
            if value not in choices:
                raise ValueError(
                    f"Unknown {name} {value!r}. Select from {' or '.join(map(repr, choices))}."
                )
        full.update(self._activations(full), clip=check_clip(full["clip"]))
        self.math.check_options(**full)
        return full

    def _activations(self, full: dict[str, Any]) -> dict[str, Any]:
        """activations, activation_alpha, activation_beta checked against the cell's defaults;
        the RNN's single activation is its nonlinearity when that is tanh or relu."""
        rnn_kind = "nonlinearity" in full
        defaults = (full["nonlinearity"],) if rnn_kind else self.math.ACTIVATIONS
        if rnn_kind and full["activations"] is not None and full["nonlinearity"] != "tanh":
            raise ValueError(
                "give the RNN's function either as nonlinearity or as activations, not both: "
                f"got nonlinearity={full['nonlinearity']!r}, activations={full['activations']!r}"
            )
        acts, alpha, beta = check_activations(
            full["activations"], full["activation_alpha"], full["activation_beta"], defaults,
            self.math.ACTIVATION_ROLES,
        )  # fmt: skip
        if rnn_kind and acts in (("tanh",), ("relu",)) and alpha is beta is None:
            return {"nonlinearity": acts[0], "activations": None}
        return {"activations": acts, "activation_alpha": alpha, "activation_beta": beta}

    def gate_names(self, **options: Any) -> tuple[str, ...]:
        """The gate blocks of the fused weights, in order (empty for the RNN)."""
        return self.math.gate_names(**{k: v for k, v in options.items() if k in self.options})

    def layout(
        self,
        input_size: int,
        hidden_size: int,
        *,
        bias: bool = True,
        proj_size: int = 0,
        peepholes: bool = False,
        **options: Any,
    ) -> dict[str, tuple[int, ...]]:
        """Parameter names (torch's, without the layer suffix) and shapes, in torch's order;
        the peepholes (H,) after them, for the gates that have one."""
        gates = self.gate_names(**options)
        G, H = max(len(gates), 1), hidden_size
        shapes = {"weight_ih": (G * H, input_size), "weight_hh": (G * H, proj_size or H)}
        if bias:
            shapes.update(bias_ih=(G * H,), bias_hh=(G * H,))
        if proj_size:
            shapes["weight_hr"] = (proj_size, H)
        if peepholes:
            shapes.update({f"weight_c{g}": (H,) for g in ("i", "f", "o") if g in gates})
        return shapes

    def make_parameters(
        self,
        rng: np.random.Generator,
        dtype: np.dtype,
        input_size: int,
        hidden_size: int,
        *,
        forget_bias: float | None = None,
        **layout: Any,
    ) -> dict[str, Parameter]:
        """New parameters of `layout(input_size, hidden_size, **layout)`, each drawn from
        torch's U(−1/√H, 1/√H) in torch's order; with `forget_bias` (an LSTM with a forget gate
        and biases) the forget gate's total bias starts there: b_if = forget_bias, b_hf = 0."""
        bound = 1.0 / np.sqrt(hidden_size)
        shapes = self.layout(input_size, hidden_size, **layout)
        params = {name: init_uniform(rng, shape, bound, dtype) for name, shape in shapes.items()}
        if forget_bias is not None:
            k = self.gate_names(**layout).index("f")  # [i|f|g|o] or [f|g|o]: the f block
            f = slice(k * hidden_size, (k + 1) * hidden_size)
            params["bias_ih"].data[f] = forget_bias
            params["bias_hh"].data[f] = 0.0
        return params


def check_lstm_extras(
    peepholes: bool, forget_bias: float | None, bias: bool, options: dict[str, Any]
) -> float | None:
    """The LSTM's layout and initialisation options: peepholes a bool; forget_bias None or a
    number, which needs biases and a forget gate of its own. Returns forget_bias as a float."""
    if not isinstance(peepholes, bool):
        raise TypeError(f"peepholes must be True or False, got {type(peepholes).__name__}")
    if forget_bias is None:
        return None
    if isinstance(forget_bias, bool) or not isinstance(forget_bias, (int, float, np.number)):
        raise TypeError(f"forget_bias must be a number or None, got {type(forget_bias).__name__}")
    if not np.isfinite(forget_bias):
        raise ValueError(f"forget_bias must be finite, got {forget_bias}")
    forget_gate = options.get("forget_gate")
    if not bias or forget_gate != "gate":
        raise ValueError(
            "forget_bias needs biases (bias=True) and a forget gate of its own "
            f"(forget_gate='gate'), got bias={bias}, forget_gate={forget_gate!r}"
        )
    return float(forget_bias)


CHOICES = {
    "forget_gate": lstm.FORGET_GATES,
    "input_gate": lstm.GATE_CHOICES,
    "output_gate": lstm.GATE_CHOICES,
    "reset_after": (True, False),
    "nonlinearity": rnn.NONLINEARITIES,
}
ONNX_OPTIONS = {
    "activations": None,
    "activation_alpha": None,
    "activation_beta": None,
    "clip": None,
}
LSTM_KIND = CellKind(
    "lstm", lstm, lstm_engine, ("h", "c"),
    {"forget_gate": "gate", "input_gate": "gate", "output_gate": "gate", **ONNX_OPTIONS},
)  # fmt: skip
GRU_KIND = CellKind("gru", gru, gru_engine, ("h",), {"reset_after": True, **ONNX_OPTIONS})
RNN_KIND = CellKind(
    "rnn", rnn, rnn_engine, ("h",), {"nonlinearity": "tanh", **ONNX_OPTIONS},
    frozenset({"nonlinearity"}),
)  # fmt: skip
KINDS = {kind.name: kind for kind in (LSTM_KIND, GRU_KIND, RNN_KIND)}
