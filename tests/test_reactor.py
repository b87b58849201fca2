"""Tests of gatednp/lab/reactor.py: the Henson–Seborg model's steady state and pH balance, the
simulation's inputs, free-run feedback, and the --quick run."""

from __future__ import annotations

import numpy as np
import pytest

from gatednp.cli import main
from gatednp.lab.reactor import CONSTANTS, LAGS, _rhs, free_run, ph_from_invariants, simulate


def test_nominal_operating_point_is_nearly_steady_at_ph_7():
    c = CONSTANTS
    q3 = 15.6
    wa = (c["q1"] * c["Wa1"] + c["q2"] * c["Wa2"] + q3 * c["Wa3"]) / (c["q1"] + c["q2"] + q3)
    wb = (c["q1"] * c["Wb1"] + c["q2"] * c["Wb2"] + q3 * c["Wb3"]) / (c["q1"] + c["q2"] + q3)
    d = _rhs(0.0, [wa, wb, 14.0], q3)
    assert abs(d[0]) < 1e-15 and abs(d[1]) < 1e-15 and abs(d[2]) < 1e-4
    assert ph_from_invariants(np.array([wa]), np.array([wb]))[0] == pytest.approx(7.0, abs=0.1)


def test_ph_solves_the_charge_balance():
    c = CONSTANTS
    wa, wb = np.array([-1e-3, 0.0, 2e-3]), np.array([5e-4, 5e-4, 1e-4])
    ph = ph_from_invariants(wa, wb)
    carb = (1 + 2 * 10 ** (ph - c["pK2"])) / (1 + 10 ** (c["pK1"] - ph) + 10 ** (ph - c["pK2"]))
    np.testing.assert_allclose(wa + 10 ** (ph - 14) - 10 ** (-ph) + wb * carb, 0, atol=1e-12)
    assert ph[0] > ph[1] > ph[2]  # more base (more negative Wa), higher pH


def test_simulation_is_piecewise_constant_and_more_base_raises_ph():
    q3, ph = simulate(300, seed=0)
    assert q3.shape == ph.shape == (300,)
    assert 11 <= q3.min() and q3.max() <= 20 and len(np.unique(q3)) < 300 / 4
    assert np.corrcoef(q3, ph)[0, 1] > 0.5
    np.testing.assert_array_equal(simulate(50, seed=3)[1], simulate(50, seed=3)[1])


def test_free_run_feeds_back_its_own_outputs():
    u = np.arange(20.0)
    seen = []

    def step(window):
        seen.append(window[0, -1, 1])
        return window[0, -1, 1] + 1.0  # the last (fed-back) output plus one

    y = free_run(step, u, np.zeros(LAGS))
    np.testing.assert_array_equal(y, np.arange(1.0, 21 - LAGS))
    assert seen[1] == 1.0


def test_quick_run_learns(capsys, tmp_path):
    """The --quick run exits 0 only if it learnt; with matplotlib it also draws its figure."""
    try:
        import matplotlib  # noqa: F401

        plot = ["--plot", str(tmp_path / "reactor.png")]
    except ImportError:
        plot = []
    assert main(["experiment", "reactor", "--quick", *plot]) == 0
    out = capsys.readouterr().out
    if plot:
        assert (tmp_path / "reactor.png").read_bytes()[:4] == b"\x89PNG" and "wrote" in out
    assert "free-run RMSE" in out and "linear ARX" in out and "ETA" in out
