"""Command line: `python -m gatednp demo | gradcheck | ...` (`python -m gatednp -h` lists them)."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from .lab import experiments, gradflow, reactor, timemachine, traffic, variants
from .lab.tasks import TASKS

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from .lab.demo import main

    return main()


def _gradcheck_parser(sub) -> None:
    p = sub.add_parser("gradcheck", help="finite-difference check of a layer's backward pass")
    p.add_argument(
        "--cell", choices=["lstm", "gru", "lstmcell", "grucell", "linear"], default="lstm"
    )
    p.add_argument("--seq-len", "-T", type=int, default=5)
    p.add_argument("--batch", "-B", type=int, default=3)
    p.add_argument("--input-size", "-I", type=int, default=3)
    p.add_argument("--hidden-size", "-H", type=int, default=4)
    p.add_argument("--num-layers", type=int, default=1)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--proj-size", type=int, default=0, help="LSTM only")
    p.add_argument("--lengths", type=int, nargs="+", help="one length per sequence")
    p.add_argument(
        "--directions", type=int, default=0, help="random directions instead of every element"
    )
    p.add_argument("--seed", type=int, default=0)


def _gradcheck(args: argparse.Namespace) -> int:
    from . import GRU, LSTM, GRUCell, Linear, LSTMCell, gradcheck

    rng = np.random.default_rng(args.seed)
    T, B, I, H = args.seq_len, args.batch, args.input_size, args.hidden_size
    layer_kw = dict(num_layers=args.num_layers, bidirectional=args.bidirectional, rng=rng)
    module = {
        "lstm": lambda: LSTM(I, H, proj_size=args.proj_size, **layer_kw),
        "gru": lambda: GRU(I, H, **layer_kw),
        "lstmcell": lambda: LSTMCell(I, H, rng=rng),
        "grucell": lambda: GRUCell(I, H, rng=rng),
        "linear": lambda: Linear(I, H, rng=rng),
    }[args.cell]()
    for _, p in module.named_parameters():  # random nonzero biases too, not torch's init alone
        p.data[...] = rng.uniform(-0.5, 0.5, p.data.shape)
    x = rng.standard_normal((T, B, I) if args.cell in ("lstm", "gru", "linear") else (B, I))
    kw = {"lengths": args.lengths} if args.lengths else {}
    report = gradcheck(module, x, directions=args.directions, seed=args.seed, **kw)
    print(
        f"{module!r}: input {x.shape}, loss = random projection of every output ({report.loss:.4f})"
    )
    print(report)
    return 0 if report.ok else 1


# `python -m gatednp experiment NAME`: the lab's runner (lab/experiments.py) trains every one;
# the table is here, above them all, so that no experiment module imports the one that calls it.
EXPERIMENTS = {
    **dict.fromkeys(TASKS, experiments.run_training),  # consecutive, sine, adding, copy
    "gradflow": gradflow.run_gradflow,
    "variants": variants.run_comparison,
    "timemachine": timemachine.run_timemachine,
    "traffic": traffic.run_traffic,
    "reactor": reactor.run_reactor,
}


COMMANDS = {
    # name: (add its parser, run it)
    "demo": (
        lambda sub: sub.add_parser(
            "demo", help="the course examples: LSTM and GRU predict 12 after [10, 11]"
        ),
        _demo,
    ),
    "gradcheck": (_gradcheck_parser, _gradcheck),
    "experiment": (
        lambda sub: experiments.add_parser(sub, EXPERIMENTS),
        lambda args: EXPERIMENTS[args.name](args),
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gatednp", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for add_parser, _ in COMMANDS.values():
        add_parser(sub)
    args = parser.parse_args(argv)
    return COMMANDS[args.command][1](args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
