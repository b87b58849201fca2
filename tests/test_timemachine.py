"""Tests of gatednp/lab/timemachine.py: the --quick run learns (loss falls, beats the unigram
baseline), the recipes cut the corpus as d2l does, and generation continues the prefix."""

from __future__ import annotations

import numpy as np
import pytest

from gatednp.cli import main
from gatednp.lab.timemachine import RECIPES, lm_data, train_lm


def test_quick_run_learns(capsys, tmp_path):
    """The --quick run exits 0 only if it learnt; with matplotlib it also draws its figure."""
    try:
        import matplotlib  # noqa: F401

        plot = ["--plot", str(tmp_path / "timemachine.png")]
    except ImportError:
        plot = []
    assert main(["experiment", "timemachine", "--quick", *plot]) == 0
    out = capsys.readouterr().out
    if plot:
        assert (tmp_path / "timemachine.png").read_bytes()[:4] == b"\x89PNG" and "wrote" in out
    assert "tokens/s" in out and "ETA" in out and "unigram baseline" in out
    assert "greedy : 'time traveller" in out


def test_v1_recipe_uses_overlapping_subsequences():
    data = lm_data(RECIPES["v1.0"])
    assert data.X_train.shape == (10000, 32) and data.X_val.shape == (5000, 32)
    np.testing.assert_array_equal(data.X_train[1, :-1], data.X_train[0, 1:])
    np.testing.assert_array_equal(data.Y_train[:, :-1], data.X_train[:, 1:])
    np.testing.assert_array_equal(data.X_val[0, :-1], data.X_train[-1, 1:])  # next subsequence


def test_v017_recipe_streams_the_first_10000_characters():
    data = lm_data(RECIPES["v0.17"])
    assert data.X_train is None and len(data.train_ids) == 10000
    assert data.X_val.shape[1] == 35


def test_training_records_per_epoch_perplexities_and_text():
    recipe = dict(RECIPES["quick"], epochs=2, num_train=256, num_val=64)
    r = train_lm(lm_data(recipe), "lstm", out=lambda s: None)
    assert len(r.train_ppl) == len(r.val_ppl) == 2
    assert r.greedy.startswith("time traveller") and len(r.greedy) == len("time traveller") + 50


def test_compare_torch_prints_both_curves(capsys):
    pytest.importorskip("torch")
    assert main(["experiment", "timemachine", "--quick", "--compare-torch", "--cell", "lstm"]) == 0
    out = capsys.readouterr().out
    rows = [ln.split() for ln in out.splitlines() if ln.split() and ln.split()[0].isdigit()]
    assert len(rows) == 20
    assert all(abs(float(r[1]) - float(r[2])) <= 1e-10 for r in rows)
