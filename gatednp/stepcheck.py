"""Check your own LSTM, GRU or RNN step pair against the textbook step, gate by gate, step by step.

Your two functions take the textbook step's signatures (lstm.py, gru.py, rnn.py):

    step(x, state, w) -> (new_state, cache)
    step_backward(dstate, cache, w) -> (dx, dstate_prev, grads)

x (B, I); state and dstate tuples of (B, ·) arrays ((h, c) for an LSTM, (h,) otherwise); w a
`gatednp.module.Weights` of arrays in torch's fused layout (weight_ih (G·H, I), weight_hh
(G·H, H), bias_ih, bias_hh (G·H,); the rows in `gate_order` if you declare one, e.g. "ifog" as
in cs231n); grads a `Weights` or a dict of the same fields. Options (e.g. reset_after=False)
are passed to both functions when given.

How it localises. A sequence of T steps is run with a random projection loss L = Σ_t ⟨h_t, R_t⟩
+ ⟨c_T, R_c⟩. At every step t your step is fed the reference state s_t and your step_backward
the reference upstream gradient u_t = ∂L/∂s_{t+1} (teacher forcing), so an error at step t
stays at step t. The reference is the textbook step (`reference="textbook"`), or, to check your
backward against your own forward, central differences (`reference="numeric"`): ∂L/∂s_t by
perturbing the state and re-running your steps after it, and each step's weight gradient by
perturbing a copy of the weights used at that step only (unrolled weights). Your forward is
called for t = 0 … T−1, then your backward for t = T−1 … 0, once each (the numeric reference
calls your forward step many more times, your backward as often).

Cost: textbook reference 2T calls of each step; numeric reference about 2T·(G·H·(I + H + 2) +
B·(I + S)) + T²·B·S step calls (S the state width): linear in T and in the number of weights.

>>> from gatednp import lstm
>>> report = check_step("lstm", lstm.step, lstm.step_backward)
>>> report.ok
True
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .localize import GATE_NAMES, ReportRows, TensorReport, format_table
from .module import Weights
from .registry import KINDS
from .stepnumeric import local_gradients, state_gradients

__all__ = ["check_step", "StepReport", "GATE_HINTS"]

GATE_HINTS = {
    "i": "di = dc ⊙ g ⊙ i(1 − i): needs dc (with the path through h added) and g",
    "f": "df = dc ⊙ c_prev ⊙ f(1 − f): c_prev, the cell of the previous step, not c",
    "g": "dg = dc ⊙ i ⊙ (1 − g²): tanh' is 1 − g², and it needs i",
    "o": "do = dh ⊙ tanh(c) ⊙ o(1 − o): tanh of the new cell c",
    "r": "dr = dn ⊙ a ⊙ r(1 − r), a = W_hn h_prev + b_hn (b_hn inside the reset product)",
    "z": "dz = dh ⊙ (h_prev − n) ⊙ z(1 − z): mind the sign of (h_prev − n)",
    "n": "dn = dh ⊙ (1 − z) ⊙ (1 − n²)",
    "": "da = dh ⊙ (1 − h²) for tanh, dh ⊙ [h > 0] for relu",
    "x": "dx = W_ihᵀ dpre: every gate's pre-activation gradient, times W_ih (not transposed twice)",
    "h": "dh_prev = W_hhᵀ dpre (+ dh ⊙ z for the GRU): the gradient handed to step t − 1",
    "c": "dc_prev = dc ⊙ f: the carousel, with dc after adding the path through h",
}


@dataclass
class StepReport(ReportRows):
    """The step checker's result: one TensorReport per tensor, time on axis 0.

    Rows: "forward h", "forward c" (your new state against the textbook's), "x", "h", "c" (the
    gradients your backward returns, per step) and every weight field (per-step contributions,
    (T, *shape), split by gate).
    """

    kind: str
    options: dict[str, Any]
    loss: float
    reference: str
    rows: list[TensorReport] = field(default_factory=list)

    def blame(self) -> dict[str, list]:
        """Where the errors are: "gates" failing in the weight gradients (letters, or [""] for
        the RNN's single block), "tensors" failing, "steps" failing (forward order)."""
        failing = [r for r in self.rows if not r.ok]
        gates = sorted({b.gate or "" for r in failing if r.gates for b in r.failures()})
        if not gates and any(
            not r.gates and r.name.startswith(("weight", "bias")) for r in failing
        ):
            gates = [""] if self.kind == "rnn" else gates
        steps = sorted({b.step for r in failing for b in r.by_step() if not b.ok})
        return {"gates": gates, "tensors": [r.name for r in failing], "steps": steps}

    def table(self) -> str:
        return format_table(self.rows)

    def hints(self) -> list[str]:
        """One hint per failing gate (what that gate's gradient depends on), then per failing
        state or input gradient."""
        where = self.blame()
        keys = where["gates"] or [t for t in ("x", "h", "c") if t in where["tensors"]]
        return [f"{GATE_NAMES.get(k, k or 'a')}: {GATE_HINTS[k]}" for k in keys if k in GATE_HINTS]

    def __str__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        lines = [f"{self.kind} step ({opts}) against the {self.reference} reference", self.table()]
        if self.ok:
            lines.append("all gradients agree")
            return "\n".join(lines)
        where = self.blame()
        lines.append(f"failing: gates {where['gates']}, steps {where['steps']}")
        ranked = sorted(self.rows, key=lambda r: not r.gates)  # gate blocks first
        lines += [f[0].describe() for r in ranked if (f := r.failures())][:6]
        lines += ["hint, " + h for h in self.hints()]
        lines.append("GRADIENT CHECK FAILED")
        return "\n".join(lines)


def _accepts_options(fn: Callable) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in params)


def _permutation(gates: tuple[str, ...], order) -> list[int]:
    if order is None:
        return list(range(len(gates)))
    order = tuple(order)
    if sorted(order) != sorted(gates):
        raise ValueError(f"gate_order must be an ordering of {''.join(gates)}, got {order}")
    return [gates.index(g) for g in order]


def check_step(
    kind: str,
    step: Callable,
    step_backward: Callable,
    *,
    T: int = 4,
    B: int = 3,
    input_size: int = 3,
    hidden_size: int = 4,
    gate_order: str | tuple[str, ...] | None = None,
    peepholes: bool = False,
    proj_size: int = 0,
    reference: str = "textbook",
    seed: int = 0,
    atol: float = 1e-8,
    rtol: float = 1e-5,
    eps: float = 1e-6,
    **options: Any,
) -> StepReport:
    """Check a step pair against the textbook step (or central differences), localised.

    Args:
        kind: "lstm", "gru" or "rnn".
        step, step_backward: your functions (signatures in the module docstring).
        T, B, input_size, hidden_size: the sequence length, batch and sizes drawn.
        gate_order: your fused rows' gate order ("ifog", "rzn", …); default torch's.
        peepholes, proj_size: LSTM layout options (weight_ci/cf/co, weight_hr in w).
        reference: "textbook" or "numeric" (central differences of your own step).
        seed: seeds the weights (random, nonzero biases), inputs, states and projection.
        atol, rtol, eps: tolerances (pass if |a − n| ≤ atol·max(1, |L|) + rtol·|n|) and step.
        options: the cell's options (forget_gate, reset_after, nonlinearity), passed to you.

    Returns:
        a StepReport (`ok`, `report["weight_hh"].by_gate()`, `.blame()`, `print(report)`).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    cell = KINDS[kind]
    full = cell.check_options(**options)
    if reference not in ("textbook", "numeric"):
        raise ValueError(f"reference must be 'textbook' or 'numeric', got {reference!r}")
    rng = np.random.default_rng(seed)
    I, H = input_size, hidden_size
    layout = dict(peepholes=peepholes, proj_size=proj_size)
    params = cell.make_parameters(rng, np.float64, I, H, **layout, **full)
    for p in params.values():  # random, nonzero, bias_ih ≠ bias_hh
        p.data[...] = rng.uniform(-0.8, 0.8, p.shape)
    w = Weights(**params).arrays()
    gates = cell.gate_names(**full)
    perm = _permutation(gates, gate_order)
    fused = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")

    reorder = perm != sorted(perm)

    def to_user(arrays: Weights) -> Weights:
        """A fresh copy (your code may write into it), the fused rows in your gate order."""
        out = []
        for name, a in zip(Weights._fields, arrays):
            if a is not None and reorder and name in fused:
                n = a.shape[0] // len(gates)
                a = np.concatenate([a[k * n : (k + 1) * n] for k in perm])
            out.append(None if a is None else a.copy())
        return Weights(*out)

    def from_user(grads) -> dict[str, np.ndarray]:
        got = grads._asdict() if hasattr(grads, "_asdict") else dict(grads)
        out = {}
        for name, a in got.items():
            if a is None or getattr(w, name, None) is None:
                continue
            a = np.asarray(a, dtype=np.float64)
            if name in fused and gates and a.shape == getattr(w, name).shape:
                blocks = np.split(a, len(gates))
                a = np.concatenate([blocks[perm.index(k)] for k in range(len(gates))])
            out[name] = a
        return out

    kw = options if options else {}
    user_kw_f = kw if kw and _accepts_options(step) else {}
    user_kw_b = kw if kw and _accepts_options(step_backward) else {}
    w_user = to_user(w)

    def user_step(x, s, weights=None):
        new, cache = step(x, tuple(p.copy() for p in s), weights or to_user(w), **user_kw_f)
        return tuple(new), cache

    sizes = (proj_size or H, H)[: len(cell.state)]
    xs = rng.standard_normal((T, B, I))
    s0 = tuple(rng.standard_normal((B, n)) for n in sizes)
    R = rng.standard_normal((T, B, sizes[0]))  # loss: Σ_t ⟨h_{t+1}, R_t⟩ + ⟨c_T, Rc⟩
    Rc = rng.standard_normal((B, H)) if len(sizes) == 2 else None
    rows: list[TensorReport] = []

    if reference == "textbook":
        states, caches = [s0], []
        for t in range(T):
            new, cache = cell.math.step(xs[t], states[-1], w, **full)
            states.append(tuple(new))
            caches.append(cache)
        user_caches, forward = [], {n: np.zeros((T, B, k)) for n, k in zip(cell.state, sizes)}
        for t in range(T):
            new, cache = user_step(xs[t], states[t], w_user)
            user_caches.append(cache)
            for n, part in zip(cell.state, new):
                forward[n][t] = part
        ref_local, upstream = [None] * T, [None] * T
        ds = (np.zeros((B, sizes[0])), *([Rc] if Rc is not None else []))
        for t in reversed(range(T)):
            upstream[t] = (ds[0] + R[t], *ds[1:])
            dx, ds, g = cell.math.step_backward(upstream[t], caches[t], w, **full)
            ref_local[t] = (dx, ds, {k: v for k, v in g._asdict().items() if v is not None})
        L = sum(float(np.vdot(states[t + 1][0], R[t])) for t in range(T))
        L += float(np.vdot(states[-1][1], Rc)) if Rc is not None else 0.0
        tol_abs = atol * max(1.0, abs(L))
        for n in cell.state:
            ref = np.stack([states[t + 1][cell.state.index(n)] for t in range(T)])
            rows.append(
                TensorReport.compare(f"forward {n}", forward[n], ref, tol_abs, rtol, step_axis=0)
            )
        user_local = [None] * T
        for t in reversed(range(T)):
            dx, dprev, g = step_backward(upstream[t], user_caches[t], w_user, **user_kw_b)
            user_local[t] = (dx, tuple(dprev), from_user(g))
    else:
        states, upstream, L = state_gradients(user_step, xs, s0, R, Rc, eps)
        tol_abs = atol * max(1.0, abs(L))
        ref_local = [
            local_gradients(user_step, xs[t], states[t], w, to_user, upstream[t], eps)
            for t in range(T)
        ]
        caches = [user_step(xs[t], states[t], w_user)[1] for t in range(T)]
        user_local = [None] * T
        for t in reversed(range(T)):
            dx, dprev, g = step_backward(upstream[t], caches[t], w_user, **user_kw_b)
            user_local[t] = (dx, tuple(dprev), from_user(g))

    rows.append(_stacked("x", [u[0] for u in user_local], [r[0] for r in ref_local], tol_abs, rtol))
    for k, n in enumerate(cell.state):
        rows.append(
            _stacked(n, [u[1][k] for u in user_local], [r[1][k] for r in ref_local], tol_abs, rtol)
        )
    for name, a in w._asdict().items():
        if a is None:
            continue
        missing = [t for t in range(T) if name not in user_local[t][2]]
        got = [
            np.full(a.shape, np.nan) if t in missing else user_local[t][2][name] for t in range(T)
        ]
        g = gates if name in fused else (name[-1],) if name.startswith("weight_c") else ()
        rows.append(_stacked(name, got, [r[2][name] for r in ref_local], tol_abs, rtol, gates=g))
    return StepReport(kind, full, L, reference, rows)


def _stacked(name, got, ref, tol_abs, rtol, gates=()) -> TensorReport:
    ref = np.stack([np.asarray(r, dtype=np.float64) for r in ref])
    try:
        got = np.stack([np.asarray(g, dtype=np.float64) for g in got])
    except ValueError:
        got = np.full(ref.shape, np.nan)
    if got.shape != ref.shape:
        got = np.full(ref.shape, np.nan)  # a wrong shape fails every element of the tensor
    return TensorReport.compare(name, got, ref, tol_abs, rtol, gates=gates, step_axis=0)
