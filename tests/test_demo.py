"""gatednp/lab/demo.py, lab/models.py and the command line, run as a user would."""

import subprocess
import sys

import numpy as np
import pytest

import gatednp as gn
from gatednp import cli
from gatednp.lab import demo


@pytest.mark.parametrize("model_class", [gn.LSTMModel, gn.GRUModel])
def test_course_example_predicts_12_after_10_11(model_class):
    result = demo.run_example(model_class, log_every=0)
    assert result.final_loss < result.first_loss / 1000
    assert abs(result.prediction - 12) <= 0.3


def test_model_backward_matches_finite_differences():
    rng = np.random.default_rng(0)
    model = gn.GRUModel(1, 3, 1, rng=0)
    X, y = demo.consecutive_numbers(4)
    loss, dpred = gn.mse_loss(model(X), y)
    model.zero_grad()
    model.backward(dpred)
    for _, p in model.named_parameters():
        u = rng.standard_normal(p.shape)
        keep = p.data.copy()
        p.data[...] = keep + 1e-6 * u
        plus = gn.mse_loss(model(X), y)[0]
        p.data[...] = keep - 1e-6 * u
        minus = gn.mse_loss(model(X), y)[0]
        p.data[...] = keep
        assert abs((plus - minus) / 2e-6 - np.vdot(p.grad, u)) <= 1e-6 * max(1, abs(loss))


def test_cli_gradcheck_exit_status(capsys):
    assert (
        cli.main(["gradcheck", "--cell", "lstm", "-T", "3", "--proj-size", "2", "--bidirectional"])
        == 0
    )
    assert "all gradients agree" in capsys.readouterr().out
    assert cli.main(["gradcheck", "--cell", "grucell"]) == 0


def test_python_m_gatednp_demo_runs():
    out = subprocess.run(
        [sys.executable, "-m", "gatednp", "demo"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "both predictions are within 0.3 of 12" in out.stdout
