"""Check your own recurrent layer: against gatednp's layer of the same kind, or finite differences.

Your layer follows torch's contract, as gatednp's do:

    y, state_n = layer(x, state)                  x (T, B, I), y (T, B, D·H_out)
    dx, dstate0 = layer.backward(dy, dstate)      accumulating into each parameter's .grad

with torch-named parameters from `layer.named_parameters()` (`weight_ih_l0`, `bias_hh_l0`, …,
objects with `.data` and `.grad`; a `gatednp.Module` gives them). State is (h, c) for an
LSTM, h otherwise, each (num_layers·D, B, ·).

When the kind is known (`kind=`, or `layer.kind`, or a `KIND = "lstm"` attribute), gatednp
builds its own layer from your parameters (sizes read off their shapes) and compares outputs
and gradients exactly, so the check costs two forward and backward passes at any size; every
weight's rows are read by gate, y and x by time step. Otherwise it runs `gn.gradcheck`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .gradcheck import GradcheckReport, gradcheck, tensor_gates
from .layersteps import per_step_rows
from .localize import TensorReport
from .recurrent import GRU, LSTM, RNN
from .registry import KINDS

__all__ = ["check_layer", "layer_kind"]

LAYERS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


def layer_kind(layer: Any, kind: str | None = None) -> str | None:
    """The cell kind of a layer: `kind`, else `layer.kind.name`, else `layer.KIND`, else None."""
    found = (
        kind or getattr(getattr(layer, "kind", None), "name", None) or getattr(layer, "KIND", None)
    )
    if found is not None and found not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {found!r}")
    return found


def _twin(layer: Any, kind: str, options: dict) -> LSTM | GRU | RNN:
    """gatednp's layer with the shapes and values of `layer`'s parameters."""
    params = {name: np.asarray(p.data, dtype=np.float64) for name, p in layer.named_parameters()}
    G = max(len(KINDS[kind].gate_names(**options)), 1)
    H = params["weight_ih_l0"].shape[0] // G
    num_layers = 1 + max(int(n.split("_l")[1].split("_")[0]) for n in params if "_l" in n)
    if kind == "lstm":
        options = dict(
            options,
            proj_size=params["weight_hr_l0"].shape[0] if "weight_hr_l0" in params else 0,
            peepholes="weight_ci_l0" in params or "weight_co_l0" in params,
        )
    twin = LAYERS[kind](
        params["weight_ih_l0"].shape[1],
        H,
        num_layers=num_layers,
        bias="bias_ih_l0" in params,
        bidirectional=any(n.endswith("_reverse") for n in params),
        dtype=np.float64,
        **options,
    )
    twin.load_state_dict(params)
    return twin


def check_layer(
    layer: Any,
    kind: str | None = None,
    *,
    T: int = 5,
    B: int = 3,
    seed: int = 0,
    atol: float = 1e-8,
    rtol: float = 1e-5,
    per_step: bool = True,
    **options: Any,
) -> GradcheckReport:
    """Check `layer.backward` (and its forward) against gatednp's layer, localised.

    Args:
        layer: your layer (contract in the module docstring), in float64.
        kind: "lstm", "gru" or "rnn" if the layer does not say; None and unknown: finite
            differences (`gn.gradcheck`).
        T, B: the sequence length and batch drawn; seed seeds x, the state and the upstream.
        atol, rtol: the pass rule |a − n| ≤ atol·max(1, |L|) + rtol·|n|.
        per_step: for a single-layer, one-direction layer, also check each step's weight
            contribution on its own (rows "<parameter> by step", layersteps.py).
        options: the cell's options (forget_gate, reset_after, nonlinearity), else
            `layer.cell_options`, else the defaults.

    Returns:
        a GradcheckReport: rows "y", "h_n"/"c_n" (forward), "x" and "h0"/"c0" and every
        parameter (gradients), y and x by time step, weights by gate; with `per_step`, each
        parameter's per-step contributions too.
    """
    kind = layer_kind(layer, kind)
    rng = np.random.default_rng(seed)
    options = options or dict(getattr(layer, "cell_options", {}) or {})
    if kind is None:
        name, p = next(iter(layer.named_parameters()))
        x = rng.standard_normal((T, B, p.data.shape[1]))
        return gradcheck(layer, x, seed=seed)
    twin = _twin(layer, kind, options)
    D, L = twin.num_directions, twin.num_layers
    x = rng.standard_normal((T, B, twin.input_size))
    state = tuple(rng.standard_normal((L * D, B, s)) for s in twin.state_sizes)
    pack = (lambda s: s) if len(state) == 2 else (lambda s: s[0])
    unpack = (lambda s: tuple(s)) if len(state) == 2 else (lambda s: (s,))

    def run(module) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
        for _, p in module.named_parameters():
            p.grad[...] = 0
        y, s_n = module(x.copy(), pack(tuple(s.copy() for s in state)))
        outs = [np.asarray(y, dtype=np.float64), *map(np.asarray, unpack(s_n))]
        dx, ds0 = module.backward(dy.copy(), pack(tuple(d.copy() for d in dstate)))
        grads = {n: np.array(p.grad, dtype=np.float64) for n, p in module.named_parameters()}
        grads.update(x=np.asarray(dx), **dict(zip(("h0", "c0"), unpack(ds0))))
        return outs, grads

    dy = rng.standard_normal((T, B, D * twin.state_sizes[0]))
    dstate = tuple(rng.standard_normal(s.shape) for s in state)
    ref_outs, ref = run(twin)
    outs, got = run(layer)
    loss = sum(float(np.vdot(o, r)) for o, r in zip(ref_outs, (dy, *dstate)))
    tol_abs = atol * max(1.0, abs(loss))
    report = GradcheckReport(loss=loss)
    for name, o, r in zip(("y", "h_n", "c_n"), outs, ref_outs):
        report.rows.append(
            _compare(name, o, r, tol_abs, rtol, step_axis=0 if name == "y" else None)
        )
    for name, r in ref.items():
        gates = tensor_gates(name, kind, **options)
        report.rows.append(
            _compare(
                name,
                got.get(name),
                r,
                tol_abs,
                rtol,
                gates=gates,
                step_axis=0 if name == "x" else None,
            )
        )
    if per_step and L == 1 and D == 1:
        report.rows += per_step_rows(
            layer,
            twin,
            x,
            tuple(s[:, :] for s in state),
            dy,
            dstate,
            tol_abs,
            rtol,
            lambda name: tensor_gates(name, kind, **options),
        )
    return report


def _compare(name, got, ref, tol_abs, rtol, **layout) -> TensorReport:
    got = None if got is None else np.asarray(got, dtype=np.float64)
    if got is None or got.shape != ref.shape:
        got = np.full(ref.shape, np.nan)  # missing or mis-shaped: every element fails
    return TensorReport.compare(name, got, ref, tol_abs, rtol, **layout)
