"""Checks every recurrent cell must pass, shared by test_lstm.py and test_gru.py.

Each takes `kind` ("lstm" or "gru") and builds modules through the public API only.
"""

from __future__ import annotations

import numpy as np

import gatednp as gn
from tests import reference as ref
from tests.conftest import randomize

LAYER = {"lstm": gn.LSTM, "gru": gn.GRU}
CELL = {"lstm": gn.LSTMCell, "gru": gn.GRUCell}
ORACLE = {"lstm": ref.lstm, "gru": ref.gru}
PAIR = {"lstm": True, "gru": False}


def make_layer(kind, I, H, seed, **kw):
    rng = np.random.default_rng(seed)
    return randomize(LAYER[kind](I, H, rng=rng, **kw), rng), rng


def random_state(kind, rng, L, B, H, proj_size=0):
    h0 = rng.standard_normal((L, B, proj_size or H))
    return (h0, rng.standard_normal((L, B, H))) if PAIR[kind] else h0


def parts(state):
    return list(state) if isinstance(state, tuple) else [state]


def check_gradients_by_finite_differences(kind, T, B, I, H, seed):
    """Tier A: every element of every parameter and of x, h0 (c0), random upstream."""
    layer, rng = make_layer(kind, I, H, seed)
    x = rng.standard_normal((T, B, I))
    report = gn.gradcheck(layer, x, random_state(kind, rng, 1, B, H), seed=seed)
    assert {r.name for r in report.rows} >= {
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "x",
        "h0",
    }
    assert report.ok, f"\n{report}"
    return report


def check_against_complex_step_oracle(kind, T, B, I, H, seed, **options):
    """Hand BPTT equals the complex-step derivative of the slow reference, to ~1e-13."""
    lengths = options.pop("lengths", None)
    layer, rng = make_layer(kind, I, H, seed, **options)
    D = 2 if options.get("bidirectional") else 1
    L = D * options.get("num_layers", 1)
    x = rng.standard_normal((T, B, I))
    state = random_state(kind, rng, L, B, H, options.get("proj_size", 0))
    y, s = layer(x, state, lengths=lengths)
    dy = rng.standard_normal(y.shape)
    ds = [rng.standard_normal(p.shape) for p in parts(s)]
    layer.zero_grad()
    dx, dstate0 = layer.backward(dy, tuple(ds) if PAIR[kind] else ds[0])

    names = ["x", "h0", "c0"][: 1 + len(parts(state))]
    arrays = {**dict(zip(names, [x, *parts(state)], strict=True)), **layer.state_dict()}
    ref_kw = {k: v for k, v in options.items() if k in ("num_layers", "bidirectional", "proj_size")}

    def f(a):
        params = {k: v for k, v in a.items() if k not in names}
        st = tuple(a[n] for n in names[1:])
        return ORACLE[kind](params, a["x"], st if PAIR[kind] else st[0], lengths=lengths, **ref_kw)

    expected = ref.complex_step_grad(f, arrays, (dy, tuple(ds) if PAIR[kind] else ds[0]))
    ours = {"x": dx, **dict(zip(names[1:], parts(dstate0), strict=True))}
    ours.update({name: p.grad for name, p in layer.named_parameters()})
    assert ours.keys() == expected.keys()
    for name, g in ours.items():
        err = np.abs(g - expected[name]).max()
        assert err <= 1e-12 * max(1.0, np.abs(expected[name]).max()), (
            f"{name}: |ours − oracle| = {err:.2e}"
        )


def check_forward_matches_reference(kind, T, B, I, H, seed, **options):
    layer, rng = make_layer(kind, I, H, seed, **options)
    L = (2 if options.get("bidirectional") else 1) * options.get("num_layers", 1)
    x = rng.standard_normal((T, B, I))
    state = random_state(kind, rng, L, B, H, options.get("proj_size", 0))
    y, s = layer(x, state)
    y_ref, s_ref = ORACLE[kind](layer.state_dict(), x, state, **options)
    for name, a, b in [("y", y, y_ref), *zip(["h_n", "c_n"], parts(s), parts(s_ref), strict=False)]:
        assert np.abs(a - b).max() <= 1e-12, f"{name}: {np.abs(a - b).max():.2e}"


def check_cell_loop_is_bptt(kind, T, B, I, H, seed):
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


def check_split_sequence_equals_whole(kind, T, B, I, H, seed, split):
    """Forward in two pieces carrying the state, backward carrying the state gradient back."""
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


def check_structure(kind):
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
