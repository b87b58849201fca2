"""gate_activations(): the activations it returns are the ones the equations give, in time order."""

import numpy as np
import pytest

import gatednp as gn
from gatednp import gate_activations
from tests.conftest import randomize


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def recompute_lstm(w, x, a, h0, c0, reverse):
    """Check every gate of one (layer, direction) from x and the returned h and c."""
    T = x.shape[0]
    W_ih, W_hh, b = w["weight_ih"], w["weight_hh"], w["bias_ih"] + w["bias_hh"]
    H = W_hh.shape[1]
    for t in range(T):
        prev = t + 1 if reverse else t - 1
        h_prev, c_prev = (h0, c0) if prev in (-1, T) else (a["h"][prev], a["c"][prev])
        pre = x[t] @ W_ih.T + h_prev @ W_hh.T + b
        i, f, g, o = (pre[:, k * H : (k + 1) * H] for k in range(4))
        expected = dict(i=sigmoid(i), f=sigmoid(f), g=np.tanh(g), o=sigmoid(o))
        expected["c"] = expected["f"] * c_prev + expected["i"] * expected["g"]
        expected["h"] = expected["o"] * np.tanh(expected["c"])
        for name, e in expected.items():
            np.testing.assert_allclose(
                a[name][t], e, rtol=1e-11, atol=1e-12, err_msg=f"{name}[{t}]"
            )


def recompute_gru(w, x, a, h0, reverse):
    T = x.shape[0]
    H = w["weight_hh"].shape[1]
    gi = x @ w["weight_ih"].T + w["bias_ih"]
    for t in range(T):
        prev = t + 1 if reverse else t - 1
        h_prev = h0 if prev in (-1, T) else a["h"][prev]
        gh = h_prev @ w["weight_hh"].T + w["bias_hh"]
        r = sigmoid(gi[t, :, :H] + gh[:, :H])
        z = sigmoid(gi[t, :, H : 2 * H] + gh[:, H : 2 * H])
        n = np.tanh(gi[t, :, 2 * H :] + r * gh[:, 2 * H :])
        expected = dict(r=r, z=z, n=n, h=(1 - z) * n + z * h_prev)
        for name, e in expected.items():
            np.testing.assert_allclose(
                a[name][t], e, rtol=1e-11, atol=1e-12, err_msg=f"{name}[{t}]"
            )


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gates_equal_the_equations_for_every_layer_and_direction(kind):
    rng = np.random.default_rng(0)
    cls = {"lstm": gn.LSTM, "gru": gn.GRU}[kind]
    layer = randomize(cls(3, 4, num_layers=2, bidirectional=True, rng=rng), rng)
    T, B = 5, 2
    x = rng.standard_normal((T, B, 3))
    h0 = rng.standard_normal((4, B, 4))
    state = (h0, rng.standard_normal((4, B, 4))) if kind == "lstm" else h0
    acts = gate_activations(layer, x, state)
    assert sorted(acts) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    sd = layer.state_dict()
    layer_input = x
    for lay in range(2):
        for d in range(2):
            suffix = f"_l{lay}" + ("_reverse" if d else "")
            w = {k: sd[k + suffix] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            k = 2 * lay + d
            if kind == "lstm":
                recompute_lstm(w, layer_input, acts[lay, d], h0[k], state[1][k], reverse=d == 1)
            else:
                recompute_gru(w, layer_input, acts[lay, d], h0[k], reverse=d == 1)
        layer_input = np.concatenate([acts[lay, 0]["h"], acts[lay, 1]["h"]], axis=2)
    y, _ = layer.eval()(x, state)
    np.testing.assert_allclose(layer_input, y, rtol=0, atol=0)  # the last layer's h is y


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gates_with_lengths_equal_each_sequence_run_alone(kind):
    rng = np.random.default_rng(1)
    cls = {"lstm": gn.LSTM, "gru": gn.GRU}[kind]
    layer = randomize(cls(2, 3, bidirectional=True, batch_first=True, rng=rng), rng)
    lengths = np.array([3, 6, 1, 4])
    x = rng.standard_normal((4, 6, 2))
    acts = gate_activations(layer, x, lengths=lengths)
    for b, L in enumerate(lengths):
        alone = gate_activations(layer, x[b : b + 1, :L])
        for key, per_dir in acts.items():
            for name, a in per_dir.items():
                assert a.shape[:2] == (6, 4)  # time-major although the layer is batch_first
                np.testing.assert_allclose(a[:L, b], alone[key][name][:, 0], rtol=1e-12, atol=1e-13)
                assert np.isnan(a[L:, b]).all(), f"{name} past the end of sequence {b}"


def test_gates_leave_no_cache_and_restore_the_mode():
    layer = gn.LSTM(2, 3, num_layers=2, dropout=0.5, rng=0).eval()
    x = np.random.default_rng(0).standard_normal((4, 1, 2))
    acts = gate_activations(layer, x)
    assert not layer.training and layer.dropout == 0.5
    with pytest.raises(RuntimeError, match="forward pass in training mode"):
        layer.backward(np.zeros((4, 1, 3)))
    y, _ = layer(x)  # dropout plays no part in what gate_activations() reports
    np.testing.assert_array_equal(acts[1, 0]["h"], y)


def test_gates_unbatched_and_projection():
    layer = gn.LSTM(2, 4, proj_size=2, rng=0)
    acts = gate_activations(layer, np.ones((5, 2)))
    assert acts[0, 0]["h"].shape == (5, 1, 2) and acts[0, 0]["c"].shape == (5, 1, 4)


def test_gates_rejects_other_modules():
    with pytest.raises(TypeError, match="layer must be"):
        gate_activations(gn.LSTMCell(2, 3), np.zeros((2, 2)))


def test_rnn_gives_its_states_in_time_order_for_both_directions():
    rng = np.random.default_rng(2)
    layer = randomize(gn.RNN(2, 3, bidirectional=True, rng=rng), rng)
    x, h0 = rng.standard_normal((4, 2, 2)), rng.standard_normal((2, 2, 3))
    acts = gate_activations(layer, x, h0)
    assert sorted(acts[0, 1]) == ["h"]
    sd = layer.state_dict()
    for d, suffix in enumerate(("_l0", "_l0_reverse")):
        W, R = sd["weight_ih" + suffix], sd["weight_hh" + suffix]
        b = sd["bias_ih" + suffix] + sd["bias_hh" + suffix]
        h = acts[0, d]["h"]
        for t in range(4):
            prev = t + 1 if d else t - 1
            h_prev = h0[d] if prev in (-1, 4) else h[prev]
            np.testing.assert_allclose(
                h[t], np.tanh(x[t] @ W.T + h_prev @ R.T + b), rtol=1e-12, atol=1e-13
            )
