"""Live parity with PyTorch on Hypothesis-drawn configurations (skipped visibly without torch).

Each example builds the torch module, draws its weights with NumPy, copies them into gatednp with
`gatednp.torch_compat.from_torch`, and compares outputs, final states and every gradient under a
random upstream gradient (tests/crosscut/parity.py `compare`; tolerances there). A new constructor option
is one line in OPTIONS.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gatednp as gn
from tests.crosscut.parity import LastStep, adam_trajectory, assert_close_named, compare

torch = pytest.importorskip("torch", reason="live parity needs torch (CI installs torch==2.13.0)")
from gatednp.torch_compat import from_torch  # noqa: E402

sizes = st.integers(1, 5)

# Per module type, the options beyond (input_size, hidden_size[, bias]) and how to draw them
# given hidden_size H; the layers also get num_layers, bias, batch_first, bidirectional.
OPTIONS = {
    "LSTM": {"proj_size": lambda H: st.integers(0, H - 1)},
    "GRU": {},
    "RNN": {"nonlinearity": lambda H: st.sampled_from(["tanh", "relu"])},
    "LSTMCell": {},
    "GRUCell": {},
    "RNNCell": {"nonlinearity": lambda H: st.sampled_from(["tanh", "relu"])},
}


def available(kinds):
    """Parameters for pytest, skipped visibly when gatednp lacks the type (e.g. gn.RNN)."""
    return [
        pytest.param(
            k, marks=pytest.mark.skipif(not hasattr(gn, k), reason=f"gn.{k} not available")
        )
        for k in kinds
    ]


def torch_module(kind: str, kwargs: dict, dtype: str, rng: np.random.Generator, bound=None):
    """torch.nn.<kind>(**kwargs), every parameter from U(-bound, bound) (default 1/√H) by NumPy."""
    module = getattr(torch.nn, kind)(**kwargs, dtype=getattr(torch, dtype))
    bound = bound or 1 / np.sqrt(kwargs["hidden_size"])
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy(rng.uniform(-bound, bound, tuple(p.shape))))
    return module


def draw_kwargs(data, kind: str, **common) -> dict:
    kwargs = {"input_size": data.draw(sizes), "hidden_size": data.draw(sizes), "bias": True}
    kwargs.update({k: data.draw(v) for k, v in common.items()})
    kwargs.update({k: data.draw(v(kwargs["hidden_size"])) for k, v in OPTIONS[kind].items()})
    return kwargs


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", available(["LSTM", "GRU", "RNN"]))
@given(data=st.data())
def test_layer_matches_torch(kind, dtype, data):
    kwargs = draw_kwargs(
        data,
        kind,
        num_layers=st.integers(1, 3),
        bias=st.booleans(),
        batch_first=st.booleans(),
        bidirectional=st.booleans(),
    )
    T, B = data.draw(st.integers(1, 8), "T"), data.draw(st.integers(1, 4), "B")
    layout = data.draw(st.sampled_from(["batched", "unbatched", "lengths"]), "layout")
    lengths = None
    if layout == "lengths":
        lengths = data.draw(st.lists(st.integers(1, T), min_size=B, max_size=B), "lengths")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), "seed"))

    reference = torch_module(kind, kwargs, dtype, rng)
    module = from_torch(reference)
    I, D, L = kwargs["input_size"], 1 + kwargs["bidirectional"], kwargs["num_layers"]
    batch = () if layout == "unbatched" else (B,)
    x_shape = (B, T, I) if kwargs["batch_first"] and batch else (T, *batch, I)
    x = rng.standard_normal(x_shape).astype(dtype)
    state = [0.5 * rng.standard_normal((D * L, *batch, n)) for n in module.state_sizes]
    state = tuple(s.astype(dtype) for s in state)
    compare(module, reference, x, state if kind == "LSTM" else state[0], lengths, rng)


@pytest.mark.parametrize("threads", [1, 2], ids=["serial", "two-threads"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", available(["LSTM", "GRU", "RNN"]))
def test_fast_paths_match_torch(kind, dtype, threads, monkeypatch):
    """Blocks large enough for the exp or tanh forms of σ and tanh (activations.py), with and without
    the row-block split (threads.py): the drawn sizes above (1-5) never reach either."""
    from gatednp import threads as gn_threads
    from gatednp.activations import SIGMOID_EXP_MIN, SIGMOID_TANH_MIN, TANH_EXP_MIN

    for name in ("MIN_BLOCK_BYTES", "MIN_LOOP_BYTES", "MIN_BLOCK_MACS"):
        monkeypatch.setattr(gn_threads, name, 1)  # split even at this size
    split = []
    run = gn_threads._run
    monkeypatch.setattr(gn_threads, "_run", lambda fn, b: (split.append(len(b)), run(fn, b))[1])

    T, B, I, H = 12, 32, 6, 64  # B·H = 2048: each gate block is at or above both thresholds
    assert B * H >= max(SIGMOID_EXP_MIN, TANH_EXP_MIN, *SIGMOID_TANH_MIN.values())
    kwargs = {"input_size": I, "hidden_size": H, "num_layers": 2, "bidirectional": True}
    rng = np.random.default_rng(11)
    reference = torch_module(kind, kwargs, dtype, rng)
    module = from_torch(reference)
    x = rng.standard_normal((T, B, I)).astype(dtype)
    state = tuple((0.5 * rng.standard_normal((4, B, H))).astype(dtype) for _ in module.state_sizes)
    lengths = rng.integers(1, T + 1, B)
    gn.set_num_threads(threads)
    try:
        compare(module, reference, x, state if kind == "LSTM" else state[0], lengths, rng)
    finally:
        gn.set_num_threads(1)
    # every layer's loops and GEMMs ran in `threads` blocks (threads.split_rows, matmul_rows)
    assert max(split, default=1) == threads


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", available(["LSTMCell", "GRUCell", "RNNCell"]))
@given(data=st.data())
def test_cell_matches_torch(kind, dtype, data):
    kwargs = draw_kwargs(data, kind, bias=st.booleans())
    B = data.draw(st.one_of(st.none(), st.integers(1, 4)), "B (None: unbatched)")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), "seed"))

    reference = torch_module(kind, kwargs, dtype, rng)
    module = from_torch(reference)
    batch = () if B is None else (B,)
    x = rng.standard_normal((*batch, kwargs["input_size"])).astype(dtype)
    n_states = 2 if kind == "LSTMCell" else 1
    state = tuple(
        (0.5 * rng.standard_normal((*batch, kwargs["hidden_size"]))).astype(dtype)
        for _ in range(n_states)
    )
    compare(module, reference, x, state if n_states == 2 else state[0], None, rng)


@pytest.mark.parametrize(
    "hyper",
    [{}, {"amsgrad": True}, {"weight_decay": 0.01}, {"betas": (0.8, 0.99), "lr": 0.05}],
    ids=["plain", "amsgrad", "weight_decay", "betas_lr"],
)
def test_adam_trajectory_matches_torch(hyper):
    hyper = {"lr": 0.01, **hyper}
    rng = np.random.default_rng(7)
    I, H, T, B, steps = 3, 4, 5, 3, 25
    lstm = torch_module("LSTM", {"input_size": I, "hidden_size": H}, "float64", rng)
    fc = torch_module("Linear", {"in_features": H, "out_features": 1}, "float64", rng, 1 / H**0.5)
    x, target = rng.standard_normal((T, B, I)), rng.standard_normal((B, 1))
    model = LastStep(from_torch(lstm), from_torch(fc))

    params = [*lstm.parameters(), *fc.parameters()]
    opt = torch.optim.Adam(params, **hyper, foreach=False)
    losses = []
    for step in range(steps):
        opt.zero_grad()
        y, _ = lstm(torch.from_numpy(x))
        loss = torch.nn.functional.mse_loss(fc(y[-1]), torch.from_numpy(target))
        losses.append(loss.item())
        loss.backward()
        opt.step()
        if step == 0:
            param1 = {k: v.detach().numpy().copy() for k, v in model_state(lstm, fc).items()}

    our_losses, our_param1, our_params = adam_trajectory(model, x, target, hyper, steps)
    assert_close_named({"loss": our_losses}, {"loss": np.array(losses)}, kind="adam")
    assert_close_named(our_param1, param1, kind="adam")
    final = {k: v.detach().numpy() for k, v in model_state(lstm, fc).items()}
    assert_close_named(our_params, final, kind="adam")


def model_state(lstm, fc) -> dict:
    return {
        **{f"lstm.{k}": v for k, v in lstm.state_dict().items()},
        **{f"fc.{k}": v for k, v in fc.state_dict().items()},
    }
