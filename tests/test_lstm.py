"""gatednp/lstm.py: the LSTM's backward by finite differences and an exact oracle; cells; BPTT."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gatednp as gn
from tests import core_checks as checks
from tests.conftest import SHAPES

KIND = "lstm"


@given(**SHAPES)
def test_finite_differences(T, B, I, H, seed):
    checks.check_gradients_by_finite_differences(KIND, T, B, I, H, seed)


@given(
    **SHAPES,
    options=st.sampled_from([{}, {"num_layers": 2}, {"bidirectional": True}, {"proj_size": 1}]),
)
def test_forward_matches_reference(T, B, I, H, seed, options):
    if options.get("proj_size", 0) >= H:
        options = {}
    checks.check_forward_matches_reference(KIND, T, B, I, H, seed, **options)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"num_layers": 2, "bidirectional": True},
        {"proj_size": 2},
        {"bidirectional": True, "lengths": [3, 5, 1]},
    ],
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


def test_parameters_have_torch_names_shapes_and_init_bound():
    lstm = gn.LSTM(3, 5, proj_size=2, rng=0)
    shapes = {n: p.shape for n, p in lstm.named_parameters()}
    assert shapes == {
        "weight_ih_l0": (20, 3),
        "weight_hh_l0": (20, 2),
        "bias_ih_l0": (20,),
        "bias_hh_l0": (20,),
        "weight_hr_l0": (2, 5),
    }
    bound = 1 / np.sqrt(5)
    assert all(np.abs(p.data).max() <= bound for p in lstm.parameters())
    assert gn.LSTM(3, 5, rng=1).state_dict().keys() == gn.LSTM(3, 5, rng=2).state_dict().keys()
    np.testing.assert_array_equal(
        gn.LSTM(3, 5, rng=4).weight_hh_l0.data, gn.LSTM(3, 5, rng=4).weight_hh_l0.data
    )


def test_backward_needs_one_forward_each():
    lstm = gn.LSTM(2, 3, rng=0)
    with pytest.raises(RuntimeError, match="needs a forward pass"):
        lstm.backward(np.zeros((1, 1, 3)))
    y, _ = lstm(np.zeros((4, 1, 2)))
    lstm.backward(np.ones_like(y))
    with pytest.raises(RuntimeError, match="needs a forward pass"):
        lstm.backward(np.ones_like(y))
    cell = gn.LSTMCell(2, 3, rng=0)
    cell(np.zeros((1, 2)))
    cell.backward((np.ones((1, 3)), None))
    with pytest.raises(RuntimeError, match="more times than forward"):
        cell.backward((np.ones((1, 3)), None))


def test_eval_mode_keeps_no_cache_and_gives_the_same_outputs():
    lstm = gn.LSTM(2, 3, num_layers=2, rng=0)
    x = np.random.default_rng(0).standard_normal((6, 2, 2))
    y_train, (h_train, _) = lstm(x)
    lstm.eval()
    y_eval, (h_eval, _) = lstm(x)
    np.testing.assert_array_equal(y_train, y_eval)
    np.testing.assert_array_equal(h_train, h_eval)
    with pytest.raises(RuntimeError, match="needs a forward pass"):
        lstm.backward(np.ones_like(y_eval))
