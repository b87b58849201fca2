"""Optimizers and gradient clipping: Adam (torch's exact update), SGD and clip_grad_norm.

Each update repeats, operation for operation, the single-tensor (non-foreach) code path of
`torch.optim.Adam` / `torch.optim.SGD`, so that float64 trajectories agree with torch to a few
ulps. Adam, step t (g = ∂L/∂θ, negated if `maximize`):

    g  ← g + λ θ                          (only if weight_decay λ ≠ 0: L2 added to the gradient)
    m  ← m + (1 − β₁)(g − m)              (torch's `lerp`)
    v  ← β₂ v + ((1 − β₂) g) g
    v̂  ← max(v̂, v)                        (amsgrad only; v̂ replaces v below)
    θ  ← θ + ((−lr / (1 − β₁ᵗ)) m) / (√v / √(1 − β₂ᵗ) + ε)

ε is added after the bias correction, so step 1 moves every parameter with a nonzero gradient by
about lr. SGD with momentum μ, dampening δ:

    g ← g + λ θ;   b ← g (first step) or μ b + (1 − δ) g;   g ← g + μ b (nesterov) or b
    θ ← θ − lr g

Adam and SGD are `Optimizer`s (optimizer.py): `p.data` and `p.grad` stay the caller's arrays,
and their state (m, v, max v; the momentum buffer) is flat, one buffer per dtype.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .module import Parameter
from .optimizer import Optimizer, parameter_list

__all__ = ["Optimizer", "Adam", "SGD", "clip_grad_norm"]


def _check_real(what: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"Invalid {what}: expected a real number, got {type(value).__name__}")


def _check_nonnegative(what: str, value: float) -> None:
    _check_real(what, value)
    if not 0.0 <= value:  # also rejects nan
        raise ValueError(f"Invalid {what}: {value}")


class Adam(Optimizer):
    """Adam with torch's exact update (`torch.optim.Adam`, single-tensor path).

    Args:
        params: the Parameters to optimise (a list, or any iterable such as a generator).
        lr: learning rate, ≥ 0.
        betas: (β₁, β₂), each in [0, 1): decay rates of the first and second moments.
        eps: ε ≥ 0, added to √v̂ after bias correction.
        weight_decay: λ ≥ 0; L2 penalty added to the gradient (not decoupled, as torch's Adam).
        amsgrad: normalise by the running maximum of v instead of v.
        maximize: ascend instead of descend.

    The moments m and v (and max v) are flat buffers per dtype; `p.data` and `p.grad` stay
    the caller's arrays (see `Optimizer`).

    Example:
        >>> import numpy as np
        >>> from gatednp.module import Parameter
        >>> w = Parameter(np.array([1.0, -2.0]))
        >>> opt = Adam([w], lr=0.1)
        >>> w.grad[...] = [3.0, -0.5]
        >>> opt.step()
        >>> np.round(w.data, 6)  # step 1 moves each entry by ≈ lr against its gradient
        array([ 0.9, -1.9])
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas) if isinstance(betas, (tuple, list)) else betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=bool(amsgrad),
            maximize=bool(maximize),
        )
        self._validate(defaults)
        super().__init__(params, defaults)

    _counts_steps = True

    @staticmethod
    def _state_names(group: Mapping[str, Any]) -> list[str]:
        return ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if group["amsgrad"] else [])

    @staticmethod
    def _validate(hyper: Mapping[str, Any]) -> None:
        _check_nonnegative("learning rate", hyper["lr"])
        _check_nonnegative("epsilon value", hyper["eps"])
        betas = hyper["betas"]
        if not isinstance(betas, tuple):
            raise TypeError(f"betas must be a pair (beta1, beta2), got {type(betas).__name__}")
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas}")
        for index, beta in enumerate(betas):
            _check_real(f"beta parameter at index {index}", beta)
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {index}: {beta}")
        _check_nonnegative("weight_decay value", hyper["weight_decay"])

    def step(self) -> None:
        """Apply one Adam update to every parameter from its current `grad`."""
        self._check_arrays()
        group = self.param_groups[0]
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, amsgrad, maximize = group["weight_decay"], group["amsgrad"], group["maximize"]
        buffers = self._buffers
        for name in self._state_names(group):  # m, v (, max v): (N,) per dtype, zeros at first
            if name not in buffers:
                buffers[name] = self._new_buffer()

        self._step += 1
        step = float(self._step)
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5

        for k in range(len(self._sizes)):
            m, v = buffers["exp_avg"][k], buffers["exp_avg_sq"][k]
            g, a, update = self._flat_grad(k, weight_decay, maximize)
            # m ← lerp(m, g, 1 − β₁) = m + (1 − β₁)(g − m)
            tmp = np.subtract(g, m, out=a)
            tmp *= 1 - beta1
            m += tmp
            # v ← β₂ v + ((1 − β₂) g) g
            v *= beta2
            tmp = np.multiply(g, 1 - beta2, out=a)
            tmp *= g
            v += tmp
            if amsgrad:
                v_max = buffers["max_exp_avg_sq"][k]
                v = np.maximum(v_max, v, out=v_max)
            # denom = √v / √(1 − β₂ᵗ) + ε;   θ ← θ + ((−step_size) m) / denom
            denom = np.sqrt(v, out=a)
            denom /= bias_correction2_sqrt
            denom += eps
            np.multiply(m, -step_size, out=update)
            update /= denom
            self._apply(k)


class SGD(Optimizer):
    """Stochastic gradient descent with torch's momentum, dampening and Nesterov semantics.

    Args:
        params: the Parameters to optimise (a list, or any iterable such as a generator).
        lr: learning rate, ≥ 0.
        momentum: μ ≥ 0; 0 is plain SGD.
        dampening: δ; the momentum buffer adds (1 − δ) g (from the second step on).
        weight_decay: λ ≥ 0; L2 penalty added to the gradient.
        nesterov: use g + μ b instead of b; needs μ > 0 and δ = 0.
        maximize: ascend instead of descend.

    On the first step the momentum buffer is a copy of the gradient, as in torch.

    Example:
        >>> import numpy as np
        >>> from gatednp.module import Parameter
        >>> w = Parameter(np.array([1.0, 2.0]))
        >>> opt = SGD([w], lr=0.5)
        >>> w.grad[...] = [1.0, -1.0]
        >>> opt.step()
        >>> w.data
        array([0.5, 2.5])
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=bool(nesterov),
            maximize=bool(maximize),
        )
        self._validate(defaults)
        super().__init__(params, defaults)

    @staticmethod
    def _state_names(group: Mapping[str, Any]) -> list[str]:
        return ["momentum_buffer"]

    @staticmethod
    def _validate(hyper: Mapping[str, Any]) -> None:
        _check_nonnegative("learning rate", hyper["lr"])
        _check_nonnegative("momentum value", hyper["momentum"])
        _check_real("dampening value", hyper["dampening"])
        _check_nonnegative("weight_decay value", hyper["weight_decay"])
        if hyper["nesterov"] and (hyper["momentum"] <= 0 or hyper["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def step(self) -> None:
        """Apply one SGD update to every parameter from its current `grad`."""
        self._check_arrays()
        group = self.param_groups[0]
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        weight_decay, nesterov, maximize = (
            group["weight_decay"],
            group["nesterov"],
            group["maximize"],
        )
        first = "momentum_buffer" not in self._buffers
        if momentum != 0 and first:  # (N,) per dtype, a copy of g after the first step
            self._buffers["momentum_buffer"] = self._new_buffer()

        for k in range(len(self._sizes)):
            g, a, update = self._flat_grad(k, weight_decay, maximize)
            if momentum != 0:
                buf = self._buffers["momentum_buffer"][k]
                if first:  # b ← g
                    buf[...] = g
                else:  # b ← μ b + (1 − δ) g
                    buf *= momentum
                    if dampening != 0:
                        buf += np.multiply(g, 1 - dampening, out=a)
                    else:
                        buf += g
                if nesterov:  # g ← g + μ b
                    np.multiply(buf, momentum, out=a)
                    g += a
                else:
                    g = buf
            # θ ← θ + (−lr) g
            np.multiply(g, -lr, out=update)
            self._apply(k)


def _vector_norm(x: np.ndarray, norm_type: float) -> np.floating:
    """‖x‖ over all entries, in x's dtype; 0 for an empty array (as torch)."""
    if x.size == 0:
        return x.dtype.type(0)
    return np.linalg.norm(x.ravel(), norm_type)


def clip_grad_norm(
    parameters: Iterable[Parameter],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    """Scale all gradients in place so that their joint norm is at most `max_norm` (torch's
    `clip_grad_norm_`).

    total = ‖(‖g₁‖, ‖g₂‖, …)‖ (each a `norm_type` norm; `inf` is the largest |entry|), and every
    g is multiplied by min(max_norm / (total + 1e-6), 1), computed in the gradients' dtype.

    Args:
        parameters: Parameters whose `grad` is clipped (any iterable).
        max_norm: the largest allowed total norm.
        norm_type: p of the p-norm; `float("inf")` for the max norm.
        error_if_nonfinite: raise if the total norm is nan or ±inf instead of scaling by it.

    Returns:
        The total norm before clipping, as a Python float.

    Raises:
        RuntimeError: the total norm is not finite and `error_if_nonfinite` is set.

    Example:
        >>> import numpy as np
        >>> from gatednp.module import Parameter
        >>> w = Parameter(np.zeros(2)); w.grad[...] = [3.0, 4.0]
        >>> clip_grad_norm([w], max_norm=1.0)
        5.0
        >>> np.round(w.grad, 6)
        array([0.6, 0.8])
    """
    grads = [p.grad for p in parameter_list(parameters, "clip_grad_norm") if p.grad is not None]
    _check_nonnegative("max_norm", max_norm)
    _check_real("norm_type", norm_type)
    if not norm_type > 0:
        raise ValueError(f"Invalid norm_type: expected a positive number or inf, got {norm_type}")
    norm_type = float(norm_type)
    if not grads:
        return 0.0
    dtype = np.result_type(*grads)
    norms = np.array([_vector_norm(g, norm_type) for g in grads], dtype=dtype)
    total = _vector_norm(norms, norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients is non-finite ({float(total)}), "
            "so it cannot be clipped. To scale the gradients by the non-finite norm anyway, "
            "set error_if_nonfinite=False"
        )
    clip_coef = max_norm / (total + dtype.type(1e-6))
    if not clip_coef >= 1.0:  # torch multiplies by min(coef, 1): a no-op unless < 1 (or nan)
        with np.errstate(invalid="ignore"):  # inf · 0 = nan, silently, as in torch
            for g in grads:
                g *= clip_coef
    return float(total)
