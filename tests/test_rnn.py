"""gatednp/rnn.py: the Elman RNN by finite differences, the oracle, and its cell loop."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gatednp as gn
from tests import reference as ref
from tests.conftest import SHAPES, randomize


@given(**SHAPES, nonlinearity=st.sampled_from(["tanh", "relu"]))
def test_finite_differences(T, B, I, H, seed, nonlinearity):
    rng = np.random.default_rng(seed)
    rnn = randomize(gn.RNN(I, H, nonlinearity=nonlinearity, rng=rng), rng)
    report = gn.gradcheck(
        rnn, rng.standard_normal((T, B, I)), rng.standard_normal((1, B, H)), seed=seed
    )
    assert report.ok, f"\n{report}"


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize(
    "options",
    [{}, {"num_layers": 2, "bidirectional": True}, {"bidirectional": True, "lengths": [3, 5, 1]}],
)
def test_gradients_equal_complex_step_oracle(nonlinearity, options):
    rng = np.random.default_rng(5)
    lengths = options.pop("lengths", None)
    rnn = randomize(gn.RNN(2, 3, nonlinearity=nonlinearity, rng=rng, **options), rng)
    L = rnn.num_layers * rnn.num_directions
    x, h0 = rng.standard_normal((5, 3, 2)), rng.standard_normal((L, 3, 3))
    y, h_n = rnn(x, h0, lengths=lengths)
    dy, dh = rng.standard_normal(y.shape), rng.standard_normal(h_n.shape)
    rnn.zero_grad()
    dx, dh0 = rnn.backward(dy, dh)

    def f(a):
        params = {k: v for k, v in a.items() if k not in ("x", "h0")}
        return ref.rnn(
            params, a["x"], a["h0"], nonlinearity=nonlinearity, lengths=lengths, **options
        )

    expected = ref.complex_step_grad(f, {"x": x, "h0": h0, **rnn.state_dict()}, (dy, dh))
    ours = {"x": dx, "h0": dh0, **{n: p.grad for n, p in rnn.named_parameters()}}
    for name, g in ours.items():
        assert np.abs(g - expected[name]).max() <= 1e-12 * max(1, np.abs(expected[name]).max()), (
            name
        )


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
