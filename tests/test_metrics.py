"""Tests of gatednp/metrics.py against hand-computed values and their definitions."""

from __future__ import annotations

import numpy as np
import pytest

import gatednp as gn


def test_values_on_a_hand_worked_case():
    y, p = np.array([2.0, 4.0, 0.0, 6.0]), np.array([3.0, 2.0, 1.0, 6.0])
    assert gn.mae(y, p) == pytest.approx(1.0)  # (1 + 2 + 1 + 0) / 4
    assert gn.rmse(y, p) == pytest.approx(np.sqrt(6 / 4))
    assert gn.mape(y, p) == pytest.approx(100 * (0.5 + 0.5 + 0) / 3)  # zero target left out
    assert gn.r2_score(y, p) == pytest.approx(1 - 6 / 20)
    m = gn.forecast_metrics(y, p)
    assert m["mape_zero_targets_excluded"] == 1


def test_perfect_and_mean_forecasts():
    y = np.array([1.0, 2.0, 3.0])
    assert gn.r2_score(y, y) == 1.0 and gn.mae(y, y) == 0.0
    assert gn.r2_score(y, np.full(3, 2.0)) == pytest.approx(0.0)


def test_mape_with_only_zero_targets_is_nan_and_shapes_must_match():
    assert np.isnan(gn.mape([0.0, 0.0], [1.0, 2.0]))
    with pytest.raises(ValueError, match="same shape"):
        gn.mae([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="empty"):
        gn.rmse([], [])
