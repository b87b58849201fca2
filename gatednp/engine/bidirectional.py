"""Both directions of a bidirectional LSTM or GRU layer in one forward loop (issue 16, item 4).

The engines (engine/lstm.py, engine/gru.py) run one direction per call: at small batches and
hidden sizes a step is a dozen NumPy calls on tiny blocks and the per-call cost is the time.
Here step s advances direction 0 at time s and direction 1 at time T−1−s together: the buffers
are kept in loop order, (T, B, 2, ·), so each step's block of both directions is contiguous and
one NumPy call covers both; the recurrent GEMM is one batched `np.matmul`, (2, B, H) @
(2, H, G·H). The per-direction caches are views of these buffers in each direction's time order
(direction 1's run backwards), so the engines' backward loops take them unchanged.

Only the defaults (the torch cell: σ and tanh, all gates, no peepholes, projection or clip),
no lengths and gatednp's threads off; `recurrent.RNNBase.run` falls back to the engines
otherwise, and where this is not faster (`together`: measured in benchmarks/fused.py and
benchmarks/README.md, 2026-11-30).
"""

from __future__ import annotations

import numpy as np

from .. import workspace
from ..activations import lstm_block, sigmoid_, tanh
from ..module import Weights
from ..threads import get_num_threads, matmul
from .gru import GRUCache
from .lstm_parts import LSTMCache

__all__ = ["together", "run_layer", "forward", "TOGETHER_MAX_UNITS"]

# Both directions go together for 2 ≤ batch and batch × hidden size at most this: inference
# 0.69–0.98×, training 0.86–1.01× the per-direction time there; at B = 1 (batched matmul of
# vectors) 0.92–1.11×, at B·H = 2048 0.83–1.04×, from 4096 0.97–1.46×: per direction (measured:
# benchmarks/fused.py --set engine, benchmarks/README.md 2026-11-30)
TOGETHER_MAX_UNITS = 1024


def together(layer, T: int, B: int, lengths) -> bool:
    """Whether `layer`'s bidirectional layers run through `forward` here (else the engines)."""
    plain = layer.kind.name in ("lstm", "gru") and layer.cell_options == layer.kind.options
    plain = plain and not layer.peepholes and not layer.proj_size and layer.bidirectional
    small = 2 <= B and B * layer.hidden_size <= TOGETHER_MAX_UNITS
    return plain and small and T > 0 and lengths is None and get_num_threads() == 1


def run_layer(layer, x, states, ks: slice, final, caches: list, keep_cache: bool) -> np.ndarray:
    """`forward` for layer `ks` (slice(2·layer, 2·layer + 2)) of a `recurrent.RNNBase`: reads
    its initial states from `states`, writes its final ones into `final` and appends its
    caches to `caches` (index k = layer·2 + direction, as the engines' calls would); returns y."""
    y, finals, cache = forward(
        layer.kind.name, x, [tuple(s[k] for s in states) for k in range(ks.start, ks.stop)],
        [layer.weights(k) for k in range(ks.start, ks.stop)], keep_cache=keep_cache,
        options=layer.cell_options,
    )  # fmt: skip
    caches += cache
    for d, state_n in enumerate(finals):
        for f, s in zip(final, state_n, strict=True):
            f[ks.start + d] = s
    return y


def forward(
    kind: str, x: np.ndarray, states: list[tuple[np.ndarray, ...]], ws: list[Weights], *,
    keep_cache: bool, options: dict,
) -> tuple[np.ndarray, list[tuple[np.ndarray, ...]], list]:  # fmt: skip
    """One bidirectional layer ("lstm" or "gru"), both directions in one loop.

    Args:
        x: (T, B, I) time-major input; states: per direction, its initial state tuple ((h, c)
            or (h,), each (B, H)); ws: per direction, its weights; keep_cache: training;
            options: the layer's cell options (all at their defaults), kept in the caches.

    Returns:
        y (T, B, 2H), the final state tuple of each direction, and each direction's cache
        (None without keep_cache), as two calls of the engine would give them.
    """
    T, B, _ = x.shape
    GH, H = ws[0].weight_hh.data.shape
    # Input projections, each direction in its loop order: direction 1 reads x reversed
    gates = workspace.empty((T, B, 2, GH), dtype=x.dtype)  # [s, :, d]: direction d's step s
    g2 = gates.reshape(T * B, 2, GH)
    matmul(x.reshape(T * B, -1), ws[0].weight_ih.data.T, out=g2[:, 0])
    x_rev = np.ascontiguousarray(x[::-1]).reshape(T * B, -1)
    matmul(x_rev, ws[1].weight_ih.data.T, out=g2[:, 1])
    W = np.stack([w.weight_hh.data.T for w in ws])  # (2, H, G·H)
    h = workspace.empty((T + 1, B, 2, H), dtype=x.dtype)  # loop order: h[s] is before step s
    h[0] = np.stack([s[0] for s in states], axis=1)
    hh = workspace.empty((B, 2, GH), dtype=x.dtype)  # h_{s-1} W_hhᵀ of both directions
    hh_2, h_in = hh.transpose(1, 0, 2), [h[s].transpose(1, 0, 2) for s in range(T)]
    bias = ws[0].bias_ih is not None
    if kind == "lstm":
        if bias:
            gates += np.stack([w.bias_ih.data + w.bias_hh.data for w in ws])
        c = workspace.empty((T + 1, B, 2, H), dtype=x.dtype)
        c[0] = np.stack([s[1] for s in states], axis=1)
        tanh_c = workspace.empty((T, B, 2, H), dtype=x.dtype)
        _lstm_loop(gates, h, c, tanh_c, hh, hh_2, h_in, W)
        arrays = {"h": h, "c": c, "gates": gates, "tanh_c": tanh_c}
    else:
        b_hn = None
        if bias:  # [b_ir + b_hr | b_iz + b_hz | b_in] join the input part; b_hn stays apart
            b_ih, b_hh = (
                np.stack([getattr(w, b).data for w in ws]) for b in ("bias_ih", "bias_hh")
            )
            b_ih[:, : 2 * H] += b_hh[:, : 2 * H]
            gates += b_ih
            b_hn = b_hh[:, 2 * H :]
        a = workspace.empty((T, B, 2, H), dtype=x.dtype)
        _gru_loop(gates, h, a, hh, hh_2, h_in, W, b_hn)
        arrays = {"h": h, "gates": gates, "a": a}

    y = np.concatenate([h[1:, :, 0], h[T:0:-1, :, 1]], axis=2)  # direction 1 in time order
    finals = [tuple(arrays[k][T, :, d] for k in ("h", "c") if k in arrays) for d in (0, 1)]
    caches = [None, None]
    if keep_cache:  # each direction's buffers in its time order: direction 1's reversed
        for d, (w, steps) in enumerate(zip(ws, (slice(None), slice(None, None, -1)))):
            v = {k: a[steps, :, d] for k, a in arrays.items()}
            if kind == "lstm":
                caches[d] = LSTMCache(
                    w, x, v["h"], v["c"], v["gates"], v["tanh_c"], None, d == 1, None, options
                )
            else:
                caches[d] = GRUCache(w, x, v["h"], v["gates"], v["a"], d == 1, None, True, None)
    return y, finals, caches


def _lstm_loop(gates, h, c, tanh_c, hh, hh_2, h_in, W) -> None:
    """engine/lstm.py's forward loop for the defaults, both directions a call."""
    T, GH = gates.shape[0], gates.shape[-1]
    H = GH // 4
    i, f, g, o = ([gates[s, ..., k * H : (k + 1) * H] for s in range(T)] for k in range(4))
    ig = workspace.empty(c.shape[1:], dtype=gates.dtype)
    block = lstm_block(H, gates.dtype.type)  # σ on i, f, o and tanh on g (activations.py)
    for s in range(T):
        np.matmul(h_in[s], W, out=hh_2)
        gates[s] += hh
        block(gates[s])
        np.multiply(f[s], c[s], out=c[s + 1])  # c_t = f ⊙ c_{t-1} + i ⊙ g
        np.multiply(i[s], g[s], out=ig)
        c[s + 1] += ig
        tanh(c[s + 1], out=tanh_c[s])
        np.multiply(o[s], tanh_c[s], out=h[s + 1])  # h_t = o ⊙ tanh(c_t)


def _gru_loop(gates, h, a, hh, hh_2, h_in, W, b_hn) -> None:
    """engine/gru.py's forward loop for the defaults (reset after W_hn), both directions a call."""
    T, GH = gates.shape[0], gates.shape[-1]
    H = GH // 3

    def steps(lo: int, hi: int) -> list[np.ndarray]:  # columns lo:hi of every step's gates
        return [gates[s, ..., lo:hi] for s in range(T)]

    rz, r, z, n = steps(0, 2 * H), steps(0, H), steps(H, 2 * H), steps(2 * H, GH)
    hh_rz, hh_n = hh[..., : 2 * H], hh[..., 2 * H :]
    ra = workspace.empty(h.shape[1:], dtype=gates.dtype)
    for s in range(T):
        np.matmul(h_in[s], W, out=hh_2)
        rz[s] += hh_rz  # r_t, z_t = σ(input part + h_{t-1} W_h(rz)ᵀ)
        sigmoid_(rz[s])
        if b_hn is None:  # a_t = W_hn h_{t-1} + b_hn
            a[s] = hh_n
        else:
            np.add(hh_n, b_hn, out=a[s])
        np.multiply(r[s], a[s], out=ra)  # n_t = tanh(input part + r_t ⊙ a_t)
        n[s] += ra
        tanh(n[s], out=n[s])
        np.subtract(h[s], n[s], out=h[s + 1])  # h_t = n_t + z_t ⊙ (h_{t-1} − n_t)
        h[s + 1] *= z[s]
        h[s + 1] += n[s]
