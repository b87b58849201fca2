"""Keras weights: gatednp layers built from Keras arrays compute what Keras' equations compute,
the arrays round-trip unchanged, and Keras' weight files (both layouts) read back."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import gatednp as gn


def sig(x):
    return 1 / (1 + np.exp(-x))


def keras_forward(kind, weights, x, reset_after=True, activation=np.tanh, recurrent=None):
    """Keras' recurrent layers, written from Keras' own equations (gates on the last axis in
    Keras' order: LSTM i f c o, GRU z r h), batch-major x (B, T, I) -> all outputs."""
    sig = recurrent or globals()["sig"]
    tanh = activation
    kernel, recurrent = weights[0], weights[1]
    H = recurrent.shape[0]
    bias = weights[2] if len(weights) == 3 else np.zeros(kernel.shape[1])
    B, T, _ = x.shape
    h, c, ys = np.zeros((B, H)), np.zeros((B, H)), []
    for t in range(T):
        xt = x[:, t]
        if kind == "lstm":
            z = xt @ kernel + h @ recurrent + bias
            i, f, g, o = (
                sig(z[:, :H]),
                sig(z[:, H : 2 * H]),
                tanh(z[:, 2 * H : 3 * H]),
                sig(z[:, 3 * H :]),
            )
            c = f * c + i * g
            h = o * tanh(c)
        elif kind == "gru":
            b_in, b_rec = (bias[0], bias[1]) if reset_after else (bias, np.zeros_like(bias))
            xz = xt @ kernel + b_in
            if reset_after:
                hz = h @ recurrent + b_rec
                z = sig(xz[:, :H] + hz[:, :H])
                r = sig(xz[:, H : 2 * H] + hz[:, H : 2 * H])
                hh = tanh(xz[:, 2 * H :] + r * hz[:, 2 * H :])
            else:
                z = sig(xz[:, :H] + h @ recurrent[:, :H])
                r = sig(xz[:, H : 2 * H] + h @ recurrent[:, H : 2 * H])
                hh = tanh(xz[:, 2 * H :] + (r * h) @ recurrent[:, 2 * H :])
            h = z * h + (1 - z) * hh
        else:
            h = activation(xt @ kernel + h @ recurrent + bias)
        ys.append(h)
    return np.stack(ys, axis=1)


def keras_weights(rng, kind, I, H, bias=True, reset_after=True):
    G = {"lstm": 4, "gru": 3, "simplernn": 1}[kind]
    w = [rng.uniform(-0.5, 0.5, (I, G * H)), rng.uniform(-0.5, 0.5, (H, G * H))]
    if bias:
        shape = (2, G * H) if kind == "gru" and reset_after else (G * H,)
        w.append(rng.uniform(-0.5, 0.5, shape))
    return w


CASES = [
    ("lstm", True, True),
    ("lstm", False, True),
    ("gru", True, True),
    ("gru", True, False),
    ("gru", False, True),
    ("simplernn", True, True),
]


@pytest.mark.parametrize(("kind", "bias", "reset_after"), CASES)
def test_layer_computes_keras_equations_and_round_trips(kind, bias, reset_after):
    rng = np.random.default_rng(1)
    I, H = 3, 5
    w = keras_weights(rng, kind, I, H, bias, reset_after)
    layer = gn.from_keras(w, kind, reset_after=reset_after)
    x = rng.standard_normal((2, 7, I))
    y, _ = layer(x)
    np.testing.assert_allclose(y, keras_forward(kind, w, x, reset_after), rtol=1e-12, atol=1e-12)
    back = gn.to_keras(layer)
    assert len(back) == len(w)
    for a, b in zip(back, w):
        np.testing.assert_array_equal(a, b)  # the identity: nothing rounded


def test_relu_simplernn_and_float32():
    rng = np.random.default_rng(2)
    w = [a.astype(np.float32) for a in keras_weights(rng, "simplernn", 2, 4)]
    layer = gn.from_keras(w, "simplernn", activation="relu")
    assert layer.dtype == np.float32 and layer.nonlinearity == "relu"
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    want = keras_forward("simplernn", w, x, activation=lambda v: np.maximum(v, 0))
    np.testing.assert_allclose(layer(x)[0], want, rtol=1e-5, atol=1e-6)


KERAS_FUNCTIONS = {  # Keras 3's definitions (keras/src/activations/activations.py)
    "relu": lambda v: np.maximum(v, 0),
    "linear": lambda v: v,
    "hard_sigmoid": lambda v: np.clip(v / 6 + 0.5, 0, 1),
    "softsign": lambda v: v / (1 + np.abs(v)),
    "softplus": lambda v: np.log1p(np.exp(v)),
    "elu": lambda v: np.where(v > 0, v, np.exp(v) - 1),
    "tanh": np.tanh,
    "sigmoid": sig,
}


@pytest.mark.parametrize(
    ("kind", "activation", "recurrent"),
    [
        ("lstm", "relu", "hard_sigmoid"),
        ("lstm", "softsign", "sigmoid"),
        ("gru", "elu", "hard_sigmoid"),
        ("gru", "linear", "softplus"),
        ("simplernn", "softsign", "sigmoid"),
        ("simplernn", "relu", "sigmoid"),
    ],
)
def test_keras_activations(kind, activation, recurrent):
    rng = np.random.default_rng(7)
    w = keras_weights(rng, kind, 2, 3)
    layer = gn.from_keras(w, kind, activation=activation, recurrent_activation=recurrent)
    x = rng.standard_normal((2, 4, 2)) * 3  # reach the hard sigmoid's flat parts
    want = keras_forward(
        kind, w, x, activation=KERAS_FUNCTIONS[activation], recurrent=KERAS_FUNCTIONS[recurrent]
    )
    np.testing.assert_allclose(layer(x)[0], want, rtol=1e-12, atol=1e-12)
    got = gn.keras.keras_activations(layer)
    assert got["activation"] == activation
    assert got.get("recurrent_activation", recurrent) == recurrent
    for a, b in zip(gn.to_keras(layer), w):
        np.testing.assert_array_equal(a, b)


def test_stacked_bidirectional_is_keras_weight_order():
    """Bidirectional(LSTM) then LSTM: forward layer, backward layer, next layer's weights;
    the backward direction reads the sequence reversed and its outputs are flipped back."""
    rng = np.random.default_rng(3)
    I, H = 2, 3
    fw, bw = keras_weights(rng, "lstm", I, H), keras_weights(rng, "lstm", I, H)
    top_f, top_b = keras_weights(rng, "lstm", 2 * H, H), keras_weights(rng, "lstm", 2 * H, H)
    layer = gn.from_keras(fw + bw + top_f + top_b, "lstm", num_layers=2, bidirectional=True)
    x = rng.standard_normal((2, 6, I))

    def bidir(wf, wb, inp):
        back = keras_forward("lstm", wb, inp[:, ::-1])[:, ::-1]
        return np.concatenate([keras_forward("lstm", wf, inp), back], axis=-1)

    want = bidir(top_f, top_b, bidir(fw, bw, x))
    np.testing.assert_allclose(layer(x)[0], want, rtol=1e-12, atol=1e-12)
    for a, b in zip(gn.to_keras(layer), fw + bw + top_f + top_b):
        np.testing.assert_array_equal(a, b)


def test_gatednp_to_keras_to_gatednp_keeps_the_function():
    """torch's two biases become Keras' one (summed); the layer computes the same."""
    layer = gn.LSTM(3, 4, rng=0, batch_first=True)
    again = gn.from_keras(gn.to_keras(layer), "lstm")
    x = np.random.default_rng(4).standard_normal((2, 5, 3))
    np.testing.assert_allclose(again(x)[0], layer(x)[0], rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda w: gn.from_keras(w, "conv"), "kind must be"),
        (lambda w: gn.from_keras(w[:1], "lstm"), "have 2 .* or 3 arrays; got 1"),
        (lambda w: gn.from_keras([w[0][:, :-1], *w[1:]], "lstm"), r"kernel is \(I, 4·H\)"),
        (lambda w: gn.from_keras([w[0], w[1][:-1], w[2]], "lstm"), "recurrent_kernel"),
        (lambda w: gn.from_keras([w[0], w[1], w[2][:-1]], "lstm"), "bias"),
        (lambda w: gn.from_keras(w, "lstm", activation="swish"), "no gatednp match"),
        (lambda w: gn.to_keras(gn.LSTM(2, 3, clip=1.0)), "Keras has no LSTM"),
        (
            lambda w: gn.to_keras(gn.GRU(2, 3, activations=("hardsigmoid", "tanh"))),
            "Keras has no activation equal to 'hardsigmoid'",
        ),
        (lambda w: gn.to_keras(gn.LSTM(2, 3, peepholes=True)), "Keras has no LSTM"),
        (lambda w: gn.to_keras(gn.LSTM(2, 3, proj_size=2)), "Keras has no LSTM"),
    ],
)
def test_errors_name_what_was_expected(call, message):
    w = keras_weights(np.random.default_rng(5), "lstm", 2, 3)
    with pytest.raises(ValueError, match=message):
        call(w)


def test_weight_files_in_both_keras_layouts(tmp_path):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(6)
    lstm_w, dense_w = keras_weights(rng, "lstm", 2, 3), [rng.random((3, 1)), rng.random(1)]
    # Keras 3 (keras/src/saving/saving_lib.py): one "vars" group of 0, 1, 2... per object
    new = tmp_path / "model.weights.h5"
    with h5py.File(new, "w") as f:
        for k, a in enumerate(lstm_w):
            f.create_dataset(f"layers/lstm/cell/vars/{k}", data=a)
        for k, a in enumerate(dense_w):
            f.create_dataset(f"layers/dense/vars/{k}", data=a)
        f.create_group("optimizer/vars")  # empty groups are not layers
    # Keras 2 (legacy hdf5_format): layer_names, then weight_names per layer group
    old = tmp_path / "legacy.h5"
    with h5py.File(old, "w") as f:
        f.attrs["layer_names"] = [b"lstm", b"dense"]
        names = [
            b"lstm/lstm_cell/kernel:0",
            b"lstm/lstm_cell/recurrent_kernel:0",
            b"lstm/lstm_cell/bias:0",
        ]
        f.create_group("lstm").attrs["weight_names"] = names
        for name, a in zip(names, lstm_w):
            f["lstm"].create_dataset(name.decode(), data=a)
        f.create_group("dense").attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
        for name, a in zip(["dense/kernel:0", "dense/bias:0"], dense_w):
            f["dense"].create_dataset(name, data=a)
    for path, key in ((new, "layers/lstm/cell"), (old, "lstm")):
        layers = gn.read_keras_weights(path)
        assert len(layers) == 2
        for a, b in zip(layers[key], lstm_w):
            np.testing.assert_array_equal(a, b)
        assert gn.from_keras(layers[key], "lstm").hidden_size == 3
    empty = tmp_path / "empty.h5"
    h5py.File(empty, "w").close()
    with pytest.raises(ValueError, match="holds no Keras layer weights"):
        gn.read_keras_weights(empty)
    with pytest.raises(FileNotFoundError, match="no Keras weights file"):
        gn.read_keras_weights(tmp_path / "missing.h5")


def test_without_h5py_the_message_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r'pip install "gatednp\[keras\]"'):
        gn.read_keras_weights(tmp_path / "x.h5")
