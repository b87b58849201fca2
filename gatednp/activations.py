"""The two nonlinearities of the gates, applied in place: σ for gates, tanh for candidates.

`sigmoid_` must never overflow or warn at any input and must agree with `scipy.special.expit`
to rounding over the whole range (tests/test_activations.py checks both); `tanh_` is NumPy's.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

__all__ = ["sigmoid_", "tanh_"]


def sigmoid_(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e⁻ˣ), in place; returns `x`."""
    return expit(x, out=x)


def tanh_(x: np.ndarray) -> np.ndarray:
    """tanh(x), in place; returns `x`."""
    return np.tanh(x, out=x)
