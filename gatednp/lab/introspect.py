"""Look inside a forward pass: every gate's activation at every step, per layer and direction.

A layer in training mode already keeps, for backward, each (layer, direction)'s post-activation
gates and states (the caches of lstm.forward / gru.forward / rnn.forward). `gate_activations` runs one such
forward and hands them out in time order, so inspection costs the normal path nothing:

    acts = gate_activations(lstm, x)                   # {(layer, direction): {"i": (T, B, H), ...}}
    acts[0, 0]["f"][:, 0]                   # the forget gate of sequence 0, step by step

Keys: LSTM i, f, g, o, c, h; GRU r, z, n, h; RNN h. `h` is each step's output h_t (P wide for an
LSTM with a projection), `c` the cell state c_t. Direction 1 (bidirectional) is also given in
time order: its entry at step t is the reverse pass's activation *at* step t (computed after
step t+1). With `lengths`, steps past a sequence's end are NaN.
"""

from __future__ import annotations

import numpy as np

from ..recurrent import RNNBase

__all__ = ["gate_activations", "GATE_NAMES"]

GATE_NAMES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"), "rnn": ()}  # by cell file


def gate_activations(
    layer: RNNBase, x: np.ndarray, state=None, *, lengths=None
) -> dict[tuple[int, int], dict[str, np.ndarray]]:
    """Run `layer` on x and return every gate's activation at every step.

    The forward runs in training mode without dropout (the activations are those of
    `layer.eval()`), and leaves no cache behind: call it between a training step's backward
    and the next forward, not in between. The layer's mode is restored.

    Args:
        layer: an LSTM, GRU or RNN (any num_layers, bidirectional, batch_first, proj_size).
        x: its input, (T, B, I) — or (B, T, I) with batch_first, or unbatched (T, I).
        state: the initial state, as for `layer(x, state)`.
        lengths: optional (B,) sequence lengths, as for `layer(x, lengths=...)`.

    Returns:
        {(layer_index, direction): {name: array (T, B, ·)}}, time-major whatever the layout of
        x (B = 1 for unbatched input); arrays are copies.

    >>> import numpy as np, gatednp as gn
    >>> acts = gate_activations(gn.LSTM(2, 3, bidirectional=True, rng=0), np.zeros((5, 4, 2)))
    >>> sorted(acts), sorted(acts[0, 1]), acts[0, 1]["f"].shape
    ([(0, 0), (0, 1)], ['c', 'f', 'g', 'h', 'i', 'o'], (5, 4, 3))
    """
    if not isinstance(layer, RNNBase):
        raise TypeError(f"layer must be an LSTM, GRU or RNN, got {type(layer).__name__}")
    kind = layer.cell.__name__.rsplit(".", 1)[-1]
    training, dropout = layer.training, layer.dropout
    layer.train()
    layer.dropout = 0.0
    try:
        layer(x, state, lengths=lengths)
        ctx = layer._ctx
    finally:
        layer._ctx = None  # the probe's cache must not meet a later backward
        layer.dropout = dropout
        layer.train(training)
    packing = ctx["packing"]
    D = layer.num_directions
    out = {}
    for k, cache in enumerate(ctx["caches"]):
        named = _named(cache, kind)
        if packing is not None:
            if k % D == 1:  # this direction ran on each sequence reversed within its length
                named = {n: packing.reverse(a) for n, a in named.items()}
            named = {
                n: np.where(packing.valid, a, np.nan)[:, packing.unorder] for n, a in named.items()
            }
        out[divmod(k, D)] = {n: np.array(a) for n, a in named.items()}
    return out


def _named(cache, kind: str) -> dict[str, np.ndarray]:
    """A cache's activations, named, each (T, B, ·) in the order the kernel indexed time."""
    T = cache.x.shape[0]
    names = GATE_NAMES[kind]
    named = {}
    if names:
        G = len(names)
        H = cache.gates.shape[-1] // G
        named = {n: cache.gates[..., k * H : (k + 1) * H] for k, n in enumerate(names)}
    # states: index 0..T of the kernel's buffer, h[T] being h_0 when walking in reverse
    steps = slice(0, T) if cache.reverse else slice(1, T + 1)
    if kind == "lstm":
        named["c"] = cache.c[steps]
    named["h"] = cache.h[steps]
    return named
