"""Variable lengths as torch's pack_padded_sequence(..., enforce_sorted=False) sees them.

The batch is sorted by decreasing length so that step t runs only its first `batch_sizes[t]`
rows (torch's PackedSequence); the reverse direction of a sequence of length L starts at step
L−1, so each sequence is reversed within its own length, run forwards, and reversed back.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Packing", "step_views", "row_views"]


class Packing:
    """Sort order, batch sizes and in-length reversal for a batch of variable lengths."""

    def __init__(self, lengths, T: int, B: int, batched: bool) -> None:
        lengths = np.asarray(lengths)
        if not batched:
            raise ValueError(
                "lengths needs batched input (T, B, I); an unbatched sequence has one length, T"
            )
        if (
            lengths.ndim != 1
            or lengths.shape[0] != B
            or not np.issubdtype(lengths.dtype, np.integer)
        ):
            raise ValueError(
                f"lengths must be a 1-D array of {B} ints (one per sequence), got shape {lengths.shape} dtype {lengths.dtype}"
            )
        if lengths.size and (lengths.min() < 0 or lengths.max() > T):
            raise ValueError(
                f"lengths must lie in [0, T={T}], got min {lengths.min()} and max {lengths.max()}"
            )  # a sequence of length 0 (ONNX's sequence_lens = 0): zero outputs, the state kept
        self.order = np.argsort(-lengths, kind="stable")  # decreasing length, as torch sorts
        self.unorder = np.argsort(self.order)
        L = lengths[self.order]
        t = np.arange(T)[:, None]
        self.batch_sizes = (L[None, :] > t).sum(axis=1)  # (T,)
        self.valid = (t < L[None, :])[:, :, None]  # (T, B, 1) bool: multiplying keeps the dtype
        self._rev_t = np.where(t < L, L - 1 - t, t)  # (T, B): step t of the reversed sequence
        self._cols = np.arange(B)[None, :]

    def reverse(self, a: np.ndarray) -> np.ndarray:
        """Reverse each sequence of `a` (T, B, ·) within its length; its own inverse."""
        return a[self._rev_t, self._cols]


def step_views(a: np.ndarray, batch_sizes: np.ndarray | None) -> list[np.ndarray]:
    """Per-step views a[t, :n_t] (the rows still running at step t), built once before a time
    loop: slicing inside the loop costs more than the arithmetic on tiny batches."""
    if batch_sizes is None:
        return list(a)
    return [a_t[:n] for a_t, n in zip(a, batch_sizes, strict=True)]


def row_views(buf: np.ndarray, T: int, batch_sizes: np.ndarray | None) -> list[np.ndarray]:
    """One (B, ...) scratch buffer reused by every step, as per-step views like `step_views`."""
    return [buf] * T if batch_sizes is None else [buf[:n] for n in batch_sizes]


def scratch_views(buf: np.ndarray, T: int, batch_sizes: np.ndarray | None) -> list[np.ndarray]:
    """A gate-major (G, B, H) scratch reused by every step, as per-step (G, n_t, H) views."""
    return [buf] * T if batch_sizes is None else [buf[:, :n] for n in batch_sizes]


def gate_major_views(a: np.ndarray, G: int, batch_sizes: np.ndarray | None) -> list[np.ndarray]:
    """Per-step views of a row-major (T, B, G·H) gate buffer as (G, n_t, H): step t's running
    rows with each gate's columns on an axis of their own. Strided; a copy to or from a
    `scratch_views` step makes each gate one contiguous block."""
    T, B, GH = a.shape
    sizes = [B] * T if batch_sizes is None else batch_sizes
    return [a[t, :n].reshape(n, G, GH // G).transpose(1, 0, 2) for t, n in enumerate(sizes)]
