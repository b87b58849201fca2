"""The plain LSTM's few-calls backward loop (engine/lstm.py chooses it for small problems).

Every step's local derivatives are computed first, in ten vectorised passes, and the loop then
makes seven NumPy calls a step instead of about twenty: at small sizes the per-call cost
dominates (the measurements are in engine/lstm.py's docstring). Only for the LSTM with all four
gates, no peepholes and no projection.
"""

from __future__ import annotations

import numpy as np

from .. import workspace
from ..packing import row_views, step_views

__all__ = ["local_derivatives", "backward_loop_few_calls"]


def local_derivatives(
    gates: np.ndarray, tanh_c: np.ndarray, c_prev: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For the few-calls backward: every step's local derivatives at once, before the loop.

    Over [i|f|g|o] it writes [g ⊙ i(1 − i) | c_{t-1} ⊙ f(1 − f) | i ⊙ (1 − g²) | tanh(c) ⊙ o(1 − o)],
    the factors by which dc_t (for i, f, g) and dm_t (for o) become [di|df|dg|do]; it returns
    o ⊙ (1 − tanh²(c)), the factor of dm_t in dc_t, and a copy of f (dc_{t-1}' = dc_t ⊙ f_t).
    `tanh_c` is used as scratch. All (T, B, ·); sixteen passes over (T, B, H) arrays and two
    copies of the gates. (Training step, course/tiny/stream shapes and B = 1…8: 0.93–0.97× with
    the gate-major copies; the GRU's, measured the same way, 0.97–1.06×, so it has none.)
    """
    T, B, GH = gates.shape
    H = GH // 4
    # Worked on gate-major, each gate contiguous (a column slice of [i|f|g|o] is several times
    # slower a call: engine/lstm.py), and copied back over the gates at the end
    rows = gates.reshape(T, B, 4, H).transpose(2, 0, 1, 3)
    gm = workspace.empty((4, T, B, H), gates.dtype)
    np.copyto(gm, rows)
    i, f, g, o = gm
    scratch = (workspace.empty(tanh_c.shape, tanh_c.dtype) for _ in range(3))
    dc_factor, f_kept, s = scratch
    np.multiply(tanh_c, tanh_c, out=dc_factor)  # 1 − tanh²(c), times o
    np.subtract(1, dc_factor, out=dc_factor)
    dc_factor *= o
    np.copyto(f_kept, f)
    np.multiply(o, o, out=s)  # o(1 − o) = o − o², times tanh(c)
    np.subtract(o, s, out=o)
    o *= tanh_c
    np.multiply(g, g, out=s)  # i(1 − g²) into s; g ⊙ i(1 − i) over i
    np.subtract(1, s, out=s)
    s *= i
    np.multiply(i, i, out=tanh_c)
    np.subtract(i, tanh_c, out=i)
    i *= g
    np.copyto(g, s)
    np.multiply(f, f, out=tanh_c)  # c_{t-1} ⊙ f(1 − f)
    np.subtract(f, tanh_c, out=f)
    f *= c_prev
    np.copyto(rows, gm)
    return dc_factor, f_kept


def backward_loop_few_calls(
    dy, gates, dc_factor, f, dh_0, dc_0, *, W_hh, reverse, batch_sizes
) -> None:
    """The backward time loop with the local derivatives precomputed (`local_derivatives`):
    seven NumPy calls a step. `gates` holds the factors on entry and [di|df|dg|do] on exit;
    dh_0, dc_0 hold dh_n, dc_n on entry and the initial state's gradients on exit."""
    T, B, GH = gates.shape
    H = GH // 4
    bs = batch_sizes
    ifg = step_views(gates.reshape(T, B, 4, H)[:, :, :3], bs)  # (B, 3, H) per step
    o, dgates_t = step_views(gates[..., 3 * H :], bs), step_views(gates, bs)
    dy, dc_factor, f = (step_views(a, bs) for a in (dy, dc_factor, f))
    dh_next, dc_next = row_views(dh_0, T, bs), row_views(dc_0, T, bs)
    dh, dc_buf = workspace.empty(dh_0.shape, dh_0.dtype), workspace.empty(dc_0.shape, dc_0.dtype)
    dh, dc, dc_3 = (row_views(a, T, bs) for a in (dh, dc_buf, dc_buf[:, None, :]))

    for t in range(T) if reverse else range(T - 1, -1, -1):
        np.add(dy[t], dh_next[t], out=dh[t])  # dh_t = dy_t + dh_t'
        np.multiply(dh[t], dc_factor[t], out=dc[t])  # dc_t = dh_t ⊙ o ⊙ (1 − tanh²c) + dc_t'
        dc[t] += dc_next[t]
        np.multiply(dc[t], f[t], out=dc_next[t])  # dc_{t-1}' = dc_t ⊙ f_t
        np.multiply(dh[t], o[t], out=o[t])  # do_t = dh_t ⊙ tanh(c) ⊙ o(1 − o)
        np.multiply(ifg[t], dc_3[t], out=ifg[t])  # [di|df|dg] = dc_t ⊙ their factors
        np.matmul(dgates_t[t], W_hh, out=dh_next[t])  # dh_{t-1}' = W_hhᵀ [di|df|dg|do]
