"""gatednp/recurrent.py: every option of the torch-shaped layers, alone and combined.

Gradients by finite differences (tier A: every element on tiny shapes; tier B: random
directions on longer sequences); dropout by its own properties; layout options by invariants.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gatednp as gn
from tests.conftest import randomize

KINDS = {"lstm": gn.LSTM, "gru": gn.GRU, "rnn": gn.RNN}


def build(kind, I, H, rng, **kw):
    if kind != "lstm":
        kw.pop("proj_size", None)
    return randomize(KINDS[kind](I, H, rng=rng, **kw), rng)


def random_state(layer, B, rng):
    L = layer.num_layers * layer.num_directions
    parts = tuple(rng.standard_normal((L, B, size)) for size in layer.state_sizes)
    return parts if len(parts) == 2 else parts[0]


@st.composite
def configs(draw, max_T=3):
    T, B = draw(st.integers(1, max_T)), draw(st.integers(1, 3))
    I, H = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    options = dict(
        num_layers=draw(st.integers(1, 3)),
        bidirectional=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        bias=draw(st.booleans()),
        proj_size=draw(st.integers(0, H - 1)),
    )
    lengths = draw(st.none() | st.lists(st.integers(1, T), min_size=B, max_size=B))
    return (
        draw(st.sampled_from(sorted(KINDS))),
        T,
        B,
        I,
        H,
        options,
        lengths,
        draw(st.integers(0, 2**16)),
    )


@given(configs())
def test_every_option_combination_by_finite_differences(config):
    kind, T, B, I, H, options, lengths, seed = config
    rng = np.random.default_rng(seed)
    layer = build(kind, I, H, rng, **options)
    x = rng.standard_normal((B, T, I) if options["batch_first"] else (T, B, I))
    report = gn.gradcheck(layer, x, random_state(layer, B, rng), lengths=lengths, seed=seed)
    assert report.ok, f"{kind} {options} lengths={lengths}\n{report}"


@given(configs(max_T=20))
def test_longer_sequences_by_random_directions(config):
    kind, T, B, I, H, options, lengths, seed = config
    rng = np.random.default_rng(seed)
    layer = build(kind, I, H, rng, **options)
    x = rng.standard_normal((B, T, I) if options["batch_first"] else (T, B, I))
    report = gn.gradcheck(
        layer, x, random_state(layer, B, rng), lengths=lengths, directions=3, seed=seed
    )
    assert report.ok, f"{kind} {options} lengths={lengths}\n{report}"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_layout_invariants(kind):
    """batch_first is a transpose; unbatched is B = 1; h0=None is zeros; batch order is free."""
    rng = np.random.default_rng(0)
    layer = build(kind, 3, 4, rng, num_layers=2, bidirectional=True)
    x = rng.standard_normal((5, 4, 3))
    y, s = layer(x)
    as_tuple = lambda s: s if isinstance(s, tuple) else (s,)  # noqa: E731

    zeros = tuple(np.zeros((4, 4, size)) for size in layer.state_sizes)
    y0, _ = layer(x, zeros if len(zeros) == 2 else zeros[0])
    np.testing.assert_array_equal(y, y0)

    layer.batch_first = True
    y_bf, _ = layer(x.transpose(1, 0, 2).copy())
    np.testing.assert_array_equal(y_bf, y.transpose(1, 0, 2))
    layer.batch_first = False

    y1, s1 = layer(x[:, 1])
    np.testing.assert_allclose(y1, y[:, 1], rtol=0, atol=1e-15)
    for a, b in zip(as_tuple(s1), as_tuple(s), strict=True):
        np.testing.assert_allclose(a, b[:, 1], rtol=0, atol=1e-15)

    perm = np.array([2, 0, 3, 1])
    lengths = np.array([5, 2, 4, 1])
    y_l, s_l = layer(x, lengths=lengths)
    y_p, s_p = layer(x[:, perm], lengths=lengths[perm])
    np.testing.assert_allclose(y_p, y_l[:, perm], rtol=0, atol=1e-15)
    for a, b in zip(as_tuple(s_p), as_tuple(s_l), strict=True):
        np.testing.assert_allclose(a, b[:, perm], rtol=0, atol=1e-15)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_padding_gets_zero_output_and_zero_gradient(kind):
    rng = np.random.default_rng(1)
    layer = build(kind, 2, 3, rng, num_layers=2, bidirectional=True)
    x = rng.standard_normal((6, 3, 2))
    lengths = [6, 2, 4]
    x_copy = x.copy()
    y, _ = layer(x, lengths=lengths)
    dx, _ = layer.backward(rng.standard_normal(y.shape))  # nonzero upstream even on padding
    np.testing.assert_array_equal(x, x_copy)
    for b, L in enumerate(lengths):
        assert not y[L:, b].any() and not dx[L:, b].any()
        assert np.all(np.abs(dx[:L, b]).sum(axis=-1) > 0)


def test_dropout_between_layers():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3, 2))

    def run(seed):
        lstm = gn.LSTM(2, 5, num_layers=3, dropout=0.5, rng=seed)
        return lstm, lstm(x)[0]

    a, ya = run(7)
    _, yb = run(7)
    np.testing.assert_array_equal(ya, yb)  # reproducible from the seed
    y_again, _ = a(x)
    assert not np.allclose(y_again, ya)  # a fresh mask every training forward
    a.eval()
    y_eval1, _ = a(x)
    y_eval2, _ = a(x)
    np.testing.assert_array_equal(y_eval1, y_eval2)  # eval disables it
    assert not np.allclose(y_eval1, ya)
    with pytest.raises(RuntimeError, match="needs a forward pass"):
        a.backward(np.ones_like(y_eval2))  # eval keeps nothing
    # backward uses the forward's mask: finite differences with the rng rewound per forward
    gru = randomize(gn.GRU(2, 3, num_layers=2, dropout=0.4, rng=3), rng)
    assert gn.gradcheck(gru, x).ok
    # single layer: torch ignores dropout (nothing between layers) with a warning, and so do we
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        single = gn.GRU(2, 3, dropout=0.9, rng=4)
    np.testing.assert_array_equal(single(x)[0], single.eval()(x)[0])


LAYERS = {"lstm": gn.LSTM, "gru": gn.GRU, "rnn": gn.RNN}
EMPTY_LAYOUTS = [
    {},
    {"num_layers": 2, "bidirectional": True},
    {"batch_first": True, "reverse": True},
    {"proj_size": 2, "num_layers": 2},
]


@pytest.mark.parametrize("layout", EMPTY_LAYOUTS, ids=[str(x) for x in EMPTY_LAYOUTS])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_zero_steps_give_an_empty_output_and_the_initial_state(kind, layout):
    """T = 0 (ONNX allows it; torch refuses): y has no steps, the final state is the initial
    one, and backward passes dstate_n through to dstate_0 with zero weight gradients."""
    if kind != "lstm" and "proj_size" in layout:
        return
    rng = np.random.default_rng(0)
    layer = LAYERS[kind](3, 4, **layout, rng=1)
    B, L = 2, layer.num_layers * layer.num_directions
    state = tuple(rng.standard_normal((L, B, s)) for s in layer.state_sizes)
    dstate = tuple(rng.standard_normal((L, B, s)) for s in layer.state_sizes)
    pack = (lambda s: s) if len(state) == 2 else (lambda s: s[0])  # noqa: E731
    as_tuple = lambda s: s if isinstance(s, tuple) else (s,)  # noqa: E731
    x = np.zeros((B, 0, 3) if layer.batch_first else (0, B, 3))
    y, state_n = layer(x, pack(state))
    width = layer.num_directions * layer.state_sizes[0]
    assert y.shape == ((B, 0, width) if layer.batch_first else (0, B, width))
    for a, b in zip(as_tuple(state_n), state, strict=True):
        np.testing.assert_array_equal(a, b)
    layer.zero_grad()
    dx, dstate0 = layer.backward(np.zeros_like(y), pack(dstate))
    assert dx.shape == x.shape
    for a, b in zip(as_tuple(dstate0), dstate, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not any(p.grad.any() for p in layer.parameters())
    y1, _ = layer(np.zeros((0, 3)))  # unbatched
    assert y1.shape == (0, width)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_sequences_of_length_zero_keep_their_state(kind):
    """lengths with zeros (ONNX's sequence_lens = 0): those sequences output zeros, keep their
    initial state and pass its gradient through; the others are as if run alone."""
    rng = np.random.default_rng(0)
    layer = LAYERS[kind](3, 4, num_layers=2, bidirectional=True, rng=1)
    T, B, L = 5, 4, 4
    x = rng.standard_normal((T, B, 3))
    state = tuple(rng.standard_normal((L, B, s)) for s in layer.state_sizes)
    pack = (lambda s: s) if len(state) == 2 else (lambda s: s[0])
    lengths = np.array([3, 0, 5, 0])
    y, state_n = layer(x, pack(state), lengths=lengths)
    dy = rng.standard_normal(y.shape) * (np.arange(T)[:, None, None] < lengths[:, None])
    dstate = tuple(rng.standard_normal(s.shape) for s in state)
    dx, dstate0 = layer.backward(dy, pack(dstate))
    grads = {n: p.grad.copy() for n, p in layer.named_parameters()}
    as_tuple = lambda s: s if isinstance(s, tuple) else (s,)  # noqa: E731

    run = [0, 2]  # the sequences that run, alone
    layer.zero_grad()
    y_run, state_run = layer(x[:, run], pack(tuple(s[:, run] for s in state)), lengths=lengths[run])
    dx_run, dstate0_run = layer.backward(dy[:, run], pack(tuple(s[:, run] for s in dstate)))
    np.testing.assert_allclose(y[:, run], y_run, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx[:, run], dx_run, rtol=1e-12, atol=1e-14)
    for n, p in layer.named_parameters():
        np.testing.assert_allclose(grads[n], p.grad, rtol=1e-12, atol=1e-14, err_msg=n)
    for a, b, s0, d, d0 in zip(as_tuple(state_n), as_tuple(state_run), state, dstate, as_tuple(dstate0)):  # fmt: skip
        np.testing.assert_allclose(a[:, run], b, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(a[:, [1, 3]], s0[:, [1, 3]])  # the state kept
        np.testing.assert_array_equal(d0[:, [1, 3]], d[:, [1, 3]])  # its gradient passed through
    for a, b in zip(as_tuple(dstate0), as_tuple(dstate0_run)):
        np.testing.assert_allclose(a[:, run], b, rtol=1e-12, atol=1e-14)
    assert not y[:, [1, 3]].any() and not dx[:, [1, 3]].any()


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_lengths_with_zeros_pass_gradcheck(kind):
    rng = np.random.default_rng(3)
    layer = LAYERS[kind](2, 3, bidirectional=True, rng=rng)
    for p in layer.parameters():
        p.data[...] = rng.uniform(-0.6, 0.6, p.data.shape)
    report = gn.gradcheck(layer, rng.standard_normal((3, 3, 2)), lengths=[3, 0, 2])
    assert report.ok, f"\n{report}"
