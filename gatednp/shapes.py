"""The shapes a layer accepts and returns: batch_first, unbatched input, states as torch has them.

A layer's input is (T, B, I), (B, T, I) with batch_first, or unbatched (T, I); its states are
(D·num_layers, B, ·) or (D·num_layers, ·) unbatched, an (h, c) pair for an LSTM and h otherwise.
These functions turn them into the time-major batched arrays the engines take, and back,
checking each against what the layer expects (recurrent.py calls them).
"""

from __future__ import annotations

import numpy as np

from .checks import check_float_array, check_shape

__all__ = ["time_major", "dy_time_major", "check_states", "state_parts", "public_state"]


def time_major(layer, x, *, own: bool = False) -> tuple[np.ndarray, bool]:
    """x -> ((T, B, I) C-contiguous, batched?). With `own`, the result never shares memory
    with the caller's array: what a forward keeps for backward must not change if the caller
    writes into its input afterwards (NumPy has no version counter to detect it, as torch does;
    one copy of the input is the cheapest sure protection, and is made only when needed)."""
    x = check_float_array(x, "input", layer.dtype)
    if x.ndim not in (2, 3):
        raise ValueError(
            f"{type(layer).__name__}: Expected input to be 2D or 3D, got {x.ndim}D instead"
        )
    if x.shape[-1] != layer.input_size:
        raise ValueError(
            f"input.size(-1) must be equal to input_size. Expected {layer.input_size}, got {x.shape[-1]}"
        )
    batched = x.ndim == 3
    if not batched:
        x = x[:, None, :]
    elif layer.batch_first:
        x = x.transpose(1, 0, 2)
    out = np.ascontiguousarray(x)
    if own and np.may_share_memory(out, x):
        out = out.copy()
    return out, batched


def dy_time_major(layer, dy, y_shape: tuple[int, int, int], batched: bool) -> np.ndarray:
    """dy, shaped like the output y (checked in that layout), -> time-major (T, B, ·)."""
    dy = check_float_array(dy, "dy", layer.dtype)
    T, B, F = y_shape
    if not batched:
        expected, layout = (T, F), "(T, features), unbatched"
    elif layer.batch_first:
        expected, layout = (B, T, F), "(B, T, features), batch_first"
    else:
        expected, layout = (T, B, F), "(T, B, features)"
    if dy.shape != expected:
        raise ValueError(
            f"Expected dy shaped like the output y {layout}: {expected}, got {dy.shape}"
        )
    if not batched:
        return dy[:, None, :]
    return dy.transpose(1, 0, 2) if layer.batch_first else dy


def check_states(layer, state, name: str, B: int, batched: bool) -> list[np.ndarray]:
    """A state or its gradient from the user (None = zeros, an array, or an (h, c) pair;
    None parts are zeros) -> a list of (L·D, B, ·) arrays, checked."""
    L = layer.num_layers * layer.num_directions
    parts = (None,) * len(layer.kind.state) if state is None else state_parts(layer, state, name)
    out = []
    for part, s, size in zip(parts, layer.kind.state, layer.state_sizes):
        if part is None and (state is None or name == "dstate"):  # h0 comes whole or not
            out.append(np.zeros((L, B, size), dtype=layer.dtype))
            continue
        label = f"{s}0" if name == "hx" else f"d{s}_n"
        part = check_float_array(part, label, layer.dtype)
        check_shape(part, (L, B, size) if batched else (L, size), label)
        out.append(part if batched else part[:, None, :])
    return out


def state_parts(layer, state, name: str) -> tuple:
    if len(layer.kind.state) == 1:
        if isinstance(state, (tuple, list)):
            raise TypeError(
                f"{type(layer).__name__} expects {name} to be a single array, got a {type(state).__name__}"
            )
        return (state,)
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        given = type(state).__name__
        if isinstance(state, (tuple, list)):
            given = f"a {given} of {len(state)}"
        raise TypeError(f"{type(layer).__name__} expects {name} to be a pair (h, c), got {given}")
    return tuple(state)


def public_state(parts: list[np.ndarray], batched: bool):
    parts = [p if batched else p[:, 0] for p in parts]
    return tuple(parts) if len(parts) > 1 else parts[0]
