"""Running the study's runs on an existing engine: local worker processes, or a Dask cluster.

- Local: `concurrent.futures.ProcessPoolExecutor` with `workers` processes (started with
  "spawn": fresh interpreters, none of this process's threads), each pinned to one BLAS thread.
- Dask: a `distributed.Client` (the optional extra "cluster", imported only here, lazily); each
  run pins its worker's BLAS to one thread itself. Start workers with `--nthreads 1`: a run uses
  one core.

Either way this process collects the results as they finish and appends each one to the results
file (studyfile.py) at once, so a killed study loses at most the runs in flight. A worker that
dies (BrokenProcessPool; Dask's KilledWorker) is reported, not raised: the finished runs are
saved and the same command run again does the rest. Progress (runs done / total, runs per
minute, ETA) is printed as runs finish.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from ..threads import set_blas_threads
from .experiments import duration
from .studyfile import append_record
from .studyplan import LABELS, RunConfig, run_one

__all__ = ["Outcome", "execute", "connect", "CLUSTER_HINT"]

CLUSTER_HINT = 'running on a Dask cluster needs the "cluster" extra: pip install "gatednp[cluster]"'


@dataclass
class Outcome:
    """What one call of `execute` did."""

    finished: int = 0  # runs finished and appended to the results file
    failed: list[tuple[RunConfig, str]] = field(default_factory=list)  # run raised: (config, why)
    lost: list[RunConfig] = field(default_factory=list)  # runs whose worker died
    broken: str | None = None  # the worker crash, if any

    @property
    def complete(self) -> bool:
        return not self.failed and not self.lost


def connect(address: str):
    """A `distributed.Client` connected to the scheduler at `address` (tcp://host:port)."""
    try:
        from distributed import Client
    except ImportError as e:
        raise ImportError(CLUSTER_HINT) from e
    return Client(address)


def execute(
    configs: list[RunConfig],
    results: str,
    *,
    workers: int = 2,
    client=None,
    run: Callable[[RunConfig], dict] = run_one,
    total: int | None = None,
    out: Callable[[str], None] = print,
) -> Outcome:
    """Run `configs` on `workers` local processes, or on the Dask `client`'s cluster, appending
    each record to the file `results` as it arrives.

    Args:
        configs: the runs still to do.
        results: the results file (JSON lines).
        workers: local worker processes (ignored with a client).
        client: a distributed.Client, or None for local processes.
        run: the function run for each configuration (tests put a crashing one here).
        total: the size of the whole study, for the progress lines (default len(configs)).
        out: where progress lines go.
    """
    outcome, total = Outcome(), total or len(configs)
    already, start = total - len(configs), time.perf_counter()
    stream = _dask(configs, client, run) if client is not None else _local(configs, workers, run)
    for config, record, error in stream:
        if error is None:
            append_record(results, record)
            outcome.finished += 1
            rate = outcome.finished / (time.perf_counter() - start)  # runs per second
            left = len(configs) - outcome.finished - len(outcome.failed) - len(outcome.lost)
            out(
                f"[{already + outcome.finished:>{len(str(total))}}/{total}] {config.task:<7} "
                f"{LABELS[config.variant]:<6} seed {config.seed:<3} test loss "
                f"{record['test_loss']:.4g}  solved at {record['solved_at'] or 'never'}  "
                f"({record['seconds']:.1f}s)  {60 * rate:.1f} runs/min  ETA {duration(left / rate)}"
            )
        elif isinstance(error, _WorkerLost):
            outcome.lost.append(config)
            outcome.broken = outcome.broken or str(error)
        else:
            outcome.failed.append((config, f"{type(error).__name__}: {error}"))
            out(f"run failed: {config.task} {config.variant} seed {config.seed}: {error}")
    return outcome


class _WorkerLost(Exception):
    """A run's worker died (its process was killed or crashed)."""


Stream = Iterator[tuple[RunConfig, dict | None, BaseException | None]]


def _local(configs: list[RunConfig], workers: int, run: Callable) -> Stream:
    context = multiprocessing.get_context("spawn")
    before = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_pin_blas)
    ours: set = set()
    try:
        futures = {pool.submit(run, c): c for c in configs}
        ours = set(multiprocessing.active_children()) - before  # the pool's worker processes
        for future in as_completed(futures):
            try:
                yield futures[future], future.result(), None
            except BrokenProcessPool as e:
                why = f"a worker process died ({type(e).__name__}: {e})"
                yield futures[future], None, _WorkerLost(why)
            except Exception as e:  # the run itself raised: reported, not saved, retried on rerun
                yield futures[future], None, e
    except BaseException:  # Ctrl-C or the caller gone: stop the runs in flight, drop the rest
        for process in ours:
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _pin_blas() -> None:
    set_blas_threads(1)


def _dask(configs: list[RunConfig], client, run: Callable) -> Stream:
    try:
        from distributed import as_completed as dask_completed
        from distributed.scheduler import KilledWorker
    except ImportError as e:
        raise ImportError(CLUSTER_HINT) from e
    # a fresh key per submission: a key Dask already holds (a run that failed on this client
    # before) would give back its old result instead of running again
    token = secrets.token_hex(4)
    futures = {client.submit(run, c, key=_key(c, token)): c for c in configs}
    for future in dask_completed(futures):
        try:
            yield futures[future], future.result(), None
        except KilledWorker as e:
            yield futures[future], None, _WorkerLost(f"Dask lost the workers of a run ({e})")
        except Exception as e:
            yield futures[future], None, e


def _key(config: RunConfig, token: str) -> str:
    """The run's name on the Dask dashboard: gatednp-study-TASK-VARIANT-sSEED-<hash>-<token>."""
    digest = hashlib.sha256(config.key.encode()).hexdigest()[:8]
    return f"gatednp-study-{config.task}-{config.variant}-s{config.seed}-{digest}-{token}"
