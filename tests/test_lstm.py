"""The LSTM's own: torch's names and init, the variants' layouts and initialisation, the cache rules.

What the three cells share is in test_cells.py; the step and the engine in test_steps.py and
test_engine.py."""

import numpy as np
import pytest

import gatednp as gn
from tests.conftest import randomize

KIND = "lstm"


def test_parameters_have_torch_names_shapes_and_init_bound():
    lstm = gn.LSTM(3, 5, proj_size=2, rng=0)
    shapes = {n: p.shape for n, p in lstm.named_parameters()}
    assert shapes == {
        "weight_ih_l0": (20, 3),
        "weight_hh_l0": (20, 2),
        "bias_ih_l0": (20,),
        "bias_hh_l0": (20,),
        "weight_hr_l0": (2, 5),
    }
    bound = 1 / np.sqrt(5)
    assert all(np.abs(p.data).max() <= bound for p in lstm.parameters())
    assert gn.LSTM(3, 5, rng=1).state_dict().keys() == gn.LSTM(3, 5, rng=2).state_dict().keys()
    np.testing.assert_array_equal(
        gn.LSTM(3, 5, rng=4).weight_hh_l0.data, gn.LSTM(3, 5, rng=4).weight_hh_l0.data
    )


def test_backward_needs_one_forward_each():
    lstm = gn.LSTM(2, 3, rng=0)
    with pytest.raises(RuntimeError, match="needs a forward pass"):
        lstm.backward(np.zeros((1, 1, 3)))
    y, _ = lstm(np.zeros((4, 1, 2)))
    lstm.backward(np.ones_like(y))
    with pytest.raises(RuntimeError, match="needs a forward pass"):
        lstm.backward(np.ones_like(y))
    cell = gn.LSTMCell(2, 3, rng=0)
    cell(np.zeros((1, 2)))
    cell.backward((np.ones((1, 3)), None))
    with pytest.raises(RuntimeError, match="more times than forward"):
        cell.backward((np.ones((1, 3)), None))


def test_eval_mode_keeps_no_cache_and_gives_the_same_outputs():
    lstm = gn.LSTM(2, 3, num_layers=2, rng=0)
    x = np.random.default_rng(0).standard_normal((6, 2, 2))
    y_train, (h_train, _) = lstm(x)
    lstm.eval()
    y_eval, (h_eval, _) = lstm(x)
    np.testing.assert_array_equal(y_train, y_eval)
    np.testing.assert_array_equal(h_train, h_eval)
    with pytest.raises(RuntimeError, match="needs a forward pass"):
        lstm.backward(np.ones_like(y_eval))


def test_variant_layouts():
    """Coupled or absent forget gates drop the f rows ([i|g|o]); peepholes add (H,) vectors."""
    shapes = {
        n: p.shape
        for n, p in gn.LSTM(3, 5, forget_gate="coupled", peepholes=True).named_parameters()
    }
    assert shapes == {
        "weight_ih_l0": (15, 3), "weight_hh_l0": (15, 5), "bias_ih_l0": (15,), "bias_hh_l0": (15,),
        "weight_ci_l0": (5,), "weight_co_l0": (5,),
    }  # fmt: skip
    names = [n for n, _ in gn.LSTM(3, 5, peepholes=True, bidirectional=True).named_parameters()]
    assert names[4:6] == ["weight_ci_l0", "weight_cf_l0"] and "weight_co_l0_reverse" in names
    assert gn.LSTM(3, 5, forget_gate="none").weight_ih_l0.shape == (15, 3)


def test_forget_bias_sets_the_forget_gates_total_bias():
    lstm = gn.LSTM(2, 3, num_layers=2, bidirectional=True, forget_bias=1.0, rng=0)
    for name, p in lstm.named_parameters():
        if name.startswith("bias_"):
            want = 1.0 if name.startswith("bias_ih") else 0.0
            np.testing.assert_array_equal(p.data[3:6], want, err_msg=name)
            assert np.abs(p.data[:3]).max() > 0, name  # the other gates keep torch's init
    cell = gn.LSTMCell(2, 3, forget_bias=2.5, rng=0)
    assert (cell.bias_ih.data + cell.bias_hh.data)[3:6].tolist() == [2.5, 2.5, 2.5]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"forget_gate": "sometimes"}, ValueError, "Unknown forget_gate 'sometimes'"),
        ({"forget_gate": 1}, TypeError, "forget_gate must be"),
        ({"peepholes": "yes"}, TypeError, "peepholes must be True or False"),
        ({"forget_bias": 1.0, "forget_gate": "coupled"}, ValueError, "forget gate of its own"),
        ({"forget_bias": 1.0, "bias": False}, ValueError, "needs biases"),
        ({"forget_bias": "1"}, TypeError, "forget_bias must be a number"),
        ({"forget_bias": float("nan")}, ValueError, "forget_bias must be finite"),
        ({"input_gate": "coupled"}, ValueError, "Unknown input_gate 'coupled'. Select from 'gate'"),
        ({"output_gate": False}, TypeError, "output_gate must be 'gate' or 'none', got bool"),
        ({"forget_gate": "coupled", "input_gate": "none"}, ValueError, "needs an input gate"),
    ],
)
def test_bad_variant_options_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        gn.LSTM(2, 3, **kwargs)
    with pytest.raises(error, match=match):
        gn.LSTMCell(2, 3, **kwargs)


def test_repr_names_the_variant():
    assert repr(gn.LSTMCell(2, 3, peepholes=True, forget_gate="none")) == (
        "LSTMCell(2, 3, bias=True, peepholes=True, forget_gate='none')"
    )
    assert repr(gn.LSTM(2, 3, forget_bias=1.0)) == "LSTM(2, 3, forget_bias=1.0)"


@pytest.mark.parametrize(
    "options, names",
    [
        ({"input_gate": "none"}, ("f", "g", "o")),
        ({"output_gate": "none"}, ("i", "f", "g")),
        ({"input_gate": "none", "output_gate": "none", "forget_gate": "none"}, ("g",)),
    ],
)
def test_gates_that_are_the_constant_one_have_no_rows_and_no_peephole(options, names):
    """NIG / NOG (Greff et al. 2017): a gate that is "none" is 1; its rows and peephole go."""
    lstm = gn.LSTM(3, 5, peepholes=True, **options, rng=0)
    assert lstm.kind.gate_names(**lstm.cell_options) == names
    assert lstm.weight_ih_l0.shape == (5 * len(names), 3)
    peepholes = {n[-4] for n, _ in lstm.named_parameters() if n.startswith("weight_c")}
    assert peepholes == set(names) - {"g"}
    assert lstm.variant == {k: v for k, v in options.items()}
    assert gn.LSTMCell(3, 5, **options).variant == lstm.variant


def test_forget_bias_finds_the_forget_rows_without_an_input_gate():
    cell = gn.LSTMCell(2, 3, input_gate="none", forget_bias=2.0, rng=0)  # [f|g|o]
    assert (cell.bias_ih.data + cell.bias_hh.data)[:3].tolist() == [2.0, 2.0, 2.0]


def test_a_gate_that_is_none_is_one():
    """Without an input (output) gate the step is the LSTM's with that gate's σ replaced by 1:
    the full LSTM with the gate's pre-activation pushed to +∞ gives the same state."""
    rng = np.random.default_rng(0)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    for gate, k in (("input_gate", 0), ("output_gate", 3)):
        full = randomize(gn.LSTMCell(3, 4, rng=1), rng)
        nig = gn.LSTMCell(3, 4, **{gate: "none"})
        rows = np.delete(np.arange(16), np.s_[4 * k : 4 * k + 4])
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(nig, name).data[...] = getattr(full, name).data[rows]
        full.bias_ih.data[4 * k : 4 * k + 4] = 1e6  # σ(1e6) = 1
        for got, want in zip(nig(x, (h, c)), full(x, (h, c))):
            np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14, err_msg=gate)
