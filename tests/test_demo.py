"""gatednp/lab/demo.py, lab/models.py and the command line, run as a user would."""

import subprocess
import sys

import numpy as np
import pytest

import gatednp as gn
from gatednp import cli
from gatednp.lab import demo
from gatednp.lab.models import SequenceModel


@pytest.mark.parametrize("model_class", [gn.LSTMModel, gn.GRUModel])
def test_course_example_predicts_12_after_10_11(model_class):
    result = demo.run_example(model_class, log_every=0)
    assert result.final_loss < result.first_loss / 1000
    assert abs(result.prediction - 12) <= 0.3


MODELS = {
    "GRUModel": lambda: (gn.GRUModel(1, 3, 1, rng=0), demo.consecutive_numbers(4)),
    "per-step, time-major": lambda: (
        SequenceModel(gn.LSTM(2, 3, rng=0), 4, per_step=True, rng=0),
        (np.random.default_rng(1).standard_normal((5, 2, 2)), np.zeros((5, 2, 4))),
    ),
    "projected, bidirectional, batch_first": lambda: (
        SequenceModel(
            gn.LSTM(2, 4, proj_size=2, bidirectional=True, batch_first=True, rng=0), 1, rng=0
        ),
        (np.random.default_rng(2).standard_normal((3, 4, 2)), np.ones((3, 1))),
    ),
    "a variant layer": lambda: (
        SequenceModel(gn.LSTM(2, 3, peepholes=True, rng=0), 1, rng=0),
        (np.random.default_rng(3).standard_normal((4, 2, 2)), np.ones((2, 1))),
    ),
}


@pytest.mark.parametrize("name", MODELS)
def test_model_backward_matches_finite_differences(name):
    """Every parameter's grad and dx, each along a random direction, for the one model wrapper."""
    rng = np.random.default_rng(0)
    model, (X, y) = MODELS[name]()
    loss, dpred = gn.mse_loss(model(X), y)
    model.zero_grad()
    dx = model.backward(dpred)
    assert dx.shape == X.shape
    arrays = [(p.data, p.grad) for _, p in model.named_parameters()] + [(X, dx)]
    for data, grad in arrays:
        u = rng.standard_normal(data.shape)
        keep = data.copy()
        data[...] = keep + 1e-6 * u
        plus = gn.mse_loss(model(X), y)[0]
        data[...] = keep - 1e-6 * u
        minus = gn.mse_loss(model(X), y)[0]
        data[...] = keep
        assert abs((plus - minus) / 2e-6 - np.vdot(grad, u)) <= 1e-6 * max(1, abs(loss))


def test_course_models_are_the_one_wrapper_with_torch_names():
    lstm, gru = gn.LSTMModel(1, 3, 1, rng=0), gn.GRUModel(1, 3, 1, rng=0)
    assert isinstance(lstm, SequenceModel) and isinstance(gru, SequenceModel)
    assert lstm.rnn is lstm.lstm and gru.rnn is gru.gru and not lstm.per_step
    assert list(lstm.state_dict()) == [
        "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0",
        "fc.weight", "fc.bias",
    ]  # fmt: skip
    assert list(gru.state_dict())[0] == "gru.weight_ih_l0"
    with pytest.raises(ValueError, match=r"expects input of shape \(T, B, input_size\)"):
        SequenceModel(gn.GRU(1, 2), 1)(np.zeros((2, 1)))
    with pytest.raises(RuntimeError, match="needs a forward pass first"):
        gru.backward(np.zeros((1, 1)))


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
