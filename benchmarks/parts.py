"""Forward and backward apart: gatednp's layer against NumPy's floor and the naive loop.

    python -m benchmarks.parts --shapes adding traffic charlm --cells LSTM GRU

The training rows of the main benchmark time a whole step; this splits the layer's own part
into the forward with a cache (training mode), the backward alone (the step minus that
forward) and the inference forward, so that a distance to the floor can be put where it is.
One layer, one direction; same blocks-and-rounds protocol as run.py (each system in its own
block, medians, the system order rotated); read ratios as ±10 % on a shared machine.

    python -m benchmarks.parts --overhead --shapes course

splits the time another way: the layer's forward + backward and its inference forward at
T = 1, 2, 4, 8, 16 (the shape's B, I, H), fitted as a + b·T by least squares, so that what a
call costs whatever its length (a: checks, views, caches, the weight GEMMs' fixed part) and
what each step costs (b) are told apart; at short sequences a decides.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np

import gatednp as gn

from .floor import Floor
from .naive import Naive
from .run import PRESETS, block
from .systems import SHAPES, Shape

LOOPS = {"floor": Floor, "naive": Naive}


def _parts(system: str, cell: str, shape, dtype) -> dict:
    """Zero-argument callables: 'forward' (training mode), 'step' (forward + backward), 'infer'."""
    T, B, I, H = shape[:4]
    layer = getattr(gn, cell)(I, H, dtype=dtype, rng=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I)).astype(dtype)
    dy = rng.standard_normal((T, B, H)).astype(dtype)
    if system == "gatednp":
        m, call = layer, (lambda: layer(x))
    else:
        w = layer.weights(0)
        m = LOOPS[system](cell, [w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh])
        call = lambda: m(x)  # noqa: E731

    def step():
        call()
        m.backward(dy)

    def infer():
        m.eval()
        try:
            call()
        finally:
            m.train()

    return {"forward": call, "step": step, "infer": infer}


def _one_layer(shape_name: str) -> Shape:
    shape = SHAPES[shape_name]
    if shape.layers != 1 or shape.bidirectional:
        raise SystemExit(f"benchmarks.parts: one-layer one-direction shapes only, not {shape_name}")
    return shape


def measure(cell: str, shape_name: str, dtype, preset: dict) -> dict:
    """Median ms of each part per system, over rounds of rotated blocks."""
    shape = _one_layer(shape_name)
    systems = {name: _parts(name, cell, shape, dtype) for name in ("gatednp", "floor", "naive")}
    names = list(systems)
    times = {(n, p): [] for n in names for p in ("forward", "step", "infer")}
    for r in range(preset["rounds"]):
        for name in names[r % 3 :] + names[: r % 3]:
            for part, fn in systems[name].items():
                times[name, part].append(block(fn, preset["block"], preset["max_calls"]))
    ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
    for n in names:
        ms[n, "backward"] = ms[n, "step"] - ms[n, "forward"]
    return ms


OVERHEAD_T = (1, 2, 4, 8, 16)


def overhead(cell: str, shape_name: str, dtype, preset: dict) -> dict:
    """{(system, 'step' | 'infer'): (a, b)}: µs per call and per step of a + b·T, fitted to
    the median block times at T = OVERHEAD_T (the shape's B, I, H; one layer, one direction)."""
    B, I, H = _one_layer(shape_name)[1:4]
    names = ("gatednp", "floor", "naive")
    times = {(n, p, T): [] for n in names for p in ("step", "infer") for T in OVERHEAD_T}
    for T in OVERHEAD_T:
        systems = {n: _parts(n, cell, Shape(T, B, I, H), dtype) for n in names}
        for r in range(preset["rounds"]):
            for n in names[r % 3 :] + names[: r % 3]:
                for part in ("step", "infer"):
                    times[n, part, T].append(
                        block(systems[n][part], preset["block"], preset["max_calls"])
                    )
    fits = {}
    for n in names:
        for part in ("step", "infer"):
            us = [1e6 * statistics.median(times[n, part, T]) for T in OVERHEAD_T]
            b, a = np.polyfit(OVERHEAD_T, us, 1)
            fits[n, part] = (a, b)
    return fits


def _print_overhead(args, preset) -> None:
    print(
        "| cell | dtype | B×I×H | part | a µs/call: gatednp | floor | naive "
        "| b µs/step: gatednp | floor | naive |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for cell in args.cells:
        for dtype in args.dtypes:
            for shape_name in args.shapes:
                fits = overhead(cell, shape_name, np.dtype(dtype), preset)
                B, I, H = SHAPES[shape_name][1:4]
                for part in ("step", "infer"):
                    (ga, gb), (fa, fb), (na, nb) = (
                        fits[s, part] for s in ("gatednp", "floor", "naive")
                    )
                    print(
                        f"| {cell} | {dtype} | {B}×{I}×{H} | {part} | {ga:.0f} | {fa:.0f} | {na:.0f} "
                        f"| {gb:.1f} | {fb:.1f} | {nb:.1f} |",
                        flush=True,
                    )


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.parts", description=__doc__)
    p.add_argument("--shapes", nargs="+", default=["course", "adding", "traffic", "charlm"])
    p.add_argument("--cells", nargs="+", default=["LSTM", "GRU"], choices=["LSTM", "GRU"])
    p.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    p.add_argument("--smoke", action="store_true", help="one call per block: checks it runs")
    p.add_argument(
        "--overhead", action="store_true", help="a µs per call + b µs per step, fitted over T"
    )
    args = p.parse_args(argv)
    preset = dict(PRESETS["smoke" if args.smoke else "full"], rounds=1 if args.smoke else 5)
    if args.overhead:
        return _print_overhead(args, preset)
    print("| cell | dtype | shape | part | gatednp ms | floor ms | naive ms | gatednp/floor |")
    print("|---|---|---|---|---|---|---|---|")
    for cell in args.cells:
        for dtype in args.dtypes:
            for shape_name in args.shapes:
                ms = measure(cell, shape_name, np.dtype(dtype), preset)
                for part in ("forward", "backward", "infer"):
                    g, f, n = (ms[s, part] for s in ("gatednp", "floor", "naive"))
                    print(
                        f"| {cell} | {dtype} | {shape_name} | {part} | {g:.3g} | {f:.3g} "
                        f"| {n:.3g} | {g / f:.2f} |",
                        flush=True,
                    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
