"""Inputs written into between forward and backward: the gradients must be those of what
forward saw (issue 13, item 1). Each test runs the same forward/backward twice, once with the
input overwritten after forward, and asks for identical gradients."""

import numpy as np
import pytest

import gatednp as gn


def _grads(model):
    return {n: p.grad.copy() for n, p in model.named_parameters()}


@pytest.mark.parametrize("cls", [gn.LSTM, gn.GRU, gn.RNN])
@pytest.mark.parametrize("batch_first", [False, True])
def test_layer_input_overwritten_after_forward(cls, batch_first):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 2))
    results = []
    for overwrite in (False, True):
        m = cls(2, 5, num_layers=2, bidirectional=True, batch_first=batch_first, rng=1)
        xin = x.copy()
        y, _ = m(xin)
        if overwrite:
            xin[:] = 0
        dx, _ = m.backward(np.ones_like(y))
        results.append((dx, _grads(m)))
    (dx0, g0), (dx1, g1) = results
    np.testing.assert_array_equal(dx0, dx1)
    for name in g0:
        np.testing.assert_array_equal(g0[name], g1[name], err_msg=name)


def test_unbatched_layer_input_overwritten():
    x = np.random.default_rng(0).standard_normal((4, 2))
    out = []
    for overwrite in (False, True):
        m, xin = gn.LSTM(2, 3, rng=1), x.copy()
        y, _ = m(xin)
        if overwrite:
            xin[:] = 5.0
        m.backward(np.ones_like(y))
        out.append(m.weight_ih_l0.grad.copy())
    np.testing.assert_array_equal(*out)


def test_linear_input_overwritten_after_forward():
    x = np.random.default_rng(0).standard_normal((3, 2, 4))
    out = []
    for overwrite in (False, True):
        fc, xin = gn.Linear(4, 2, rng=0), x.copy()
        y = fc(xin)
        if overwrite:
            xin[:] = 0
        fc.backward(np.ones_like(y))
        out.append(fc.weight.grad.copy())
    np.testing.assert_array_equal(*out)


@pytest.mark.parametrize("cls", [gn.LSTMCell, gn.GRUCell, gn.RNNCell])
def test_cell_loop_from_one_reused_buffer(cls):
    """The streaming idiom: `buf[...] = X[t]; state = cell(buf, state)`, then BPTT."""
    X = np.random.default_rng(0).standard_normal((5, 2, 3))
    out = []
    for reuse in (False, True):
        cell = cls(3, 4, rng=2)
        pair = cell.kind.name == "lstm"
        state, buf, states = None, np.empty((2, 3)), []
        for t in range(len(X)):
            if reuse:
                buf[...] = X[t]
                state = cell(buf, state)
            else:
                state = cell(X[t].copy(), state)
            states.append(state)
        dh = np.ones((2, 4))
        for _ in range(len(X)):
            dx, ds = cell.backward((dh, None) if pair else dh)
            dh = ds[0] if pair else ds
        out.append({n: p.grad.copy() for n, p in cell.named_parameters()})
    for name in out[0]:
        np.testing.assert_array_equal(out[0][name], out[1][name], err_msg=name)


def test_cell_state_overwritten_after_call():
    cell = gn.LSTMCell(3, 4, rng=0)
    x = np.ones((2, 3))
    out = []
    for overwrite in (False, True):
        cell.zero_grad()
        h, c = np.full((2, 4), 0.3), np.full((2, 4), -0.2)
        h1, c1 = cell(x, (h, c))
        if overwrite:
            h[:], c[:] = 9.0, 9.0
        cell.backward((np.ones_like(h1), np.ones_like(c1)))
        out.append(cell.weight_hh.grad.copy())
    np.testing.assert_array_equal(*out)


def test_eval_mode_makes_no_copy():
    m = gn.LSTM(2, 3, rng=0).eval()
    x = np.ones((4, 1, 2))
    from gatednp.shapes import time_major

    assert np.shares_memory(time_major(m, x)[0], x)
    assert not np.shares_memory(time_major(m, x, own=True)[0], x)
