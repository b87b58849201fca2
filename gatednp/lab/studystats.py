"""The study's statistics: per variant and task, medians with 95 % confidence intervals, and
Welch's t-test of each variant against the vanilla LSTM, as Greff et al. (2017) report.

- Median and its 95 % CI: the distribution-free interval from order statistics,
  [x₍ⱼ₎, x₍ₙ₊₁₋ⱼ₎] with the largest j such that P(Binomial(n, ½) ≤ j − 1) ≤ 2.5 % (the exact
  binomial interval, scipy.stats.quantile_test's); its coverage is at least 95 % (n = 10:
  [x₍₂₎, x₍₉₎], 97.9 %). Below n = 6 no pair reaches 95 %: the interval is then [min, max] and
  its coverage (n = 5: 93.8 %) is reported.
- Steps to solve: the first logged step whose validation loss was below the task's target. A run
  that never got there counts as +∞ (later than any budget): it ranks last, and a median or an
  interval end that falls on such a run reads "never".
- Welch's two-sided t-test (unequal variances, scipy.stats.ttest_ind(equal_var=False)) of the
  final test losses of each variant against the vanilla LSTM (V); runs whose test loss is not
  finite (stopped at a nan) are left out and counted. Significant: p < 0.05 ("*"); with the
  Bonferroni correction for the m comparisons of a task, p < 0.05 / m ("**").
- The same test on log₁₀ of the test losses ("log p"): the losses of a variant spread over
  orders of magnitude and one bad run dominates a mean of raw losses, so the test of raw losses
  (Greff et al.'s) is blind to differences that are plain on the log scale of the box plots; the
  log test compares geometric means. Both are reported; neither replaces the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["median_ci", "welch", "Summary", "summarize", "table", "verdicts"]

ALPHA = 0.05


def median_ci(values, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """(median, low, high, coverage) of `values` (+∞ allowed; see the module docstring)."""
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    if n == 0:
        return (math.nan,) * 4
    j = 0  # 1-based rank of the low end; 0 while none is found
    while stats.binom.cdf(j, n, 0.5) <= (1 - confidence) / 2:
        j += 1
    j = max(j, 1)
    coverage = 1 - 2 * stats.binom.cdf(j - 1, n, 0.5)
    median = float(np.median(x)) if np.isfinite(x[(n - 1) // 2 : n // 2 + 1]).all() else math.inf
    return median, float(x[j - 1]), float(x[n - j]), float(coverage)


def welch(a, b) -> tuple[float, float]:
    """Welch's two-sided t-test of the means of `a` and `b`: (t, p)."""
    t, p = stats.ttest_ind(np.asarray(a, float), np.asarray(b, float), equal_var=False)
    return float(t), float(p)


@dataclass
class Summary:
    """One variant on one task."""

    task: str
    variant: str
    n: int
    loss: tuple[float, float, float, float]  # median_ci of the test losses
    steps: tuple[float, float, float, float]  # median_ci of the steps to solve (+∞: never)
    solved: int
    mean_loss: float
    t: float = math.nan  # Welch against the vanilla LSTM (nan for V itself)
    p: float = math.nan
    p_log: float = math.nan  # the same on log10 of the test losses
    mean_log: float = math.nan  # mean of log10 test loss
    nonfinite: int = 0  # test losses left out of the t-test


def summarize(records: list[dict], variants: list[str], tasks: list[str]) -> list[Summary]:
    """A Summary per task and variant that has records, in the order given; the t-test needs
    the vanilla LSTM ("lstm") and two finite losses on each side."""
    rows = []
    for task in tasks:
        losses, steps = {}, {}
        for v in variants:
            mine = [
                r for r in records if r["config"]["task"] == task and r["config"]["variant"] == v
            ]
            if mine:
                losses[v] = np.array([r["test_loss"] for r in mine], dtype=float)
                steps[v] = np.array([r["solved_at"] or math.inf for r in mine], dtype=float)
        base = losses.get("lstm")
        for v in losses:
            finite = losses[v][np.isfinite(losses[v])]
            row = Summary(
                task, v, len(losses[v]), median_ci(losses[v]), median_ci(steps[v]),
                int(np.isfinite(steps[v]).sum()), float(np.mean(finite)) if len(finite) else math.nan,
                nonfinite=len(losses[v]) - len(finite),
            )  # fmt: skip
            positive = finite[finite > 0]
            row.mean_log = float(np.mean(np.log10(positive))) if len(positive) else math.nan
            if v != "lstm" and base is not None:
                ref = base[np.isfinite(base)]
                if len(finite) >= 2 and len(ref) >= 2:
                    row.t, row.p = welch(finite, ref)
                ref = ref[ref > 0]
                if len(positive) >= 2 and len(ref) >= 2:
                    row.p_log = welch(np.log10(positive), np.log10(ref))[1]
            rows.append(row)
    return rows


def _num(x: float) -> str:
    return "never" if x == math.inf else "-" if math.isnan(x) else f"{x:.3g}"


def marked(p: float, comparisons: int) -> str:
    """A p-value with * (p < 0.05) or ** (also below the Bonferroni cut), or - for none."""
    if math.isnan(p):
        return "-"
    return f"{p:.2g}" + ("**" if p < ALPHA / max(comparisons, 1) else "*" if p < ALPHA else "")


def table(rows: list[Summary], labels: dict[str, str]) -> str:
    """The rows as a text table, with the footnotes that say how to read it."""
    lines = [
        f"{'task':<8} {'variant':<7} {'n':>3} {'test loss: median [95% CI]':>30} "
        f"{'mean':>9} {'steps to solve: median [95% CI]':>32} {'solved':>7} {'log p':>9} "
        f"{'Welch p vs V':>13}"
    ]
    m = {
        t: sum(1 for r in rows if r.task == t and r.variant != "lstm")
        for t in {r.task for r in rows}
    }
    low_coverage = False
    for r in rows:
        loss = f"{_num(r.loss[0])} [{_num(r.loss[1])}, {_num(r.loss[2])}]"
        steps = f"{_num(r.steps[0])} [{_num(r.steps[1])}, {_num(r.steps[2])}]"
        low_coverage |= r.loss[3] < 0.95
        lines.append(
            f"{r.task:<8} {labels[r.variant]:<7} {r.n:>3} {loss:>30} {_num(r.mean_loss):>9} "
            f"{steps:>32} {f'{r.solved}/{r.n}':>7} {marked(r.p_log, m[r.task]):>9} {marked(r.p, m[r.task]):>13}"
        )
    lines += [
        "CI: the distribution-free interval of the median from order statistics (exact binomial)"
        + ("; below 6 runs it is [min, max], coverage < 95%" if low_coverage else ""),
        "steps to solve: first validation (every 50 steps) below the task's target; a run that "
        "never got there counts as later than any (never)",
        "Welch p: two-sided Welch t-test of the test losses against V (the vanilla LSTM); "
        "* p < 0.05, ** also after Bonferroni (p < 0.05 / comparisons per task); "
        "log p: the same test on log10 of the test losses (geometric means)",
    ]
    if any(r.nonfinite for r in rows):
        lines.append("runs whose test loss is not finite are left out of the means and t-tests")
    return "\n".join(lines)


def verdicts(rows: list[Summary], labels: dict[str, str], log: bool = False) -> list[str]:
    """One sentence per task: which variants differ from V significantly after Bonferroni, by
    the test of the raw test losses or (log=True) of their log10."""
    said = []
    p_of = (lambda r: r.p_log) if log else (lambda r: r.p)
    mean_of = (lambda r: r.mean_log) if log else (lambda r: r.mean_loss)
    for task in dict.fromkeys(r.task for r in rows):
        mine = [r for r in rows if r.task == task and not math.isnan(p_of(r))]
        if not mine:
            continue
        base = next((mean_of(r) for r in rows if r.task == task and r.variant == "lstm"), math.nan)
        cut = ALPHA / len(mine)
        worse = [labels[r.variant] for r in mine if p_of(r) < cut and mean_of(r) > base]
        better = [labels[r.variant] for r in mine if p_of(r) < cut and mean_of(r) < base]
        same = [labels[r.variant] for r in mine if p_of(r) >= cut]
        test = "Welch on log10 loss" if log else "Welch"
        said.append(
            f"{task}: against V ({test}, Bonferroni p < {cut:.2g}): worse: {', '.join(worse) or 'none'};"
            f" better: {', '.join(better) or 'none'}; no significant difference: {', '.join(same) or 'none'}"
        )
    return said
