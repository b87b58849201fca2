"""`python -m gatednp experiment variants`: the LSTM and GRU variants side by side on adding.

Each named layer of layers.py (torch's LSTM, GRU and tanh RNN, and the variants of
gatednp/variants.py: forget bias 1, peepholes, CIFG, the 1997 LSTM, the GRU with the reset
before W_hn) trains on the adding problem until its validation MSE falls below a target or its
steps run out; one table compares their sizes, test MSE and the step each got there.
"""

from __future__ import annotations

import argparse

from .experiments import apply_defaults, train, train_options, write_plots
from .layers import DESCRIPTIONS, VARIANTS
from .tasks import adding_task

__all__ = ["COMPARISON", "DEFAULT_CELLS", "run_comparison"]

DEFAULT_CELLS = ["lstm", *list(VARIANTS)[:4], "gru", "gru-rb", "rnn"]
COMPARISON = dict(seq_len=50, hidden=32, batch=64, steps=1500, lr=0.005, clip=1.0)


def run_comparison(args: argparse.Namespace) -> int:
    """`python -m gatednp experiment variants`: train each variant on adding until its validation
    MSE is below --stop-below (default 0.01) or --steps run out; print a table."""
    apply_defaults(args, COMPARISON)
    cells = args.cell or DEFAULT_CELLS
    task = adding_task(args.seq_len)
    target = args.stop_below or 0.01
    rows = []
    for cell in cells:
        print(f"variants: training {cell} on adding (T = {args.seq_len})", flush=True)
        rows.append(train(task, cell, **train_options(args), stop_below=target))
    print()
    print(
        f"adding problem, T = {args.seq_len}, hidden {args.hidden}, up to {args.steps} steps, seed {args.seed}"
    )
    print(
        f"{'variant':<10} {'':<38} {'params':>7} {'test MSE':>9} {'val<' + str(target):>10} {'time':>7}"
    )
    for r in rows:
        n = sum(p.data.size for p in r.model.rnn.parameters())
        solved = "never" if r.solved_at is None else f"{r.solved_at}"
        print(
            f"{r.cell:<10} {DESCRIPTIONS.get(r.cell, ''):<38} {n:>7} {r.test_loss:>9.4f} {solved:>10} {r.seconds:>6.1f}s"
        )
    print(
        f"(val<{target}: the logged step where the validation MSE fell below it and training stopped; baseline MSE 0.167)"
    )
    if args.plot:
        from .plots import loss_curves

        curves = {r.cell: r.losses for r in rows}
        title = "variants on adding"
        write_plots(lambda: [loss_curves(curves, args.plot, baseline=task.baseline, title=title)])
    return 0
