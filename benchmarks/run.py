"""Time gatednp against torch, a naive NumPy loop and NumPy's floor; print a table, write JSON.

    python -m benchmarks              # the four reference shapes, LSTM and GRU, float32 and float64
    python -m benchmarks --set users stacked sweep   # what users run; 2-3 layers, both directions;
                                                     # a batch-size sweep (systems.SHAPE_SETS)
    python -m benchmarks --shapes course adding      # any shapes by name (systems.SHAPES)
    python -m benchmarks --quick      # tiny + small, fewer rounds: under a minute
    python -m benchmarks --smoke      # the smallest run that exercises everything (CI)

The floor (floor.py) is the least work any NumPy implementation of the same layer must do on
this machine, measured in the same run: gatednp ÷ floor says how far a point is from that limit.

Protocol: each system is timed in its own *block* (a warm-up call,
then several timed calls, median), blocks are separated by a pause and repeated in rounds with
the system order rotated; a ratio is the median over rounds of the per-round ratio of block
medians. NumPy and torch calls are never alternated call by call.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

import gatednp as gn

from .systems import SHAPE_SETS, SHAPES, SYSTEMS, cache_bytes, forward_flops

RESULTS = Path(__file__).resolve().parent / "results"
PRESETS = {  # rounds, seconds per block, max calls per block, pause between blocks
    "full": dict(shapes=SHAPE_SETS["reference"], rounds=4, block=0.3, max_calls=15, pause=0.25),
    "quick": dict(shapes=["tiny", "small"], rounds=3, block=0.06, max_calls=10, pause=0.1),
    "smoke": dict(shapes=["tiny"], rounds=1, block=0.0, max_calls=1, pause=0.02),
}


def machine(with_torch: bool) -> dict:
    """BLAS, threads and CPU of this run."""
    info = {"python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count()}
    info["load_average"] = os.getloadavg()  # others' work on a shared machine skews timings
    try:
        cpu = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(
            ln.split(":", 1)[1].strip() for ln in cpu.splitlines() if "model name" in ln
        )
    except (OSError, StopIteration):
        info["cpu"] = platform.processor() or "unknown"
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: p.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for p in threadpool_info()
        ]
    except ImportError:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["blas"] = f"{blas.get('name')} {blas.get('version')}"
        info["blas_threads"] = os.environ.get("OPENBLAS_NUM_THREADS", "default (all cores)")
    if with_torch:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    return info


def gemm_peak(dtype, n: int, repeats: int) -> float:
    """GFLOP/s of an n×n×n np.matmul, best of `repeats`."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    out = np.empty_like(a)
    np.matmul(a, a, out=out)
    best = min(_timed(lambda: np.matmul(a, a, out=out)) for _ in range(repeats))
    return 2.0 * n**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def block(fn, seconds: float, max_calls: int) -> float:
    """One block: a warm-up call, then timed calls filling `seconds`; their median (s)."""
    first = _timed(fn)
    calls = max(1, min(max_calls, int(seconds / max(first, 1e-6))))
    return statistics.median(_timed(fn) for _ in range(calls))


def measure(builders: dict, preset: dict) -> dict:
    """Rounds of blocks, one block per system, order rotated; per-system times, in seconds."""
    names = list(builders)
    times = {name: [] for name in names}
    for r in range(preset["rounds"]):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            gc.collect()
            times[name].append(block(builders[name], preset["block"], preset["max_calls"]))
            time.sleep(preset["pause"])
    return times


def peak_step_bytes(step) -> int:
    """Peak bytes allocated during one call (tracemalloc; NumPy reports its buffers), with
    gatednp's workspace emptied first, so that the buffers it would reuse count as allocated."""
    step()
    gc.collect()
    gn.workspace.clear()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    step()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def run(args) -> dict:
    preset = dict(PRESETS["smoke" if args.smoke else "quick" if args.quick else "full"])
    shapes = args.shapes or [s for name in args.set or () for s in SHAPE_SETS[name]]
    shapes = shapes or preset["shapes"]
    systems = [s for s in args.systems if s != "torch" or _has_torch()]
    if "torch" in systems:
        import torch

        torch.set_num_threads(args.torch_threads or (1 if args.smoke else torch.get_num_threads()))
    peak_n, peak_reps = (512, 2) if args.smoke else (2048, 5)
    result = {
        "machine": machine("torch" in systems),
        "preset": "smoke" if args.smoke else "quick" if args.quick else "full",
        "gemm_peak_gflops": {
            np.dtype(d).name: gemm_peak(d, peak_n, peak_reps) for d in args.dtypes
        },
        "rows": [],
    }
    if args.gatednp_threads > 1:  # after the GEMM peak, which is BLAS's own on every core
        gn.set_num_threads(args.gatednp_threads)  # NumPy's OpenBLAS -> one thread (threads.py)
        result["machine"]["blas_threads"] = "1 (set by gn.set_num_threads)"
        time.sleep(0 if args.smoke else 2.0)  # let OpenBLAS's idle threads stop spinning
    result["machine"]["gatednp_threads"] = gn.get_num_threads()
    try:
        _measure_all(args, shapes, systems, preset, result)
    finally:
        gn.set_num_threads(1)
    return result


def _measure_all(args, shapes, systems, preset, result) -> None:
    for cell in args.cells:
        for dtype in args.dtypes:
            for shape_name in shapes:
                shape = SHAPES[shape_name]
                built = {name: SYSTEMS[name](cell, shape, dtype) for name in systems}
                for mode in args.modes:
                    times = measure({n: b[mode] for n, b in built.items()}, preset)
                    row = _row(cell, dtype, shape_name, mode, times, result["gemm_peak_gflops"])
                    one_layer = shape.layers == 1 and not shape.bidirectional
                    if mode == "train" and "gatednp" in built and one_layer:
                        needed, held = cache_bytes(cell, shape, dtype)
                        row["memory"] = {
                            "bptt_needs_bytes": needed,
                            "cache_bytes": held,
                            "step_peak_bytes": peak_step_bytes(built["gatednp"]["train"]),
                        }
                    result["rows"].append(row)
                    print(_line(row), file=sys.stderr, flush=True)
                del built


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _row(cell, dtype, shape_name, mode, times, peaks) -> dict:
    flops = forward_flops(cell, SHAPES[shape_name]) * (3 if mode == "train" else 1)
    row = {
        "cell": cell,
        "dtype": np.dtype(dtype).name,
        "shape": shape_name,
        "mode": mode,
        "spec": SHAPES[shape_name]._asdict(),
        "ms": {name: 1e3 * statistics.median(t) for name, t in times.items()},
    }
    ref = "torch" if "torch" in times else None
    if ref:
        row["ratio_to_torch"] = {
            name: statistics.median(a / b for a, b in zip(t, times[ref]))
            for name, t in times.items()
            if name != ref
        }
    if "floor" in times:  # how far each system is from NumPy's limit
        row["ratio_to_floor"] = {
            name: statistics.median(a / b for a, b in zip(t, times["floor"]))
            for name, t in times.items()
            if name != "floor"
        }
    if "gatednp" in times:
        gflops = flops / statistics.median(times["gatednp"]) / 1e9
        row["gatednp_gflops"] = gflops
        row["gatednp_pct_peak"] = 100 * gflops / peaks[row["dtype"]]
    return row


def _line(row) -> str:
    ms = " ".join(f"{k}={v:.3g}ms" for k, v in row["ms"].items())
    ratios = " ".join(f"{k}/torch={v:.2f}" for k, v in row.get("ratio_to_torch", {}).items())
    floor = " ".join(f"{k}/floor={v:.2f}" for k, v in row.get("ratio_to_floor", {}).items())
    return f"{row['cell']} {row['dtype']} {row['shape']} {row['mode']}: {ms} {ratios} {floor}"


def table(result) -> str:
    """The markdown table of a result: one row per cell, dtype, shape and mode."""
    head = (
        "| cell | dtype | shape | mode | gatednp ms | torch ms | gatednp/torch | naive ms "
        "| naive/torch | floor ms | gatednp/floor | torch/floor | GFLOP/s | % peak "
        "| cache MB (BPTT needs) | step peak MB |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in result["rows"]:
        ms, ratio, mem = r["ms"], r.get("ratio_to_torch", {}), r.get("memory")
        floor = r.get("ratio_to_floor", {})
        cells = [
            r["cell"], r["dtype"], r["shape"], r["mode"],
            _f(ms.get("gatednp")), _f(ms.get("torch")), _f(ratio.get("gatednp"), ".2f"),
            _f(ms.get("naive")), _f(ratio.get("naive"), ".2f"),
            _f(ms.get("floor")), _f(floor.get("gatednp"), ".2f"), _f(floor.get("torch"), ".2f"),
            _f(r.get("gatednp_gflops"), ".1f"), _f(r.get("gatednp_pct_peak"), ".0f"),
            f"{mem['cache_bytes'] / 1e6:.3g} ({mem['bptt_needs_bytes'] / 1e6:.3g})" if mem else "",
            f"{mem['step_peak_bytes'] / 1e6:.3g}" if mem else "",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    peaks = ", ".join(f"{k} {v:.0f}" for k, v in result["gemm_peak_gflops"].items())
    m = result["machine"]
    lines.append("")
    lines.append(f"GEMM peak (np.matmul, same run), GFLOP/s: {peaks}.  Machine: {json.dumps(m)}")
    return "\n".join(lines)


def _f(value, spec=".3g") -> str:
    return "" if value is None else format(value, spec)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny + small, fewer rounds (< 1 min)")
    p.add_argument("--smoke", action="store_true", help="one call per block: checks it runs")
    p.add_argument("--shapes", nargs="+", choices=list(SHAPES), help="points by name")
    p.add_argument("--set", nargs="+", choices=list(SHAPE_SETS), help="named sets of points")
    p.add_argument("--cells", nargs="+", default=["LSTM", "GRU"], choices=["LSTM", "GRU"])
    p.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    p.add_argument("--modes", nargs="+", default=["train", "infer"], choices=["train", "infer"])
    p.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    p.add_argument("--torch-threads", type=int, default=None)
    p.add_argument(
        "--gatednp-threads",
        type=int,
        default=1,
        help="gn.set_num_threads(N) after the GEMM peak: gatednp's own threads, NumPy's BLAS "
        "on one thread (so the naive system's GEMMs too)",
    )
    p.add_argument("--out", type=Path, default=None, help="JSON path (default: results/)")
    p.add_argument(
        "--plot", action="store_true",
        help="heatmaps over H × B and time against T and H, as PNGs beside the JSON (plot extra)",
    )  # fmt: skip
    args = p.parse_args(argv)
    args.dtypes = [np.dtype(d).type for d in args.dtypes]
    result = run(args)
    text = table(result)
    print(text)
    out = args.out or RESULTS / f"{result['preset']}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {out}")
    if args.plot:
        from .plots import write_plots

        for path in write_plots(result, out.with_suffix("")):
            print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
