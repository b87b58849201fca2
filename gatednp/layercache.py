"""What a layer's forward keeps for its backward, and for looking inside (recurrent.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .packing import Packing

__all__ = ["LayerCache"]


@dataclass
class LayerCache:
    """What a forward keeps for backward (and for looking inside): one engine cache per layer
    and direction (index k = layer·D + direction), the dropout masks, the packing."""

    caches: list  # engine caches (engine/lstm.py LSTMCache, ...), index k
    masks: list[np.ndarray | None]  # per layer: the dropout mask applied to its output
    packing: Packing | None
    batched: bool
    y_shape: tuple[int, ...]  # time-major
    num_directions: int
    reverse: bool = False  # a reverse-only layer: its one direction ran backwards

    def activations(self) -> dict[tuple[int, int], dict[str, np.ndarray]]:
        """{(layer, direction): {name: (T, B, ·)}}: each gate and state at every step, in time
        order (direction 1 included), steps past a sequence's length NaN; copies. Valid until
        backward, which overwrites the gates with their gradients."""
        D, out = self.num_directions, {}
        for k, cache in enumerate(self.caches):
            named = cache.activations()
            if self.packing is not None:
                p = self.packing
                if k % D == 1 or self.reverse:  # it ran on each sequence reversed within its length
                    named = {n: p.reverse(a) for n, a in named.items()}
                named = {n: np.where(p.valid, a, np.nan)[:, p.unorder] for n, a in named.items()}
            out[divmod(k, D)] = {n: np.array(a) for n, a in named.items()}
        return out
