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

Where the arrays live: `p.data` and `p.grad` stay the arrays the user (or the layer) put there;
a step reads `p.grad` and adds the update into `p.data` in place. Only the optimizer's own state
(m, v, max v; the momentum buffer) is packed, one flat buffer per dtype, so a step gathers each
dtype's gradients into a flat scratch with one `np.concatenate`, runs the update there as a
dozen vectorised calls, and adds each parameter's slice of the result into its `p.data`.
This is measurably slower than the former design, which rebound every `p.data` and `p.grad`
to views of flat buffers (no gather, no per-parameter add), most at small models where per-call
overhead is the cost. Median µs of `step()` (2-core Zen 2, NumPy 2.4), float32 / float64:

    LSTM(I, H) + Linear(H, 1)      Adam, rebinding → now     SGD momentum, rebinding → now
    LSTM(1, 50)     (10.7k params)  15 → 21  /   30 → 37      4.1 → 10   /  5.6 → 12
    LSTM(32, 64)    (25k params)    28 → 35  /   69 → 79      6.8 → 13   /  12 → 21
    LSTM(128, 256)  (396k params)  459 → 502 / 1189 → 1310    113 → 150  /  227 → 304

A whole Adam training step at the course's shape (T×B×I×H = 2×20×1×50) took 4–5% longer; at
35×32×28×256 the difference was within noise. The other candidate, a per-parameter loop of
in-place ufuncs (no gather), was 1.1–2.2× slower than this one at the two small models and at
most 17% faster at the large one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .module import Module, Parameter

__all__ = ["Optimizer", "Adam", "SGD", "clip_grad_norm"]


class Optimizer:
    """Base class: holds the parameters and the flat per-dtype state, zero_grad and state I/O.

    The optimizer never rebinds `p.data` or `p.grad`: it reads them at every step, updates
    `p.data` in place and never writes `p.grad` (except `zero_grad`). Arrays taken from them
    before or after construction stay the parameter's storage, and rebinding either to a new
    writable array of the same shape and dtype is honoured at the next step.

    Hyperparameters live in `param_groups[0]` (torch's layout) and are read at every step, so a
    schedule may change `opt.param_groups[0]["lr"]` between steps.
    """

    def __init__(self, params: Iterable[Parameter], defaults: dict[str, Any]) -> None:
        params = _parameter_list(params, type(self).__name__)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        seen = set()
        for i, p in enumerate(params):
            if not isinstance(p, Parameter):
                raise TypeError(
                    f"optimizer can only optimize Parameters, but parameter {i} is a "
                    f"{type(p).__name__}"
                )
            if id(p) in seen:
                raise ValueError(f"parameter {i} appears more than once in the parameter list")
            seen.add(id(p))
            data = np.asarray(p.data)
            if not np.issubdtype(data.dtype, np.floating):
                raise TypeError(f"parameter {i}: expected a floating dtype, got {data.dtype}")
            if data is not p.data or not data.flags.writeable:
                raise TypeError(
                    f"parameter {i}: data must be a writable ndarray (updated in place)"
                )
            if p.grad is None:
                p.grad = np.zeros_like(data)
            if p.grad.shape != data.shape or p.grad.dtype != data.dtype:
                raise ValueError(
                    f"parameter {i}: grad has shape {p.grad.shape} and dtype {p.grad.dtype}, "
                    f"data has shape {data.shape} and dtype {data.dtype}"
                )
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = [{**defaults, "params": params}]
        self._buffers: dict[str, list[np.ndarray]] = {}  # name → one flat array per dtype
        self._step = 0

        # Parameter i's state is the slice sl of dtype k's flat buffers, in parameter order.
        dtypes = list(dict.fromkeys(p.data.dtype for p in params))
        self._layout = [(p.data.shape, p.data.dtype) for p in params]  # param i → (shape, dtype)
        self._slots: list[tuple[int, slice]] = []  # param i → (k, sl)
        sizes = [0] * len(dtypes)
        for p in params:
            k = dtypes.index(p.data.dtype)
            self._slots.append((k, slice(sizes[k], sizes[k] + p.data.size)))
            sizes[k] += p.data.size
        self._sizes = list(zip(dtypes, sizes, strict=True))
        self._by_dtype = [[p for p in params if p.data.dtype == dt] for dt in dtypes]
        # Temporaries of step(), (N,) per dtype; `update` is also seen per parameter
        self._scratch = [tuple(np.empty(n, dt) for _ in range(3)) for dt, n in self._sizes]
        self._update_views = [[] for _ in dtypes]
        for (k, sl), (shape, _) in zip(self._slots, self._layout, strict=True):
            self._update_views[k].append(self._scratch[k][2][sl].reshape(shape))

    @property
    def params(self) -> list[Parameter]:
        return self.param_groups[0]["params"]

    def zero_grad(self) -> None:
        """Set every gradient to zero, in place."""
        for p in self.params:
            p.grad.fill(0)

    def _new_buffer(self) -> list[np.ndarray]:
        return [np.zeros(n, dt) for dt, n in self._sizes]

    def _check_arrays(self) -> None:
        """Refuse a step, before any change, if a `p.data` / `p.grad` was rebound to a misfit."""
        for i, (p, (shape, dtype)) in enumerate(zip(self.params, self._layout, strict=True)):
            data, grad = p.data, p.grad
            if (
                isinstance(data, np.ndarray)
                and isinstance(grad, np.ndarray)
                and data.shape == grad.shape == shape
                and data.dtype == grad.dtype == dtype
                and data.flags.writeable
            ):
                continue
            for name, a in (("data", data), ("grad", grad)):
                if not isinstance(a, np.ndarray):
                    raise TypeError(f"parameter {i}: p.{name} was rebound to a {type(a).__name__}")
                if a.shape != shape or a.dtype != dtype:
                    raise ValueError(
                        f"parameter {i}: p.{name} was rebound to an array of shape {a.shape} "
                        f"and dtype {a.dtype}, expected {shape} and {dtype}"
                    )
            raise TypeError(f"parameter {i}: p.data was rebound to a read-only array")

    def _flat_grad(self, k: int, weight_decay: float, maximize: bool) -> tuple[np.ndarray, ...]:
        """Dtype k's gradients gathered into scratch: (g, a, update), g = ±grad (+ λθ), (N,).

        g is −grad if `maximize`, plus λθ if weight_decay λ ≠ 0; `p.grad` is never written.
        """
        g, a, update = self._scratch[k]
        params = self._by_dtype[k]
        np.concatenate([p.grad for p in params], axis=None, out=g)
        if maximize:
            np.negative(g, out=g)
        if weight_decay != 0:
            np.concatenate([p.data for p in params], axis=None, out=a)
            a *= weight_decay
            g += a
        return g, a, update

    def _apply(self, k: int) -> None:
        """θ ← θ + update for every parameter of dtype k, in place, from scratch `update`."""
        for p, update in zip(self._by_dtype[k], self._update_views[k], strict=True):
            p.data += update

    def step(self) -> None:  # pragma: no cover - every optimizer overrides it
        raise NotImplementedError

    # Per-parameter state. A subclass keeps each named buffer (m, v, momentum, ...) as one flat
    # array per dtype in self._buffers, created by its first step, and counts steps if it needs
    # to; state_dict() slices them per parameter in torch's layout.
    _counts_steps = False

    def _state_names(self, group: Mapping[str, Any]) -> list[str]:  # pragma: no cover
        raise NotImplementedError

    def _validate(self, group: Mapping[str, Any]) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in torch's layout, as copies.

        Returns:
            {"state": {i: {("step",) buffer name: array}}, "param_groups": [{hyperparameters...,
            "params": [0, ..., n−1]}]}; arrays have their parameter's shape and dtype, "step" is
            an int. "state" is empty until the first step has created the buffers, as in torch.
        """
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        state: dict[int, dict[str, Any]] = {}
        if self._buffers:
            for i in range(len(self.params)):
                entry: dict[str, Any] = {"step": self._step} if self._counts_steps else {}
                for name in self._state_names(group):
                    buffers = self._buffers.get(name)  # absent: zeros, as the next step makes
                    (k, sl), (shape, dtype) = self._slots[i], self._layout[i]
                    entry[name] = (
                        buffers[k][sl].reshape(shape).copy() if buffers else np.zeros(shape, dtype)
                    )
                state[i] = entry
        return {
            "state": state,
            "param_groups": [{**group, "params": list(range(len(self.params)))}],
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore hyperparameters and state from `state_dict()`'s output, copying arrays.

        Args:
            state_dict: as returned by `state_dict()` of the same optimizer class over
                parameters of the same shapes, in the same order. Errors name the offending
                entry; nothing is changed unless everything checks out.
        """
        cls = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(f"{cls}: expected a dict with keys 'state' and 'param_groups'")
        groups = state_dict["param_groups"]
        if len(groups) != 1:
            raise ValueError(f"{cls}: loaded state dict has {len(groups)} parameter groups, not 1")
        group = {k: tuple(v) if isinstance(v, list) else v for k, v in groups[0].items()}
        ids = list(group.pop("params", []))
        n = len(self.params)
        if len(ids) != n or len(set(ids)) != n:
            raise ValueError(
                f"{cls}: loaded state dict has {len(ids)} parameters {ids}, the optimizer has {n}"
            )
        if set(group) != set(self.defaults):
            raise ValueError(
                f"{cls}: param_groups[0] has keys {sorted(group)}, expected {sorted(self.defaults)}"
            )
        self._validate(group)
        names = self._state_names(group)
        keys = set(names) | ({"step"} if self._counts_steps else set())

        # Map saved ids to our indices (torch's rule: by position in the saved group).
        position = {pid: i for i, pid in enumerate(ids)}
        loaded: dict[int, Mapping[str, Any]] = {}
        for pid, entry in state_dict["state"].items():
            where = f"{cls}: state[{pid}]"
            if pid not in position:
                raise ValueError(f"{cls}: state for unknown parameter id {pid}")
            if set(entry) != keys:
                raise ValueError(f"{where} has keys {sorted(entry)}, expected {sorted(keys)}")
            shape = self._layout[position[pid]][0]
            for name in names:
                arr = np.asarray(entry[name])
                if arr.shape != shape or not np.issubdtype(arr.dtype, np.floating):
                    raise ValueError(
                        f"{where}[{name!r}] has shape {arr.shape} and dtype "
                        f"{arr.dtype}, expected shape {shape} and a float dtype"
                    )
            loaded[position[pid]] = entry
        if loaded and len(loaded) != n:
            raise ValueError(
                f"{cls}: state has entries for {len(loaded)} of {n} parameters; "
                "all or none are needed"
            )
        step = 0
        if self._counts_steps and loaded:
            steps = {float(entry["step"]) for entry in loaded.values()}
            if len(steps) > 1:
                raise ValueError(f"{cls}: parameters have different steps {sorted(steps)}")
            step = steps.pop()
            if step != int(step) or step < 1:
                raise ValueError(f"{cls}: invalid step {step}")

        self.param_groups[0].update(group)
        self._step = int(step)
        self._buffers = {}
        if loaded:
            for name in names:
                self._buffers[name] = self._new_buffer()
                for i, entry in loaded.items():
                    k, sl = self._slots[i]
                    self._buffers[name][k][sl] = np.asarray(entry[name]).ravel()


def _parameter_list(params, who: str) -> list:
    """`params` materialised as a list (a generator is consumed once); a module is an error."""
    if isinstance(params, Module) or not isinstance(params, Iterable):
        raise TypeError(
            f"{who} expects an iterable of Parameters such as model.parameters(), "
            f"got {type(params).__name__}"
        )
    return list(params)


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
    grads = [p.grad for p in _parameter_list(parameters, "clip_grad_norm") if p.grad is not None]
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
