"""The two nonlinearities of the gates, σ and tanh, written into a given array.

Both are a large share of a forward step (five of them per LSTM unit), so each uses the fastest
formulation measured on the CPUs we benchmark (benchmarks/README.md), switching on the dtype and
the block size; the small-block path is the plain library call, whose fixed cost is lowest.

- σ: `scipy.special.expit`, or, for float32 blocks of at least 2048 elements,
  `1 / (1 + e⁻ˣ)` from NumPy's vectorised float32 `exp` (1.8 ns per element against expit's 4.1
  here). e⁻ˣ overflows to inf for x < −88.7 and then σ = 1/inf = 0, the right limit: that
  overflow is expected and silenced. Relative error a few ulps everywhere, like expit's
  (tests/test_activations.py). NumPy's float64 `exp` is not vectorised on AVX2, so float64
  keeps expit (the exp form measured within 6 % of it).
- tanh: NumPy's `tanh`, or, for float64 blocks of at least 1024 elements,
  `1 − 2 / (1 + e²ˣ)` (6 ns per element against 13 ns for NumPy's scalar float64 tanh). This form
  is accurate to a few ulps of 1 in absolute terms (≤ 4.5e-16), not relative to tanh(x) near 0.
  That is no loss here: the argument is a GEMM output whose own rounding error is absolute, of
  order ε·Σ|wᵢxᵢ|, so digits of tanh(x) below ε carry no information. float32 keeps NumPy's
  tanh, which is vectorised and accurate to ulps.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

__all__ = ["sigmoid_", "tanh", "tanh_"]

SIGMOID_EXP_MIN = 2048  # float32 blocks at least this large use 1 / (1 + e⁻ˣ)
TANH_EXP_MIN = 1024  # float64 blocks at least this large use 1 − 2 / (1 + e²ˣ)


def sigmoid_(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e⁻ˣ), in place; returns `x`."""
    if x.dtype != np.float32 or x.size < SIGMOID_EXP_MIN:
        return expit(x, out=x)
    np.negative(x, out=x)
    with np.errstate(over="ignore"):  # e⁻ˣ = inf for x < −88.7: σ = 1/inf = 0
        np.exp(x, out=x)
    x += 1
    return np.reciprocal(x, out=x)


def tanh(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """tanh(x) written into `out` (which may be `x`); returns `out`."""
    if x.dtype != np.float64 or x.size < TANH_EXP_MIN:
        return np.tanh(x, out=out)
    with np.errstate(over="ignore"):  # 2x or e²ˣ = inf for x > 354: tanh = 1 − 2/inf = 1
        np.multiply(x, 2, out=out)
        np.exp(out, out=out)
    out += 1
    np.divide(2, out, out=out)
    return np.subtract(1, out, out=out)


def tanh_(x: np.ndarray) -> np.ndarray:
    """tanh(x), in place; returns `x`."""
    return tanh(x, out=x)
