"""The LSTM engine: lstm.py's equations over a whole sequence, one layer and direction, fast.

The math is lstm.py's, step for step (tests/test_engine.py proves the two equal); what differs
is how it is arranged for NumPy (T steps, B batch, G gates of H units, P = H or proj_size):
- the input projections of all steps are one GEMM before the forward loop, into a (T, B, G·H)
  buffer; the two biases are summed first, so the buffer is passed over once;
- in the loop, one tanh covers the step's contiguous [i|f|g|o] block (σ(x) = ½ tanh(½x) + ½:
  activations.lstm_block), everything is written in place (`out=`), per-step views are built once;
  with peepholes, o waits for the new c and gets its own σ;
- the backward loop writes [di|df|dg|do] over the step's [i|f|g|o], which it reads for the last
  time there, so the block is worked on while it is in cache and no second (T, B, G·H) buffer
  exists; the weight gradients are one GEMM each after the loop. For the plain LSTM whose gates
  take at most FEW_CALLS_MAX_BYTES, every step's local derivatives are computed first, in ten
  vectorised passes, and the loop makes seven NumPy calls a step instead of about twenty: at
  such sizes the per-call cost dominates (training step: tiny 0.72–0.75×, stream 500×1×8×64
  0.75–0.78×, B = 4 0.80–0.92× the in-place loop's time; from ~3 MB of gates 1.04–1.14×);
- the (T, B, ·) buffers come from workspace.py, which hands a buffer out again once nothing
  holds it: a fresh large array is pages the system must fault in at every call (a training
  step of 100×64×2×64 made ~2,400 page faults; with reuse none);
- the loops take any block of batch rows (rows never meet inside a layer): with
  `gn.set_num_threads(n)` the batch is split over n threads (threads.split_rows);
- other activations than σ, tanh, tanh (activations.py) take a general path in the same loops:
  each function in place, each derivative read off its output; with `clip`, a boolean mask per
  gate (T, B, G·H) records where the inputs were inside the bounds, and each gate's gradient is
  masked as soon as it is computed. The defaults' path is the one measured above.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from .. import workspace
from ..activations import clip_, lstm_block, sigmoid_, tanh
from ..lstm import gate_names
from ..module import Weights
from ..packing import gate_major_views, row_views, scratch_views, step_views
from ..threads import matmul_rows, split_rows
from .lstm_few_calls import backward_loop_few_calls, local_derivatives
from .lstm_parts import LSTMCache, cell_activations, folded_scale, peephole_arrays, split_gates

__all__ = ["forward", "backward", "LSTMCache", "FEW_CALLS_MAX_BYTES"]

# The plain LSTM's backward precomputes every step's local derivatives when its gates take at
# most this many bytes (fewer calls a step, more passes over memory: see `backward`)
FEW_CALLS_MAX_BYTES = 1 << 21  # 2 MiB, measured (module docstring)


def forward(
    x: np.ndarray,
    state: tuple[np.ndarray, np.ndarray],
    w: Weights,
    *,
    reverse: bool = False,
    batch_sizes: np.ndarray | None = None,
    keep_cache: bool = True,
    **options: str,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], LSTMCache | None]:
    """Run one layer in one direction over a whole sequence.

    Args:
        x: (T, B, I) time-major input, C-contiguous.
        state: (h_0, c_0), shapes (B, P) and (B, H).
        w: the layer's parameters (`Parameter`s).
        reverse: walk the steps from T-1 down to 0 (the reverse direction); the state before
            step t is then the one after step t+1.
        batch_sizes: (T,) non-increasing counts of sequences still running at each step, the
            batch sorted by decreasing length (torch's PackedSequence); the other rows keep
            their state. None means all B rows at every step.
        keep_cache: keep what backward needs (training); False is the inference path.
        **options: the cell's options (lstm.py): forget_gate, input_gate, output_gate.

    Returns:
        y (T, B, P) a view of the per-step outputs h_t; (h_n, c_n), each (B, ·); the cache.
    """
    T, B, _ = x.shape
    W_ih, W_hh = w.weight_ih.data, w.weight_hh.data
    GH, P = W_hh.shape
    H = GH // len(gate_names(**options))
    W_hr = None if w.weight_hr is None else w.weight_hr.data

    scale = folded_scale(w, options, T * B)  # ½ on the rows of i, f, o, or None
    if scale is not None:
        W_ih, W_hh = W_ih * scale[:, None], W_hh * scale[:, None]

    # Input projections of all steps in one GEMM: gates_t = x_t W_ihᵀ + b_ih + b_hh
    gates = workspace.empty((T, B, GH), dtype=x.dtype)  # (T, B, G·H): [i|f|g|o]
    matmul_rows(x.reshape(T * B, x.shape[2]), W_ih.T, out=gates.reshape(T * B, GH))
    if w.bias_ih is not None:
        bias = w.bias_ih.data + w.bias_hh.data  # one pass over the big buffer, not two
        gates += bias if scale is None else bias * scale
    h = workspace.empty((T + 1, B, P), dtype=x.dtype)  # states, in the order of the time axis
    c = workspace.empty((T + 1, B, H), dtype=x.dtype)
    tanh_c = workspace.empty((T, B, H), dtype=x.dtype)
    m = tanh_c if W_hr is None else workspace.empty((T, B, H), dtype=x.dtype)
    start = T if reverse else 0
    h[start], c[start] = state

    loop = partial(
        _forward_loop, W_hh=W_hh, W_hr=W_hr, peepholes=peephole_arrays(w), options=options,
        reverse=reverse, prescaled=scale is not None,
    )  # fmt: skip
    kept = None if options.get("clip") is None else np.ones(gates.shape, dtype=bool)
    split_rows(
        loop, T, H * x.itemsize, batch_sizes, gates=gates, h=h, c=c, tanh_c=tanh_c, m=m, kept=kept
    )

    end = 0 if reverse else T
    y = h[:-1] if reverse else h[1:]
    cache = None
    if keep_cache:
        m_kept = None if W_hr is None else m
        cache = LSTMCache(w, x, h, c, gates, tanh_c, m_kept, reverse, batch_sizes, options, kept)
    return y, (h[end], c[end]), cache


def _forward_loop(
    gates, h, c, tanh_c, m, kept, *, W_hh, W_hr, peepholes, options, reverse, prescaled,
    batch_sizes,
) -> None:  # fmt: skip
    """The forward time loop: activates `gates` in place and fills h, c, tanh_c and m.

    On entry gates (T, B, G·H) holds the input part of the pre-activations and h, c (T+1, B, ·)
    the initial state at index 0 (T when reverse). Rows never meet, so B may be a block of rows.
    """
    T, B, GH = gates.shape
    H = c.shape[-1]
    bs = batch_sizes
    # Per-step views, rows :n_t: step t reads h_prev[t], c_prev[t], writes h_cur[t], c_cur[t]
    cur, prev = (slice(0, T), slice(1, T + 1)) if reverse else (slice(1, T + 1), slice(0, T))
    h_prev, c_prev, h_cur, c_cur = (step_views(a, bs) for a in (h[prev], c[prev], h[cur], c[cur]))
    named = {k: step_views(a, bs) for k, a in split_gates(gates, options).items()}
    i, f, g, o = (named.get(k) for k in "ifgo")  # None: not a gate of its own
    ifgo = step_views(gates, bs)
    # One σ over the whole block; with peepholes o waits for c_t, so σ stops before it
    late_o = peepholes is not None and o is not None
    sig = step_views(gates[..., : GH - H], bs) if late_o else ifgo
    p_i, p_f, p_o = peepholes or (None, None, None)
    tanh_cur, m_cur = step_views(tanh_c, bs), step_views(m, bs)
    coupled = options["forget_gate"] == "coupled"  # f_t = 1 − i_t
    σ, φ, ψ = cell_activations(options)
    # The defaults' one σ over the block (g through tanh(x) = 2σ(2x) − 1); else each on its own
    fused = σ.name == "sigmoid" and φ.name == "tanh"
    # All four gates with o in the block: σ and tanh over [i|f|g|o] in four calls (activations.py)
    block = None
    if fused and not late_o and GH == 4 * H:  # W_hh and the hoisted part ⊙ s if `prescaled`
        block = lstm_block(H, gates.dtype.type, prescaled)
    own_σ = () if fused else [v for v in (i, f, None if late_o else o) if v is not None]
    clip = options.get("clip")  # ONNX's clip: each gate's input cut to [−clip, clip]
    if clip is not None:
        kept_sig = step_views(kept[..., : GH - H] if late_o else kept, bs)
        kept_o = step_views(kept[..., GH - H :], bs)
    hh = row_views(workspace.empty(gates.shape[1:], dtype=gates.dtype), T, bs)  # h_{t-1} W_hhᵀ
    ig = row_views(workspace.empty(c.shape[1:], dtype=gates.dtype), T, bs)  # scratch: i_t ⊙ g_t

    for t in range(T - 1, -1, -1) if reverse else range(T):
        # Pre-activations: add the recurrent part h_{t-1} W_hhᵀ to the hoisted input part
        np.matmul(h_prev[t], W_hh.T, out=hh[t])
        ifgo[t] += hh[t]
        if p_i is not None:  # peepholes: i and f see c_{t-1}
            i[t] += np.multiply(p_i, c_prev[t], out=ig[t])
        if p_f is not None:
            f[t] += np.multiply(p_f, c_prev[t], out=ig[t])
        if clip is not None:  # remember where the inputs are inside the bounds, then cut
            clip_(sig[t], clip, kept_sig[t], hh[t][:, : sig[t].shape[1]])  # hh[t] is free now
        # i_t, f_t, o_t = σ(…);  g_t = tanh(…): one tanh over the block (σ = ½ tanh(½·) + ½),
        # or, with peepholes (o later) or no SIMD tanh, one σ (tanh(x) = 2σ(2x) − 1)
        if block is not None:
            block(ifgo[t])
        elif fused:
            g[t] *= 2
            sigmoid_(sig[t])
            g[t] *= 2
            g[t] -= 1
        else:  # other activations (activations.py): g_t = φ(…)
            for v in own_σ:
                σ.apply_(v[t])
            φ.apply_(g[t])
        # c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t   (coupled: f_t = 1 − i_t; none: f_t = 1)
        if f is not None:
            np.multiply(f[t], c_prev[t], out=c_cur[t])
        elif coupled:
            np.subtract(c_prev[t], np.multiply(i[t], c_prev[t], out=c_cur[t]), out=c_cur[t])
        else:
            np.copyto(c_cur[t], c_prev[t])
        c_cur[t] += g[t] if i is None else np.multiply(i[t], g[t], out=ig[t])  # i_t = 1 or not
        if p_o is not None:  # o_t = σ(… + p_o ⊙ c_t)
            o[t] += np.multiply(p_o, c_cur[t], out=ig[t])
            if clip is not None:
                clip_(o[t], clip, kept_o[t], ig[t])
            σ.apply_(o[t])
        # m_t = o_t ⊙ ψ(c_t);  h_t = m_t, or W_hr m_t  (ψ = tanh by default)
        if ψ.name == "tanh":
            tanh(c_cur[t], out=tanh_cur[t])
        else:
            tanh_cur[t][...] = ψ(c_cur[t])
        m_t = h_cur[t] if W_hr is None else m_cur[t]
        if o is None:  # o_t = 1
            np.copyto(m_t, tanh_cur[t])
        else:
            np.multiply(o[t], tanh_cur[t], out=m_t)
        if W_hr is not None:
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
    H, P, GH = c.shape[-1], h.shape[-1], gates.shape[-1]
    W_hr = None if w.weight_hr is None else w.weight_hr.data
    c_prev, c_cur = (c[1:], c[:-1]) if cache.reverse else (c[:-1], c[1:])  # (T, B, H) each
    h_prev = h[1:] if cache.reverse else h[:-1]  # (T, B, P): h_{t-1} of each step

    # A step's gates are last read by that step of the loop, so [di|df|dg|do] is written over
    # [i|f|g|o] there: the block stays in cache while it is used, and no second (T, B, G·H)
    # buffer is needed. Rows past a sequence's end were zeroed by forward and stay zero.
    dgates = gates  # (T, B, G·H)
    dh_0, dc_0 = (np.array(d, dtype=x.dtype) for d in dstate)  # (B, P), (B, H): running
    dh = workspace.zeros((T if W_hr is not None else 1, B, P), dtype=x.dtype)  # all kept for dW_hr

    plain = W_hr is None and w.weight_ci is None and len(gate_names(**cache.options)) == 4
    plain = plain and cache.options.get("activations") is None and cache.kept is None
    if plain and gates.nbytes <= FEW_CALLS_MAX_BYTES:  # small: fewer NumPy calls per step
        factors = local_derivatives(gates, cache.tanh_c, c_prev)
        loop = partial(backward_loop_few_calls, W_hh=w.weight_hh.data, reverse=cache.reverse)
        split_rows(
            loop, T, H * x.itemsize, cache.batch_sizes,
            dy=dy, gates=gates, dc_factor=factors[0], f=factors[1], dh_0=dh_0, dc_0=dc_0,
        )  # fmt: skip
    else:  # large: each step's block is worked on while it is in cache
        loop = partial(
            _backward_loop, W_hh=w.weight_hh.data, W_hr=W_hr, peepholes=peephole_arrays(w),
            options=cache.options, reverse=cache.reverse,
        )  # fmt: skip
        split_rows(
            loop, T, H * x.itemsize, cache.batch_sizes,
            dy=dy, gates=gates, tanh_c=cache.tanh_c, c_prev=c_prev, dh=dh, dh_0=dh_0, dc_0=dc_0,
            kept=cache.kept,
        )  # fmt: skip

    # Weight gradients and dx over all steps at once
    dgates_2d = dgates.reshape(T * B, GH)
    w.weight_ih.grad += matmul_rows(dgates_2d.T, x.reshape(T * B, x.shape[2]))
    w.weight_hh.grad += matmul_rows(dgates_2d.T, h_prev.reshape(T * B, P))
    if w.bias_ih is not None:
        db = dgates_2d.sum(axis=0)
        w.bias_ih.grad += db
        w.bias_hh.grad += db
    if W_hr is not None:
        w.weight_hr.grad += dh.reshape(T * B, P).T @ cache.m.reshape(T * B, H)
    # dp_i = Σ di ⊙ c_{t-1},  dp_f = Σ df ⊙ c_{t-1},  dp_o = Σ do ⊙ c_t
    if peephole_arrays(w) is not None:
        d = split_gates(dgates, cache.options)
        for p, g, c_seen in (
            (w.weight_ci, "i", c_prev),
            (w.weight_cf, "f", c_prev),
            (w.weight_co, "o", c_cur),
        ):
            if p is not None:
                p.grad += (d[g] * c_seen).sum(axis=(0, 1))
    dx = matmul_rows(dgates_2d, w.weight_ih.data).reshape(x.shape)
    return dx, (dh_0, dc_0)


def _backward_loop(
    dy, gates, tanh_c, c_prev, dh, dh_0, dc_0, kept, *, W_hh, W_hr, peepholes, options, reverse,
    batch_sizes,
) -> None:  # fmt: skip
    """The backward time loop: writes [di|df|dg|do] over `gates` step by step, fills dh (every
    step's with a projection, else scratch) and leaves dh_0, dc_0 (which hold dh_n, dc_n on
    entry) at the gradients of the initial state. B may be a block of rows.
    """
    T, B, _ = gates.shape
    H = c_prev.shape[-1]
    # Per-step views, rows :n_t; dh_next, dc_next run back to dh_0, dc_0. di is the memory of
    # i, df of f, dg of g, do of o: each gradient replaces its gate once the gate is used.
    bs = batch_sizes
    # The step's gates are copied gate-major into a scratch, so that each gate is one contiguous
    # block: NumPy works a column slice of a (B, G·H) row in 2-D, ~4× slower a call (measured:
    # B = 64, H = 64 float32 multiply 3.1 µs strided, 0.8 µs contiguous); the gradients go back
    # in one copy, row-major, for the GEMMs
    names = gate_names(**options)
    G = len(names)
    scratch = workspace.empty((G, B, H), gates.dtype)
    gm, rows = scratch_views(scratch, T, bs), gate_major_views(gates, G, bs)
    named = {k: row_views(scratch[j], T, bs) for j, k in enumerate(names)}
    i, f, g, o = (named.get(k) for k in "ifgo")  # None: the constant 1, no gradient
    di, df, dg, do = i, f, g, o
    p_i, p_f, p_o = peepholes or (None, None, None)
    dy, tanh_c, c_prev, dgates_t = (step_views(a, bs) for a in (dy, tanh_c, c_prev, gates))
    dh_t = step_views(dh, bs) if W_hr is not None else row_views(dh[0], T, bs)
    dm = dh_t if W_hr is None else row_views(workspace.empty((B, H), dtype=gates.dtype), T, bs)
    dh_next, dc_next = row_views(dh_0, T, bs), row_views(dc_0, T, bs)
    dc, dm_o, dc_i, s = (
        row_views(workspace.empty((B, H), dtype=gates.dtype), T, bs) for _ in range(4)
    )
    coupled = options["forget_gate"] == "coupled"  # f_t = 1 − i_t
    σ, φ, ψ = cell_activations(options)
    fast = options.get("activations") is None  # σ' = σ(1 − σ), tanh' = 1 − tanh², in place
    # With clip, each gate's gradient is 0 where its input was cut, as soon as it is computed
    cut = (
        {k: step_views(a, bs) for k, a in split_gates(kept, options).items()}
        if kept is not None
        else {}
    )

    for t in range(T) if reverse else range(T - 1, -1, -1):
        np.copyto(gm[t], rows[t])  # the step's gates, gate-major
        # dh_t = dy_t + dh_t';  dm_t = dh_t, or W_hrᵀ dh_t
        np.add(dy[t], dh_next[t], out=dh_t[t])
        if W_hr is not None:
            np.matmul(dh_t[t], W_hr, out=dm[t])
        if o is None:  # o_t = 1
            dm_o[t][...] = dm[t]
        else:
            np.multiply(dm[t], o[t], out=dm_o[t])  # dm_t ⊙ o_t, shared by dc_t and do_t
            # do_t = dm_t ⊙ ψ(c_t) ⊙ o_t(1 − o_t)  (σ'(o_t) in general)
            np.subtract(1, o[t], out=do[t]) if fast else np.copyto(do[t], σ.grad(o[t]))
            do[t] *= tanh_c[t]
            do[t] *= dm_o[t] if fast else dm[t]
            if cut:
                do[t] *= cut["o"][t]
        # dc_t = dc_t' + dm_t ⊙ o_t ⊙ (1 − tanh²(c_t))  (+ do_t ⊙ p_o)
        if fast:
            np.multiply(tanh_c[t], tanh_c[t], out=dc[t])
            np.subtract(1, dc[t], out=dc[t])
        else:  # ψ'(c_t), read off ψ(c_t)
            dc[t][...] = ψ.grad(tanh_c[t])
        dc[t] *= dm_o[t]
        dc[t] += dc_next[t]
        if p_o is not None:
            dc[t] += np.multiply(do[t], p_o, out=s[t])
        # di_t = dc_t ⊙ g_t ⊙ i_t(1 − i_t)  (coupled: (g_t − c_{t-1}));  dg_t = dc_t ⊙ i_t ⊙ (1 − g_t²)
        if i is None:  # i_t = 1
            dc_i[t][...] = dc[t]
        else:
            np.multiply(dc[t], i[t], out=dc_i[t])
            np.subtract(1, i[t], out=di[t]) if fast else np.copyto(di[t], σ.grad(i[t]))
            di[t] *= np.subtract(g[t], c_prev[t], out=s[t]) if coupled else g[t]
            di[t] *= dc_i[t] if fast else dc[t]
            if cut:
                di[t] *= cut["i"][t]
        if fast:
            np.multiply(g[t], g[t], out=dg[t])
            np.subtract(1, dg[t], out=dg[t])
        else:
            dg[t][...] = φ.grad(g[t])
        dg[t] *= dc_i[t]
        if cut:
            dg[t] *= cut["g"][t]
        # dc_{t-1}' = dc_t ⊙ f_t (the carousel);  df_t = dc_t ⊙ c_{t-1} ⊙ f_t(1 − f_t),
        # computed as dc_{t-1}' ⊙ c_{t-1} ⊙ (1 − f_t)
        if f is not None:
            np.multiply(dc[t], f[t], out=dc_next[t])
            np.subtract(1, f[t], out=df[t]) if fast else np.copyto(df[t], σ.grad(f[t]))
            df[t] *= c_prev[t]
            df[t] *= dc_next[t] if fast else dc[t]
            if cut:
                df[t] *= cut["f"][t]
        elif coupled:  # f_t = 1 − i_t
            np.subtract(dc[t], dc_i[t], out=dc_next[t])
        else:  # f_t = 1
            np.copyto(dc_next[t], dc[t])
        if p_i is not None:  # dc_{t-1}' += di_t ⊙ p_i + df_t ⊙ p_f
            dc_next[t] += np.multiply(di[t], p_i, out=s[t])
        if p_f is not None:
            dc_next[t] += np.multiply(df[t], p_f, out=s[t])
        # dh_{t-1}' = W_hhᵀ [di_t|df_t|dg_t|do_t]
        np.copyto(rows[t], gm[t])  # the gradients over the gates, row-major
        np.matmul(dgates_t[t], W_hh, out=dh_next[t])
