"""Hypothesis strategies for testing recurrent code: valid configurations, inputs, lengths, states.

For people who test their own LSTM/GRU/RNN (and for gatednp's own tests). Needs Hypothesis
(`pip install gatednp[test]`); importing gatednp itself does not.

    from hypothesis import given
    from gatednp.testing import layer_cases

    @given(layer_cases())
    def test_my_layer(case):
        layer = case.build()                        # a float64 gn.LSTM / GRU / RNN, random weights
        y, state = layer(case.x, case.state, lengths=case.lengths)

Every draw is valid: proj_size < hidden_size, the gate options only for the LSTM,
lengths in 1..T with the longest equal to T (as torch's packing expects), states shaped
(num_layers·D, B, ·), weights from U(−0.6, 0.6) so that biases are nonzero and differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

from .recurrent import GRU, LSTM, RNN, RNNBase

__all__ = ["cell_options", "layer_configs", "lengths", "layer_cases", "LayerCase", "step_cases"]

LAYERS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


@st.composite
def cell_options(draw, kind: str) -> dict[str, Any]:
    """The cell's options and layout flags for `kind`: forget_gate, input_gate, output_gate,
    peepholes (LSTM), reset_after (GRU), nonlinearity (RNN), bias, and now and then ONNX's
    activations (smooth ones, so that finite differences stay fair) and a clip."""
    options: dict[str, Any] = {"bias": draw(st.booleans())}
    if kind == "lstm":
        options["forget_gate"] = draw(st.sampled_from(["gate", "coupled", "none"]))
        options["peepholes"] = draw(st.booleans())
        if options["forget_gate"] != "coupled":  # f = 1 − i needs an input gate
            options["input_gate"] = draw(st.sampled_from(["gate", "gate", "none"]))
        options["output_gate"] = draw(st.sampled_from(["gate", "gate", "none"]))
    elif kind == "gru":
        options["reset_after"] = draw(st.booleans())
    else:
        options["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    smooth = {
        "lstm": [("sigmoid", "tanh", "identity"), ("sigmoid", "softsign", "softplus")],
        "gru": [("sigmoid", "softsign"), ("sigmoid", "scaledtanh")],
        "rnn": [("softsign",), ("softplus",)],
    }[kind]
    activations = draw(st.sampled_from([None, None, None, *smooth]))
    if activations is not None and options.get("nonlinearity", "tanh") == "tanh":
        options["activations"] = activations
    options["clip"] = draw(st.sampled_from([None, None, None, 2.0]))
    return options


@st.composite
def layer_configs(
    draw, kinds: tuple[str, ...] = ("lstm", "gru", "rnn"), max_size: int = 5
) -> dict[str, Any]:
    """Keyword arguments of a valid gn.LSTM / GRU / RNN: {"kind", "input_size", "hidden_size",
    "num_layers", "bidirectional", and the cell's options}."""
    kind = draw(st.sampled_from(kinds))
    H = draw(st.integers(1, max_size))
    config = {
        "kind": kind,
        "input_size": draw(st.integers(1, max_size)),
        "hidden_size": H,
        "num_layers": draw(st.integers(1, 2)),
        "bidirectional": draw(st.booleans()),
        **draw(cell_options(kind)),
    }
    if kind == "lstm" and H > 1 and draw(st.booleans()):
        config["proj_size"] = draw(st.integers(1, H - 1))
    return config


def lengths(T: int, B: int) -> st.SearchStrategy[list[int]]:
    """B sequence lengths in 1..T, the longest equal to T."""
    return st.lists(st.integers(1, T), min_size=B, max_size=B).map(
        lambda ns: [T, *ns[1:]] if max(ns) < T else ns
    )


@dataclass
class LayerCase:
    """One drawn case: the layer's config, its input (T, B, I), state, lengths, and a seed."""

    config: dict[str, Any]
    x: np.ndarray
    state: Any
    lengths: list[int] | None
    seed: int
    extra: dict[str, Any] = field(default_factory=dict)

    def build(self) -> RNNBase:
        """The float64 layer, every weight from U(−0.6, 0.6) (nonzero, distinct biases)."""
        kwargs = {k: v for k, v in self.config.items() if k != "kind"}
        rng = np.random.default_rng(self.seed)
        layer = LAYERS[self.config["kind"]](**kwargs, dtype=np.float64, rng=rng)
        for _, p in layer.named_parameters():
            p.data[...] = rng.uniform(-0.6, 0.6, p.shape)
        return layer


@st.composite
def layer_cases(
    draw, kinds: tuple[str, ...] = ("lstm", "gru", "rnn"), max_T: int = 6, max_B: int = 3
) -> LayerCase:
    """A layer config with an input x (T, B, I), an initial state or None, lengths or None."""
    config = draw(layer_configs(kinds))
    T, B = draw(st.integers(1, max_T)), draw(st.integers(1, max_B))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((T, B, config["input_size"]))
    D = 2 if config["bidirectional"] else 1
    H, P = config["hidden_size"], config.get("proj_size", 0) or config["hidden_size"]
    sizes = (P, H) if config["kind"] == "lstm" else (H,)
    state = None
    if draw(st.booleans()):
        parts = tuple(rng.standard_normal((config["num_layers"] * D, B, s)) for s in sizes)
        state = parts if len(parts) == 2 else parts[0]
    seq_lengths = draw(st.none() | lengths(T, B))
    return LayerCase(config, x, state, seq_lengths, seed)


@st.composite
def step_cases(draw, kinds: tuple[str, ...] = ("lstm", "gru", "rnn")) -> dict[str, Any]:
    """Keyword arguments of `gn.check_step` (besides the functions): kind, sizes, T, B, seed,
    the cell's options and the LSTM's peepholes / proj_size."""
    kind = draw(st.sampled_from(kinds))
    options = draw(cell_options(kind))
    options.pop("bias")
    H = draw(st.integers(1, 5))
    case = {
        "kind": kind,
        "T": draw(st.integers(1, 5)),
        "B": draw(st.integers(1, 3)),
        "input_size": draw(st.integers(1, 4)),
        "hidden_size": H,
        "seed": draw(st.integers(0, 2**16)),
        **options,
    }
    if kind == "lstm" and H > 1 and draw(st.booleans()):
        case["proj_size"] = draw(st.integers(1, H - 1))
    return case
