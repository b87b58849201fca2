"""Argument checks shared by every public entry point: one clear error naming what was expected."""

from __future__ import annotations

import warnings

import numpy as np

__all__ = [
    "check_sizes", "check_flags", "check_dtype", "check_float_array", "check_shape", "check_dropout",
    "check_proj_size", "check_directions",
]  # fmt: skip


def check_sizes(**sizes: int) -> None:
    """Every size must be a positive int: `check_sizes(input_size=3, hidden_size=0)` raises."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value <= 0:
            raise ValueError(f"{name} must be greater than zero, got {value}")


def check_flags(**flags: bool) -> None:
    """Every flag must be a bool: `check_flags(bidirectional="yes")` raises."""
    for name, value in flags.items():
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool, got {type(value).__name__}")


def check_directions(bidirectional: bool, reverse: bool) -> None:
    """Both flags bool, and not both set: a reverse layer (ONNX direction="reverse") runs its
    one direction backwards; a bidirectional one has both directions already."""
    check_flags(bidirectional=bidirectional, reverse=reverse)
    if reverse and bidirectional:
        raise ValueError(
            "reverse=True runs a layer's one direction from the last step to the first (ONNX "
            "direction='reverse'); a bidirectional layer has both directions already: give "
            "reverse=True or bidirectional=True, not both"
        )


def check_dtype(dtype) -> np.dtype:
    """`dtype` as a floating-point np.dtype: `check_dtype(np.int64)` raises."""
    try:
        result = np.dtype(dtype)
    except TypeError:
        result = None
    if result is None or not np.issubdtype(result, np.floating):
        raise TypeError(f"dtype must be a floating-point dtype such as np.float64, got {dtype!r}")
    return result


def check_float_array(x, name: str, dtype: np.dtype) -> np.ndarray:
    """`x` as an ndarray of exactly the module's float dtype (no silent cast)."""
    if not isinstance(x, np.ndarray):
        hint = ""
        if hasattr(x, "detach") and hasattr(x, "numpy"):  # a torch tensor
            hint = f": pass {name}.detach().numpy() (gatednp runs on NumPy arrays)"
        elif isinstance(x, (list, tuple)):
            hint = f": pass np.asarray({name}, dtype=...)"
        raise TypeError(f"{name} must be a NumPy array, got {type(x).__name__}{hint}")
    if x.dtype.kind != "f":  # np.issubdtype(x.dtype, np.floating), 1.5 µs cheaper per call
        raise TypeError(f"{name} must be a floating-point array, got dtype {x.dtype}")
    if x.dtype != dtype:
        raise ValueError(
            f"{name} has dtype {x.dtype} but the module's parameters are {np.dtype(dtype)}; "
            f"convert one of them (no silent cast): {name}.astype(np.{np.dtype(dtype)}), or "
            f"build the layers with dtype=np.{x.dtype}"
        )
    return x


def check_shape(a: np.ndarray, expected: tuple[int, ...], name: str) -> None:
    if a.shape != expected:
        raise ValueError(f"Expected {name} size {expected}, got {a.shape}")


def check_dropout(dropout, num_layers: int = 2) -> float:
    """A dropout probability in [0, 1), as a float; warns, as torch does, when it cannot act
    (dropout is applied between layers: one layer has none)."""
    if not isinstance(dropout, (int, float, np.integer, np.floating)) or isinstance(dropout, bool):
        raise TypeError(f"dropout must be a number in [0, 1), got {type(dropout).__name__}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout}")
    if dropout > 0 and num_layers == 1:
        warnings.warn(
            "dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
            f"expects num_layers greater than 1, but got dropout={dropout} and num_layers=1",
            UserWarning,
            stacklevel=4,
        )
    return float(dropout)


def check_proj_size(proj_size, hidden_size: int) -> int:
    """torch's LSTM projection size: an int in [0, hidden_size)."""
    if isinstance(proj_size, bool) or not isinstance(proj_size, (int, np.integer)):
        raise TypeError(f"proj_size must be an int, got {type(proj_size).__name__}")
    if proj_size < 0:
        raise ValueError(f"proj_size must be zero or positive, got {proj_size}")
    if proj_size >= hidden_size:
        raise ValueError(
            f"proj_size has to be smaller than hidden_size, got {proj_size} >= {hidden_size}"
        )
    return int(proj_size)
