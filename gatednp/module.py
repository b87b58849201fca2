"""Parameter and Module: the bookkeeping every layer shares, named and shaped like torch.nn.

A `Parameter` holds `data` and its accumulated `grad` (same shape and dtype). A `Module` finds its
parameters and submodules from its attributes, in the order they were assigned, and names them the
way torch does (`weight_ih_l0`, `fc.bias`), so a `state_dict` moves between the two by name.

Layers always read `param.data` / `param.grad` at call time and update them in place; optimizers
do the same and never rebind either, so an array taken from a parameter stays its storage.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "Parameter", "Module", "Weights", "BackwardError", "init_uniform", "as_rng", "MODULE_CLASSES",
    "parameter_budget",
]  # fmt: skip


class BackwardError(RuntimeError, ValueError):
    """`backward` with no forward left to walk back (none yet, already walked back, or eval mode).

    A RuntimeError as in torch, and a ValueError like every other misuse of the API.
    """

    @classmethod
    def explain(cls, module: Module, last_forward: str | None) -> BackwardError:
        """The error for `module.backward()` when `last_forward` (None: no forward yet; "eval";
        "walked": already walked back) left nothing to walk back."""
        why = {
            None: "no forward has run yet",
            "eval": "the last forward ran in eval mode, which keeps nothing for backward "
            "(call .train() before the forward)",
            "walked": "the last forward was already walked back (each forward can be walked "
            "back once: run forward again)",
        }[last_forward]
        return cls(
            f"{type(module).__name__}.backward() needs a forward pass in training mode: {why}"
        )


class Parameter:
    """A trainable array and the gradient accumulated into it by `backward`."""

    __slots__ = ("data", "grad")

    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self.grad = np.zeros_like(data)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """An `np.random.Generator` from a generator, an int seed or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise TypeError(
        f"rng must be an np.random.Generator, an int seed or None, got {type(rng).__name__}"
    )


_BUDGET: ContextVar[list | None] = ContextVar("gatednp_parameter_budget", default=None)


@contextmanager
def parameter_budget(values: int, source: str):
    """Within the block, modules may create at most `values` parameter entries in all, checked
    before allocating: a checkpoint's config cannot make `load` allocate more than the file
    (`source`) holds."""
    token = _BUDGET.set([values, values, source])
    try:
        yield
    finally:
        _BUDGET.reset(token)


def init_uniform(
    rng: np.random.Generator, shape: tuple[int, ...], bound: float, dtype
) -> Parameter:
    """torch's recurrent and linear init: every entry drawn from U(-bound, bound)."""
    budget = _BUDGET.get()
    if budget is not None:
        budget[0] -= math.prod(shape)
        if budget[0] < 0:
            raise ValueError(
                f"the model would have more parameters than the {budget[1]} values {budget[2]} "
                f"holds (asked for a parameter of shape {shape}); nothing that large is allocated"
            )
    return Parameter(rng.uniform(-bound, bound, size=shape).astype(dtype))


MODULE_CLASSES: dict[str, type[Module]] = {}  # gatednp's Module classes by name (checkpoints)


class Module:
    """Base class: parameter discovery, state_dict, train/eval, `__call__ = forward`."""

    training: bool = True

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__module__.split(".")[0] == "gatednp" and not cls.__name__.startswith("_"):
            MODULE_CLASSES.setdefault(cls.__name__, cls)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def __repr__(self) -> str:
        """torch's layout: the class, then each submodule on its own line, `(name): repr`."""
        children = [(n, m) for n, m in vars(self).items() if isinstance(m, Module)]
        if not children:
            return f"{type(self).__name__}()"
        lines = [f"  ({n}): " + repr(m).replace("\n", "\n  ") for n, m in children]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"

    def forward(self, *args, **kwargs):  # pragma: no cover - every layer overrides it
        raise NotImplementedError

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield `(name, parameter)` in assignment order, with torch's dotted names."""
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
            elif isinstance(value, Module):
                yield from value.named_parameters(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def modules(self) -> Iterator[Module]:
        yield self
        for value in vars(self).values():
            if isinstance(value, Module):
                yield from value.modules()

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad[...] = 0

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter, keyed by torch's names."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state_dict: Mapping[str, np.ndarray], strict: bool = True) -> None:
        """Copy arrays into the parameters of the same name (cast to the module's dtype).

        Values may be NumPy arrays or anything `np.asarray` accepts (torch tensors included).
        With `strict`, missing and unexpected keys are an error listing every one of them; a
        mis-shaped value is always an error. Nothing is written unless every key checks out.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"state_dict must be a mapping from parameter names to arrays, got {type(state_dict).__name__}"
            )
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in state_dict]
        unexpected = [k for k in state_dict if k not in params]
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {unexpected}")
        arrays = {}
        for name, p in params.items():
            if name not in state_dict:
                continue
            value = np.asarray(state_dict[name])
            if value.shape != p.data.shape:
                problems.append(f"{name}: expected shape {p.data.shape}, got {value.shape}")
            elif not (
                np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)
            ):
                problems.append(f"{name}: expected a real numeric array, got dtype {value.dtype}")
            else:
                arrays[name] = value
        if problems:
            raise ValueError(
                f"Error(s) in loading state_dict for {type(self).__name__}: " + "; ".join(problems)
            )
        for name, value in arrays.items():
            params[name].data[...] = value


class Weights(NamedTuple):
    """The parameters of one layer in one direction, as a cell's step and engine take them.

    Fields hold `Parameter`s (the engine, which accumulates into `.grad`) or plain arrays (the
    textbook step, see `arrays`; its gradients come back in a `Weights` of arrays too). Biases
    are None when `bias=False`; `weight_hr` is None unless an LSTM has `proj_size > 0`; the
    peephole weights `weight_ci, weight_cf, weight_co` (H,) are None unless it has peepholes.
    """

    weight_ih: Any
    weight_hh: Any
    bias_ih: Any = None
    bias_hh: Any = None
    weight_hr: Any = None
    weight_ci: Any = None
    weight_cf: Any = None
    weight_co: Any = None

    def arrays(self) -> Weights:
        """The parameters' `data`, with zeros for absent biases (the step's math then needs no
        case for `bias=False`); other absent fields stay None."""
        data = [None if p is None else p.data for p in self]
        for k in (2, 3):  # bias_ih, bias_hh
            if data[k] is None:
                data[k] = np.zeros(data[0].shape[0], dtype=data[0].dtype)
        return Weights(*data)

    def accumulate(self, grads: Weights) -> None:
        """Add a `Weights` of gradient arrays into these parameters' `.grad`, where they exist."""
        for p, g in zip(self, grads):
            if p is not None:
                p.grad += g
