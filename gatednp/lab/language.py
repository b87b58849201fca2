"""A character-level language model and its training schedule, as in d2l's RNN/GRU chapters.

    ids (B, T) -> one-hot (T, B, V) [or Embedding] -> LSTM / GRU / RNN (Stateful) -> Linear
               -> logits (B, T, V);   loss = cross_entropy over the B·T next-token targets

The recurrent layer is wrapped in `Stateful`, so consecutive calls carry the state: d2l's
sequential partitioning keeps it across the minibatches of an epoch (truncated BPTT), random
subsequences reset it before each minibatch (`Schedule` says which). `step(ids)` runs one
token for generation (`gn.generate`). Parameter names are torch's: `rnn.weight_ih_l0`,
`fc.weight`, and `embedding.weight` with an embedding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from ..embedding import Embedding, one_hot
from ..linear import Linear
from ..losses import cross_entropy
from ..module import BackwardError, Module
from ..streaming import Stateful
from .layers import make_layer

__all__ = ["LanguageModel", "lm_loss", "Schedule", "evaluate_lm", "unigram_loss"]


class LanguageModel(Module):
    """One recurrent layer over one-hot (or embedded) tokens and a Linear head at every step.

    >>> import numpy as np
    >>> lm = LanguageModel("gru", vocab_size=5, hidden_size=8, rng=0)
    >>> lm(np.zeros((2, 3), dtype=np.int64)).shape            # ids (B, T) -> logits (B, T, V)
    (2, 3, 5)
    """

    def __init__(
        self,
        cell: str,
        vocab_size: int,
        hidden_size: int,
        *,
        embedding_dim: int | None = None,
        dtype=np.float64,
        rng=None,
    ) -> None:
        rng = np.random.default_rng(rng)
        self.vocab_size, self.dtype = vocab_size, np.dtype(dtype)
        if embedding_dim:
            self.embedding = Embedding(vocab_size, embedding_dim, dtype=dtype, rng=rng)
        inputs = embedding_dim or vocab_size
        self.rnn = Stateful(make_layer(cell, inputs, hidden_size, dtype=dtype, rng=rng))
        self.fc = Linear(hidden_size, vocab_size, dtype=dtype, rng=rng)
        self._shape: tuple[int, ...] | None = None

    def reset_state(self) -> None:
        """Start the next call from a zero state."""
        self.rnn.reset_state()

    def _encode(self, ids: np.ndarray) -> np.ndarray:
        if hasattr(self, "embedding"):
            return self.embedding(ids)
        return one_hot(ids, self.vocab_size, dtype=self.dtype)

    def forward(self, ids: np.ndarray) -> np.ndarray:
        """ids (B, T) -> logits (B, T, V), starting from the carried state."""
        ids = np.asarray(ids)
        if ids.ndim != 2:
            raise ValueError(f"LanguageModel expects token ids of shape (B, T), got {ids.shape}")
        y = self.rnn(self._encode(ids.T))  # (T, B, H)
        self._shape = ids.shape
        return self.fc(y).transpose(1, 0, 2)

    def backward(self, dlogits: np.ndarray) -> None:
        """dlogits (B, T, V) -> None; BPTT within this chunk, every parameter's grad accumulated."""
        if self._shape is None:
            raise BackwardError("LanguageModel.backward() needs a forward pass first")
        self._shape = None
        dx, _ = self.rnn.backward(
            self.fc.backward(np.ascontiguousarray(dlogits.transpose(1, 0, 2)))
        )
        if hasattr(self, "embedding"):
            self.embedding.backward(dx)

    def step(self, ids: np.ndarray) -> np.ndarray:
        """One token per row, ids (B,) -> next-token logits (B, V); the state carries on."""
        return self.fc(self.rnn.step(self._encode(np.asarray(ids))))


def lm_loss(logits: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy over every (B, T) position: logits (B, T, V), target (B, T)."""
    B, T, V = logits.shape
    loss, d = cross_entropy(logits.reshape(B * T, V), np.asarray(target).reshape(B * T))
    return loss, d.reshape(B, T, V)


class Schedule:
    """Which minibatch each training step takes, epoch by epoch, and when the state resets.

    Args:
        epoch_batches: `epoch -> iterator of (X, Y)` (both (B, T) ids), called once per epoch.
        carry: keep the state across an epoch's minibatches (sequential partitioning); else
            reset it before every minibatch (random subsequences).

    `batch(step)` (steps from 1, in order) returns (X, Y, reset) and notes when an epoch ends.
    """

    def __init__(self, epoch_batches: Callable[[int], Iterator], carry: bool) -> None:
        self.epoch_batches, self.carry = epoch_batches, carry
        self.epoch, self._it, self._next = 0, iter(()), None
        self.epoch_end: set[int] = set()  # steps that were the last of their epoch

    def batch(self, step: int) -> tuple[np.ndarray, np.ndarray, bool]:
        first = False
        if self._next is None:
            self.epoch += 1
            self._it = iter(self.epoch_batches(self.epoch))
            self._next, first = next(self._it), True
        current = self._next
        self._next = next(self._it, None)
        if self._next is None:
            self.epoch_end.add(step)
        return current[0], current[1], first or not self.carry


def evaluate_lm(model: LanguageModel, X: np.ndarray, Y: np.ndarray, batch: int = 1024) -> float:
    """Mean cross-entropy per token on (N, T) sequences, each from a zero state, in eval mode."""
    model.eval()
    total = 0.0
    for i in range(0, len(X), batch):
        model.reset_state()
        loss, _ = lm_loss(model(X[i : i + batch]), Y[i : i + batch])
        total += loss * Y[i : i + batch].size
    model.train()
    model.reset_state()
    return total / Y.size


def unigram_loss(train_ids: np.ndarray, target: np.ndarray, vocab_size: int) -> float:
    """Cross-entropy of the trivial model: each token's training frequency, ignoring context
    (add-one smoothing so an unseen token costs log(N + V) rather than inf)."""
    counts = np.bincount(np.ravel(train_ids), minlength=vocab_size) + 1.0
    return float(-np.mean(np.log(counts / counts.sum())[np.ravel(target)]))
