"""The engines (gatednp/engine/) equal a Python loop over the textbook step (tests/oracle.py).

For every cell kind and option (variants, projection, no bias), every layout (layers,
directions, lengths, reverse), both dtypes and with gatednp's threads on: outputs, final states
and every gradient (x, the initial states, each parameter), float64 to 1e-12.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gatednp as gn
from gatednp import threads
from gatednp.registry import KINDS
from tests import oracle
from tests.conftest import randomize

LAYER = {"lstm": gn.LSTM, "gru": gn.GRU, "rnn": gn.RNN}
OPTIONS = [
    ("lstm", {}),
    ("lstm", {"proj_size": 2}),
    ("lstm", {"bias": False}),
    ("lstm", {"peepholes": True}),
    ("lstm", {"forget_gate": "coupled"}),
    ("lstm", {"forget_gate": "none"}),
    ("lstm", {"peepholes": True, "forget_gate": "coupled", "proj_size": 2}),
    ("lstm", {"peepholes": True, "forget_gate": "none"}),
    ("lstm", {"peepholes": True, "input_gate": "none", "proj_size": 2}),
    ("lstm", {"peepholes": True, "output_gate": "none", "forget_gate": "coupled"}),
    ("lstm", {"activations": ("sigmoid", "tanh", "identity")}),  # Greff et al.'s NOA
    ("lstm", {"activations": ("HardSigmoid", "softsign", "Elu"), "peepholes": True}),
    ("lstm", {"clip": 0.5, "peepholes": True, "activations": ("sigmoid", "tanh", "identity")}),
    ("gru", {}),
    ("gru", {"bias": False}),
    ("gru", {"reset_after": False}),
    ("gru", {"reset_after": False, "bias": False}),
    ("gru", {"activations": ("hard_sigmoid", "elu"), "activation_alpha": (0.3, 0.5)}),
    ("gru", {"activations": ("sigmoid", "softplus"), "reset_after": False}),
    ("gru", {"clip": 0.5}),
    ("gru", {"clip": 0.4, "reset_after": False}),
    ("rnn", {}),
    ("rnn", {"nonlinearity": "relu"}),
    ("rnn", {"clip": 0.3, "nonlinearity": "relu"}),
    (
        "rnn",
        {"activations": ("ScaledTanh",), "activation_alpha": (1.5,), "activation_beta": (0.7,)},
    ),
]
LAYOUTS = {
    "one": {},
    "stacked-bidirectional": {"num_layers": 2, "bidirectional": True},
    "lengths": {"bidirectional": True, "lengths": True},
    "reverse": {"reverse": True, "num_layers": 2, "lengths": True},
}


def compare(kind, options, layout, *, T, B, I, H, seed, dtype=np.float64, tol=1e-12):
    """Run the layer (engine) and the oracle on the same random problem; compare everything."""
    rng = np.random.default_rng(seed)
    layout = dict(layout)
    lengths = rng.integers(0, T + 1, size=B) if layout.pop("lengths", False) else None  # 0: none
    layer = randomize(LAYER[kind](I, H, **options, **layout, dtype=dtype, rng=rng), rng)
    x = rng.standard_normal((T, B, I)).astype(dtype)
    L = layer.num_layers * layer.num_directions
    state = tuple(rng.standard_normal((L, B, s)).astype(dtype) for s in layer.state_sizes)
    y, state_n = layer(x, state if len(state) == 2 else state[0], lengths=lengths)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dstate = tuple(rng.standard_normal(s.shape).astype(dtype) for s in state)
    layer.zero_grad()
    dx, dstate0 = layer.backward(dy, dstate if len(dstate) == 2 else dstate[0])

    expected = oracle.run(layer, x, state, lengths, dy, dstate)
    names = layer.kind.state
    ours = {"y": y, "x": dx}
    as_tuple = lambda s: s if isinstance(s, tuple) else (s,)  # noqa: E731
    ours.update({f"{s}_n": a for s, a in zip(names, as_tuple(state_n))})
    ours.update({f"{s}0": a for s, a in zip(names, as_tuple(dstate0))})
    ours.update({name: p.grad for name, p in layer.named_parameters()})
    assert ours.keys() == expected.keys()
    for name, ref in expected.items():
        scale = max(1.0, float(np.abs(ref).max(initial=0)))
        err = float(np.abs(ours[name] - ref).max(initial=0))
        assert ours[name].dtype == dtype, name
        assert err <= tol * scale, (
            f"{kind} {options} {layout}: {name} |engine − step loop| = {err:.2e}"
        )


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
@pytest.mark.parametrize("kind, options", OPTIONS, ids=[f"{k}-{o}" for k, o in OPTIONS])
def test_engine_equals_the_step_loop(kind, options, layout):
    compare(kind, options, layout, T=5, B=4, I=3, H=5, seed=len(OPTIONS) * 7 + len(layout))


@given(
    T=st.integers(0, 6), B=st.integers(1, 4), I=st.integers(1, 4), H=st.integers(3, 5),
    seed=st.integers(0, 2**16), which=st.integers(0, len(OPTIONS) - 1),
    layout=st.sampled_from(list(LAYOUTS.values())),
)  # fmt: skip
def test_engine_equals_the_step_loop_at_drawn_shapes(T, B, I, H, seed, which, layout):
    kind, options = OPTIONS[which]
    compare(kind, options, layout, T=T, B=B, I=I, H=H, seed=seed)


@pytest.fixture
def two_threads(monkeypatch):
    """gatednp's threads on, thresholds lowered so that these small problems split."""
    for name in ("MIN_BLOCK_BYTES", "MIN_LOOP_BYTES", "MIN_BLOCK_MACS"):
        monkeypatch.setattr(threads, name, 1)
    gn.set_num_threads(2)
    yield
    gn.set_num_threads(1)


@pytest.mark.parametrize("kind, options", OPTIONS, ids=[f"{k}-{o}" for k, o in OPTIONS])
def test_engine_equals_the_step_loop_with_threads(kind, options, two_threads):
    compare(kind, options, LAYOUTS["lengths"], T=4, B=6, I=3, H=5, seed=3)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("kind, options", OPTIONS[::2], ids=[f"{k}-{o}" for k, o in OPTIONS[::2]])
def test_engine_equals_the_step_loop_on_the_fast_paths(kind, options, dtype, tol):
    """B·H large enough for the exp forms of σ and tanh (activations.py), in both dtypes."""
    compare(kind, options, {}, T=3, B=40, I=4, H=64, seed=5, dtype=dtype, tol=tol)


@pytest.mark.parametrize("max_bytes", [0, 1 << 40], ids=["in-place loop", "few-calls loop"])
@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_both_backward_loops_equal_the_step_loop(kind, layout, max_bytes, monkeypatch):
    """The plain LSTM's and the GRU's backward have two loops each, chosen by size (engine/):
    both are held to the step loop, whichever size the other tests happen to draw."""
    monkeypatch.setattr(KINDS[kind].engine, "FEW_CALLS_MAX_BYTES", max_bytes)
    compare(kind, {}, layout, T=5, B=4, I=3, H=5, seed=9)
    compare(kind, {"bias": False}, layout, T=3, B=40, I=4, H=64, seed=10)
