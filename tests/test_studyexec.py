"""Running the study on local worker processes and on a Dask cluster: results saved as they
finish, a worker that dies is reported, and the rerun does only what was not saved."""

import contextlib
import os
import warnings
from dataclasses import replace

import pytest

from gatednp.lab.studyexec import execute
from gatednp.lab.studyfile import read_records
from gatednp.lab.studyplan import grid, run_one

NUMBERS = ("test_loss", "test_metric", "train_loss", "solved_at", "steps_done")


def configs():
    """Six small runs: three variants, two seeds, on sine (tiny budgets)."""
    return [replace(c, steps=30) for c in grid(["lstm", "gru", "rnn"], ["sine"], 2, short=True)]


def counted_run(config):
    """run_one, and a line in the file $STUDY_COUNT per run, so a test can count the runs;
    the run named by $STUDY_CRASH (variant:seed) kills its worker process instead, once (the
    file $STUDY_CRASHED says it did)."""
    crash, flag = os.environ.get("STUDY_CRASH", ""), os.environ.get("STUDY_CRASHED", "")
    if crash == f"{config.variant}:{config.seed}" and not os.path.exists(flag):
        open(flag, "w").close()
        os._exit(13)  # the worker dies as if killed: no exception, no cleanup
    with open(os.environ["STUDY_COUNT"], "a") as f:
        f.write(config.key + "\n")
    return run_one(config)


def numbers(records):
    return {k: tuple(r[n] for n in NUMBERS) for k, r in records.items()}


def test_a_killed_worker_is_reported_and_the_rerun_does_only_the_rest(tmp_path, monkeypatch):
    results, lines = str(tmp_path / "r.jsonl"), []
    monkeypatch.setenv("STUDY_CRASH", "gru:1")
    monkeypatch.setenv("STUDY_CRASHED", str(tmp_path / "crashed"))
    monkeypatch.setenv("STUDY_COUNT", str(tmp_path / "first"))
    first = execute(configs(), results, workers=2, run=counted_run, out=lines.append)
    assert first.broken and "died" in first.broken and not first.complete
    saved, _ = read_records(results)
    assert first.finished == len(saved) == len(lines) < len(configs())
    assert len(first.lost) == len(configs()) - len(saved)

    todo = [c for c in configs() if c.key not in saved]
    monkeypatch.setenv("STUDY_COUNT", str(tmp_path / "second"))
    second = execute(todo, results, workers=2, run=counted_run, out=lines.append)
    assert second.complete and second.finished == len(todo)
    rerun = (tmp_path / "second").read_text().splitlines()
    assert sorted(rerun) == sorted(c.key for c in todo)  # nothing saved was run again
    records, ignored = read_records(results)
    assert sorted(records) == sorted(c.key for c in configs()) and ignored == 0
    assert lines[-1].startswith(f"[{len(todo)}/{len(todo)}]")


def test_a_run_that_raises_is_reported_and_not_saved(tmp_path):
    bad = replace(configs()[0], variant="no-such-variant")
    outcome = execute([bad, configs()[1]], str(tmp_path / "r.jsonl"), workers=1, out=lambda s: None)
    assert outcome.finished == 1 and [c for c, _ in outcome.failed] == [bad]
    assert "KeyError" in outcome.failed[0][1] and not outcome.lost


def dying_run(config):
    """Every run of the GRU kills its worker process."""
    if config.variant == "gru":
        os._exit(13)
    return run_one(config)


@contextlib.contextmanager
def dask_noise_filtered():
    """distributed's own start-up, shut-down and worker-death noise (ports, deprecations,
    resources), not ours, filtered for the block only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="distributed")
        warnings.filterwarnings("ignore", category=UserWarning, module="distributed")
        warnings.filterwarnings("ignore", category=ResourceWarning)
        yield


@pytest.mark.slow
def test_a_run_that_kills_its_dask_workers_is_reported_and_the_rerun_completes(tmp_path):
    distributed = pytest.importorskip("distributed")
    import dask

    results = str(tmp_path / "r.jsonl")
    with dask_noise_filtered(), dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster:  # fmt: skip
            with distributed.Client(cluster) as client:
                outcome = execute(configs(), results, client=client, run=dying_run, out=print)
                # the runs that shared a dying worker are lost too (Dask suspects them all)
                lost = {c.key for c in outcome.lost}
                assert {c.key for c in configs() if c.variant == "gru"} <= lost
                assert "Dask lost the workers of a run" in outcome.broken
                saved, _ = read_records(results)
                assert outcome.finished == len(saved) == len(configs()) - len(lost)
                todo = [c for c in configs() if c.key not in saved]
                rerun = execute(todo, results, client=client, out=print)  # healthy runs now
    assert rerun.complete and rerun.finished == len(lost)
    assert sorted(read_records(results)[0]) == sorted(c.key for c in configs())


@pytest.mark.slow
def test_a_dask_cluster_gives_the_numbers_of_local_processes(tmp_path):
    distributed = pytest.importorskip("distributed")
    local, remote = str(tmp_path / "local.jsonl"), str(tmp_path / "dask.jsonl")
    assert execute(configs(), local, workers=2, out=lambda s: None).complete
    with dask_noise_filtered():
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster:  # fmt: skip
            with distributed.Client(cluster) as client:
                outcome = execute(configs(), remote, client=client, out=lambda s: None)
                workers = {r["worker"] for r in read_records(remote)[0].values()}
    assert outcome.complete and outcome.finished == len(configs())
    assert numbers(read_records(remote)[0]) == numbers(read_records(local)[0])
    assert len(workers) == 2  # both workers ran some
