"""The GRU's own: torch's names, the two biases of n, reset_after.

What the three cells share is in test_cells.py; the step and the engine in test_steps.py and
test_engine.py."""

import numpy as np

import gatednp as gn

KIND = "gru"


def test_parameters_have_torch_names_and_shapes():
    shapes = {n: p.shape for n, p in gn.GRU(3, 5, bidirectional=True, rng=0).named_parameters()}
    assert (
        shapes["weight_ih_l0_reverse"] == (15, 3)
        and shapes["bias_hh_l0"] == (15,)
        and len(shapes) == 8
    )


def test_the_two_biases_of_n_get_gradients_related_by_r():
    """b_in sits outside r ⊙ (W_hn h + b_hn), b_hn inside: at one step and one sequence,
    db_hn = r ⊙ db_in exactly (both are dn, the second through the factor r)."""
    rng = np.random.default_rng(0)
    gru = gn.GRU(2, 3, rng=rng)
    x, h0 = rng.standard_normal((1, 1, 2)), rng.standard_normal((1, 1, 3))
    r = gru.run(x, h0, keep_cache=True, dropout=False)[2].activations()[0, 0]["r"][0, 0]
    y, _ = gru(x, h0)
    gru.backward(rng.standard_normal(y.shape))
    db_in, db_hn = gru.bias_ih_l0.grad[6:], gru.bias_hh_l0.grad[6:]
    np.testing.assert_allclose(db_hn, r * db_in, rtol=1e-14, atol=0)
    np.testing.assert_array_equal(gru.bias_ih_l0.grad[:6], gru.bias_hh_l0.grad[:6])  # r and z


def test_reset_before_has_interchangeable_biases():
    """With reset_after=False, b_hn joins b_in outside the product: equal gradients."""
    rng = np.random.default_rng(1)
    gru = gn.GRU(2, 3, reset_after=False, rng=rng)
    y, _ = gru(rng.standard_normal((4, 2, 2)))
    gru.backward(rng.standard_normal(y.shape))
    np.testing.assert_array_equal(gru.bias_ih_l0.grad, gru.bias_hh_l0.grad)
    assert repr(gru) == "GRU(2, 3, reset_after=False)"
