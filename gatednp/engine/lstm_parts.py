"""The LSTM engine's parts that its forward and backward share: the cache between them, the
named views of the gate axis, the activations and the peepholes of a layer (engine/lstm.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..activations import Activation, activation_functions, lstm_block_scale
from ..lstm import ACTIVATIONS, gate_names
from ..module import Weights

__all__ = ["LSTMCache", "split_gates", "cell_activations", "peephole_arrays", "folded_scale"]


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


def folded_scale(w: Weights, options: dict, rows: int) -> np.ndarray | None:
    """The ½ of the one-tanh activation of [i|f|g|o] (activations.lstm_block) on the i, f, o
    rows, for the forward to fold into W_ih, W_hh and the bias (exactly: a power of two), which
    saves one call a step (0.88-0.99× the time from T·B = 500 up); None where it cannot (other
    activations, clip, peepholes, missing gates, no SIMD tanh) or where the steps (`rows` =
    T·B) do not outweigh the weight copies (measured 1.01-1.05× at T·B = 40, I + H = 51)."""
    GH, P = w.weight_hh.data.shape
    if rows < 2 * (w.weight_ih.data.shape[1] + P):  # the cheapest test first: small calls
        return None
    σ, φ, _ = cell_activations(options)
    if σ.name != "sigmoid" or φ.name != "tanh" or options.get("clip") is not None:
        return None
    if len(gate_names(**options)) != 4 or peephole_arrays(w) is not None:
        return None
    return lstm_block_scale(GH // 4, w.weight_hh.data.dtype.type)
