"""Finite-difference gradient checks of a module's hand-written backward pass, per tensor.

The loss is a random projection of every output, L = Σ ⟨out_k, R_k⟩ (for a layer: y and each
final state), so a sign or ordering bug cannot hide the way it can behind `sum()`. The
backward pass gets R as its upstream gradient; each parameter and each input (x, h0, c0) is
then perturbed by ±ε and (L(θ + ε) − L(θ − ε)) / 2ε compared with the analytic gradient:

    pass  ⇔  |analytic − numeric| ≤ atol·max(1, |L|) + rtol·|numeric|   element-wise

with ε = 1e-6, atol = 1e-8, rtol = 1e-5 (float64 only; float32 differences are
useless for BPTT). By default every element is checked (the full Jacobian–vector product);
`directions=k` instead checks ⟨∇L, u⟩ along k random directions over everything plus one
random direction per tensor, which scales to long sequences.

>>> import numpy as np, gatednp as gn
>>> report = gn.gradcheck(gn.LSTM(3, 4, rng=0), np.random.default_rng(0).normal(size=(5, 2, 3)))
>>> report.ok
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .cells import CellBase
from .linear import Linear
from .localize import ReportRows, TensorReport, format_table
from .module import Module
from .numgrad import numerical_gradient
from .registry import KINDS

__all__ = ["gradcheck", "GradcheckReport", "TensorReport", "tensor_gates"]


@dataclass
class GradcheckReport(ReportRows):
    """Per-tensor results of `gradcheck`; `ok` is True when every tensor passes.

    `report["weight_hh_l0"]` is that tensor's TensorReport (`.error`, `.by_gate()`,
    `.by_step()`); `table()` is the gate × step table (x by time step).
    """

    loss: float
    rows: list[TensorReport] = field(default_factory=list)

    def table(self) -> str:
        """One row per tensor and gate block, one column per time step of x ("all" elsewhere)."""
        return format_table([r for r in self.rows if r.analytic is not None])

    def failures(self) -> list[str]:
        """A sentence per failing gate block: "weight_hh_l0, forget gate f, unit 1, column 0:
        expected …, got …"."""
        return [b.describe() for r in self.rows if r.analytic is not None for b in r.failures()]

    def __str__(self) -> str:
        lines = [f"{'tensor':<24} {'shape':<14} {'max abs err':>12} {'max rel err':>12}  result"]
        for r in self.rows:
            verdict = "ok" if r.ok else "FAIL"
            shape = str(r.shape)
            lines.append(
                f"{r.name:<24} {shape:<14} {r.max_abs_err:>12.2e} {r.max_rel_err:>12.2e}  {verdict}"
            )
        if not self.ok:  # where: the worst element of each failing gate block
            ranked = sorted(self.rows, key=lambda r: not r.gates)
            lines += [
                b.describe() for r in ranked if r.analytic is not None for b in r.failures()[:1]
            ]
        lines.append("all gradients agree" if self.ok else "GRADIENT CHECK FAILED")
        return "\n".join(lines)


class _Runner:
    """Calls any supported module as inputs -> list of outputs, and upstreams -> input grads."""

    def __init__(self, module: Module, x: np.ndarray, state, lengths) -> None:
        self.module, self.lengths = module, lengths
        self.linear = isinstance(module, Linear)
        # anything else that is not a cell follows torch's layer contract (y, state) = m(x, state)
        self.layer = not self.linear and not isinstance(module, CellBase)
        self.pair = isinstance(state, tuple) or (
            state is None and _state_names(module) == ("h", "c")
        )
        names = ("h0", "c0") if self.pair else ("h0",)
        if state is None:
            self.inputs = {"x": x}
        else:
            parts = state if isinstance(state, tuple) else (state,)
            self.inputs = {"x": x, **dict(zip(names, parts, strict=True))}

    def state(self, inputs: dict) -> tuple | np.ndarray | None:
        parts = [inputs[k] for k in ("h0", "c0") if k in inputs]
        if not parts:
            return None
        return tuple(parts) if self.pair else parts[0]

    def outputs(self, inputs: dict) -> list[np.ndarray]:
        m = self.module
        if self.linear:
            return [m(inputs["x"])]
        if self.layer:
            kw = {} if self.lengths is None else {"lengths": self.lengths}
            y, s = m(inputs["x"], self.state(inputs), **kw)
        else:
            s = m(inputs["x"], self.state(inputs))
            y = None
        parts = list(s) if isinstance(s, tuple) else [s]
        return ([y] if y is not None else []) + parts

    def backward(self, upstream: list[np.ndarray]) -> dict[str, np.ndarray]:
        m = self.module
        if self.linear:
            return {"x": m.backward(upstream[0])}
        if self.layer:
            dy, dstate = upstream[0], upstream[1:]
            dx, ds = m.backward(dy, tuple(dstate) if self.pair else dstate[0])
        else:
            dx, ds = m.backward(tuple(upstream) if self.pair else upstream[0])
        ds = ds if isinstance(ds, tuple) else (ds,)
        grads = {"x": dx}
        if len(self.inputs) > 1:
            grads.update(zip(("h0", "c0"), ds, strict=False))
        return grads


def tensor_gates(name: str, kind: str | None, **options) -> tuple[str, ...]:
    """The gate blocks of a torch-named parameter's rows: weight_ih_l0 of an LSTM ->
    ("i", "f", "g", "o"); a peephole weight_cf_l0 -> ("f",); () for anything else.

    >>> tensor_gates("bias_hh_l1_reverse", "gru")
    ('r', 'z', 'n')
    """
    if kind not in KINDS:
        return ()
    cell = KINDS[kind]
    base = name.split(".")[-1].split("_l")[0]
    gates = cell.gate_names(**{k: v for k, v in options.items() if k in cell.options})
    if base in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        return gates
    if base in ("weight_ci", "weight_cf", "weight_co"):
        return (base[-1],)
    return ()


def _state_names(module: Module) -> tuple[str, ...]:
    kind = getattr(module, "kind", None)  # gatednp's layers and cells (registry.py)
    return kind.state if kind is not None else getattr(module, "STATE", ())


def gradcheck(
    module: Module,
    x: np.ndarray,
    state=None,
    *,
    lengths=None,
    eps: float = 1e-6,
    atol: float = 1e-8,
    rtol: float = 1e-5,
    directions: int = 0,
    seed: int = 0,
    kind: str | None = None,
) -> GradcheckReport:
    """Check `module.backward` against central differences of a random projection loss.

    Args:
        module: a float64 LSTM, GRU, RNN, one of their cells, Linear, or your own layer with
            torch's contract: `y, state = module(x, state)` and `dx, dstate0 =
            module.backward(dy, dstate)`, with `STATE = ("h", "c")` if its state is a pair
            (training mode is kept; a module's `rng` is rewound before every forward).
        x: its input, float64.
        state: optional initial state ((h0, c0) for an LSTM or LSTMCell, else h0).
        lengths: optional sequence lengths for a layer.
        eps, atol, rtol: step and tolerances (see the module docstring).
        directions: 0 for every element; k > 0 for k random directions plus one per tensor.
        seed: seeds the projection R and the directions.
        kind: "lstm", "gru" or "rnn" for your own layer, so its fused weights are read by gate
            (gatednp's layers and cells say it themselves); with it, `module.cell_options`
            if present.

    Returns:
        a GradcheckReport with one row per parameter (torch names) and per input (x, h0, c0),
        each keeping its error array; weights by gate block, x by time step (layers).
    """
    params = dict(module.named_parameters())
    if any(p.data.dtype != np.float64 for p in params.values()):
        raise TypeError(
            "gradcheck needs a float64 module (float32 differences are too coarse); build it with dtype=np.float64"
        )
    rng = np.random.default_rng(seed)
    runner = _Runner(module, x, state, lengths)
    inputs = {k: np.array(v, dtype=np.float64) for k, v in runner.inputs.items()}
    model_rng = getattr(module, "rng", None)
    rng_state = model_rng.bit_generator.state if model_rng is not None else None

    def evaluate() -> list[np.ndarray]:
        if rng_state is not None:
            model_rng.bit_generator.state = rng_state
        return runner.outputs(inputs)

    outs = evaluate()
    R = [rng.standard_normal(o.shape) for o in outs]

    def loss() -> float:
        result = sum(float(np.vdot(o, r)) for o, r in zip(evaluate(), R, strict=True))
        if getattr(module, "_caches", None):
            module._caches.pop()  # a cell keeps one cache per call: drop the probe's
        return result

    # Analytic gradients: one backward with R as the upstream gradient
    for p in params.values():
        p.grad[...] = 0
    L0 = sum(float(np.vdot(o, r)) for o, r in zip(outs, R, strict=True))
    input_grads = runner.backward(R)
    analytic = {**{k: p.grad.copy() for k, p in params.items()}, **input_grads}
    arrays = {**{k: p.data for k, p in params.items()}, **inputs}

    report = GradcheckReport(loss=L0)
    tol_abs = atol * max(1.0, abs(L0))
    kind_obj = getattr(module, "kind", None)
    kind_name = kind or getattr(kind_obj, "name", None)
    options = getattr(module, "cell_options", {}) or {}
    time_axis = 1 if getattr(module, "batch_first", False) else 0
    for name, a in arrays.items():
        g = analytic[name]
        if directions:
            us = [rng.standard_normal(a.shape) for _ in range(1 + directions)]
            numeric = np.array([_directional(loss, a, u, eps) for u in us])
            exact = np.array([float(np.vdot(g, u)) for u in us])
            row = TensorReport.compare(name, exact, numeric, tol_abs, rtol, shape=a.shape)
        else:
            numeric = numerical_gradient(lambda _: loss(), a, eps=eps)
            by_time = name == "x" and runner.layer and a.ndim == 3
            row = TensorReport.compare(
                name,
                g,
                numeric,
                tol_abs,
                rtol,
                gates=tensor_gates(name, kind_name, **options),
                step_axis=time_axis if by_time else None,
            )
        report.rows.append(row)
    return report


def _directional(loss, a: np.ndarray, u: np.ndarray, eps: float) -> float:
    """(L(a + εu) − L(a − εu)) / 2ε, with `a` restored afterwards."""
    keep = a.copy()
    a += eps * u
    plus = loss()
    a[...] = keep - eps * u
    minus = loss()
    a[...] = keep
    return (plus - minus) / (2 * eps)
