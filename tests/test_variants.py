"""The variants follow their equations (lstm.py, gru.py), written here once more gate by gate.

They are options of gn.LSTM and gn.GRU (peepholes, forget_gate, forget_bias, reset_after); their
backward is checked by finite differences and the engine against the step in test_steps.py and
test_engine.py. torch has none of them, so this independent forward is their outside check.
"""

import numpy as np
import pytest

import gatednp as gn
from tests.conftest import randomize

LSTM_OPTIONS = [
    dict(peepholes=p, forget_gate=f) for p in (False, True) for f in ("gate", "coupled", "none")
]


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def reference_lstm_variant(m, x, h, c):
    """The variant equations of lstm.py, one gate at a time, for a one-layer gn.LSTM."""
    W, R = m.weight_ih_l0.data, m.weight_hh_l0.data
    b = m.bias_ih_l0.data + m.bias_hh_l0.data
    H = m.hidden_size
    names = "ifgo" if m.forget_gate == "gate" else "igo"
    row = {n: slice(k * H, (k + 1) * H) for k, n in enumerate(names)}
    p = {n: getattr(m, f"weight_c{n}_l0", None) for n in "ifo"}
    p = {n: 0.0 if v is None else v.data for n, v in p.items()}
    ys = []
    for x_t in x:
        pre = {n: x_t @ W[s].T + h @ R[s].T + b[s] for n, s in row.items()}
        i = sigmoid(pre["i"] + p["i"] * c)
        if m.forget_gate == "gate":
            f = sigmoid(pre["f"] + p["f"] * c)
        else:
            f = 1 - i if m.forget_gate == "coupled" else 1.0
        c = f * c + i * np.tanh(pre["g"])
        h = sigmoid(pre["o"] + p["o"] * c) * np.tanh(c)
        ys.append(h)
    return np.array(ys), c


@pytest.mark.parametrize("options", LSTM_OPTIONS, ids=str)
def test_lstm_variant_forward_follows_the_equations(options):
    rng = np.random.default_rng(3)
    m = randomize(gn.LSTM(2, 3, rng=rng, **options), rng)
    x, h0, c0 = (rng.standard_normal(s) for s in [(5, 4, 2), (4, 3), (4, 3)])
    y, (h, c) = m(x, (h0[None], c0[None]))
    y_ref, c_ref = reference_lstm_variant(m, x, h0, c0)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(c[0], c_ref, rtol=1e-12, atol=1e-13)
    cell = gn.LSTMCell(2, 3, **options)  # the cell runs the textbook step: the same equations
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in m.state_dict().items()})
    np.testing.assert_allclose(cell(x[0], (h0, c0))[0], y_ref[0], rtol=1e-12, atol=1e-13)


def test_gru_reset_before_follows_its_equations_and_differs_from_reset_after():
    rng = np.random.default_rng(5)
    m = randomize(gn.GRU(2, 3, reset_after=False, rng=rng), rng)
    x, h = rng.standard_normal((5, 4, 2)), rng.standard_normal((4, 3))
    y, _ = m(x, h[None])
    Wi, Wh, bi, bh = (
        m.state_dict()[k + "_l0"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    )
    r_, z_, n_ = (slice(k * 3, (k + 1) * 3) for k in range(3))
    h_ref = h
    for t in range(5):
        r = sigmoid(x[t] @ Wi[r_].T + bi[r_] + h_ref @ Wh[r_].T + bh[r_])
        z = sigmoid(x[t] @ Wi[z_].T + bi[z_] + h_ref @ Wh[z_].T + bh[z_])
        n = np.tanh(x[t] @ Wi[n_].T + bi[n_] + (r * h_ref) @ Wh[n_].T + bh[n_])
        h_ref = (1 - z) * n + z * h_ref
        np.testing.assert_allclose(y[t], h_ref, rtol=1e-12, atol=1e-13)
    gru = gn.GRU(2, 3, rng=0)
    gru.load_state_dict(m.state_dict())
    assert np.abs(gru(x, h[None])[0] - y).max() > 1e-3  # the same weights, another model


def test_without_a_forget_gate_the_cell_keeps_its_state_when_nothing_is_written():
    """f ≡ 1 (the 1997 LSTM): with g = tanh(0) = 0 nothing is added, so c_T = c_0 exactly."""
    rng = np.random.default_rng(6)
    m = gn.LSTM(2, 3, forget_gate="none", rng=rng)
    for p in m.parameters():
        p.data[...] = 0.0  # i = σ(0) = 1/2, g = tanh(0) = 0, so c stays c_0 exactly
    c0 = rng.standard_normal((1, 4, 3))
    _, (_, c) = m(rng.standard_normal((6, 4, 2)), (np.zeros((1, 4, 3)), c0))
    np.testing.assert_array_equal(c, c0)
