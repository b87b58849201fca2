"""Variants: hand-written backward vs finite differences, forward vs the equations, helpers."""

import numpy as np
import pytest

import gatednp as gn
from gatednp.variants import GRUResetBefore, LSTMVariant, init_forget_bias
from tests.conftest import randomize

LSTM_OPTIONS = [
    dict(peephole=p, forget=f) for p in (False, True) for f in ("gate", "coupled", "none")
]


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def random_projection_check(module, x, state, rng):
    """Every element of every parameter and of x, h0 (c0): hand BPTT vs central differences."""
    report = gn.gradcheck(module, x, state, seed=int(rng.integers(2**31)))
    assert {"x", "h0"} <= {r.name for r in report.rows}
    assert report.ok, f"\n{report}"
    y, _ = module(x, state)
    dx, _ = module.backward(np.ones_like(y))
    assert np.any(dx != 0)  # the check is not vacuous: the input reaches the output


@pytest.mark.parametrize("options", LSTM_OPTIONS, ids=str)
def test_lstm_variant_gradients_by_finite_differences(options):
    rng = np.random.default_rng(1)
    m = randomize(LSTMVariant(3, 2, rng=rng, **options), rng)
    x = rng.standard_normal((4, 2, 3))
    state = (rng.standard_normal((2, 2)), rng.standard_normal((2, 2)))
    random_projection_check(m, x, state, rng)


def test_gru_reset_before_gradients_by_finite_differences():
    rng = np.random.default_rng(2)
    m = randomize(GRUResetBefore(3, 2, rng=rng), rng)
    x = rng.standard_normal((4, 2, 3))
    random_projection_check(m, x, rng.standard_normal((2, 2)), rng)


def reference_lstm_variant(m, x, h, c):
    """The equations of the LSTM-variant section, one gate at a time."""
    W, R, b = m.weight_ih.data, m.weight_hh.data, m.bias.data
    H = m.hidden_size
    row = {n: slice(k * H, (k + 1) * H) for k, n in enumerate(m.names)}
    p = {n: getattr(m, f"weight_c{n}").data if hasattr(m, f"weight_c{n}") else 0 for n in "ifo"}
    ys = []
    for x_t in x:
        pre = {n: x_t @ W[s].T + h @ R[s].T + b[s] for n, s in row.items()}
        i = sigmoid(pre["i"] + p["i"] * c)
        if m.forget == "gate":
            f = sigmoid(pre["f"] + p["f"] * c)
        else:
            f = 1 - i if m.forget == "coupled" else 1.0
        c = f * c + i * np.tanh(pre["g"])
        h = sigmoid(pre["o"] + p["o"] * c) * np.tanh(c)
        ys.append(h)
    return np.array(ys), c


@pytest.mark.parametrize("options", LSTM_OPTIONS, ids=str)
def test_lstm_variant_forward_follows_the_equations(options):
    rng = np.random.default_rng(3)
    m = randomize(LSTMVariant(2, 3, rng=rng, **options), rng)
    x, h0, c0 = (
        rng.standard_normal((5, 4, 2)),
        rng.standard_normal((4, 3)),
        rng.standard_normal((4, 3)),
    )
    y, (h, c) = m(x, (h0, c0))
    y_ref, c_ref = reference_lstm_variant(m, x, h0, c0)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(c, c_ref, rtol=1e-12, atol=1e-13)


def test_plain_variant_equals_torch_shaped_lstm_forward_and_backward():
    rng = np.random.default_rng(4)
    m = randomize(LSTMVariant(2, 3, rng=rng), rng)
    lstm = gn.LSTM(2, 3, rng=0)
    lstm.load_state_dict(
        dict(weight_ih_l0=m.weight_ih.data, weight_hh_l0=m.weight_hh.data,
             bias_ih_l0=m.bias.data, bias_hh_l0=np.zeros(12))
    )  # fmt: skip
    x = rng.standard_normal((6, 3, 2))
    y, _ = m(x)
    y_ref, _ = lstm(x)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-13)
    dy = rng.standard_normal(y.shape)
    dx, _ = m.backward(dy)
    dx_ref, _ = lstm.backward(dy)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m.weight_hh.grad, lstm.weight_hh_l0.grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m.bias.grad, lstm.bias_hh_l0.grad, rtol=1e-10, atol=1e-12)


def test_gru_reset_before_follows_its_equations_and_differs_from_reset_after():
    rng = np.random.default_rng(5)
    m = randomize(GRUResetBefore(2, 3, rng=rng), rng)
    x, h = rng.standard_normal((5, 4, 2)), rng.standard_normal((4, 3))
    y, _ = m(x, h)
    Wi, Wh, bi, bh = m.weight_ih.data, m.weight_hh.data, m.bias_ih.data, m.bias_hh.data
    r_, z_, n_ = (slice(k * 3, (k + 1) * 3) for k in range(3))
    h_ref = h
    for t in range(5):
        r = sigmoid(x[t] @ Wi[r_].T + bi[r_] + h_ref @ Wh[r_].T + bh[r_])
        z = sigmoid(x[t] @ Wi[z_].T + bi[z_] + h_ref @ Wh[z_].T + bh[z_])
        n = np.tanh(x[t] @ Wi[n_].T + bi[n_] + (r * h_ref) @ Wh[n_].T + bh[n_])
        h_ref = (1 - z) * n + z * h_ref
        np.testing.assert_allclose(y[t], h_ref, rtol=1e-12, atol=1e-13)
    gru = gn.GRU(2, 3, rng=0)
    gru.load_state_dict({k + "_l0": v for k, v in m.state_dict().items()})
    assert np.abs(gru(x, h[None])[0] - y).max() > 1e-3  # the same weights, another model


def test_init_forget_bias_opens_every_forget_gate():
    lstm = init_forget_bias(gn.LSTM(2, 3, num_layers=2, bidirectional=True, rng=0), 1.0)
    for suffix in ("l0", "l0_reverse", "l1", "l1_reverse"):
        total = getattr(lstm, f"bias_ih_{suffix}").data + getattr(lstm, f"bias_hh_{suffix}").data
        np.testing.assert_array_equal(total[3:6], 1.0)
        assert np.all(total[:3] != 1.0)
    cell = init_forget_bias(gn.LSTMCell(2, 4, rng=0), 2.0)
    np.testing.assert_array_equal(cell.bias_ih.data[4:8] + cell.bias_hh.data[4:8], 2.0)
    peephole = init_forget_bias(LSTMVariant(2, 3, peephole=True, rng=0))
    np.testing.assert_array_equal(peephole.bias.data[3:6], 1.0)


@pytest.mark.parametrize(
    "module", [gn.GRU(2, 3, rng=0), LSTMVariant(2, 3, forget="coupled", rng=0)], ids=repr
)
def test_init_forget_bias_rejects_modules_without_a_forget_gate(module):
    with pytest.raises(TypeError, match="forget gate"):
        init_forget_bias(module)


def test_variants_check_their_arguments():
    with pytest.raises(ValueError, match="forget must be"):
        LSTMVariant(2, 3, forget="sometimes")
    m = LSTMVariant(2, 3, rng=0)
    with pytest.raises(ValueError, match=r"input must be \(T, B, 2\)"):
        m(np.zeros((4, 3)))
    m.eval()(np.zeros((4, 1, 2)))  # inference keeps no cache
    with pytest.raises(RuntimeError, match="backward"):
        m.backward(np.zeros((4, 1, 3)))
