"""Move modules and weights between gatednp and PyTorch (torch is imported only when called).

gatednp's parameter names and shapes are torch's (`weight_ih_l0`, `bias_hh_l1_reverse`,
`weight_hr_l0`, `weight`, `bias`), so a state_dict crosses over by name as a plain copy: no
transposition, no gate reordering. Supported module types, with the constructor arguments read
from the source module's attributes:

    LSTM      input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
              proj_size
    GRU       the same without proj_size
    RNN       the same without proj_size, with nonlinearity ("tanh" | "relu")
    LSTMCell, GRUCell   input_size, hidden_size, bias;   RNNCell   also nonlinearity
    Linear    in_features, out_features, bias (present or not)

The training/eval mode is carried over too. Example (needs torch)::

    lstm = gatednp.torch_compat.from_torch(torch.nn.LSTM(3, 4, num_layers=2))
    back = gatednp.torch_compat.to_torch(lstm)      # torch.nn.LSTM with the same weights
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import gatednp

from .module import Module

__all__ = ["from_torch", "to_torch", "torch_state_dict", "load_torch_state_dict"]

_LAYER = ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout")
_CELL = ("input_size", "hidden_size", "bias")

# Constructor arguments of each supported type, read as attributes of the module
CONSTRUCTOR_ARGS: dict[str, tuple[str, ...]] = {
    "LSTM": (*_LAYER, "bidirectional", "proj_size"),
    "GRU": (*_LAYER, "bidirectional"),
    "RNN": (*_LAYER, "bidirectional", "nonlinearity"),
    "LSTMCell": _CELL,
    "GRUCell": _CELL,
    "RNNCell": (*_CELL, "nonlinearity"),
    "Linear": ("in_features", "out_features", "bias"),
}


def _torch():
    try:
        import torch
    except ImportError as err:  # pragma: no cover - exercised only without torch
        raise ImportError(
            "gatednp.torch_compat needs PyTorch (pip install torch); gatednp itself does not"
        ) from err
    return torch


def _kind(module: Any, namespace, what: str) -> str:
    """The supported type name `module` is an instance of (exact class first, then subclasses)."""
    kinds = [k for k in CONSTRUCTOR_ARGS if hasattr(namespace, k)]
    for kind in kinds:
        if type(module) is getattr(namespace, kind):
            return kind
    for kind in kinds:
        if isinstance(module, getattr(namespace, kind)):
            return kind
    raise TypeError(
        f"{what} must be one of {', '.join(kinds)}, got {type(module).__module__}."
        f"{type(module).__name__}"
    )


def _constructor_kwargs(module: Any, kind: str) -> dict[str, Any]:
    kwargs = {}
    for name in CONSTRUCTOR_ARGS[kind]:
        if not hasattr(module, name):
            raise TypeError(f"{type(module).__name__} has no attribute {name!r} to copy")
        kwargs[name] = getattr(module, name)
    if kind == "Linear":  # torch and gatednp keep the bias Parameter (or None), not a flag
        kwargs["bias"] = kwargs["bias"] is not None
    return kwargs


def _numpy_dtype(torch_dtype) -> np.dtype:
    torch = _torch()
    if not torch_dtype.is_floating_point:
        raise TypeError(f"expected a floating-point torch dtype, got {torch_dtype}")
    try:
        return torch.empty((), dtype=torch_dtype).numpy().dtype
    except TypeError as err:
        raise TypeError(f"torch dtype {torch_dtype} has no NumPy equivalent") from err


def from_torch(torch_module: Any, dtype=None) -> Module:
    """The gatednp module equivalent to a torch module, with a copy of its weights.

    Args:
        torch_module: a torch.nn.LSTM, GRU, RNN, LSTMCell, GRUCell, RNNCell or Linear.
        dtype: NumPy float dtype of the new module; None keeps the torch parameters' dtype.

    Returns:
        gn.LSTM / GRU / RNN / LSTMCell / GRUCell / RNNCell / Linear with the same constructor
        arguments, the same parameter values and the same training mode.
    """
    torch = _torch()
    kind = _kind(torch_module, torch.nn, "torch_module")
    if not hasattr(gatednp, kind):
        raise TypeError(f"this version of gatednp has no {kind}")
    if dtype is None:
        dtype = _numpy_dtype(next(torch_module.parameters()).dtype)
    module = getattr(gatednp, kind)(
        **_constructor_kwargs(torch_module, kind), dtype=np.dtype(dtype), rng=0
    )
    load_torch_state_dict(module, torch_module.state_dict())
    return module.train(torch_module.training)


def to_torch(gn_module: Module) -> Any:
    """The torch module equivalent to a gatednp module, with a copy of its weights.

    Args:
        gn_module: a gn.LSTM, GRU, RNN, LSTMCell, GRUCell, RNNCell or Linear.

    Returns:
        the torch.nn module of the same type and constructor arguments, its parameters in the
        gatednp parameters' dtype and equal to them, in the same training mode.
    """
    torch = _torch()
    kind = _kind(gn_module, gatednp, "gn_module")
    extras = {k: getattr(gn_module, k, None) for k in ("peepholes", "forget_bias", "reverse")}
    variant = {**getattr(gn_module, "variant", {}), **{k: v for k, v in extras.items() if v}}
    if variant:
        options = ", ".join(f"{k}={v!r}" for k, v in variant.items())
        raise TypeError(f"torch has no {kind} with {options}: only torch's own cell can move there")
    dtype = torch.from_numpy(np.empty(0, dtype=gn_module.parameters()[0].dtype)).dtype
    module = getattr(torch.nn, kind)(**_constructor_kwargs(gn_module, kind), dtype=dtype)
    module.load_state_dict(torch_state_dict(gn_module))
    return module.train(gn_module.training)


def torch_state_dict(gn_module: Module) -> dict[str, Any]:
    """{torch name: torch tensor (a copy)} of every parameter of `gn_module`."""
    torch = _torch()
    return {name: torch.from_numpy(p.data.copy()) for name, p in gn_module.named_parameters()}


def load_torch_state_dict(gn_module: Module, torch_state_dict: Mapping[str, Any]) -> None:
    """Copy a torch state_dict (tensors) into `gn_module`'s parameters, checked by name and shape.

    Args:
        gn_module: the gatednp module to write into.
        torch_state_dict: {name: torch.Tensor}, e.g. a torch module's `state_dict()`.

    Raises:
        ValueError listing every missing key, every unexpected key and every wrong shape;
        TypeError naming a value that is not a floating-point tensor. Nothing is written then.
    """
    torch = _torch()
    params = dict(gn_module.named_parameters())
    problems = []
    missing = [k for k in params if k not in torch_state_dict]
    unexpected = [k for k in torch_state_dict if k not in params]
    if missing:
        problems.append(f"missing keys {missing}")
    if unexpected:
        problems.append(f"unexpected keys {unexpected}")
    arrays = {}
    for name, p in params.items():
        if name not in torch_state_dict:
            continue
        value = torch_state_dict[name]
        if not isinstance(value, torch.Tensor) or not value.dtype.is_floating_point:
            raise TypeError(
                f"torch_state_dict[{name!r}] must be a floating-point torch.Tensor, got "
                f"{getattr(value, 'dtype', type(value).__name__)}"
            )
        if tuple(value.shape) != p.shape:
            problems.append(f"{name}: expected shape {p.shape}, got {tuple(value.shape)}")
        else:
            arrays[name] = value.detach().cpu().numpy()
    if problems:
        raise ValueError(
            f"cannot load the torch state_dict into {type(gn_module).__name__}: "
            + "; ".join(problems)
        )
    gn_module.load_state_dict(arrays)
