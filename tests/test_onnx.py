"""gn.onnx.export and gn.onnx.load against onnxruntime (float32) and onnx.reference (float64).

onnxruntime 1.32 runs the LSTM/GRU/RNN operators in float32 only (and layout 0 only), so
float64 is checked against onnx.reference.ReferenceEvaluator, which ignores sequence_lens,
clip, input_forget and the activations of LSTM/GRU (and knows no Relu for RNN): those cases
are compared with onnxruntime alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import gatednp as gn

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
from onnx.reference import ReferenceEvaluator  # noqa: E402

from gatednp.lab.models import SequenceModel  # noqa: E402
from gatednp.onnx.schema import UnsupportedError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
F32 = dict(rtol=1e-5, atol=1e-5)
F64 = dict(rtol=1e-9, atol=1e-10)


def run_ort(proto, feeds: dict) -> list[np.ndarray]:
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def run_ref(proto, feeds: dict) -> list[np.ndarray]:
    return ReferenceEvaluator(proto).run(None, feeds)


def outputs(layer, x, state=None, lengths=None) -> list[np.ndarray]:
    """y, h_n (, c_n) of a gatednp layer, in the exported graph's output order."""
    y, s = layer(x, state, lengths=lengths)
    return [y, *(s if isinstance(s, tuple) else (s,))]


def assert_close(ours, theirs, names, tol):
    assert len(ours) == len(theirs)
    for name, a, b in zip(names, ours, theirs):
        np.testing.assert_allclose(a, b, **tol, err_msg=f"{name}: gatednp vs the runtime")


def feeds_for(layer, rng, *, T=6, B=3, lengths=False, state=False):
    """x, the state tuple and lengths for a layer, and the same as graph feeds."""
    x = rng.standard_normal(
        (B, T, layer.input_size) if layer.batch_first else (T, B, layer.input_size)
    )
    x = x.astype(layer.dtype)
    feeds, st, lens = {"x": x}, None, None
    if state:
        k = layer.num_directions * layer.num_layers
        parts = [
            rng.standard_normal((k, B, layer.hidden_size)).astype(layer.dtype)
            for _ in layer.kind.state
        ]
        feeds.update(zip(("h0", "c0"), parts))
        st = tuple(parts) if len(parts) == 2 else parts[0]
    if lengths:
        lens = rng.integers(1, T + 1, B).astype(np.int32)
        lens[0] = T
        feeds["lengths"] = lens
    return x, st, lens, feeds


LAYERS = [
    ("lstm", lambda **kw: gn.LSTM(3, 4, **kw)),
    ("lstm-peepholes", lambda **kw: gn.LSTM(3, 4, peepholes=True, **kw)),
    ("lstm-coupled", lambda **kw: gn.LSTM(3, 4, forget_gate="coupled", peepholes=True, **kw)),
    ("gru", lambda **kw: gn.GRU(3, 4, **kw)),
    ("gru-no-bias", lambda **kw: gn.GRU(3, 4, bias=False, **kw)),
    ("gru-reset-before", lambda **kw: gn.GRU(3, 4, reset_after=False, **kw)),
    ("rnn-tanh", lambda **kw: gn.RNN(3, 4, **kw)),
    ("rnn-relu", lambda **kw: gn.RNN(3, 4, nonlinearity="relu", **kw)),
]
SHAPES = [  # num_layers, bidirectional, batch_first, lengths, initial state
    (1, False, False, False, False),
    (2, True, True, True, True),
    (3, True, False, True, True),
    (3, False, True, False, True),
]


@pytest.mark.parametrize("L, bidirectional, batch_first, lengths, state", SHAPES)
@pytest.mark.parametrize("name, make", LAYERS, ids=[n for n, _ in LAYERS])
def test_export_runs_in_onnxruntime_as_gatednp(
    name, make, L, bidirectional, batch_first, lengths, state
):
    rng = np.random.default_rng(L)
    layer = make(
        num_layers=L, bidirectional=bidirectional, batch_first=batch_first, dtype=np.float32, rng=1
    )
    proto = gn.onnx.export(layer, lengths=lengths, initial_state=state)
    x, st, lens, feeds = feeds_for(layer, rng, lengths=lengths, state=state)
    ours = outputs(layer, x, st, lens)
    names = [o.name for o in proto.graph.output]
    assert names == ["y", "h_n", "c_n"][: len(ours)]
    assert_close(ours, run_ort(proto, feeds), names, F32)
    assert all(n.domain == "" for n in proto.graph.node)  # standard operators only
    assert sum(n.op_type in ("LSTM", "GRU", "RNN") for n in proto.graph.node) == L


@pytest.mark.parametrize("L, bidirectional, batch_first", [(1, False, False), (2, True, True)])
@pytest.mark.parametrize(
    "name, make",
    [p for p in LAYERS if p[0] != "rnn-relu"],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_float64_export_matches_onnx_reference(name, make, L, bidirectional, batch_first):
    """Also the coupled LSTM: its forget rows are the input rows negated, so a runtime that
    ignores input_forget=1 (onnx.reference does) computes f = σ(−a_i) = 1 − i all the same."""
    layer = make(num_layers=L, bidirectional=bidirectional, batch_first=batch_first, rng=2)
    proto = gn.onnx.export(layer, initial_state=True)
    x, st, _, feeds = feeds_for(layer, np.random.default_rng(3), state=True)
    ours = outputs(layer, x, st)
    assert_close(ours, run_ref(proto, feeds), [o.name for o in proto.graph.output], F64)


@pytest.mark.parametrize(
    "L, bidirectional, batch_first", [(1, False, False), (2, True, True), (3, True, False)]
)
@pytest.mark.parametrize("name, make", LAYERS, ids=[n for n, _ in LAYERS])
def test_load_gives_back_the_layer(name, make, L, bidirectional, batch_first):
    layer = make(
        num_layers=L, bidirectional=bidirectional, batch_first=batch_first, dtype=np.float32, rng=4
    )
    back = gn.onnx.load(gn.onnx.export(layer, lengths=True, initial_state=True))
    assert type(back) is type(layer) and repr(back) == repr(layer)
    assert back.state_dict().keys() == layer.state_dict().keys()
    for key, value in layer.state_dict().items():
        assert np.array_equal(back.state_dict()[key], value), key


@pytest.mark.parametrize("name, make", LAYERS, ids=[n for n, _ in LAYERS])
def test_loaded_layer_equals_onnxruntime_and_reference(name, make):
    layer = make(num_layers=2, bidirectional=True, dtype=np.float32, rng=5)
    proto = gn.onnx.export(layer, lengths=True, initial_state=True)
    back = gn.onnx.load(proto)
    x, st, lens, feeds = feeds_for(back, np.random.default_rng(6), lengths=True, state=True)
    names = [o.name for o in proto.graph.output]
    assert_close(outputs(back, x, st, lens), run_ort(proto, feeds), names, F32)
    if name != "rnn-relu":  # no sequence_lens: onnx.reference does not read them
        plain = gn.onnx.export(layer, initial_state=True)
        del feeds["lengths"]
        assert_close(outputs(back, x, st), run_ref(plain, feeds), names, F32)


@pytest.mark.parametrize(
    "model",
    [gn.LSTMModel(2, 5, 1, rng=0), gn.GRUModel(3, 4, 2, rng=0)],
    ids=["LSTMModel", "GRUModel"],
)
def test_course_models_export_and_load(model, tmp_path):
    x = np.random.default_rng(7).standard_normal((4, 6, model.input_size))
    path = tmp_path / "model.onnx"
    proto = gn.onnx.export(model, path)
    assert path.read_bytes() == proto.SerializeToString()
    onnx.checker.check_model(onnx.load(str(path)))
    assert [n.op_type for n in proto.graph.node][-2:] == ["Gather", "Gemm"]
    np.testing.assert_allclose(model(x), run_ref(proto, {"x": x})[0], **F64)
    small = type(model)(model.input_size, 5, model.output_size, dtype=np.float32, rng=1)
    np.testing.assert_allclose(
        small(x.astype(np.float32)),
        run_ort(gn.onnx.export(small), {"x": x.astype(np.float32)})[0],
        **F32,
    )
    back = gn.onnx.load(path)
    assert type(back) is type(model)
    np.testing.assert_array_equal(back(x), model(x))


def test_sequence_model_per_step_head_round_trip():
    model = SequenceModel(
        gn.GRU(3, 4, num_layers=2, bidirectional=True, dtype=np.float32, rng=0),
        2,
        per_step=True,
        rng=0,
    )
    proto = gn.onnx.export(model)
    x = np.random.default_rng(8).standard_normal((5, 3, 3)).astype(np.float32)
    np.testing.assert_allclose(model(x), run_ort(proto, {"x": x})[0], **F32)
    back = gn.onnx.load(proto)
    assert back.per_step and back.rnn.num_layers == 2
    np.testing.assert_array_equal(back(x), model(x))


def test_the_docs_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "onnx.md").read_text(), flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/onnx.md", "exec"), {})


# -- what cannot be expressed: clear errors naming the option, node and attribute -------------


@pytest.mark.parametrize(
    "layer, message",
    [
        (gn.LSTM(3, 4, proj_size=2), "proj_size=2 has no ONNX equivalent"),
        (gn.LSTM(3, 4, forget_gate="none"), 'forget_gate="none" has no ONNX equivalent'),
    ],
)
def test_export_refuses_what_onnx_cannot_express(layer, message, tmp_path):
    path = tmp_path / "old.onnx"
    path.write_bytes(b"kept")
    with pytest.raises(UnsupportedError, match=re.escape(message)):
        gn.onnx.export(layer, path)
    assert path.read_bytes() == b"kept"  # nothing written over what was there


def test_export_refuses_other_modules():
    with pytest.raises(TypeError, match="gn.onnx.export takes a gn.LSTM"):
        gn.onnx.export(gn.Linear(2, 3))
    with pytest.raises(ValueError, match="takes x alone"):
        gn.onnx.export(gn.LSTMModel(1, 2, 1), lengths=True)


def test_onnxruntime_ignores_the_forget_rows_of_a_coupled_lstm():
    """What docs/onnx.md says of input_forget=1: onnxruntime computes f = 1 − i, whatever the
    forget rows of W, R, B and P hold (so loading may drop them)."""
    lstm = gn.LSTM(3, 4, forget_gate="coupled", peepholes=True, dtype=np.float32, rng=0)
    proto = gn.onnx.export(lstm)
    rng, H = np.random.default_rng(0), 4
    for init in proto.graph.initializer:
        if init.name in ("W_0", "R_0", "B_0", "P_0"):
            a = onnx.numpy_helper.to_array(init).copy()
            f = [2] if init.name != "B_0" else [2, 6]  # the f block(s): i o f c, P = i o f
            for k in f:
                block = a[:, k * H : (k + 1) * H]
                block[...] = rng.standard_normal(block.shape)
            init.CopyFrom(onnx.numpy_helper.from_array(a, init.name))
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(run_ort(proto, {"x": x})[0], lstm(x)[0], **F32)
    assert gn.onnx.load(proto).state_dict().keys() == lstm.state_dict().keys()
