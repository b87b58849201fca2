"""What LSTM, GRU and RNN share, checked for each (gatednp/recurrent.py, cells.py and the engines).

Per cell kind: the layer's backward by finite differences (every element of every parameter and
of x and the initial states), outputs and every gradient against the step loop of tests/oracle.py
in several layouts, a hand-written loop over the cell is BPTT, a sequence split in two with the
state carried equals the whole, and the structural checks (zero in, zero out; shapes; inputs
untouched). Variants are in tests/test_engine.py and tests/test_steps.py.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gatednp as gn
from tests import oracle
from tests.conftest import SHAPES, randomize

KINDS = ["lstm", "gru", "rnn"]
LAYER = {"lstm": gn.LSTM, "gru": gn.GRU, "rnn": gn.RNN}
CELL = {"lstm": gn.LSTMCell, "gru": gn.GRUCell, "rnn": gn.RNNCell}
PAIR = {"lstm": True, "gru": False, "rnn": False}
kinds = pytest.mark.parametrize("kind", KINDS)


def make_layer(kind, I, H, seed, **kw):
    rng = np.random.default_rng(seed)
    return randomize(LAYER[kind](I, H, rng=rng, **kw), rng), rng


def random_state(kind, rng, L, B, H, proj_size=0):
    h0 = rng.standard_normal((L, B, proj_size or H))
    return (h0, rng.standard_normal((L, B, H))) if PAIR[kind] else h0


def parts(state):
    return list(state) if isinstance(state, tuple) else [state]


@kinds
@given(**SHAPES)
def test_finite_differences(kind, T, B, I, H, seed):
    """Tier A: every element of every parameter and of x, h0 (c0), random upstream."""
    layer, rng = make_layer(kind, I, H, seed)
    report = gn.gradcheck(
        layer, rng.standard_normal((T, B, I)), random_state(kind, rng, 1, B, H), seed=seed
    )
    names = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "x", "h0"}
    assert {r.name for r in report.rows} >= names
    assert report.ok, f"\n{report}"


LAYOUTS = [
    {},
    {"num_layers": 2, "bidirectional": True},
    {"bidirectional": True, "lengths": [3, 5, 1]},
    {"batch_first": True, "num_layers": 2},
]


@pytest.mark.parametrize(
    "kind, options", [(k, o) for k in KINDS for o in LAYOUTS] + [("lstm", {"proj_size": 2})]
)
def test_outputs_and_gradients_equal_the_step_oracle(kind, options):
    """The layer (engine, stacking, packing) against the loop over the textbook step."""
    options = dict(options)
    lengths = options.pop("lengths", None)
    layer, rng = make_layer(kind, 2, 3, 7, **options)
    L = layer.num_layers * layer.num_directions
    x = rng.standard_normal((3, 5, 2) if layer.batch_first else (5, 3, 2))
    state = random_state(kind, rng, L, 3, 3, options.get("proj_size", 0))
    y, s = layer(x, state, lengths=lengths)
    dy = rng.standard_normal(y.shape)
    ds = [rng.standard_normal(p.shape) for p in parts(s)]
    layer.zero_grad()
    dx, dstate0 = layer.backward(dy, tuple(ds) if PAIR[kind] else ds[0])
    tm = (lambda a: a.transpose(1, 0, 2)) if layer.batch_first else (lambda a: a)  # noqa: E731
    expected = oracle.run(layer, tm(x), tuple(parts(state)), lengths, tm(dy), tuple(ds))
    names = layer.kind.state
    ours = {"y": tm(y), "x": tm(dx), **{f"{n}_n": a for n, a in zip(names, parts(s))}}
    ours.update({f"{n}0": a for n, a in zip(names, parts(dstate0))})
    ours.update({name: p.grad for name, p in layer.named_parameters()})
    assert ours.keys() == expected.keys()
    for name, g in ours.items():
        err = np.abs(g - expected[name]).max()
        assert err <= 1e-12 * max(1.0, np.abs(expected[name]).max()), (
            f"{name}: |ours − oracle| = {err:.2e}"
        )


@kinds
@given(**SHAPES)
def test_cell_loop_is_bptt(kind, T, B, I, H, seed):
    """T calls of the cell, then T backward calls newest first, equal the layer's forward/backward."""
    layer, rng = make_layer(kind, I, H, seed)
    cell = CELL[kind](I, H)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()})
    x = rng.standard_normal((T, B, I))
    state = random_state(kind, rng, 1, B, H)
    y, s_n = layer(x, state)
    dy = rng.standard_normal(y.shape)
    ds = [rng.standard_normal(p.shape) for p in parts(s_n)]
    layer.zero_grad()
    dx, d0 = layer.backward(dy, tuple(ds) if PAIR[kind] else ds[0])

    s = tuple(p[0] for p in parts(state))
    hs = []
    for t in range(T):
        out = cell(x[t], s if PAIR[kind] else s[0])
        s = out if PAIR[kind] else (out,)
        hs.append(s[0])
    np.testing.assert_allclose(np.stack(hs), y, rtol=0, atol=1e-14, err_msg="y")
    d = [g[0] for g in ds]
    d[0] = d[0] + dy[T - 1]
    dxs = [None] * T
    for t in reversed(range(T)):
        dxs[t], back = cell.backward(tuple(d) if PAIR[kind] else d[0])
        d = list(back) if PAIR[kind] else [back]
        if t > 0:
            d[0] = d[0] + dy[t - 1]
    np.testing.assert_allclose(np.stack(dxs), dx, rtol=0, atol=1e-13, err_msg="dx")
    for got, want, name in zip(d, parts(d0), ["dh0", "dc0"], strict=False):
        np.testing.assert_allclose(got, want[0], rtol=0, atol=1e-13, err_msg=name)
    for (name, p), (_, q) in zip(cell.named_parameters(), layer.named_parameters(), strict=True):
        np.testing.assert_allclose(p.grad, q.grad, rtol=0, atol=1e-12, err_msg=name)


@kinds
@given(T=st.integers(2, 8), B=st.integers(1, 4), seed=st.integers(0, 2**16), data=st.data())
def test_split_sequence_equals_whole(kind, T, B, seed, data):
    """Forward in two pieces carrying the state, backward carrying the state gradient back."""
    split = data.draw(st.integers(1, T - 1))
    I, H = 3, 4
    layer, rng = make_layer(kind, I, H, seed)
    x = rng.standard_normal((T, B, I))
    state = random_state(kind, rng, 1, B, H)
    y, s_n = layer(x, state)
    dy = rng.standard_normal(y.shape)
    ds = tuple(rng.standard_normal(p.shape) for p in parts(s_n))
    layer.zero_grad()
    dx, d0 = layer.backward(dy, ds if PAIR[kind] else ds[0])
    whole = {n: p.grad.copy() for n, p in layer.named_parameters()}

    layer.zero_grad()
    y1, s1 = layer(x[:split], state)
    s1 = tuple(np.array(p) for p in parts(s1))
    y2, s2 = layer(x[split:], s1 if PAIR[kind] else s1[0])
    np.testing.assert_allclose(np.concatenate([y1, y2]), y, rtol=0, atol=1e-14)
    for a, b in zip(parts(s2), parts(s_n), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)
    dx2, d1 = layer.backward(dy[split:], ds if PAIR[kind] else ds[0])
    layer(x[:split], state)  # the second piece's backward consumed the cache: rerun the first
    dx1, d0_split = layer.backward(dy[:split], d1)
    np.testing.assert_allclose(np.concatenate([dx1, dx2]), dx, rtol=0, atol=1e-13)
    for a, b in zip(parts(d0_split), parts(d0), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)
    for n, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, whole[n], rtol=0, atol=1e-12, err_msg=n)


@kinds
def test_structure(kind):
    """Zero upstream → exactly zero grads; grads keep shape and dtype; inputs untouched; errors."""
    layer, rng = make_layer(kind, 3, 4, 0)
    x = rng.standard_normal((5, 2, 3))
    state = random_state(kind, rng, 1, 2, 4)
    x_copy, state_copy = x.copy(), [p.copy() for p in parts(state)]
    y, s = layer(x, state)
    layer.zero_grad()
    dx, d0 = layer.backward(np.zeros_like(y))
    assert not dx.any() and not any(p.any() for p in parts(d0))
    for name, p in layer.named_parameters():
        assert p.grad.shape == p.data.shape and p.grad.dtype == p.data.dtype, name
        assert not p.grad.any(), name
    np.testing.assert_array_equal(x, x_copy)
    for a, b in zip(parts(state), state_copy, strict=True):
        np.testing.assert_array_equal(a, b)


@kinds
def test_unbatched_input_without_a_state(kind):
    """torch accepts `cell(x)` with x of shape (I,): the state starts as zeros of shape (H,)."""
    cell = CELL[kind](3, 4, rng=0)
    x = np.random.default_rng(0).standard_normal(3)
    out = parts(cell(x))
    batched = parts(cell(x[None]))
    for a, b in zip(out, batched, strict=True):
        assert a.shape == (4,)
        np.testing.assert_array_equal(a, b[0])
    grad = tuple(np.ones(4) for _ in out) if PAIR[kind] else np.ones(4)
    cell.backward(tuple(np.ones((1, 4)) for _ in out) if PAIR[kind] else np.ones((1, 4)))
    dx, d0 = cell.backward(grad)
    assert dx.shape == (3,) and all(p.shape == (4,) for p in parts(d0))
