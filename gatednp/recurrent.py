"""What LSTM, GRU and RNN share: the torch-shaped layers built on one layer's forward/backward.

A cell file (lstm.py, gru.py, rnn.py) knows the gate math of one layer in one direction. This
file stacks layers, runs the two directions, applies dropout between layers, and accepts
`batch_first`, unbatched input and variable `lengths` (packing.py: torch's
`pack_padded_sequence(..., enforce_sorted=False)` + `pad_packed_sequence`; outputs past a
sequence's length are zero and receive no gradient).

State tensors have torch's shape (D·num_layers, B, H_out), index = layer·D + direction.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from .checks import check_dtype, check_flags, check_float_array, check_shape, check_sizes
from .module import BackwardError, Module, Weights, as_rng, init_uniform
from .packing import Packing

__all__ = ["RNNBase", "LSTM", "GRU", "RNN"]


class RNNBase(Module):
    """The torch.nn.RNNBase of gatednp: parameters, stacking, directions, lengths.

    Subclasses set `cell` (the module with that cell's `forward`/`backward`), `GATES` and
    `STATE` (the names of the state tensors: ("h", "c") or ("h",)).
    """

    cell: ModuleType
    GATES: int
    STATE: tuple[str, ...]
    cell_options: dict = {}  # extra keywords for the cell's forward (the RNN's nonlinearity)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        *,
        dtype=np.float64,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        check_sizes(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        check_flags(bias=bias, batch_first=batch_first, bidirectional=bidirectional)
        if not isinstance(dropout, (int, float, np.integer, np.floating)) or isinstance(
            dropout, bool
        ):
            raise TypeError(f"dropout must be a number in [0, 1), got {type(dropout).__name__}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout}")
        if isinstance(proj_size, bool) or not isinstance(proj_size, (int, np.integer)):
            raise TypeError(f"proj_size must be an int, got {type(proj_size).__name__}")
        if proj_size < 0:
            raise ValueError(f"proj_size must be zero or positive, got {proj_size}")
        if proj_size >= hidden_size:
            raise ValueError(
                f"proj_size has to be smaller than hidden_size, got {proj_size} >= {hidden_size}"
            )
        dtype = check_dtype(dtype)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        self.dtype = np.dtype(dtype)
        self.rng = as_rng(rng)
        self._ctx: dict | None = None

        # Parameters in torch's order and names, each drawn from U(-1/√H, 1/√H)
        D, H, G = self.num_directions, hidden_size, self.GATES
        H_out = proj_size or hidden_size
        bound = 1.0 / np.sqrt(hidden_size)
        self._weights: list[list[Weights]] = []
        for layer in range(num_layers):
            per_direction = []
            for suffix in ("", "_reverse")[:D]:
                in_size = input_size if layer == 0 else H_out * D
                names = {"weight_ih": (G * H, in_size), "weight_hh": (G * H, H_out)}
                if bias:
                    names.update(bias_ih=(G * H,), bias_hh=(G * H,))
                if proj_size:
                    names["weight_hr"] = (proj_size, H)
                params = {}
                for name, shape in names.items():
                    params[name] = init_uniform(self.rng, shape, bound, self.dtype)
                    setattr(self, f"{name}_l{layer}{suffix}", params[name])
                per_direction.append(Weights(**params))
            self._weights.append(per_direction)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def state_sizes(self) -> tuple[int, ...]:
        """The feature size of each state tensor: (H_out, H) for an LSTM, (H,) otherwise."""
        H_out = self.proj_size or self.hidden_size
        return (H_out, self.hidden_size)[: len(self.STATE)]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        defaults = dict(
            num_layers=1,
            bias=True,
            batch_first=False,
            dropout=0.0,
            bidirectional=False,
            proj_size=0,
        )
        for k, v in defaults.items():
            if getattr(self, k) != v:
                s += f", {k}={getattr(self, k)}"
        return s

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    # -- input and state conversion ---------------------------------------------------------

    def _time_major(self, x) -> tuple[np.ndarray, bool]:
        """x -> ((T, B, I) C-contiguous, batched?)."""
        x = check_float_array(x, "input", self.dtype)
        if x.ndim not in (2, 3):
            raise ValueError(
                f"{type(self).__name__}: Expected input to be 2D or 3D, got {x.ndim}D instead"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got {x.shape[-1]}"
            )
        batched = x.ndim == 3
        if not batched:
            x = x[:, None, :]
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        if x.shape[0] == 0:
            raise ValueError("input has no time steps (T = 0); a sequence needs at least one step")
        return np.ascontiguousarray(x), batched

    def _initial_state(self, state, B: int, batched: bool) -> list[np.ndarray]:
        """The user's state (None, an array or an (h, c) pair) -> a list of (L·D, B, ·) arrays."""
        L = self.num_layers * self.num_directions
        if state is None:
            return [np.zeros((L, B, size), dtype=self.dtype) for size in self.state_sizes]
        parts = self._state_parts(state, "hx")
        out = []
        for part, name, size in zip(parts, self.STATE, self.state_sizes):
            part = check_float_array(part, f"{name}0", self.dtype)
            expected = (L, B, size) if batched else (L, size)
            check_shape(part, expected, f"{name}0")
            out.append(part if batched else part[:, None, :])
        return out

    def _state_parts(self, state, name: str) -> tuple:
        if len(self.STATE) == 1:
            if isinstance(state, (tuple, list)):
                raise TypeError(
                    f"{type(self).__name__} expects {name} to be a single array, got a {type(state).__name__}"
                )
            return (state,)
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            given = type(state).__name__
            if isinstance(state, (tuple, list)):
                given = f"a {given} of {len(state)}"
            raise TypeError(
                f"{type(self).__name__} expects {name} to be a pair (h, c), got {given}"
            )
        return tuple(state)

    def _public_state(self, parts: list[np.ndarray], batched: bool):
        parts = [p if batched else p[:, 0] for p in parts]
        return tuple(parts) if len(parts) > 1 else parts[0]

    # -- forward and backward ---------------------------------------------------------------

    def forward(self, x: np.ndarray, state=None, lengths=None):
        """Run the whole stack over a sequence.

        Args:
            x: (T, B, I), or (B, T, I) with batch_first, or unbatched (T, I).
            state: initial state, zeros if None: an LSTM takes (h_0, c_0), each
                (D·num_layers, B, H_out) / (D·num_layers, B, H); GRU and RNN take h_0.
            lengths: optional (B,) ints in [1, T]: the true length of each sequence.

        Returns:
            y (T, B, D·H_out) (batch-first / unbatched like x), and the final state shaped like
            the initial one: (h_n, c_n) for an LSTM, h_n otherwise.
        """
        x, batched = self._time_major(x)
        T, B, _ = x.shape
        states = self._initial_state(state, B, batched)
        packing = None if lengths is None else Packing(lengths, T, B, batched)
        if packing is not None:
            x = x[:, packing.order]
            states = [s[:, packing.order] for s in states]

        D, keep = self.num_directions, self.training
        final = [np.empty_like(s) for s in states]
        caches, masks = [], []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for d in range(D):
                k = layer * D + d
                state_k = tuple(s[k] for s in states)
                reverse = d == 1
                inp = layer_input
                if reverse and packing is not None:  # reverse each sequence within its length
                    inp, reverse = packing.reverse(layer_input), False
                batch_sizes = None if packing is None else packing.batch_sizes
                y, state_n, cache = self.cell.forward(
                    inp,
                    state_k,
                    self._weights[layer][d],
                    reverse=reverse,
                    batch_sizes=batch_sizes,
                    keep_cache=keep,
                    **self.cell_options,
                )
                if d == 1 and packing is not None:
                    y = packing.reverse(y)
                outputs.append(y)
                caches.append(cache)
                for f, s in zip(final, state_n):
                    f[k] = s
            layer_input = outputs[0] if D == 1 else np.concatenate(outputs, axis=2)
            mask = None
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                keep_prob = 1.0 - self.dropout
                kept = self.rng.random(layer_input.shape) < keep_prob
                mask = kept.astype(self.dtype) / keep_prob  # inverted dropout, as torch's
                layer_input = layer_input * mask
            masks.append(mask)

        y = layer_input
        if packing is not None:
            y = (y * packing.valid)[:, packing.unorder]
            final = [f[:, packing.unorder] for f in final]
        self._ctx = None  # a stale cache must never meet the next backward
        if keep:
            self._ctx = dict(
                caches=caches, masks=masks, packing=packing, batched=batched, y_shape=y.shape, B=B
            )
            # y may be a view of the cache: writing into it would corrupt BPTT
            y = y.view()
            y.flags.writeable = False
        if batched and self.batch_first:
            y = y.transpose(1, 0, 2)
        if not batched:
            y = y[:, 0]
        return y, self._public_state(final, batched)

    def backward(self, dy: np.ndarray, dstate=None):
        """BPTT through the whole stack for the last `forward`; accumulates parameter grads.

        Args:
            dy: gradient with respect to y, shaped like y.
            dstate: gradient with respect to the final state, shaped like it; None (or None
                for either part of an LSTM's pair) means zeros.

        Returns:
            dx shaped like x, and the gradient with respect to the initial state, shaped like it.
        """
        ctx = self._ctx
        if ctx is None:
            raise BackwardError(
                f"{type(self).__name__}.backward() needs a forward pass in training mode first "
                f"(each forward can be walked back once; eval() keeps no cache)"
            )
        batched, packing, B = ctx["batched"], ctx["packing"], ctx["B"]
        dy = check_float_array(dy, "dy", self.dtype)
        if not batched:
            dy = dy[:, None, :]
        elif self.batch_first:
            dy = dy.transpose(1, 0, 2)
        check_shape(dy, ctx["y_shape"], "dy (time-major)")
        L = self.num_layers * self.num_directions
        parts = (None,) * len(self.STATE) if dstate is None else self._state_parts(dstate, "dstate")
        dstates = []
        for part, name, size in zip(parts, self.STATE, self.state_sizes):
            if part is None:
                dstates.append(np.zeros((L, B, size), dtype=self.dtype))
                continue
            part = check_float_array(part, f"d{name}_n", self.dtype)
            check_shape(part, (L, B, size) if batched else (L, size), f"d{name}_n")
            dstates.append(part if batched else part[:, None, :])
        self._ctx = None

        if packing is not None:
            dy = dy[:, packing.order] * packing.valid
            dstates = [s[:, packing.order] for s in dstates]
        dy = np.ascontiguousarray(dy)
        D = self.num_directions
        H_out = self.proj_size or self.hidden_size
        dstate0 = [np.empty_like(s) for s in dstates]
        caches = ctx["caches"]
        for layer in reversed(range(self.num_layers)):
            mask = ctx["masks"][layer]
            if mask is not None:
                dy = dy * mask
            dx = None
            for d in range(D):
                k = layer * D + d
                dy_d = dy[..., d * H_out : (d + 1) * H_out] if D == 2 else dy
                if d == 1 and packing is not None:
                    dy_d = packing.reverse(dy_d)
                dx_d, ds = self.cell.backward(
                    caches[k], np.ascontiguousarray(dy_d), tuple(s[k] for s in dstates)
                )
                if d == 1 and packing is not None:
                    dx_d = packing.reverse(dx_d)
                dx = dx_d if dx is None else dx + dx_d
                for out, s in zip(dstate0, ds):
                    out[k] = s
            dy = dx

        dx = dy
        if packing is not None:
            dx = dx[:, packing.unorder]
            dstate0 = [s[:, packing.unorder] for s in dstate0]
        if not batched:
            dx = dx[:, 0]
        elif self.batch_first:
            dx = dx.transpose(1, 0, 2)
        return dx, self._public_state(dstate0, batched)


class LSTM(RNNBase):
    """torch.nn.LSTM in NumPy; the gate math is in lstm.py.

    >>> import numpy as np, gatednp as gn
    >>> lstm = gn.LSTM(input_size=3, hidden_size=4, rng=0)
    >>> y, (h_n, c_n) = lstm(np.zeros((5, 2, 3)))          # (T, B, I)
    >>> y.shape, h_n.shape, c_n.shape
    ((5, 2, 4), (1, 2, 4), (1, 2, 4))
    >>> dx, (dh0, dc0) = lstm.backward(np.ones_like(y))
    >>> dx.shape, lstm.weight_ih_l0.grad.shape
    ((5, 2, 3), (16, 3))
    """

    from . import lstm as cell

    GATES = 4
    STATE = ("h", "c")


class GRU(RNNBase):
    """torch.nn.GRU in NumPy; the gate math is in gru.py.

    >>> import numpy as np, gatednp as gn
    >>> gru = gn.GRU(3, 4, batch_first=True, rng=0)
    >>> y, h_n = gru(np.zeros((2, 5, 3)))                  # (B, T, I)
    >>> y.shape, h_n.shape
    ((2, 5, 4), (1, 2, 4))
    """

    from . import gru as cell

    GATES = 3
    STATE = ("h",)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        dtype=np.float64,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            dtype=dtype, rng=rng,
        )  # fmt: skip


class RNN(RNNBase):
    """torch.nn.RNN (Elman, tanh or relu) in NumPy; the math is in rnn.py.

    >>> import numpy as np, gatednp as gn
    >>> rnn = gn.RNN(3, 4, num_layers=2, nonlinearity="relu", rng=0)
    >>> y, h_n = rnn(np.zeros((5, 2, 3)))
    >>> y.shape, h_n.shape
    ((5, 2, 4), (2, 2, 4))
    """

    from . import rnn as cell

    GATES = 1
    STATE = ("h",)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        dtype=np.float64,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.nonlinearity = self.cell.check_nonlinearity(nonlinearity)
        self.cell_options = {"nonlinearity": nonlinearity}
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            dtype=dtype, rng=rng,
        )  # fmt: skip

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity!r}"
