"""The GRU: its equations, and the textbook step (one time step forward and backward).

Shapes: B batch, I input features, H hidden units. Parameters use torch's fused layout, gate
order r, z, n:
    weight_ih (3H, I) = [W_ir|W_iz|W_in]    bias_ih (3H,) = [b_ir|b_iz|b_in]
    weight_hh (3H, H) = [W_hr|W_hz|W_hn]    bias_hh (3H,) = [b_hr|b_hz|b_hn]

Forward, one step from h_prev (torch's equations; the reset gate acts *after* W_hn, and b_hn
sits inside the product, so the two biases of n are not interchangeable; σ is the logistic
function and φ = tanh unless `activations` says otherwise):
    r = σ(W_ir x + b_ir + W_hr h_prev + b_hr)          reset gate
    z = σ(W_iz x + b_iz + W_hz h_prev + b_hz)          update gate
    a = W_hn h_prev + b_hn                             recurrent part of the candidate
    n = φ(W_in x + b_in + r ⊙ a)                       candidate
    h = (1 − z) ⊙ n + z ⊙ h_prev

Variant, an option of gn.GRU and gn.GRUCell: reset_after=False puts the reset gate *before*
W_hn, as Cho et al. 2014 wrote it (Keras reset_after=False, ONNX linear_before_reset=0):
    a = W_hn (r ⊙ h_prev) + b_hn                       n = φ(W_in x + b_in + a)

Activations, options of every GRU: activations=(σ, φ) names other functions from ONNX's list
(activations.py; ONNX's f, g), with activation_alpha / activation_beta, one entry per function
(None: ONNX's default). clip=c (ONNX's clip) cuts the inputs of σ and φ to [−c, c]; the
gradients below are then 0 where the cut acted (`Clip` in activations.py).

Backward, one step, by the chain rule through the equations above read bottom-up. dh is the
gradient of the loss with respect to the step's new h; dr, dz, dn those of the gates'
pre-activations (σ' = σ(1 − σ), tanh' = 1 − tanh², read off the outputs; other activations
put their own derivative, activations.py, where these stand):
    dn = dh ⊙ (1 − z) ⊙ (1 − n²)
    dz = dh ⊙ (h_prev − n) ⊙ z(1 − z)
    da = dn ⊙ r                                        (gradient of a)
    dr = dn ⊙ a ⊙ r(1 − r)
    dh_prev = dh ⊙ z + W_hhᵀ [dr|dz|da]
    dW_ih = [dr|dz|dn] xᵀ    db_ih = [dr|dz|dn]    dx = W_ihᵀ [dr|dz|dn]
    dW_hh = [dr|dz|da] h_prevᵀ    db_hh = [dr|dz|da]
and with reset_after=False, where a = W_hn (r ⊙ h_prev) + b_hn and da = dn:
    drh = W_hnᵀ dn                                     (gradient of r ⊙ h_prev)
    dr = drh ⊙ h_prev ⊙ r(1 − r)
    dh_prev = dh ⊙ z + drh ⊙ r + [W_hr|W_hz]ᵀ [dr|dz]
    dW_hh = [[dr|dz] h_prevᵀ ; dn (r ⊙ h_prev)ᵀ]    db_hh = [dr|dz|dn]
(weight gradients summed over the batch). Through time: as for the LSTM (lstm.py).

`engine/gru.py` runs the same math over whole sequences at NumPy's speed; tests/test_engine.py
proves it equal to a loop over `step` and `step_backward`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .activations import Clip, activation_functions
from .module import Weights

__all__ = [
    "step", "step_backward", "check_options", "GRUStepCache", "gate_names", "ACTIVATIONS",
    "ACTIVATION_ROLES",
]  # fmt: skip

ACTIVATIONS = ("sigmoid", "tanh")  # σ, φ by default (ONNX's f, g)
ACTIVATION_ROLES = "f: the gates, g: the candidate"


def gate_names(**_: Any) -> tuple[str, ...]:
    """The gate blocks of the fused weights, in order (the same with every option)."""
    return ("r", "z", "n")


def check_options(**_: Any) -> None:
    """Every combination of the GRU's options is a GRU: nothing to refuse."""


@dataclass
class GRUStepCache:
    """What `step_backward` needs: the step's input, previous state and activations."""

    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, H)
    r: np.ndarray  # (B, H), and likewise z, n, a
    z: np.ndarray
    n: np.ndarray
    a: np.ndarray
    cut: Clip  # with clip: where each activation's input was inside [−clip, clip]


def step(
    x: np.ndarray,
    state: tuple[np.ndarray],
    w: Weights,
    *,
    reset_after: bool = True,
    activations: tuple[str, ...] | None = None,
    activation_alpha: tuple | None = None,
    activation_beta: tuple | None = None,
    clip: float | None = None,
) -> tuple[tuple[np.ndarray], GRUStepCache]:
    """One GRU step: x (B, I), state (h_prev,) (B, H), w a `Weights` of arrays
    (`Weights.arrays()`) -> the new state (h,) (B, H) and the cache for backward."""
    (h_prev,) = state
    σ, φ = activation_functions(activations, activation_alpha, activation_beta, ACTIVATIONS)
    W_ir, W_iz, W_in = np.split(w.weight_ih, 3)
    W_hr, W_hz, W_hn = np.split(w.weight_hh, 3)
    b_ir, b_iz, b_in = np.split(w.bias_ih, 3)
    b_hr, b_hz, b_hn = np.split(w.bias_hh, 3)
    cut = Clip(clip)  # ONNX's clip of each gate's input to [−clip, clip]; none without clip
    r = σ(cut(x @ W_ir.T + b_ir + h_prev @ W_hr.T + b_hr, "r"))
    z = σ(cut(x @ W_iz.T + b_iz + h_prev @ W_hz.T + b_hz, "z"))
    if reset_after:
        a = h_prev @ W_hn.T + b_hn
        n = φ(cut(x @ W_in.T + b_in + r * a, "n"))
    else:
        a = (r * h_prev) @ W_hn.T + b_hn
        n = φ(cut(x @ W_in.T + b_in + a, "n"))
    h = (1 - z) * n + z * h_prev
    return (h,), GRUStepCache(x, h_prev, r, z, n, a, cut)


def step_backward(
    dstate: tuple[np.ndarray],
    cache: GRUStepCache,
    w: Weights,
    *,
    reset_after: bool = True,
    activations: tuple[str, ...] | None = None,
    activation_alpha: tuple | None = None,
    activation_beta: tuple | None = None,
    clip: float | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray], Weights]:
    """Backward through one step: dstate (dh,) (B, H), the gradient of the loss with respect to
    the new state -> dx (B, I), (dh_prev,) and the step's weight gradients (a `Weights` of
    arrays shaped like w's)."""
    (dh,) = dstate
    x, h_prev, r, z, n, a = cache.x, cache.h_prev, cache.r, cache.z, cache.n, cache.a
    σ, φ = activation_functions(activations, activation_alpha, activation_beta, ACTIVATIONS)
    # Derivatives read off the outputs: for the logistic σ, σ'(z) = z(1 − z); tanh'(n) = 1 − n²
    cut = cache.cut  # cut.grad(k): 0 where clip cut k's input, else 1
    dn = dh * (1 - z) * φ.grad(n) * cut.grad("n")  # h = (1 − z) ⊙ n + …, n = φ(…)
    dz = dh * (h_prev - n) * σ.grad(z) * cut.grad("z")  # h = … + z ⊙ h_prev, z = σ(…)
    if reset_after:
        da = dn * r  # n = tanh(… + r ⊙ a)
        dr = dn * a * σ.grad(r) * cut.grad("r")
        dhh = np.concatenate([dr, dz, da], axis=1)  # (B, 3H): [dr|dz|da], the recurrent side
        dh_prev = dh * z + dhh @ w.weight_hh  # a, r, z all read h_prev
        dW_hh = dhh.T @ h_prev
    else:
        W_hrz, W_hn = np.split(w.weight_hh, [2 * r.shape[1]])  # [W_hr|W_hz], W_hn
        drh = dn @ W_hn  # a = W_hn (r ⊙ h_prev) + b_hn
        dr = drh * h_prev * σ.grad(r) * cut.grad("r")
        drz = np.concatenate([dr, dz], axis=1)  # (B, 2H): [dr|dz]
        dh_prev = dh * z + drh * r + drz @ W_hrz
        dW_hh = np.concatenate([drz.T @ h_prev, dn.T @ (r * h_prev)])
        dhh = np.concatenate([dr, dz, dn], axis=1)  # b_hn sits beside W_hn: its gradient is dn
    dpre = np.concatenate([dr, dz, dn], axis=1)  # (B, 3H): [dr|dz|dn], the input side
    grads = Weights(
        weight_ih=dpre.T @ x,
        weight_hh=dW_hh,
        bias_ih=dpre.sum(axis=0),
        bias_hh=dhh.sum(axis=0),
    )
    return dpre @ w.weight_ih, (dh_prev,), grads
