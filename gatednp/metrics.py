"""Forecast metrics, in the units of the series (inverse-transform scaled predictions first).

    MAE  = mean |y − ŷ|        RMSE = √ mean (y − ŷ)²       R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)²
    MAPE = 100 · mean over y ≠ 0 of |y − ŷ| / |y|   (percent; zero targets are excluded)

MAPE is undefined at y = 0 (a count of vehicles often is zero at night): `mape` leaves those
targets out and `forecast_metrics` reports how many it left out, so a table can say so.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mae", "rmse", "mape", "r2_score", "forecast_metrics"]


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {t.shape} and {p.shape}")
    if t.size == 0:
        raise ValueError("metrics need at least one value, got empty arrays")
    return t, p


def mae(y_true, y_pred) -> float:
    """Mean absolute error.

    >>> mae([1.0, 2.0], [2.0, 2.0])
    0.5
    """
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def rmse(y_true, y_pred) -> float:
    """Root mean squared error."""
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mape(y_true, y_pred) -> float:
    """Mean absolute percentage error over the nonzero targets only (nan if every one is 0).

    >>> mape([0.0, 10.0], [5.0, 11.0])        # the zero target is left out
    10.0
    """
    t, p = _pair(y_true, y_pred)
    nz = t != 0
    if not nz.any():
        return float("nan")
    return float(100 * np.mean(np.abs(t[nz] - p[nz]) / np.abs(t[nz])))


def r2_score(y_true, y_pred) -> float:
    """Coefficient of determination (1 is perfect, 0 is the mean's score; -inf..1)."""
    t, p = _pair(y_true, y_pred)
    ss_tot = np.sum((t - t.mean()) ** 2)
    return float(1 - np.sum((t - p) ** 2) / ss_tot) if ss_tot else float("nan")


def forecast_metrics(y_true, y_pred) -> dict[str, float]:
    """{"mae", "rmse", "mape", "r2", "mape_zero_targets_excluded"} for one forecast.

    >>> forecast_metrics([0.0, 2.0], [0.0, 1.0])["mape_zero_targets_excluded"]
    1
    """
    t, _ = _pair(y_true, y_pred)
    return dict(
        mae=mae(y_true, y_pred), rmse=rmse(y_true, y_pred), mape=mape(y_true, y_pred),
        r2=r2_score(y_true, y_pred), mape_zero_targets_excluded=int(np.sum(t == 0)),
    )  # fmt: skip
