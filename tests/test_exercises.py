"""The exercise workflow and the CLI's check of user code: a filled-in exercise passes every
row; a blank or a wrong line fails, with the gate named and a hint; exit status 1 on failure."""

import numpy as np
import pytest

import gatednp as gn
from gatednp.cli import main
from gatednp.lab.exercises import BLANKS, exercise_source
from gatednp.usercheck import check_target, load_target


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("kind", sorted(BLANKS))
def test_the_solved_exercise_passes_and_the_blank_one_fails(kind, workdir, capsys):
    assert main(["exercise", kind]) == 0
    capsys.readouterr()
    path = workdir / f"exercise_{kind}.py"
    assert "..." in path.read_text()
    assert main(["check", path.name]) == 1
    blanks = sum(1 for v, _, _ in BLANKS[kind] if v)
    assert f"{blanks} blank(s) still to fill" in capsys.readouterr().out
    path.write_text(exercise_source(kind, solved=True))
    assert main(["check", path.name]) == 0
    out = capsys.readouterr().out
    assert "all gradients agree" in out and "FAIL" not in out
    assert main(["exercise", kind]) == 1  # never overwrites a student's work


@pytest.mark.parametrize("kind, var", [(k, v) for k in BLANKS for v, _, _ in BLANKS[k] if v][::3])
def test_a_wrong_line_is_graded_with_a_hint(kind, var, workdir, capsys):
    text = exercise_source(kind, solved=True)
    line = next(s for s in text.splitlines() if s.strip().startswith(f"{var} = "))
    path = workdir / f"exercise_{kind}.py"
    path.write_text(text.replace(line, line.split("  #")[0] + " * 1.5"))  # scale the line
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "GRADIENT CHECK FAILED" in out and "hint" in out


def test_gradcheck_names_a_layer_in_a_file(workdir, capsys):
    (workdir / "my_layers.py").write_text(
        "import gatednp as gn\n\n"
        "def MyGRU():\n    return gn.GRU(3, 4, rng=0)\n\n"
        "class Broken(gn.LSTM):\n"
        "    def backward(self, dy, dstate=None):\n"
        "        dx, ds = super().backward(dy, dstate)\n"
        "        self.bias_hh_l0.grad[12:] *= 2  # the output gate's bias\n"
        "        return dx, ds\n\n"
        "def MyBroken():\n    return Broken(3, 4, rng=0)\n"
    )
    assert main(["gradcheck", "my_layers.py:MyGRU"]) == 0
    capsys.readouterr()
    assert main(["gradcheck", "my_layers.py:MyBroken"]) == 1
    assert "bias_hh_l0, output gate o" in capsys.readouterr().out
    assert main(["gradcheck", "my_layers.py:Nothing"]) == 1
    assert main(["gradcheck", "gatednp.lstm"]) == 0  # module:Name or a module with a step pair


def test_targets_load_and_kinds_are_read():
    assert load_target("gatednp.gru:step") is gn.gru.step
    assert check_target(gn.rnn).ok  # the textbook step pair, kind from the module's name
    with pytest.raises(ValueError, match="KIND"):
        check_target(type("Mystery", (), {"step": None, "step_backward": None}))
    assert np.isfinite(check_target(gn.GRU(2, 3, rng=0)).loss)


def test_the_check_table_as_a_heatmap(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot extra is not installed")
    from gatednp.lab import plots
    from tests.mutants import CATALOGUE

    step, backward = CATALOGUE[0].functions()
    report = gn.check_step("lstm", step, backward)
    path = plots.check_heatmap(report, str(tmp_path / "check.png"))
    assert (tmp_path / "check.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.endswith(
        ".png"
    )
    layer_report = gn.check_layer(gn.GRU(2, 3, rng=0))
    assert plots.check_heatmap(layer_report, str(tmp_path / "layer.png")).endswith("layer.png")
