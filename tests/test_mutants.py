"""The mutation catalogue (tests/mutants.py): every classic backward bug is detected by
gn.check_step and blamed on the right gate (and step); the unmutated student code passes."""

import collections

import pytest

import gatednp as gn
from tests.mutants import CATALOGUE, Mutant, T

SIZES = dict(T=T, B=3, input_size=3, hidden_size=4)


def check(m: Mutant):
    step, backward = m.functions()
    return gn.check_step(m.kind, step, backward, **SIZES, seed=7, **m.options)


def localised(report, m: Mutant) -> bool:
    where = report.blame()
    if m.gates:
        right = where["gates"] == sorted(m.gates)
    else:
        right = not where["gates"] and set(m.tensors) <= set(where["tensors"])
    return right and (m.step is None or where["steps"] == [m.step])


def test_the_catalogue_is_large_enough():
    counts = collections.Counter(m.kind for m in CATALOGUE)
    assert counts["lstm"] >= 20 and counts["gru"] >= 20 and counts["rnn"] >= 10
    assert len({(m.kind, m.bug, m.step, tuple(m.options.items())) for m in CATALOGUE}) == len(
        CATALOGUE
    )


@pytest.mark.parametrize(
    "mutant", sorted({(m.kind, tuple(m.options.items())) for m in CATALOGUE}), ids=str
)
def test_the_unmutated_student_code_passes(mutant):
    kind, options = mutant
    report = check(Mutant(kind, bug="", options=dict(options)))
    assert report.ok, f"\n{report}"


@pytest.mark.parametrize("m", CATALOGUE, ids=lambda m: f"{m.kind}-{m.bug}-{m.step}")
def test_each_bug_is_detected_and_localised(m):
    report = check(m)
    assert not report.ok, f"{m.bug}: not detected"
    assert localised(report, m), f"{m.bug}: blamed {report.blame()}\n{report}"


@pytest.mark.parametrize("m", CATALOGUE[::6], ids=lambda m: f"{m.kind}-{m.bug}-{m.step}")
def test_central_differences_localise_as_well(m):
    """reference="numeric": the bug found against the student's own forward, no textbook."""
    step, backward = m.functions()
    report = gn.check_step(
        m.kind, step, backward, **SIZES, seed=7, reference="numeric", **m.options
    )
    assert not report.ok and localised(report, m), f"{m.bug}: blamed {report.blame()}"


@pytest.mark.slow
def test_catalogue_counts():
    """The closing figures: detected and localised, per cell, under both references."""
    for reference in ("textbook", "numeric"):
        counts = collections.Counter()
        for m in CATALOGUE:
            step, backward = m.functions()
            report = gn.check_step(
                m.kind, step, backward, **SIZES, seed=3, reference=reference, **m.options
            )
            counts[m.kind] += 1
            counts[m.kind, "detected"] += not report.ok
            counts[m.kind, "localised"] += localised(report, m)
        for kind in ("lstm", "gru", "rnn"):
            assert counts[kind, "detected"] == counts[kind], (reference, counts)
            assert counts[kind, "localised"] >= 0.95 * counts[kind], (reference, counts)
