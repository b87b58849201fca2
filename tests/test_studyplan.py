"""The study's plan: the grid, the random search, the variants the installed gatednp lacks,
the traffic task, and runs that give the same numbers in any process."""

import json
import math
import subprocess
import sys
from dataclasses import asdict, replace

import numpy as np
import pytest

from gatednp import registry
from gatednp.lab import layers, studyplan
from gatednp.lab.studyplan import (
    BUDGETS,
    STUDY_VARIANTS,
    RunConfig,
    estimate_seconds,
    grid,
    random_search,
    run_one,
    unavailable,
)  # fmt: skip
from gatednp.lab.traffic import persistence_mse, traffic_task

# The variants another change adds to gn.LSTM, and the option each needs
NEW_OPTIONS = {"nig": "input_gate", "nog": "output_gate", "noa": "activations"}


def small(variant="lstm", task="sine", seed=0, **changes) -> RunConfig:
    (config,) = grid([variant], [task], 1, short=True)
    return replace(config, seed=seed, **changes)


def test_the_grid_is_every_combination_once_seed_by_seed():
    configs = grid(["lstm", "gru"], ["adding", "copy"], 3, lrs=[0.01, 0.001])
    assert len(configs) == len({c.key for c in configs}) == 2 * 2 * 3 * 2
    assert [c.seed for c in configs] == sorted(c.seed for c in configs)
    assert {c.lr for c in configs} == {0.01, 0.001}
    copy = next(c for c in configs if c.task == "copy")
    budget = BUDGETS["copy"]
    assert (copy.steps, copy.hidden, copy.copy_length) == (
        budget["steps"], budget["hidden"], budget["copy_length"],
    )  # fmt: skip
    assert json.loads(copy.key) == asdict(copy)


def test_random_search_shares_a_trials_learning_rate_between_variants():
    configs = random_search(["lstm", "gru", "rnn"], ["adding"], 6, lr_range=(1e-3, 1e-1))
    assert len(configs) == 18
    by_trial = {}
    for c in configs:
        by_trial.setdefault(c.seed, set()).add(c.lr)
    assert all(len(lrs) == 1 for lrs in by_trial.values())
    lrs = [lrs.pop() for lrs in by_trial.values()]
    assert len(set(lrs)) == 6 and all(1e-3 <= lr <= 1e-1 for lr in lrs)
    assert configs == random_search(["lstm", "gru", "rnn"], ["adding"], 6, lr_range=(1e-3, 1e-1))
    other = random_search(["lstm"], ["adding"], 6, lr_range=(1e-3, 1e-1), search_seed=1)
    assert [c.lr for c in other] != lrs


def test_a_variant_the_installed_gatednp_cannot_build_is_named_with_the_reason(monkeypatch):
    monkeypatch.setitem(STUDY_VARIANTS, "bogus", "bogus")
    monkeypatch.setitem(layers.DESCRIPTIONS, "bogus", "a gate nobody has")
    monkeypatch.setitem(
        layers.VARIANTS, "bogus", lambda I, H, **kw: layers.LSTM(I, H, bogus=1, **kw)
    )
    why = unavailable("bogus")
    assert why.startswith("bogus (a gate nobody has)") and "'bogus'" in why
    assert all(
        unavailable(v) is None for v in STUDY_VARIANTS if v not in NEW_OPTIONS and v != "bogus"
    )


@pytest.mark.parametrize("variant", list(NEW_OPTIONS))
def test_the_new_lstm_variants_train_in_the_study(variant):
    if NEW_OPTIONS[variant] not in registry.LSTM_KIND.options:
        assert NEW_OPTIONS[variant] in unavailable(variant)  # reported, not a crash
        pytest.skip(f"gn.LSTM has no {NEW_OPTIONS[variant]!r} option yet (being added on main)")
    assert unavailable(variant) is None
    record = run_one(small(variant))
    assert math.isfinite(record["test_loss"]) and record["steps_done"] == small().steps


def test_the_traffic_task_tests_on_the_test_days():
    task = traffic_task()
    x, y = task.batch(np.random.default_rng(0), 5, np.float32)
    xt, yt = task.heldout(np.random.default_rng(0), 5, np.float32)
    assert x.shape == xt.shape == (12, 5, 1) and y.shape == yt.shape == (5, 1)
    assert not np.array_equal(x, xt)
    assert 0 < persistence_mse() < task.baseline
    assert BUDGETS["traffic"]["target"] == pytest.approx(persistence_mse(), rel=0.01)


def test_the_full_default_study_fits_in_half_an_hour_on_two_workers():
    from gatednp.lab.study import DEFAULTS, default_minutes

    configs = grid(DEFAULTS["variants"], DEFAULTS["tasks"], DEFAULTS["seeds"])
    assert len(configs) >= 10 * 11 * 2 and DEFAULTS["workers"] == 2
    assert {"adding", "copy"} <= set(DEFAULTS["tasks"]) and set(DEFAULTS["variants"]) == set(
        STUDY_VARIANTS
    )
    by_hand = sum(estimate_seconds(c) for c in configs) / 2 / 60
    assert default_minutes() == pytest.approx(by_hand)
    assert 15 < by_hand < 30


RUN = """
import json, sys
from gatednp.lab.studyplan import RunConfig, run_one
for config in json.loads(sys.argv[1]):
    record = run_one(RunConfig(**config))
    print(json.dumps({k: record[k] for k in ("test_loss", "test_metric", "train_loss", "solved_at")}))
"""


def test_a_run_gives_identical_numbers_in_two_processes():
    configs = [small("lstm", task, seed=3, steps=60, target=10.0) for task in ("adding", "copy")]
    configs.append(replace(configs[0], seed=4))  # the seed matters: the numbers are not constant
    argv = [sys.executable, "-c", RUN, json.dumps([asdict(c) for c in configs])]
    outputs = [subprocess.run(argv, check=True, capture_output=True, text=True).stdout
               for _ in range(2)]  # fmt: skip
    assert outputs[0] == outputs[1]
    adding, copy, reseeded = (json.loads(line) for line in outputs[0].splitlines())
    assert adding["solved_at"] == copy["solved_at"] == studyplan.LOG_EVERY  # target 10: at once
    assert all(math.isfinite(r["test_loss"]) for r in (adding, copy))
    assert reseeded["test_loss"] != adding["test_loss"]
