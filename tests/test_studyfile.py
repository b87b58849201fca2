"""The results file: whole lines appended, partial lines ignored, first record of a key wins."""

import json
import os

import pytest

from gatednp.lab import studyfile
from gatednp.lab.studyfile import append_record, open_results, read_records


def record(key: str, loss: float) -> dict:
    return {"key": key, "test_loss": loss}


def test_records_round_trip_by_key(tmp_path):
    path = str(tmp_path / "r.jsonl")
    assert read_records(path) == ({}, 0)  # a missing file is empty
    for k, loss in [("a", 0.5), ("b", 0.25), ("a", 9.0)]:
        append_record(path, record(k, loss))
    records, ignored = read_records(path)
    assert ignored == 0
    assert records == {"a": record("a", 0.5), "b": record("b", 0.25)}  # the first "a" wins
    assert (tmp_path / "r.jsonl").read_text().count("\n") == 3


def test_a_record_is_written_by_one_write_of_the_whole_line(tmp_path, monkeypatch):
    writes = []
    real_write = os.write
    monkeypatch.setattr(studyfile.os, "write", lambda fd, b: writes.append(b) or real_write(fd, b))
    append_record(str(tmp_path / "r.jsonl"), record("a", 1.0))
    assert len(writes) == 1 and writes[0].endswith(b"\n")
    assert json.loads(writes[0]) == record("a", 1.0)


def test_a_partial_last_line_is_ignored_and_the_next_record_starts_a_new_line(tmp_path):
    path = str(tmp_path / "r.jsonl")
    append_record(path, record("a", 1.0))
    append_record(path, record("b", 2.0))
    whole = (json.dumps(record("c", 3.0)) + "\n").encode()
    with open(path, "ab") as f:  # a process killed in the middle of its write
        f.write(whole[: len(whole) // 2])
    records, ignored = read_records(path)
    assert sorted(records) == ["a", "b"] and ignored == 1
    records, ignored = open_results(path)  # ends the torn line
    assert sorted(records) == ["a", "b"] and ignored == 1
    append_record(path, record("c", 3.0))
    records, ignored = read_records(path)
    assert records["c"] == record("c", 3.0) and sorted(records) == ["a", "b", "c"]
    assert ignored == 1


def test_lines_that_are_not_records_are_ignored(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('[1, 2]\n{"no key": 1}\n{"key": 3}\n\n{"key": "k"}\n\xff\n')
    records, ignored = read_records(str(path))
    assert list(records) == ["k"] and ignored == 4


def test_a_complete_last_record_without_its_newline_counts(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(record("a", 1.0)))
    assert list(open_results(str(path))[0]) == ["a"]
    append_record(str(path), record("b", 2.0))
    assert sorted(read_records(str(path))[0]) == ["a", "b"]


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(ValueError, match="directory"):
        append_record(str(tmp_path), record("a", 1.0))
