"""Writing one regular file atomically: the old file or the new one, never a mix, never a device.

`write_atomic(path, write)` writes through a temporary file in the target's directory, which is
flushed, fsynced and renamed over the target (`os.replace`), then fsyncs the directory. Also:
- only regular files are written: a path naming a device, a FIFO, a socket or a directory is
  refused (a rename would replace the node itself, `/dev/null` included when run as root);
- a symlink is followed: its target is replaced, atomically, and the link stays a link;
- a new file's mode follows the umask (as `open(path, "w")` does); an existing file keeps its mode;
- temporary names are short (`.gn-<16 hex>-<pid>-<8 hex>.tmp`), so any valid file name can be
  written; those left behind by a killed process (its pid no longer running) are removed by the
  next write to the same target.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from collections.abc import Callable
from typing import BinaryIO

__all__ = ["write_atomic", "regular_target", "leftovers", "temp_prefix"]

_KINDS = [
    (stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
]  # fmt: skip


def regular_target(path: str) -> tuple[str, os.stat_result | None]:
    """The file a write to `path` must replace (symlinks resolved) and its stat (None if it does
    not exist yet); ValueError if it exists and is not a regular file."""
    target = os.path.realpath(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return target, None
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
        shown = repr(path) if target == os.path.abspath(path) else f"{path!r} (-> {target!r})"
        raise ValueError(f"can only write a regular file, but {shown} is {kind}")
    return target, st


def temp_prefix(target: str) -> str:
    """The start of every temporary name of writes to `target` (short, whatever its length)."""
    return ".gn-" + hashlib.sha256(os.path.basename(target).encode()).hexdigest()[:16] + "-"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but belongs to someone else
        return True
    return True


def leftovers(target: str) -> list[str]:
    """Temporary files of writes to `target` whose process is gone (killed mid-write)."""
    directory, stem, found = os.path.dirname(target), temp_prefix(target), []
    for name in os.listdir(directory):
        if name.startswith(stem) and name.endswith(".tmp"):
            pid = name[len(stem) :].split("-")[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
                found.append(os.path.join(directory, name))
    return found


def write_atomic(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Write the file at `path` (a regular file, or a symlink to one) with `write(f)`, atomically."""
    target, st = regular_target(path)
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"the directory {directory!r} does not exist")
    for old in leftovers(target):
        try:
            os.unlink(old)
        except OSError:
            pass  # another writer removed it first, or it is not ours to remove
    tmp = os.path.join(directory, f"{temp_prefix(target)}{os.getpid()}-{secrets.token_hex(4)}.tmp")
    # 0o666 minus the umask for a new file, as open() gives; an existing file's mode is kept
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        if st is not None:
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
