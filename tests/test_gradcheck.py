"""gatednp/gradcheck.py: it passes correct backward passes and catches wrong ones."""

import numpy as np
import pytest

import gatednp as gn
from gatednp.engine import lstm as lstm_engine
from tests.conftest import randomize


def test_reports_every_parameter_and_input():
    rng = np.random.default_rng(0)
    lstm = randomize(gn.LSTM(2, 3, rng=rng), rng)
    state = (rng.standard_normal((1, 2, 3)), rng.standard_normal((1, 2, 3)))
    report = gn.gradcheck(lstm, rng.standard_normal((4, 2, 2)), state)
    assert [r.name for r in report.rows] == [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "x",
        "h0",
        "c0",
    ]
    assert report.ok and "all gradients agree" in str(report)
    assert max(r.max_rel_err for r in report.rows) < 1e-7


def test_directional_mode_on_a_long_sequence():
    rng = np.random.default_rng(1)
    gru = randomize(gn.GRU(2, 3, rng=rng), rng)
    report = gn.gradcheck(gru, rng.standard_normal((40, 2, 2)), directions=2)
    assert report.ok, f"\n{report}"


def test_catches_a_wrong_backward(monkeypatch):
    """Scale one gate's local derivative: the report must fail and name the tensors it hits."""
    original = lstm_engine.backward

    def wrong_backward(cache, dy, dstate):
        cache.gates[..., : cache.gates.shape[-1] // 4] *= 1.0001  # i as seen by backward only
        return original(cache, dy, dstate)

    monkeypatch.setattr(lstm_engine, "backward", wrong_backward)
    rng = np.random.default_rng(2)
    lstm = randomize(gn.LSTM(2, 3, rng=rng), rng)
    report = gn.gradcheck(lstm, rng.standard_normal((3, 2, 2)))
    assert not report.ok
    assert "FAIL" in str(report)
    assert not next(r for r in report.rows if r.name == "weight_ih_l0").ok


def test_cells_and_dropout_layers():
    rng = np.random.default_rng(3)
    cell = randomize(gn.LSTMCell(2, 3, rng=rng), rng)
    assert gn.gradcheck(
        cell,
        rng.standard_normal((2, 2)),
        (rng.standard_normal((2, 3)), rng.standard_normal((2, 3))),
    ).ok
    assert not cell._caches  # the probes leave no caches behind
    gru = randomize(gn.GRU(2, 3, num_layers=2, dropout=0.5, rng=rng), rng)
    assert gn.gradcheck(gru, rng.standard_normal((3, 2, 2))).ok


def test_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        gn.gradcheck(gn.GRU(2, 3, dtype=np.float32), np.zeros((2, 1, 2), np.float32))


def test_rows_keep_their_arrays_by_gate_and_by_step(monkeypatch):
    """A wrong bias gradient of the update gate only: the report names that gate and no other."""
    from gatednp.engine import gru as gru_engine

    original = gru_engine.backward

    def wrong_backward(*args, **kwargs):
        out = original(*args, **kwargs)
        gru.bias_hh_l0.grad[3:6] *= 1.001  # the z block of H = 3
        return out

    monkeypatch.setattr(gru_engine, "backward", wrong_backward)
    rng = np.random.default_rng(4)
    gru = randomize(gn.GRU(2, 3, rng=rng), rng)
    report = gn.gradcheck(gru, rng.standard_normal((4, 2, 2)))
    row = report["bias_hh_l0"]
    assert row.error.shape == (9,) and row.gates == ("r", "z", "n")
    assert [g for g, b in row.by_gate().items() if not b.ok] == ["z"]
    assert report["x"].ok and len(report["x"].by_step()) == 4
    assert report.failures() and "update gate z" in report.failures()[0]
    assert "bias_hh_l0" in report.table()
    with pytest.raises(KeyError, match="no tensor"):
        report["weight_hr_l0"]
