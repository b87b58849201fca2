"""gatednp.testing: every drawn configuration is valid, and the course-sized checks are quick."""

import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gatednp as gn
from gatednp import lstm
from gatednp.registry import KINDS
from gatednp.testing import layer_cases, lengths, step_cases


@given(case=layer_cases())
def test_drawn_layer_cases_run(case):
    layer = case.build()
    T, B, _ = case.x.shape
    if case.lengths is not None:
        assert len(case.lengths) == B and max(case.lengths) == T and min(case.lengths) >= 1
    y, state = layer(case.x, case.state, lengths=case.lengths)
    assert y.shape == (T, B, layer.num_directions * layer.state_sizes[0])
    assert all(
        np.isfinite(p.data).all() and np.abs(p.data).max() <= 0.6 for p in layer.parameters()
    )


@given(case=step_cases())
def test_drawn_step_cases_are_valid_options(case):
    kind = case["kind"]
    KINDS[kind].check_options(**{k: v for k, v in case.items() if k in KINDS[kind].options})
    assert case.get("proj_size", 0) < case["hidden_size"] or case["hidden_size"] == 1


@given(data=st.data(), T=st.integers(1, 9), B=st.integers(1, 5))
def test_lengths(data, T, B):
    ns = data.draw(lengths(T, B))
    assert len(ns) == B and max(ns) == T and all(1 <= n <= T for n in ns)


@pytest.mark.slow
def test_a_course_sized_check_takes_under_two_seconds():
    """T = 10, H = 8: gradcheck of every element, and the step check by central differences
    with unrolled weights (both references)."""
    rng = np.random.default_rng(0)
    layer = gn.LSTM(5, 8, rng=rng)
    x = rng.standard_normal((10, 4, 5))
    for run in (
        lambda: gn.gradcheck(layer, x),
        lambda: gn.check_layer(layer, T=10, B=4),
        lambda: gn.check_step(
            "lstm",
            lstm.step,
            lstm.step_backward,
            T=10,
            B=4,
            input_size=5,
            hidden_size=8,
            reference="numeric",
        ),
    ):
        start = time.perf_counter()
        assert run().ok
        assert time.perf_counter() - start < 2.0
