"""Stateful use of a layer: truncated BPTT over chunks, and inference on a stream step by step.

torch users write this by hand (`h = h.detach()` between chunks). `Stateful(layer)` carries the
final state of one call into the next as a constant:

- `forward(chunk)` starts from the carried state (zeros after `reset_state()`) and keeps the
  new final state for the next call;
- `backward(dy)` runs BPTT within the chunk only and returns `(dx, dstate0)`: the gradient
  with respect to the carried state is reported but goes no further back, so the previous
  chunk's parameters receive nothing from this one (truncated BPTT);
- `step(x_t)` runs one time step in inference and returns that step's output; a stream fed
  step by step gives the same outputs as the whole sequence at once.

Only a unidirectional layer can stream: the reverse direction needs the end of the sequence.

>>> import numpy as np, gatednp as gn
>>> lstm = gn.LSTM(2, 3, rng=0)
>>> stream = gn.Stateful(lstm)
>>> x = np.random.default_rng(0).normal(size=(6, 1, 2))
>>> y_chunks = np.concatenate([stream(x[:4]), stream(x[4:])])   # carries (h, c) across
>>> np.allclose(y_chunks, lstm(x)[0])
True
>>> stream.reset_state()
>>> y_steps = np.stack([stream.step(x_t) for x_t in x])          # one step at a time
>>> np.allclose(y_steps, lstm(x)[0])
True
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .module import Module, Parameter
from .recurrent import RNNBase

__all__ = ["Stateful"]


class Stateful(Module):
    """Wrap an LSTM, GRU or RNN so that its final state carries over from call to call.

    Parameters are the layer's own, under the layer's own names (an optimizer or a
    `state_dict` sees exactly the wrapped layer).
    """

    def __init__(self, layer: RNNBase) -> None:
        if not isinstance(layer, RNNBase):
            raise TypeError(f"Stateful wraps an LSTM, GRU or RNN, got {type(layer).__name__}")
        self.layer = layer
        self.state = None  # the carried state: None (zeros), an array, or an (h, c) pair

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        return self.layer.named_parameters(prefix)

    def reset_state(self) -> None:
        """Forget the carried state: the next call starts from zeros."""
        self.state = None

    def get_extra_state(self) -> dict[str, np.ndarray]:
        """The carried state by name ({} when there is none), for checkpoints (torch's hook)."""
        if self.state is None:
            return {}
        parts = self.state if isinstance(self.state, tuple) else (self.state,)
        return dict(zip(self.layer.kind.state, parts))

    def check_extra_state(self, entries: dict[str, np.ndarray]):
        """`get_extra_state()`'s output as a carried state, checked against the layer."""
        if not entries:
            return None
        names, layer = self.layer.kind.state, self.layer
        if set(entries) != set(names):
            raise ValueError(f"expected the entries {list(names)}, got {sorted(entries)}")
        L, parts = layer.num_layers * layer.num_directions, []
        for name, size in zip(names, layer.state_sizes):
            a = entries[name]
            B = a.shape[1] if a.ndim == 3 else None
            expected = (L, size) if B is None else (L, B, size)
            if a.shape != expected or a.dtype != layer.dtype:
                raise ValueError(
                    f"expected {name} of shape {expected} and dtype {layer.dtype}, "
                    f"got {a.shape} {a.dtype}"
                )
            parts.append(np.array(a))
        if len({p.shape[:-1] for p in parts}) > 1:
            raise ValueError(f"the parts {list(names)} differ in batch: {[p.shape for p in parts]}")
        return tuple(parts) if len(parts) > 1 else parts[0]

    def set_extra_state(self, entries: dict[str, np.ndarray]) -> None:
        """Carry the state saved by `get_extra_state()` into the next call."""
        self.state = self.check_extra_state(entries)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """One chunk, shaped as the layer takes it -> its output; the final state is kept."""
        y, state = self.layer(x, self._carried(x))
        self._keep(state)
        return y

    def _keep(self, state) -> None:
        self.state = (
            tuple(np.array(s) for s in state) if isinstance(state, tuple) else np.array(state)
        )

    def backward(self, dy: np.ndarray):
        """BPTT within the last chunk -> (dx, gradient at the chunk's start); it stops there."""
        return self.layer.backward(dy)

    def step(self, x_t: np.ndarray) -> np.ndarray:
        """One time step of inference: x_t (B, I), or (I,) unbatched -> y_t (B, H_out) or (H_out,)."""
        if self.layer.bidirectional or getattr(self.layer, "reverse", False):
            raise ValueError(
                "a bidirectional or reverse layer cannot run step by step: its reverse direction needs the whole sequence"
            )
        x_t = np.asarray(x_t)
        if x_t.ndim not in (1, 2):
            raise ValueError(f"step expects one time step of shape (B, I) or (I,), got {x_t.shape}")
        time_axis = 1 if x_t.ndim == 2 and self.layer.batch_first else 0
        # inference: no cache, no dropout; a chunk's pending backward stays possible
        x = np.expand_dims(x_t, time_axis)
        y, state, _ = self.layer.run(x, self._carried(x), keep_cache=False, dropout=False)
        self._keep(state)
        return np.take(y, 0, axis=time_axis)

    def _carried(self, x: np.ndarray):
        """The carried state, after checking that the batch size still matches it."""
        if self.state is None:
            return None
        h = self.state[0] if isinstance(self.state, tuple) else self.state
        batched = np.ndim(x) == 3
        B = (np.shape(x)[0] if self.layer.batch_first else np.shape(x)[1]) if batched else None
        carried_B = h.shape[1] if h.ndim == 3 else None
        if B != carried_B:
            describe = lambda b: "unbatched input" if b is None else f"batch size {b}"  # noqa: E731
            raise ValueError(
                f"the carried state is for {describe(carried_B)} but this input has {describe(B)}; "
                f"call reset_state() before changing the batch"
            )
        return self.state
