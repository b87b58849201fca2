"""gatednp/linear.py: Linear over any leading axes, checked by finite differences."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import gatednp as gn
from tests.conftest import randomize


@given(
    lead=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    I=st.integers(1, 5),
    O=st.integers(1, 4),
    seed=st.integers(0, 999),
)
def test_finite_differences(lead, I, O, seed):
    rng = np.random.default_rng(seed)
    fc = randomize(gn.Linear(I, O, rng=rng), rng)
    report = gn.gradcheck(fc, rng.standard_normal((*lead, I)), seed=seed)
    assert [r.name for r in report.rows] == ["weight", "bias", "x"]
    assert report.ok, f"\n{report}"


def test_matches_explicit_formula_without_bias():
    rng = np.random.default_rng(0)
    fc = gn.Linear(3, 2, bias=False, rng=0)
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(fc(x), np.einsum("oi,bi->bo", fc.weight.data, x), rtol=1e-14)
    assert [n for n, _ in fc.named_parameters()] == ["weight"]
