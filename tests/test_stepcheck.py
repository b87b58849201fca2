"""gn.check_step: the textbook steps pass, under any declared gate order and either reference;
a planted bug is found at its gate and its step; healthy code never fails (Hypothesis)."""

import numpy as np
import pytest
from hypothesis import given

import gatednp as gn
from gatednp.registry import KINDS
from gatednp.testing import layer_cases, step_cases
from tests.test_engine import OPTIONS

STEP_OPTIONS = [(k, {n: v for n, v in o.items() if n != "bias"}) for k, o in OPTIONS]


def textbook(kind):
    math = KINDS[kind].math
    return math.step, math.step_backward


@pytest.mark.parametrize("reference", ["textbook", "numeric"])
@pytest.mark.parametrize("kind, options", STEP_OPTIONS, ids=[f"{k}-{o}" for k, o in STEP_OPTIONS])
def test_the_textbook_step_passes(kind, options, reference):
    report = gn.check_step(kind, *textbook(kind), reference=reference, T=3, **options)
    assert report.ok, f"\n{report}"
    assert "all gradients agree" in str(report)


def reordered(kind, order):
    """The textbook step pair, written for weights whose gate blocks come in `order`."""
    step, backward = textbook(kind)
    names = KINDS[kind].gate_names()
    perm = [order.index(g) for g in names]  # torch block k sits at position perm[k]
    inv = [names.index(g) for g in order]

    def to_torch(w):
        def fix(a):
            if a is None or a.shape[0] != len(names) * (a.shape[0] // len(names)):
                return a
            return np.concatenate([np.split(a, len(names))[p] for p in perm])

        return w._replace(
            **{f: fix(getattr(w, f)) for f in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        )

    def my_step(x, state, w):
        return step(x, state, to_torch(w))

    def my_backward(ds, cache, w):
        dx, dprev, g = backward(ds, cache, to_torch(w))
        back = {
            f: np.concatenate([np.split(getattr(g, f), len(names))[k] for k in inv])
            for f in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        }
        return dx, dprev, g._replace(**back)

    return my_step, my_backward


def test_a_declared_gate_order():
    step, backward = reordered("lstm", "ifog")  # cs231n's order
    assert gn.check_step("lstm", step, backward, gate_order="ifog").ok
    wrong = gn.check_step("lstm", step, backward)  # read as torch's i f g o: g and o swapped
    assert not wrong.ok
    with pytest.raises(ValueError, match="ordering"):
        gn.check_step("lstm", step, backward, gate_order="ifox")
    with pytest.raises(ValueError, match="kind must be"):
        gn.check_step("mlp", step, backward)
    with pytest.raises(ValueError, match="reference"):
        gn.check_step("lstm", *textbook("lstm"), reference="torch")


def test_a_bug_at_one_step_is_found_there():
    step, backward = textbook("gru")
    calls = []

    def buggy(ds, cache, w):
        calls.append(1)
        dx, dprev, g = backward(ds, cache, w)
        if len(calls) == 3:  # backward runs t = T−1 … 0: the third call is step T − 3
            bias = g.bias_hh.copy()
            bias[:4] *= 1.01  # the reset gate's bias only
            g = g._replace(bias_hh=bias)
        return dx, dprev, g

    report = gn.check_step("gru", step, buggy, T=5, hidden_size=4)
    assert report.blame() == {"gates": ["r"], "tensors": ["bias_hh"], "steps": [2]}
    failing = report["bias_hh"].by_gate()["r"]
    assert not failing.ok and failing.position["step"] == 2
    assert "reset gate r, step 2" in failing.describe()
    assert report["bias_hh"].error.shape == (5, 12)
    assert "hint, reset gate r" in str(report)


def test_wrong_shapes_and_missing_gradients_fail_cleanly():
    step, backward = textbook("rnn")

    def lazy(ds, cache, w):
        dx, dprev, g = backward(ds, cache, w)
        return dx[:, :1], dprev, {"weight_ih": g.weight_ih}  # wrong dx shape; no other grads

    report = gn.check_step("rnn", step, lazy)
    assert set(report.blame()["tensors"]) == {"x", "weight_hh", "bias_ih", "bias_hh"}


@given(case=step_cases())
def test_no_false_alarm_on_healthy_steps(case):
    kind = case.pop("kind")
    assert gn.check_step(kind, *textbook(kind), **case).ok


@given(case=layer_cases(max_T=4, max_B=2))
def test_no_false_alarm_on_healthy_layers(case):
    layer = case.build()
    report = gn.gradcheck(layer, case.x, case.state, lengths=case.lengths, seed=case.seed)
    assert report.ok, f"\n{report}"
