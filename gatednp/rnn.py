"""The Elman RNN: the baseline without gates, forward and backward through time, and RNNCell.

Shapes: T steps, B batch, I input features, H hidden units; torch's parameters
    weight_ih (H, I), weight_hh (H, H), bias_ih (H,), bias_hh (H,)

Forward, for each step t (torch's equations), with φ = tanh or relu:
    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    h_t = φ(a_t)

Backward, from the last step to the first; dh_t = dy_t + what step t+1 sends back:
    da_t = dh_t ⊙ φ'(a_t)        φ' = 1 − h_t² (tanh) or [h_t > 0] (relu)
    dh_{t-1}' = W_hhᵀ da_t
and once, over all steps:
    dW_ih = Σ_t da_t x_tᵀ     dW_hh = Σ_t da_t h_{t-1}ᵀ     db_ih = db_hh = Σ_t da_t     dx_t = W_ihᵀ da_t

Why gates exist: dh_{t-1}' = W_hhᵀ (φ'(a_t) ⊙ dh_t) multiplies the gradient by the same matrix at
every step, so over k steps it shrinks or grows like ‖W_hh‖ᵏ (the vanishing / exploding
gradient). The LSTM's cell path dc_{t-1} = dc_t ⊙ f_t has no such product with a weight matrix.
The loops are arranged as in lstm.py (hoisted input GEMM, weight GEMMs after the backward loop);
the one local derivative φ'(a_t) is read off h_t for all steps before the backward loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import tanh
from .cells import CellBase
from .module import Weights
from .packing import row_views, step_views

__all__ = ["RNNCell", "forward", "backward", "NONLINEARITIES"]

GATES = 1
NONLINEARITIES = ("tanh", "relu")


def check_nonlinearity(nonlinearity: str) -> str:
    if not isinstance(nonlinearity, str):
        raise TypeError(f"nonlinearity must be 'tanh' or 'relu', got {type(nonlinearity).__name__}")
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
    return nonlinearity


@dataclass
class RNNCache:
    """What backward needs from forward: inputs and states (φ' is read off h_t)."""

    w: Weights
    x: np.ndarray  # (T, B, I)
    h: np.ndarray  # (T+1, B, H): h_0 at the start of the direction, then each h_t
    nonlinearity: str
    reverse: bool
    batch_sizes: np.ndarray | None


def forward(
    x: np.ndarray,
    state: tuple[np.ndarray],
    w: Weights,
    *,
    reverse: bool = False,
    batch_sizes: np.ndarray | None = None,
    keep_cache: bool = True,
    nonlinearity: str = "tanh",
) -> tuple[np.ndarray, tuple[np.ndarray], RNNCache | None]:
    """Run one layer in one direction over a whole sequence.

    Args and returns as `lstm.forward`, with the state a 1-tuple `(h,)` of shape (B, H) and
    `nonlinearity` "tanh" or "relu".
    """
    T, B, _ = x.shape
    W_ih, W_hh = w.weight_ih.data, w.weight_hh.data
    H = W_hh.shape[0]

    # Input part of every pre-activation in one GEMM: a_t = x_t W_ihᵀ + b_ih + b_hh
    a = np.empty((T, B, H), dtype=x.dtype)
    np.matmul(x.reshape(T * B, x.shape[2]), W_ih.T, out=a.reshape(T * B, H))
    if w.bias_ih is not None:
        a += w.bias_ih.data
        a += w.bias_hh.data
    h = np.empty((T + 1, B, H), dtype=x.dtype)
    h[T if reverse else 0] = state[0]

    # Per-step views, rows :n_t: step t reads h_prev[t] and writes h_cur[t] (packing.py)
    cur, prev = (slice(0, T), slice(1, T + 1)) if reverse else (slice(1, T + 1), slice(0, T))
    h_prev, h_cur, a_t = (step_views(v, batch_sizes) for v in (h[prev], h[cur], a))
    hh = row_views(np.empty((B, H), dtype=x.dtype), T, batch_sizes)  # scratch: h_{t-1} W_hhᵀ

    for t in range(T - 1, -1, -1) if reverse else range(T):
        # h_t = φ(a_t), a_t = hoisted input part + h_{t-1} W_hhᵀ
        np.matmul(h_prev[t], W_hh.T, out=hh[t])
        a_t[t] += hh[t]
        if nonlinearity == "tanh":
            tanh(a_t[t], out=h_cur[t])
        else:
            np.maximum(a_t[t], 0, out=h_cur[t])
        n = B if batch_sizes is None else batch_sizes[t]
        if n < B:  # finished sequences carry their state
            src, dst = (t + 1, t) if reverse else (t, t + 1)
            h[dst, n:] = h[src, n:]

    y = h[:-1] if reverse else h[1:]
    cache = RNNCache(w, x, h, nonlinearity, reverse, batch_sizes) if keep_cache else None
    return y, (h[0 if reverse else T],), cache


def backward(
    cache: RNNCache, dy: np.ndarray, dstate: tuple[np.ndarray]
) -> tuple[np.ndarray, tuple[np.ndarray]]:
    """BPTT through one layer and direction; accumulates into the parameters' `.grad`.

    Args and returns as `lstm.backward`, with the state gradient a 1-tuple `(dh,)`.
    """
    w, x, h = cache.w, cache.x, cache.h
    T, B, _ = x.shape
    H = h.shape[-1]
    W_hh = w.weight_hh.data
    h_prev, h_t = (h[1:], h[:-1]) if cache.reverse else (h[:-1], h[1:])  # (T, B, H) each

    # Local derivative φ'(a_t) of every step at once, read off h_t; the loop multiplies by dh_t
    da = np.empty_like(h_t)  # (T, B, H)
    if cache.nonlinearity == "tanh":
        np.multiply(h_t, h_t, out=da)
        np.subtract(1, da, out=da)  # 1 − h_t²
    else:
        np.greater(h_t, 0, out=da)  # [h_t > 0], written as 0.0 / 1.0

    if cache.batch_sizes is not None:  # rows past their sequence's end: no gradient
        for t, n in enumerate(cache.batch_sizes):
            da[t, n:] = 0
    dh_next = np.array(dstate[0], dtype=x.dtype)  # (B, H)
    da_t, dy_t = step_views(da, cache.batch_sizes), step_views(dy, cache.batch_sizes)
    dh = row_views(dh_next, T, cache.batch_sizes)
    for t in range(T) if cache.reverse else range(T - 1, -1, -1):
        # da_t = (dy_t + dh_t') ⊙ φ'(a_t);  dh_{t-1}' = W_hhᵀ da_t
        dh[t] += dy_t[t]
        da_t[t] *= dh[t]
        np.matmul(da_t[t], W_hh, out=dh[t])

    # Weight gradients and dx over all steps at once
    da_2d = da.reshape(T * B, H)
    w.weight_ih.grad += da_2d.T @ x.reshape(T * B, x.shape[2])
    w.weight_hh.grad += da_2d.T @ h_prev.reshape(T * B, H)
    if w.bias_ih is not None:
        db = da_2d.sum(axis=0)
        w.bias_ih.grad += db
        w.bias_hh.grad += db
    dx = (da_2d @ w.weight_ih.data).reshape(x.shape)
    return dx, (dh_next,)


class RNNCell(CellBase):
    """One Elman step, torch.nn.RNNCell's parameters and call; a loop over it is BPTT.

    >>> import numpy as np, gatednp as gn
    >>> cell = gn.RNNCell(3, 5, nonlinearity="relu", rng=0)
    >>> h = cell(np.ones((2, 3)))
    >>> dx, dh0 = cell.backward(np.ones((2, 5)))
    >>> h.shape, dx.shape, dh0.shape
    ((2, 5), (2, 3), (2, 5))
    """

    GATES = GATES
    STATE = ("h",)
    kernel_forward = staticmethod(forward)
    kernel_backward = staticmethod(backward)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        *,
        dtype=np.float64,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.nonlinearity = check_nonlinearity(nonlinearity)
        self.cell_options = {"nonlinearity": nonlinearity}
        super().__init__(input_size, hidden_size, bias, dtype=dtype, rng=rng)
