"""The variant study's plan: which variants, which tasks at what budget, and one run.

A run is a `RunConfig`: a variant, a task, a seed, a learning rate and the task's budget. Its
`key` (the configuration as canonical JSON) names it in the results file, so a rerun skips what
is done. `run_one(config)` trains it anywhere (a local worker process or a Dask worker) and
returns a JSON-able record; everything it draws comes from the configuration's seed (model from
seed, batches from seed + 1, test set from seed + 2, as experiments.train does), never from the
worker, so the same configuration gives the same numbers on any worker of one machine type.

The variants (Greff et al. 2017, "LSTM: A Search Space Odyssey", and the GRU and the RNN) are
options of gn.LSTM, gn.GRU and gn.RNN, built by the layer names of layers.py.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass

import numpy as np

from ..threads import set_blas_threads
from .experiments import train
from .layers import DESCRIPTIONS, make_layer
from .tasks import Task, adding_task, copy_task, sine_task

__all__ = [
    "STUDY_VARIANTS", "LABELS", "BUDGETS", "COST", "SHORT", "RunConfig", "grid", "random_search",
    "unavailable", "make_task", "run_one", "estimate_seconds",
]  # fmt: skip

# study name -> layer name of layers.py; the study's names are Greff et al.'s, lower case
STUDY_VARIANTS = {
    "lstm": "lstm", "nfg": "lstm1997", "nig": "nig", "nog": "nog", "noa": "noa",
    "cifg": "cifg", "ph": "peephole", "fgb": "lstm-fb1", "gru": "gru", "gru-rb": "gru-rb",
    "rnn": "rnn",
}  # fmt: skip
LABELS = {name: "V" if name == "lstm" else name.upper() for name in STUDY_VARIANTS}

# Per-task budgets of the full study: the vanilla LSTM solves adding (by ~1000 steps) and copy
# (by ~2600) within them, the tanh RNN does not. `target`: the validation loss that counts as
# solved. `ms`: CPU milliseconds per training step of the vanilla LSTM, validation included,
# one BLAS thread (the mean over a run of the full budget, two workers side by side on a shared
# 2-core machine: CPU time, unlike wall time, does not grow with the other processes' load);
# COST: each variant's time relative to it, measured the same way. They only feed the printed
# estimate, which assumes each worker has a core of its own.
BUDGETS = {
    "adding": dict(seq_len=50, hidden=32, batch=64, steps=3000, lr=0.005, clip=1.0,
                   target=0.01, ms=3.8),
    "copy": dict(seq_len=10, copy_length=3, hidden=64, batch=64, steps=4000, lr=0.01, clip=1.0,
                 target=0.02, ms=2.6),
    "sine": dict(seq_len=20, hidden=32, batch=32, steps=1000, lr=0.01, clip=1.0,
                 target=0.01, ms=1.5),
    "traffic": dict(seq_len=12, hidden=32, batch=64, steps=2000, lr=0.005, clip=1.0,
                    target=0.0033, ms=1.0),
}  # fmt: skip
COST = {"ph": 1.5, "rnn": 0.25}  # the other LSTM variants and the GRUs: 0.9–1.05
# The short form (CI, seconds): the same tasks, tiny budgets; it checks the machinery, not LSTMs
SHORT = {name: {**b, "hidden": 8, "batch": 16, "steps": 40} for name, b in BUDGETS.items()}
LOG_EVERY = 50  # validation every 50 steps: "steps to solve" has this resolution
TEST_SIZE = 1000


@dataclass(frozen=True)
class RunConfig:
    """One run of the study; every field is part of its key in the results file."""

    variant: str  # a key of STUDY_VARIANTS
    task: str  # a key of BUDGETS
    seed: int
    lr: float
    steps: int
    seq_len: int
    hidden: int
    batch: int
    clip: float
    target: float
    copy_length: int = 0  # copy only: K symbols to remember
    dtype: str = "float32"

    @property
    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def _config(variant: str, task: str, seed: int, budget: dict, **changes) -> RunConfig:
    fields = {k: v for k, v in budget.items() if k != "ms"}
    return RunConfig(variant=variant, task=task, seed=seed, **{**fields, **changes})


def grid(
    variants: list[str],
    tasks: list[str],
    seeds: int,
    *,
    lrs: list[float] | None = None,
    steps: int | None = None,
    short: bool = False,
) -> list[RunConfig]:
    """Every variant × task × seed (× learning rate); `lrs` None: each task's own, `steps` None:
    the task's budget. Ordered seed by seed, so a study stopped midway has every variant at
    about the same number of seeds."""
    budgets = SHORT if short else BUDGETS
    return [
        _config(v, t, seed, budgets[t], **_changes(lr, steps))
        for seed in range(seeds)
        for t in tasks
        for lr in lrs or [None]
        for v in variants
    ]


def random_search(
    variants: list[str],
    tasks: list[str],
    trials: int,
    *,
    lr_range: tuple[float, float] | None = None,
    steps: int | None = None,
    short: bool = False,
    search_seed: int = 0,
) -> list[RunConfig]:
    """`trials` runs per variant and task: trial k has seed k and a learning rate drawn
    log-uniformly from `lr_range` (default: the task's lr / 3 to × 3), the same for every
    variant (the draw depends on the search seed, the task and k only), as Greff et al.'s random
    search over hyperparameters, with the comparisons paired by trial."""
    budgets = SHORT if short else BUDGETS
    configs = []
    for k in range(trials):
        for t in tasks:
            lo, hi = lr_range or (budgets[t]["lr"] / 3, budgets[t]["lr"] * 3)
            draw = np.random.default_rng([search_seed, sorted(BUDGETS).index(t), k])
            lr = float(np.exp(draw.uniform(np.log(lo), np.log(hi))))
            configs += [_config(v, t, k, budgets[t], **_changes(lr, steps)) for v in variants]
    return configs


def _changes(lr: float | None, steps: int | None) -> dict:
    return {k: v for k, v in (("lr", lr), ("steps", steps)) if v is not None}


def unavailable(variant: str) -> str | None:
    """Why the installed gatednp cannot build `variant` (an option it lacks), or None."""
    try:
        make_layer(STUDY_VARIANTS[variant], 1, 2, dtype=np.float64, rng=0)
    except (TypeError, ValueError) as e:
        return f"{variant} ({DESCRIPTIONS[STUDY_VARIANTS[variant]]}): {e}"
    return None


def make_task(config: RunConfig) -> Task:
    """The task of a configuration, at its sequence length."""
    if config.task == "copy":
        return copy_task(delay=config.seq_len, length=config.copy_length)
    if config.task == "traffic":
        from .traffic import traffic_task

        return traffic_task(config.seq_len)
    return {"adding": adding_task, "sine": sine_task}[config.task](config.seq_len)


def run_one(config: RunConfig) -> dict:
    """Train one configuration; returns its record: the configuration, its key and what was
    measured (test loss and metric, the first logged step with validation loss below target or
    None, the mean training loss of the last 50 steps, steps done, wall and CPU seconds (the
    CPU time does not grow when other processes share the cores), where it ran).

    Pins this process's BLAS to one thread (and leaves it so: call it in a worker process), so
    that every GEMM sums in the same order on every worker.
    """
    set_blas_threads(1)
    cpu = time.process_time()
    result = train(
        make_task(config), STUDY_VARIANTS[config.variant], hidden=config.hidden,
        steps=config.steps, batch=config.batch, lr=config.lr, clip=config.clip, seed=config.seed,
        dtype=np.dtype(config.dtype), log_every=LOG_EVERY, target=config.target,
        test_size=TEST_SIZE, out=lambda line: None,
    )  # fmt: skip
    return dict(
        config=asdict(config), key=config.key, test_loss=float(result.test_loss),
        test_metric=float(result.test_metric), solved_at=result.solved_at,
        train_loss=float(np.mean(result.losses[-50:])) if result.losses else float("nan"),
        steps_done=result.steps, stopped=result.stopped, seconds=round(result.seconds, 3),
        cpu_seconds=round(time.process_time() - cpu, 3),
        worker=f"{socket.gethostname()}:{os.getpid()}",
    )  # fmt: skip


def estimate_seconds(config: RunConfig) -> float:
    """The expected time of one run with two workers on a quiet 2-core machine: BUDGETS' `ms`
    × COST per step (at the budget's sizes; the sequence length and the steps scaled)."""
    budget = BUDGETS[config.task]
    per_step = budget["ms"] * COST.get(config.variant, 1.0) * config.seq_len / budget["seq_len"]
    return per_step * config.steps / 1000
