"""The finite-difference primitive: the vector–Jacobian product of any function of arrays.

`numerical_gradient(f, x, df)` is cs231n's `eval_numerical_gradient_array`: for y = f(x) and an
upstream gradient df shaped like y, it returns ∂⟨f(x), df⟩/∂x, element by element, by central
differences in float64:

    grad[k] = ⟨f(x + ε e_k) − f(x − ε e_k), df⟩ / 2ε

`x` is perturbed in place and restored, so `f` may take it as its argument or read it from a
closure (`lambda _: forward(x, w)[0]` checked against `w` works too).

>>> import numpy as np
>>> w, x = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.5, -1.0]])
>>> df = np.array([[1.0, 0.0]])
>>> numerical_gradient(lambda x: x @ w.T, x, df)          # = df @ w
array([[1., 2.]])
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["numerical_gradient"]


def numerical_gradient(
    f: Callable[[np.ndarray], np.ndarray | float],
    x: np.ndarray,
    df: np.ndarray | float = 1.0,
    eps: float = 1e-6,
) -> np.ndarray:
    """∂⟨f(x), df⟩/∂x by central differences.

    Args:
        f: a function of x returning an array (or a number) y; it may also read x by closure.
        x: a float64 array (any shape), perturbed in place one element at a time and restored.
        df: the upstream gradient, shaped like y (a number for a scalar f).
        eps: the step ε.

    Returns:
        the gradient, shaped like x (float64).
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(
            "numerical_gradient needs x as a float64 NumPy array (it is perturbed in place; "
            f"float32 differences are too coarse), got {type(x).__name__} "
            f"{getattr(x, 'dtype', '')}".rstrip()
        )
    df = np.asarray(df, dtype=np.float64)
    grad = np.zeros_like(x)
    flat, out = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("x must be contiguous so that it can be perturbed in place")
    for k in range(flat.size):
        keep = flat[k]
        flat[k] = keep + eps
        plus = np.array(f(x), dtype=np.float64, copy=True)
        flat[k] = keep - eps
        minus = np.array(f(x), dtype=np.float64, copy=True)
        flat[k] = keep
        if plus.shape != df.shape and df.ndim:
            raise ValueError(f"f(x) has shape {plus.shape} but df has shape {df.shape}")
        out[k] = float(np.sum((plus - minus) * df)) / (2 * eps)
    return grad
