"""gn.convert_gates: every documented order, both directions, the errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import gatednp as gn
from gatednp.gates import GATE_ORDERS, gate_order

# The orders as each library documents them, in its own letters (not read from gates.py)
DOCUMENTED = {
    ("lstm", "torch"): "ifgo",  # torch.nn.LSTM: W_ii|W_if|W_ig|W_io
    ("lstm", "onnx"): "iofc",  # ONNX LSTM: W[iofc]
    ("lstm", "keras"): "ifco",  # Keras LSTM: i, f, c, o
    ("lstm", "cs231n"): "ifog",  # CS231n: i, f, o, g
    ("lstm", "dlfs2"): "fgio",  # Saito: f, g, i, o
    ("gru", "torch"): "rzn",  # torch.nn.GRU: W_ir|W_iz|W_in
    ("gru", "onnx"): "zrh",  # ONNX GRU: W[zrh]
    ("gru", "keras"): "zrh",  # Keras GRU: z, r, h
}
SAME = {"c": "g", "h": "n"}  # the candidate's other names


def labelled(order: str, size: int, cols: int = 3) -> np.ndarray:
    """A weight whose block k holds the code of the gate letter order[k] (its candidate's
    letter normalised), plus a distinct fraction per element so moves inside blocks show."""
    codes = np.repeat([ord(SAME.get(ch, ch)) for ch in order], size).astype(float)
    return codes[:, None] + np.arange(len(order) * size * cols).reshape(-1, cols) * 1e-4


def test_every_documented_pair_moves_the_blocks():
    for (cell, a), (cell_b, b) in itertools.product(DOCUMENTED, DOCUMENTED):
        if cell != cell_b:
            continue
        size = 2
        w = labelled(DOCUMENTED[cell, a], size)
        out = gn.convert_gates(w, a, b, cell=cell)
        want_codes = np.repeat([ord(SAME.get(ch, ch)) for ch in DOCUMENTED[cell, b]], size)
        np.testing.assert_array_equal(np.floor(out[:, 0]), want_codes)
        back = gn.convert_gates(out, b, a, cell=cell)
        np.testing.assert_array_equal(back, w)  # rows moved whole, nothing else changed


def test_named_orders_cover_the_documented_ones():
    for (cell, name), letters in DOCUMENTED.items():
        assert gate_order(name, cell) == (cell, "".join(SAME.get(c, c) for c in letters))
    assert set(GATE_ORDERS["lstm"]) >= {"torch", "onnx", "keras", "cs231n", "dlfs2"}


def test_letters_and_axes():
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((3, 4 * 5))  # Keras kernel (I, 4H): gates on the last axis
    torch_w = gn.convert_gates(kernel, "keras", "torch", cell="lstm", axis=-1).T
    np.testing.assert_array_equal(torch_w, kernel.T)  # Keras and torch share i f g o
    onnx_w = gn.convert_gates(kernel.T, "ifco", "iofc")
    np.testing.assert_array_equal(onnx_w[5:10], kernel.T[15:20])  # o moved to second
    bias = rng.standard_normal((2, 9))  # Keras GRU bias with reset_after: (2, 3H)
    out = gn.convert_gates(bias, "zrh", "rzn", axis=1)
    np.testing.assert_array_equal(out[:, :3], bias[:, 3:6])
    assert gn.convert_gates(bias, "zrh", "zrh", axis=1) is not bias  # always a copy


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((np.zeros(8), "torch", "onnx"), {}, "pass cell="),
        ((np.zeros(8), "torch", "cs231n"), {"cell": "gru"}, "no gru order named"),
        ((np.zeros(8), "ifgx", "ifgo"), {}, "neither a named gate order"),
        ((np.zeros(9), "ifgo", "iofg"), {}, "not a multiple of 4"),
        ((np.zeros(9), "rzn", "ifgo"), {}, "is an order of gru"),
        ((np.zeros(8), "ifgo", "iofg"), {"cell": "cnn"}, "cell must be one of"),
        ((np.float64(1.0), "ifgo", "iofg"), {}, "scalar"),
    ],
)
def test_errors_name_what_was_expected(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        gn.convert_gates(*args, **kwargs)
