"""The GRU: its gate math, forward and backward through time for one layer, and GRUCell.

Shapes: T steps, B batch, I input features, H hidden units. Parameters use torch's fused
layout, gate order r, z, n:
    weight_ih (3H, I) = [W_ir|W_iz|W_in]    bias_ih (3H,) = [b_ir|b_iz|b_in]
    weight_hh (3H, H) = [W_hr|W_hz|W_hn]    bias_hh (3H,) = [b_hr|b_hz|b_hn]

Forward, for each step t (torch's equations; the reset gate acts *after* W_hn, and b_hn sits
inside the product, so the two biases of n are not interchangeable):
    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)         reset gate
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)         update gate
    a_t = W_hn h_{t-1} + b_hn                              recurrent part of the candidate
    n_t = tanh(W_in x_t + b_in + r_t ⊙ a_t)                candidate
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}

Backward, from the last step to the first; dh_t = dy_t + what step t+1 sends back:
    dn_t = dh_t ⊙ (1 − z_t) ⊙ (1 − n_t²)                  (gradient of n's pre-activation)
    dz_t = dh_t ⊙ (h_{t-1} − n_t) ⊙ z_t(1 − z_t)
    dr_t = dn_t ⊙ a_t ⊙ r_t(1 − r_t)
    da_t = dn_t ⊙ r_t
    dh_{t-1}' = dh_t ⊙ z_t + W_hhᵀ [dr_t|dz_t|da_t]
and once, over all steps:
    dW_hh = Σ_t [dr|dz|da]_t h_{t-1}ᵀ     db_hh = Σ_t [dr|dz|da]_t
    dW_ih = Σ_t [dr|dz|dn]_t x_tᵀ         db_ih = Σ_t [dr|dz|dn]_t     dx_t = W_ihᵀ [dr|dz|dn]_t

In code the batch is the leading axis, so `W x` is written `x @ W.T`; the loops are arranged as
in lstm.py (hoisted input GEMM; the backward loop writes the input-side gradients [dr|dz|dn]
over the step's [r|z|n] once it has used them; weight GEMMs after the loop; the time loops
`_forward_loop` and `_backward_loop` take any block of batch rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import sigmoid_, tanh_
from .cells import CellBase
from .module import Weights
from .packing import row_views, step_views
from .threads import block_batch_sizes, matmul_rows, run_row_blocks

__all__ = ["GRUCell", "forward", "backward"]

GATES = 3


@dataclass
class GRUCache:
    """What backward needs from forward: inputs, states, post-activation gates and a_t."""

    w: Weights
    x: np.ndarray  # (T, B, I)
    h: np.ndarray  # (T+1, B, H): h_0 at the start of the direction, then each h_t
    gates: np.ndarray  # (T, B, 3H): [r|z|n] after σ / tanh
    a: np.ndarray  # (T, B, H): W_hn h_{t-1} + b_hn
    reverse: bool
    batch_sizes: np.ndarray | None


def _split(a: np.ndarray) -> tuple[np.ndarray, ...]:
    """Named views of the gate axis: [r|z|n] -> r, z, n."""
    H = a.shape[-1] // GATES
    return tuple(a[..., k * H : (k + 1) * H] for k in range(GATES))


def forward(
    x: np.ndarray,
    state: tuple[np.ndarray],
    w: Weights,
    *,
    reverse: bool = False,
    batch_sizes: np.ndarray | None = None,
    keep_cache: bool = True,
) -> tuple[np.ndarray, tuple[np.ndarray], GRUCache | None]:
    """Run one layer in one direction over a whole sequence.

    Args and returns as `lstm.forward`, with the state a 1-tuple `(h,)` of shape (B, H).
    """
    T, B, _ = x.shape
    W_ih, W_hh = w.weight_ih.data, w.weight_hh.data
    H = W_hh.shape[1]

    # Input projections of all steps in one GEMM; b_hr and b_hz join them, b_hn cannot (it is
    # multiplied by r_t) and is added to a_t in the loop
    gates = np.empty((T, B, GATES * H), dtype=x.dtype)  # (T, B, 3H): [r|z|n]
    matmul_rows(x.reshape(T * B, x.shape[2]), W_ih.T, out=gates.reshape(T * B, GATES * H))
    b_hn = None
    if w.bias_ih is not None:  # one pass over the big buffer: [b_ir + b_hr | b_iz + b_hz | b_in]
        b_ih, b_hh = w.bias_ih.data, w.bias_hh.data
        gates += np.concatenate([b_ih[: 2 * H] + b_hh[: 2 * H], b_ih[2 * H :]])
        b_hn = b_hh[2 * H :]
    h = np.empty((T + 1, B, H), dtype=x.dtype)
    a = np.empty((T, B, H), dtype=x.dtype)
    h[T if reverse else 0] = state[0]

    def rows(lo: int, hi: int) -> None:  # the time loop over batch rows lo:hi
        blocks = (v[:, lo:hi] for v in (gates, h, a))
        _forward_loop(*blocks, W_hh, b_hn, reverse, block_batch_sizes(batch_sizes, lo, hi))

    # all rows at once, or one block of rows per thread (gn.set_num_threads, threads.py)
    run_row_blocks(rows, B, T, row_bytes=H * x.itemsize)

    y = h[:-1] if reverse else h[1:]
    cache = GRUCache(w, x, h, gates, a, reverse, batch_sizes) if keep_cache else None
    return y, (h[0 if reverse else T],), cache


def _forward_loop(
    gates: np.ndarray,
    h: np.ndarray,
    a: np.ndarray,
    W_hh: np.ndarray,
    b_hn: np.ndarray | None,
    reverse: bool,
    batch_sizes: np.ndarray | None,
) -> None:
    """The forward time loop: activates `gates` in place and fills h and a.

    On entry gates (T, B, 3H) holds the input part of the pre-activations and h (T+1, B, H)
    the initial state at index 0 (T when reverse). Rows never meet, so B may be a block of rows.
    """
    T, B, G_H = gates.shape
    H = G_H // GATES
    bs = batch_sizes
    # Per-step views, rows :n_t: step t reads h_prev[t] and writes h_cur[t]
    cur, prev = (slice(0, T), slice(1, T + 1)) if reverse else (slice(1, T + 1), slice(0, T))
    h_prev, h_cur, a_t = step_views(h[prev], bs), step_views(h[cur], bs), step_views(a, bs)
    r_z, r, z, n_ = (step_views(v, bs) for v in (gates[..., : 2 * H], *_split(gates)))
    hh_buf = np.empty((B, GATES * H), dtype=gates.dtype)  # scratch: h_{t-1} W_hhᵀ
    hh, hh_rz, hh_n = (
        row_views(v, T, bs) for v in (hh_buf, hh_buf[:, : 2 * H], hh_buf[:, 2 * H :])
    )
    ra = row_views(np.empty((B, H), dtype=gates.dtype), T, bs)  # scratch: r_t ⊙ a_t

    for t in range(T - 1, -1, -1) if reverse else range(T):
        np.matmul(h_prev[t], W_hh.T, out=hh[t])
        # r_t, z_t = σ(hoisted input part + h_{t-1} W_hrᵀ, h_{t-1} W_hzᵀ)
        r_z[t] += hh_rz[t]
        sigmoid_(r_z[t])
        # a_t = W_hn h_{t-1} + b_hn;  n_t = tanh(W_in x_t + b_in + r_t ⊙ a_t)
        if b_hn is None:
            a_t[t][...] = hh_n[t]
        else:
            np.add(hh_n[t], b_hn, out=a_t[t])
        np.multiply(r[t], a_t[t], out=ra[t])
        n_[t] += ra[t]
        tanh_(n_[t])
        # h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}, computed as n_t + z_t ⊙ (h_{t-1} − n_t)
        np.subtract(h_prev[t], n_[t], out=h_cur[t])
        h_cur[t] *= z[t]
        h_cur[t] += n_[t]
        n = B if bs is None else bs[t]
        if n < B:  # finished sequences carry their state; zero gates give them no gradient
            src, dst = (t + 1, t) if reverse else (t, t + 1)
            h[dst, n:] = h[src, n:]
            gates[t, n:] = 0
            a[t, n:] = 0


def backward(
    cache: GRUCache, dy: np.ndarray, dstate: tuple[np.ndarray]
) -> tuple[np.ndarray, tuple[np.ndarray]]:
    """BPTT through one layer and direction; accumulates into the parameters' `.grad`.

    Args and returns as `lstm.backward`, with the state gradient a 1-tuple `(dh,)`; the cache
    is consumed (each step's gates are overwritten by their gradients).
    """
    w, x, h, gates, a = cache.w, cache.x, cache.h, cache.gates, cache.a
    T, B, _ = x.shape
    H = h.shape[-1]
    W_hh = w.weight_hh.data
    h_prev = h[1:] if cache.reverse else h[:-1]  # (T, B, H): h_{t-1} of each step

    # The two sides of the GRU get different gradients: the input side [dr|dz|dn] is written
    # over the step's [r|z|n] once they are used (the block stays in cache, no second buffer
    # of that size), the recurrent side [dr|dz|da] goes to its own buffer. Rows past a
    # sequence's end stay zero in both (forward zeroed the gates; np.zeros here).
    dgates_ih = gates  # (T, B, 3H): [dr|dz|dn]
    dgates_hh = np.zeros_like(gates)  # (T, B, 3H): [dr|dz|da]
    dh_0 = np.array(dstate[0], dtype=x.dtype)  # (B, H): dh_n, run back to dh_0

    def rows(lo: int, hi: int) -> None:  # the time loop over batch rows lo:hi
        blocks = (v[:, lo:hi] for v in (dy, gates, dgates_hh, a, h_prev))
        bs = block_batch_sizes(cache.batch_sizes, lo, hi)
        _backward_loop(*blocks, dh_0[lo:hi], W_hh, cache.reverse, bs)

    # all rows at once, or one block of rows per thread (gn.set_num_threads, threads.py)
    run_row_blocks(rows, B, T, row_bytes=H * x.itemsize)

    dgates_hh_2d = dgates_hh.reshape(T * B, GATES * H)
    dgates_ih_2d = dgates_ih.reshape(T * B, GATES * H)
    w.weight_hh.grad += matmul_rows(dgates_hh_2d.T, h_prev.reshape(T * B, H))
    w.weight_ih.grad += matmul_rows(dgates_ih_2d.T, x.reshape(T * B, x.shape[2]))
    if w.bias_ih is not None:
        db_ih = dgates_ih_2d.sum(axis=0)  # [Σdr|Σdz|Σdn]; Σdr and Σdz serve both sides
        w.bias_ih.grad += db_ih
        w.bias_hh.grad[: 2 * H] += db_ih[: 2 * H]
        w.bias_hh.grad[2 * H :] += dgates_hh_2d[:, 2 * H :].sum(axis=0)  # Σda
    dx = matmul_rows(dgates_ih_2d, w.weight_ih.data).reshape(x.shape)
    return dx, (dh_0,)


def _backward_loop(
    dy: np.ndarray,
    gates: np.ndarray,
    dgates_hh: np.ndarray,
    a: np.ndarray,
    h_prev: np.ndarray,
    dh_0: np.ndarray,
    W_hh: np.ndarray,
    reverse: bool,
    batch_sizes: np.ndarray | None,
) -> None:
    """The backward time loop: writes [dr|dz|dn] over `gates` and [dr|dz|da] into `dgates_hh`
    step by step, and leaves dh_0 (dh_n on entry) at the gradient of the initial state. B may
    be a block of rows.
    """
    T, B, G_H = gates.shape
    H = G_H // GATES
    # Per-step views, rows :n_t; dh_next runs back to dh_0. dr is the memory of r, dz of z,
    # dn of n: each gradient replaces its gate once the gate is used.
    bs = batch_sizes
    r, z, n_ = (step_views(v, bs) for v in _split(gates))
    dr, dz, dn = r, z, n_
    dr_dz = step_views(gates[..., : 2 * H], bs)
    dr_dz_hh, da = (step_views(v, bs) for v in (dgates_hh[..., : 2 * H], dgates_hh[..., 2 * H :]))
    dy, a, h_prev_t, dgates_hh_t = (step_views(v, bs) for v in (dy, a, h_prev, dgates_hh))
    dh_next = row_views(dh_0, T, bs)
    dh, dhz, one_z, s = (row_views(np.empty((B, H), dtype=gates.dtype), T, bs) for _ in range(4))

    for t in range(T) if reverse else range(T - 1, -1, -1):
        np.add(dy[t], dh_next[t], out=dh[t])  # dh_t = dy_t + dh_t'
        np.multiply(dh[t], z[t], out=dhz[t])  # dh_t ⊙ z_t, the part of dh_{t-1}' through z
        np.subtract(1, z[t], out=one_z[t])  # 1 − z_t
        # dz_t = dh_t ⊙ (h_{t-1} − n_t) ⊙ z_t(1 − z_t)
        np.subtract(h_prev_t[t], n_[t], out=s[t])
        np.multiply(z[t], one_z[t], out=dz[t])
        dz[t] *= s[t]
        dz[t] *= dh[t]
        # dn_t = dh_t ⊙ (1 − z_t) ⊙ (1 − n_t²)
        np.multiply(n_[t], n_[t], out=dn[t])
        np.subtract(1, dn[t], out=dn[t])
        dn[t] *= one_z[t]
        dn[t] *= dh[t]
        # da_t = dn_t ⊙ r_t;  dr_t = dn_t ⊙ a_t ⊙ r_t(1 − r_t) = da_t ⊙ a_t ⊙ (1 − r_t)
        np.multiply(dn[t], r[t], out=da[t])
        np.subtract(1, r[t], out=dr[t])
        dr[t] *= a[t]
        dr[t] *= da[t]
        dr_dz_hh[t][...] = dr_dz[t]  # the recurrent side shares dr and dz
        # dh_{t-1}' = dh_t ⊙ z_t + W_hhᵀ [dr_t|dz_t|da_t]
        np.matmul(dgates_hh_t[t], W_hh, out=dh_next[t])
        dh_next[t] += dhz[t]


class GRUCell(CellBase):
    """One GRU step, torch.nn.GRUCell's parameters and call; a loop over it is BPTT.

    >>> import numpy as np, gatednp as gn
    >>> cell = gn.GRUCell(3, 5, rng=0)
    >>> h = cell(np.ones((2, 3)))
    >>> dx, dh0 = cell.backward(np.ones((2, 5)))
    >>> h.shape, dx.shape, dh0.shape
    ((2, 5), (2, 3), (2, 5))
    """

    GATES = GATES
    STATE = ("h",)
    kernel_forward = staticmethod(forward)
    kernel_backward = staticmethod(backward)
