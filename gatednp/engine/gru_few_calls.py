"""The GRU's few-calls backward loop (engine/gru.py chooses it for small problems).

Every step's local derivatives are computed first, in vectorised passes, and the loop then
makes eight NumPy calls a step instead of about nineteen: at small sizes the per-call cost
dominates (the measurements are in engine/gru.py's docstring). Only for the GRU with the reset
gate after W_hn, the default activations and no clip.
"""

from __future__ import annotations

import numpy as np

from .. import workspace
from ..packing import row_views, step_views

__all__ = ["local_derivatives", "backward_loop_few_calls", "split_gates"]


def split_gates(a: np.ndarray) -> tuple[np.ndarray, ...]:
    """Named views of the gate axis: [r|z|n] -> r, z, n."""
    H = a.shape[-1] // 3
    return a[..., :H], a[..., H : 2 * H], a[..., 2 * H :]


def local_derivatives(
    gates: np.ndarray, a: np.ndarray, h_prev: np.ndarray, batch_sizes: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """For the few-calls backward: every step's local derivatives at once, before the loop.

    Over [r|z|n] it writes [a ⊙ r(1 − r) | (h_{t-1} − n) ⊙ z(1 − z) | (1 − z) ⊙ (1 − n²)], the
    factors by which dn_t (for r) and dh_t (for z, n) become dr_t, dz_t, dn_t; it returns
    copies of r (da_t = dn_t ⊙ r_t) and z (dh_{t-1}' gains dh_t ⊙ z_t). All (T, B, H). Rows
    past a sequence's end get zero factors (their zeroed gates would give n's factor 1).
    """
    r, z, n = split_gates(gates)
    r_kept, z_kept, s, t = (workspace.empty(r.shape, r.dtype) for _ in range(4))
    np.copyto(r_kept, r)
    np.copyto(z_kept, z)
    np.subtract(h_prev, n, out=s)  # (h_{t-1} − n) ⊙ z(1 − z) over z
    np.multiply(z, z, out=t)
    np.subtract(z, t, out=t)
    np.multiply(s, t, out=z)
    np.multiply(n, n, out=s)  # (1 − z) ⊙ (1 − n²) over n
    np.subtract(1, s, out=s)
    np.subtract(1, z_kept, out=t)
    np.multiply(s, t, out=n)
    np.multiply(r, r, out=s)  # a ⊙ r(1 − r) over r
    np.subtract(r, s, out=r)
    r *= a
    for t, n_t in enumerate(() if batch_sizes is None else batch_sizes):
        gates[t, n_t:] = 0
    return r_kept, z_kept


def backward_loop_few_calls(
    dy, gates, dgates_hh, r, z, dh_0, *, W_hh, reverse, batch_sizes
) -> None:
    """The backward time loop with the local derivatives precomputed (`local_derivatives`):
    eight NumPy calls a step. `gates` holds the factors on entry and [dr|dz|dn] on exit,
    `dgates_hh` receives [dr|dz|da]; dh_0 holds dh_n on entry, the initial state's gradient
    on exit."""
    T, B, G_H = gates.shape
    H = G_H // 3
    bs = batch_sizes
    zn = step_views(gates.reshape(T, B, 3, H)[:, :, 1:], bs)  # (B, 2, H) per step: [z|n]
    dr, dn, dr_dz = (
        step_views(v, bs) for v in (gates[..., :H], gates[..., 2 * H :], gates[..., : 2 * H])
    )
    dr_dz_hh, da = (step_views(v, bs) for v in (dgates_hh[..., : 2 * H], dgates_hh[..., 2 * H :]))
    dgates_hh_t, dy, r, z = (step_views(v, bs) for v in (dgates_hh, dy, r, z))
    dh_next = row_views(dh_0, T, bs)
    dh_buf, dhz_buf = (
        workspace.empty(dh_0.shape, dh_0.dtype),
        workspace.empty(dh_0.shape, dh_0.dtype),
    )
    dh, dh_2, dhz = (row_views(v, T, bs) for v in (dh_buf, dh_buf[:, None, :], dhz_buf))

    for t in range(T) if reverse else range(T - 1, -1, -1):
        np.add(dy[t], dh_next[t], out=dh[t])  # dh_t = dy_t + dh_t'
        np.multiply(dh[t], z[t], out=dhz[t])  # dh_t ⊙ z_t, the part of dh_{t-1}' through z
        np.multiply(zn[t], dh_2[t], out=zn[t])  # [dz_t|dn_t] = dh_t ⊙ their factors
        np.multiply(dn[t], r[t], out=da[t])  # da_t = dn_t ⊙ r_t
        np.multiply(dn[t], dr[t], out=dr[t])  # dr_t = dn_t ⊙ a_t ⊙ r_t(1 − r_t)
        dr_dz_hh[t][...] = dr_dz[t]  # the recurrent side shares dr and dz
        np.matmul(dgates_hh_t[t], W_hh, out=dh_next[t])  # dh_{t-1}' = W_hhᵀ [dr|dz|da] + dh ⊙ z
        dh_next[t] += dhz[t]
