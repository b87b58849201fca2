"""Look inside a forward pass: every gate's activation at every step, per layer and direction.

A layer in training mode already keeps, for backward, each (layer, direction)'s post-activation
gates and states (the engines' caches, read through `LayerCache.activations`).
`gate_activations` runs one such forward and hands them out in time order, so inspection costs
the normal path nothing:

    acts = gate_activations(lstm, x)                   # {(layer, direction): {"i": (T, B, H), ...}}
    acts[0, 0]["f"][:, 0]                   # the forget gate of sequence 0, step by step

Keys: LSTM i, f, g, o, c, h (f is 1 − i or 1 for the variants without a forget gate of their
own); GRU r, z, n, h; RNN h. `h` is each step's output h_t (P wide for an
LSTM with a projection), `c` the cell state c_t. Direction 1 (bidirectional) is also given in
time order: its entry at step t is the reverse pass's activation *at* step t (computed after
step t+1). With `lengths`, steps past a sequence's end are NaN.
"""

from __future__ import annotations

import numpy as np

from ..recurrent import RNNBase

__all__ = ["gate_activations"]


def gate_activations(
    layer: RNNBase, x: np.ndarray, state=None, *, lengths=None
) -> dict[tuple[int, int], dict[str, np.ndarray]]:
    """Run `layer` on x and return every gate's activation at every step.

    The forward keeps its cache without dropout (the activations are those of `layer.eval()`)
    and leaves the layer's own cache alone: a pending backward stays possible.

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
    _, _, cache = layer.run(x, state, lengths, keep_cache=True, dropout=False)
    return cache.activations()
