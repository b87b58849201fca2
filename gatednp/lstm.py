"""The LSTM: its equations, and the textbook step (one time step forward and backward).

Shapes: B batch, I input features, H hidden units, P = proj_size (P = H without a projection).
Parameters use torch's fused layout, gate order i, f, g, o:
    weight_ih (4H, I) = [W_ii|W_if|W_ig|W_io]    bias_ih (4H,) = [b_ii|b_if|b_ig|b_io]
    weight_hh (4H, P) = [W_hi|W_hf|W_hg|W_ho]    bias_hh (4H,) = [b_hi|b_hf|b_hg|b_ho]
    weight_hr (P, H)                             only with proj_size > 0
    weight_ci, weight_cf, weight_co (H,)         the peepholes p_i, p_f, p_o, only with peepholes

Forward, one step from (h_prev, c_prev) (torch's equations; p = 0 without peepholes; σ is the
logistic function and φ = ψ = tanh, unless `activations` says otherwise, see below):
    i = σ(W_ii x + b_ii + W_hi h_prev + b_hi + p_i ⊙ c_prev)      input gate
    f = σ(W_if x + b_if + W_hf h_prev + b_hf + p_f ⊙ c_prev)      forget gate
    g = φ(W_ig x + b_ig + W_hg h_prev + b_hg)                     candidate cell
    c = f ⊙ c_prev + i ⊙ g                                        cell state
    o = σ(W_io x + b_io + W_ho h_prev + b_ho + p_o ⊙ c)           output gate
    m = o ⊙ ψ(c)
    h = m                           (h = W_hr m with a projection)

Variants, options of gn.LSTM and gn.LSTMCell (compared in Greff et al. 2017):
    peepholes=True           the gates see the cell: the p terms above (Gers & Schmidhuber 2000)
    forget_gate="coupled"    f = 1 − i (CIFG): no forget rows, the layout is [i|g|o]
    forget_gate="none"       f = 1, the 1997 LSTM's constant error carousel: layout [i|g|o]
    forget_bias=b            b_if = b and b_hf = 0 at initialisation (Jozefowicz et al. 2015)
    input_gate="none"        i = 1 (NIG): no input rows, the layout is [f|g|o]; no p_i
    output_gate="none"       o = 1 (NOG): no output rows, the layout is [i|f|g]; no p_o
(a gate that is "none" is the constant 1: its equation and its gradient below drop out; the
coupled forget gate needs an input gate, as f = 1 − i would be 0)
    activations=(σ, φ, ψ)    other functions from ONNX's list (activations.py; ONNX's f, g, h),
                             with activation_alpha / activation_beta: one entry per function,
                             None for ONNX's default; ("sigmoid", "tanh", "identity") is Greff
                             et al.'s NOA, the LSTM without an output activation (ψ(c) = c)
    clip=c                   ONNX's clip: each gate's input, peephole term included, is cut to
                             [−c, c] before σ or φ (c itself is not cut); the gradients below
                             are then 0 where the cut acted (`Clip` in activations.py)

Backward, one step, by the chain rule through the equations above read bottom-up. dh and dc
are the gradients of the loss with respect to the step's new h and c; di, df, dg, do those of
the gates' pre-activations. Each derivative is read off the function's output: σ'(x) = i(1 − i)
where i = σ(x), and tanh' = 1 − tanh²; written for the defaults, with σ'(i) in general for i(1 − i)
(activations.py gives each function's):
    dm = dh                         (dm = W_hrᵀ dh with a projection)
    do = dm ⊙ ψ(c) ⊙ o(1 − o)
    dc ← dc + dm ⊙ o ⊙ (1 − ψ(c)²) + do ⊙ p_o
    di = dc ⊙ g ⊙ i(1 − i)          (coupled: dc ⊙ (g − c_prev) ⊙ i(1 − i), as f = 1 − i)
    df = dc ⊙ c_prev ⊙ f(1 − f)
    dg = dc ⊙ i ⊙ (1 − g²)
    dc_prev = dc ⊙ f + di ⊙ p_i + df ⊙ p_f
    dh_prev = W_hhᵀ [di|df|dg|do]       dx = W_ihᵀ [di|df|dg|do]
    dW_ih = [di|df|dg|do] xᵀ    dW_hh = [di|df|dg|do] h_prevᵀ    db_ih = db_hh = [di|df|dg|do]
    dW_hr = dh mᵀ    dp_i = di ⊙ c_prev    dp_f = df ⊙ c_prev    dp_o = do ⊙ c
(weight gradients summed over the batch). Backpropagation through time runs this step from the
last step to the first, with dh = dy_t + dh_prev and dc = dc_prev of the step after, and sums
the weight gradients. In code the batch is the leading axis, so `W x` is written `x @ W.T`.

`engine/lstm.py` runs the same math over whole sequences at NumPy's speed; tests/test_engine.py
proves it equal to a loop over `step` and `step_backward`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from .activations import Clip, activation_functions
from .module import Weights

__all__ = [
    "step", "step_backward", "LSTMStepCache", "gate_names", "check_options", "FORGET_GATES",
    "GATE_CHOICES",
    "ACTIVATIONS", "ACTIVATION_ROLES",
]  # fmt: skip

FORGET_GATES = ("gate", "coupled", "none")
ACTIVATIONS = ("sigmoid", "tanh", "tanh")  # σ, φ, ψ by default (ONNX's f, g, h)
ACTIVATION_ROLES = "f: the gates, g: the candidate cell, h: the cell's output"
GATE_CHOICES = ("gate", "none")  # input_gate, output_gate: a gate of its own, or the constant 1


def gate_names(
    forget_gate: str = "gate", input_gate: str = "gate", output_gate: str = "gate", **_: Any
) -> tuple[str, ...]:
    """The gate blocks of the fused weights, in order: i, f, g, o, without the gates that are
    not gates of their own (f coupled or none, i none, o none). Other options do not matter."""
    return _gate_names(forget_gate, input_gate, output_gate)


@lru_cache(maxsize=64)  # asked on every engine call
def _gate_names(forget_gate: str, input_gate: str, output_gate: str) -> tuple[str, ...]:
    own = {"i": input_gate == "gate", "f": forget_gate == "gate", "o": output_gate == "gate"}
    return tuple(k for k in "ifgo" if own.get(k, True))


def check_options(forget_gate: str = "gate", input_gate: str = "gate", **_: Any) -> None:
    """Refuse the combinations that make no LSTM: a coupled forget gate without an input gate."""
    if forget_gate == "coupled" and input_gate != "gate":
        raise ValueError(
            "forget_gate='coupled' sets f = 1 − i, which needs an input gate of its own "
            f"(input_gate='gate'), got input_gate={input_gate!r}"
        )


@dataclass
class LSTMStepCache:
    """What `step_backward` needs: the step's input, previous state and activations."""

    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, P)
    c_prev: np.ndarray  # (B, H)
    i: np.ndarray  # (B, H), and likewise f, g, o, c, tanh(c), m
    f: np.ndarray
    g: np.ndarray
    o: np.ndarray
    c: np.ndarray
    tanh_c: np.ndarray
    m: np.ndarray
    cut: Clip  # with clip: where each activation's input was inside [−clip, clip]


def step(
    x: np.ndarray,
    state: tuple[np.ndarray, np.ndarray],
    w: Weights,
    *,
    forget_gate: str = "gate",
    input_gate: str = "gate",
    output_gate: str = "gate",
    activations: tuple[str, ...] | None = None,
    activation_alpha: tuple | None = None,
    activation_beta: tuple | None = None,
    clip: float | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], LSTMStepCache]:
    """One LSTM step: x (B, I), state (h_prev (B, P), c_prev (B, H)), w a `Weights` of arrays
    (`Weights.arrays()`) -> the new state (h (B, P), c (B, H)) and the cache for backward."""
    h_prev, c_prev = state
    σ, φ, ψ = activation_functions(activations, activation_alpha, activation_beta, ACTIVATIONS)
    names = gate_names(forget_gate, input_gate, output_gate)
    pre = x @ w.weight_ih.T + w.bias_ih + h_prev @ w.weight_hh.T + w.bias_hh  # (B, G·H)
    a = dict(zip(names, np.split(pre, len(names), axis=1)))  # pre-activations by gate
    p_i, p_f, p_o = (0.0 if p is None else p for p in (w.weight_ci, w.weight_cf, w.weight_co))
    one = np.ones_like(c_prev)  # a gate that is "none" is the constant 1
    cut = Clip(clip)  # ONNX's clip of each gate's input to [−clip, clip]; none without clip
    i = σ(cut(a["i"] + p_i * c_prev, "i")) if input_gate == "gate" else one
    if forget_gate == "gate":
        f = σ(cut(a["f"] + p_f * c_prev, "f"))
    else:
        f = 1 - i if forget_gate == "coupled" else one
    g = φ(cut(a["g"], "g"))
    c = f * c_prev + i * g
    o = σ(cut(a["o"] + p_o * c, "o")) if output_gate == "gate" else one
    tanh_c = ψ(c)
    m = o * tanh_c
    h = m if w.weight_hr is None else m @ w.weight_hr.T
    return (h, c), LSTMStepCache(x, h_prev, c_prev, i, f, g, o, c, tanh_c, m, cut)


def step_backward(
    dstate: tuple[np.ndarray, np.ndarray],
    cache: LSTMStepCache,
    w: Weights,
    *,
    forget_gate: str = "gate",
    input_gate: str = "gate",
    output_gate: str = "gate",
    activations: tuple[str, ...] | None = None,
    activation_alpha: tuple | None = None,
    activation_beta: tuple | None = None,
    clip: float | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], Weights]:
    """Backward through one step: dstate (dh (B, P), dc (B, H)), the gradient of the loss with
    respect to the new state -> dx (B, I), (dh_prev, dc_prev) and the step's weight gradients
    (a `Weights` of arrays shaped like w's; None where w has None)."""
    dh, dc = dstate
    x, h_prev, c_prev, c = cache.x, cache.h_prev, cache.c_prev, cache.c
    i, f, g, o, tanh_c, m = cache.i, cache.f, cache.g, cache.o, cache.tanh_c, cache.m
    cut = cache.cut  # cut.grad(k): 0 where clip cut gate k's input, else 1
    σ, φ, ψ = activation_functions(activations, activation_alpha, activation_beta, ACTIVATIONS)
    p_i, p_f, p_o = (0.0 if p is None else p for p in (w.weight_ci, w.weight_cf, w.weight_co))
    # Each derivative is read off the activation's output: for the logistic σ, σ'(o) = o(1 − o);
    # for tanh, ψ'(c) = 1 − tanh²(c), φ'(g) = 1 − g² (activations.py has the others)
    dm = dh if w.weight_hr is None else dh @ w.weight_hr  # h = W_hr m
    do = dm * tanh_c * σ.grad(o) * cut.grad("o")  # m = o ⊙ ψ(c), o = σ(…)
    dc = dc + dm * o * ψ.grad(tanh_c) + do * p_o  # c feeds m and o's peephole
    di = dc * (g - c_prev if forget_gate == "coupled" else g) * σ.grad(i) * cut.grad("i")
    df = dc * c_prev * σ.grad(f) * cut.grad("f")  # only with forget_gate="gate" (f's own weights)
    dg = dc * i * φ.grad(g) * cut.grad("g")  # c = f ⊙ c_prev + i ⊙ g, g = φ(…)
    dc_prev = dc * f + di * p_i + df * p_f  # the carousel, and the peepholes of i and f
    d = {"i": di, "f": df, "g": dg, "o": do}
    names = gate_names(forget_gate, input_gate, output_gate)  # a "none" gate has no gradient
    dpre = np.concatenate([d[k] for k in names], axis=1)  # (B, G·H)
    dx, dh_prev = dpre @ w.weight_ih, dpre @ w.weight_hh
    grads = Weights(
        weight_ih=dpre.T @ x,
        weight_hh=dpre.T @ h_prev,
        bias_ih=dpre.sum(axis=0),
        bias_hh=dpre.sum(axis=0),
        weight_hr=None if w.weight_hr is None else dh.T @ m,
        weight_ci=None if w.weight_ci is None else (di * c_prev).sum(axis=0),
        weight_cf=None if w.weight_cf is None else (df * c_prev).sum(axis=0),
        weight_co=None if w.weight_co is None else (do * c).sum(axis=0),
    )
    return dx, (dh_prev, dc_prev), grads
