"""The course's two models, line for line: a recurrent layer and a linear head on its last step.

Read next to the course's PyTorch code: `nn.Module` → `gn.Module`, `nn.LSTM` → `gn.LSTM`,
`nn.Linear` → `gn.Linear`. The one addition is `backward`, which torch's autograd writes for
you: it walks the forward back, head first, and sends the gradient into the last time step.
"""

from __future__ import annotations

import numpy as np

from ..linear import Linear
from ..module import BackwardError, Module
from ..recurrent import GRU, LSTM, RNNBase

__all__ = ["LSTMModel", "GRUModel"]


class _LastStepModel(Module):
    """recurrent layer (batch_first) → output at the last step → Linear."""

    rnn: RNNBase
    fc: Linear

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (B, T, input_size) -> prediction (B, output_size)."""
        if not isinstance(x, np.ndarray) or x.ndim != 3:
            raise ValueError(
                f"{type(self).__name__} expects input of shape (B, T, input_size), got "
                + (f"shape {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__)
            )
        self._out_shape = None
        out, _ = self.rnn(x)  # (B, T, H)
        self._out_shape = out.shape
        return self.fc(out[:, -1, :])  # (B, output_size)

    def backward(self, dpred: np.ndarray) -> np.ndarray:
        """dpred (B, output_size) -> dx (B, T, input_size); accumulates every parameter's grad."""
        if getattr(self, "_out_shape", None) is None:
            raise BackwardError(f"{type(self).__name__}.backward() needs a forward pass first")
        dout = np.zeros(self._out_shape, dtype=dpred.dtype)  # only the last step feeds the head
        dout[:, -1, :] = self.fc.backward(dpred)
        dx, _ = self.rnn.backward(dout)
        return dx


class LSTMModel(_LastStepModel):
    """Example 1 of the course: LSTM + Linear on the last hidden state.

    >>> import numpy as np, gatednp as gn
    >>> model = gn.LSTMModel(input_size=1, hidden_size=8, output_size=1, rng=0)
    >>> model(np.array([[[10.0], [11.0]]])).shape
    (1, 1)
    """

    def __init__(
        self, input_size: int, hidden_size: int, output_size: int, *, dtype=np.float64, rng=None
    ):
        rng = np.random.default_rng(rng)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.lstm = LSTM(input_size, hidden_size, batch_first=True, dtype=dtype, rng=rng)
        self.fc = Linear(hidden_size, output_size, dtype=dtype, rng=rng)

    @property
    def rnn(self) -> RNNBase:
        return self.lstm


class GRUModel(_LastStepModel):
    """Example 2 of the course: GRU + Linear on the last hidden state."""

    def __init__(
        self, input_size: int, hidden_size: int, output_size: int, *, dtype=np.float64, rng=None
    ):
        rng = np.random.default_rng(rng)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.gru = GRU(input_size, hidden_size, batch_first=True, dtype=dtype, rng=rng)
        self.fc = Linear(hidden_size, output_size, dtype=dtype, rng=rng)

    @property
    def rnn(self) -> RNNBase:
        return self.gru
