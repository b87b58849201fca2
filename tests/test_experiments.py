"""Tasks, the experiment runner, gradient flow and plots: tiny seeded runs of each."""

import builtins
import dataclasses
import re

import numpy as np
import pytest

from gatednp import cli
from gatednp.lab import plots
from gatednp.lab.experiments import train
from gatednp.lab.gradflow import gradient_norms
from gatednp.lab.layers import make_layer
from gatednp.lab.models import SequenceModel
from gatednp.lab.tasks import adding_task, consecutive_task, copy_task, cross_entropy, sine_task


def test_adding_task_has_one_marker_per_half_and_sums_them():
    x, y = adding_task(30).batch(np.random.default_rng(0), 500, np.float64)
    markers = x[:, :, 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    np.testing.assert_array_equal(markers[:15].sum(axis=0), 1)
    np.testing.assert_array_equal(markers[15:].sum(axis=0), 1)
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * markers).sum(axis=0))
    assert 0 <= x[:, :, 0].min() and x[:, :, 0].max() <= 1


def test_adding_baseline_is_the_mse_of_always_answering_one():
    task = adding_task(10)
    _, y = task.batch(np.random.default_rng(1), 200_000, np.float64)
    assert abs(np.mean((y - 1) ** 2) - task.baseline) < 3e-3


def test_copy_task_layout_and_its_baseline_equals_the_ideal_blind_guess():
    task = copy_task(delay=7, length=4)
    x, y = task.batch(np.random.default_rng(2), 50, np.float64)
    T = 7 + 8
    assert x.shape == (T, 50, 10) and y.shape == (T, 50)
    seq = x.argmax(-1)
    np.testing.assert_array_equal(y[-4:], seq[:4])
    assert (seq[:4] >= 1).all() and (seq[:4] <= 8).all()
    assert (seq[T - 5] == 9).all() and (np.delete(seq, [0, 1, 2, 3, T - 5], axis=0) == 0).all()
    np.testing.assert_array_equal(y[:-4], 0)
    # blanks with certainty, then uniform over the 8 symbols
    logits = np.full((T, 50, 10), -1e9)
    logits[:-4, :, 0] = 0
    logits[-4:, :, 1:9] = 0
    assert cross_entropy(logits, y)[0] == pytest.approx(task.baseline, rel=1e-12)


def test_cross_entropy_gradient_by_finite_differences():
    rng = np.random.default_rng(3)
    logits, target = rng.standard_normal((3, 2, 5)), rng.integers(0, 5, size=(3, 2))
    _, d = cross_entropy(logits, target)
    numeric = np.empty_like(logits)
    for k in np.ndindex(logits.shape):
        e = np.zeros_like(logits)
        e[k] = 1e-6
        numeric[k] = (
            cross_entropy(logits + e, target)[0] - cross_entropy(logits - e, target)[0]
        ) / 2e-6
    np.testing.assert_allclose(d, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "task",
    [consecutive_task(), sine_task(8), adding_task(6), copy_task(3, 2)],
    ids=lambda t: t.name,
)
def test_training_is_seeded_and_logs_progress(task):
    lines = []
    kw = dict(hidden=8, steps=6, batch=4, lr=0.01, clip=1.0, seed=7, log_every=3, test_size=16)
    a = train(task, "gru", out=lines.append, **kw)
    b = train(task, "gru", out=lambda s: None, **kw)
    assert a.losses == b.losses and a.test_loss == b.test_loss
    assert len(lines) == 2 and all(
        k in lines[-1] for k in ("step     6/6", "steps/s", "ETA", "val")
    )
    assert np.isfinite(a.test_loss) and a.steps == 6


@pytest.mark.parametrize(
    "cell", ["lstm", "gru", "peephole", "cifg", "lstm1997", "gru-rb", "lstm-fb1"]
)
def test_sine_forecast_learns_with_every_gated_cell(cell):
    task = sine_task(10)
    r = train(
        task, cell, hidden=16, steps=150, batch=32, lr=0.02, clip=1.0, log_every=0, test_size=200
    )
    assert r.test_loss < task.baseline / 5, f"{cell}: test MSE {r.test_loss:.3f}"


def test_stop_below_stops_and_records_the_step():
    r = train(
        consecutive_task(),
        "lstm",
        hidden=16,
        steps=500,
        batch=20,
        lr=0.02,
        log_every=10,
        stop_below=1.0,
        out=lambda s: None,
    )
    assert r.solved_at == r.steps < 500


def test_a_nan_stops_the_run_at_its_step_and_keeps_the_last_finite_model():
    """The runner trains through gn.train: a nan target at step 3 stops it there, not later."""
    task, calls = sine_task(5), []

    def batch(rng, B, dtype):  # calls 1-2 draw the validation and test sets, 3.. the steps
        calls.append(B)
        x, y = sine_task(5).batch(rng, B, dtype)
        return x, (y * np.nan if len(calls) == 5 else y)

    lines = []
    r = train(
        dataclasses.replace(task, batch=batch), "gru", hidden=4, steps=10, batch=3, lr=0.01,
        log_every=1, test_size=8, out=lines.append,
    )  # fmt: skip
    assert r.steps == 2 and r.stopped.startswith("step 3: the loss is nan")
    assert lines[-1].endswith(r.stopped) and len(lines) == 3  # steps 1, 2, then the stop
    assert all(np.isfinite(p.data).all() for p in r.model.parameters())
    assert np.isfinite(r.test_loss)


def test_make_layer_rejects_unknown_cells():
    with pytest.raises(ValueError, match="cell must be one of"):
        make_layer("lsmt", 1, 2, dtype=np.float64, rng=0)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_gradient_norms_end_at_the_layers_dh0(cell):
    """The cell loop's last entry, ‖∂L/∂h_0‖, equals what the layer's own backward returns."""
    task = adding_task(12)
    x, target = task.batch(np.random.default_rng(4), 5, np.float64)
    model = SequenceModel(make_layer(cell, 2, 6, dtype=np.float64, rng=0), 1, rng=0)
    norms = gradient_norms(model, task, x, target)
    assert norms["h"].shape == (13,) and (cell == "lstm") == ("c" in norms)
    _, dpred = task.loss(model(x), target)
    dy = np.zeros((12, 5, 6))
    dy[-1] = model.fc.backward(dpred)
    state = model.rnn.backward(dy)[1]
    dh0 = (state[0] if cell == "lstm" else state)[0]
    assert norms["h"][-1] == pytest.approx(np.linalg.norm(dh0, axis=1).mean(), rel=1e-10)
    assert norms["h"][0] == pytest.approx(np.linalg.norm(dy[-1], axis=1).mean(), rel=1e-12)


def run_cli(capsys, *argv):
    status = cli.main(["experiment", *argv])
    out = capsys.readouterr()
    assert status == 0
    return out.out, out.err


def test_cli_experiment_prints_a_summary(capsys):
    out, _ = run_cli(
        capsys,
        "adding",
        "-T",
        "8",
        "--cell",
        "lstm",
        "gru",
        "--steps",
        "4",
        "--log-every",
        "2",
        "--hidden",
        "4",
    )
    assert "adding (T = 8, seed 0)" in out and "test / baseline" in out
    assert out.count("steps/s") == 4 and "ETA" in out


def test_cli_gradflow_and_variants_print_tables(capsys):
    out, _ = run_cli(
        capsys,
        "gradflow",
        "-T",
        "6",
        "--cell",
        "lstm",
        "--steps",
        "2",
        "--hidden",
        "3",
        "--batch",
        "2",
    )
    assert "lstm init" in out and "lstm (c) trained" in out and "k=5" in out
    out, _ = run_cli(
        capsys, "variants", "-T", "5", "--cell", "cifg", "gru-rb", "--steps", "2", "--hidden", "3"
    )
    assert "coupled gates" in out and "reset before" in out


def test_plots_write_pngs(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the plot extra is not installed")
    argv = "sine -T 5 --cell lstm gru rnn --steps 3 --plot".split() + [str(tmp_path / "s.png")]
    out, _ = run_cli(capsys, *argv)
    for name in ("s.png", "s-gates-lstm.png", "s-gates-gru.png", "s-gates-rnn.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert f"wrote {tmp_path / name}" in out
    path = plots.gradient_norms({"rnn init": np.array([1.0, 0.1, 0.0])}, str(tmp_path / "g.png"))
    assert (tmp_path / "g.png").stat().st_size > 1000 and path.endswith("g.png")


@pytest.fixture
def no_matplotlib(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.split(".")[0] == "matplotlib":
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)


def test_without_matplotlib_plots_say_how_to_install_it(no_matplotlib, tmp_path):
    with pytest.raises(plots.MissingMatplotlib, match=r"pip install 'gatednp\[plot\]'"):
        plots.loss_curves({"lstm": [1.0]}, str(tmp_path / "x.png"))


def test_without_matplotlib_the_experiment_still_prints_its_numbers(
    no_matplotlib, tmp_path, capsys
):
    out, err = run_cli(
        capsys,
        "consecutive",
        "--cell",
        "rnn",
        "--steps",
        "3",
        "--plot",
        str(tmp_path / "c.png"),
    )
    assert "test / baseline" in out and "no plot: plotting needs matplotlib" in err
    assert not (tmp_path / "c.png").exists()


def test_gradient_vanishes_at_init_unless_the_forget_gate_starts_open():
    """At init ‖∂L/∂h_0‖ / ‖∂L/∂h_T‖ is tiny for the tanh RNN and torch's LSTM init (f ≈ σ(0));
    a forget bias of 1 (gn.LSTM(..., forget_bias=1.0)) lets ~10⁴× more through at T = 40."""
    task = adding_task(40)
    x, target = task.batch(np.random.default_rng(5), 16, np.float64)
    ratio = {}
    for cell in ("rnn", "lstm", "lstm-fb1"):
        model = SequenceModel(make_layer(cell, 2, 32, dtype=np.float64, rng=0), 1, rng=0)
        n = gradient_norms(model, task, x, target)["h"]
        ratio[cell] = n[40] / n[0]
    assert ratio["rnn"] < 1e-7 and ratio["lstm"] < 1e-7, ratio
    assert ratio["lstm-fb1"] > 1e3 * ratio["lstm"] and ratio["lstm-fb1"] > 1e-5, ratio


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_solve_a_short_adding_problem(cell):
    """The short form of `experiment adding` (T = 100 is run by hand: see the report)."""
    task = adding_task(30)
    r = train(
        task,
        cell,
        hidden=32,
        steps=1500,
        batch=64,
        lr=0.01,
        clip=1.0,
        log_every=50,
        stop_below=0.01,
        out=lambda s: None,
    )
    assert r.solved_at is not None and r.test_loss < 0.02, f"{cell}: test MSE {r.test_loss:.4f}"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["experiment", "adding", "--cell", "lstm", "foo"], "argument --cell: invalid choice: 'foo'"),
        (["experiment", "sine", "--steps", "-5"], "argument --steps: expected an integer > 0, got '-5'"),
        (["experiment", "copy", "--hidden", "0"], "argument --hidden: expected an integer > 0"),
        (["experiment", "sine", "--lr", "nan"], "argument --lr: expected a number > 0"),
        (["gradcheck", "--lengths", "9", "9", "9"], r"gradcheck: error: lengths must lie in \[0, T=5\]"),
        (["gradcheck", "-T", "-1"], "argument --seq-len/-T: expected an integer > 0"),
    ],
)  # fmt: skip
def test_cli_refuses_bad_arguments_before_running(capsys, argv, message):
    """A usage error (exit status 2, one line on stderr) before any training, not a traceback."""
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    out = capsys.readouterr()
    assert info.value.code == 2 and "training" not in out.out
    assert re.search(message, out.err) and "Traceback" not in out.err


@pytest.mark.parametrize("name", list(cli.EXPERIMENTS))
def test_cli_experiment_help_names_defaults_cells_and_run_time(capsys, name):
    with pytest.raises(SystemExit):
        cli.main(["experiment", name, "--help"])
    out = capsys.readouterr().out
    about = cli.ABOUT[name]
    assert about["summary"] in out and f"run time with the defaults: {about['time']}" in out
    for key, value in about["defaults"].items():  # steps for the tasks, epochs for real data
        assert f"--{key.replace('_', '-')} {value}" in out
    assert "cells trained: " + " ".join(about["cells"]) in out


def test_cli_demo_help_describes_it(capsys):
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    assert "predict the number after [10, 11]" in " ".join(capsys.readouterr().out.split())
