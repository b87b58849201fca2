"""Toy sequence tasks that show what gates are for, each a seeded batch generator.

Every task draws batches time-major, x (T, B, I), with a target and a loss that returns
(value, d value / d prediction) like losses.py, plus a metric and the loss of a trivial
baseline, so that "learned" and "stuck" can be told apart by a number:

- consecutive: the course's task, [s, s+1] → s+2 (T = 2); any cell learns it.
- sine: forecast the next value of a noisy sine wave from the previous T; a gentle start.
- adding (Le et al. 2015): x_t = (u_t, m_t) with u_t ~ U(0, 1) and two markers m_t = 1, one
  in each half; the target is the sum of the two marked values, read after the last step.
  Always answering 1 (the mean) gives MSE 1/6 ≈ 0.167; a cell that cannot carry a value
  across T steps stays near that.
- copy (Arjovsky et al. 2016): K symbols from {1..8}, then `delay` blanks (0) ending in the
  marker 9, then K more blanks; after the marker the net must output the K symbols in order
  (a class at every step, blanks elsewhere). Guessing blanks and then uniformly among the 8
  symbols gives cross-entropy K·ln 8 / (delay + 2K).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..losses import mse_loss

__all__ = [
    "Task",
    "consecutive_task",
    "sine_task",
    "adding_task",
    "copy_task",
    "cross_entropy",
    "TASKS",
]


@dataclass
class Task:
    """A sequence problem: its batches, loss, metric and the baseline loss to beat.

    `batch(rng, B, dtype)` returns x (T, B, input_size) and the target: (B, output_size) when
    `per_step` is False (read from the last step), else (T, B) class indices.
    """

    name: str
    input_size: int
    output_size: int
    per_step: bool
    batch: Callable[[np.random.Generator, int, np.dtype], tuple[np.ndarray, np.ndarray]]
    loss: Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]
    metric_name: str
    metric: Callable[[np.ndarray, np.ndarray], float]
    baseline: float  # the loss of the trivial answer described in the module docstring
    # real data: draws the validation and test sets, like `batch`, from a part that `batch`
    # never shows (None: they are drawn from `batch` with their own generator)
    heldout: (
        Callable[[np.random.Generator, int, np.dtype], tuple[np.ndarray, np.ndarray]] | None
    ) = None


def _mse(pred: np.ndarray, target: np.ndarray) -> float:
    return float(np.mean((pred - target) ** 2))


def consecutive_task(n: int = 20) -> Task:
    """The course's task: x = [[s], [s+1]] for s ~ {0..n-1}, target s+2 (T = 2).

    Args:
        n: how many starting numbers; batches sample them with replacement.
    """

    def batch(rng, B, dtype):
        s = rng.integers(0, n, size=B).astype(dtype)
        x = np.stack([s, s + 1])[:, :, None]  # (2, B, 1)
        return x, (s + 2)[:, None]

    mean = (n - 1) / 2 + 2
    baseline = float(np.mean((np.arange(n) + 2 - mean) ** 2))  # always answering the mean
    return Task("consecutive", 1, 1, False, batch, mse_loss, "MSE", _mse, baseline)


def sine_task(seq_len: int = 20, noise: float = 0.1) -> Task:
    """Forecast sin at step T from T noisy past values; random frequency and phase.

    Args:
        seq_len: T, the number of past values seen.
        noise: standard deviation of the Gaussian noise added to the inputs (not the target).
    """

    def batch(rng, B, dtype):
        omega = rng.uniform(0.1, 0.5, size=B)
        phase = rng.uniform(0, 2 * np.pi, size=B)
        wave = np.sin(omega * np.arange(seq_len + 1)[:, None] + phase)  # (T+1, B)
        x = wave[:-1] + noise * rng.standard_normal((seq_len, B))
        return x[:, :, None].astype(dtype), wave[-1][:, None].astype(dtype)

    return Task("sine", 1, 1, False, batch, mse_loss, "MSE", _mse, 0.5)


def adding_task(seq_len: int = 100) -> Task:
    """The adding problem of Le et al. (2015) at length T = seq_len (see the module docstring).

    >>> import numpy as np
    >>> x, y = adding_task(10).batch(np.random.default_rng(0), 4, np.float64)
    >>> x.shape, y.shape, x[:, :, 1].sum(axis=0).tolist()
    ((10, 4, 2), (4, 1), [2.0, 2.0, 2.0, 2.0])
    >>> bool(np.allclose(y[:, 0], (x[:, :, 0] * x[:, :, 1]).sum(axis=0)))
    True
    """
    if seq_len < 2:
        raise ValueError(f"seq_len must be at least 2 for the adding problem, got {seq_len}")

    def batch(rng, B, dtype):
        half = seq_len // 2
        x = np.zeros((seq_len, B, 2), dtype=dtype)
        x[:, :, 0] = rng.uniform(0, 1, size=(seq_len, B))
        cols = np.arange(B)
        x[rng.integers(0, half, size=B), cols, 1] = 1  # one marker in the first half
        x[rng.integers(half, seq_len, size=B), cols, 1] = 1  # one in the second
        return x, (x[:, :, 0] * x[:, :, 1]).sum(axis=0)[:, None]

    return Task("adding", 2, 1, False, batch, mse_loss, "MSE", _mse, 1 / 6)


def cross_entropy(logits: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy over all positions, and its gradient wrt the logits.

    Args:
        logits: (..., C) unnormalised class scores.
        target: (...) class indices.

    Returns:
        (loss, dlogits) with dlogits = (softmax − onehot) / N, N = target.size.
    """
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    idx = target[..., None]
    loss = -float(np.take_along_axis(log_p, idx, axis=-1).mean())
    dlogits = np.exp(log_p)
    np.put_along_axis(dlogits, idx, np.take_along_axis(dlogits, idx, axis=-1) - 1, axis=-1)
    return loss, dlogits / target.size


def copy_task(delay: int = 50, length: int = 10) -> Task:
    """The copy-memory task of Arjovsky et al. (2016); the metric is the accuracy on the copy.

    Args:
        delay: steps between the end of the symbols and the end of the marker step (T_delay).
        length: K, how many symbols to remember.

    >>> import numpy as np
    >>> x, y = copy_task(delay=4, length=3).batch(np.random.default_rng(0), 2, np.float64)
    >>> x.shape, y.shape                      # T = delay + 2K, 10 one-hot classes
    ((10, 2, 10), (10, 2))
    >>> bool((y[-3:] == x[:3].argmax(-1)).all()), x[6].argmax(-1).tolist()
    (True, [9, 9])
    """
    K, T = length, delay + 2 * length

    def batch(rng, B, dtype):
        symbols = rng.integers(1, 9, size=(K, B))
        seq = np.zeros((T, B), dtype=np.int64)
        seq[:K] = symbols
        seq[T - K - 1] = 9  # the marker: "now recall"
        target = np.zeros((T, B), dtype=np.int64)
        target[T - K :] = symbols
        return np.eye(10, dtype=dtype)[seq], target

    def accuracy(logits, target):
        return float((logits[-K:].argmax(-1) == target[-K:]).mean())

    return Task(
        "copy", 10, 10, True, batch, cross_entropy, "copy accuracy", accuracy, K * np.log(8) / T
    )


TASKS = {
    "consecutive": consecutive_task,
    "sine": sine_task,
    "adding": adding_task,
    "copy": copy_task,
}
