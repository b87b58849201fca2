"""Sequence data for training: token streams cut into minibatches, series cut into windows, and
scalers fitted on the training part only.

- `random_partition` and `sequential_partition` are d2l's `seq_data_iter_random` and
  `seq_data_iter_sequential` (Dive into Deep Learning, §8.3 of v0.17): a token stream becomes
  (X, Y) minibatches of shape (batch_size, num_steps) with Y the stream shifted by one. Random
  partitioning draws the subsequences in random order (reset the state between minibatches);
  sequential partitioning keeps row b of one minibatch the continuation of row b of the one
  before, so a `Stateful` layer may carry its state across them (truncated BPTT).
- `sliding_windows` makes (lags, horizon) supervised pairs from a series.
- `MinMaxScaler` and `StandardScaler` scale each column; fit them on the training part only and
  `inverse_transform` the predictions back to the series' units.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .checks import check_sizes
from .module import as_rng

__all__ = [
    "random_partition", "sequential_partition", "sliding_windows",
    "MinMaxScaler", "StandardScaler", "NotFittedError",
]  # fmt: skip


def _stream(corpus) -> np.ndarray:
    a = np.asarray(corpus)
    if a.ndim != 1 or a.dtype == bool or not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"corpus must be a 1-D array of integer token ids, got {a.dtype} {a.shape}")
    return a


def random_partition(
    corpus, batch_size: int, num_steps: int, rng: np.random.Generator | int | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """d2l's random partitioning: subsequences from a random offset, in random order.

    Args:
        corpus: (L,) integer token ids.
        batch_size, num_steps: B and T of each minibatch.
        rng: generator or seed for the offset and the order.

    Yields:
        (X, Y), each (B, T): Y[b, t] = the token after X[b, t]. A last partial batch is dropped.

    >>> [x.tolist() for x, _ in random_partition(np.arange(10), 2, 3, rng=0)]
    [[[2, 3, 4], [5, 6, 7]]]
    """
    a = _stream(corpus)
    check_sizes(batch_size=batch_size, num_steps=num_steps)
    rng = as_rng(rng)
    a = a[int(rng.integers(0, num_steps)) :]
    n_sub = (len(a) - 1) // num_steps
    if n_sub < batch_size:
        raise ValueError(
            f"a corpus of {len(a)} tokens holds {n_sub} subsequences of {num_steps} steps, "
            f"fewer than batch_size={batch_size}"
        )
    starts = np.arange(0, n_sub * num_steps, num_steps)
    rng.shuffle(starts)
    idx = np.arange(num_steps)
    for i in range(0, (n_sub // batch_size) * batch_size, batch_size):
        s = starts[i : i + batch_size, None] + idx
        yield a[s], a[s + 1]


def sequential_partition(
    corpus, batch_size: int, num_steps: int, rng: np.random.Generator | int | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """d2l's sequential partitioning: row b of each minibatch continues row b of the last.

    Args and Yields: as `random_partition`; the offset is drawn from [0, num_steps].

    >>> [x.tolist() for x, _ in sequential_partition(np.arange(14), 2, 3, rng=1)]
    [[[1, 2, 3], [7, 8, 9]], [[4, 5, 6], [10, 11, 12]]]
    """
    a = _stream(corpus)
    check_sizes(batch_size=batch_size, num_steps=num_steps)
    offset = int(as_rng(rng).integers(0, num_steps + 1))
    n = ((len(a) - offset - 1) // batch_size) * batch_size
    if n // batch_size < num_steps:
        raise ValueError(
            f"a corpus of {len(a)} tokens is too short for {batch_size} rows of {num_steps} steps"
        )
    xs = a[offset : offset + n].reshape(batch_size, -1)
    ys = a[offset + 1 : offset + 1 + n].reshape(batch_size, -1)
    for i in range(0, (xs.shape[1] // num_steps) * num_steps, num_steps):
        yield xs[:, i : i + num_steps], ys[:, i : i + num_steps]


def sliding_windows(series, lags: int, horizon: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Supervised pairs from a series: `lags` past values -> the value `horizon` steps later.

    Args:
        series: (L,) or (L, F).
        lags: the window length.
        horizon: 1 predicts the next value.

    Returns:
        X (N, lags, F) and y (N, F) with N = L − lags − horizon + 1 (F = 1 for a 1-D series),
        X[n] = series[n : n + lags], y[n] = series[n + lags + horizon − 1].

    >>> X, y = sliding_windows(np.arange(5.0), lags=2)
    >>> X[:, :, 0].tolist(), y[:, 0].tolist()
    ([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]], [2.0, 3.0, 4.0])
    """
    check_sizes(lags=lags, horizon=horizon)
    s = np.asarray(series)
    if s.ndim not in (1, 2):
        raise ValueError(f"series must be (L,) or (L, F), got shape {s.shape}")
    s = s.reshape(len(s), -1)
    n = len(s) - lags - horizon + 1
    if n <= 0:
        raise ValueError(
            f"a window of {lags} lags and horizon {horizon} needs a series of at least "
            f"{lags + horizon} values, got {len(s)}"
        )
    idx = np.arange(n)[:, None] + np.arange(lags)
    return s[idx], s[np.arange(n) + lags + horizon - 1]


class NotFittedError(ValueError):
    """A scaler was used before `fit`."""


class _Scaler:
    """Column-wise affine scaling x' = (x − shift) / scale, fitted on the training data."""

    shift_: np.ndarray | None = None
    scale_: np.ndarray | None = None

    def _params(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def fit(self, x) -> _Scaler:
        """Learn the scaling from x (N,) or (N, F), the training part only; returns self."""
        x = np.asarray(x, dtype=float)
        if x.ndim not in (1, 2) or len(x) == 0:
            raise ValueError(f"fit needs a non-empty (N,) or (N, F) array, got shape {x.shape}")
        shift, scale = self._params(x)
        self.shift_, self.scale_ = shift, np.where(scale == 0, 1.0, scale)  # constant column
        return self

    def _check(self, x) -> np.ndarray:
        if self.shift_ is None:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit(train) first"
            )
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(float)
        if np.shape(self.shift_) and x.shape[-1:] != np.shape(self.shift_):
            raise ValueError(f"expected (..., {len(self.shift_)}) columns, got shape {x.shape}")
        return x

    def transform(self, x) -> np.ndarray:
        """x in the data's units -> scaled, same shape and float dtype."""
        x = self._check(x)
        return ((x - self.shift_) / self.scale_).astype(x.dtype)

    def inverse_transform(self, x) -> np.ndarray:
        """Scaled values (e.g. predictions) -> the data's units."""
        x = self._check(x)
        return (x * self.scale_ + self.shift_).astype(x.dtype)

    def fit_transform(self, x) -> np.ndarray:
        """`fit(x)` then `transform(x)`: for the training part only."""
        return self.fit(x).transform(x)


class MinMaxScaler(_Scaler):
    """Maps each column's training range [min, max] to `feature_range` (default [0, 1]).

    >>> s = MinMaxScaler().fit(np.array([0.0, 10.0]))
    >>> s.transform(np.array([5.0])), s.inverse_transform(np.array([0.5]))
    (array([0.5]), array([5.]))
    """

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)) -> None:
        lo, hi = feature_range
        if not lo < hi:
            raise ValueError(
                f"feature_range must be (low, high) with low < high, got {feature_range}"
            )
        self.feature_range = (float(lo), float(hi))

    def _params(self, x):
        lo, hi = self.feature_range
        x_min, x_max = x.min(axis=0), x.max(axis=0)
        scale = (x_max - x_min) / (hi - lo)
        return x_min - lo * np.where(scale == 0, 1.0, scale), scale


class StandardScaler(_Scaler):
    """Centres each column on its training mean and divides by its standard deviation.

    >>> StandardScaler().fit_transform(np.array([1.0, 3.0]))
    array([-1.,  1.])
    """

    def _params(self, x):
        return x.mean(axis=0), x.std(axis=0)
