"""ONNX's recurrent attributes as gatednp options: activations (with α, β), clip, direction
"reverse", and their checks.

The forward pass is held to onnxruntime's LSTM, GRU and RNN (in float32, the only type it
runs them in; onnx.reference's LSTM and GRU ignore these attributes; its RNN knows Tanh and Affine, and is used for those), through a small local
conversion of the weights to ONNX's layout ([i|o|f|c], [z|r|h]). The backward passes of the
same options are held to finite differences and the engines to the step loop in test_steps.py
and test_engine.py.
"""

import numpy as np
import pytest

import gatednp as gn
from tests.conftest import randomize

LAYER = {"lstm": gn.LSTM, "gru": gn.GRU, "rnn": gn.RNN}
ONNX_ORDER = {"lstm": [0, 3, 1, 2], "gru": [1, 0, 2], "rnn": [0]}  # ONNX's blocks in torch's order
ONNX_NAMES = {
    "relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "affine": "Affine",
    "leakyrelu": "LeakyRelu", "thresholdedrelu": "ThresholdedRelu", "scaledtanh": "ScaledTanh",
    "hardsigmoid": "HardSigmoid", "elu": "Elu", "softsign": "Softsign", "softplus": "Softplus",
}  # fmt: skip
DEFAULT_ACTIVATIONS = {"lstm": ("sigmoid", "tanh", "tanh"), "gru": ("sigmoid", "tanh")}


def onnx_node(layer, x, state, **attributes):
    """The ONNX node (op, inputs, attributes) computing `layer` (one layer) on x (T, B, I)."""
    kind, H = layer.kind.name, layer.hidden_size
    W, R, B, P = [], [], [], []
    for k in range(layer.num_directions):
        w = layer.weights(k)
        rows = lambda a: np.concatenate([a[j * H : (j + 1) * H] for j in ONNX_ORDER[kind]])  # noqa: E731
        W.append(rows(w.weight_ih.data))
        R.append(rows(w.weight_hh.data))
        B.append(np.concatenate([rows(w.bias_ih.data), rows(w.bias_hh.data)]))
        if w.weight_ci is not None:
            P.append(np.concatenate([w.weight_ci.data, w.weight_co.data, w.weight_cf.data]))
    inputs = {"X": x, "W": np.stack(W), "R": np.stack(R), "B": np.stack(B)}
    inputs["sequence_lens"] = np.full(x.shape[1], x.shape[0], np.int32)
    inputs.update(zip(("initial_h", "initial_c"), state))
    if P:
        inputs["P"] = np.stack(P)
    acts = layer.cell_options.get("activations")
    if kind == "rnn" and acts is None:
        acts = (layer.nonlinearity,)
    if acts is not None:  # ONNX's α and β lists hold values only for the functions that take them
        names, alpha, beta = [], [], []
        for act in gn.activations.activation_functions(
            acts, layer.cell_options["activation_alpha"], layer.cell_options["activation_beta"],
            acts,
        ):  # fmt: skip
            affine = act.name == "identity"
            names.append("Affine" if affine else ONNX_NAMES[act.name])
            alpha += [1.0] if affine else [] if act.alpha is None else [act.alpha]
            beta += [0.0] if affine else [] if act.beta is None else [act.beta]
        attributes["activations"] = names * layer.num_directions
        if alpha:
            attributes["activation_alpha"] = alpha * layer.num_directions
        if beta:
            attributes["activation_beta"] = beta * layer.num_directions
    if layer.cell_options["clip"] is not None:
        attributes["clip"] = layer.cell_options["clip"]
    if kind == "gru":
        attributes["linear_before_reset"] = int(layer.reset_after)
    if layer.bidirectional or layer.reverse:
        attributes["direction"] = "bidirectional" if layer.bidirectional else "reverse"
    return kind.upper(), inputs, attributes


def run_onnx(op, inputs, attributes, H, *, reference=False):
    """Y (T, D, B, H), Y_h (and Y_c for the LSTM) from onnxruntime or onnx.reference."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    names = ["X", "W", "R", "B", "sequence_lens", "initial_h"]
    names += ["initial_c", "P"] if op == "LSTM" else []
    present = [n if n in inputs else "" for n in names]
    outputs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    node = helper.make_node(op, present, outputs, hidden_size=H, **attributes)
    float_type = helper.np_dtype_to_tensor_dtype(inputs["X"].dtype)
    info = lambda n, t: helper.make_tensor_value_info(n, t, None)  # noqa: E731
    graph = helper.make_graph(
        [node], "g",
        [info(n, TensorProto.INT32 if n == "sequence_lens" else float_type) for n in inputs],
        [info(n, float_type) for n in outputs],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    if reference:
        return ReferenceEvaluator(model).run(None, inputs)
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def assert_same_as_onnx(layer, *, reference=False, T=5, B=3, I=4, seed=0, tol=1e-10, **attributes):
    rng = np.random.default_rng(seed)
    dtype = layer.weight_ih_l0.dtype
    x = rng.standard_normal((T, B, I)).astype(dtype)
    D, H = layer.num_directions, layer.hidden_size
    state = tuple(rng.standard_normal((D, B, s)).astype(dtype) for s in layer.state_sizes)
    op, inputs, attributes = onnx_node(layer, x, state, **attributes)
    expected = run_onnx(op, inputs, attributes, H, reference=reference)
    y, state_n = layer(x, state if len(state) == 2 else state[0])
    got = [y, *(state_n if isinstance(state_n, tuple) else (state_n,))]
    expected[0] = expected[0].transpose(0, 2, 1, 3).reshape(T, B, D * H)  # (T, D, B, H)
    for name, a, b in zip(("Y", "Y_h", "Y_c"), got, expected):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"{op} {name}")


ACTIVATION_CASES = [
    ("lstm", {"activations": ("sigmoid", "tanh", "identity")}, {}),
    ("lstm", {"activations": ("HardSigmoid", "Softsign", "Elu"), "activation_alpha": (0.3, None, 0.5)}, {}),
    ("lstm", {"activations": ("sigmoid", "LeakyRelu", "ScaledTanh"), "peepholes": True,
              "activation_alpha": (None, 0.2, 1.3), "activation_beta": (None, None, 0.6)}, {}),
    ("lstm", {"activations": ("softplus", "relu", "thresholded_relu"), "bidirectional": True}, {}),
    ("gru", {"activations": ("hardsigmoid", "affine"), "activation_beta": (None, 0.1)}, {}),
    ("gru", {"activations": ("sigmoid", "softsign"), "reset_after": False}, {}),
    ("rnn", {"activations": ("leakyrelu",), "activation_alpha": (0.3,)}, {}),
    ("rnn", {"activations": ("Elu",), "bidirectional": True}, {}),
]  # fmt: skip


@pytest.mark.parametrize(
    "kind, options, extra", ACTIVATION_CASES, ids=[f"{k}-{o}" for k, o, _ in ACTIVATION_CASES]
)
def test_activations_equal_onnxruntime(kind, options, extra):
    layer = LAYER[kind](4, 3, **options, dtype=np.float32, rng=1)  # onnxruntime: float32 only
    assert_same_as_onnx(randomize(layer, np.random.default_rng(2)), tol=2e-5, **extra)


CLIP_CASES = [
    ("lstm", {"clip": 0.4}),
    ("lstm", {"clip": 0.7, "peepholes": True, "activations": ("sigmoid", "softsign", "elu")}),
    ("gru", {"clip": 0.5}),
    ("gru", {"clip": 0.5, "reset_after": False, "bidirectional": True}),
    ("rnn", {"clip": 0.3}),
    ("rnn", {"clip": 0.6, "activations": ("softplus",)}),
]


@pytest.mark.parametrize("kind, options", CLIP_CASES, ids=[f"{k}-{o}" for k, o in CLIP_CASES])
def test_clip_equals_onnxruntime(kind, options):
    """clip cuts each gate's input (peephole terms included), not the cell state before h."""
    layer = LAYER[kind](4, 3, **options, dtype=np.float32, rng=1)
    assert_same_as_onnx(randomize(layer, np.random.default_rng(2), scale=1.0), tol=2e-5)


def test_clip_cuts():
    """With a clip, the gates' inputs are cut: a huge input changes nothing past the bound."""
    layer = randomize(gn.GRU(2, 3, clip=0.5), np.random.default_rng(0))
    x = np.full((3, 1, 2), 50.0)
    np.testing.assert_array_equal(layer(x)[0], layer(2 * x)[0])
    assert not np.array_equal(gn.GRU(2, 3, rng=0)(x)[0], gn.GRU(2, 3, rng=0)(2 * x)[0])


@pytest.mark.parametrize("activations", [("Tanh",), ("Affine",)])
def test_rnn_activations_equal_onnx_reference(activations):
    layer = randomize(gn.RNN(4, 3, activations=activations, rng=1), np.random.default_rng(2))
    assert_same_as_onnx(layer, reference=True)


def test_default_activations_are_onnx_defaults():
    for kind in ("lstm", "gru"):
        layer = randomize(LAYER[kind](4, 3, dtype=np.float32, rng=1), np.random.default_rng(3))
        assert_same_as_onnx(layer, tol=2e-5)


def test_spelled_out_defaults_are_the_defaults():
    """Given as ONNX spells them, the default functions are torch's own cell: no variant, and
    the same numbers bit for bit."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 2, 3))
    for kind, acts in [("lstm", ("Sigmoid", "Tanh", "Tanh")), ("gru", ("sigmoid", "TANH")), ("rnn", ("tanh",))]:  # fmt: skip
        plain, spelled = LAYER[kind](3, 5, rng=7), LAYER[kind](3, 5, activations=acts, rng=7)
        assert spelled.variant == {} and spelled.cell_options == plain.cell_options, kind
        assert repr(spelled) == repr(plain)
        for a, b in zip(plain(x)[0], spelled(x)[0]):
            np.testing.assert_array_equal(a, b)
    relu = gn.RNN(3, 5, activations=("Relu",))
    assert (
        relu.nonlinearity == "relu"
        and relu.variant == {}
        and relu.cell_options["activations"] is None
    )


def test_noa_has_no_output_activation():
    """Greff et al.'s NOA: h = o ⊙ c."""
    cell = randomize(
        gn.LSTMCell(3, 4, activations=("sigmoid", "tanh", "identity")), np.random.default_rng(0)
    )
    x, h, c = (np.random.default_rng(1).standard_normal((2, n)) for n in (3, 4, 4))
    h1, c1 = cell(x, (h, c))
    o = 1 / (1 + np.exp(-(x @ cell.weight_ih.data[12:].T + cell.bias_ih.data[12:] + h @ cell.weight_hh.data[12:].T + cell.bias_hh.data[12:])))  # fmt: skip
    np.testing.assert_allclose(h1, o * c1, rtol=1e-13, atol=1e-15)


def test_the_new_options_survive_a_checkpoint(tmp_path):
    lstm = gn.LSTM(3, 4, activations=("hard_sigmoid", "tanh", "identity"), activation_alpha=(0.25, None, None), clip=2.5, reverse=True, input_gate="none", rng=0)  # fmt: skip
    gn.save(tmp_path / "a.ckpt", lstm)
    back = gn.load(tmp_path / "a.ckpt").model
    assert back.cell_options == lstm.cell_options and repr(back) == repr(lstm) and back.reverse
    x = np.random.default_rng(0).standard_normal((3, 2, 3))
    np.testing.assert_array_equal(back(x)[0], lstm(x)[0])


@pytest.mark.parametrize(
    "kind, options, error, match",
    [
        ("lstm", {"activations": ("sigmoid", "tanh")}, ValueError, r"must name 3 functions \(f: the gates"),
        ("gru", {"activations": "tanh"}, TypeError, "activations must be a tuple of 2 names"),
        ("lstm", {"activations": ("sigmoid", "swish", "tanh")}, ValueError, "Unknown activation 'swish'. Select from sigmoid, tanh, relu"),
        ("rnn", {"activations": (1,)}, TypeError, "an activation is named by a str, got int"),
        ("gru", {"activations": ("sigmoid", "tanh"), "activation_alpha": (0.1, None)}, ValueError, "sigmoid takes no alpha"),
        ("gru", {"activations": ("elu", "tanh"), "activation_alpha": (0.1,)}, ValueError, "one entry per activation"),
        ("gru", {"activations": ("elu", "tanh"), "activation_alpha": (float("nan"), None)}, ValueError, "must be finite, got nan"),
        ("gru", {"activations": ("elu", "tanh"), "activation_alpha": ("1", None)}, TypeError, "must be numbers or None, got str"),
        ("rnn", {"activations": ("leakyrelu",), "activation_alpha": (-0.1,)}, ValueError, "leakyrelu needs alpha ≥ 0"),
        ("lstm", {"activation_alpha": (1.0, 1.0, 1.0)}, ValueError, "need activations"),
        ("rnn", {"activations": ("elu",), "nonlinearity": "relu"}, ValueError, "either as nonlinearity or as activations"),
        ("lstm", {"clip": 0.0}, ValueError, r"clip must be a finite number > 0 \(or None for no clip\), got 0.0"),
        ("gru", {"clip": float("nan")}, ValueError, "clip must be a finite number > 0"),
        ("rnn", {"clip": -1}, ValueError, "got -1"),
        ("rnn", {"clip": "1"}, TypeError, "clip must be a number > 0 or None, got str"),
    ],
)  # fmt: skip
def test_bad_activation_options_are_named(kind, options, error, match):
    for cls in (LAYER[kind], {"lstm": gn.LSTMCell, "gru": gn.GRUCell, "rnn": gn.RNNCell}[kind]):
        with pytest.raises(error, match=match):
            cls(2, 3, **options)


REVERSE_CASES = [
    ("lstm", {"reverse": True}),
    ("lstm", {"reverse": True, "peepholes": True, "clip": 0.6}),
    ("gru", {"reverse": True, "reset_after": False}),
    ("rnn", {"reverse": True, "activations": ("softsign",)}),
]


@pytest.mark.parametrize("kind, options", REVERSE_CASES, ids=[f"{k}-{o}" for k, o in REVERSE_CASES])
def test_reverse_equals_onnxruntime(kind, options):
    layer = LAYER[kind](4, 3, **options, dtype=np.float32, rng=1)
    assert_same_as_onnx(randomize(layer, np.random.default_rng(2)), tol=2e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_reverse_equals_onnx_reference(kind):
    layer = randomize(LAYER[kind](4, 3, reverse=True, rng=1), np.random.default_rng(2))
    assert_same_as_onnx(layer, reference=True)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_reverse_is_torchs_reverse_direction_with_packed_lengths(kind):
    """A reverse layer is the reverse half of torch's bidirectional layer, outputs in time order,
    each sequence starting from its own last step (pack_padded_sequence), gradients too."""
    torch = pytest.importorskip("torch")
    T, B, I, H = 6, 4, 3, 5
    rng = np.random.default_rng(0)
    theirs = getattr(torch.nn, kind.upper())(I, H, bidirectional=True, dtype=torch.float64)
    ours = LAYER[kind](I, H, reverse=True)
    for name, p in ours.named_parameters():
        p.data[...] = getattr(theirs, name + "_reverse").detach().numpy()
    x, lengths = rng.standard_normal((T, B, I)), [6, 2, 5, 1]
    y, _ = ours(x, lengths=lengths)
    dy = rng.standard_normal(y.shape) * (np.arange(T)[:, None, None] < np.array(lengths)[:, None])
    dx, _ = ours.backward(dy)
    xt = torch.tensor(x, requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, lengths, enforce_sorted=False)
    out, _ = theirs(packed)
    yt = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)[0][..., H:]
    (yt * torch.tensor(dy)).sum().backward()
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-8, atol=1e-10)
    for name, p in ours.named_parameters():
        ref = getattr(theirs, name + "_reverse").grad.numpy()
        np.testing.assert_allclose(p.grad, ref, rtol=1e-8, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_reverse_layers_pass_gradcheck(kind):
    """Finite differences through a stacked reverse layer with lengths and clip."""
    rng = np.random.default_rng(4)
    layer = randomize(LAYER[kind](2, 3, num_layers=2, reverse=True, clip=0.7, rng=rng), rng)
    report = gn.gradcheck(layer, rng.standard_normal((4, 3, 2)), lengths=[4, 1, 3])
    assert report.ok, f"\n{report}"


def test_reverse_keeps_one_direction_and_is_a_layer_option():
    lstm = gn.LSTM(3, 4, reverse=True, batch_first=True, rng=0)
    assert [n for n, _ in lstm.named_parameters()][:2] == ["weight_ih_l0", "weight_hh_l0"]
    assert repr(lstm) == "LSTM(3, 4, batch_first=True, reverse=True)"
    y, (h_n, _) = lstm(np.random.default_rng(0).standard_normal((2, 5, 3)))
    np.testing.assert_array_equal(h_n[0], y[:, 0])  # the final state is the first step's output
    with pytest.raises(ValueError, match="give reverse=True or bidirectional=True, not both"):
        gn.GRU(3, 4, reverse=True, bidirectional=True)
    with pytest.raises(TypeError, match="reverse must be"):
        gn.RNN(3, 4, reverse=1)
    with pytest.raises(TypeError, match="reverse"):
        gn.LSTMCell(3, 4, reverse=True)
