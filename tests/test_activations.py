"""sigmoid_ and tanh_: equal to scipy's expit / NumPy's tanh to rounding, in place, no warnings."""

import numpy as np
import pytest
from scipy.special import expit

from gatednp.activations import sigmoid_, tanh_

DTYPES = [np.float32, np.float64]


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
def test_sigmoid_equals_expit_to_rounding(dtype, size):
    x = _whole_range(dtype, size=1 << 16 if size > 1000 else 1 << 10)
    for start in range(0, x.size, size):
        block = x[start : start + size]
        expected = expit(block)
        got = sigmoid_(block.copy())
        assert got.dtype == dtype
        # a few ulps relative; absolute slack only for subnormal results
        np.testing.assert_allclose(
            got, expected, rtol=4 * np.finfo(dtype).eps, atol=np.finfo(dtype).tiny
        )


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_is_in_place_bounded_and_monotone(dtype):
    x = np.sort(_whole_range(dtype))
    y = x.copy()
    assert sigmoid_(y) is y
    assert np.all((y >= 0) & (y <= 1))
    assert np.all(np.diff(y) >= 0)
    assert y[0] <= np.finfo(dtype).tiny and y[-1] == 1  # σ(-inf): 0 or a subnormal


def test_sigmoid_keeps_nan():
    x = np.full(5000, np.nan, np.float32)
    assert np.isnan(sigmoid_(x)).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_equals_numpy_in_place(dtype):
    x = _whole_range(dtype)
    y = x.copy()
    assert tanh_(y) is y
    np.testing.assert_array_equal(y, np.tanh(x))
