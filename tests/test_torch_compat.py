"""gatednp.torch_compat: modules and weights across to torch and back, checked by name and shape."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import gatednp as gn


def test_importing_gatednp_and_torch_compat_does_not_import_torch():
    code = "import sys, gatednp, gatednp.torch_compat; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


torch = pytest.importorskip("torch", reason="interop tests need torch (CI installs torch==2.13.0)")
from gatednp.torch_compat import (  # noqa: E402
    CONSTRUCTOR_ARGS,
    from_torch,
    load_torch_state_dict,
    to_torch,
    torch_state_dict,
)

# One torch module of each supported type, with non-default options where there are any
TORCH_MODULES = {
    "LSTM": lambda: torch.nn.LSTM(3, 5, 2, batch_first=True, bidirectional=True, proj_size=2),
    "GRU": lambda: torch.nn.GRU(3, 4, 3, bias=False, dropout=0.25),
    "RNN": lambda: torch.nn.RNN(3, 4, 2, nonlinearity="relu", bidirectional=True),
    "LSTMCell": lambda: torch.nn.LSTMCell(3, 4),
    "GRUCell": lambda: torch.nn.GRUCell(3, 4, bias=False),
    "RNNCell": lambda: torch.nn.RNNCell(3, 4, nonlinearity="relu"),
    "Linear": lambda: torch.nn.Linear(4, 2),
    "Linear_nobias": lambda: torch.nn.Linear(4, 2, bias=False),
}


def kinds(names=TORCH_MODULES):
    return [
        pytest.param(
            name,
            marks=pytest.mark.skipif(
                not hasattr(gn, name.split("_")[0]), reason=f"gn.{name.split('_')[0]} not available"
            ),
        )
        for name in names
    ]


def assert_same_arguments(kind, module, reference) -> None:
    for arg in CONSTRUCTOR_ARGS[kind]:
        ours, theirs = getattr(module, arg), getattr(reference, arg)
        if kind == "Linear" and arg == "bias":  # the Parameter or None
            assert (ours is None) == (theirs is None)
        else:
            assert ours == theirs, arg


def same_weights(gn_module, torch_module) -> None:
    """Names, order, shapes, dtypes and every bit equal."""
    ours, theirs = gn_module.state_dict(), torch_module.state_dict()
    assert list(ours) == list(theirs)
    for name, value in theirs.items():
        assert ours[name].dtype == value.numpy().dtype, name
        assert np.array_equal(ours[name], value.numpy()), name


@pytest.mark.parametrize("name", kinds())
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_from_torch_builds_the_same_module(name, dtype):
    kind = name.split("_")[0]
    reference = TORCH_MODULES[name]().to(getattr(torch, dtype)).eval()
    module = from_torch(reference)
    assert type(module) is getattr(gn, kind)
    assert_same_arguments(kind, module, reference)
    assert module.training is False
    same_weights(module, reference)


@pytest.mark.parametrize("name", kinds())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip_gatednp_torch_gatednp_is_bitwise(name, dtype):
    kind = name.split("_")[0]
    original = from_torch(TORCH_MODULES[name](), dtype=dtype)
    rng = np.random.default_rng(0)
    for p in original.parameters():  # weights not from torch's init
        p.data[...] = rng.standard_normal(p.shape)
    there = to_torch(original)
    assert type(there) is getattr(torch.nn, kind) and there.training
    same_weights(original, there)
    back = from_torch(there)
    assert type(back) is type(original)
    assert_same_arguments(kind, back, original)
    for (n1, p1), (n2, p2) in zip(original.named_parameters(), back.named_parameters()):
        assert n1 == n2 and p1.dtype == p2.dtype == dtype and np.array_equal(p1.data, p2.data)


def test_from_torch_converts_dtype_on_request():
    reference = torch.nn.GRU(2, 3).float()
    module = from_torch(reference, dtype=np.float64)
    assert all(p.dtype == np.float64 for p in module.parameters())
    assert np.array_equal(module.weight_hh_l0.data, reference.weight_hh_l0.double().detach())


def test_torch_state_dict_is_a_copy_with_torch_names():
    module = gn.LSTM(2, 3, proj_size=1, rng=0)
    state = torch_state_dict(module)
    assert list(state) == [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "weight_hr_l0",
    ]
    state["weight_hr_l0"][...] = 7.0
    assert not np.any(module.weight_hr_l0.data == 7.0)
    torch.nn.LSTM(2, 3, proj_size=1, dtype=torch.float64).load_state_dict(state)  # torch agrees


def test_load_torch_state_dict_lists_every_problem_and_writes_nothing():
    module = gn.LSTM(3, 4, rng=0)
    before = module.state_dict()
    state = torch.nn.LSTM(3, 4, dtype=torch.float64).state_dict()
    del state["bias_hh_l0"]
    state["weight_hh_l0"] = torch.zeros(16, 5, dtype=torch.float64)
    state["weight_ih_l1"] = torch.zeros(16, 4, dtype=torch.float64)
    with pytest.raises(ValueError) as info:
        load_torch_state_dict(module, state)
    message = str(info.value)
    assert "missing keys ['bias_hh_l0']" in message
    assert "unexpected keys ['weight_ih_l1']" in message
    assert "weight_hh_l0: expected shape (16, 4), got (16, 5)" in message
    for name, value in module.state_dict().items():
        assert np.array_equal(value, before[name]), name


def test_load_torch_state_dict_rejects_non_tensors_by_name():
    module = gn.GRUCell(2, 3, rng=0)
    state = {k: torch.from_numpy(v) for k, v in module.state_dict().items()}
    state["bias_ih"] = np.zeros(9)
    with pytest.raises(TypeError, match=r"torch_state_dict\['bias_ih'\] must be a floating-point"):
        load_torch_state_dict(module, state)
    state["bias_ih"] = torch.zeros(9, dtype=torch.int64)
    with pytest.raises(TypeError, match=r"'bias_ih'.*got torch.int64"):
        load_torch_state_dict(module, state)


def test_unsupported_module_types_are_named():
    with pytest.raises(TypeError, match=r"torch_module must be one of LSTM, GRU, .*got .*Conv1d"):
        from_torch(torch.nn.Conv1d(1, 1, 1))
    with pytest.raises(TypeError, match=r"gn_module must be one of .*got .*LSTMModel"):
        to_torch(gn.LSTMModel(1, 2, 1, rng=0))


@pytest.mark.parametrize(
    "module",
    [
        gn.LSTM(2, 3, peepholes=True),
        gn.LSTM(2, 3, forget_gate="coupled"),
        gn.LSTMCell(2, 3, forget_bias=1.0),
        gn.GRU(2, 3, reset_after=False),
    ],
    ids=repr,
)
def test_variants_are_refused_by_name(module):
    pytest.importorskip("torch")
    with pytest.raises(TypeError, match="torch has no .* with"):
        to_torch(module)
