"""Proves the slow oracle in tests/reference.py equals PyTorch, and that its complex step is exact.

Layers and cells are compared with torch.nn.LSTM/GRU/RNN and LSTMCell/GRUCell/RNNCell in
float64 on Hypothesis-drawn configurations (sizes, layers, directions, projection, bias,
batch_first, unbatched input, variable lengths through pack_padded_sequence), with distinct
random bias_ih and bias_hh and random initial states. The complex-step derivative is checked
against a closed form, and against torch autograd through whole layers.
"""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests import reference as ref

FORWARD_ATOL = 1e-12  # oracle vs torch, float64, values of order 1
GRADIENT_ATOL = 1e-13  # complex step vs torch autograd, times max(1, max|torch|)


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="PyTorch parity tests need torch")


def assert_close(name, ours, theirs, atol):
    """|ours − theirs| ≤ atol element-wise, shapes equal; the failure names the tensor."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{name}: shape {ours.shape} != torch's {theirs.shape}"
    error = np.max(np.abs(ours - theirs), initial=0.0)
    assert error <= atol, f"{name}: max |oracle − torch| = {error:.3e} > {atol:.0e}"


def case(kind, **overrides):
    """A full configuration for `run_layer_pair`, small defaults overridden by keyword."""
    config = dict(
        kind=kind,  # "lstm", "gru" or "rnn"
        T=3,
        B=2,
        I=2,
        H=3,
        num_layers=1,
        bidirectional=False,
        bias=True,
        batch_first=False,
        proj_size=0,
        nonlinearity="tanh",
        unbatched=False,
        lengths=None,  # None or B ints in 1..T
        initial_state=True,
        seed=0,
    )
    config.update(overrides)
    return config


@st.composite
def configs(draw, kind):
    """Small random layer configurations of one kind."""
    T = draw(st.integers(1, 5))
    B = draw(st.integers(1, 3))
    H = draw(st.integers(1, 4))
    unbatched = draw(st.booleans())
    with_lengths = not unbatched and draw(st.booleans())
    return case(
        kind,
        T=T,
        B=B,
        I=draw(st.integers(1, 4)),
        H=H,
        num_layers=draw(st.integers(1, 3)),
        bidirectional=draw(st.booleans()),
        bias=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        proj_size=draw(st.integers(0, H - 1)) if kind == "lstm" else 0,
        nonlinearity=draw(st.sampled_from(["tanh", "relu"])) if kind == "rnn" else "tanh",
        unbatched=unbatched,
        lengths=draw(st.lists(st.integers(1, T), min_size=B, max_size=B)) if with_lengths else None,
        initial_state=draw(st.booleans()),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


def torch_layer(torch, config):
    """torch.nn.LSTM/GRU/RNN in float64, default weights, distinct random biases in [−1, 1]."""
    torch.manual_seed(config["seed"])
    kind, I, H = config["kind"], config["I"], config["H"]
    common = dict(
        num_layers=config["num_layers"],
        bias=config["bias"],
        batch_first=config["batch_first"],
        bidirectional=config["bidirectional"],
        dtype=torch.float64,
    )
    if kind == "lstm":
        module = torch.nn.LSTM(I, H, proj_size=config["proj_size"], **common)
    elif kind == "gru":
        module = torch.nn.GRU(I, H, **common)
    else:
        module = torch.nn.RNN(I, H, nonlinearity=config["nonlinearity"], **common)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.startswith("bias_"):
                torch.nn.init.uniform_(p, -1.0, 1.0)
    return module


def layer_inputs(config):
    """x laid out as the configuration says, and the initial state(s) or None."""
    rng = np.random.default_rng(config["seed"])
    T, B, I, H = config["T"], config["B"], config["I"], config["H"]
    D = 2 if config["bidirectional"] else 1
    H_out = config["proj_size"] or H
    batch = () if config["unbatched"] else (B,)
    if config["unbatched"]:
        x = rng.standard_normal((T, I))
    elif config["batch_first"]:
        x = rng.standard_normal((B, T, I))
    else:
        x = rng.standard_normal((T, B, I))
    if not config["initial_state"]:
        return x, None
    h0 = 0.5 * rng.standard_normal((D * config["num_layers"], *batch, H_out))
    if config["kind"] != "lstm":
        return x, h0
    c0 = 0.5 * rng.standard_normal((D * config["num_layers"], *batch, H))
    return x, (h0, c0)


def to_torch(torch, config, x, state):
    """x and the initial state(s) as tensors, in the form the torch module takes them."""
    if state is None:
        return torch.from_numpy(x), None
    if config["kind"] == "lstm":
        return torch.from_numpy(x), tuple(map(torch.from_numpy, state))
    return torch.from_numpy(x), torch.from_numpy(state)


def torch_forward(torch, module, config, x, state):
    """torch's [y, h_n(, c_n)] as tensors; lengths go through pack/pad_packed_sequence."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    if config["lengths"] is None:
        y, state_n = module(x, state)
    else:
        packed = pack_padded_sequence(
            x, config["lengths"], batch_first=config["batch_first"], enforce_sorted=False
        )
        packed_y, state_n = module(packed, state)
        y, _ = pad_packed_sequence(
            packed_y, batch_first=config["batch_first"], total_length=config["T"]
        )
    state_n = state_n if config["kind"] == "lstm" else (state_n,)
    return [y, *state_n]


def run_oracle(params, config, x, state):
    """The oracle's (y, h_n[, c_n])."""
    options = dict(
        num_layers=config["num_layers"],
        bidirectional=config["bidirectional"],
        batch_first=config["batch_first"],
        lengths=config["lengths"],
    )
    if config["kind"] == "lstm":
        y, (h_n, c_n) = ref.lstm(params, x, state, proj_size=config["proj_size"], **options)
        return [y, h_n, c_n]
    if config["kind"] == "gru":
        y, h_n = ref.gru(params, x, state, **options)
    else:
        y, h_n = ref.rnn(params, x, state, nonlinearity=config["nonlinearity"], **options)
    return [y, h_n]


def check_layer_against_torch(torch, config):
    """y, h_n (and c_n) of the oracle equal torch's; padded outputs are exactly zero."""
    module = torch_layer(torch, config)
    params = {name: p.detach().numpy().copy() for name, p in module.named_parameters()}
    if config["bias"]:
        assert not np.allclose(params["bias_ih_l0"], params["bias_hh_l0"])
    x, state = layer_inputs(config)
    x_t, state_t = to_torch(torch, config, x, state)
    with torch.no_grad():
        theirs = [t.numpy() for t in torch_forward(torch, module, config, x_t, state_t)]
    ours = run_oracle(params, config, x, state)
    for name, a, b in zip(["y", "h_n", "c_n"], ours, theirs, strict=False):
        assert_close(name, a, b, FORWARD_ATOL)
    if config["lengths"] is not None:  # padding is exactly zero
        y = ours[0].swapaxes(0, 1) if config["batch_first"] else ours[0]  # (T, B, D·H_out)
        for b, length in enumerate(config["lengths"]):
            assert np.all(y[length:, b] == 0), f"y: padding of sequence {b} is not zero"


@settings(max_examples=200, deadline=None)
@given(config=configs("lstm"))
@example(config=case("lstm"))
@example(config=case("lstm", T=1, B=1, I=1, H=1, initial_state=False))
@example(config=case("lstm", num_layers=3, bidirectional=True, proj_size=2, lengths=[2, 3]))
@example(config=case("lstm", H=4, proj_size=1, batch_first=True, lengths=[3, 1], bias=False))
@example(config=case("lstm", num_layers=2, bidirectional=True, proj_size=2, unbatched=True))
def test_lstm_matches_torch(torch, config):
    check_layer_against_torch(torch, config)


@settings(max_examples=200, deadline=None)
@given(config=configs("gru"))
@example(config=case("gru"))
@example(config=case("gru", num_layers=3, bidirectional=True, lengths=[1, 3], batch_first=True))
@example(config=case("gru", num_layers=2, bidirectional=True, unbatched=True, bias=False))
def test_gru_matches_torch(torch, config):
    check_layer_against_torch(torch, config)


@settings(max_examples=200, deadline=None)
@given(config=configs("rnn"))
@example(config=case("rnn", nonlinearity="tanh"))
@example(config=case("rnn", nonlinearity="relu", num_layers=3, bidirectional=True, lengths=[3, 2]))
@example(config=case("rnn", nonlinearity="relu", batch_first=True, bias=False, unbatched=True))
def test_rnn_matches_torch(torch, config):
    check_layer_against_torch(torch, config)


@settings(max_examples=100, deadline=None)
@given(
    kind=st.sampled_from(["lstm", "gru", "rnn_tanh", "rnn_relu"]),
    B=st.integers(0, 3),
    I=st.integers(1, 4),
    H=st.integers(1, 4),
    bias=st.booleans(),
    unbatched=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_cells_match_torch(torch, kind, B, I, H, bias, unbatched, seed):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    if kind == "lstm":
        cell = torch.nn.LSTMCell(I, H, bias=bias, dtype=torch.float64)
    elif kind == "gru":
        cell = torch.nn.GRUCell(I, H, bias=bias, dtype=torch.float64)
    else:
        cell = torch.nn.RNNCell(I, H, bias=bias, nonlinearity=kind[4:], dtype=torch.float64)
    with torch.no_grad():
        for name, p in cell.named_parameters():
            if name.startswith("bias_"):
                torch.nn.init.uniform_(p, -1.0, 1.0)
    p = {name: q.detach().numpy().copy() for name, q in cell.named_parameters()}
    biases = (p.get("bias_ih"), p.get("bias_hh"))
    batch = () if unbatched else (B,)
    x = rng.standard_normal((*batch, I))
    h = 0.5 * rng.standard_normal((*batch, H))
    c = 0.5 * rng.standard_normal((*batch, H))
    x_t, h_t, c_t = map(torch.from_numpy, (x, h, c))

    with torch.no_grad():
        if kind == "lstm":
            theirs = [t.numpy() for t in cell(x_t, (h_t, c_t))]
            ours = ref.lstm_cell(x, h, c, p["weight_ih"], p["weight_hh"], *biases)
        elif kind == "gru":
            theirs = [cell(x_t, h_t).numpy()]
            ours = [ref.gru_cell(x, h, p["weight_ih"], p["weight_hh"], *biases)]
        else:
            theirs = [cell(x_t, h_t).numpy()]
            ours = [ref.rnn_cell(x, h, p["weight_ih"], p["weight_hh"], *biases, kind[4:])]
    for name, a, b in zip(["h_new", "c_new"], ours, theirs, strict=False):
        assert_close(f"{kind} {name}", a, b, FORWARD_ATOL)


def test_complex_step_equals_closed_form():
    """f(W, v) = (tanh(W v), exp(v)), t = tanh(W v), a = (1 − t²) ⊙ u1:
    ∂⟨f, (u1, u2)⟩/∂W = a vᵀ,  ∂⟨f, (u1, u2)⟩/∂v = Wᵀ a + e^v ⊙ u2."""
    rng = np.random.default_rng(0)
    arrays = {"W": rng.standard_normal((3, 2)), "v": rng.standard_normal(2)}
    u1, u2 = rng.standard_normal(3), rng.standard_normal(2)

    grads = ref.complex_step_grad(
        lambda a: (np.tanh(a["W"] @ a["v"]), np.exp(a["v"])), arrays, (u1, u2)
    )

    t = np.tanh(arrays["W"] @ arrays["v"])
    a = (1 - t**2) * u1
    np.testing.assert_allclose(grads["W"], np.outer(a, arrays["v"]), rtol=1e-15, atol=1e-15)
    expected_v = arrays["W"].T @ a + np.exp(arrays["v"]) * u2
    np.testing.assert_allclose(grads["v"], expected_v, rtol=1e-15, atol=1e-15)
    assert ref.complex_step_jvp(lambda a: a["v"] ** 2, arrays, {})[0].tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    "config",
    [
        case("lstm", I=2, H=2, proj_size=1, T=1, B=2),  # one step: the cell
        case("lstm", I=2, H=3, proj_size=2, num_layers=2, bidirectional=True, lengths=[3, 1]),
        case("gru", I=2, H=2, num_layers=2, bidirectional=True, lengths=[2, 3]),
        case("rnn", I=2, H=2, num_layers=2, nonlinearity="relu", bidirectional=True),
        case("rnn", I=2, H=2, nonlinearity="tanh", batch_first=True, lengths=[1, 3]),
    ],
    ids=["lstm_cell_proj", "lstm_proj_bi_lengths", "gru_bi_lengths", "rnn_relu_bi", "rnn_tanh"],
)
def test_complex_step_equals_torch_autograd(torch, config):
    """∂⟨(y, h_n[, c_n]), upstream⟩ by the complex step through the oracle = torch's autograd."""
    module = torch_layer(torch, config)
    params = {name: p.detach().numpy().copy() for name, p in module.named_parameters()}
    x, state = layer_inputs(config)
    lstm = config["kind"] == "lstm"
    state_names = ["h0", "c0"] if lstm else ["h0"]
    inputs = ["x", *state_names]
    arrays = {**params, "x": x, **dict(zip(state_names, state if lstm else [state], strict=True))}

    def initial_state(a):
        """(h0, c0) for the LSTM, h0 otherwise, taken from a dict of arrays or tensors."""
        return (a["h0"], a["c0"]) if lstm else a["h0"]

    def f(a):
        return run_oracle({name: a[name] for name in params}, config, a["x"], initial_state(a))

    rng = np.random.default_rng(1)
    upstream = [rng.standard_normal(out.shape) for out in f(arrays)]
    ours = ref.complex_step_grad(f, arrays, upstream)

    # torch autograd of the same contraction, through the torch module itself.
    leaves = {name: torch.from_numpy(arrays[name].copy()).requires_grad_() for name in inputs}
    outputs = torch_forward(torch, module, config, leaves["x"], initial_state(leaves))
    loss = sum((o * torch.from_numpy(u)).sum() for o, u in zip(outputs, upstream, strict=True))
    named = dict(module.named_parameters())
    torch_grads = torch.autograd.grad(
        loss, [named[n] for n in params] + [leaves[n] for n in inputs]
    )
    for name, g in zip([*params, *inputs], torch_grads, strict=True):
        g = g.numpy()
        assert_close(f"d{name}", ours[name], g, GRADIENT_ATOL * max(1.0, np.max(np.abs(g))))


def test_parameter_names_are_checked():
    params = {"weight_ih_l0": np.zeros((8, 1)), "weight_hh_l0": np.zeros((8, 2))}
    ref.lstm(params, np.zeros((1, 1)))
    with pytest.raises(ValueError, match="missing \\['weight_hh_l0_reverse', 'weight_ih_l0_rev"):
        ref.lstm(params, np.zeros((1, 1)), bidirectional=True)
    with pytest.raises(ValueError, match="unexpected \\['weight_hr_l0'\\]"):
        ref.lstm({**params, "weight_hr_l0": np.zeros((2, 2))}, np.zeros((1, 1)))
    with pytest.raises(ValueError, match="lengths must be 2 ints in 1..3"):
        ref.gru(
            {"weight_ih_l0": np.zeros((3, 1)), "weight_hh_l0": np.zeros((3, 1))},
            np.zeros((3, 2, 1)),
            lengths=[0, 3],
        )
