"""The optimizer base class: the parameters, the optimizer's flat state, zero_grad, state dicts.

The update rules (Adam, SGD) are in optim.py; this file is their bookkeeping. `p.data` and
`p.grad` stay the arrays the user (or the layer) put there: a step reads `p.grad` and adds the
update into `p.data` in place. Only the optimizer's own state (m, v, max v; the momentum buffer)
is packed, one flat buffer per dtype, so a step gathers each dtype's gradients into a flat
scratch with one `np.concatenate`, runs the update there as a dozen vectorised calls, and adds
each parameter's slice of the result into its `p.data`.

This is measurably slower than the former design, which rebound every `p.data` and `p.grad`
to views of flat buffers (no gather, no per-parameter add), most at small models where per-call
overhead is the cost. Median µs of `step()` (2-core Zen 2, NumPy 2.4; 7 rounds, and a repeat
run moved the ratios by up to 0.13), float32 / float64:

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

__all__ = ["Optimizer", "parameter_list"]


class Optimizer:
    """Base class: holds the parameters and the flat per-dtype state, zero_grad and state I/O.

    The optimizer never rebinds `p.data` or `p.grad`: it reads them at every step, updates
    `p.data` in place and never writes `p.grad` (except `zero_grad`). Arrays taken from them
    before or after construction stay the parameter's storage, and rebinding either to a new
    writable array of the same shape and dtype is honoured at the next step.

    Hyperparameters live in `param_groups[0]` (torch's layout) and are read at every step, so a
    schedule may change `opt.param_groups[0]["lr"]` between steps.

    A subclass gives `_validate(hyper)`, `_state_names(group)` and `_counts_steps`, and a
    `step()` that calls `_check_arrays()`, keeps each named buffer in `_buffers` (made by
    `_new_buffer()` at its first step) and, for each dtype k, writes its update into the
    scratch `update` that `_flat_grad(k, ...)` returns, then calls `_apply(k)`.
    """

    def __init__(self, params: Iterable[Parameter], defaults: dict[str, Any]) -> None:
        params = parameter_list(params, type(self).__name__)
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

    # Per-parameter state: each named buffer (m, v, momentum, ...) is one flat array per dtype
    # in self._buffers; state_dict() slices it per parameter in torch's layout.
    _counts_steps = False

    def _state_names(self, group: Mapping[str, Any]) -> list[str]:  # pragma: no cover
        raise NotImplementedError

    def _validate(self, group: Mapping[str, Any]) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __repr__(self) -> str:
        """torch's layout: the class, then the group's hyperparameters in name order."""
        group = self.param_groups[0]
        rows = "".join(f"    {k}: {group[k]}\n" for k in sorted(group) if k != "params")
        return f"{type(self).__name__} (\nParameter Group 0\n{rows})"

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


def parameter_list(params, who: str) -> list:
    """`params` materialised as a list (a generator is consumed once); a module is an error."""
    if isinstance(params, Module) or not isinstance(params, Iterable):
        raise TypeError(
            f"{who} expects an iterable of Parameters such as model.parameters(), "
            f"got {type(params).__name__}"
        )
    return list(params)
