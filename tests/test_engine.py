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
from gatednp.engine import bidirectional
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


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("max_units", [0, 1 << 40], ids=["per direction", "both together"])
@pytest.mark.parametrize("kind, options", [("lstm", {}), ("lstm", {"bias": False}),
                                           ("gru", {}), ("gru", {"bias": False})])  # fmt: skip
def test_both_directions_together_equal_the_step_loop(
    kind, options, max_units, dtype, tol, monkeypatch
):
    """A bidirectional LSTM or GRU with the defaults may run both directions in one loop
    (engine/bidirectional.py, chosen by size): both ways are held to the step loop, at a size
    where σ and tanh take their exp forms too (activations.py)."""
    monkeypatch.setattr(bidirectional, "TOGETHER_MAX_UNITS", max_units)
    layout = LAYOUTS["stacked-bidirectional"]
    compare(kind, options, layout, T=5, B=4, I=3, H=5, seed=11, dtype=dtype, tol=tol)
    compare(kind, options, layout, T=3, B=40, I=4, H=64, seed=12, dtype=dtype, tol=tol)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_both_directions_together_with_dropout_equal_the_engines(kind, monkeypatch):
    """Dropout between layers (which the step loop does not run): the same masks are drawn,
    and outputs, states and gradients equal the per-direction engines' to rounding."""
    results = []
    for max_units in (0, 1 << 40):
        monkeypatch.setattr(bidirectional, "TOGETHER_MAX_UNITS", max_units)
        rng = np.random.default_rng(4)
        layer = LAYER[kind](3, 6, num_layers=3, bidirectional=True, dropout=0.4, rng=7)
        x = rng.standard_normal((7, 5, 3))
        state = tuple(rng.standard_normal((6, 5, 6)) for _ in layer.state_sizes)
        y, state_n = layer(x, state if len(state) == 2 else state[0])
        dx, dstate0 = layer.backward(rng.standard_normal(y.shape))
        grads = [p.grad for p in layer.parameters()]
        results.append([y, *np.atleast_3d(*state_n), dx, *np.atleast_3d(*dstate0), *grads])
    for per_direction, together in zip(*results, strict=True):
        np.testing.assert_allclose(together, per_direction, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "kind, options",
    [("lstm", {"peepholes": True}), ("lstm", {"proj_size": 2}), ("lstm", {"clip": 0.5}),
     ("lstm", {"forget_gate": "coupled"}), ("lstm", {"activations": ("sigmoid", "tanh", "identity")}),
     ("gru", {"reset_after": False}), ("gru", {"clip": 0.5}), ("rnn", {}), ("lstm", {"T": 0}),
     ("lstm", {"lengths": [3, 2]}), ("gru", {"threads": 2}), ("gru", {"B": 4096}), ("gru", {"B": 0}), ("lstm", {"B": 1})],
)  # fmt: skip
def test_both_directions_together_only_for_the_defaults(kind, options):
    """Any other option, lengths, T = 0, B < 2, gatednp's threads or a large batch × hidden size
    falls back to the engines, direction by direction."""
    options = dict(options)
    T, B, lengths = options.pop("T", 3), options.pop("B", 2), options.pop("lengths", None)
    n_threads = options.pop("threads", 1)
    default = LAYER[kind](3, 4, bidirectional=True)
    assert bidirectional.together(default, 3, 2, None) == (kind != "rnn")
    layer = LAYER[kind](3, 4, bidirectional=True, **options)
    gn.set_num_threads(n_threads)
    try:
        assert not bidirectional.together(layer, T, B, lengths)
    finally:
        gn.set_num_threads(1)
