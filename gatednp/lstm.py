"""The LSTM: its gate math, forward and backward through time for one layer, and LSTMCell.

Shapes: T steps, B batch, I input features, H hidden units, P = proj_size (P = H without a
projection). Parameters use torch's fused layout, gate order i, f, g, o:
    weight_ih (4H, I) = [W_ii|W_if|W_ig|W_io]    bias_ih (4H,) = [b_ii|b_if|b_ig|b_io]
    weight_hh (4H, P) = [W_hi|W_hf|W_hg|W_ho]    bias_hh (4H,) = [b_hi|b_hf|b_hg|b_ho]
    weight_hr (P, H)                             (only with proj_size > 0)

Forward, for each step t (torch's equations):
    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)       input gate
    f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)       forget gate
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)    candidate cell
    o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)       output gate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    m_t = o_t ⊙ tanh(c_t)
    h_t = m_t                      (h_t = W_hr m_t with a projection)

Backward, from the last step to the first; dh_t = dy_t + what step t+1 sends back:
    dm_t = dh_t                    (dm_t = W_hrᵀ dh_t with a projection)
    do_t = dm_t ⊙ tanh(c_t) ⊙ o_t(1 − o_t)
    dc_t = dc_t' + dm_t ⊙ o_t ⊙ (1 − tanh²(c_t))       dc_t' = what step t+1 sends back
    di_t = dc_t ⊙ g_t ⊙ i_t(1 − i_t)
    df_t = dc_t ⊙ c_{t-1} ⊙ f_t(1 − f_t)
    dg_t = dc_t ⊙ i_t ⊙ (1 − g_t²)
    dc_{t-1}' = dc_t ⊙ f_t
    dh_{t-1}' = W_hhᵀ [di_t|df_t|dg_t|do_t]
and once, over all steps, with dgates_t = [di_t|df_t|dg_t|do_t]:
    dW_ih = Σ_t dgates_t x_tᵀ     dW_hh = Σ_t dgates_t h_{t-1}ᵀ     dW_hr = Σ_t dh_t m_tᵀ
    db_ih = db_hh = Σ_t dgates_t   dx_t = W_ihᵀ dgates_t

In code the batch is the leading axis, so `W x` is written `x @ W.T`. How the loops stay fast
(DESIGN.md): the input projections of all steps are one GEMM before the forward loop; inside
it, one σ covers the step's whole contiguous [i|f|g|o] block (g through tanh(x) = 2σ(2x) − 1);
the backward loop writes [di|df|dg|do] over the step's [i|f|g|o], which it reads for the last
time, so each step's block is worked on while it is in cache and no second (T, B, 4H) buffer
exists; the weight gradients are one GEMM each after that loop. The two time loops,
`_forward_loop` and `_backward_loop`, take any block of batch rows (rows never meet inside a
layer): with `gn.set_num_threads(n)` the batch is split over n threads (threads.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import sigmoid_, tanh
from .cells import CellBase
from .module import Weights
from .packing import row_views, step_views
from .threads import block_batch_sizes, matmul_rows, run_row_blocks

__all__ = ["LSTMCell", "forward", "backward"]

GATES = 4


@dataclass
class LSTMCache:
    """What backward needs from forward: inputs, states and post-activation gates."""

    w: Weights
    x: np.ndarray  # (T, B, I)
    h: np.ndarray  # (T+1, B, P): h_0 at the start of the direction, then each h_t
    c: np.ndarray  # (T+1, B, H): likewise
    gates: np.ndarray  # (T, B, 4H): [i|f|g|o] after σ / tanh
    tanh_c: np.ndarray  # (T, B, H)
    m: np.ndarray | None  # (T, B, H): o ⊙ tanh(c), kept only with a projection
    reverse: bool
    batch_sizes: np.ndarray | None


def _split(a: np.ndarray) -> tuple[np.ndarray, ...]:
    """Named views of the gate axis: [i|f|g|o] -> i, f, g, o."""
    H = a.shape[-1] // GATES
    return tuple(a[..., k * H : (k + 1) * H] for k in range(GATES))


def forward(
    x: np.ndarray,
    state: tuple[np.ndarray, np.ndarray],
    w: Weights,
    *,
    reverse: bool = False,
    batch_sizes: np.ndarray | None = None,
    keep_cache: bool = True,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], LSTMCache | None]:
    """Run one layer in one direction over a whole sequence.

    Args:
        x: (T, B, I) time-major input, C-contiguous.
        state: (h_0, c_0), shapes (B, P) and (B, H).
        w: the layer's parameters.
        reverse: walk the steps from T-1 down to 0 (the reverse direction); the state before
            step t is then the one after step t+1.
        batch_sizes: (T,) non-increasing counts of sequences still running at each step, the
            batch sorted by decreasing length (torch's PackedSequence); the other rows keep
            their state. None means all B rows at every step.
        keep_cache: keep what backward needs (training); False is the inference path.

    Returns:
        y (T, B, P) a view of the per-step outputs h_t; (h_n, c_n), each (B, ·); the cache.
    """
    T, B, _ = x.shape
    W_ih, W_hh = w.weight_ih.data, w.weight_hh.data
    H = W_hh.shape[0] // GATES
    P = W_hh.shape[1]
    W_hr = None if w.weight_hr is None else w.weight_hr.data

    # Input projections of all steps in one GEMM: gates_t = x_t W_ihᵀ + b_ih + b_hh
    gates = np.empty((T, B, GATES * H), dtype=x.dtype)  # (T, B, 4H): [i|f|g|o]
    matmul_rows(x.reshape(T * B, x.shape[2]), W_ih.T, out=gates.reshape(T * B, GATES * H))
    if w.bias_ih is not None:
        gates += w.bias_ih.data + w.bias_hh.data  # one pass over the big buffer, not two
    h = np.empty((T + 1, B, P), dtype=x.dtype)  # states, in the order of the time axis
    c = np.empty((T + 1, B, H), dtype=x.dtype)
    tanh_c = np.empty((T, B, H), dtype=x.dtype)
    m = tanh_c if W_hr is None else np.empty((T, B, H), dtype=x.dtype)
    start = T if reverse else 0
    h[start], c[start] = state

    def rows(lo: int, hi: int) -> None:  # the time loop over batch rows lo:hi
        blocks = (a[:, lo:hi] for a in (gates, h, c, tanh_c, m))
        _forward_loop(*blocks, W_hh, W_hr, reverse, block_batch_sizes(batch_sizes, lo, hi))

    # all rows at once, or one block of rows per thread (gn.set_num_threads, threads.py)
    run_row_blocks(rows, B, T, row_bytes=H * x.itemsize)

    end = 0 if reverse else T
    y = h[:-1] if reverse else h[1:]
    cache = None
    if keep_cache:
        cache = LSTMCache(
            w, x, h, c, gates, tanh_c, None if W_hr is None else m, reverse, batch_sizes
        )
    return y, (h[end], c[end]), cache


def _forward_loop(
    gates: np.ndarray,
    h: np.ndarray,
    c: np.ndarray,
    tanh_c: np.ndarray,
    m: np.ndarray,
    W_hh: np.ndarray,
    W_hr: np.ndarray | None,
    reverse: bool,
    batch_sizes: np.ndarray | None,
) -> None:
    """The forward time loop: activates `gates` in place and fills h, c, tanh_c and m.

    On entry gates (T, B, 4H) holds the input part of the pre-activations and h, c (T+1, B, ·)
    the initial state at index 0 (T when reverse). Rows never meet, so B may be a block of rows.
    """
    T, B, _ = gates.shape
    bs = batch_sizes
    # Per-step views, rows :n_t: step t reads h_prev[t], c_prev[t], writes h_cur[t], c_cur[t]
    cur, prev = (slice(0, T), slice(1, T + 1)) if reverse else (slice(1, T + 1), slice(0, T))
    h_prev, c_prev, h_cur, c_cur = (step_views(a, bs) for a in (h[prev], c[prev], h[cur], c[cur]))
    ifgo, i, f, g, o = (step_views(a, bs) for a in (gates, *_split(gates)))
    tanh_cur, m_cur = step_views(tanh_c, bs), step_views(m, bs)
    hh = row_views(np.empty(gates.shape[1:], dtype=gates.dtype), T, bs)  # h_{t-1} W_hhᵀ
    ig = row_views(np.empty(c.shape[1:], dtype=gates.dtype), T, bs)  # scratch: i_t ⊙ g_t

    for t in range(T - 1, -1, -1) if reverse else range(T):
        # Pre-activations: add the recurrent part h_{t-1} W_hhᵀ to the hoisted input part
        np.matmul(h_prev[t], W_hh.T, out=hh[t])
        ifgo[t] += hh[t]
        # i_t, f_t, o_t = σ(…);  g_t = tanh(…) = 2σ(2·…) − 1, so one σ covers the whole block
        g[t] *= 2
        sigmoid_(ifgo[t])
        g[t] *= 2
        g[t] -= 1
        # c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        np.multiply(f[t], c_prev[t], out=c_cur[t])
        np.multiply(i[t], g[t], out=ig[t])
        c_cur[t] += ig[t]
        # m_t = o_t ⊙ tanh(c_t);  h_t = m_t, or W_hr m_t
        tanh(c_cur[t], out=tanh_cur[t])
        if W_hr is None:
            np.multiply(o[t], tanh_cur[t], out=h_cur[t])
        else:
            np.multiply(o[t], tanh_cur[t], out=m_cur[t])
            np.matmul(m_cur[t], W_hr.T, out=h_cur[t])
        n = B if bs is None else bs[t]
        if n < B:  # finished sequences carry their state; zero gates give them no gradient
            src, dst = (t + 1, t) if reverse else (t, t + 1)
            h[dst, n:] = h[src, n:]
            c[dst, n:] = c[src, n:]
            gates[t, n:] = 0
            tanh_c[t, n:] = 0
            m[t, n:] = 0  # the same buffer as tanh_c unless there is a projection


def backward(
    cache: LSTMCache, dy: np.ndarray, dstate: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """BPTT through one layer and direction; accumulates into the parameters' `.grad`.

    Args:
        cache: from `forward(..., keep_cache=True)`; it is consumed: each step's gates are
            overwritten by their gradients.
        dy: (T, B, P) gradient of the loss with respect to y; zero at padded steps.
        dstate: (dh_n, dc_n), each (B, ·): gradient with respect to the final state.

    Returns:
        dx (T, B, I) and (dh_0, dc_0).
    """
    w, x, h, c, gates = cache.w, cache.x, cache.h, cache.c, cache.gates
    T, B, _ = x.shape
    H, P = c.shape[-1], h.shape[-1]
    W_hh = w.weight_hh.data
    W_hr = None if w.weight_hr is None else w.weight_hr.data
    h_prev = h[1:] if cache.reverse else h[:-1]  # (T, B, P): h_{t-1} of each step
    c_prev = c[1:] if cache.reverse else c[:-1]

    # A step's gates are last read by that step of the loop, so [di|df|dg|do] is written over
    # [i|f|g|o] there: the block stays in cache while it is used, and no second (T, B, 4H)
    # buffer is needed. Rows past a sequence's end were zeroed by forward and stay zero.
    dgates = gates  # (T, B, 4H)
    dh_0, dc_0 = (np.array(d, dtype=x.dtype) for d in dstate)  # (B, P), (B, H): running
    dh = np.zeros((T if W_hr is not None else 1, B, P), dtype=x.dtype)  # all kept for dW_hr

    def rows(lo: int, hi: int) -> None:  # the time loop over batch rows lo:hi
        blocks = (a[:, lo:hi] for a in (dy, gates, cache.tanh_c, c_prev, dh))
        bs = block_batch_sizes(cache.batch_sizes, lo, hi)
        _backward_loop(*blocks, dh_0[lo:hi], dc_0[lo:hi], W_hh, W_hr, cache.reverse, bs)

    # all rows at once, or one block of rows per thread (gn.set_num_threads, threads.py)
    run_row_blocks(rows, B, T, row_bytes=H * x.itemsize)

    # Weight gradients and dx over all steps at once
    dgates_2d = dgates.reshape(T * B, GATES * H)
    w.weight_ih.grad += matmul_rows(dgates_2d.T, x.reshape(T * B, x.shape[2]))
    w.weight_hh.grad += matmul_rows(dgates_2d.T, h_prev.reshape(T * B, P))
    if w.bias_ih is not None:
        db = dgates_2d.sum(axis=0)
        w.bias_ih.grad += db
        w.bias_hh.grad += db
    if W_hr is not None:
        w.weight_hr.grad += dh.reshape(T * B, P).T @ cache.m.reshape(T * B, H)
    dx = matmul_rows(dgates_2d, w.weight_ih.data).reshape(x.shape)
    return dx, (dh_0, dc_0)


def _backward_loop(
    dy: np.ndarray,
    gates: np.ndarray,
    tanh_c: np.ndarray,
    c_prev: np.ndarray,
    dh: np.ndarray,
    dh_0: np.ndarray,
    dc_0: np.ndarray,
    W_hh: np.ndarray,
    W_hr: np.ndarray | None,
    reverse: bool,
    batch_sizes: np.ndarray | None,
) -> None:
    """The backward time loop: writes [di|df|dg|do] over `gates` step by step, fills dh (every
    step's with a projection, else scratch) and leaves dh_0, dc_0 (which hold dh_n, dc_n on
    entry) at the gradients of the initial state. B may be a block of rows.
    """
    T, B, _ = gates.shape
    H = c_prev.shape[-1]
    # Per-step views, rows :n_t; dh_next, dc_next run back to dh_0, dc_0. di is the memory of
    # i, df of f, dg of g, do of o: each gradient replaces its gate once the gate is used.
    bs = batch_sizes
    i, f, g, o = (step_views(a, bs) for a in _split(gates))
    di, df, dg, do = i, f, g, o
    dy, tanh_c, c_prev, dgates_t = (step_views(a, bs) for a in (dy, tanh_c, c_prev, gates))
    dh_t = step_views(dh, bs) if W_hr is not None else row_views(dh[0], T, bs)
    dm = dh_t if W_hr is None else row_views(np.empty((B, H), dtype=gates.dtype), T, bs)
    dh_next, dc_next = row_views(dh_0, T, bs), row_views(dc_0, T, bs)
    dc, dm_o, dc_i = (row_views(np.empty((B, H), dtype=gates.dtype), T, bs) for _ in range(3))

    for t in range(T) if reverse else range(T - 1, -1, -1):
        # dh_t = dy_t + dh_t';  dm_t = dh_t, or W_hrᵀ dh_t
        np.add(dy[t], dh_next[t], out=dh_t[t])
        if W_hr is not None:
            np.matmul(dh_t[t], W_hr, out=dm[t])
        np.multiply(dm[t], o[t], out=dm_o[t])  # dm_t ⊙ o_t, shared by dc_t and do_t
        # dc_t = dc_t' + dm_t ⊙ o_t ⊙ (1 − tanh²(c_t))
        np.multiply(tanh_c[t], tanh_c[t], out=dc[t])
        np.subtract(1, dc[t], out=dc[t])
        dc[t] *= dm_o[t]
        dc[t] += dc_next[t]
        # do_t = dm_t ⊙ tanh(c_t) ⊙ o_t(1 − o_t)
        np.subtract(1, o[t], out=do[t])
        do[t] *= tanh_c[t]
        do[t] *= dm_o[t]
        # di_t = dc_t ⊙ g_t ⊙ i_t(1 − i_t);  dg_t = dc_t ⊙ i_t ⊙ (1 − g_t²)
        np.multiply(dc[t], i[t], out=dc_i[t])
        np.subtract(1, i[t], out=di[t])
        di[t] *= g[t]
        di[t] *= dc_i[t]
        np.multiply(g[t], g[t], out=dg[t])
        np.subtract(1, dg[t], out=dg[t])
        dg[t] *= dc_i[t]
        # dc_{t-1}' = dc_t ⊙ f_t (the carousel);  df_t = dc_t ⊙ c_{t-1} ⊙ f_t(1 − f_t),
        # computed as dc_{t-1}' ⊙ c_{t-1} ⊙ (1 − f_t)
        np.multiply(dc[t], f[t], out=dc_next[t])
        np.subtract(1, f[t], out=df[t])
        df[t] *= c_prev[t]
        df[t] *= dc_next[t]
        # dh_{t-1}' = W_hhᵀ [di_t|df_t|dg_t|do_t]
        np.matmul(dgates_t[t], W_hh, out=dh_next[t])


class LSTMCell(CellBase):
    """One LSTM step, torch.nn.LSTMCell's parameters and call; a loop over it is BPTT.

    Each call keeps its own cache; `backward` walks them back newest first, so a hand-written
    loop of T calls followed by T backward calls is backpropagation through time.

    >>> import numpy as np, gatednp as gn
    >>> cell = gn.LSTMCell(3, 5, rng=0)
    >>> h, c = cell(np.ones((2, 3)))
    >>> h.shape, c.shape
    ((2, 5), (2, 5))
    >>> dx, (dh0, dc0) = cell.backward((np.ones((2, 5)), None))
    >>> dx.shape
    (2, 3)
    """

    GATES = GATES
    STATE = ("h", "c")
    kernel_forward = staticmethod(forward)
    kernel_backward = staticmethod(backward)
