"""A layer's weight gradient, step by step: each step's contribution, checked on its own.

BPTT sums the weight gradient over time steps. A single-layer, one-direction layer run on a
sequence of length 1 is one step: fed the reference state s_t and given the reference upstream
gradient u_t = ∂L/∂s_{t+1} (teacher forcing), its backward returns exactly step t's
contribution, which gatednp's layer of the same kind (the twin) computes the same way. So an
error in one gate's formula stays in that gate, instead of spreading to every gate of the
earlier steps through dh_prev as it does in the full run. Each one-step call is a sequence of
its own, so a bug tied to the position in the sequence (wrong at t = 0 only) shows at every step
here; the full run's rows (x by step) say which step it is. Cost: 2T one-step forward and
backward passes of each layer, linear in T and in the size of a step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .localize import TensorReport

__all__ = ["per_step_rows"]


def _one_step(module: Any, x_t, s, dy_t, ds, pack, unpack):
    """Forward and backward of `module` over one step; returns (new state, dx, dstate0, grads)."""
    for _, p in module.named_parameters():
        p.grad[...] = 0
    _, s_new = module(x_t[None].copy(), pack(tuple(part.copy() for part in s)))
    dx, ds0 = module.backward(dy_t[None].copy(), pack(tuple(d.copy() for d in ds)))
    grads = {n: np.array(p.grad, dtype=np.float64) for n, p in module.named_parameters()}
    return unpack(s_new), np.asarray(dx)[0], unpack(ds0), grads


def per_step_rows(
    layer: Any, twin: Any, x, state, dy, dstate, tol_abs: float, rtol: float, gates_of
) -> list[TensorReport]:
    """One row per parameter of a single-layer, one-direction layer: its per-step contributions
    (T, *shape) against the twin's, teacher-forced.

    Args:
        layer, twin: your layer and gatednp's, with equal parameters.
        x (T, B, I), state (tuple of (1, B, ·)), dy (T, B, H_out), dstate (like state): the
            check's input and upstream gradients.
        tol_abs, rtol: the pass rule; gates_of(name): the gate letters of a parameter's rows.
    Returns:
        TensorReports named "<parameter> by step", time on axis 0.
    """
    pair = len(state) == 2
    pack = (lambda s: s) if pair else (lambda s: s[0])
    unpack = (lambda s: tuple(s)) if pair else (lambda s: (s,))
    T = len(x)
    states = [state]
    for t in range(T):  # the reference trajectory
        _, s_new = twin(x[t][None].copy(), pack(tuple(p.copy() for p in states[-1])))
        states.append(unpack(s_new))
    upstream: list = [None] * T
    ref: list = [None] * T
    ds = dstate
    for t in reversed(range(T)):
        upstream[t] = ds
        _, _, ds, ref[t] = _one_step(twin, x[t], states[t], dy[t], ds, pack, unpack)
    got = [_one_step(layer, x[t], states[t], dy[t], upstream[t], pack, unpack)[3] for t in range(T)]
    rows = []
    for name in ref[0]:
        expected = np.stack([r[name] for r in ref])
        try:
            actual = np.stack([np.asarray(g[name], dtype=np.float64) for g in got])
        except (KeyError, ValueError):
            actual = np.full(expected.shape, np.nan)
        if actual.shape != expected.shape:
            actual = np.full(expected.shape, np.nan)
        rows.append(
            TensorReport.compare(
                f"{name} by step",
                actual,
                expected,
                tol_abs,
                rtol,
                gates=gates_of(name),
                step_axis=0,
            )
        )
    return rows
