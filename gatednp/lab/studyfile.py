"""The study's results file: one JSON line per finished run, appended as each run finishes.

- `append_record` writes a record as one whole line with a single `os.write` on a file opened
  with O_APPEND, then fsyncs it: a crash can leave at most a partial last line, never a mix.
- `read_records` reads every complete line; a line that is not a JSON record with a key (a
  partial last line from a killed process) is ignored and counted.
- `open_results` does both at the start of a study, and first ends a partial last line with a
  newline, so that the next record starts on a line of its own (the partial line stays ignored).

The key of a record is its run's configuration (studyplan.RunConfig.key): a study run again
with the same file skips every configuration that has a record. The first record of a key wins.
"""

from __future__ import annotations

import json
import os

from ..atomic import regular_target

__all__ = ["append_record", "read_records", "open_results"]


def append_record(path: str, record: dict) -> None:
    """Append `record` (JSON-able, with a "key") to the file at `path` as one line, durably."""
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    regular_target(path)  # a device, FIFO or directory is refused
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        written = os.write(fd, line)
        if written != len(line):  # only on a full disk: the partial line is ignored on reading
            raise OSError(f"{path}: wrote {written} of {len(line)} bytes of a record")
        os.fsync(fd)
    finally:
        os.close(fd)


def read_records(path: str) -> tuple[dict[str, dict], int]:
    """({key: record} of every complete record, number of lines ignored); a missing file is
    empty."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return {}, 0
    records, ignored = {}, 0
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:  # a partial line (json's errors are ValueErrors; so are bad UTF-8)
            ignored += 1
            continue
        if not isinstance(record, dict) or not isinstance(record.get("key"), str):
            ignored += 1
            continue
        records.setdefault(record["key"], record)
    return records, ignored


def open_results(path: str) -> tuple[dict[str, dict], int]:
    """`read_records(path)`, after ending a partial last line (if any) with a newline."""
    regular_target(path)
    if os.path.exists(path) and os.path.getsize(path):
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            torn = f.read(1) != b"\n"
        if torn:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
    return read_records(path)
