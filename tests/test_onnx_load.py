"""gn.onnx.load on graphs built by hand with onnx.helper, as other exporters write them: the
glue between layers, a MatMul + Add head, zero initial states, and the clear errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

import gatednp as gn

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from gatednp.onnx.schema import UnsupportedError  # noqa: E402

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


class Builder:
    """A float32 graph from "x" (T, B, I) made of nodes with random ONNX-layout weights."""

    def __init__(self, seed: int = 0):
        self.rng, self.nodes, self.inits = np.random.default_rng(seed), [], []

    def const(self, name, value):
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def recurrent(self, op, x, I, H, name, D=1, bias=True, **attrs):
        G, r = GATES[op], self.rng
        ins = [x, self.const(f"{name}_W", r.uniform(-0.5, 0.5, (D, G * H, I)).astype(np.float32)),
               self.const(f"{name}_R", r.uniform(-0.5, 0.5, (D, G * H, H)).astype(np.float32))]  # fmt: skip
        if bias:
            ins.append(
                self.const(f"{name}_B", r.uniform(-0.5, 0.5, (D, 2 * G * H)).astype(np.float32))
            )
        outs = [f"{name}_Y", f"{name}_Yh"] + ([f"{name}_Yc"] if op == "LSTM" else [])
        if D == 2:
            attrs.setdefault("direction", "bidirectional")
        self.nodes.append(helper.make_node(op, ins, outs, name=name, hidden_size=H, **attrs))
        return outs

    def node(self, op, ins, name, **attrs):
        self.nodes.append(helper.make_node(op, ins, [name], name=name, **attrs))
        return name

    def model(self, outputs, I=3, x_shape=None):
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape or ["T", "B", I])
        outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs]
        graph = helper.make_graph(self.nodes, "g", [x], outs, self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


def assert_refused(proto, pattern: str, **kwargs) -> None:
    with pytest.raises(UnsupportedError, match=pattern):
        gn.onnx.load(proto, **kwargs)


def run_both(proto, x):
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x}), ReferenceEvaluator(proto).run(None, {"x": x})


def exporter_style_stack(op="LSTM", batch_first=True):
    """torch.onnx's shape of a 2-layer bidirectional stack and a head on the last step:
    Transpose in, Transpose + Reshape between layers, Slice + Squeeze, MatMul + Add."""
    b = Builder(1)
    x = b.node("Transpose", ["x"], "x_tm", perm=[1, 0, 2]) if batch_first else "x"
    y0 = b.recurrent(op, x, 3, 4, "L0", D=2)[0]
    t0 = b.node("Transpose", [y0], "L0_tbdh", perm=[0, 2, 1, 3])
    f0 = b.node("Reshape", [t0, b.const("shape", np.array([0, 0, -1], np.int64))], "L0_out")
    y1 = b.recurrent(op, f0, 8, 4, "L1", D=2)[0]
    t1 = b.node("Transpose", [y1], "L1_tbdh", perm=[0, 2, 1, 3])
    f1 = b.node("Reshape", [t1, "shape"], "L1_out")
    ends = b.const("ends", np.array([2**63 - 1], np.int64))
    last = b.node(
        "Slice",
        [
            f1,
            b.const("starts", np.array([-1], np.int64)),
            ends,
            b.const("axes0", np.array([0], np.int64)),
        ],
        "last",
    )
    last = b.node("Squeeze", [last, "axes0"], "last_bf")
    w = b.const("fc_w", b.rng.uniform(-0.5, 0.5, (8, 2)).astype(np.float32))
    mm = b.node("MatMul", [last, w], "mm")
    out = b.node("Add", [mm, b.const("fc_b", np.array([0.3, -0.2], np.float32))], "pred")
    return b.model([out])


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_an_exporter_style_stack_with_a_head_loads(op, batch_first):
    proto = exporter_style_stack(op, batch_first)
    model = gn.onnx.load(proto)
    assert type(model).__name__ == "SequenceModel" and model.rnn.num_layers == 2
    assert model.rnn.bidirectional and model.batch_first == batch_first
    x = (
        np.random.default_rng(0)
        .standard_normal((2, 5, 3) if batch_first else (5, 2, 3))
        .astype(np.float32)
    )
    (by_ort,), (by_ref,) = run_both(proto, x)
    np.testing.assert_allclose(model(x), by_ort, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model(x), by_ref, rtol=1e-5, atol=1e-5)


def test_zero_initial_states_given_as_constants_are_the_default():
    b = Builder(2)
    zeros = b.const("zeros", np.zeros((1, 2, 4), np.float32))
    y, yh, yc = b.recurrent("LSTM", "x", 3, 4, "L0")
    b.nodes[-1].input.extend(["", zeros, zeros])
    proto = b.model([y, yh, yc])
    lstm = gn.onnx.load(proto)
    x = np.random.default_rng(1).standard_normal((4, 2, 3)).astype(np.float32)
    got, _ = run_both(proto, x)
    out, (h, c) = lstm(x)
    np.testing.assert_allclose(out, got[0][:, 0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h, got[1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(c, got[2], rtol=1e-5, atol=1e-5)


def test_weights_given_as_graph_inputs_need_their_values():
    b = Builder()
    b.recurrent("GRU", "x", 3, 4, "G")
    proto = b.model(["G_Y"])
    W = numpy_helper.to_array(proto.graph.initializer[0])
    del proto.graph.initializer[0]
    proto.graph.input.append(helper.make_tensor_value_info("G_W", TensorProto.FLOAT, W.shape))
    assert_refused(
        proto,
        re.escape(
            "node 'G': input W ('G_W') is not a constant: pass its value in weights={'G_W': array}"
        ),
    )
    assert gn.onnx.load(proto, weights={"G_W": W}).input_size == 3
    with pytest.raises(ValueError, match="not inputs of the graph"):
        gn.onnx.load(proto, weights={"nope": W})


def test_an_unknown_op_in_the_chain_is_named():
    b = Builder()
    y = b.recurrent("RNN", "x", 3, 4, "R0")[0]
    s = b.node("Squeeze", [y, b.const("axes", np.array([1], np.int64))], "sq")
    r = b.node("Relu", [s], "Relu_0")
    b.recurrent("RNN", r, 4, 4, "R1")
    assert_refused(
        b.model(["R1_Y"]),
        r"node 'Relu_0': op Relu on the recurrent data is not one gatednp can load",
    )


def test_glue_that_interleaves_the_directions_is_refused():
    b = Builder()
    y = b.recurrent("GRU", "x", 3, 4, "G0", D=2)[0]
    t = b.node("Transpose", [y], "tbhd", perm=[0, 2, 3, 1])  # (T, B, H, D): not torch's concat
    f = b.node("Reshape", [t, b.const("shape", np.array([0, 0, -1], np.int64))], "Reshape_0")
    b.recurrent("GRU", f, 8, 4, "G1")
    assert_refused(
        b.model(["G1_Y"]), r"node 'Reshape_0': Reshape on a tensor with axes \('T', 'B', 'H', 'D'\)"
    )


def test_different_activations_per_direction_are_refused():
    b = Builder()
    b.recurrent("RNN", "x", 3, 4, "RNN_0", D=2, activations=["Tanh", "Relu"])
    assert_refused(
        b.model(["RNN_0_Y"]),
        r"node 'RNN_0': attribute activations=.* differs between the two directions",
    )


def test_relu_rnn_is_the_nonlinearity_option():
    b = Builder()
    b.recurrent("RNN", "x", 3, 4, "RNN_0", D=2, activations=["Relu", "Relu"])
    assert gn.onnx.load(b.model(["RNN_0_Y"])).nonlinearity == "relu"


def test_an_attribute_the_operator_does_not_have_is_named():
    b = Builder()
    b.recurrent("LSTM", "x", 3, 4, "LSTM_0", linear_before_reset=1)
    assert_refused(
        b.model(["LSTM_0_Y"]),
        r"node 'LSTM_0': attribute linear_before_reset=1 is not one of the LSTM operator's",
    )


def test_layers_that_differ_cannot_stack():
    b = Builder()
    y = b.recurrent("GRU", "x", 3, 4, "G0")[0]
    s = b.node("Squeeze", [y, b.const("axes", np.array([1], np.int64))], "sq")
    b.recurrent("GRU", s, 4, 4, "G1", linear_before_reset=1)
    assert_refused(b.model(["G1_Y"]), r"node 'G1': its options .* differs from node 'G0'")


def test_outputs_a_gatednp_layer_does_not_return_are_refused():
    b = Builder()
    y = b.recurrent("GRU", "x", 3, 4, "G0")[0]
    s = b.node("Squeeze", [y, b.const("axes", np.array([1], np.int64))], "sq")
    b.recurrent("GRU", s, 4, 4, "G1")
    assert_refused(
        b.model(["G1_Y", "sq"]), r"graph output 'sq' .* is not what a gatednp layer returns"
    )
    b = Builder()
    y = b.recurrent("GRU", "x", 3, 4, "G0")[0]
    b.node("Transpose", [y], "bt", perm=[2, 0, 1, 3])  # (B, T, D, H) out of a time-major input
    assert_refused(
        b.model(["bt"]),
        r"graph output 'bt' has axes \('B', 'T', 'D', 'H'\), but the input is time-major",
    )


def test_final_states_must_be_every_layers_in_order():
    def two_layers():
        b = Builder()
        y, h0 = b.recurrent("GRU", "x", 3, 4, "G0")
        s = b.node("Squeeze", [y, b.const("axes", np.array([1], np.int64))], "sq")
        h1 = b.recurrent("GRU", s, 4, 4, "G1")[1]
        return b, h0, h1

    b, h0, h1 = two_layers()
    b.node("Concat", [h0, h1], "h_n", axis=0)
    assert gn.onnx.load(b.model(["h_n"])).num_layers == 2
    b, h0, h1 = two_layers()
    b.node("Concat", [h1, h0], "Concat_swapped", axis=0)
    assert_refused(b.model(["Concat_swapped"]), "node 'Concat_swapped': Concat on a tensor")
    b, h0, h1 = two_layers()
    assert_refused(b.model([h0]), "graph output 'G0_Yh' holds the final h of 1 of the 2 layers")


def test_a_graph_without_a_recurrent_node_is_refused(tmp_path):
    b = Builder()
    b.node("Relu", ["x"], "r")
    assert_refused(b.model(["r"]), "no LSTM, GRU or RNN node")
