"""Tests of gatednp/lab/traffic.py: the --quick run learns, the baselines are what they say."""

from __future__ import annotations

import numpy as np
import pytest

from gatednp.cli import main
from gatednp.lab.traffic import LAGS, baselines, metrics_table


def test_quick_run_learns(capsys, tmp_path):
    """The --quick run exits 0 only if it learnt; with matplotlib it also draws its figure."""
    try:
        import matplotlib  # noqa: F401

        plot = ["--plot", str(tmp_path / "traffic.png")]
    except ImportError:
        plot = []
    assert main(["experiment", "traffic", "--quick", *plot]) == 0
    out = capsys.readouterr().out
    if plot:
        assert (tmp_path / "traffic.png").read_bytes()[:4] == b"\x89PNG" and "wrote" in out
    for words in ("steps/s", "ETA", "persistence", "previous day", "linear AR(12)", "MAPE"):
        assert words in out


def test_baselines_on_a_known_series():
    rng = np.random.default_rng(0)
    train, test = rng.uniform(10, 20, (3, 288)), rng.uniform(10, 20, (2, 288))
    b = baselines(train, test)
    te = test.reshape(-1)
    np.testing.assert_array_equal(b["persistence"], te[LAGS - 1 : -1])
    np.testing.assert_array_equal(b["previous day"][: 288 - LAGS], train[-1, LAGS:])
    np.testing.assert_array_equal(b["previous day"][288 - LAGS :], test[0, :288])
    assert np.all(b["training mean"] == train.mean())


def test_linear_ar_recovers_a_linear_process():
    rng = np.random.default_rng(1)
    s = np.zeros(5 * 288)
    s[:LAGS] = rng.normal(size=LAGS)
    for t in range(LAGS, len(s)):
        s[t] = 0.6 * s[t - 1] + 0.3 * s[t - 12] + 1.0 + 0.01 * rng.normal()
    b = baselines(s[: 3 * 288].reshape(3, 288), s[3 * 288 :].reshape(2, 288))
    np.testing.assert_allclose(b["linear AR(12)"], s[3 * 288 + LAGS :], atol=0.05)


def test_metrics_table_names_each_forecast_and_the_zero_targets():
    table = metrics_table(np.array([0.0, 2.0, 4.0]), {"a": np.array([1.0, 2.0, 4.0])})
    assert "a " in table and "zero targets" in table and "1 zero" in table
    assert float(table.splitlines()[1].split()[1]) == pytest.approx(1 / 3, abs=1e-3)
