"""Command line: `python -m gatednp demo | gradcheck | ...` (`python -m gatednp -h` lists them)."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from .lab import (
    demo,
    exercises,
    experiments,
    gradflow,
    reactor,
    study,
    timemachine,
    traffic,
    variants,
)
from .lab.experiments import positive_int
from .lab.layers import CELLS
from .lab.tasks import TASKS

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    return demo.main()


def _gradcheck_parser(sub) -> None:
    p = sub.add_parser(
        "gradcheck",
        help="check a backward pass: gatednp's layers, or yours (gradcheck file.py:MyLSTM)",
    )
    p.add_argument(
        "target",
        nargs="?",
        help="your code: file.py[:Name] or module:Name (a step pair or a layer; usercheck.py)",
    )
    p.add_argument(
        "--cell", choices=["lstm", "gru", "lstmcell", "grucell", "linear"], default="lstm"
    )
    p.add_argument("--seq-len", "-T", type=positive_int, default=5)
    p.add_argument("--batch", "-B", type=positive_int, default=3)
    p.add_argument("--input-size", "-I", type=positive_int, default=3)
    p.add_argument("--hidden-size", "-H", type=positive_int, default=4)
    p.add_argument("--num-layers", type=positive_int, default=1)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--proj-size", type=int, default=0, help="LSTM only")
    p.add_argument("--lengths", type=positive_int, nargs="+", help="one length ≤ -T per sequence")
    p.add_argument(
        "--directions", type=int, default=0, help="random directions instead of every element"
    )
    p.add_argument("--seed", type=int, default=0)


def _gradcheck(args: argparse.Namespace) -> int:
    from . import GRU, LSTM, GRUCell, Linear, LSTMCell, gradcheck

    if args.target:
        from .usercheck import run_check

        return run_check(args.target, args.seed)

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


# What `experiment NAME --help` says: (summary, defaults, cells, run time). Run times: 2 cores,
# OPENBLAS_NUM_THREADS=1, estimated from 60-step runs of each cell (steps/s stay constant).
_ABOUT = {
    "consecutive": ("predict s+2 after [s, s+1]: the gentle start", "a few seconds"),
    "sine": ("predict the next value of a sine wave", "a few seconds"),
    "adding": ("add the two marked numbers of a long sequence: LSTM and GRU can, the RNN cannot",
               "about 3 minutes"),
    "copy": ("recall a sequence of symbols after a delay", "about 1 minute"),
    "gradflow": ("‖∂L/∂h_t‖ against the distance from the loss, at init and after training",
                 "about 2 minutes"),
    "variants": ("the LSTM and GRU variants side by side on the adding problem",
                 "at most about 1.5 minutes (a variant stops once it solves the task)"),
    "timemachine": ("d2l's character language model on The Time Machine (--recipe v1.0 | v0.17)",
                    "about 2 minutes (v1.0), 8.5 minutes (v0.17); --quick: seconds"),
    "traffic": ("PeMS lane-1 flow, 12 lags: LSTM and GRU against persistence, the previous day "
                "and AR(12)", "about 5 minutes; --quick: seconds"),
    "reactor": ("the Henson-Seborg pH reactor: LSTM and GRU one step ahead and in free run",
                "about 40 seconds; --quick: seconds"),
}  # fmt: skip
_DEFAULTS = {
    **experiments.DEFAULTS, "gradflow": gradflow.DEFAULTS, "variants": variants.COMPARISON,
    "timemachine": timemachine.RECIPES["v1.0"], "traffic": traffic.FULL, "reactor": reactor.FULL,
}  # fmt: skip
_CELLS = {
    "gradflow": gradflow.DEFAULT_CELLS, "variants": variants.DEFAULT_CELLS,
    "timemachine": ["rnn", "gru", "lstm"], "traffic": ["lstm", "gru"], "reactor": ["lstm", "gru"],
}  # fmt: skip
ABOUT = {
    name: dict(
        summary=summary, defaults=_DEFAULTS[name], cells=_CELLS.get(name, list(CELLS)), time=time
    )  # fmt: skip
    for name, (summary, time) in _ABOUT.items()
}


# `python -m gatednp study NAME`: many seeded runs with statistics (lab/study.py); as above, the
# table of what runs and what its --help says is here. Time: the full study's estimate, from the
# per-step times in studyplan.BUDGETS (measured on a 2-core machine).
STUDIES = {"variants": study.run_variants}
STUDY_ABOUT = {
    "variants": dict(
        summary="the LSTM variants of Greff et al. (2017), the GRU and the RNN over seeds, with "
        "medians, 95% intervals and Welch's t-test against the vanilla LSTM",
        time="run time with the defaults (11 variants × adding, copy × 10 seeds): about "
        f"{study.default_minutes():.0f} minutes on 2 local workers of a quiet 2-core machine; "
        "--short: seconds",
    ),
}


def _demo_parser(sub) -> None:
    sub.add_parser(
        "demo",
        help="the course examples: LSTM and GRU predict 12 after [10, 11]",
        description="The course examples: an LSTM and a GRU learn to continue [s, s+1] with "
        f"s+2 (Adam lr={demo.LR}, {demo.EPOCHS} epochs, hidden {demo.HIDDEN_SIZE}; a few "
        "seconds), then predict the number after [10, 11]. Exit status 1 if a prediction "
        "misses 12 by more than 0.3.",
    )


COMMANDS = {
    # name: (add its parser, run it)
    "demo": (_demo_parser, _demo),
    "gradcheck": (_gradcheck_parser, _gradcheck),
    "experiment": (
        lambda sub: experiments.add_parser(sub, ABOUT),
        lambda args: EXPERIMENTS[args.name](args),
    ),
    "study": (
        lambda sub: study.add_parser(sub, STUDY_ABOUT),
        lambda args: STUDIES[args.name](args),
    ),
}


def _check(target: str, seed: int) -> int:
    from .usercheck import run_check

    return run_check(target, seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gatednp", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for add_parser, _ in COMMANDS.values():
        add_parser(sub)
    runners = {name: run for name, (_, run) in exercises.add_parsers(sub, _check).items()}
    args = parser.parse_args(argv)
    run = {**{k: run for k, (_, run) in COMMANDS.items()}, **runners}[args.command]
    try:
        return run(args)
    except ValueError as e:  # what the layers refuse (gradcheck --lengths beyond -T, ...)
        parser.exit(2, f"{parser.prog} {args.command}: error: {e}\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
