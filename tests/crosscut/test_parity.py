"""Parity with PyTorch from the frozen fixtures (tests/fixtures/*.npz): no torch needed.

Each case rebuilds the gatednp module from the file's kind and config through the public API,
loads param/*, runs forward and backward with the stored inputs and upstream gradients, and
compares every output/ and grad/ tensor by name (tolerances: tests/crosscut/parity.py). Every key of
every file must be read, so a fixture tensor cannot be silently ignored.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gatednp as gn
from tests.crosscut.parity import (
    LastStep,
    adam_trajectory,
    assert_close_named,
    measure,
    run_gatednp,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"
CASES = sorted(p.stem for p in FIXTURES.glob("*.npz"))
ADAM_CASES = [c for c in CASES if c.startswith("adam_")]
# losses and optimizers: tests/test_losses.py and tests/test_optim.py read them
MODULE_CASES = [c for c in CASES if c not in ADAM_CASES and c not in ("losses", "optimizers")]


class Fixture:
    """One fixture file's arrays; remembers which keys were read."""

    def __init__(self, case: str) -> None:
        with np.load(FIXTURES / f"{case}.npz", allow_pickle=False) as f:
            self.data = {key: f[key] for key in f.files}
        self.read: set[str] = set()
        assert int(self["meta/format_version"]) == 1
        for key in ("meta/torch_version", "meta/numpy_version"):  # provenance, must be present
            assert str(self[key])
        self.kind = str(self["meta/kind"])
        self.config = json.loads(str(self["meta/config"]))

    def __getitem__(self, key: str) -> np.ndarray:
        self.read.add(key)
        return self.data[key]

    def group(self, prefix: str) -> dict[str, np.ndarray]:
        """{name: array} of every key `prefix + name`."""
        return {k[len(prefix) :]: self[k] for k in self.data if k.startswith(prefix)}

    def expected(self) -> dict[str, np.ndarray]:
        """Every output/ and grad/ array under its full key, as `run_gatednp` names them."""
        return {k: self[k] for k in self.data if k.startswith(("output/", "grad/"))}

    def assert_all_read(self) -> None:
        unread = sorted(set(self.data) - self.read)
        assert not unread, f"fixture keys never compared: {unread}"


def build(kind: str, config: dict):
    """The gatednp module of `kind` from the torch constructor kwargs in `config`."""
    if not hasattr(gn, kind):
        pytest.skip(f"gn.{kind} not available (it comes with branch surface)")
    kwargs = {k: v for k, v in config.items() if k not in ("lengths", "dtype")}
    return getattr(gn, kind)(**kwargs, dtype=np.dtype(config["dtype"]), rng=0)


def test_every_fixture_kind_is_tested():
    assert len(MODULE_CASES) >= 27 and len(ADAM_CASES) == 3
    kinds = {Fixture(c).kind for c in MODULE_CASES}
    assert kinds == {"LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell"}


@pytest.mark.parametrize("case", MODULE_CASES)
def test_fixture(case):
    fx = Fixture(case)
    module = build(fx.kind, fx.config)
    params = fx.group("param/")
    module.load_state_dict(params)
    state = module.state_dict()
    assert list(state) == list(params), "parameter names and order must be torch's"
    for name, value in params.items():
        assert state[name].dtype == value.dtype and np.array_equal(state[name], value), name

    inputs = fx.group("input/")
    if fx.config["lengths"] is not None:
        assert inputs["lengths"].tolist() == fx.config["lengths"]
    results = run_gatednp(module, inputs, fx.group("upstream/"))
    assert_close_named(results, fx.expected())
    fx.assert_all_read()


@pytest.mark.parametrize("case", ADAM_CASES)
def test_adam_fixture(case):
    fx = Fixture(case)
    config, steps = fx.config, fx.config["steps"]
    I, H = config["input_size"], config["hidden_size"]
    model = LastStep(gn.LSTM(I, H, rng=0), gn.Linear(H, 1, rng=0))
    model.load_state_dict(fx.group("param0/"))
    hyper = {k: config[k] for k in ("lr", "betas", "eps", "weight_decay", "amsgrad")}
    losses, param1, param_n = adam_trajectory(
        model, fx["input/x"], fx["input/target"], hyper, steps
    )
    assert_close_named({"loss": losses}, {"loss": fx["loss"]}, kind="adam")
    assert_close_named(param1, fx.group("param1/"), kind="adam")
    assert_close_named(param_n, fx.group(f"param{steps}/"), kind="adam")
    fx.assert_all_read()


# -- the harness itself must be able to fail ----------------------------------------------------


def test_harness_names_the_tensor_out_of_tolerance():
    fx = Fixture("gru_basic")
    module = build(fx.kind, fx.config)
    module.load_state_dict(fx.group("param/"))
    results = run_gatednp(module, fx.group("input/"), fx.group("upstream/"))
    expected = fx.expected()
    results["grad/bias_hh_l0"] = results["grad/bias_hh_l0"] + 1e-7  # 1e-7 ≫ float64's tolerance
    with pytest.raises(AssertionError, match=r"grad/bias_hh_l0: max abs err 1e-07") as info:
        assert_close_named(results, expected)
    assert "grad/weight_hh_l0" not in str(info.value)
    del results["grad/x"]
    with pytest.raises(AssertionError, match=r"only in the reference: \['grad/x'\]"):
        assert_close_named(results, expected)


def test_harness_tolerances_follow_testing_md():
    ref64 = np.array([0.0, 3.0])
    assert measure("output/y", ref64 + [1e-10, 3e-9], ref64).ratio <= 1
    assert measure("output/y", ref64 + [2e-10, 0], ref64).ratio > 1
    assert measure("grad/x", ref64 + [3e-10, 3e-8], ref64).ratio <= 1  # atol 1e-10·3
    assert measure("grad/x", ref64 + [4e-10, 0], ref64).ratio > 1
    ref32 = ref64.astype(np.float32)
    assert measure("output/y", ref32 + np.float32(1e-5), ref32).ratio <= 1.0001
    assert measure("grad/x", ref32 + np.float32(5e-5), ref32).ratio <= 1
    assert measure("grad/x", ref32 + np.float32(1e-4), ref32).ratio > 1
    assert measure("output/y", ref64.astype(np.float32), ref64).ratio == np.inf  # dtype differs
