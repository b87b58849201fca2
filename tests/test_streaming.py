"""gatednp/streaming.py: chunks and single steps equal the whole sequence; TBPTT cuts gradients."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gatednp as gn
from tests.conftest import randomize


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


LAYERS = {
    "lstm": lambda **kw: gn.LSTM(2, 3, **kw),
    "gru": lambda **kw: gn.GRU(2, 3, **kw),
    "rnn": lambda **kw: gn.RNN(2, 3, **kw),
}


@given(
    kind=st.sampled_from(sorted(LAYERS)),
    T=st.integers(2, 12),
    seed=st.integers(0, 999),
    data=st.data(),
)
def test_chunks_and_steps_equal_the_whole_sequence(kind, T, seed, data):
    rng = np.random.default_rng(seed)
    layer = randomize(LAYERS[kind](num_layers=2, rng=rng), rng)
    x = rng.standard_normal((T, 3, 2))
    y, state = layer(x)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, T - 1), max_size=3))))
    stream = gn.Stateful(layer)
    pieces = [stream(chunk) for chunk in np.split(x, cuts)]
    np.testing.assert_allclose(np.concatenate(pieces), y, rtol=0, atol=1e-14)
    for a, b in zip(as_tuple(stream.state), as_tuple(state), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)
    stream.reset_state()
    steps = np.stack([stream.step(x_t) for x_t in x])
    np.testing.assert_allclose(steps, y, rtol=0, atol=1e-14)


def test_truncated_bptt_gradients_treat_the_carried_state_as_a_constant():
    rng = np.random.default_rng(0)
    lstm = randomize(gn.LSTM(2, 3, rng=rng), rng)
    x = rng.standard_normal((8, 2, 2))
    dys = [rng.standard_normal((4, 2, 3)) for _ in range(2)]
    stream = gn.Stateful(lstm)
    lstm.zero_grad()
    for chunk, dy in zip(np.split(x, 2), dys, strict=True):
        stream(chunk)
        _, dstate0 = stream.backward(dy)
        assert all(d.shape == (1, 2, 3) for d in dstate0)  # reported, not propagated
    tbptt = {n: p.grad.copy() for n, p in lstm.named_parameters()}

    # the same by hand: the second chunk starts from the first's final state, as a constant
    lstm.zero_grad()
    _, state = lstm(x[:4])
    lstm.backward(dys[0])
    lstm(x[4:], tuple(np.array(s) for s in state))
    lstm.backward(dys[1])
    for n, p in lstm.named_parameters():
        np.testing.assert_allclose(tbptt[n], p.grad, rtol=0, atol=1e-14, err_msg=n)
    # and it differs from full BPTT, which also sends the second chunk's gradient into the first
    lstm.zero_grad()
    y, _ = lstm(x)
    lstm.backward(np.concatenate(dys))
    assert not np.allclose(tbptt["weight_hh_l0"], lstm.weight_hh_l0.grad)


def test_reset_state_and_batch_first_and_errors():
    rng = np.random.default_rng(1)
    gru = gn.GRU(2, 3, batch_first=True, rng=rng)
    stream = gn.Stateful(gru)
    x = rng.standard_normal((2, 5, 2))  # (B, T, I)
    first = stream(x)
    second = stream(x)
    assert not np.allclose(first, second)  # the state carried over
    stream.reset_state()
    np.testing.assert_array_equal(stream(x), first)
    stream.reset_state()
    steps = np.stack([stream.step(x[:, t]) for t in range(5)], axis=1)
    np.testing.assert_allclose(steps, first, rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="batch size 2 but this input has batch size 3"):
        stream(rng.standard_normal((3, 5, 2)))
    stream.reset_state()
    stream(x[0])
    with pytest.raises(ValueError, match="unbatched input but this input has batch size 2"):
        stream(x)
    with pytest.raises(ValueError, match="bidirectional"):
        gn.Stateful(gn.LSTM(2, 3, bidirectional=True)).step(np.zeros((1, 2)))
    with pytest.raises(TypeError, match="Stateful wraps"):
        gn.Stateful(gn.Linear(2, 3))
    assert [n for n, _ in stream.named_parameters()] == [n for n, _ in gru.named_parameters()]


def test_step_between_forward_and_backward_keeps_the_pending_backward():
    rng = np.random.default_rng(3)
    lstm = randomize(gn.LSTM(2, 3, rng=rng), rng)
    x = rng.standard_normal((4, 2, 2))
    y, _ = lstm(x)
    dy = rng.standard_normal(y.shape)
    dx_expected, _ = lstm.backward(dy)

    stream = gn.Stateful(lstm)
    stream(x)
    stream.step(x[0])  # an inference step in between
    dx, _ = stream.backward(dy)
    np.testing.assert_array_equal(dx, dx_expected)


def test_repr_of_a_module_with_submodules_is_torchs_layout():
    stream = gn.Stateful(gn.GRU(2, 3))
    assert repr(stream) == "Stateful(\n  (layer): GRU(2, 3)\n)"
    model = gn.LSTMModel(1, 4, 1)
    assert repr(model) == (
        "LSTMModel(\n  (lstm): LSTM(1, 4, batch_first=True)\n"
        "  (fc): Linear(in_features=4, out_features=1, bias=True)\n)"
    )
