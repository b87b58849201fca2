"""The RNN's own: relu as well as tanh, its errors, the vanishing gradient it shows.

What the three cells share is in test_cells.py."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gatednp as gn
from tests.conftest import SHAPES, randomize


@given(**SHAPES, nonlinearity=st.sampled_from(["tanh", "relu"]))
def test_finite_differences(T, B, I, H, seed, nonlinearity):
    rng = np.random.default_rng(seed)
    rnn = randomize(gn.RNN(I, H, nonlinearity=nonlinearity, rng=rng), rng)
    report = gn.gradcheck(
        rnn, rng.standard_normal((T, B, I)), rng.standard_normal((1, B, H)), seed=seed
    )
    assert report.ok, f"\n{report}"


def test_cell_loop_equals_layer():
    rng = np.random.default_rng(0)
    rnn = randomize(gn.RNN(2, 3, nonlinearity="relu", rng=rng), rng)
    cell = gn.RNNCell(2, 3, nonlinearity="relu")
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in rnn.state_dict().items()})
    x, h0 = rng.standard_normal((4, 2, 2)), rng.standard_normal((1, 2, 3))
    y, _ = rnn(x, h0)
    h = h0[0]
    for t in range(4):
        h = cell(x[t], h)
        np.testing.assert_allclose(h, y[t], rtol=0, atol=1e-15)


def test_unknown_nonlinearity():
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        gn.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'"):
        gn.RNNCell(2, 3, nonlinearity="gelu")


def test_vanishing_gradient_is_visible():
    """The gradient reaching h0 from the last step shrinks with distance for a tanh RNN at init."""
    rnn = gn.RNN(4, 16, rng=0)
    norms = []
    for T in (1, 10, 40):
        y, _ = rnn(np.random.default_rng(1).standard_normal((T, 8, 4)))
        dy = np.zeros_like(y)
        dy[-1] = 1
        _, dh0 = rnn.backward(dy)
        norms.append(np.linalg.norm(dh0))
    assert norms[0] > 10 * norms[1] > 100 * norms[2]
