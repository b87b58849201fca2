"""`python -m gatednp study variants`: the command line, its rerun, its messages."""

import signal
import subprocess
import sys
import time

import pytest

from gatednp.cli import main
from gatednp.lab import layers, studyplan
from gatednp.lab import study as study_module


def study(tmp_path, *extra):
    return main(["study", "variants", "--short", "--tasks", "sine", "--variants", "lstm", "rnn",
                 "--seeds", "2", "--results", str(tmp_path / "r.jsonl"), *extra])  # fmt: skip


@pytest.mark.parametrize("argv", [["study", "-h"], ["study", "variants", "-h"]])
def test_the_help_says_the_defaults(argv, capsys):
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    if argv[1] == "-h":
        assert "95% intervals" in out and "Welch" in out
    else:
        assert "(default: all)" in out and "default 10" in out and "default 2" in out
        assert f"about {study_module.default_minutes():.0f} minutes" in out


def test_a_study_runs_reports_and_its_rerun_runs_nothing(tmp_path, capsys):
    assert study(tmp_path) == 0
    out = capsys.readouterr().out
    assert "4 runs (2 variants × 1 tasks × 2 seeds), 0 already" in out
    assert "[4/4] sine" in out and "Welch p vs V" in out
    progress = [line for line in out.splitlines() if line.startswith("[")]
    assert len(progress) == 4 and all("runs/min  ETA" in line for line in progress)
    rows = [line.split() for line in out.splitlines() if line.startswith("sine ")]
    assert [row[1] for row in rows] == ["V", "RNN"] and all(row[2] == "2" for row in rows)
    assert study(tmp_path) == 0
    again = capsys.readouterr().out
    assert "4 already" in again and "0 to run" in again and "[1/4]" not in again
    assert [line.split() for line in again.splitlines() if line.startswith("sine ")] == rows


def test_plot_draws_the_box_plots_of_each_task(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the plot extra is not installed")
    assert study(tmp_path, "--seeds", "1", "--plot", str(tmp_path / "plots")) == 0
    assert "study-variants-sine.png" in capsys.readouterr().out
    assert (tmp_path / "plots" / "study-variants-sine.png").stat().st_size > 0


def test_without_matplotlib_the_numbers_still_print(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    assert study(tmp_path, "--seeds", "1", "--plot", str(tmp_path / "plots")) == 0
    captured = capsys.readouterr()
    assert "Welch p vs V" in captured.out and "pip install 'gatednp[plot]'" in captured.err
    assert not (tmp_path / "plots" / "study-variants-sine.png").exists()


def test_a_results_file_in_a_missing_directory_is_refused_before_any_run(tmp_path, capsys):
    args = ["study", "variants", "--short", "--results", str(tmp_path / "nowhere" / "r.jsonl")]
    assert main(args) == 2
    assert "no directory" in capsys.readouterr().err


def test_a_variant_gatednp_cannot_build_is_skipped_with_the_reason(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(studyplan.STUDY_VARIANTS, "bogus", "bogus")
    monkeypatch.setitem(studyplan.LABELS, "bogus", "BOGUS")
    monkeypatch.setitem(layers.DESCRIPTIONS, "bogus", "a gate nobody has")
    monkeypatch.setitem(
        layers.VARIANTS, "bogus", lambda I, H, **kw: layers.LSTM(I, H, bogus=1, **kw)
    )
    monkeypatch.setitem(study_module.SHORT_DEFAULTS, "variants", ["lstm", "bogus"])
    args = ["study", "variants", "--short", "--tasks", "sine", "--seeds", "1"]
    assert main([*args, "--results", str(tmp_path / "r.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "skipped, the installed gatednp cannot build it: bogus (a gate nobody has)" in out
    assert "1 runs (1 variants" in out


def test_without_distributed_the_scheduler_option_says_what_to_install(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    assert study(tmp_path, "--scheduler", "tcp://127.0.0.1:1") == 2
    assert 'pip install "gatednp[cluster]"' in capsys.readouterr().err


@pytest.mark.slow
def test_the_short_form_runs_every_task(tmp_path, capsys):
    assert main(["study", "variants", "--short", "--results", str(tmp_path / "r.jsonl")]) == 0
    out = capsys.readouterr().out
    for task in studyplan.BUDGETS:
        assert f"\n{task} " in out and f"{task}: against V" in out


@pytest.mark.slow
def test_ctrl_c_stops_the_runs_in_flight_at_once(tmp_path):
    results = str(tmp_path / "r.jsonl")
    cmd = [sys.executable, "-m", "gatednp", "study", "variants", "--short", "--tasks", "sine",
           "--steps", "3000", "--variants", "lstm", "gru", "--results", results]  # fmt: skip
    study = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    assert "to run on 2 local workers" in study.stdout.readline()
    time.sleep(1.0)  # the workers are in their first runs (several seconds each)
    study.send_signal(signal.SIGINT)
    start = time.perf_counter()
    _, err = study.communicate(timeout=60)
    assert study.returncode == 130 and time.perf_counter() - start < 3
    assert "interrupted; 0 of 4 runs are saved" in err and "run the same command again" in err
