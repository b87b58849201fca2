"""`python -m gatednp experiment NAME`: train cells on the tasks of tasks.py and compare them.

    python -m gatednp experiment adding --cell lstm gru rnn --seq-len 100 --plot adding.png
    python -m gatednp experiment copy --seq-len 30
    python -m gatednp experiment consecutive | sine        (the gentle start, seconds)
    python -m gatednp experiment gradflow --plot gradflow.png   (‖∂L/∂h_t‖ against the lag)
    python -m gatednp experiment variants                  (LSTM/GRU variants on adding)
    python -m gatednp experiment timemachine | traffic | reactor   (real data; --quick: seconds)

Each run is seeded (model from --seed, data from --seed + 1, test set from --seed + 2), prints
progress while it trains (step, loss, validation, steps/s, ETA) and a summary table. The model
is a SequenceModel (models.py), a recurrent layer and a Linear head on the last step or (copy)
on every step; Adam with gradient-norm clipping, stepped by gn.train, which stops a run at its
first nan or inf; float32 by default, like torch on a CPU. The matrices are small: on a busy
machine OPENBLAS_NUM_THREADS=1 is much faster than BLAS threads fighting for cores.

This module is the lab's one runner: gradflow.py and variants.py train through `train` here,
and cli.py's table EXPERIMENTS names what `python -m gatednp experiment NAME` runs. The
real-data experiments (timemachine.py, traffic.py and reactor.py, with forecast.py) bring their
own data, schedules and metrics, but step through the same gn.train and take their options,
`duration` and `write_plots` from here.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ..optim import Adam
from ..train import NonFiniteError
from ..train import train as train_loop
from .layers import CELLS, VARIANTS, make_layer
from .models import SequenceModel
from .tasks import TASKS, Task

__all__ = [
    "train", "RunResult", "evaluate", "summary", "apply_defaults", "duration",
    "train_options", "write_plots", "add_parser", "run_training", "positive_int", "positive_float",
    "DEFAULTS", "command_parsers",
]  # fmt: skip

_say = functools.partial(print, flush=True)  # progress shows even when piped to a file

# Per-task defaults, tuned to solve (or fail) in minutes on 2 cores; every one is an option.
DEFAULTS = {
    "consecutive": dict(seq_len=2, hidden=50, batch=20, steps=500, lr=0.01, clip=0.0),
    "sine": dict(seq_len=20, hidden=32, batch=32, steps=400, lr=0.01, clip=1.0),
    "adding": dict(seq_len=100, hidden=64, batch=64, steps=3000, lr=0.005, clip=1.0, target=0.01),
    "copy": dict(seq_len=20, copy_length=5, hidden=64, batch=64, steps=4000, lr=0.005, clip=1.0),
}


@dataclass
class RunResult:
    """One trained model and what was measured on the way."""

    cell: str
    task: Task
    model: SequenceModel
    steps: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)  # training loss at every step
    test_loss: float = float("nan")
    test_metric: float = float("nan")
    solved_at: int | None = None  # first logged step whose validation loss was below target
    solved_seconds: float | None = None
    stopped: str | None = None  # why gn.train stopped early at a nan or inf, if it did


def evaluate(model: SequenceModel, task: Task, x: np.ndarray, target: np.ndarray):
    """(loss, metric) on a fixed set, in eval mode (no cache kept)."""
    model.eval()
    pred = model(x)
    model.train()
    return task.loss(pred, target)[0], task.metric(pred, target)


def train(
    task: Task,
    cell: str,
    *,
    hidden: int,
    steps: int,
    batch: int,
    lr: float,
    clip: float = 0.0,
    seed: int = 0,
    dtype=np.float32,
    log_every: int = 100,
    target: float | None = None,
    stop_below: float | None = None,
    test_size: int = 1000,
    out=None,
) -> RunResult:
    """Train `cell` on `task` with Adam; print progress every `log_every` steps (0: silent).

    The loop is `gn.train` (gatednp/train.py), so a nan or inf stops the run at that step with
    the last finite parameters kept (recorded in `stopped`) instead of training on garbage;
    this function adds the task's batches and, through its callback, the progress lines, the
    validation and the early stop.

    Args:
        task: from tasks.py.
        cell: a name accepted by `make_layer`.
        hidden, steps, batch, lr: hidden size, optimizer steps, batch size, Adam's lr.
        clip: clip the gradient norm to this (0: no clipping).
        seed: model from seed, batches from seed + 1, validation/test sets from seed + 2
            (from `task.heldout` when the task has one).
        dtype: np.float32 or np.float64.
        target: record the first logged step whose validation loss is below this.
        stop_below: stop once the validation loss is below this (and record the step).
        test_size: size of the final test set (the validation set is a quarter of it).
        out: where progress lines go (default: printed and flushed).

    Returns:
        a RunResult with the per-step losses and the final test loss and metric.
    """
    dtype, out = np.dtype(dtype), out or _say
    layer = make_layer(cell, task.input_size, hidden, dtype=dtype, rng=seed)
    model = SequenceModel(layer, task.output_size, task.per_step, rng=seed)
    opt = Adam(model.parameters(), lr=lr)
    data_rng, test_rng = np.random.default_rng(seed + 1), np.random.default_rng(seed + 2)
    heldout = task.heldout or task.batch
    x_val, y_val = heldout(test_rng, max(1, test_size // 4), dtype)
    x_test, y_test = heldout(test_rng, test_size, dtype)
    result = RunResult(cell, task, model)
    start = time.perf_counter()

    def progress(step: int, loss: float) -> bool:
        """After each step: log and validate every `log_every` steps; True stops the run."""
        result.losses.append(loss)
        if not log_every or (step % log_every and step != steps):
            return False
        val_loss, val_metric = evaluate(model, task, x_val, y_val)
        elapsed = time.perf_counter() - start
        rate = step / elapsed
        recent = np.mean(result.losses[-log_every:])
        out(
            f"  {cell:<8} step {step:5d}/{steps}  loss {recent:.4f}  val {val_loss:.4f}"
            f" ({task.metric_name} {val_metric:.4f})  {rate:5.1f} steps/s"
            f"  ETA {duration((steps - step) / rate)}"
        )
        threshold = target if target is not None else stop_below
        if result.solved_at is None and threshold is not None and val_loss < threshold:
            result.solved_at, result.solved_seconds = step, elapsed
        return stop_below is not None and val_loss < stop_below

    def batches(step: int) -> tuple[np.ndarray, np.ndarray]:
        return task.batch(data_rng, batch, dtype)  # drawn in step order from seed + 1

    try:
        train_loop(model, task.loss, opt, batches, steps, clip=clip or None, callback=progress)
    except NonFiniteError as e:
        result.stopped = str(e)
        out(f"  {cell:<8} {e}")
    result.steps = len(result.losses)
    result.seconds = time.perf_counter() - start
    result.test_loss, result.test_metric = evaluate(model, task, x_test, y_test)
    return result


def duration(seconds: float) -> str:
    """Seconds as "1m05s" or "42s", for progress lines and ETAs."""
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


def summary(results: list[RunResult], target: float | None = None) -> str:
    """A table: cell, steps, time, final training loss, test loss and metric vs the baseline,
    and (given `target`) the step and time at which the validation loss first fell below it."""
    task = results[0].task
    reached = f"val < {target:g} at" if target is not None else ""
    lines = [
        f"{'cell':<10} {'steps':>6} {'time':>8} {'train loss':>11} {'test loss':>10} "
        f"{task.metric_name:>14} {'test / baseline':>16} {reached:>17}"
    ]
    for r in results:
        final = np.mean(r.losses[-50:])
        when = ""
        if target is not None:
            when = "never" if r.solved_at is None else f"{r.solved_at} ({r.solved_seconds:.0f}s)"
        lines.append(
            f"{r.cell:<10} {r.steps:>6} {r.seconds:>7.1f}s {final:>11.4f} {r.test_loss:>10.4f} "
            f"{r.test_metric:>14.4f} {r.test_loss / task.baseline:>16.3g} {when:>17}"
        )
    lines.append(f"baseline loss (trivial answer, see tasks.py): {task.baseline:.4f}")
    return "\n".join(lines)


def apply_defaults(args: argparse.Namespace, defaults: dict) -> None:
    """Fill each option the command line left unset (None) from an experiment's `defaults`."""
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)


def train_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of `train` that come straight from the command line."""
    return dict(
        hidden=args.hidden, steps=args.steps, batch=args.batch, lr=args.lr, clip=args.clip,
        seed=args.seed, dtype=np.dtype(args.dtype), log_every=args.log_every,
    )  # fmt: skip


def _make_task(args: argparse.Namespace) -> Task:
    if args.name == "consecutive":
        return TASKS["consecutive"]()
    if args.name == "copy":
        return TASKS["copy"](delay=args.seq_len, length=args.copy_length)
    return TASKS[args.name](args.seq_len)


def _train_all(args: argparse.Namespace, task: Task, cells: list[str]) -> list[RunResult]:
    results = []
    for cell in cells:
        print(
            f"{task.name}: training {cell} (hidden {args.hidden}, batch {args.batch}, lr {args.lr})",
            flush=True,
        )
        options = train_options(args)
        results.append(train(task, cell, **options, target=args.target, stop_below=args.stop_below))
    return results


def _plot_training(results: list[RunResult], path: str) -> list[str]:
    """Loss curves to `path`, and for each LSTM / GRU / RNN its gates on one test sequence."""
    from . import plots
    from .introspect import gate_activations

    task = results[0].task
    curves = {r.cell: r.losses for r in results}
    written = [plots.loss_curves(curves, path, baseline=task.baseline, title=task.name)]
    x, _ = task.batch(np.random.default_rng(0), 1, np.dtype(results[0].model.fc.weight.dtype))
    for r in results:  # every layer the lab trains is a gn.LSTM, GRU or RNN, variants included
        acts = {k: v[:, 0] for k, v in gate_activations(r.model.rnn, x)[(0, 0)].items()}
        gate_path = path.rsplit(".", 1)[0] + f"-gates-{r.cell}.png"
        title = f"{r.cell} on {task.name}"
        written.append(plots.gate_heatmaps(acts, gate_path, inputs=x[:, 0], title=title))
    return written


def run_training(args: argparse.Namespace) -> int:
    """`python -m gatednp experiment adding | copy | sine | consecutive`: the exit status."""
    apply_defaults(args, DEFAULTS[args.name])
    task = _make_task(args)
    results = _train_all(args, task, args.cell or list(CELLS))
    print()
    print(f"{task.name} (T = {args.seq_len}, seed {args.seed})")
    print(summary(results, args.target if args.target is not None else args.stop_below))
    if args.plot:
        write_plots(lambda: _plot_training(results, args.plot))
    return 0


def write_plots(draw) -> None:
    """Call `draw()`, which returns the paths it wrote, and print them; without matplotlib say so
    on stderr and go on (the numbers have been printed already)."""
    from .plots import MissingMatplotlib

    try:
        for path in draw():
            print(f"wrote {path}")
    except MissingMatplotlib as e:
        print(f"no plot: {e}", file=sys.stderr)


def positive_int(text: str) -> int:
    """argparse type: an integer > 0 (a negative --steps printed rows of nan)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def command_parsers(subparsers, command: str, help: str, description: str):
    """A `command NAME` subcommand (help text kept as written): (its parser, the subparsers
    that its NAMEs are added to)."""
    p = subparsers.add_parser(
        command, help=help, description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    return p, p.add_subparsers(dest="name", required=True, metavar="NAME")


def add_parser(subparsers, about: dict[str, dict]) -> argparse.ArgumentParser:
    """Add the `experiment` subcommand to argparse subparsers: one sub-command per experiment,
    `about[name]` = dict(summary=..., defaults={option: value}, cells=[...], time="...")
    for its --help."""
    help = "train on adding / copy / consecutive / sine; gradient flow; LSTM/GRU variants; timemachine, traffic, reactor"
    p, names = command_parsers(subparsers, "experiment", help, __doc__)
    for name, info in about.items():
        defaults = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in info["defaults"].items())
        description = (
            f"{info['summary']}\n\ndefaults: {defaults}\ncells trained: {' '.join(info['cells'])}"
            f"\nrun time with the defaults: {info['time']}"
        )
        q = names.add_parser(
            name, help=info["summary"], description=description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )  # fmt: skip
        _add_options(q)
    return p


def _add_options(p: argparse.ArgumentParser) -> None:
    cells = [*CELLS, *VARIANTS]
    p.add_argument("--cell", nargs="+", choices=cells, metavar="CELL",
                   help=f"any of {', '.join(cells)} (default: above)")  # fmt: skip
    p.add_argument("--seq-len", "-T", type=positive_int, help="T (copy: the delay)")
    p.add_argument("--hidden", type=positive_int)
    p.add_argument("--batch", type=positive_int)
    p.add_argument("--steps", type=positive_int)
    p.add_argument("--lr", type=positive_float)
    p.add_argument("--clip", type=float, help="max gradient norm (0: none)")
    p.add_argument("--copy-length", type=positive_int, help="copy: symbols to remember (default 5)")
    p.add_argument("--target", type=float, help="report when the validation loss gets below")
    p.add_argument("--stop-below", type=float, help="stop when the validation loss is below")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--plot", metavar="OUT.png", help="write figures (needs matplotlib)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="real-data experiments: a seconds-long run that checks learning",
    )
    p.add_argument("--recipe", choices=["v1.0", "v0.17"], help="timemachine: d2l's recipe")
    p.add_argument("--epochs", type=int, help="real-data experiments: training epochs")
    p.add_argument(
        "--compare-torch",
        action="store_true",
        help="timemachine: torch from the same weights, float64",
    )
