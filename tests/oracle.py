"""The oracle: a layer run as a Python loop over its cell's textbook step, one sequence at a time.

No engine, no packing, no threads, no in-place buffers: each sequence b runs alone over its
own length, layer by layer and direction by direction, through the cell file's `step`
(lstm.py, gru.py, rnn.py), and backward walks the same steps back through `step_backward`.
tests/test_engine.py holds the engines to it at 1e-12 in float64; the step pair itself is held
to finite differences (tests/test_steps.py) and, through the cells that run it, to torch.
"""

from __future__ import annotations

import numpy as np

from gatednp.module import Weights


def run(layer, x, state, lengths, dy, dstate):
    """Forward and backward of `layer` (a gn.LSTM, GRU or RNN, no dropout) by the step loop.

    Args:
        layer: its weights, kind and options are used; its engine is not.
        x: (T, B, I) time-major; state: tuple of (L·D, B, ·) initial states (zeros if None).
        lengths: None or B ints in 0..T; dy: (T, B, D·H_out); dstate: tuple like the state.

    Returns:
        {"y", "h_n"[, "c_n"], "x", "h0"[, "c0"], and every parameter's name: its gradient}.
    """
    step, step_backward = layer.kind.math.step, layer.kind.math.step_backward
    T, B, _ = x.shape
    D, L = layer.num_directions, layer.num_layers
    names = layer.kind.state
    if state is None:
        state = tuple(np.zeros((L * D, B, s), dtype=x.dtype) for s in layer.state_sizes)
    lengths = [T] * B if lengths is None else [int(n) for n in lengths]
    H_out = layer.state_sizes[0]
    y = np.zeros((T, B, D * H_out), dtype=x.dtype)  # zero past each sequence's length
    dx = np.zeros_like(x)
    final = [np.zeros_like(s) for s in state]
    dstate0 = [np.zeros_like(s) for s in state]
    weights = [layer.weights(k) for k in range(L * D)]
    arrays = [w.arrays() for w in weights]
    grads = [[np.zeros_like(a) if a is not None else None for a in w] for w in arrays]

    for b in range(B):
        n = lengths[b]
        if n == 0:  # no step: the state passes through, and so does its gradient
            for k in range(L * D):
                for f, d0, s, ds in zip(final, dstate0, state, dstate):
                    f[k, b], d0[k, b] = s[k, b], ds[k, b]
            continue
        inp, tapes = x[:n, b : b + 1], {}
        for layer_index in range(L):  # forward: each direction over the sequence's n steps
            outputs = []
            for d in range(D):
                k = layer_index * D + d
                s = tuple(part[k, b : b + 1] for part in state)
                out, tape = [None] * n, []
                backwards = d == 1 or getattr(layer, "reverse", False)
                for t in reversed(range(n)) if backwards else range(n):
                    s, cache = step(inp[t], s, arrays[k], **layer.cell_options)
                    out[t] = s[0]
                    tape.append((t, cache))
                for f, part in zip(final, s):
                    f[k, b] = part[0]
                tapes[k] = tape
                outputs.append(np.stack(out))  # (n, 1, H_out)
            inp = np.concatenate(outputs, axis=-1)
        y[:n, b] = inp[:, 0]

        d_out = dy[:n, b : b + 1]  # backward: the same steps, newest first
        for layer_index in reversed(range(L)):
            d_in = None
            for d in range(D):
                k = layer_index * D + d
                ds = tuple(part[k, b : b + 1] for part in dstate)
                for t, cache in reversed(tapes[k]):
                    ds = (ds[0] + d_out[t, :, d * H_out : (d + 1) * H_out], *ds[1:])
                    dx_t, ds, g = step_backward(ds, cache, arrays[k], **layer.cell_options)
                    if d_in is None:
                        d_in = np.zeros((n, 1, dx_t.shape[1]), dtype=x.dtype)
                    d_in[t] += dx_t
                    for acc, g_part in zip(grads[k], g):
                        if acc is not None:
                            acc += g_part
                for d0, part in zip(dstate0, ds):
                    d0[k, b] = part[0]
            d_out = d_in
        dx[:n, b] = d_out[:, 0]

    result = {"y": y, **{f"{s}_n": f for s, f in zip(names, final)}, "x": dx}
    result.update({f"{s}0": d for s, d in zip(names, dstate0)})
    for k, (w, g) in enumerate(zip(weights, grads)):
        suffix = f"_l{k // D}" + ("_reverse" if k % D else "")
        for field, p, g_field in zip(Weights._fields, w, g):
            if p is not None:
                result[field + suffix] = g_field
    return result


def forward(layer, x, state=None, lengths=None):
    """`layer(x, state, lengths=lengths)` by the step loop: the same layouts (batch_first,
    unbatched) and return values, computed in float64."""
    x = np.asarray(x, dtype=np.float64)
    unbatched = x.ndim == 2
    x = x[:, None] if unbatched else x.transpose(1, 0, 2) if layer.batch_first else x
    if state is not None:
        parts = state if isinstance(state, tuple) else (state,)
        state = tuple(np.asarray(p, np.float64)[:, None] if unbatched else p for p in parts)
    T, B, _ = x.shape
    sizes = layer.state_sizes
    zeros = tuple(np.zeros((layer.num_layers * layer.num_directions, B, s)) for s in sizes)
    dy = np.zeros((T, B, layer.num_directions * sizes[0]))
    out = run(layer, x, state, lengths, dy, zeros)
    y = (
        out["y"][:, 0]
        if unbatched
        else out["y"].transpose(1, 0, 2)
        if layer.batch_first
        else out["y"]
    )
    final = tuple(out[f"{s}_n"][:, 0] if unbatched else out[f"{s}_n"] for s in layer.kind.state)
    return y, final if len(final) == 2 else final[0]
