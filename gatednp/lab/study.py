"""`python -m gatednp study variants`: the LSTM variants, the GRU and the RNN compared over many
seeds with statistics, Greff et al. (2017) "LSTM: A Search Space Odyssey" in small.

    python -m gatednp study variants                      (the full study: 2 local workers)
    python -m gatednp study variants --short              (seconds: checks the machinery)
    python -m gatednp study variants --tasks adding --variants lstm nfg gru --seeds 5
    python -m gatednp study variants --scheduler tcp://10.0.0.5:8786   (on a Dask cluster)
    python -m gatednp study variants --random 20 --lr 0.002 0.02      (random search over lr)

Every run (variant × task × seed × learning rate) is independent and seeded from its
configuration; it runs on local worker processes (--workers) or on a Dask cluster (--scheduler)
and is appended to the results file (--results) as it finishes. Run the same command again and
the finished runs are skipped: a killed study, or a worker that died, loses only the runs in
flight. Then a table per task: median test loss and steps to solve with 95 % intervals, and
Welch's t-test of each variant against the vanilla LSTM (studystats.py says how); --plot DIR
draws their box plots. Plan: studyplan.py; engines: studyexec.py; file: studyfile.py.
"""

from __future__ import annotations

import argparse
import os
import sys

from .experiments import command_parsers, duration, positive_float, positive_int, write_plots
from .studyexec import connect, execute
from .studyfile import open_results
from .studyplan import (
    BUDGETS,
    LABELS,
    SHORT,
    STUDY_VARIANTS,
    estimate_seconds,
    grid,
    random_search,
    unavailable,
)
from .studystats import summarize, table, verdicts

__all__ = ["add_parser", "run_variants", "DEFAULTS", "default_minutes"]

DEFAULTS = dict(variants=list(STUDY_VARIANTS), tasks=["adding", "copy"], seeds=10, workers=2)
SHORT_DEFAULTS = dict(variants=list(STUDY_VARIANTS), tasks=list(BUDGETS), seeds=2, workers=2)


def default_minutes() -> float:
    """The estimated minutes of the full default study on its local workers (a quiet machine)."""
    configs = grid(DEFAULTS["variants"], DEFAULTS["tasks"], DEFAULTS["seeds"])
    return sum(estimate_seconds(c) for c in configs) / DEFAULTS["workers"] / 60


def run_variants(args: argparse.Namespace, client=None) -> int:
    """The study; exit status 1 if runs are left to do (a worker died, a run failed)."""
    base = SHORT_DEFAULTS if args.short else DEFAULTS
    variants, tasks = args.variants or base["variants"], args.tasks or base["tasks"]
    seeds, workers = args.seeds or base["seeds"], args.workers or base["workers"]
    results = args.results or (
        "study-variants-short.jsonl" if args.short else "study-variants.jsonl"
    )
    missing = {v: why for v in variants if (why := unavailable(v))}
    for why in missing.values():
        print(f"skipped, the installed gatednp cannot build it: {why}", flush=True)
    variants = [v for v in variants if v not in missing]
    if not variants:
        print("study variants: no variant left to run", file=sys.stderr)
        return 1
    kw = dict(steps=args.steps, short=args.short)
    if args.random:
        lr_range = (min(args.lr), max(args.lr)) if args.lr and len(args.lr) > 1 else None
        configs = random_search(variants, tasks, args.random, lr_range=lr_range, **kw)
    else:
        configs = grid(variants, tasks, seeds, lrs=args.lr, **kw)
    if not os.path.isdir(os.path.dirname(os.path.abspath(results))):
        print(f"study variants: no directory for the results file {results!r}", file=sys.stderr)
        return 2
    records, ignored = open_results(results)
    todo = [c for c in configs if c.key not in records]
    remote = client is not None or args.scheduler
    where = (
        f"the Dask cluster at {args.scheduler or client}" if remote else f"{workers} local workers"
    )
    estimate = sum(estimate_seconds(c) for c in todo) / workers
    print(
        f"study variants: {len(configs)} runs ({len(variants)} variants × {len(tasks)} tasks × "
        f"{args.random or seeds} {'trials' if args.random else 'seeds'}"
        f"{f' × {len(args.lr)} learning rates' if args.lr and not args.random else ''}), "
        f"{len(configs) - len(todo)} already in {results}"
        + (f" ({ignored} partial or unreadable lines ignored)" if ignored else "")
        + f"; {len(todo)} to run on {where}"
        + ("" if remote else f", estimated {duration(estimate)} on a quiet 2-core machine"),
        flush=True,
    )
    outcome = None
    if todo:
        if client is None and args.scheduler:
            try:
                client = connect(args.scheduler)
            except ImportError as e:
                print(f"study variants: {e}", file=sys.stderr)
                return 2
        say = lambda line: print(line, flush=True)  # noqa: E731
        try:
            outcome = execute(
                todo, results, workers=workers, client=client, total=len(configs), out=say
            )
        except KeyboardInterrupt:
            saved = sum(1 for c in configs if c.key in open_results(results)[0])
            print(f"\nstudy variants: interrupted; {saved} of {len(configs)} runs are saved in "
                  f"{results}: run the same command again to go on", file=sys.stderr)  # fmt: skip
            return 130
        records, _ = open_results(results)
    done = [records[c.key] for c in configs if c.key in records]
    if done:
        _report(done, variants, tasks, args.plot)
    if outcome is not None and not outcome.complete:
        lost = len(outcome.lost) + len(outcome.failed)
        if outcome.broken:
            print(f"study variants: {outcome.broken}", file=sys.stderr)
        print(
            f"study variants: {lost} runs not done ({outcome.finished} finished and saved in "
            f"{results}); run the same command again to do the rest",
            file=sys.stderr,
        )
        return 1
    return 0


def _report(done: list[dict], variants: list[str], tasks: list[str], plot: str | None) -> None:
    rows = summarize(done, variants, tasks)
    print()
    print(table(rows, LABELS))
    for line in verdicts(rows, LABELS) + verdicts(rows, LABELS, log=True):
        print(line)
    if plot:
        write_plots(lambda: _plots(done, variants, tasks, plot))


def _plots(done: list[dict], variants: list[str], tasks: list[str], directory: str) -> list[str]:
    from .plots import box_plots

    os.makedirs(directory, exist_ok=True)
    written = []
    for task in tasks:
        mine = [r for r in done if r["config"]["task"] == task]
        if not mine:
            continue
        by = {LABELS[v]: [r for r in mine if r["config"]["variant"] == v] for v in variants}
        by = {k: rs for k, rs in by.items() if rs}
        solved = {k: [r["solved_at"] for r in rs if r["solved_at"]] for k, rs in by.items()}
        panels = {
            "test loss": {k: [r["test_loss"] for r in rs] for k, rs in by.items()},
            "steps to solve (runs that solved)": {
                f"{k} {len(solved[k])}/{len(rs)}": solved[k] for k, rs in by.items()
            },
        }
        path = os.path.join(directory, f"study-variants-{task}.png")
        title = f"{task}: {len(mine)} runs"
        written.append(box_plots(panels, path, title=title, log={"test loss": True}))
    return written


def add_parser(subparsers, about: dict[str, dict]) -> argparse.ArgumentParser:
    """Add the `study` subcommand; `about[name]` = dict(summary=..., time=...) for its help."""
    help = "many seeded runs on local processes or a Dask cluster, with statistics"
    p, names = command_parsers(subparsers, "study", help, __doc__)
    for name, info in about.items():
        q = names.add_parser(
            name, help=info["summary"].replace("%", "%%"), description=f"{info['summary']}\n\n{info['time']}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )  # fmt: skip
        _add_options(q)
    return p


def _add_options(p: argparse.ArgumentParser) -> None:
    budgets = "; ".join(
        f"{t}: {'delay' if t == 'copy' else 'T'} {b['seq_len']}, hidden {b['hidden']}, batch {b['batch']}, {b['steps']} steps, "
        f"lr {b['lr']}, solved below {b['target']}"
        for t, b in BUDGETS.items()
    )
    p.add_argument("--variants", nargs="+", choices=list(STUDY_VARIANTS), metavar="V",
                   help=f"any of {' '.join(STUDY_VARIANTS)} (default: all)")  # fmt: skip
    p.add_argument("--tasks", nargs="+", choices=list(BUDGETS), metavar="TASK",
                   help=f"any of {' '.join(BUDGETS)} (default: adding copy; --short: all). "
                   f"Budgets: {budgets}")  # fmt: skip
    p.add_argument("--seeds", type=positive_int, help="seeds 0..N-1 per variant and task "
                   f"(default {DEFAULTS['seeds']}; --short: {SHORT_DEFAULTS['seeds']})")  # fmt: skip
    p.add_argument(
        "--steps", type=positive_int, help="training steps per run (default: the task's)"
    )
    p.add_argument("--lr", type=positive_float, nargs="+", metavar="LR",
                   help="learning rates, each a run (default: the task's); with --random, the "
                   "range to draw from (default: the task's lr / 3 to × 3)")  # fmt: skip
    p.add_argument("--random", type=positive_int, metavar="N",
                   help="random search: N trials per variant and task, trial k with seed k "
                   "and a log-uniform learning rate shared by the variants")  # fmt: skip
    p.add_argument("--workers", type=positive_int,
                   help="local worker processes (default 2)")  # fmt: skip
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on the Dask cluster of this scheduler (tcp://host:8786); needs "
                   'pip install "gatednp[cluster]" here and gatednp on the workers')  # fmt: skip
    p.add_argument("--results", metavar="FILE", help="the results file, JSON lines, appended "
                   "to; finished runs in it are skipped (default study-variants.jsonl; "
                   "--short: study-variants-short.jsonl)")  # fmt: skip
    p.add_argument("--plot", metavar="DIR", help="box plots per task (needs matplotlib)")
    p.add_argument("--short", action="store_true",
                   help=f"seconds: every task, {SHORT_DEFAULTS['seeds']} seeds, "
                   f"{SHORT['adding']['steps']} steps of tiny models (CI)")  # fmt: skip
