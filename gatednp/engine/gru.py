"""The GRU engine: gru.py's equations over a whole sequence, one layer and direction, fast.

Arranged as the LSTM engine (engine/lstm.py): the input projections of all steps in one GEMM
(the biases that can join them summed first), activations in place, the backward loop writing
the input-side gradients [dr|dz|dn] over the step's [r|z|n] once it has used them, the weight
GEMMs after the loop, and loops that take any block of batch rows (threads.split_rows). The two
sides of the GRU get different gradients (gru.py), so the recurrent side [dr|dz|da] goes to a
buffer of its own; with reset_after=False it is [dr|dz] and dn, and no buffer is needed.

With the reset gate after W_hn (torch's GRU) and B ≥ 2, both loops work each step on a
gate-major scratch, every gate one contiguous block: NumPy works a column slice of a (B, 3H) row
in 2-D, ~4× slower a call; the forward's h_{t-1} [W_hr|W_hz|W_hn]ᵀ is one batched matmul into
gate-major blocks (inference 0.76-0.89×, training 0.89-0.95× the row-major loop's time; at
B = 1, where a row's slices are contiguous already, 1.10-1.26×, so that stays row-major).

As in the LSTM engine, a GRU (reset after W_hn) whose gates take at most FEW_CALLS_MAX_BYTES
gets its local derivatives computed before the backward loop, which then makes eight NumPy
calls a step instead of about nineteen (engine/gru_few_calls.py; training step: tiny
0.79–0.80×, stream 0.80–0.92×, B = 1…4 0.83–0.93× the in-place loop's time; above ~1.2 MB of
gates 1.05–2.0×). Other
activations and `clip` take the in-place loop's general path, as in the LSTM engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from .. import workspace
from ..activations import Activation, activation_functions, clip_
from ..gru import ACTIVATIONS
from ..module import Weights
from ..packing import gate_major_views, row_views, scratch_views, step_views
from ..threads import matmul_rows, split_rows
from .gru_few_calls import backward_loop_few_calls, local_derivatives, split_gates

__all__ = ["forward", "backward", "GRUCache", "FEW_CALLS_MAX_BYTES"]

# The GRU's backward (reset after W_hn) precomputes every step's local derivatives when its
# gates take at most this many bytes (fewer calls a step, more passes over memory)
FEW_CALLS_MAX_BYTES = 1 << 20  # 1 MiB, measured (module docstring)


@dataclass
class GRUCache:
    """What backward needs from forward: inputs, states, post-activation gates and a_t."""

    w: Weights
    x: np.ndarray  # (T, B, I)
    h: np.ndarray  # (T+1, B, H): h_0 at the start of the direction, then each h_t
    gates: np.ndarray  # (T, B, 3H): [r|z|n] after σ / tanh
    a: np.ndarray  # (T, B, H): a_t = W_hn h_{t-1} + b_hn; with reset_after=False r_t ⊙ h_{t-1}
    reverse: bool
    batch_sizes: np.ndarray | None
    reset_after: bool
    acts: tuple[Activation, Activation] | None  # σ, φ; None: σ and tanh, the fast path
    kept: np.ndarray | None = None  # (T, B, 3H) with clip: where each gate's input was inside

    def activations(self) -> dict[str, np.ndarray]:
        """r, z, n and h at every step, (T, B, H) in the loop's time order."""
        r, z, n = split_gates(self.gates)
        return {"r": r, "z": z, "n": n, "h": self.h[0:-1] if self.reverse else self.h[1:]}


def forward(
    x: np.ndarray,
    state: tuple[np.ndarray],
    w: Weights,
    *,
    reverse: bool = False,
    batch_sizes: np.ndarray | None = None,
    keep_cache: bool = True,
    reset_after: bool = True,
    activations: tuple[str, ...] | None = None,
    activation_alpha: tuple | None = None,
    activation_beta: tuple | None = None,
    clip: float | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray], GRUCache | None]:
    """Run one layer in one direction over a whole sequence.

    Args and returns as `engine.lstm.forward`, with the state a 1-tuple `(h,)` of shape (B, H)
    and the cell's options `reset_after` and the activations (gru.py).
    """
    acts = None
    if activations is not None:
        acts = activation_functions(activations, activation_alpha, activation_beta, ACTIVATIONS)
    T, B, _ = x.shape
    W_ih, W_hh = w.weight_ih.data, w.weight_hh.data
    H = W_hh.shape[1]

    # Input projections of all steps in one GEMM; b_hr and b_hz join them, and so does b_hn
    # when r acts before W_hn; after it, b_hn is multiplied by r_t and added to a_t in the loop
    gates = workspace.empty((T, B, 3 * H), dtype=x.dtype)  # (T, B, 3H): [r|z|n]
    matmul_rows(x.reshape(T * B, x.shape[2]), W_ih.T, out=gates.reshape(T * B, 3 * H))
    b_hn = None
    if w.bias_ih is not None:  # one pass over the big buffer: [b_ir + b_hr | b_iz + b_hz | b_in]
        b_ih, b_hh = w.bias_ih.data, w.bias_hh.data
        if reset_after:
            gates += np.concatenate([b_ih[: 2 * H] + b_hh[: 2 * H], b_ih[2 * H :]])
            b_hn = b_hh[2 * H :]
        else:
            gates += b_ih + b_hh
    h = workspace.empty((T + 1, B, H), dtype=x.dtype)
    a = workspace.empty((T, B, H), dtype=x.dtype)
    h[T if reverse else 0] = state[0]

    σ, φ = acts or activation_functions(None, None, None, ACTIVATIONS)
    loop = partial(
        _forward_loop, W_hh=W_hh, b_hn=b_hn, reset_after=reset_after, reverse=reverse,
        σ_=σ.in_place(), φ_=φ.in_place(), clip=clip,
    )  # fmt: skip
    # The common case with B ≥ 2 on a gate-major scratch (B = 1: a row's slices are contiguous
    # already; measured 1.10-1.19x there, 0.76-0.95x from B = 2 up)
    if reset_after and clip is None and B >= 2:
        loop = partial(
            _forward_loop_gate_major, W_hh=W_hh, b_hn=b_hn, reverse=reverse,
            σ_=σ.in_place(), φ_=φ.in_place(), keep_cache=keep_cache,
        )  # fmt: skip
    kept = None if clip is None else np.ones(gates.shape, dtype=bool)
    split_rows(loop, T, H * x.itemsize, batch_sizes, gates=gates, h=h, a=a, kept=kept)

    y = h[:-1] if reverse else h[1:]
    cache = None
    if keep_cache:
        cache = GRUCache(w, x, h, gates, a, reverse, batch_sizes, reset_after, acts, kept)
    return y, (h[0 if reverse else T],), cache


def _forward_loop(
    gates, h, a, kept, *, W_hh, b_hn, reset_after, reverse, σ_, φ_, clip, batch_sizes
) -> None:
    """The forward time loop: activates `gates` in place and fills h and a.

    On entry gates (T, B, 3H) holds the input part of the pre-activations and h (T+1, B, H)
    the initial state at index 0 (T when reverse). Rows never meet, so B may be a block of rows.
    """
    T, B, G_H = gates.shape
    H = G_H // 3
    bs = batch_sizes
    # Per-step views, rows :n_t: step t reads h_prev[t] and writes h_cur[t]
    cur, prev = (slice(0, T), slice(1, T + 1)) if reverse else (slice(1, T + 1), slice(0, T))
    h_prev, h_cur, a_t = step_views(h[prev], bs), step_views(h[cur], bs), step_views(a, bs)
    r_z, r, z, n_ = (step_views(v, bs) for v in (gates[..., : 2 * H], *split_gates(gates)))
    hh_buf = workspace.empty((B, 3 * H), dtype=gates.dtype)  # scratch: h_{t-1} W_hhᵀ
    hh, hh_rz, hh_n = (
        row_views(v, T, bs) for v in (hh_buf, hh_buf[:, : 2 * H], hh_buf[:, 2 * H :])
    )
    ra = row_views(workspace.empty((B, H), dtype=gates.dtype), T, bs)  # scratch: r_t ⊙ a_t
    W_hrz, W_hn = W_hh[: 2 * H], W_hh[2 * H :]
    if clip is not None:  # ONNX's clip: each gate's input cut to [−clip, clip], where noted
        kept_rz, kept_n = (step_views(v, bs) for v in (kept[..., : 2 * H], kept[..., 2 * H :]))

    for t in range(T - 1, -1, -1) if reverse else range(T):
        # r_t, z_t = σ(hoisted input part + h_{t-1} W_hrᵀ, h_{t-1} W_hzᵀ)
        if reset_after:
            np.matmul(h_prev[t], W_hh.T, out=hh[t])  # [W_hr|W_hz|W_hn] h_{t-1}, one GEMM
        else:
            np.matmul(h_prev[t], W_hrz.T, out=hh_rz[t])  # W_hn waits for r_t
        r_z[t] += hh_rz[t]
        if clip is not None:
            clip_(r_z[t], clip, kept_rz[t], hh_rz[t])  # hh_rz[t] is used up
        σ_(r_z[t])  # σ in place
        if reset_after:
            # a_t = W_hn h_{t-1} + b_hn;  n_t = tanh(W_in x_t + b_in + r_t ⊙ a_t)
            if b_hn is None:
                a_t[t][...] = hh_n[t]
            else:
                np.add(hh_n[t], b_hn, out=a_t[t])
            np.multiply(r[t], a_t[t], out=ra[t])
            n_[t] += ra[t]
        else:
            # n_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn); a_t keeps r_t ⊙ h_{t-1}
            np.multiply(r[t], h_prev[t], out=a_t[t])
            n_[t] += np.matmul(a_t[t], W_hn.T, out=hh_n[t])
        if clip is not None:
            clip_(n_[t], clip, kept_n[t], ra[t])
        φ_(n_[t])  # φ = tanh in place, by default
        # h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}, computed as n_t + z_t ⊙ (h_{t-1} − n_t)
        np.subtract(h_prev[t], n_[t], out=h_cur[t])
        h_cur[t] *= z[t]
        h_cur[t] += n_[t]
        if bs is not None and bs[t] < B:
            _carry_finished(h, gates, a, t, bs[t], reverse)


def _forward_loop_gate_major(
    gates, h, a, kept, *, W_hh, b_hn, reverse, σ_, φ_, keep_cache, batch_sizes
) -> None:
    """`_forward_loop` for reset_after without clip, on a gate-major scratch: the step's
    hoisted [r|z|n] is copied so that each gate is one contiguous block (a column slice of the
    row-major block is ~4× slower a call: engine/lstm.py), h_{t-1} [W_hr|W_hz|W_hn]ᵀ is one
    batched matmul straight into gate-major blocks, and the activated gates go back row-major
    for the cache (training only)."""
    T, B, G_H = gates.shape
    H = G_H // 3
    bs = batch_sizes
    cur, prev = (slice(0, T), slice(1, T + 1)) if reverse else (slice(1, T + 1), slice(0, T))
    h_prev, h_cur, a_t = step_views(h[prev], bs), step_views(h[cur], bs), step_views(a, bs)
    scratch, hh_buf = (workspace.empty((3, B, H), gates.dtype) for _ in range(2))
    gm, rz = scratch_views(scratch, T, bs), scratch_views(scratch[:2], T, bs)  # [r|z|n]
    r, z, n_ = (row_views(scratch[k], T, bs) for k in range(3))
    hh, hh_rz = scratch_views(hh_buf, T, bs), scratch_views(hh_buf[:2], T, bs)  # h_{t-1} W_hᵀ
    hh_n = row_views(hh_buf[2], T, bs)
    rows = gate_major_views(gates, 3, bs)
    W_gm = W_hh.reshape(3, H, H).transpose(0, 2, 1)  # (3, H, H): W_hrᵀ, W_hzᵀ, W_hnᵀ
    ra = row_views(workspace.empty((B, H), dtype=gates.dtype), T, bs)  # scratch: r_t ⊙ a_t

    for t in range(T - 1, -1, -1) if reverse else range(T):
        np.copyto(gm[t], rows[t])  # the hoisted input part, gate-major
        np.matmul(h_prev[t], W_gm, out=hh[t])  # [W_hr|W_hz|W_hn] h_{t-1}, one call
        rz[t] += hh_rz[t]  # r_t, z_t = σ(input part + h_{t-1} W_h(r|z)ᵀ)
        σ_(rz[t])
        if b_hn is None:  # a_t = W_hn h_{t-1} + b_hn;  n_t = tanh(input part + r_t ⊙ a_t)
            a_t[t][...] = hh_n[t]
        else:
            np.add(hh_n[t], b_hn, out=a_t[t])
        np.multiply(r[t], a_t[t], out=ra[t])
        n_[t] += ra[t]
        φ_(n_[t])
        # h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}, computed as n_t + z_t ⊙ (h_{t-1} − n_t)
        np.subtract(h_prev[t], n_[t], out=h_cur[t])
        h_cur[t] *= z[t]
        h_cur[t] += n_[t]
        if keep_cache:
            np.copyto(rows[t], gm[t])  # the activated gates, row-major, for backward
        if bs is not None and bs[t] < B:
            _carry_finished(h, gates, a, t, bs[t], reverse)


def _carry_finished(h, gates, a, t: int, n: int, reverse: bool) -> None:
    """Rows n: of step t have ended their sequence: they carry their state to the next index,
    and their gates and a_t are zeroed, which gives them no gradient in backward."""
    src, dst = (t + 1, t) if reverse else (t, t + 1)
    h[dst, n:] = h[src, n:]
    gates[t, n:] = 0
    a[t, n:] = 0


def backward(
    cache: GRUCache, dy: np.ndarray, dstate: tuple[np.ndarray]
) -> tuple[np.ndarray, tuple[np.ndarray]]:
    """BPTT through one layer and direction; accumulates into the parameters' `.grad`.

    Args and returns as `engine.lstm.backward`, with the state gradient a 1-tuple `(dh,)`; the
    cache is consumed (each step's gates are overwritten by their gradients).
    """
    w, x, h, gates, a = cache.w, cache.x, cache.h, cache.gates, cache.a
    T, B, _ = x.shape
    H = h.shape[-1]
    h_prev = h[1:] if cache.reverse else h[:-1]  # (T, B, H): h_{t-1} of each step

    # The input side [dr|dz|dn] is written over the step's [r|z|n] once they are used (the
    # block stays in cache, no second buffer of that size); the recurrent side [dr|dz|da] goes
    # to its own buffer, whose every row the loop writes but those past a sequence's end, which
    # stay zero in both (forward zeroed the gates; the recurrent side is zeroed only then)
    dgates_ih = gates  # (T, B, 3H): [dr|dz|dn]
    dgates_hh = None  # (T, B, 3H): [dr|dz|da]
    if cache.reset_after:
        new = workspace.empty if cache.batch_sizes is None else workspace.zeros
        dgates_hh = new(gates.shape, gates.dtype)
    dh_0 = np.array(dstate[0], dtype=x.dtype)  # (B, H): dh_n, run back to dh_0

    few_calls = cache.reset_after and cache.acts is None and cache.kept is None
    if few_calls and gates.nbytes <= FEW_CALLS_MAX_BYTES:  # small: fewer calls a step
        r, z = local_derivatives(gates, a, h_prev, cache.batch_sizes)
        loop = partial(backward_loop_few_calls, W_hh=w.weight_hh.data, reverse=cache.reverse)
        split_rows(
            loop, T, H * x.itemsize, cache.batch_sizes,
            dy=dy, gates=gates, dgates_hh=dgates_hh, r=r, z=z, dh_0=dh_0,
        )  # fmt: skip
    else:  # large: each step's block is worked on while it is in cache
        loop = partial(
            _backward_loop, W_hh=w.weight_hh.data, reset_after=cache.reset_after,
            reverse=cache.reverse, acts=cache.acts,
        )  # fmt: skip
        split_rows(
            loop, T, H * x.itemsize, cache.batch_sizes,
            dy=dy, gates=gates, dgates_hh=dgates_hh, a=a, h_prev=h_prev, dh_0=dh_0, kept=cache.kept,
        )  # fmt: skip

    dgates_ih_2d = dgates_ih.reshape(T * B, 3 * H)
    h_prev_2d = h_prev.reshape(T * B, H)
    if cache.reset_after:
        dgates_hh_2d = dgates_hh.reshape(T * B, 3 * H)
        w.weight_hh.grad += matmul_rows(dgates_hh_2d.T, h_prev_2d)
    else:  # dW_hr, dW_hz from [dr|dz] and h_{t-1}; dW_hn from dn and r ⊙ h_{t-1} (kept in a)
        w.weight_hh.grad[: 2 * H] += matmul_rows(dgates_ih_2d[:, : 2 * H].T, h_prev_2d)
        w.weight_hh.grad[2 * H :] += matmul_rows(dgates_ih_2d[:, 2 * H :].T, a.reshape(T * B, H))
    w.weight_ih.grad += matmul_rows(dgates_ih_2d.T, x.reshape(T * B, x.shape[2]))
    if w.bias_ih is not None:
        db_ih = dgates_ih_2d.sum(axis=0)  # [Σdr|Σdz|Σdn]; Σdr and Σdz serve both sides
        w.bias_ih.grad += db_ih
        w.bias_hh.grad[: 2 * H] += db_ih[: 2 * H]
        if cache.reset_after:
            w.bias_hh.grad[2 * H :] += dgates_hh_2d[:, 2 * H :].sum(axis=0)  # Σda
        else:
            w.bias_hh.grad[2 * H :] += db_ih[2 * H :]  # b_hn sits beside W_hn: Σdn
    dx = matmul_rows(dgates_ih_2d, w.weight_ih.data).reshape(x.shape)
    return dx, (dh_0,)


def _backward_loop(
    dy, gates, dgates_hh, a, h_prev, dh_0, kept, *, W_hh, reset_after, reverse, acts, batch_sizes
) -> None:
    """The backward time loop: writes [dr|dz|dn] over `gates` (and [dr|dz|da] into `dgates_hh`)
    step by step, and leaves dh_0 (dh_n on entry) at the gradient of the initial state. B may
    be a block of rows.
    """
    T, B, G_H = gates.shape
    H = G_H // 3
    # Per-step views, rows :n_t; dh_next runs back to dh_0. dr is the memory of r, dz of z,
    # dn of n: each gradient replaces its gate once the gate is used.
    bs = batch_sizes
    r, z, n_ = (step_views(v, bs) for v in split_gates(gates))
    dr_dz = step_views(gates[..., : 2 * H], bs)
    if reset_after:
        # The step's [r|z|n] is copied gate-major into a scratch [r|z|n|·], each gate one
        # contiguous block (a column slice of the row-major block is ~4× slower a call: the
        # LSTM's backward loop), da goes to its fourth block, and [dr|dz|dn], [dr|dz|da] go back
        # row-major for the GEMMs
        scratch = workspace.empty((4, B, H), gates.dtype)
        rzn, dr_dz_gm = scratch_views(scratch[:3], T, bs), scratch_views(scratch[:2], T, bs)
        r, z, n_, da = (row_views(scratch[k], T, bs) for k in range(4))
        rows, hh_rows = gate_major_views(gates, 3, bs), gate_major_views(dgates_hh, 3, bs)
        dr_dz_hh, da_hh = [v[:2] for v in hh_rows], [v[2] for v in hh_rows]
        dgates_hh_t = step_views(dgates_hh, bs)
    dr, dz, dn = r, z, n_
    dy, a, h_prev_t = (step_views(v, bs) for v in (dy, a, h_prev))
    dh_next = row_views(dh_0, T, bs)
    dh, dhz, u, s = (row_views(workspace.empty((B, H), dtype=gates.dtype), T, bs) for _ in range(4))
    W_hrz, W_hn = W_hh[: 2 * H], W_hh[2 * H :]
    σ, φ = acts or (None, None)  # None: σ' = σ(1 − σ) and tanh' = 1 − tanh², in place
    # With clip, each gate's gradient is 0 where its input was cut, as soon as it is computed
    cut_r, cut_z, cut_n = (
        (None,) * 3 if kept is None else (step_views(v, bs) for v in split_gates(kept))
    )

    for t in range(T) if reverse else range(T - 1, -1, -1):
        if reset_after:
            np.copyto(rzn[t], rows[t])  # the step's gates, gate-major
        np.add(dy[t], dh_next[t], out=dh[t])  # dh_t = dy_t + dh_t'
        np.multiply(dh[t], z[t], out=dhz[t])  # dh_t ⊙ z_t, the part of dh_{t-1}' through z
        np.subtract(dh[t], dhz[t], out=u[t])  # u_t = dh_t ⊙ (1 − z_t), shared by dz_t and dn_t
        # dz_t = dh_t ⊙ (h_{t-1} − n_t) ⊙ z_t(1 − z_t) = z_t ⊙ (h_{t-1} − n_t) ⊙ u_t
        np.subtract(h_prev_t[t], n_[t], out=s[t])
        if σ is not None:  # σ'(z_t) ⊙ (h_{t-1} − n_t) ⊙ dh_t in general
            np.copyto(dz[t], σ.grad(z[t]))
        dz[t] *= s[t]
        dz[t] *= u[t] if σ is None else dh[t]
        if kept is not None:
            dz[t] *= cut_z[t]
        # dn_t = dh_t ⊙ (1 − z_t) ⊙ (1 − n_t²) = u_t ⊙ (1 − n_t²)  (φ'(…) read off n_t in general)
        if φ is None:
            np.multiply(n_[t], n_[t], out=dn[t])
            np.subtract(1, dn[t], out=dn[t])
        else:
            np.copyto(dn[t], φ.grad(n_[t]))
        dn[t] *= u[t]
        if kept is not None:
            dn[t] *= cut_n[t]
        if reset_after:
            # da_t = dn_t ⊙ r_t;  dr_t = dn_t ⊙ a_t ⊙ r_t(1 − r_t) = da_t ⊙ a_t ⊙ (1 − r_t)
            np.multiply(dn[t], r[t], out=da[t])
            np.subtract(1, r[t], out=dr[t]) if σ is None else np.copyto(dr[t], σ.grad(r[t]))
            dr[t] *= a[t]
            dr[t] *= da[t] if σ is None else dn[t]
            if kept is not None:
                dr[t] *= cut_r[t]
            np.copyto(rows[t], rzn[t])  # [dr|dz|dn] over the gates, row-major
            np.copyto(dr_dz_hh[t], dr_dz_gm[t])  # the recurrent side shares dr and dz
            np.copyto(da_hh[t], da[t])
            # dh_{t-1}' = dh_t ⊙ z_t + W_hhᵀ [dr_t|dz_t|da_t]
            np.matmul(dgates_hh_t[t], W_hh, out=dh_next[t])
        else:
            # drh_t = W_hnᵀ dn_t (into s);  dr_t = drh_t ⊙ h_{t-1} ⊙ r_t(1 − r_t)
            np.matmul(dn[t], W_hn, out=s[t])
            if σ is not None:  # σ'(r_t) ⊙ h_{t-1} ⊙ drh_t, while r_t and drh_t are there
                dr_t = σ.grad(r[t]) * h_prev_t[t] * s[t]
            s[t] *= r[t]  # drh_t ⊙ r_t, the part of dh_{t-1}' through r_t ⊙ h_{t-1}
            if σ is None:
                np.subtract(1, r[t], out=dr[t])
                dr[t] *= h_prev_t[t]
                dr[t] *= s[t]
            else:
                np.copyto(dr[t], dr_t)
            if kept is not None:
                dr[t] *= cut_r[t]
            # dh_{t-1}' = dh_t ⊙ z_t + drh_t ⊙ r_t + [W_hr|W_hz]ᵀ [dr_t|dz_t]
            np.matmul(dr_dz[t], W_hrz, out=dh_next[t])
            dh_next[t] += s[t]
        dh_next[t] += dhz[t]
