"""sigmoid_ and tanh_: expit / NumPy's tanh to rounding (absolute for the tanh form of σ and the exp form
of tanh), on every path whatever this CPU's SIMD; in place, no warnings; lstm_block;
ONNX's activation table: each function its spec formula, each derivative (read off y) its derivative."""

import numpy as np
import pytest
from scipy.special import expit

from gatednp import activations
from gatednp.activations import (
    ONNX_ACTIVATIONS,
    SIGMOID_EXP_MIN,
    SIGMOID_TANH_MIN,
    TANH_EXP_MIN,
    Activation,
    canonical,
    lstm_block,
    sigmoid_,
    tanh,
    tanh_,
)  # fmt: skip

DTYPES = [np.float32, np.float64]


@pytest.fixture(params=[True, False], ids=["simd-tanh", "no-simd-tanh"])
def simd(request, monkeypatch):
    """Each path on every machine: as if NumPy's tanh had SIMD on this CPU, and as if not."""
    for dtype in DTYPES:
        monkeypatch.setitem(activations.SIMD_TANH, dtype, request.param)
    return request.param


def _whole_range(dtype, size=1 << 16):
    """Every binade of the dtype, both signs, plus ±0, ±inf, the extremes and the cap edges."""
    info = np.finfo(dtype)
    rng = np.random.default_rng(0)
    mags = np.exp(rng.uniform(np.log(info.smallest_subnormal), np.log(info.max), size))
    dense = rng.uniform(-120, 120, size)  # where σ moves from 0 to 1 in both dtypes
    special = [0.0, info.max, info.tiny, info.smallest_subnormal, np.inf, 88.0, 88.7, 103.0]
    x = np.concatenate([mags, dense, special]).astype(dtype)
    return np.concatenate([x, -x])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [7, 4096])  # tiny and loop-sized blocks
def test_sigmoid_equals_expit_to_rounding(dtype, size, simd):
    """expit and the exp form: a few ulps relative. The tanh form ½ tanh(½x) + ½: a few ulps of
    1 in absolute terms (σ below ~ε rounds to 0 or ε/2: activations.py says why that is no loss),
    and a few ulps relative wherever σ ≥ 1/4."""
    eps = np.finfo(dtype).eps
    tanh_form = simd and size >= SIGMOID_TANH_MIN[dtype]
    x = _whole_range(dtype, size=1 << 16 if size > 1000 else 1 << 10)
    for start in range(0, x.size, size):
        block = x[start : start + size]
        expected = expit(block)
        got = sigmoid_(block.copy())
        assert got.dtype == dtype
        if tanh_form:
            np.testing.assert_allclose(got, expected, rtol=4 * eps, atol=2 * eps)
            big = expected >= 0.25
            np.testing.assert_allclose(got[big], expected[big], rtol=4 * eps)
        else:  # a few ulps relative; absolute slack only for subnormal results
            np.testing.assert_allclose(got, expected, rtol=4 * eps, atol=np.finfo(dtype).tiny)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_is_in_place_bounded_and_monotone(dtype, simd):
    x = np.sort(_whole_range(dtype))
    y = x.copy()
    assert sigmoid_(y) is y
    assert np.all((y >= 0) & (y <= 1))
    assert np.all(np.diff(y) >= 0)
    assert y[0] <= np.finfo(dtype).tiny and y[-1] == 1  # σ(-inf): 0 or a subnormal


def test_sigmoid_keeps_nan(simd):
    for dtype in DTYPES:
        x = np.full(5000, np.nan, dtype)
        assert np.isnan(sigmoid_(x)).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [7, 4096])  # below and above the exp form's threshold
def test_tanh_within_a_few_ulps_of_one_of_numpy(dtype, size, simd):
    """With SIMD tanh, float32 and small blocks NumPy's tanh exactly; else float64 blocks of
    TANH_EXP_MIN or more use 1 − 2/(1 + e²ˣ), accurate to a few ulps of 1 in absolute terms."""
    x = _whole_range(dtype, size=1 << 16 if size > 1000 else 1 << 10)
    exact = dtype == np.float32 or size < TANH_EXP_MIN or simd
    for start in range(0, x.size, size):
        block = x[start : start + size]
        y = block.copy()
        assert tanh_(y) is y
        if exact or block.size < TANH_EXP_MIN:
            np.testing.assert_array_equal(y, np.tanh(block))
        else:
            np.testing.assert_allclose(y, np.tanh(block), rtol=0, atol=2 * np.finfo(dtype).eps)
            assert np.all(np.abs(y) <= 1)


def test_tanh_float64_exp_form_at_the_edges(monkeypatch):
    monkeypatch.setitem(activations.SIMD_TANH, np.float64, False)  # the exp form on any CPU
    x = np.linspace(-30, 30, TANH_EXP_MIN + 1)
    x[:6] = [np.inf, -np.inf, 0.0, -0.0, 355.0, -1e308]
    x[6] = np.nan
    y = np.empty_like(x)
    assert tanh(x, out=y) is y
    np.testing.assert_array_equal(y[:6], [1, -1, 0, 0, 1, -1])
    assert np.isnan(y[6])
    np.testing.assert_allclose(y[7:], np.tanh(x[7:]), rtol=0, atol=4.5e-16)
    assert np.all(np.diff(y[7:]) >= 0)  # still monotone on a fine grid


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_uses_every_path(dtype, simd):
    """Blocks on both sides of each threshold agree with expit (the tests above cover values)."""
    n = max(SIGMOID_EXP_MIN, SIGMOID_TANH_MIN[dtype])
    x = np.random.default_rng(0).uniform(-20, 20, 3 * n).astype(dtype)
    for size in (SIGMOID_TANH_MIN[dtype] - 1, SIGMOID_EXP_MIN - 1, SIGMOID_EXP_MIN, 3 * n):
        eps = np.finfo(dtype).eps
        np.testing.assert_allclose(sigmoid_(x[:size].copy()), expit(x[:size]), 4 * eps, 2 * eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_block_is_sigma_on_ifo_and_tanh_on_g(dtype, simd):
    """Both forms of lstm_block: σ on the i, f, o columns and tanh on g, to rounding."""
    H, eps = 16, np.finfo(dtype).eps
    x = np.random.default_rng(1).uniform(-8, 8, (5, 4 * H)).astype(dtype)
    y = x.copy()
    assert lstm_block.__wrapped__(H, dtype)(y) is y
    g = slice(2 * H, 3 * H)
    np.testing.assert_allclose(y[:, g], np.tanh(x[:, g]), rtol=4 * eps, atol=2 * eps)
    ifo = np.r_[0 : 2 * H, 3 * H : 4 * H]
    np.testing.assert_allclose(y[:, ifo], expit(x[:, ifo]), rtol=4 * eps, atol=2 * eps)


# -- ONNX's activation table ---------------------------------------------------------------


# ONNX's LSTM / GRU / RNN operator spec, typed in: f(x) for each name, α and β as given
SPEC = {
    "relu": lambda x, a, b: max(0.0, x),
    "tanh": lambda x, a, b: float(np.tanh(x)),
    "sigmoid": lambda x, a, b: 1 / (1 + np.exp(-x)),
    "affine": lambda x, a, b: a * x + b,
    "leakyrelu": lambda x, a, b: x if x >= 0 else a * x,
    "thresholdedrelu": lambda x, a, b: x if x >= a else 0.0,
    "scaledtanh": lambda x, a, b: a * np.tanh(b * x),
    "hardsigmoid": lambda x, a, b: min(max(a * x + b, 0), 1),
    "elu": lambda x, a, b: x if x >= 0 else a * (np.exp(x) - 1),
    "softsign": lambda x, a, b: x / (1 + abs(x)),
    "softplus": lambda x, a, b: np.log(1 + np.exp(x)),
    "identity": lambda x, a, b: x,
}
# The defaults of the ONNX operators of the same name (LeakyRelu, ThresholdedRelu, HardSigmoid,
# Elu; the older Affine and ScaledTanh ops, as onnxruntime reads them)
SPEC_DEFAULTS = {
    "leakyrelu": (0.01, None), "thresholdedrelu": (1.0, None), "hardsigmoid": (0.2, 0.5),
    "elu": (1.0, None), "affine": (1.0, 0.0), "scaledtanh": (1.0, 1.0),
}  # fmt: skip
PARAMS = [(None, None), (0.7, 0.3)]


def test_the_table_is_the_spec_list():
    assert set(ONNX_ACTIVATIONS) == set(SPEC)
    for name in SPEC:
        act = Activation(name)
        assert (act.alpha, act.beta) == SPEC_DEFAULTS.get(name, (None, None)), name


@pytest.mark.parametrize("alpha, beta", PARAMS)
@pytest.mark.parametrize("name", sorted(SPEC))
def test_each_activation_is_its_formula_and_its_derivative_is_read_off_y(name, alpha, beta):
    takes = SPEC_DEFAULTS.get(name, (None, None))
    alpha = None if takes[0] is None else alpha
    beta = None if takes[1] is None else beta
    act = Activation(name, alpha, beta)
    x = np.random.default_rng(1).uniform(-4, 4, 400)
    x = x[np.abs(x) > 1e-3]
    a, b = act.alpha, act.beta
    expected = np.array([SPEC[name](v, a, b) for v in x])
    np.testing.assert_allclose(act(x), expected, rtol=1e-12, atol=1e-15, err_msg=name)
    # away from the kinks (0, α, and where HardSigmoid leaves [0, 1]), against central differences
    kinks = [0.0] + ([a] if a is not None else []) + ([(-b) / a, (1 - b) / a] if b else [])
    x = x[np.min([np.abs(x - k) for k in kinks], axis=0) > 1e-3]
    eps = 1e-6
    numeric = (act(x + eps) - act(x - eps)) / (2 * eps)
    np.testing.assert_allclose(act.grad(act(x)), numeric, rtol=1e-6, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("name", sorted(SPEC))
@pytest.mark.parametrize("dtype", DTYPES)
def test_activations_keep_the_dtype_warn_nowhere_and_write_in_place(name, dtype):
    x = np.array([-1e30, -800.0, -1.0, 0.0, 0.5, 800.0, 1e30], dtype=dtype)
    act = Activation(name)
    y = act(x)
    assert y.dtype == dtype and act.grad(y).dtype == dtype, name
    z = x.copy()
    assert act.apply_(z) is z
    np.testing.assert_array_equal(z, y)


@pytest.mark.parametrize(
    "given, kept",
    [("HardSigmoid", "hardsigmoid"), ("hard_sigmoid", "hardsigmoid"), ("TANH", "tanh")],
)
def test_names_ignore_case_and_underscores(given, kept):
    assert canonical(given) == kept


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="Unknown activation 'swish'. Select from sigmoid, tanh"):
        canonical("swish")
