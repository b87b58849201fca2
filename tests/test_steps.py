"""The textbook steps (lstm.py, gru.py, rnn.py) are right: step_backward equals central finite
differences of step, for every element of x, the state and every weight, for every option.

This is the independent check of the oracle that tests/test_engine.py holds the engines to; the
cells run the same step, and the cells' torch parity tests (fixtures and live) hold it to torch.
"""

import numpy as np
import pytest

import gatednp as gn
from gatednp.module import Weights
from gatednp.registry import KINDS
from tests.test_engine import LAYER, OPTIONS

EPS = 1e-6


def finite_difference(f, a: np.ndarray) -> np.ndarray:
    """∂f/∂a by central differences, element by element (a is perturbed in place, restored)."""
    return gn.numerical_gradient(lambda _: f(), a, eps=EPS)


@pytest.mark.parametrize("kind, options", OPTIONS, ids=[f"{k}-{o}" for k, o in OPTIONS])
def test_step_backward_equals_finite_differences(kind, options):
    rng = np.random.default_rng(11)
    B, I, H = 3, 4, 5
    math = KINDS[kind].math
    layout = {k: v for k, v in options.items() if k in ("bias", "proj_size", "peepholes")}
    step_options = {k: v for k, v in options.items() if k not in layout}
    params = KINDS[kind].make_parameters(rng, np.float64, I, H, **layout, **step_options)
    for p in params.values():  # random, nonzero, bias_ih ≠ bias_hh
        p.data[...] = rng.uniform(-0.8, 0.8, p.shape)
    w = Weights(**params).arrays()
    sizes = LAYER[kind](I, H, **options).state_sizes
    x = rng.standard_normal((B, I))
    state = tuple(rng.standard_normal((B, s)) for s in sizes)
    R = tuple(rng.standard_normal((B, s)) for s in sizes)  # loss = Σ ⟨new state, R⟩

    def loss() -> float:
        new, _ = math.step(x, state, w, **step_options)
        return sum(float((s * r).sum()) for s, r in zip(new, R))

    _, cache = math.step(x, state, w, **step_options)
    dx, dstate, grads = math.step_backward(R, cache, w, **step_options)
    checks = {
        "x": (x, dx),
        **{f"state[{k}]": (s, d) for k, (s, d) in enumerate(zip(state, dstate))},
    }
    for name, a, g in zip(Weights._fields, w, grads):
        if name in params:  # absent biases are zeros in w.arrays(); they have no gradient to check
            checks[name] = (a, g)
    for name, (a, g) in checks.items():
        n = finite_difference(loss, a)
        assert g.shape == a.shape, name
        np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-8, err_msg=f"{kind} {options}: {name}")


@pytest.mark.parametrize("kind, options", OPTIONS, ids=[f"{k}-{o}" for k, o in OPTIONS])
def test_layers_with_every_option_pass_gradcheck(kind, options):
    """The variants are options of the main layers, with lengths, two directions and layers."""
    rng = np.random.default_rng(5)
    layer = LAYER[kind](2, 3, num_layers=2, bidirectional=True, **options, rng=rng)
    for _, p in layer.named_parameters():
        p.data[...] = rng.uniform(-0.6, 0.6, p.data.shape)
    report = gn.gradcheck(layer, rng.standard_normal((4, 3, 2)), lengths=[4, 2, 3])
    assert report.ok, f"\n{report}"
