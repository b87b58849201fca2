"""torch's LSTM, GRU and RNN layers, built on each cell's engine.

A cell's engine (engine/lstm.py, ...) runs one layer in one direction. This file stacks layers,
runs the two directions, applies dropout between layers, and accepts `batch_first`, unbatched
input and variable `lengths` (packing.py: torch's `pack_padded_sequence(...,
enforce_sorted=False)` + `pad_packed_sequence`; outputs past a sequence's length are zero and
receive no gradient). What a cell kind is made of comes from the registry (registry.py).

State tensors have torch's shape (D·num_layers, B, H_out), index k = layer·D + direction.
"""

from __future__ import annotations

import numpy as np

from .checks import (
    check_directions,
    check_dropout,
    check_dtype,
    check_flags,
    check_proj_size,
    check_sizes,
)  # fmt: skip
from .engine import bidirectional
from .layercache import LayerCache
from .module import BackwardError, Module, Weights, as_rng
from .packing import Packing
from .registry import GRU_KIND, LSTM_KIND, RNN_KIND, CellKind, check_lstm_extras
from .shapes import check_states, dy_time_major, public_state, time_major

__all__ = ["RNNBase", "LSTM", "GRU", "RNN", "LayerCache"]


class RNNBase(Module):
    """The torch.nn.RNNBase of gatednp: parameters, stacking, directions, lengths.

    Subclasses set `kind` (registry.py); the cell's options (forget_gate, reset_after,
    nonlinearity) and the LSTM's `peepholes` and `forget_bias` arrive as keywords.
    """

    kind: CellKind
    _last_forward: str | None = None  # None, "train", "eval" or "walked" (for backward's error)

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
        peepholes: bool = False,
        forget_bias: float | None = None,
        reverse: bool = False,
        **options,
    ) -> None:
        check_sizes(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        check_flags(bias=bias, batch_first=batch_first)
        check_directions(bidirectional, reverse)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bias, batch_first
        self.dropout = check_dropout(dropout, num_layers)
        self.bidirectional, self.reverse = bidirectional, reverse
        self.proj_size = check_proj_size(proj_size, hidden_size)
        self.dtype = check_dtype(dtype)
        self.rng = as_rng(rng)
        self.cell_options = self.kind.check_options(**options)
        for name, value in self.cell_options.items():  # lstm.forget_gate, gru.reset_after, ...
            setattr(self, name, value)
        self.peepholes = peepholes
        self.forget_bias = check_lstm_extras(peepholes, forget_bias, bias, self.cell_options)
        self._cache: LayerCache | None = None

        # Parameters in torch's order and names (layout and init: registry.py)
        D, H_out = self.num_directions, self.proj_size or hidden_size
        self._weights: list[Weights] = []  # index k = layer·D + direction
        for layer in range(num_layers):
            for suffix in ("", "_reverse")[:D]:
                params = self.kind.make_parameters(
                    self.rng, self.dtype, input_size if layer == 0 else H_out * D, hidden_size,
                    bias=bias, proj_size=self.proj_size, peepholes=peepholes,
                    forget_bias=self.forget_bias, **self.cell_options,
                )  # fmt: skip
                for name, p in params.items():
                    setattr(self, f"{name}_l{layer}{suffix}", p)
                self._weights.append(Weights(**params))

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def state_sizes(self) -> tuple[int, ...]:
        """The feature size of each state tensor: (H_out, H) for an LSTM, (H,) otherwise."""
        H_out = self.proj_size or self.hidden_size
        return (H_out, self.hidden_size)[: len(self.kind.state)]

    @property
    def variant(self) -> dict:
        """The cell options that torch's layer does not have ({} for torch's own)."""
        return self.kind.variant(self.cell_options)

    def weights(self, index: int) -> Weights:
        """The parameters of layer·D + direction `index`, as the engine takes them."""
        return self._weights[index]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        defaults = dict(
            num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False,
            reverse=False, proj_size=0, peepholes=False, forget_bias=None, **self.kind.options,
        )  # fmt: skip
        for k, v in defaults.items():
            if getattr(self, k, v) != v:
                s += f", {k}={getattr(self, k)!r}"
        return s

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    # -- forward and backward ---------------------------------------------------------------

    def forward(self, x: np.ndarray, state=None, lengths=None):
        """Run the whole stack over a sequence.

        Args:
            x: (T, B, I), or (B, T, I) with batch_first, or unbatched (T, I); T = 0 gives an
                empty y and the initial state back (as ONNX; torch refuses T = 0).
            state: initial state, zeros if None: an LSTM takes (h_0, c_0), each
                (D·num_layers, B, H_out) / (D·num_layers, B, H); GRU and RNN take h_0.
            lengths: optional (B,) ints in [0, T]: the true length of each sequence (0: no
                step, zero outputs, the initial state kept, as ONNX's sequence_lens = 0).

        Returns:
            y (T, B, D·H_out) (batch-first / unbatched like x), and the final state shaped like
            the initial one: (h_n, c_n) for an LSTM, h_n otherwise.
        """
        self._cache, self._last_forward = None, None  # a stale cache must never meet backward
        y, state_n, self._cache = self.run(
            x, state, lengths, keep_cache=self.training, dropout=self.training
        )
        self._last_forward = "train" if self.training else "eval"
        return y, state_n

    @np.errstate(invalid="ignore", over="ignore")  # inf/nan in, nan out, silently as torch
    def run(self, x: np.ndarray, state=None, lengths=None, *, keep_cache: bool, dropout: bool):
        """`forward` with its switches exposed, leaving the layer's own cache alone: returns
        (y, final state, the LayerCache or None). `keep_cache=True, dropout=False` is how
        gate introspection looks inside; `False, False` is one step of a stream."""
        x, batched = time_major(self, x, own=keep_cache and lengths is None)
        T, B, _ = x.shape
        states = check_states(self, state, "hx", B, batched)
        packing = None if lengths is None else Packing(lengths, T, B, batched)
        if packing is not None:
            x = x[:, packing.order]
            states = [s[:, packing.order] for s in states]

        D, engine = self.num_directions, self.kind.engine
        final = [np.empty_like(s) for s in states]
        caches, masks = [], []
        layer_input = x
        both = D == 2 and bidirectional.together(self, T, B, lengths)
        for layer in range(self.num_layers):
            outputs, ks = [], slice(layer * D, layer * D + D)
            if both:  # both directions in one loop (engine/bidirectional.py)
                y = bidirectional.run_layer(
                    self, layer_input, states, ks, final, caches, keep_cache
                )
                outputs.append(y)
            for d in range(0 if both else D):
                k = layer * D + d
                backwards = d == 1 or self.reverse  # this direction runs from the last step
                reverse, inp = backwards, layer_input
                if reverse and packing is not None:  # reverse each sequence within its length
                    inp, reverse = packing.reverse(layer_input), False
                y, state_n, cache = engine.forward(
                    inp, tuple(s[k] for s in states), self._weights[k], reverse=reverse,
                    batch_sizes=None if packing is None else packing.batch_sizes,
                    keep_cache=keep_cache, **self.cell_options,
                )  # fmt: skip
                outputs.append(packing.reverse(y) if backwards and packing is not None else y)
                caches.append(cache)
                for f, s in zip(final, state_n):
                    f[k] = s
            layer_input = outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=2)
            mask = None
            if dropout and self.dropout > 0 and layer < self.num_layers - 1:
                keep_prob = 1.0 - self.dropout
                kept = self.rng.random(layer_input.shape) < keep_prob
                mask = kept.astype(self.dtype) / keep_prob  # inverted dropout, as torch's
                layer_input = layer_input * mask
            masks.append(mask)

        y = layer_input
        if packing is not None:
            y = (y * packing.valid)[:, packing.unorder]
            final = [f[:, packing.unorder] for f in final]
        cache = None
        if keep_cache:
            cache = LayerCache(caches, masks, packing, batched, y.shape, D, self.reverse)
            y = y.view()  # y may be a view of the cache: writing into it would corrupt BPTT
            y.flags.writeable = False
        if batched and self.batch_first:
            y = y.transpose(1, 0, 2)
        if not batched:
            y = y[:, 0]
        return y, public_state(final, batched), cache

    @np.errstate(invalid="ignore", over="ignore")
    def backward(self, dy: np.ndarray, dstate=None):
        """BPTT through the whole stack for the last `forward`; accumulates parameter grads.

        Args:
            dy: gradient with respect to y, shaped like y.
            dstate: gradient with respect to the final state, shaped like it; None (or None
                for either part of an LSTM's pair) means zeros.

        Returns:
            dx shaped like x, and the gradient with respect to the initial state, shaped like it.
        """
        ctx = self._cache
        if ctx is None:
            raise BackwardError.explain(self, self._last_forward)
        batched, packing = ctx.batched, ctx.packing
        B = ctx.y_shape[1]
        dy = dy_time_major(self, dy, ctx.y_shape, batched)
        dstates = check_states(self, dstate, "dstate", B, batched)
        self._cache, self._last_forward = None, "walked"

        if packing is not None:
            dy = dy[:, packing.order] * packing.valid
            dstates = [s[:, packing.order] for s in dstates]
        dy = np.ascontiguousarray(dy)
        D, H_out = self.num_directions, self.proj_size or self.hidden_size
        dstate0 = [np.empty_like(s) for s in dstates]
        for layer in reversed(range(self.num_layers)):
            if ctx.masks[layer] is not None:
                dy = dy * ctx.masks[layer]
            dx = None
            for d in range(D):
                k = layer * D + d
                dy_d = dy[..., d * H_out : (d + 1) * H_out] if D == 2 else dy
                if (d == 1 or self.reverse) and packing is not None:
                    dy_d = packing.reverse(dy_d)
                dx_d, ds = self.kind.engine.backward(
                    ctx.caches[k], np.ascontiguousarray(dy_d), tuple(s[k] for s in dstates)
                )
                if (d == 1 or self.reverse) and packing is not None:
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
        return dx, public_state(dstate0, batched)


class LSTM(RNNBase):
    """torch.nn.LSTM in NumPy; the gate math is in lstm.py, its variants are options:

    `peepholes=True`, `forget_gate="coupled"` (CIFG) or `"none"` (the 1997 LSTM),
    `input_gate="none"` (NIG), `output_gate="none"` (NOG) and `forget_bias=b` (the forget gate's
    bias at initialisation); lstm.py gives their equations. Every layer also takes ONNX's
    `activations` / `activation_alpha` / `activation_beta`, `clip` and `reverse=True`.

    >>> import numpy as np, gatednp as gn
    >>> lstm = gn.LSTM(input_size=3, hidden_size=4, rng=0)
    >>> y, (h_n, c_n) = lstm(np.zeros((5, 2, 3)))          # (T, B, I)
    >>> y.shape, h_n.shape, c_n.shape
    ((5, 2, 4), (1, 2, 4), (1, 2, 4))
    >>> dx, (dh0, dc0) = lstm.backward(np.ones_like(y))
    >>> dx.shape, lstm.weight_ih_l0.grad.shape
    ((5, 2, 3), (16, 3))
    """

    kind = LSTM_KIND

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
        peepholes: bool = False,
        forget_gate: str = "gate",
        input_gate: str = "gate",
        output_gate: str = "gate",
        forget_bias: float | None = None,
        activations: tuple[str, ...] | None = None,
        activation_alpha: tuple[float | None, ...] | None = None,
        activation_beta: tuple[float | None, ...] | None = None,
        clip: float | None = None,
        reverse: bool = False,
        dtype=np.float64,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            proj_size, dtype=dtype, rng=rng, peepholes=peepholes, forget_bias=forget_bias,
            forget_gate=forget_gate, input_gate=input_gate, output_gate=output_gate,
            activations=activations, activation_alpha=activation_alpha,
            activation_beta=activation_beta, clip=clip, reverse=reverse,
        )  # fmt: skip


class GRU(RNNBase):
    """torch.nn.GRU in NumPy; the gate math is in gru.py. `reset_after=False` applies the
    reset gate before W_hn (Cho et al. 2014; gru.py).

    >>> import numpy as np, gatednp as gn
    >>> gru = gn.GRU(3, 4, batch_first=True, rng=0)
    >>> y, h_n = gru(np.zeros((2, 5, 3)))                  # (B, T, I)
    >>> y.shape, h_n.shape
    ((2, 5, 4), (1, 2, 4))
    """

    kind = GRU_KIND

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
        reset_after: bool = True,
        activations: tuple[str, ...] | None = None,
        activation_alpha: tuple[float | None, ...] | None = None,
        activation_beta: tuple[float | None, ...] | None = None,
        clip: float | None = None,
        reverse: bool = False,
        dtype=np.float64,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            dtype=dtype, rng=rng, reset_after=reset_after, activations=activations,
            activation_alpha=activation_alpha, activation_beta=activation_beta, clip=clip,
            reverse=reverse,
        )  # fmt: skip


class RNN(RNNBase):
    """torch.nn.RNN (Elman, tanh or relu) in NumPy; the math is in rnn.py.

    >>> import numpy as np, gatednp as gn
    >>> rnn = gn.RNN(3, 4, num_layers=2, nonlinearity="relu", rng=0)
    >>> y, h_n = rnn(np.zeros((5, 2, 3)))
    >>> y.shape, h_n.shape
    ((5, 2, 4), (2, 2, 4))
    """

    kind = RNN_KIND

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
        activations: tuple[str, ...] | None = None,
        activation_alpha: tuple[float | None, ...] | None = None,
        activation_beta: tuple[float | None, ...] | None = None,
        clip: float | None = None,
        reverse: bool = False,
        dtype=np.float64,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            dtype=dtype, rng=rng, nonlinearity=nonlinearity, activations=activations,
            activation_alpha=activation_alpha, activation_beta=activation_beta, clip=clip,
            reverse=reverse,
        )  # fmt: skip
