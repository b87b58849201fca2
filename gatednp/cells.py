"""What LSTMCell, GRUCell and RNNCell share: one step through their layer's math at T = 1.

A cell keeps one cache per call; `backward` walks them back newest first, so a hand-written
loop of T calls followed by T backward calls is backpropagation through time. The gate math is
not repeated here: each step runs the cell file's own `forward` / `backward` with T = 1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .checks import check_dtype, check_flags, check_float_array, check_shape, check_sizes
from .module import BackwardError, Module, Parameter, Weights, as_rng, init_uniform

__all__ = ["CellBase"]


class CellBase(Module):
    """torch's RNNCellBase: parameters `weight_ih (G·H, I)`, `weight_hh (G·H, H)`, two biases.

    Subclasses set `GATES`, `STATE` (("h", "c") or ("h",)) and `kernel_forward` /
    `kernel_backward` (the cell file's layer functions); `cell_options` carries extra keywords.
    """

    GATES: int
    STATE: tuple[str, ...]
    kernel_forward: Callable
    kernel_backward: Callable
    cell_options: dict = {}

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        dtype=np.float64,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        check_sizes(input_size=input_size, hidden_size=hidden_size)
        check_flags(bias=bias)
        dtype = check_dtype(dtype)
        rng = as_rng(rng)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        bound = 1.0 / np.sqrt(hidden_size)  # torch's init: U(-1/√H, 1/√H)
        G, H = self.GATES, hidden_size
        self.weight_ih = init_uniform(rng, (G * H, input_size), bound, dtype)
        self.weight_hh = init_uniform(rng, (G * H, H), bound, dtype)
        self.bias_ih: Parameter | None = init_uniform(rng, (G * H,), bound, dtype) if bias else None
        self.bias_hh: Parameter | None = init_uniform(rng, (G * H,), bound, dtype) if bias else None
        self._caches: list = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}, bias={self.bias})"

    def forward(self, x: np.ndarray, state=None):
        """x (B, I) or (I,), and the state ((h, c) for an LSTM, h otherwise; zeros if None),
        each (B, H) or (H,) -> the new state, shaped like the old one."""
        pair = len(self.STATE) == 2
        if state is not None and pair and (not isinstance(state, tuple) or len(state) != 2):
            raise TypeError(
                f"{type(self).__name__} expects its state as {self.STATE}, got {type(state).__name__}"
            )
        parts = None if state is None else (state if pair else (state,))
        new = self._step(x, parts)
        return new if pair else new[0]

    def backward(self, dstate):
        """The gradient of the newest un-walked step's new state ((dh', dc') or dh'; None parts
        are zeros) -> dx and the gradient of its old state, shaped alike."""
        pair = len(self.STATE) == 2
        if pair and (not isinstance(dstate, tuple) or len(dstate) != 2):
            raise TypeError(
                f"{type(self).__name__}.backward expects the gradient of its state as a tuple "
                f"('dh', 'dc'), got {type(dstate).__name__}"
            )
        dx, dstate0 = self._walk_back(dstate if pair else (dstate,))
        return dx, dstate0 if pair else dstate0[0]

    def _step(self, x, parts: tuple | None) -> tuple[np.ndarray, ...]:
        """One step through the layer math at T = 1; keeps the cache for backward."""
        dtype = self.weight_ih.data.dtype
        x = check_float_array(x, "input", dtype)
        if x.ndim not in (1, 2):
            raise ValueError(
                f"{type(self).__name__}: Expected input to be 1D or 2D, got {x.ndim}D instead"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"input has inconsistent input_size: got {x.shape[-1]} expected {self.input_size}"
            )
        unbatched = x.ndim == 1
        B, H = (1 if unbatched else x.shape[0]), self.hidden_size
        if parts is None:
            parts = tuple(np.zeros((B, H), dtype=dtype) for _ in self.STATE)
        state = []
        for s, name in zip(parts, self.STATE, strict=True):
            s = check_float_array(s, name, dtype)
            check_shape(s, (H,) if unbatched else (B, H), name)
            state.append(s.reshape(B, H))
        w = Weights(self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        x3 = np.ascontiguousarray(x.reshape(1, B, self.input_size))
        _, new, cache = type(self).kernel_forward(
            x3, tuple(state), w, keep_cache=self.training, **self.cell_options
        )
        if self.training:
            self._caches.append((cache, unbatched))
        return tuple(
            np.array(s.reshape(H) if unbatched else s) for s in new
        )  # copies: the cache keeps s

    def _walk_back(self, dstate: tuple) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """BPTT through the newest step not yet walked back: dstate' -> dx, dstate."""
        if not self._caches:
            raise BackwardError(
                f"{type(self).__name__}.backward() called more times than forward() in training mode"
            )
        cache, unbatched = self._caches[-1]
        B, H = cache.x.shape[1], self.hidden_size
        dtype = cache.x.dtype
        parts = []
        for d in dstate:
            if d is None:
                parts.append(np.zeros((B, H), dtype=dtype))
                continue
            d = check_float_array(d, "gradient", dtype)
            check_shape(d, (H,) if unbatched else (B, H), "gradient of the state")
            parts.append(d.reshape(B, H))
        self._caches.pop()
        dy = np.zeros((1, B, H), dtype=dtype)  # the new state is the output: its gradient is dstate
        dx, dstate0 = type(self).kernel_backward(cache, dy, tuple(parts))
        return (dx[0, 0] if unbatched else dx[0]), tuple(d[0] if unbatched else d for d in dstate0)
