"""Tests of gatednp/data.py: d2l's two partitionings, sliding windows, scalers and their errors."""

from __future__ import annotations

import numpy as np
import pytest

import gatednp as gn
from gatednp.data import NotFittedError


@pytest.mark.parametrize("seed", range(5))
def test_random_partition_pairs_are_shifted_by_one_and_disjoint(seed):
    corpus = np.arange(100)
    batches = list(gn.random_partition(corpus, 4, 5, rng=seed))
    starts = []
    for x, y in batches:
        assert x.shape == y.shape == (4, 5)
        np.testing.assert_array_equal(y, x + 1)
        np.testing.assert_array_equal(np.diff(x, axis=1), 1)
        starts += list(x[:, 0])
    assert len(set(starts)) == len(starts)  # no subsequence twice
    assert len(batches) == ((100 - 1 - starts[0] % 5) // 5) // 4


@pytest.mark.parametrize("seed", range(5))
def test_sequential_partition_rows_continue_across_batches(seed):
    corpus = np.arange(200)
    batches = list(gn.sequential_partition(corpus, 3, 7, rng=seed))
    assert len(batches) >= 2
    for (x0, _), (x1, y1) in zip(batches, batches[1:]):
        np.testing.assert_array_equal(x1[:, 0], x0[:, -1] + 1)  # row b goes on where it stopped
        np.testing.assert_array_equal(y1, x1 + 1)


def test_partitions_reject_bad_corpora():
    with pytest.raises(TypeError, match="integer token ids"):
        list(gn.random_partition(np.arange(10.0), 2, 3))
    with pytest.raises(ValueError, match="fewer than batch_size"):
        list(gn.random_partition(np.arange(10), 5, 3, rng=0))
    with pytest.raises(ValueError, match="too short"):
        list(gn.sequential_partition(np.arange(10), 5, 3, rng=0))


def test_sliding_windows_with_horizon():
    s = np.arange(10.0)
    X, y = gn.sliding_windows(s, lags=3, horizon=2)
    assert X.shape == (6, 3, 1) and y.shape == (6, 1)
    np.testing.assert_array_equal(X[0, :, 0], [0, 1, 2])
    assert y[0, 0] == 4.0 and y[-1, 0] == 9.0
    X2, y2 = gn.sliding_windows(np.stack([s, -s], axis=1), lags=2)
    assert X2.shape == (8, 2, 2)
    np.testing.assert_array_equal(y2[0], [2.0, -2.0])


def test_window_longer_than_the_series_is_an_error():
    with pytest.raises(ValueError, match="at least 6 values, got 5"):
        gn.sliding_windows(np.arange(5.0), lags=5)


@pytest.mark.parametrize(
    "scaler", [gn.MinMaxScaler(), gn.MinMaxScaler((-1, 1)), gn.StandardScaler()]
)
def test_scalers_fit_on_train_and_invert(scaler):
    rng = np.random.default_rng(0)
    train, test = rng.normal(5, 3, size=(50, 2)), rng.normal(5, 3, size=(20, 2))
    z = scaler.fit_transform(train)
    if isinstance(scaler, gn.MinMaxScaler):
        np.testing.assert_allclose(z.min(axis=0), scaler.feature_range[0], atol=1e-12)
        np.testing.assert_allclose(z.max(axis=0), scaler.feature_range[1], atol=1e-12)
    else:
        np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-12)
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(test)), test, rtol=1e-12)


def test_scaler_parameters_come_from_the_training_part_only():
    s = gn.MinMaxScaler().fit(np.array([0.0, 10.0]))
    assert s.transform(np.array([20.0]))[0] == 2.0  # test data beyond the training range


def test_scaler_before_fit_is_an_error():
    for s in (gn.MinMaxScaler(), gn.StandardScaler()):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            s.transform(np.ones(3))
        with pytest.raises(NotFittedError, match="fit"):
            s.inverse_transform(np.ones(3))


def test_constant_column_does_not_divide_by_zero():
    z = gn.StandardScaler().fit_transform(np.ones((4, 1)))
    assert np.all(z == 0)
