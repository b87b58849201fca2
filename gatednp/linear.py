"""Linear: y = x Wᵀ + b over the last axis of any (..., in_features) input, as one GEMM.

    y = x Wᵀ + b         dW = Σ dyᵀ x      db = Σ dy      dx = dy W
with W (out_features, in_features), b (out_features,) and the sums over every leading axis.
"""

from __future__ import annotations

import numpy as np

from .checks import check_dtype, check_flags, check_float_array, check_sizes
from .module import BackwardError, Module, Parameter, as_rng, init_uniform
from .threads import matmul

__all__ = ["Linear"]


class Linear(Module):
    """torch.nn.Linear: weight (out, in), bias (out,), init U(-1/√in, 1/√in).

    >>> import numpy as np, gatednp as gn
    >>> fc = gn.Linear(4, 1, rng=0)
    >>> fc(np.ones((5, 2, 4))).shape
    (5, 2, 1)
    >>> fc.backward(np.ones((5, 2, 1))).shape
    (5, 2, 4)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        dtype=np.float64,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        check_sizes(in_features=in_features, out_features=out_features)
        check_flags(bias=bias)
        dtype = check_dtype(dtype)
        rng = as_rng(rng)
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / np.sqrt(in_features)
        self.weight = init_uniform(rng, (out_features, in_features), bound, dtype)
        self.bias: Parameter | None = (
            init_uniform(rng, (out_features,), bound, dtype) if bias else None
        )
        self._x: np.ndarray | None = None
        self._last_forward: str | None = None  # None, "train", "eval", "walked" (backward's error)

    def __repr__(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None})"

    @np.errstate(invalid="ignore", over="ignore")  # inf/nan in, nan out, silently as torch
    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (..., in_features) -> (..., out_features)."""
        x = check_float_array(x, "input", self.weight.data.dtype)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear expects input of shape (..., {self.in_features}), got {x.shape}"
            )
        x2 = x.reshape(-1, self.in_features)
        y = matmul(x2, self.weight.data.T)  # threads.matmul: fast for in_features = 1 too
        if self.bias is not None:
            y += self.bias.data
        self._x = np.array(x) if self.training else None  # a copy: x may change before backward
        self._last_forward = "train" if self.training else "eval"
        return y.reshape(*x.shape[:-1], self.out_features)

    @np.errstate(invalid="ignore", over="ignore")
    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dy (..., out_features) -> dx (..., in_features); accumulates dW and db."""
        x = self._x
        if x is None:
            raise BackwardError.explain(self, self._last_forward)
        dy = check_float_array(dy, "dy", self.weight.data.dtype)
        if dy.shape != (*x.shape[:-1], self.out_features):
            raise ValueError(
                f"Expected dy of shape {(*x.shape[:-1], self.out_features)}, got {dy.shape}"
            )
        self._x, self._last_forward = None, "walked"
        dy2 = dy.reshape(-1, self.out_features)
        self.weight.grad += dy2.T @ x.reshape(-1, self.in_features)
        if self.bias is not None:
            self.bias.grad += dy2.sum(axis=0)
        return matmul(dy2, self.weight.data).reshape(x.shape)
