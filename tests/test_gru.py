"""gatednp/gru.py: the GRU's backward by finite differences and an exact oracle; cells; BPTT."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gatednp as gn
from tests import core_checks as checks
from tests.conftest import SHAPES

KIND = "gru"


@given(**SHAPES)
def test_finite_differences(T, B, I, H, seed):
    checks.check_gradients_by_finite_differences(KIND, T, B, I, H, seed)


@given(**SHAPES, options=st.sampled_from([{}, {"num_layers": 2}, {"bidirectional": True}]))
def test_forward_matches_reference(T, B, I, H, seed, options):
    checks.check_forward_matches_reference(KIND, T, B, I, H, seed, **options)


@pytest.mark.parametrize(
    "options",
    [{}, {"num_layers": 2, "bidirectional": True}, {"bidirectional": True, "lengths": [3, 5, 1]}],
)
def test_gradients_equal_complex_step_oracle(options):
    checks.check_against_complex_step_oracle(KIND, 5, 3, 2, 3, 7, **options)


@given(**SHAPES)
def test_cell_loop_is_bptt(T, B, I, H, seed):
    checks.check_cell_loop_is_bptt(KIND, T, B, I, H, seed)


@given(T=st.integers(2, 8), B=st.integers(1, 4), seed=st.integers(0, 2**16), data=st.data())
def test_split_sequence_equals_whole(T, B, seed, data):
    split = data.draw(st.integers(1, T - 1))
    checks.check_split_sequence_equals_whole(KIND, T, B, 3, 4, seed, split)


def test_structure():
    checks.check_structure(KIND)


def test_parameters_have_torch_names_and_shapes():
    shapes = {n: p.shape for n, p in gn.GRU(3, 5, bidirectional=True, rng=0).named_parameters()}
    assert (
        shapes["weight_ih_l0_reverse"] == (15, 3)
        and shapes["bias_hh_l0"] == (15,)
        and len(shapes) == 8
    )


def test_the_two_biases_of_n_get_different_gradients():
    """b_in sits outside r ⊙ (W_hn h + b_hn), b_hn inside: their gradients differ by the factor r."""
    gru = gn.GRU(2, 3, rng=0)
    x = np.random.default_rng(0).standard_normal((4, 2, 2))
    y, _ = gru(x, np.random.default_rng(1).standard_normal((1, 2, 3)))
    gru.backward(np.ones_like(y))
    db_in, db_hn = gru.bias_ih_l0.grad[6:], gru.bias_hh_l0.grad[6:]
    np.testing.assert_array_equal(gru.bias_ih_l0.grad[:6], gru.bias_hh_l0.grad[:6])
    assert np.all(np.abs(db_hn) < np.abs(db_in))
