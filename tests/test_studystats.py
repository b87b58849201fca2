"""The study's statistics against independent computations on fixed synthetic data."""

import math

import numpy as np
import pytest
from scipy import stats

from gatednp.lab.studystats import median_ci, summarize, table, verdicts, welch


@pytest.mark.parametrize("n", [6, 7, 10, 11, 20, 31])
def test_the_median_interval_is_scipys_exact_binomial_one(n):
    x = np.random.default_rng(n).lognormal(size=n)
    median, lo, hi, coverage = median_ci(x)
    ci = stats.quantile_test(x, p=0.5).confidence_interval(0.95)
    assert (lo, hi) == (ci.low, ci.high)
    assert median == np.median(x)
    j = int(np.searchsorted(np.sort(x), lo)) + 1  # the low end's rank
    assert coverage == pytest.approx(1 - 2 * stats.binom.cdf(j - 1, n, 0.5))
    assert coverage >= 0.95


def test_below_six_runs_the_interval_is_the_range_with_its_coverage():
    x = [3.0, 1.0, 2.0, 5.0, 4.0]
    assert median_ci(x) == (3.0, 1.0, 5.0, pytest.approx(1 - 2 * 0.5**5))


def test_runs_that_never_solve_rank_last():
    never = math.inf
    median, lo, hi, _ = median_ci([100, 200, 300, never, never, never, never, never, never, never])
    assert (median, lo, hi) == (never, 200, never)
    median, lo, hi, _ = median_ci([100, 200, 300, 400, 500, 600, never, never, never, never])
    assert (median, lo, hi) == (550, 200, never)


def hand_welch(a, b):
    """Welch's t and two-sided p, written out (Welch–Satterthwaite degrees of freedom)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return t, 2 * stats.t.sf(abs(t), df)


def test_welch_is_the_hand_written_formula():
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = rng.normal(1.0, 0.3, size=10), rng.normal(1.2, 1.0, size=7)
        t, p = welch(a, b)
        t_ref, p_ref = hand_welch(a, b)
        assert t == pytest.approx(t_ref, rel=1e-12) and p == pytest.approx(p_ref, rel=1e-9)


def records(variant, task, losses, solved):
    return [
        {"config": {"variant": variant, "task": task}, "test_loss": loss, "solved_at": s}
        for loss, s in zip(losses, solved)
    ]


@pytest.fixture
def synthetic():
    rng = np.random.default_rng(1)
    base = rng.normal(1.0, 0.1, 10)
    rows = records("lstm", "adding", base, [500] * 5 + [600] * 5)
    rows += records("nfg", "adding", base + 1.0, [None] * 10)  # much worse, never solves
    rows += records("gru", "adding", rng.normal(1.0, 0.1, 10), [400] * 10)
    rows += records("rnn", "adding", base - 0.5, [100] * 9 + [None])  # much better
    return rows, base


def test_summaries_follow_the_records(synthetic):
    rows, base = synthetic
    out = {r.variant: r for r in summarize(rows, ["lstm", "nfg", "gru", "rnn"], ["adding"])}
    assert out["lstm"].loss[:3] == median_ci(base)[:3] and math.isnan(out["lstm"].p)
    assert out["nfg"].solved == 0 and out["nfg"].steps[0] == math.inf
    assert out["rnn"].solved == 9 and out["rnn"].steps[0] == 100
    gru = [r["test_loss"] for r in rows if r["config"]["variant"] == "gru"]
    assert out["gru"].p == pytest.approx(hand_welch(gru, base)[1], rel=1e-9)
    assert out["nfg"].p < 1e-6 and out["gru"].p > 0.05
    want = hand_welch(np.log10(gru), np.log10(base))[1]
    assert out["gru"].p_log == pytest.approx(want, rel=1e-9)


def test_table_and_verdicts_mark_what_is_significant(synthetic):
    rows, base = synthetic
    labels = {"lstm": "V", "nfg": "NFG", "gru": "GRU", "rnn": "RNN"}
    summary = summarize(rows, list(labels), ["adding"])
    text = table(summary, labels)
    nfg = next(line for line in text.splitlines() if " NFG " in line)
    p = hand_welch(base + 1.0, base)[1]
    p_log = hand_welch(np.log10(base + 1.0), np.log10(base))[1]
    assert nfg.split()[-2:] == [f"{p_log:.2g}**", f"{p:.2g}**"]
    assert "0/10" in nfg
    (verdict,) = verdicts(summary, labels)
    assert "worse: NFG;" in verdict and "better: RNN;" in verdict
    assert verdict.endswith("no significant difference: GRU")
    (log_verdict,) = verdicts(summary, labels, log=True)
    assert "log10" in log_verdict and "worse: NFG;" in log_verdict and "better: RNN;" in log_verdict


def test_the_log_test_sees_what_one_outlier_hides():
    """Nine runs ten times better than V's and one ten times worse: the raw means are close
    and Welch on raw losses sees nothing; on the log scale the difference is plain."""
    rng = np.random.default_rng(3)
    base = 10 ** rng.normal(-3, 0.2, 10)
    better = np.append(10 ** rng.normal(-4, 0.2, 9), 1e-2)
    rows = records("lstm", "copy", base, [None] * 10) + records("noa", "copy", better, [None] * 10)
    (_, noa) = summarize(rows, ["lstm", "noa"], ["copy"])
    assert noa.p > 0.05 and noa.p_log < 0.05


def test_nonfinite_losses_are_left_out_of_the_test_and_said():
    rows = records("lstm", "copy", [1.0, 1.1, 0.9, 1.05], [None] * 4)
    rows += records("gru", "copy", [2.0, 2.1, math.nan, 1.9], [None] * 4)
    summary = summarize(rows, ["lstm", "gru"], ["copy"])
    assert summary[1].nonfinite == 1
    assert summary[1].p == pytest.approx(hand_welch([2.0, 2.1, 1.9], [1.0, 1.1, 0.9, 1.05])[1])
    assert "not finite" in table(summary, {"lstm": "V", "gru": "GRU"})
