"""The Elman RNN, the baseline without gates: its equations and the textbook step.

Shapes: B batch, I input features, H hidden units; torch's parameters
    weight_ih (H, I), weight_hh (H, H), bias_ih (H,), bias_hh (H,)

Forward, one step from h_prev (torch's equations), with φ = tanh or relu:
    a = W_ih x + b_ih + W_hh h_prev + b_hh
    h = φ(a)

Activations, options of every RNN (ONNX's): activations=(φ,) names another function from ONNX's
list (activations.py), with activation_alpha / activation_beta (None: ONNX's default);
activations=("relu",) is nonlinearity="relu". clip=c (ONNX's clip) cuts a to [−c, c] before φ;
da is then 0 where the cut acted.

Backward, one step; dh is the gradient of the loss with respect to the step's new h:
    da = dh ⊙ φ'(a)              φ' = 1 − h² (tanh) or [h > 0] (relu), read off h (activations.py)
    dh_prev = W_hhᵀ da           dx = W_ihᵀ da
    dW_ih = da xᵀ    dW_hh = da h_prevᵀ    db_ih = db_hh = da

Why gates exist: dh_prev = W_hhᵀ (φ'(a) ⊙ dh) multiplies the gradient by the same matrix at
every step, so over k steps it shrinks or grows like ‖W_hh‖ᵏ (the vanishing / exploding
gradient). The LSTM's cell path dc_prev = dc ⊙ f has no such product with a weight matrix.

`engine/rnn.py` runs the same math over whole sequences; tests/test_engine.py proves it equal
to a loop over `step` and `step_backward`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .activations import Clip, activation_functions
from .module import Weights

__all__ = [
    "step",
    "step_backward",
    "check_options",
    "RNNStepCache",
    "gate_names",
    "NONLINEARITIES",
    "ACTIVATION_ROLES",
]

NONLINEARITIES = ("tanh", "relu")
ACTIVATION_ROLES = "f: the hidden state"  # one function, nonlinearity by default


def gate_names(**_: Any) -> tuple[str, ...]:
    """No gates: the fused weights are one block (with every option)."""
    return ()


def check_options(**_: Any) -> None:
    """Every combination of the RNN's options is an RNN: nothing to refuse."""


@dataclass
class RNNStepCache:
    """What `step_backward` needs: the step's input, previous and new state."""

    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, H)
    h: np.ndarray  # (B, H)
    cut: Clip  # with clip: where φ's input was inside [−clip, clip]


def step(
    x: np.ndarray,
    state: tuple[np.ndarray],
    w: Weights,
    *,
    nonlinearity: str = "tanh",
    activations: tuple[str, ...] | None = None,
    activation_alpha: tuple | None = None,
    activation_beta: tuple | None = None,
    clip: float | None = None,
) -> tuple[tuple[np.ndarray], RNNStepCache]:
    """One step: x (B, I), state (h_prev,) (B, H), w a `Weights` of arrays -> (h,), cache."""
    (h_prev,) = state
    a = x @ w.weight_ih.T + w.bias_ih + h_prev @ w.weight_hh.T + w.bias_hh
    (φ,) = activation_functions(activations, activation_alpha, activation_beta, (nonlinearity,))
    cut = Clip(clip)  # ONNX's clip of φ's input to [−clip, clip]; none without clip
    h = φ(cut(a, "h"))
    return (h,), RNNStepCache(x, h_prev, h, cut)


def step_backward(
    dstate: tuple[np.ndarray],
    cache: RNNStepCache,
    w: Weights,
    *,
    nonlinearity: str = "tanh",
    activations: tuple[str, ...] | None = None,
    activation_alpha: tuple | None = None,
    activation_beta: tuple | None = None,
    clip: float | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray], Weights]:
    """Backward through one step: (dh,) -> dx, (dh_prev,) and the step's weight gradients."""
    (dh,) = dstate
    h = cache.h
    (φ,) = activation_functions(activations, activation_alpha, activation_beta, (nonlinearity,))
    cut = cache.cut  # cut.grad("h"): 0 where clip cut φ's input, else 1
    da = dh * φ.grad(h) * cut.grad("h")  # h = φ(a): φ' read off h, 1 − h² for tanh
    grads = Weights(
        weight_ih=da.T @ cache.x,
        weight_hh=da.T @ cache.h_prev,
        bias_ih=da.sum(axis=0),
        bias_hh=da.sum(axis=0),
    )
    return da @ w.weight_ih, (da @ w.weight_hh,), grads
