"""The benchmark entry point runs end to end (`--smoke`: one call per block) and reports sanely.

Speed is not asserted: CI machines are shared. What is checked is that every requested row is
there with positive times, ratios when torch is present, and a cache no larger than BPTT needs.
"""

import json

import numpy as np
import pytest

import gatednp as gn
from benchmarks.run import main
from benchmarks.systems import cache_bytes
from gatednp import threads


def test_smoke_run_writes_table_and_json(tmp_path, capsys):
    out = tmp_path / "smoke.json"
    result = main(["--smoke", "--dtypes", "float64", "--out", str(out)])
    rows = json.loads(out.read_text())["rows"]
    assert [(r["cell"], r["mode"]) for r in rows] == [
        ("LSTM", "train"), ("LSTM", "infer"), ("GRU", "train"), ("GRU", "infer"),
    ]  # fmt: skip
    for row in rows:
        assert all(ms > 0 for ms in row["ms"].values())
        assert {"gatednp", "naive"} <= set(row["ms"])
        if "torch" in row["ms"]:
            assert set(row["ratio_to_torch"]) == {"gatednp", "naive"}
    assert result["machine"]["cpus"] >= 1
    assert "| LSTM | float64 | tiny | train |" in capsys.readouterr().out


def test_smoke_run_with_gatednp_threads_restores_one_thread(tmp_path):
    args = ["--smoke", "--dtypes", "float32", "--cells", "GRU", "--gatednp-threads", "2"]
    args += ["--out", str(tmp_path / "t.json")]
    if threads._numpy_openblas() is None:  # gatednp cannot set this BLAS's threads: it says so
        with pytest.warns(RuntimeWarning, match="not an OpenBLAS"):
            result = main(args)
    else:
        result = main(args)
    assert result["machine"]["gatednp_threads"] == 2
    assert [r["mode"] for r in result["rows"]] == ["train", "infer"]
    assert gn.get_num_threads() == 1


def test_cache_holds_exactly_what_bptt_needs():
    for cell in ("LSTM", "GRU"):
        needed, held = cache_bytes(cell, (3, 2, 4, 5), np.float64)
        assert held == needed
