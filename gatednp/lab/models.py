"""The course's two models, line for line: a recurrent layer and a linear head on its last step.

Read next to the course's PyTorch code: `nn.Module` → `gn.Module`, `nn.LSTM` → `gn.LSTM`,
`nn.Linear` → `gn.Linear`. The one addition is `backward`, which torch's autograd writes for
you: it walks the forward back, head first, and sends the gradient into the last time step.

`LSTMModel` and `GRUModel` are each a `SequenceModel`, gatednp's one "recurrent layer + Linear
head", which the experiments also put around any other layer (time-major, or with the head on
every step for the copy task). The two only build and name their layer as the course does,
`self.lstm` / `self.gru`, so their state_dict keys are torch's: `lstm.weight_ih_l0`, `fc.weight`.
"""

from __future__ import annotations

import numpy as np

from ..linear import Linear
from ..module import BackwardError, Module
from ..recurrent import GRU, LSTM

__all__ = ["SequenceModel", "LSTMModel", "GRUModel"]


class SequenceModel(Module):
    """A recurrent layer `rnn`, then a Linear head `fc` on its last step (or on every step).

    The input is what the layer takes: (B, T, I) if it is batch_first, else (T, B, I). The
    prediction is (B, output_size) from the last step, or with `per_step` the layer's output
    with output_size features at every step.

    >>> import numpy as np, gatednp as gn
    >>> model = SequenceModel(gn.GRU(2, 8, rng=0), 1, rng=0)
    >>> model(np.zeros((5, 3, 2))).shape                          # x (T, B, I) -> (B, 1)
    (3, 1)
    """

    per_step = False

    def __init__(self, rnn: Module, output_size: int, per_step: bool = False, *, rng=None) -> None:
        self.rnn = rnn
        self.fc = Linear(_out_features(rnn), output_size, dtype=rnn.dtype, rng=rng)
        self.per_step = per_step

    @property
    def batch_first(self) -> bool:
        return getattr(self.rnn, "batch_first", False)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (B, T, I) or (T, B, I) -> prediction (B, output_size), or one per step."""
        if not isinstance(x, np.ndarray) or x.ndim != 3:
            raise ValueError(
                f"{type(self).__name__} expects input of shape "
                + ("(B, T, input_size)" if self.batch_first else "(T, B, input_size)")
                + (
                    f", got shape {x.shape}"
                    if isinstance(x, np.ndarray)
                    else f", got {type(x).__name__}"
                )
            )
        self._out_shape = None
        out, _ = self.rnn(x)  # (B, T, H) batch_first, else (T, B, H)
        self._out_shape = out.shape
        if self.per_step:
            return self.fc(out)
        return self.fc(out[:, -1, :] if self.batch_first else out[-1])  # (B, output_size)

    def backward(self, dpred: np.ndarray) -> np.ndarray:
        """dpred like the prediction -> dx like x; accumulates every parameter's grad."""
        if getattr(self, "_out_shape", None) is None:
            raise BackwardError(f"{type(self).__name__}.backward() needs a forward pass first")
        if self.per_step:
            dout = self.fc.backward(dpred)
        else:
            dout = np.zeros(self._out_shape, dtype=dpred.dtype)  # only the last step feeds the head
            dout[(slice(None), -1) if self.batch_first else -1] = self.fc.backward(dpred)
        dx, _ = self.rnn.backward(dout)
        return dx


def _out_features(rnn: Module) -> int:
    """The width of the layer's output: its hidden (or projection) size, times its directions."""
    width = getattr(rnn, "proj_size", 0) or rnn.hidden_size
    return width * getattr(rnn, "num_directions", 1)


class LSTMModel(SequenceModel):
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
    def rnn(self) -> LSTM:
        return self.lstm


class GRUModel(SequenceModel):
    """Example 2 of the course: GRU + Linear on the last hidden state."""

    def __init__(
        self, input_size: int, hidden_size: int, output_size: int, *, dtype=np.float64, rng=None
    ):
        rng = np.random.default_rng(rng)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.gru = GRU(input_size, hidden_size, batch_first=True, dtype=dtype, rng=rng)
        self.fc = Linear(hidden_size, output_size, dtype=dtype, rng=rng)

    @property
    def rnn(self) -> GRU:
        return self.gru
