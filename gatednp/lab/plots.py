"""Pictures for the experiments: loss curves, gate heatmaps, gradient norm against lag.

matplotlib is optional (`pip install 'gatednp[plot]'`); it is imported only when a figure is
drawn, with the file-only Agg backend. Without it every function raises MissingMatplotlib,
whose message says how to install it; the experiments then print their numbers only.
Each function writes one PNG and returns its path.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = [
    "MissingMatplotlib", "loss_curves", "gate_heatmaps", "gradient_norms", "check_heatmap", "lines",
    "box_plots",
]  # fmt: skip

SIGMOID_GATES = set("ifozr")  # in [0, 1]; g, n, h lie in [-1, 1]; c is unbounded


class MissingMatplotlib(ImportError):
    """Plotting was asked for but matplotlib is not installed."""


def _pyplot():
    try:
        import matplotlib
    except ImportError as e:
        raise MissingMatplotlib(
            "plotting needs matplotlib, which is not installed: "
            "pip install 'gatednp[plot]' (or pip install matplotlib)"
        ) from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str) -> str:
    """Lay out, write and close a figure; returns its path."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Running mean over `window` steps (shorter at the start)."""
    c = np.cumsum(np.insert(values, 0, 0.0))
    k = np.arange(1, len(values) + 1)
    lo = np.maximum(0, k - window)
    return (c[k] - c[lo]) / (k - lo)


def loss_curves(
    curves: Mapping[str, list[float]],
    path: str,
    *,
    baseline: float | None = None,
    title: str = "",
    window: int = 50,
) -> str:
    """Training loss per step for each named run (log scale, smoothed over `window` steps).

    Args:
        curves: {name: per-step losses}.
        path: the PNG to write.
        baseline: the loss of the trivial answer, drawn as a dashed line.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, losses in curves.items():
        losses = np.asarray(losses, dtype=np.float64)
        ax.plot(np.arange(1, len(losses) + 1), _smooth(losses, window), label=name)
    if baseline is not None:
        ax.axhline(baseline, color="gray", linestyle="--", label=f"baseline {baseline:.3g}")
    ax.set(yscale="log", xlabel="step", ylabel=f"training loss (mean of {window} steps)")
    ax.set_title(title)
    ax.legend()
    return _save(fig, path)


def gate_heatmaps(
    acts: Mapping[str, np.ndarray],
    path: str,
    *,
    inputs: np.ndarray | None = None,
    title: str = "",
    units: int = 32,
) -> str:
    """One heatmap per gate or state (units × time) for one sequence, the inputs on top.

    Args:
        acts: {name: (T, H)} for one sequence, e.g. `{k: v[:, 0] for k, v in gates(...)[0, 0]}`.
        path: the PNG to write.
        inputs: optional (T, I) inputs of that sequence, drawn as a heatmap above the others.
        units: show at most this many hidden units.
    """
    plt = _pyplot()
    rows = len(acts) + (inputs is not None)
    fig, axes = plt.subplots(rows, 1, figsize=(9, 1.3 * rows + 0.6), sharex=True, squeeze=False)
    axes = axes[:, 0]
    if inputs is not None:  # a heatmap too, so that every panel has the same width
        im = axes[0].imshow(
            np.asarray(inputs, dtype=np.float64).T,
            aspect="auto",
            cmap="Greys",
            interpolation="nearest",
        )
        axes[0].set_ylabel("x", rotation=0, labelpad=12)
        axes[0].set_yticks(range(inputs.shape[1]) if inputs.shape[1] <= 4 else [])
        fig.colorbar(im, ax=axes[0], pad=0.01, fraction=0.03)
        axes = axes[1:]
    for ax, (name, a) in zip(axes, acts.items()):
        a = np.asarray(a, dtype=np.float64)[:, :units].T  # (units, T)
        if name in SIGMOID_GATES:
            kw = dict(cmap="viridis", vmin=0, vmax=1)
        else:
            bound = max(1.0, float(np.nanmax(np.abs(a)))) if name == "c" else 1.0
            kw = dict(cmap="RdBu_r", vmin=-bound, vmax=bound)
        im = ax.imshow(a, aspect="auto", interpolation="nearest", **kw)
        ax.set_ylabel(name, rotation=0, labelpad=12)
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, pad=0.01, fraction=0.03)
    axes[-1].set_xlabel("time step")
    fig.suptitle(title)
    return _save(fig, path)


def gradient_norms(
    norms: Mapping[str, np.ndarray], path: str, *, title: str = "", ylabel: str = ""
) -> str:
    """‖∂L/∂h_t‖ against the lag T − t (log scale), one line per named series.

    Args:
        norms: {name: (T,) norms indexed by lag 0, 1, ...}; names end in "init" or "trained" (dashed); one colour per name before that.
        path: the PNG to write.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    colors = {}
    for name, n in norms.items():
        cell = name.rsplit(" ", 1)[0]  # "lstm (c) trained" -> "lstm (c)": one colour per series
        color = colors.setdefault(cell, f"C{len(colors)}")
        style = "--" if "trained" in name else "-"
        n = np.asarray(n, dtype=np.float64)
        ax.plot(np.arange(len(n)), np.where(n > 0, n, np.nan), style, color=color, label=name)
    ax.set(yscale="log", xlabel="lag T − t (steps between h_t and the loss)")
    ax.set_ylabel(ylabel or "mean ‖∂L/∂h_t‖")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")  # beside the lines
    return _save(fig, path)


def check_heatmap(report, path: str, *, title: str = "") -> str:
    """A gradient check's table as a heatmap: rows tensor·gate, columns time steps, colour
    log10 of the worst relative error (clipped to [−12, 1]), failing cells marked ×.

    Args:
        report: a StepReport or a GradcheckReport (rows without a time axis get one column).
        path: the PNG to write.
    """
    plt = _pyplot()
    rows = [r for r in report.rows if r.analytic is not None]
    T = max((r.error.shape[r.step_axis] for r in rows if r.step_axis is not None), default=1)
    labels, values, bad = [], [], []
    for r in rows:
        for gate in r.gates or (None,):
            steps = range(r.error.shape[r.step_axis]) if r.step_axis is not None else [None]
            blocks = [r.block(gate, t) for t in steps]
            rel = [b.max_rel_err for b in blocks] + [np.nan] * (T - len(blocks))
            labels.append(f"{r.name} {gate or ''}".strip())
            values.append(np.log10(np.clip(np.nan_to_num(rel, nan=1e-16), 1e-16, None)))
            bad.append([not b.ok for b in blocks] + [False] * (T - len(blocks)))
    values = np.clip(np.array(values), -12, 1)
    fig, ax = plt.subplots(figsize=(1.2 + 0.5 * T, 0.3 * len(labels) + 1.2))
    im = ax.imshow(values, aspect="auto", cmap="magma", vmin=-12, vmax=1, interpolation="nearest")
    for i, j in zip(*np.nonzero(np.array(bad))):
        ax.text(j, i, "×", ha="center", va="center", color="cyan")
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xticks(range(T))
    ax.set_xlabel("time step")
    fig.colorbar(im, ax=ax, pad=0.01, fraction=0.05, label="log10 relative error")
    ax.set_title(title or ("all gradients agree" if report.ok else "gradient check failed"))
    return _save(fig, path)


def lines(
    series: Mapping[str, np.ndarray],
    path: str,
    *,
    x: np.ndarray | None = None,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    log: bool = False,
    baseline: float | None = None,
) -> str:
    """One line per named series against a shared x (default 1, 2, ...): perplexity per
    epoch, a day of traffic, a free-run trajectory; "truth" is drawn black and thick.

    Args:
        series: {name: (N,) values}.
        path: the PNG to write.
        x: (N,) abscissae; log: log-scale y; baseline: a dashed horizontal line.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    colors: dict[str, str] = {}  # "gru train" and "gru val" share a colour, val dashed
    for name, v in series.items():
        v = np.asarray(v, dtype=np.float64)
        xs = np.arange(1, len(v) + 1) if x is None else x
        base, _, last = name.rpartition(" ")
        group = base if last in ("train", "val") else name
        kw = dict(color=colors.setdefault(group, f"C{len(colors)}"))
        kw["linestyle"] = "--" if last == "val" else "-"
        if name == "truth":
            kw = dict(color="black", linewidth=2.0, zorder=0)
        ax.plot(xs, v, label=name, **kw)
    if baseline is not None:
        ax.axhline(baseline, color="gray", linestyle="--", label=f"baseline {baseline:.3g}")
    ax.set(xlabel=xlabel, ylabel=ylabel, yscale="log" if log else "linear")
    ax.set_title(title)
    ax.legend(fontsize="small")
    return _save(fig, path)


def box_plots(
    panels: Mapping[str, Mapping[str, np.ndarray]],
    path: str,
    *,
    title: str = "",
    log: Mapping[str, bool] | None = None,
) -> str:
    """Side-by-side panels of box plots, one box per named group with its runs as dots, as in
    Greff et al.'s figures (the variant study: test loss and steps to solve per variant).

    Args:
        panels: {y label: {group name: (n,) values}}; non-finite values are left out of a box.
        path: the PNG to write.
        log: {y label: True} for a log-scale panel.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    for ax, (ylabel, groups) in zip(axes[0], panels.items()):
        data = [np.asarray(v, float)[np.isfinite(np.asarray(v, float))] for v in groups.values()]
        ax.boxplot(data, showfliers=False)
        ax.set_xticks(range(1, len(groups) + 1), list(groups), rotation=45)
        for k, v in enumerate(data, start=1):
            jitter = np.linspace(-0.15, 0.15, len(v)) if len(v) > 1 else np.zeros(len(v))
            ax.plot(k + jitter, v, ".", color="C0", alpha=0.6)
        ax.set(ylabel=ylabel, yscale="log" if (log or {}).get(ylabel) else "linear")
    fig.suptitle(title)
    return _save(fig, path)
