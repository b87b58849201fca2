"""Issue 16, item 4: fewer NumPy calls per step by advancing directions or layers together.

A standalone prototype, not gatednp's engine: forward loops (inference; training's forward
loop is the same loop keeping its buffers) that advance
- **both directions of a bidirectional layer** together, in a loop-order layout (T, B, 2, ·):
  step s holds direction 0 at time s and direction 1 at time T−1−s, so each step's block is
  contiguous and one elementwise call covers both directions. The recurrent GEMM is either
  `batched` (np.matmul on (2, B, H) @ (2, H, G·H)) or `blockdiag` (one GEMM (B, 2H) @ a
  block-diagonal (2H, 2·G·H): twice the FLOPs, one BLAS call);
- **the two layers of a stack as a wavefront** (`wavefront`): layer 0 at step s together with
  layer 1 at step s−1, one GEMM [h⁰_{s−1} | h¹_{s−2}] @ [[W⁰_hhᵀ, W¹_ihᵀ], [0, W¹_hhᵀ]] per step
  (layer 1's input projection joins the recurrent GEMM: it can no longer be hoisted).
Each is checked against gatednp's layer (`layer.run`) before it is timed, then timed against it
in blocks (each system in its own block, medians over rounds, as benchmarks/README.md says):

    PYTHONPATH=. python benchmarks/fused.py [--rounds 5] [--out results/fused-proto.json]

`--set engine` times what was kept: gatednp's layer with both directions in one loop
(engine/bidirectional.py) against the same layer with it switched off, inference and training.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from functools import partial

import numpy as np

import gatednp as gn
from gatednp.activations import sigmoid_, tanh
from gatednp.engine import bidirectional

# T, B, I, H: the `stacked` set's bi shape, the course at B = 8, streams, H = 256
SHAPES = {
    "bi": (50, 32, 32, 128),
    "course-bi": (20, 8, 8, 32),
    "stream-bi": (500, 1, 8, 64),
    "B1-H128": (50, 1, 32, 128),
    "B4-H64": (50, 4, 16, 64),
    "charlm-bi": (35, 32, 28, 256),
}


def _params(layer, k):
    w = layer.weights(k)
    return w.weight_ih.data, w.weight_hh.data, w.bias_ih.data, w.bias_hh.data


def _blockdiag(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    (m, n), (p, q) = a.shape, b.shape
    out = np.zeros((m + p, n + q), dtype=a.dtype)
    out[:m, :n], out[m:, n:] = a, b
    return out


def bi_forward(cell: str, layer, x: np.ndarray, gemm: str) -> np.ndarray:
    """Both directions of a one-layer bidirectional LSTM/GRU in one loop; returns y (T, B, 2H)."""
    T, B, _ = x.shape
    (Wi0, Wh0, bi0, bh0), (Wi1, Wh1, bi1, bh1) = _params(layer, 0), _params(layer, 1)
    GH, H = Wh0.shape
    G = GH // H
    gates = np.empty((T, B, 2, GH), dtype=x.dtype)  # loop order: [s, :, 1] is time T−1−s
    g2 = gates.reshape(T * B, 2, GH)
    np.matmul(x.reshape(T * B, -1), Wi0.T, out=g2[:, 0])
    np.matmul(np.ascontiguousarray(x[::-1]).reshape(T * B, -1), Wi1.T, out=g2[:, 1])
    if cell == "LSTM":
        gates += np.stack([bi0 + bh0, bi1 + bh1])
    else:
        gates += np.stack([np.concatenate([bi0[: 2 * H] + bh0[: 2 * H], bi0[2 * H :]]),
                           np.concatenate([bi1[: 2 * H] + bh1[: 2 * H], bi1[2 * H :]])])  # fmt: skip
        b_hn = np.stack([bh0[2 * H :], bh1[2 * H :]])  # (2, H)
    h = np.zeros((T + 1, B, 2, H), dtype=x.dtype)  # loop order; zero initial state
    hh = np.empty((B, 2, GH), dtype=x.dtype)
    if gemm == "batched":
        W = np.stack([Wh0.T, Wh1.T])  # (2, H, G·H)
        hh_2 = hh.transpose(1, 0, 2)  # (2, B, G·H) view
        h_in = [h[s].transpose(1, 0, 2) for s in range(T)]
    else:
        W = _blockdiag(Wh0.T, Wh1.T)  # (2H, 2·G·H)
        hh_2 = hh.reshape(B, 2 * GH)
        h_in = [h[s].reshape(B, 2 * H) for s in range(T)]
    views = [[gates[s, ..., k * H : (k + 1) * H] for k in range(G)] for s in range(T)]
    s2 = np.empty((B, 2, H), dtype=x.dtype)
    if cell == "LSTM":
        c = np.zeros((T + 1, B, 2, H), dtype=x.dtype)
        tc = np.empty((B, 2, H), dtype=x.dtype)
        for s in range(T):
            i, f, g, o = views[s]
            np.matmul(h_in[s], W, out=hh_2)
            gates[s] += hh
            g *= 2
            sigmoid_(gates[s])
            g *= 2
            g -= 1
            np.multiply(f, c[s], out=c[s + 1])
            np.multiply(i, g, out=s2)
            c[s + 1] += s2
            tanh(c[s + 1], out=tc)
            np.multiply(o, tc, out=h[s + 1])
    else:
        rz = [gates[s, ..., : 2 * H] for s in range(T)]
        a = np.empty((B, 2, H), dtype=x.dtype)
        hh_rz, hh_n = hh[..., : 2 * H], hh[..., 2 * H :]
        for s in range(T):
            r, z, n = views[s]
            np.matmul(h_in[s], W, out=hh_2)
            rz[s] += hh_rz
            sigmoid_(rz[s])
            np.add(hh_n, b_hn, out=a)
            np.multiply(r, a, out=s2)
            n += s2
            tanh(n, out=n)
            np.subtract(h[s], n, out=h[s + 1])
            h[s + 1] *= z
            h[s + 1] += n
    return np.concatenate([h[1:, :, 0], h[T:0:-1, :, 1]], axis=2)


def _lstm_act(block, g, c_prev, c_cur, s, tc, h_cur):
    g *= 2
    sigmoid_(block)
    g *= 2
    g -= 1
    H = c_prev.shape[-1]
    i, f, o = block[..., :H], block[..., H : 2 * H], block[..., 3 * H :]
    np.multiply(f, c_prev, out=c_cur)
    np.multiply(i, g, out=s)
    c_cur += s
    tanh(c_cur, out=tc)
    np.multiply(o, tc, out=h_cur)


def wavefront_lstm2(layer, x: np.ndarray) -> np.ndarray:
    """A two-layer LSTM as a wavefront: layer 0 at step s with layer 1 at step s − 1."""
    T, B, _ = x.shape
    (Wi0, Wh0, bi0, bh0), (Wi1, Wh1, bi1, bh1) = _params(layer, 0), _params(layer, 1)
    GH, H = Wh0.shape
    W = np.zeros((2 * H, 2 * GH), dtype=x.dtype)  # [h⁰ | h¹] -> [layer 0 | layer 1]
    W[:H, :GH], W[:H, GH:], W[H:, GH:] = Wh0.T, Wi1.T, Wh1.T
    pre = np.zeros((T + 1, B, 2, GH), dtype=x.dtype)  # [s, :, 0]: layer 0 at s; 1: layer 1 at s−1
    np.matmul(x.reshape(T * B, -1), Wi0.T, out=pre.reshape((T + 1) * B, 2, GH)[: T * B, 0])
    pre[:, :, 0] += bi0 + bh0
    pre[:, :, 1] = bi1 + bh1
    state = np.zeros((B, 2, H), dtype=x.dtype)  # [h⁰_{s−1} | h¹_{s−2}]
    c = np.zeros((B, 2, H), dtype=x.dtype)
    y = np.empty((T, B, H), dtype=x.dtype)
    hh = np.empty((B, 2, GH), dtype=x.dtype)
    s2, tc = np.empty((B, 2, H), dtype=x.dtype), np.empty((B, 2, H), dtype=x.dtype)
    st2 = state.reshape(B, 2 * H)
    gv = [[pre[s, :, :, 2 * H : 3 * H]] for s in range(T + 1)]
    # s = 0: layer 0 alone
    np.matmul(state[:, 0], Wh0.T, out=hh[:, 0])
    pre[0, :, 0] += hh[:, 0]
    _lstm_act(pre[0, :, 0], pre[0, :, 0, 2 * H : 3 * H], c[:, 0], c[:, 0], s2[:, 0], tc[:, 0],
              state[:, 0])  # fmt: skip
    hh2 = hh.reshape(B, 2 * GH)
    for s in range(1, T):
        np.matmul(st2, W, out=hh2)
        pre[s] += hh
        _lstm_act(pre[s], gv[s][0], c, c, s2, tc, state)
        y[s - 1] = state[:, 1]
    # s = T: layer 1 alone, at its last step
    np.matmul(st2, W[:, GH:], out=hh[:, 1])
    pre[T, :, 1] += hh[:, 1]
    _lstm_act(pre[T, :, 1], pre[T, :, 1, 2 * H : 3 * H], c[:, 1], c[:, 1], s2[:, 1], tc[:, 1],
              state[:, 1])  # fmt: skip
    y[T - 1] = state[:, 1]
    return y


def _time(fn, n: int) -> float:
    fn()
    best = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best.append(time.perf_counter() - t0)
    return statistics.median(best)


def _data(T, B, I, dtype):
    return np.random.default_rng(1).standard_normal((T, B, I)).astype(dtype)


def _proto_cases():
    """The prototypes against gatednp's layer as it was (each direction its own engine call)."""
    for cell in ("LSTM", "GRU"):
        for dtype in (np.float32, np.float64):
            for name, (T, B, I, H) in SHAPES.items():
                layer = getattr(gn, cell)(I, H, bidirectional=True, dtype=dtype, rng=0)
                x = _data(T, B, I, dtype)
                systems = {
                    "engine": lambda layer=layer, x=x: _per_direction(layer.run, x, keep_cache=False, dropout=False),
                    "batched": lambda c=cell, layer=layer, x=x: bi_forward(c, layer, x, "batched"),
                    "blockdiag": lambda c=cell, layer=layer, x=x: bi_forward(c, layer, x, "blockdiag"),
                }  # fmt: skip
                yield f"{cell} {np.dtype(dtype).name} {name}", x, systems
    for dtype in (np.float32, np.float64):
        for name in ("bi", "course-bi", "stream-bi"):
            T, B, I, H = SHAPES[name]
            layer = gn.LSTM(I, H, num_layers=2, dtype=dtype, rng=0)
            x = _data(T, B, I, dtype)
            systems = {
                "engine": lambda layer=layer, x=x: layer.run(x, keep_cache=False, dropout=False),
                "wavefront": lambda layer=layer, x=x: wavefront_lstm2(layer, x),
            }  # fmt: skip
            yield f"LSTM {np.dtype(dtype).name} stack2-{name.removesuffix('-bi')}", x, systems


def _per_direction(fn, *args, **kwargs):
    """`fn` with engine/bidirectional.py switched off: each direction its own engine call."""
    kept, bidirectional.TOGETHER_MAX_UNITS = bidirectional.TOGETHER_MAX_UNITS, 0
    try:
        return fn(*args, **kwargs)
    finally:
        bidirectional.TOGETHER_MAX_UNITS = kept


def _together(fn, *args, **kwargs):
    """`fn` with engine/bidirectional.py on at every size."""
    kept, bidirectional.TOGETHER_MAX_UNITS = bidirectional.TOGETHER_MAX_UNITS, 1 << 40
    try:
        return fn(*args, **kwargs)
    finally:
        bidirectional.TOGETHER_MAX_UNITS = kept


ENGINE_SHAPES = {**SHAPES, "course": (2, 20, 1, 50), "B8-H128": (50, 8, 32, 128),
                 "B16-H64": (50, 16, 32, 64), "B64-H32": (50, 64, 32, 32)}  # fmt: skip


def _engine_cases():
    """gatednp's layer, both directions in one loop (engine/bidirectional.py) or not,
    inference and a training forward + backward, one and two bidirectional layers."""
    for cell in ("LSTM", "GRU"):
        for dtype in (np.float32, np.float64):
            for name, (T, B, I, H) in ENGINE_SHAPES.items():
                for layers in (1, 2):
                    if layers == 2 and name not in ("bi", "course-bi", "B4-H64"):
                        continue
                    layer = getattr(gn, cell)(I, H, layers, bidirectional=True, dtype=dtype, rng=0)
                    x = _data(T, B, I, dtype)
                    dy = np.ones((T, B, 2 * H), dtype=dtype)

                    def train(layer=layer, x=x, dy=dy):
                        layer(x)
                        layer.backward(dy)
                        layer.zero_grad()

                    def infer(layer=layer, x=x):
                        return layer.run(x, keep_cache=False, dropout=False)[0]

                    label = (
                        f"{cell} {np.dtype(dtype).name} {name}{'-stack2' if layers == 2 else ''}"
                    )
                    for mode, fn in (("infer", infer), ("train", train)):
                        systems = {
                            "engine": partial(_per_direction, fn),
                            "together": partial(_together, fn),
                        }
                        yield f"{label} {mode}", x, systems


def check() -> None:
    """Every prototype equals gatednp's layer (float64 to 1e-12, float32 to 1e-4)."""
    for label, x, systems in _proto_cases():
        ref = systems["engine"]()[0]
        tol = 1e-4 if x.dtype == np.float32 else 1e-12
        for name, fn in systems.items():
            if name != "engine":
                err = float(np.abs(fn() - ref).max())
                assert err <= tol, f"{label} {name}: {err:.2e}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", choices=["proto", "engine"], default="proto")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=0, help="runs per block (0: ~0.1 s)")
    ap.add_argument("--only", default="", help="run cases whose label contains this")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    if args.set == "proto":
        check()
    rows = []
    for label, _x, systems in _proto_cases() if args.set == "proto" else _engine_cases():
        if args.only not in label:
            continue
        one = _time(systems["engine"], 3)
        n = args.runs or max(3, min(200, int(0.1 / max(one, 1e-6))))
        times = {k: [] for k in systems}
        for _ in range(args.rounds):
            for k, fn in systems.items():  # each system in its own block
                times[k].append(_time(fn, n))
                time.sleep(0.05)
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        ratios = {
            k: [a / b for a, b in zip(v, times["engine"], strict=True)]
            for k, v in times.items()
            if k != "engine"
        }
        row = {"case": label, "ms": med, "ratio": {k: statistics.median(v) for k, v in ratios.items()},
               "spread": {k: (min(v), max(v)) for k, v in ratios.items()}}  # fmt: skip
        rows.append(row)
        parts = " ".join(
            f"{k} {med[k]:.3g} ({row['ratio'][k]:.2f} [{row['spread'][k][0]:.2f}–{row['spread'][k][1]:.2f}])"
            for k in ratios
        )
        print(f"{label:34s} engine {med['engine']:.3g} ms | {parts}", flush=True)
    if args.out:
        meta = {"load": os.getloadavg(), "numpy": np.__version__, "set": args.set,
                "when": time.strftime("%FT%TZ", time.gmtime())}  # fmt: skip
        with open(args.out, "w") as fh:
            json.dump({"meta": meta, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
