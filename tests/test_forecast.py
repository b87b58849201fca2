"""Tests of gatednp/lab/forecast.py: fit lowers the loss and restores the best epoch's weights."""

from __future__ import annotations

import numpy as np

import gatednp as gn
from gatednp.lab.forecast import fit, predict
from gatednp.lab.models import SequenceModel


def test_fit_learns_a_lag_and_keeps_the_best_validation_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(512, 4, 1))
    y = X[:, -2].copy()  # the value two steps back
    model = SequenceModel(gn.GRU(1, 8, batch_first=True, rng=0), 1, rng=0)
    lines = []
    r = fit(model, (X[:448], y[:448], X[448:], y[448:]), epochs=16, batch=64, lr=0.02,
            out=lines.append, log_every=8, name="gru")  # fmt: skip
    assert r.losses[-1] < r.losses[0] / 3
    assert len(lines) == 2 and "ETA" in lines[0]
    val = float(np.mean((predict(model, X[448:]) - y[448:]) ** 2))
    assert val == min(r.val_mse)
    assert model.training
