"""gatednp's own threads (opt-in): the time loops and the large GEMMs over blocks of rows.

By default gatednp runs on the calling thread and leaves the parallelism to NumPy's BLAS, which
spreads each GEMM over the cores; the elementwise gate math between two GEMMs then runs on one
core. `set_num_threads(n)` with n > 1 splits the work of the LSTM, GRU and RNN itself instead:

- the time loop: the rows of a batch never meet inside a recurrent layer (row b of h_t depends
  only on row b of h_{t-1}, c_{t-1} and x_t), so the loop runs as n independent loops over
  blocks of rows, one per thread. Each step's GEMM and gate math run inside BLAS and inside
  NumPy's ufunc loops, which release the GIL, so the blocks run in parallel;
- the large GEMMs before and after the loop (input projections, weight gradients, dx): the
  rows of the output are split over the threads (`matmul_rows`).

BLAS must then run each call on one thread, or it would compete with ours for the cores. Worse,
OpenBLAS keeps its idle threads spinning for a long while after each multi-threaded call and
after each change of its thread count (measured here: still spinning 0.3 s later), so its
thread count cannot be lowered just around gatednp's calls: `set_num_threads(n > 1)` sets
NumPy's OpenBLAS to one thread for the whole process, and `set_num_threads(1)` gives it back
the count it had. With another BLAS, set its threads to 1 yourself (environment variable or
threadpoolctl); gatednp warns that it could not.

What the split keeps equal: each row's gate math goes through the same operations in the same
order, bit for bit. What it may not: a GEMM over a block of rows can be summed in another order
by BLAS than over the whole batch (OpenBLAS: ~1e-14 apart in float64), so results with and
without threads agree to rounding error, not always bit for bit.
Problems too small to pay for the threads' overheads (which hold the GIL) run as one block:
see `MIN_BLOCK_BYTES`, `MIN_LOOP_BYTES` and `MIN_BLOCK_MACS`.
"""

from __future__ import annotations

import ctypes
import os
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from . import workspace

__all__ = [
    "get_num_threads", "set_num_threads", "split_rows", "matmul_rows", "matmul", "set_blas_threads"
]  # fmt: skip

# Below these a block's work does not pay for the threads' overheads (measured on the
# benchmark shapes, two threads: a block of 16 rows × 128 units gains in float64 (LSTM small
# inference 16.8 -> 10.4 ms) and loses in float32 (GRU small training 13.8 -> 17.4 ms)).
MIN_BLOCK_BYTES = 1 << 14  # rows × H × itemsize of one block at one step
MIN_LOOP_BYTES = 1 << 18  # the same over all T steps (a cell's single step stays serial)
MIN_BLOCK_MACS = 1 << 22  # multiply-adds of one block of a split GEMM

_num_threads = 1
_pool: ThreadPoolExecutor | None = None
_region = threading.Lock()  # one split at a time; a call that finds it taken runs serially
_blas_threads_before: int | None = None  # OpenBLAS's count before set_num_threads(n > 1)


class _OpenBLAS:
    """get/set of the number of threads of the OpenBLAS that NumPy calls."""

    NAMES = [  # (get, set) symbol pairs: NumPy's wheels ship scipy-openblas (ILP64)
        ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
        ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
        ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
        ("openblas_get_num_threads", "openblas_set_num_threads"),
    ]

    def __init__(self, lib: ctypes.CDLL):
        for get, set_ in self.NAMES:
            if hasattr(lib, get) and hasattr(lib, set_):
                self.get, self.set = getattr(lib, get), getattr(lib, set_)
                self.get.restype, self.get.argtypes = ctypes.c_int, []
                self.set.restype, self.set.argtypes = None, [ctypes.c_int]
                return
        raise OSError("no OpenBLAS get/set_num_threads symbols")


def _numpy_openblas() -> _OpenBLAS | None:
    """The OpenBLAS that NumPy is linked against, or None if it cannot be told apart."""
    numpy_dirs = [Path(np.__file__).parent.parent / "numpy.libs", Path(np.__file__).parent]
    try:  # Linux: the libraries mapped into this process
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:  # elsewhere: NumPy's bundled copy, if any
        paths = {str(p) for d in numpy_dirs if d.is_dir() for p in d.glob("*openblas*")}
    ours = [p for p in paths if any(p.startswith(str(d) + os.sep) for d in numpy_dirs)]
    for path in ours or (sorted(paths) if len(paths) == 1 else []):
        try:
            return _OpenBLAS(ctypes.CDLL(path))
        except OSError:
            continue
    return None


def set_num_threads(n: int) -> None:
    """Run gatednp's time loops and large GEMMs on `n` threads of its own (1: the default).

    With n > 1, NumPy's OpenBLAS is set to one thread for the whole process (see the module
    docstring for why); n = 1 restores its previous count.

    >>> import gatednp as gn
    >>> gn.set_num_threads(1)
    >>> gn.get_num_threads()
    1
    """
    global _num_threads, _pool, _blas_threads_before
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"set_num_threads: n must be an int >= 1, got {n!r}")
    blas = _numpy_openblas()
    with _region:
        if n > 1 and _blas_threads_before is None:
            if blas is None:
                warnings.warn(
                    "gatednp.set_num_threads: NumPy's BLAS is not an OpenBLAS gatednp can find; "
                    "set its threads to 1 yourself, or it will compete with gatednp's threads",
                    RuntimeWarning,
                    stacklevel=2,
                )
            else:
                _blas_threads_before = blas.get()
                if _blas_threads_before != 1:
                    blas.set(1)
        elif n == 1 and _blas_threads_before is not None:
            if blas is not None and _blas_threads_before != 1:
                blas.set(_blas_threads_before)
            _blas_threads_before = None
        _num_threads = int(n)
        if _pool is not None:
            _pool.shutdown(wait=True)
            _pool = None  # the next split makes a pool of the new size


def _after_fork_in_child() -> None:
    """A forked child has none of the parent's worker threads: start from a fresh pool."""
    global _pool, _region
    _pool, _region = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def set_blas_threads(n: int) -> int | None:
    """Set the thread count of NumPy's OpenBLAS to `n` now; returns the count it had, or None
    (and changes nothing) when NumPy's BLAS is not an OpenBLAS gatednp can find.

    One thread makes a GEMM sum in the same order on every process of one machine type: the
    lab's study pins it in each run so that a run gives the same numbers on any worker.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"set_blas_threads: n must be an int >= 1, got {n!r}")
    blas = _numpy_openblas()
    if blas is None:
        return None
    before = int(blas.get())
    if before != n:
        blas.set(int(n))
    return before


def get_num_threads() -> int:
    """The number of threads gatednp's loops and GEMMs use (`set_num_threads`)."""
    return _num_threads


def _blocks(rows: int, n: int) -> list[tuple[int, int]]:
    edges = [rows * k // n for k in range(n + 1)]
    return list(zip(edges[:-1], edges[1:]))


def _run(fn: Callable[[int, int], None], blocks: list[tuple[int, int]]) -> None:
    """fn(lo, hi) for each block, the calling thread taking the last; errors raised after all
    blocks have stopped."""
    if len(blocks) == 1 or not _region.acquire(blocking=False):
        fn(blocks[0][0], blocks[-1][1])
        return
    global _pool
    try:
        if _pool is None:
            _pool = ThreadPoolExecutor(_num_threads - 1, thread_name_prefix="gatednp")
        futures = [_pool.submit(fn, lo, hi) for lo, hi in blocks[:-1]]
        try:
            fn(*blocks[-1])
        finally:
            errors = [f.exception() for f in futures]  # waits for every block
        for error in errors:
            if error is not None:
                raise error
    finally:
        _region.release()


def run_row_blocks(loop: Callable[[int, int], None], B: int, T: int, row_bytes: int) -> None:
    """Call `loop(lo, hi)` over blocks [lo, hi) of the B batch rows, one per thread, or once
    over all rows when threads are off or the work is too small (T steps of B rows, each row's
    state `row_bytes` = H × itemsize)."""
    n = 1
    if _num_threads > 1:
        n = min(_num_threads, B * row_bytes // MIN_BLOCK_BYTES, T * B * row_bytes // MIN_LOOP_BYTES)
    _run(loop, _blocks(B, max(n, 1)))


def split_rows(
    loop: Callable[..., None],
    T: int,
    row_bytes: int,
    batch_sizes: np.ndarray | None,
    **rows: np.ndarray | None,
) -> None:
    """`loop(**rows, batch_sizes=...)` over blocks of batch rows, one block per thread, or once
    over all rows (`run_row_blocks` decides). Each keyword array is cut to the block's rows: a
    3-D array (time, batch, ·) on axis 1, a 2-D array (batch, ·) on axis 0; None stays None.
    The loop's constants go in with `functools.partial`. This is the one seam between a cell's
    time loop and the threads: the loop itself never knows whether it runs on a block."""
    first = next(a for a in rows.values() if a is not None)
    B = first.shape[1] if first.ndim == 3 else first.shape[0]
    if _num_threads == 1:  # threads off: the whole batch is the one block, nothing to cut
        loop(**rows, batch_sizes=block_batch_sizes(batch_sizes, 0, B))
        return

    def block(lo: int, hi: int) -> None:
        cut = {
            k: None if a is None else a[:, lo:hi] if a.ndim == 3 else a[lo:hi]
            for k, a in rows.items()
        }
        loop(**cut, batch_sizes=block_batch_sizes(batch_sizes, lo, hi))

    run_row_blocks(block, B, T, row_bytes)


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """`a @ b` for 2-D arrays. An inner dimension of 1 (an outer product: an input size of 1,
    a Linear head to one output) goes to np.dot: NumPy's matmul does not hand it to BLAS and
    runs it in a loop of its own (measured float32 (3072, 1) @ (1, 256): matmul 777 µs, dot
    70 µs; (40, 1) @ (1, 200): 8.7 against 1.2). One product a term: the same numbers."""
    if a.shape[1] != 1:
        return np.matmul(a, b, out=out)
    if out is None:
        return np.dot(a, b)
    if out.flags.c_contiguous:
        return np.dot(a, b, out=out)
    return np.multiply(a, b, out=out)  # a strided `out`: the outer product by broadcasting


def matmul_rows(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """`a @ b` for 2-D arrays, the rows of `a` (and of the result) split over the threads."""
    M, K = a.shape
    N = b.shape[1]
    if out is None:
        out = workspace.empty((M, N), np.result_type(a, b))
    if _num_threads == 1:  # threads off: one call, nothing to split
        return matmul(a, b, out=out)
    n = min(_num_threads, M * K * N // MIN_BLOCK_MACS)

    def block(lo: int, hi: int) -> None:
        matmul(a[lo:hi], b, out=out[lo:hi])

    _run(block, _blocks(M, max(n, 1)))
    return out


def block_batch_sizes(batch_sizes: np.ndarray | None, lo: int, hi: int) -> np.ndarray | None:
    """The running-row counts of rows lo:hi (the batch sorted by decreasing length).

    None stays None (every row runs at every step), and so does a block whose rows all run to
    the end; otherwise each step's count within the block, from 0 to hi − lo.
    """
    if batch_sizes is None:
        return None
    sizes = np.clip(np.asarray(batch_sizes) - lo, 0, hi - lo)
    return None if sizes.min(initial=hi - lo) == hi - lo else sizes  # T = 0: no steps, None
