"""Numerics: saturated gates, long float32 sequences and gradient clipping stay finite and quiet.

pytest runs with warnings as errors, so any overflow or invalid-value RuntimeWarning fails here.
"""

import numpy as np
import pytest

import gatednp as gn
from gatednp.activations import sigmoid_, tanh_


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_at_extreme_inputs(dtype):
    x = np.array([-1e4, -1e3, -710, -89, -40, 0, 40, 89, 710, 1e3, 1e4], dtype=dtype)
    s, t = sigmoid_(x.copy()), tanh_(x.copy())
    assert s.dtype == dtype and t.dtype == dtype
    assert np.all((s >= 0) & (s <= 1)) and s[0] == 0 and s[-1] == 1 and s[5] == 0.5
    assert np.all(np.abs(t) <= 1) and t[0] == -1 and t[-1] == 1


@pytest.mark.parametrize("kind", ["lstm", "gru", "lstm-proj"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gates_saturated_by_huge_preactivations(kind, dtype):
    """|pre-activation| up to 1e4: outputs finite and bounded, gradients finite."""
    rng = np.random.default_rng(0)
    layer = {
        "lstm": lambda: gn.LSTM(3, 5, 2, bidirectional=True, dtype=dtype, rng=0),
        "gru": lambda: gn.GRU(3, 5, 2, bidirectional=True, dtype=dtype, rng=0),
        "lstm-proj": lambda: gn.LSTM(3, 5, proj_size=2, dtype=dtype, rng=0),
    }[kind]()
    for _, p in layer.named_parameters():
        p.data[...] = rng.uniform(-1, 1, p.shape)
    x = (rng.choice([-1.0, 1.0], (8, 4, 3)) * 1e4 / 3).astype(dtype)  # pre-activations ~1e4
    y, _ = layer(x, lengths=np.array([8, 3, 5, 1]))
    bound = 5 if kind == "lstm-proj" else 1  # |h| ≤ 1, or ≤ Σ|W_hr| ≤ H = 5 with a projection
    assert np.isfinite(y).all() and np.abs(y).max() <= bound
    dx, _ = layer.backward(rng.standard_normal(y.shape).astype(dtype))
    assert np.isfinite(dx).all()
    for name, p in layer.named_parameters():
        assert np.isfinite(p.grad).all(), name


@pytest.mark.parametrize("make", [gn.LSTMCell, gn.GRUCell])
def test_cells_saturated(make):
    cell = make(2, 3, rng=0)
    x = np.array([[1e4, -1e4], [-1e4, 1e4]])
    out = cell(x)
    state = out if isinstance(out, tuple) else (out,)
    assert all(np.isfinite(s).all() for s in state)
    dx, _ = cell.backward(tuple(np.ones_like(s) for s in state) if len(state) == 2 else state[0])
    assert np.isfinite(dx).all()


@pytest.mark.parametrize("layer_class", [gn.LSTM, gn.GRU])
def test_float32_sequence_of_1000_steps_stays_finite(layer_class):
    rng = np.random.default_rng(1)
    layer = layer_class(4, 16, 2, dtype=np.float32, rng=0)
    x = rng.standard_normal((1000, 3, 4)).astype(np.float32) * 3
    y, state = layer(x)
    assert y.dtype == np.float32 and np.isfinite(y).all()
    dx, dstate = layer.backward(rng.standard_normal(y.shape).astype(np.float32))
    assert np.isfinite(dx).all()
    for name, p in layer.named_parameters():
        assert p.grad.dtype == np.float32 and np.isfinite(p.grad).all(), name


def test_clip_grad_norm_returns_the_total_norm_and_scales_like_torch():
    layer = gn.GRU(2, 3, rng=0)
    rng = np.random.default_rng(2)
    for p in layer.parameters():
        p.grad[...] = rng.standard_normal(p.shape)
    grads = [p.grad.copy() for p in layer.parameters()]
    total = np.sqrt(sum(np.sum(g * g) for g in grads))
    assert gn.clip_grad_norm(layer.parameters(), 1.0) == pytest.approx(total, rel=1e-14)
    scale = 1.0 / (total + 1e-6)
    for g, p in zip(grads, layer.parameters()):
        np.testing.assert_allclose(p.grad, g * scale, rtol=1e-14)
    # below the limit: untouched
    before = [p.grad.copy() for p in layer.parameters()]
    gn.clip_grad_norm(layer.parameters(), 10.0)
    assert all(np.array_equal(a, p.grad) for a, p in zip(before, layer.parameters()))


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_clip_grad_norm_can_raise_on_a_non_finite_norm(bad):
    layer = gn.Linear(2, 2, rng=0)
    layer.weight.grad[0, 0] = bad
    before = layer.bias.grad.copy()
    with pytest.raises(RuntimeError, match="non-finite"):
        gn.clip_grad_norm(layer.parameters(), 1.0, error_if_nonfinite=True)
    assert np.array_equal(before, layer.bias.grad)
    assert not np.isfinite(gn.clip_grad_norm(layer.parameters(), 1.0))  # the default: report it
