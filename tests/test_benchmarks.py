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
            assert set(row["ratio_to_torch"]) == {"gatednp", "naive", "floor"}
        assert set(row["ratio_to_floor"]) >= {"gatednp", "naive"}
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


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_naive_stack_equals_the_layer_stacked_and_bidirectional(cell):
    """The naive column of the stacked shapes runs the same math as gatednp's layer."""
    from benchmarks.naive import Naive
    from benchmarks.systems import Stack

    layer = getattr(gn, cell)(2, 5, 2, bidirectional=True, rng=0)
    naive = Stack(Naive, cell, layer)
    x = np.random.default_rng(1).standard_normal((4, 3, 2))
    y, _ = layer(x)
    np.testing.assert_allclose(naive(x), y, rtol=1e-12, atol=1e-12)
    dy = np.random.default_rng(2).standard_normal(y.shape)
    dx, _ = layer.backward(dy)
    np.testing.assert_allclose(naive.backward(dy), dx, rtol=1e-10, atol=1e-12)


def test_smoke_run_of_a_stacked_user_shape(tmp_path):
    args = ["--smoke", "--dtypes", "float32", "--cells", "GRU", "--shapes", "bi-stack2", "course"]
    result = main([*args, "--out", str(tmp_path / "s.json")])
    assert [r["shape"] for r in result["rows"]] == ["bi-stack2"] * 2 + ["course"] * 2
    assert all(r["ratio_to_floor"]["gatednp"] > 0 for r in result["rows"])


def test_plots_of_a_grid_and_growth_run(tmp_path):
    """--plot writes a heatmap per reference and a growth plot per axis; the exponent fit is
    the slope of log t against log n."""
    pytest.importorskip("matplotlib")
    from benchmarks.plots import exponent

    assert exponent([1, 2, 4, 8], [3, 12, 48, 192]) == pytest.approx(2.0)
    args = ["--smoke", "--dtypes", "float32", "--cells", "GRU", "--modes", "infer"]
    args += ["--shapes", "H32-B1", "H32-B8", "T10", "T30", "--plot"]
    main([*args, "--out", str(tmp_path / "g.json")])
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert "g-GRU-float32-infer-floor.png" in names and "g-GRU-float32-infer-growth-T.png" in names


def test_parts_smoke_prints_forward_backward_and_inference(capsys):
    from benchmarks.parts import main as parts_main

    parts_main(["--smoke", "--shapes", "course", "--cells", "GRU", "--dtypes", "float64"])
    rows = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| GRU")]
    assert [r.split(" | ")[3] for r in rows] == ["forward", "backward", "infer"]
    for r in rows:  # the backward is a difference of two timings: only finite, at one call
        g, f, n, ratio = (float(v) for v in r.strip("| ").split(" | ")[4:])
        assert np.isfinite([g, f, n, ratio]).all()
        assert g == pytest.approx(ratio * f, rel=0.02, abs=1e-3)
        if "backward" not in r:
            assert min(g, f, n) > 0


def test_overhead_fits_a_per_call_and_b_per_step(monkeypatch):
    # each system's and part's block times are a known line in T: the fit must give it back
    import benchmarks.parts as parts

    lines = {("gatednp", "step"): (70, 30), ("floor", "step"): (12, 33), ("naive", "step"): (4, 60)}
    lines |= {(n, "infer"): (a / 2, b / 2) for (n, _), (a, b) in lines.items()}

    def fake_parts(system, cell, shape, dtype):
        def tagged(part):
            fn = lambda: None  # noqa: E731
            fn.us = lines[system, part][0] + lines[system, part][1] * shape.T
            return fn

        return {part: tagged(part) for part in ("step", "infer")}  # the parts overhead times

    monkeypatch.setattr(parts, "_parts", fake_parts)
    monkeypatch.setattr(parts, "block", lambda fn, seconds, calls: fn.us * 1e-6)
    fits = parts.overhead("LSTM", "course", np.float32, dict(rounds=2, block=0, max_calls=1))
    assert set(fits) == set(lines)
    for key, (a, b) in lines.items():
        assert fits[key] == pytest.approx((a, b), rel=1e-9)
    with pytest.raises(SystemExit, match="one-layer one-direction shapes only, not bi"):
        parts.overhead("LSTM", "bi", np.float32, dict(rounds=1, block=0, max_calls=1))


def test_overhead_smoke_prints_step_and_inference(capsys):
    from benchmarks.parts import main as parts_main

    parts_main(
        ["--smoke", "--overhead", "--shapes", "tiny", "--cells", "LSTM", "--dtypes", "float32"]
    )
    rows = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| LSTM")]
    assert [r.split(" | ")[3] for r in rows] == ["step", "infer"]
    for r in rows:
        assert np.isfinite([float(v) for v in r.strip("| ").split(" | ")[4:]]).all()


def test_parts_refuses_stacked_shapes():
    from benchmarks.parts import main as parts_main

    with pytest.raises(SystemExit, match="one-layer one-direction shapes only, not stack2"):
        parts_main(["--smoke", "--shapes", "stack2", "--cells", "GRU", "--dtypes", "float64"])
