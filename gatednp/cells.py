"""LSTMCell, GRUCell and RNNCell: one time step, run by the cell file's textbook step.

A cell keeps one cache per call; `backward` walks them back newest first, so a hand-written
loop of T calls followed by T backward calls is backpropagation through time. The math is not
here: each call runs `step` of lstm.py, gru.py or rnn.py, and each backward call its
`step_backward`, whose gradients are added into the parameters' `.grad`.
"""

from __future__ import annotations

import numpy as np

from .checks import check_dtype, check_flags, check_float_array, check_shape, check_sizes
from .module import BackwardError, Module, Weights, as_rng
from .registry import GRU_KIND, LSTM_KIND, RNN_KIND, CellKind, check_lstm_extras

__all__ = ["CellBase", "LSTMCell", "GRUCell", "RNNCell", "cell_like"]


class CellBase(Module):
    """torch's RNNCellBase: parameters `weight_ih (G·H, I)`, `weight_hh (G·H, H)`, two biases.

    Subclasses set `kind` (registry.py); keyword options of the kind (forget_gate, reset_after,
    nonlinearity) and the LSTM's peepholes / forget_bias are passed on to it.
    """

    kind: CellKind

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        dtype=np.float64,
        rng: np.random.Generator | int | None = None,
        peepholes: bool = False,
        forget_bias: float | None = None,
        **options,
    ) -> None:
        check_sizes(input_size=input_size, hidden_size=hidden_size)
        check_flags(bias=bias)
        dtype = check_dtype(dtype)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.cell_options = self.kind.check_options(**options)
        for name, value in self.cell_options.items():  # lstm.forget_gate, gru.reset_after, ...
            setattr(self, name, value)
        self.peepholes = peepholes
        self.forget_bias = check_lstm_extras(peepholes, forget_bias, bias, self.cell_options)
        for field in Weights._fields:  # torch's order of names, whatever exists
            setattr(self, field, None)
        params = self.kind.make_parameters(
            as_rng(rng), dtype, input_size, hidden_size, bias=bias, peepholes=peepholes,
            forget_bias=self.forget_bias, **self.cell_options,
        )  # fmt: skip
        for name, p in params.items():
            setattr(self, name, p)
        self._caches: list = []
        self._last_forward: str | None = None  # "train" or "eval": for backward's error

    def __repr__(self) -> str:
        defaults = {"peepholes": False, "forget_bias": None, **self.kind.options}
        options = "".join(
            f", {k}={getattr(self, k)!r}" for k, v in defaults.items() if getattr(self, k, v) != v
        )
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}, bias={self.bias}{options})"

    @property
    def variant(self) -> dict:
        """The cell options that torch's cell does not have ({} for torch's own)."""
        return self.kind.variant(self.cell_options)

    def weights(self) -> Weights:
        return Weights(*(getattr(self, field) for field in Weights._fields))

    def forward(self, x: np.ndarray, state=None):
        """x (B, I) or (I,), and the state ((h, c) for an LSTM, h otherwise; zeros if None),
        each (B, H) or (H,) -> the new state, shaped like the old one."""
        pair = len(self.kind.state) == 2
        if state is not None and pair and (not isinstance(state, tuple) or len(state) != 2):
            raise TypeError(
                f"{type(self).__name__} expects its state as {self.kind.state}, got {type(state).__name__}"
            )
        parts = None if state is None else (state if pair else (state,))
        new = self._step(x, parts)
        return new if pair else new[0]

    def backward(self, dstate):
        """The gradient of the newest un-walked step's new state ((dh', dc') or dh'; None parts
        are zeros) -> dx and the gradient of its old state, shaped alike."""
        pair = len(self.kind.state) == 2
        if pair and (not isinstance(dstate, tuple) or len(dstate) != 2):
            raise TypeError(
                f"{type(self).__name__}.backward expects the gradient of its state as a tuple "
                f"('dh', 'dc'), got {type(dstate).__name__}"
            )
        dx, dstate0 = self._walk_back(dstate if pair else (dstate,))
        return dx, dstate0 if pair else dstate0[0]

    def _step(self, x, parts: tuple | None) -> tuple[np.ndarray, ...]:
        """One textbook step; keeps its cache for backward."""
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
        if parts is None:  # zeros shaped like the input's batch: (H,) for unbatched input
            parts = tuple(np.zeros((H,) if unbatched else (B, H), dtype) for _ in self.kind.state)
        state = []
        for s, name in zip(parts, self.kind.state, strict=True):
            s = check_float_array(s, name, dtype)
            check_shape(s, (H,) if unbatched else (B, H), name)
            state.append(s.reshape(B, H))
        x2 = x.reshape(B, self.input_size)
        if self.training:  # the cache keeps copies: a loop may refill one buffer every step
            x2, state = x2.copy(), [s.copy() for s in state]
        new, cache = self.kind.math.step(
            x2, tuple(state), self.weights().arrays(), **self.cell_options
        )
        self._last_forward = "train" if self.training else "eval"
        if self.training:
            self._caches.append((cache, unbatched))
        return tuple(np.array(s.reshape(H) if unbatched else s) for s in new)  # the cache keeps s

    def _walk_back(self, dstate: tuple) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """BPTT through the newest step not yet walked back: dstate' -> dx, dstate."""
        if not self._caches:
            if self._last_forward == "eval":
                raise BackwardError.explain(self, "eval")
            raise BackwardError(
                f"{type(self).__name__}.backward() called more times than forward() in training mode"
            )
        cache, unbatched = self._caches[-1]
        B, H = cache.x.shape[0], self.hidden_size
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
        w = self.weights()
        dx, dstate0, grads = self.kind.math.step_backward(
            tuple(parts), cache, w.arrays(), **self.cell_options
        )
        w.accumulate(grads)
        return (dx[0] if unbatched else dx), tuple(d[0] if unbatched else d for d in dstate0)


class LSTMCell(CellBase):
    """One LSTM step (lstm.py), torch.nn.LSTMCell's parameters and call; a loop over it is BPTT.

    Options beyond torch's (lstm.py): `peepholes`, `forget_gate` ("gate", "coupled", "none"),
    `input_gate` and `output_gate` ("gate", "none"), `forget_bias`.

    >>> import numpy as np, gatednp as gn
    >>> cell = gn.LSTMCell(3, 5, rng=0)
    >>> h, c = cell(np.ones((2, 3)))
    >>> h.shape, c.shape
    ((2, 5), (2, 5))
    >>> dx, (dh0, dc0) = cell.backward((np.ones((2, 5)), None))
    >>> dx.shape
    (2, 3)
    """

    kind = LSTM_KIND

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        peepholes: bool = False,
        forget_gate: str = "gate",
        input_gate: str = "gate",
        output_gate: str = "gate",
        forget_bias: float | None = None,
        activations: tuple[str, ...] | None = None,
        activation_alpha: tuple[float | None, ...] | None = None,
        activation_beta: tuple[float | None, ...] | None = None,
        clip: float | None = None,
        dtype=np.float64,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__(
            input_size, hidden_size, bias, dtype=dtype, rng=rng, peepholes=peepholes,
            forget_bias=forget_bias, forget_gate=forget_gate, input_gate=input_gate,
            output_gate=output_gate, activations=activations, activation_alpha=activation_alpha,
            activation_beta=activation_beta, clip=clip,
        )  # fmt: skip


class GRUCell(CellBase):
    """One GRU step (gru.py), torch.nn.GRUCell's parameters and call; a loop over it is BPTT.

    >>> import numpy as np, gatednp as gn
    >>> cell = gn.GRUCell(3, 5, rng=0)
    >>> h = cell(np.ones((2, 3)))
    >>> dx, dh0 = cell.backward(np.ones((2, 5)))
    >>> h.shape, dx.shape, dh0.shape
    ((2, 5), (2, 3), (2, 5))
    """

    kind = GRU_KIND

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        reset_after: bool = True,
        activations: tuple[str, ...] | None = None,
        activation_alpha: tuple[float | None, ...] | None = None,
        activation_beta: tuple[float | None, ...] | None = None,
        clip: float | None = None,
        dtype=np.float64,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__(
            input_size, hidden_size, bias, dtype=dtype, rng=rng, reset_after=reset_after,
            activations=activations, activation_alpha=activation_alpha,
            activation_beta=activation_beta, clip=clip,
        )  # fmt: skip


class RNNCell(CellBase):
    """One Elman step (rnn.py), torch.nn.RNNCell's parameters and call; a loop over it is BPTT.

    >>> import numpy as np, gatednp as gn
    >>> cell = gn.RNNCell(3, 5, nonlinearity="relu", rng=0)
    >>> h = cell(np.ones((2, 3)))
    >>> dx, dh0 = cell.backward(np.ones((2, 5)))
    >>> h.shape, dx.shape, dh0.shape
    ((2, 5), (2, 3), (2, 5))
    """

    kind = RNN_KIND

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        *,
        activations: tuple[str, ...] | None = None,
        activation_alpha: tuple[float | None, ...] | None = None,
        activation_beta: tuple[float | None, ...] | None = None,
        clip: float | None = None,
        dtype=np.float64,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__(
            input_size, hidden_size, bias, dtype=dtype, rng=rng, nonlinearity=nonlinearity,
            activations=activations, activation_alpha=activation_alpha,
            activation_beta=activation_beta, clip=clip,
        )  # fmt: skip


CELLS = {cls.kind.name: cls for cls in (LSTMCell, GRUCell, RNNCell)}


def cell_like(layer, index: int = 0, *, dtype=None) -> CellBase:
    """A cell with the kind, options and weights of one layer and direction of a gn.LSTM, GRU
    or RNN (`index` = layer·D + direction, torch's state index), e.g. to step it by hand."""
    w = layer.weights(index)
    if w.weight_hr is not None:
        raise ValueError("a cell has no projection: this layer has proj_size > 0")
    options = dict(layer.cell_options)
    if layer.kind is LSTM_KIND:
        options["peepholes"] = w.weight_ci is not None
    cell = CELLS[layer.kind.name](
        w.weight_ih.shape[1], layer.hidden_size, layer.bias, **options,
        dtype=dtype or w.weight_ih.dtype,
    )  # fmt: skip
    for mine, theirs in zip(cell.weights(), w):
        if mine is not None:
            mine.data[...] = theirs.data
    return cell
