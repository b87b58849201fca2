"""Reused buffers: the engines' large arrays outlive a call and serve the next one.

Why: an array of more than ~128 KiB is memory fresh from the operating system each time NumPy
allocates it (glibc's malloc maps it, and gives it back when it is freed), and every 4 KiB page
of it costs a page fault the first time it is written. The engines' (T, B, ·) buffers (gates,
states, tanh(c), ...) are exactly such arrays, allocated again at every call: a training step of
the adding task's LSTM (100×64×2×64, float32) made about 2,400 page faults, and they, not the
arithmetic, were most of gatednp's distance to NumPy's floor (benchmarks/README.md). Reused, the
pages are already mapped and still in cache.

How it stays safe: a buffer is handed out again only when nothing but the workspace refers to
it. The outputs a user gets are views of these buffers (y is h[1:]), and a view holds its base,
so a buffer whose output, state or cache is still alive anywhere is never reused: while a user
keeps y, the next call gets another buffer. What is handed out has arbitrary contents, as
`np.empty`'s.

Bounds: buffers under `MIN_BYTES` are left to NumPy (its own cache and malloc serve them
without faults); at most `MAX_PER_SHAPE` buffers are kept per shape and dtype, and at most
`limit()` bytes in all, the shapes used least recently given back first. `clear()` gives
everything back; `set_limit(0)` turns reuse off.

>>> import numpy as np
>>> from gatednp import workspace
>>> a = workspace.empty((64, 1024), np.float32)
>>> a_id = id(a)
>>> del a                                   # nothing refers to it any more: it is reused
>>> id(workspace.empty((64, 1024), np.float32)) == a_id
True
>>> b = workspace.empty((64, 1024), np.float32)
>>> c = workspace.empty((64, 1024), np.float32)   # b is alive: c is another buffer
>>> b is c
False
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from math import prod

import numpy as np

__all__ = ["empty", "zeros", "clear", "set_limit", "limit", "info", "MIN_BYTES", "MAX_PER_SHAPE"]

MIN_BYTES = 1 << 16  # smaller arrays are NumPy's (no page faults to save)
MAX_PER_SHAPE = 8  # e.g. both directions of a 3-layer stack, kept alive from forward to backward

_lock = threading.Lock()
_pool: OrderedDict[tuple, list[np.ndarray]] = OrderedDict()  # (shape, dtype) -> buffers
_held = 0  # bytes in _pool
_limit = 1 << 28  # 256 MiB


def _free_one(buffers: list[np.ndarray]) -> np.ndarray | None:
    """The first of `buffers` that nothing else refers to, or None."""
    for a in buffers:
        if sys.getrefcount(a) == _FREE:
            return a
    return None


def _count_free(buffers: list[np.ndarray]) -> int:
    """How many of `buffers` nothing else refers to (as `_free_one` sees them)."""
    n = 0
    for a in buffers:
        n += sys.getrefcount(a) == _FREE
    return n


def _free_refcount() -> int:
    """The reference count `_free_one` sees for a buffer only the workspace holds: measured on
    this interpreter, through the same code path, rather than assumed."""
    buffers = [np.empty(1)]
    for a in buffers:
        return sys.getrefcount(a)
    raise AssertionError  # unreachable


_FREE = _free_refcount()


def empty(shape: tuple[int, ...], dtype) -> np.ndarray:
    """An array of `shape` and `dtype` with arbitrary contents, reused when one is free."""
    global _held
    dtype = np.dtype(dtype)
    nbytes = prod(shape) * dtype.itemsize
    if nbytes < MIN_BYTES or _limit == 0:  # the common small case first: nothing else to do
        return np.empty(shape, dtype)
    shape = tuple(int(n) for n in shape)
    key = (shape, dtype.str)
    with _lock:
        buffers = _pool.get(key)
        if buffers is not None:
            _pool.move_to_end(key)
            a = _free_one(buffers)
            if a is not None:
                return a
        a = np.empty(shape, dtype)
        if len(buffers or ()) < MAX_PER_SHAPE and _make_room(nbytes):
            _pool.setdefault(key, []).append(a)
            _held += nbytes
        return a


def zeros(shape: tuple[int, ...], dtype) -> np.ndarray:
    """`empty`, filled with zeros."""
    a = empty(shape, dtype)
    a.fill(0)
    return a


def _make_room(nbytes: int) -> bool:
    """Give back free buffers, least recently used shapes first, until `nbytes` more fit under
    the limit; False if they cannot. Called with the lock held."""
    global _held
    for key in list(_pool):
        if _held + nbytes <= _limit:
            break
        buffers = _pool[key]
        while (a := _free_one(buffers)) is not None and _held + nbytes > _limit:
            buffers.remove(a)
            _held -= a.nbytes
            del a
        if not buffers:
            del _pool[key]
    return _held + nbytes <= _limit


def clear() -> None:
    """Give back every buffer (those still in use stay with their users)."""
    global _held
    with _lock:
        _pool.clear()
        _held = 0


def set_limit(nbytes: int) -> None:
    """Keep at most `nbytes` of buffers (default 256 MiB); 0 turns reuse off."""
    global _limit
    if isinstance(nbytes, bool) or not isinstance(nbytes, (int, np.integer)) or nbytes < 0:
        raise ValueError(f"set_limit: nbytes must be an int >= 0, got {nbytes!r}")
    with _lock:
        _limit = int(nbytes)
    if nbytes == 0:
        clear()
    else:
        with _lock:
            _make_room(0)


def limit() -> int:
    """The most bytes of buffers kept."""
    return _limit


def info() -> dict[str, int]:
    """What is kept: bytes, buffers, of which free now, and the limit."""
    with _lock:
        count = sum(len(buffers) for buffers in _pool.values())
        free = sum(_count_free(buffers) for buffers in _pool.values())
        return {"bytes": _held, "buffers": count, "free": free, "limit": _limit}
