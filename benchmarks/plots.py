"""Pictures of a benchmark result (`python -m benchmarks --set grid growth --plot`).

- Heatmaps, per cell, dtype and mode, of gatednp ÷ torch and gatednp ÷ floor over hidden size ×
  batch size (the points of the `grid` set that the result holds).
- Time against T and against H on log–log axes, per system, with the fitted exponent of
  time ∝ Tᵏ (or Hᵏ): how the cost grows with the work (the `growth` set).

matplotlib is the `plot` extra (`pip install -e ".[plot]"`); without it a clear error says so.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np


def _pyplot():
    try:
        import matplotlib
    except ImportError as err:
        raise ImportError(
            "benchmark plots need matplotlib, the plot extra: pip install -e '.[plot]'"
        ) from err
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def exponent(sizes, times) -> float:
    """k of the least-squares fit log t = k log n + c."""
    return float(np.polyfit(np.log(sizes), np.log(times), 1)[0])


def write_plots(result: dict, prefix: Path) -> list[Path]:
    """Every picture the result has the points for, as `prefix-<what>.png`; their paths."""
    plt = _pyplot()
    groups = defaultdict(list)
    for row in result["rows"]:
        groups[row["cell"], row["dtype"], row["mode"]].append(row)
    written = []
    for (cell, dtype, mode), rows in groups.items():
        grid = [r for r in rows if r["shape"].startswith("H") and "-B" in r["shape"]]
        for ref in ("torch", "floor"):
            key = "ratio_to_torch" if ref == "torch" else "ratio_to_floor"
            points = [r for r in grid if key in r]
            if points:
                written.append(_heatmap(plt, points, key, f"{prefix}-{cell}-{dtype}-{mode}-{ref}.png",
                                        f"{cell} {dtype} {mode}: gatednp ÷ {ref}"))  # fmt: skip
        for axis in ("T", "H"):
            line = [r for r in rows if r["shape"] == f"{axis}{r['spec'][axis]}"]
            if len(line) >= 2:
                path = f"{prefix}-{cell}-{dtype}-{mode}-growth-{axis}.png"
                written.append(_growth(plt, line, axis, path, f"{cell} {dtype} {mode}"))
    return [Path(p) for p in written]


def _heatmap(plt, rows, key, path, title) -> str:
    Hs = sorted({r["spec"]["H"] for r in rows})
    Bs = sorted({r["spec"]["B"] for r in rows})
    grid = np.full((len(Hs), len(Bs)), np.nan)
    for r in rows:
        grid[Hs.index(r["spec"]["H"]), Bs.index(r["spec"]["B"])] = r[key]["gatednp"]
    fig, ax = plt.subplots(figsize=(5, 4))
    im = ax.imshow(grid, cmap="RdYlGn_r", vmin=0.5, vmax=2.0, origin="lower")
    for (a, b), v in np.ndenumerate(grid):
        if np.isfinite(v):
            ax.text(b, a, f"{v:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(Bs)), [str(b) for b in Bs])
    ax.set_yticks(range(len(Hs)), [str(h) for h in Hs])
    ax.set_xlabel("batch size B")
    ax.set_ylabel("hidden size H")
    ax.set_title(title)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _growth(plt, rows, axis, path, title) -> str:
    rows = sorted(rows, key=lambda r: r["spec"][axis])
    n = np.array([r["spec"][axis] for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(5, 4))
    for system in rows[0]["ms"]:
        t = np.array([r["ms"][system] for r in rows])
        ax.loglog(n, t, "o-", label=f"{system} (∝ {axis}^{exponent(n, t):.2f})")
    ax.set_xlabel(axis)
    ax.set_ylabel("ms")
    ax.set_title(f"{title}: time against {axis}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
