"""The Elman RNN engine: rnn.py's equations over a whole sequence, one layer and direction.

Arranged as the LSTM engine (engine/lstm.py): the input part of every pre-activation in one
GEMM before the loop, the local derivative φ'(a_t) of every step read off h_t in one pass before
the backward loop, the weight GEMMs after it, loops over any block of batch rows. φ is tanh,
relu or another of activations.py; with `clip`, a mask of where φ's input was inside the bounds
zeroes φ'(a_t) where the cut acted.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from .. import workspace
from ..activations import Activation, activation_functions, clip_, tanh
from ..module import Weights
from ..packing import row_views, step_views
from ..threads import matmul_rows, split_rows

__all__ = ["forward", "backward", "RNNCache"]


@dataclass
class RNNCache:
    """What backward needs from forward: inputs and states (φ' is read off h_t)."""

    w: Weights
    x: np.ndarray  # (T, B, I)
    h: np.ndarray  # (T+1, B, H): h_0 at the start of the direction, then each h_t
    φ: Activation  # h = φ(a): tanh, relu, or another of activations.py
    reverse: bool
    batch_sizes: np.ndarray | None
    kept: np.ndarray | None = None  # (T, B, H) with clip: where φ's input was inside

    def activations(self) -> dict[str, np.ndarray]:
        """h at every step, (T, B, H) in the loop's time order."""
        return {"h": self.h[0:-1] if self.reverse else self.h[1:]}


def forward(
    x: np.ndarray,
    state: tuple[np.ndarray],
    w: Weights,
    *,
    reverse: bool = False,
    batch_sizes: np.ndarray | None = None,
    keep_cache: bool = True,
    nonlinearity: str = "tanh",
    activations: tuple[str, ...] | None = None,
    activation_alpha: tuple | None = None,
    activation_beta: tuple | None = None,
    clip: float | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray], RNNCache | None]:
    """Run one layer in one direction over a whole sequence.

    Args and returns as `engine.lstm.forward`, with the state a 1-tuple `(h,)` of shape (B, H)
    and the cell's options: `nonlinearity` "tanh" or "relu", or the activations (rnn.py).
    """
    (φ,) = activation_functions(activations, activation_alpha, activation_beta, (nonlinearity,))
    T, B, _ = x.shape
    W_ih, W_hh = w.weight_ih.data, w.weight_hh.data
    H = W_hh.shape[0]

    # Input part of every pre-activation in one GEMM: a_t = x_t W_ihᵀ + b_ih + b_hh
    a = workspace.empty((T, B, H), dtype=x.dtype)
    matmul_rows(x.reshape(T * B, x.shape[2]), W_ih.T, out=a.reshape(T * B, H))
    if w.bias_ih is not None:
        a += w.bias_ih.data + w.bias_hh.data
    h = workspace.empty((T + 1, B, H), dtype=x.dtype)
    h[T if reverse else 0] = state[0]

    loop = partial(_forward_loop, W_hh=W_hh, φ=φ, clip=clip, reverse=reverse)
    kept = None if clip is None else np.ones(a.shape, dtype=bool)
    split_rows(loop, T, H * x.itemsize, batch_sizes, a=a, h=h, kept=kept)

    y = h[:-1] if reverse else h[1:]
    cache = RNNCache(w, x, h, φ, reverse, batch_sizes, kept) if keep_cache else None
    return y, (h[0 if reverse else T],), cache


def _forward_loop(a, h, kept, *, W_hh, φ, clip, reverse, batch_sizes) -> None:
    """The forward time loop over a block of rows: a (T, B, H) holds the input part of each
    pre-activation on entry; h (T+1, B, H) the initial state at index 0 (T when reverse)."""
    T, B, _ = a.shape
    # Per-step views, rows :n_t: step t reads h_prev[t] and writes h_cur[t] (packing.py)
    cur, prev = (slice(0, T), slice(1, T + 1)) if reverse else (slice(1, T + 1), slice(0, T))
    h_prev, h_cur, a_t = (step_views(v, batch_sizes) for v in (h[prev], h[cur], a))
    kept_t = None if kept is None else step_views(kept, batch_sizes)
    hh = row_views(workspace.empty(a.shape[1:], dtype=a.dtype), T, batch_sizes)  # h_{t-1} W_hhᵀ

    for t in range(T - 1, -1, -1) if reverse else range(T):
        # h_t = φ(a_t), a_t = hoisted input part + h_{t-1} W_hhᵀ
        np.matmul(h_prev[t], W_hh.T, out=hh[t])
        a_t[t] += hh[t]
        if clip is not None:  # ONNX's clip: φ's input cut to [−clip, clip], where noted
            clip_(a_t[t], clip, kept_t[t], hh[t])
        if φ.name == "tanh":
            tanh(a_t[t], out=h_cur[t])
        elif φ.name == "relu":
            np.maximum(a_t[t], 0, out=h_cur[t])
        else:
            h_cur[t][...] = φ(a_t[t])
        n = B if batch_sizes is None else batch_sizes[t]
        if n < B:  # finished sequences carry their state
            src, dst = (t + 1, t) if reverse else (t, t + 1)
            h[dst, n:] = h[src, n:]


def backward(
    cache: RNNCache, dy: np.ndarray, dstate: tuple[np.ndarray]
) -> tuple[np.ndarray, tuple[np.ndarray]]:
    """BPTT through one layer and direction; accumulates into the parameters' `.grad`.

    Args and returns as `engine.lstm.backward`, with the state gradient a 1-tuple `(dh,)`.
    """
    w, x, h = cache.w, cache.x, cache.h
    T, B, _ = x.shape
    H = h.shape[-1]
    h_prev, h_t = (h[1:], h[:-1]) if cache.reverse else (h[:-1], h[1:])  # (T, B, H) each

    # Local derivative φ'(a_t) of every step at once, read off h_t; the loop multiplies by dh_t
    da = workspace.empty(h_t.shape, h_t.dtype)  # (T, B, H)
    if cache.φ.name == "tanh":
        np.multiply(h_t, h_t, out=da)
        np.subtract(1, da, out=da)  # 1 − h_t²
    elif cache.φ.name == "relu":
        np.greater(h_t, 0, out=da)  # [h_t > 0], written as 0.0 / 1.0
    else:
        da[...] = cache.φ.grad(h_t)  # φ'(a_t) read off h_t (activations.py)
    if cache.kept is not None:  # with clip: no gradient where φ's input was cut
        da *= cache.kept
    if cache.batch_sizes is not None:  # rows past their sequence's end: no gradient
        for t, n in enumerate(cache.batch_sizes):
            da[t, n:] = 0
    dh_0 = np.array(dstate[0], dtype=x.dtype)  # (B, H): dh_n, run back to dh_0

    loop = partial(_backward_loop, W_hh=w.weight_hh.data, reverse=cache.reverse)
    split_rows(loop, T, H * x.itemsize, cache.batch_sizes, dy=dy, da=da, dh_0=dh_0)

    # Weight gradients and dx over all steps at once
    da_2d = da.reshape(T * B, H)
    w.weight_ih.grad += matmul_rows(da_2d.T, x.reshape(T * B, x.shape[2]))
    w.weight_hh.grad += matmul_rows(da_2d.T, h_prev.reshape(T * B, H))
    if w.bias_ih is not None:
        db = da_2d.sum(axis=0)
        w.bias_ih.grad += db
        w.bias_hh.grad += db
    dx = matmul_rows(da_2d, w.weight_ih.data).reshape(x.shape)
    return dx, (dh_0,)


def _backward_loop(dy, da, dh_0, *, W_hh, reverse, batch_sizes) -> None:
    """The backward time loop over a block of rows: da (T, B, H) holds φ'(a_t) on entry and
    da_t on exit; dh_0 holds dh_n on entry and the gradient of the initial state on exit."""
    T = da.shape[0]
    da_t, dy_t = step_views(da, batch_sizes), step_views(dy, batch_sizes)
    dh = row_views(dh_0, T, batch_sizes)
    for t in range(T) if reverse else range(T - 1, -1, -1):
        # da_t = (dy_t + dh_t') ⊙ φ'(a_t);  dh_{t-1}' = W_hhᵀ da_t
        dh[t] += dy_t[t]
        da_t[t] *= dh[t]
        np.matmul(da_t[t], W_hh, out=dh[t])
