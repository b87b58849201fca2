"""The LSTM engine's parts that its forward and backward share: the cache between them, the
named views of the gate axis, the activations and the peepholes of a layer (engine/lstm.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..activations import Activation, activation_functions
from ..lstm import ACTIVATIONS, gate_names
from ..module import Weights

__all__ = ["LSTMCache", "split_gates", "cell_activations", "peephole_arrays"]


@dataclass
class LSTMCache:
    """What backward needs from forward: inputs, states and post-activation gates."""

    w: Weights
    x: np.ndarray  # (T, B, I)
    h: np.ndarray  # (T+1, B, P): h_0 at the start of the direction, then each h_t
    c: np.ndarray  # (T+1, B, H): likewise
    gates: np.ndarray  # (T, B, G·H): [i|f|g|o] (or [i|g|o]) after σ / tanh
    tanh_c: np.ndarray  # (T, B, H)
    m: np.ndarray | None  # (T, B, H): o ⊙ tanh(c), kept only with a projection
    reverse: bool
    batch_sizes: np.ndarray | None
    options: dict  # the cell's options (lstm.py): forget_gate, input_gate, output_gate, ...
    kept: np.ndarray | None = None  # (T, B, G·H) with clip: where each gate's input was inside

    def activations(self) -> dict[str, np.ndarray]:
        """Each gate and the states c, h at every step, (T, B, ·) in the loop's time order
        (the gates that are not gates of their own too: f = 1 − i or 1, i = 1, o = 1). Read
        before backward, which overwrites."""
        named = split_gates(self.gates, self.options)
        one = np.ones_like(self.tanh_c)
        named.setdefault("i", one)
        named.setdefault("o", one)
        if "f" not in named:
            named["f"] = 1 - named["i"] if self.options["forget_gate"] == "coupled" else one
        steps = slice(0, -1) if self.reverse else slice(1, None)
        return {k: named[k] for k in "ifgo"} | {"c": self.c[steps], "h": self.h[steps]}


def split_gates(a: np.ndarray, options: dict) -> dict[str, np.ndarray]:
    """Named views of the gate axis: [i|f|g|o] -> i, f, g, o (or [i|g|o] -> i, g, o, ...)."""
    names = gate_names(**options)
    H = a.shape[-1] // len(names)
    return {n: a[..., k * H : (k + 1) * H] for k, n in enumerate(names)}


DEFAULT_ACTIVATIONS = activation_functions(None, None, None, ACTIVATIONS)  # σ, tanh, tanh


def cell_activations(options: dict) -> tuple[Activation, ...]:
    """σ, φ, ψ: the gates', the candidate's and the cell output's activation (lstm.py)."""
    if options.get("activations") is None:
        return DEFAULT_ACTIVATIONS
    return activation_functions(
        options["activations"], options.get("activation_alpha"), options.get("activation_beta"),
        ACTIVATIONS,
    )  # fmt: skip


def peephole_arrays(w: Weights) -> tuple[np.ndarray | None, ...] | None:
    """(p_i, p_f, p_o), None for a gate without one; None without peepholes."""
    if w.weight_ci is None and w.weight_cf is None and w.weight_co is None:
        return None
    return tuple(None if p is None else p.data for p in (w.weight_ci, w.weight_cf, w.weight_co))
