"""Where and how `save` writes (issue 13, items 2 and 8): only regular files, symlinks followed,
the umask and existing modes respected, long names, and no temporary file left for good
(the SIGKILL case: test_checkpoint.py)."""

import os
import stat
import subprocess
import sys

import numpy as np
import pytest

import gatednp as gn
from gatednp.atomic import leftovers, temp_prefix


def test_fifo_is_refused_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="can only write a regular file, but .*pipe' is a FIFO"):
        gn.save(fifo, gn.Linear(2, 2))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(os.listdir(tmp_path)) == ["pipe"]


def test_symlink_to_a_device_is_refused(tmp_path):
    link = tmp_path / "null"
    link.symlink_to("/dev/null")
    with pytest.raises(ValueError, match="-> '/dev/null'\\) is a character device"):
        gn.save(link, gn.Linear(2, 2))
    assert os.path.islink(link) and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_directory_is_refused(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        gn.save(tmp_path / "d", gn.Linear(2, 2))


def test_symlink_writes_its_target_and_stays_a_link(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "model.ckpt"
    link = tmp_path / "latest.ckpt"
    gn.save(target, gn.Linear(2, 2, rng=0))
    link.symlink_to(target)
    model = gn.Linear(2, 2, rng=1)
    gn.save(link, model, note="through the link")
    assert os.path.islink(link) and os.readlink(link) == str(target)
    ck = gn.load(target)
    assert ck.meta == {"note": "through the link"}
    assert np.array_equal(ck.model.weight.data, model.weight.data)
    assert sorted(os.listdir(tmp_path / "real")) == ["model.ckpt"]


def test_new_file_follows_the_umask_and_an_existing_file_keeps_its_mode(tmp_path):
    old = os.umask(0o027)
    try:
        gn.save(tmp_path / "new", gn.Linear(2, 2))
        assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o640
        os.umask(0o022)
        gn.save(tmp_path / "new2", gn.Linear(2, 2))
        assert stat.S_IMODE(os.stat(tmp_path / "new2").st_mode) == 0o644
        os.chmod(tmp_path / "new2", 0o604)
        gn.save(tmp_path / "new2", gn.Linear(2, 2))
        assert stat.S_IMODE(os.stat(tmp_path / "new2").st_mode) == 0o604
    finally:
        os.umask(old)


def test_a_250_character_name_can_be_written(tmp_path):
    path = tmp_path / ("m" * 245 + ".ckpt")
    gn.save(path, gn.Linear(2, 2))
    assert gn.load(path).model.weight.shape == (2, 2)


def test_leftovers_of_a_dead_process_are_removed_by_the_next_save(tmp_path):
    path = tmp_path / "run.ckpt"
    gn.save(path, gn.Linear(2, 2))
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, timeout=30)  # fmt: skip
    dead = int(done.stdout)
    stale = tmp_path / f"{temp_prefix(str(path))}{dead}-00000000.tmp"
    alive = tmp_path / f"{temp_prefix(str(path))}1-00000000.tmp"  # pid 1 runs: not ours to remove
    other = tmp_path / f"{temp_prefix(str(tmp_path / 'other'))}{dead}-00000000.tmp"
    for p in (stale, alive, other):
        p.write_bytes(b"x" * 100)
    assert leftovers(str(path)) == [str(stale)]
    gn.save(path, gn.Linear(2, 2))
    assert sorted(os.listdir(tmp_path)) == sorted(["run.ckpt", alive.name, other.name])
