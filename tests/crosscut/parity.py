"""Parity harness: run gatednp (and, live, torch) on the same data and compare every tensor by name.

The frozen-fixture tests (test_parity.py, no torch) and the live tests (test_parity_live.py) share
this file. `run_gatednp` and `run_torch` return the fixture files' names (tests/fixtures/README.md):

    output/y, output/h_n, output/c_n        cells: output/h1, output/c1
    grad/x, grad/h0, grad/c0, grad/<torch parameter name>

and `assert_close_named(actual, expected)` checks that both hold the same names and every tensor
is within tolerance, listing each failing tensor by name. Adding a module option is a change to
the strategies in test_parity_live.py (and a case in tests/fixtures/generate.py), never here.

Tolerances, |ours − torch| ≤ atol + rtol·|torch| element-wise:

    float64  outputs, states   rtol 1e-9   atol 1e-10
             gradients         rtol 1e-8   atol 1e-10·max(1, max|ref|)
    float32  outputs, states   rtol 1e-5   atol 1e-5
             gradients         rtol 1e-4   atol 2e-5·max(1, max|ref|)
    Adam trajectories (float64): rtol 1e-10, atol 1e-12·max(1, max|ref|)

Why these: two correct implementations differ only by the order of floating-point sums (GEMM
blocking, where the two biases are added); on the short, contractive sequences used here that
is ~1e-15 (float64) and ~1e-7 (float32) relative, so the bounds keep 3–5 orders of headroom while
a real bug (a wrong gate, a missed term, a swapped bias) is off by 1e-3 or more. Gradients are
looser than outputs because BPTT sums T·B such products per weight element; their atol scales
with the tensor's largest entry because a sum that cancels to ~0 can only be judged against the
size of its terms. float32 bounds are the float64 ones moved to float32's ε ≈ 6e-8.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

import gatednp as gn
from gatednp.recurrent import RNNBase

# (dtype, "forward" | "grad" | "adam") -> (rtol, atol, atol scales with max|ref|)
TOLERANCES = {
    ("float64", "forward"): (1e-9, 1e-10, False),
    ("float64", "grad"): (1e-8, 1e-10, True),
    ("float32", "forward"): (1e-5, 1e-5, False),
    ("float32", "grad"): (1e-4, 2e-5, True),
    ("float64", "adam"): (1e-10, 1e-12, True),
}


def tolerance(name: str, expected: np.ndarray, kind: str | None = None) -> tuple[float, float]:
    """(rtol, atol) for the tensor `name` (grad/... are gradients) holding `expected`."""
    kind = kind or ("grad" if name.startswith("grad/") else "forward")
    rtol, atol, scaled = TOLERANCES[(str(expected.dtype), kind)]
    if scaled:
        atol *= max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    return rtol, atol


@dataclass
class Error:
    """How far one tensor is from its reference: `ratio` ≤ 1 passes."""

    name: str
    max_abs: float  # max |actual − expected|
    max_rel: float  # max |actual − expected| / |expected| over nonzero expected
    ratio: float  # max |actual − expected| / (atol + rtol·|expected|)
    detail: str = ""

    def __str__(self) -> str:
        return (
            f"{self.name}: max abs err {self.max_abs:.3g}, max rel err {self.max_rel:.3g}, "
            f"{self.ratio:.3g}× the tolerance{self.detail}"
        )


def measure(name: str, actual, expected: np.ndarray, kind: str | None = None) -> Error:
    """The `Error` of `actual` against `expected` (a shape or dtype mismatch is ratio inf)."""
    actual = np.asarray(actual)
    if actual.shape != expected.shape or actual.dtype != expected.dtype:
        detail = f" (expected {expected.shape} {expected.dtype}, got {actual.shape} {actual.dtype})"
        return Error(name, np.inf, np.inf, np.inf, detail)
    rtol, atol = tolerance(name, expected, kind)
    diff = np.abs(actual.astype(np.float64) - expected)
    bound = atol + rtol * np.abs(expected.astype(np.float64))
    rel = diff[expected != 0] / np.abs(expected[expected != 0])
    ratio = diff / bound
    worst = (
        tuple(int(i) for i in np.unravel_index(np.argmax(ratio), ratio.shape)) if ratio.size else ()
    )
    detail = ""
    if ratio.size and ratio[worst] > 1:
        detail = f" at {worst}: got {float(actual[worst])!r}, expected {float(expected[worst])!r}"
    return Error(
        name,
        float(diff.max(initial=0.0)),
        float(rel.max(initial=0.0)),
        float(ratio.max(initial=0.0)),
        detail,
    )


def assert_close_named(actual: dict, expected: dict, kind: str | None = None) -> dict[str, Error]:
    """Every tensor of `expected` equals the one of the same name in `actual`, within tolerance.

    The two must hold exactly the same names, so no tensor goes unchecked. Returns the measured
    `Error` per name; the failure message lists every tensor out of tolerance.
    """
    missing, extra = sorted(set(expected) - set(actual)), sorted(set(actual) - set(expected))
    assert not missing and not extra, (
        f"tensors only in the reference: {missing}; only ours: {extra}"
    )
    errors = {name: measure(name, actual[name], expected[name], kind) for name in expected}
    failures = [str(e) for e in errors.values() if not e.ratio <= 1]
    assert not failures, "out of tolerance:\n  " + "\n  ".join(failures)
    return errors


# -- running a module: inputs {x, h0[, c0][, lengths]}, upstream {dy, dh_n[, dc_n]} / {dh1[, dc1]}


def _names(module_is_cell: bool, pair: bool) -> tuple[str, ...]:
    states = ("h1", "c1") if module_is_cell else ("h_n", "c_n")
    outs = states if module_is_cell else ("y", *states)
    return outs if pair else outs[:-1]


def draw_upstream(outputs: dict, rng: np.random.Generator) -> dict:
    """A standard-normal upstream gradient `d<name>` for every output, in its dtype."""
    return {"d" + k: rng.standard_normal(v.shape).astype(v.dtype) for k, v in outputs.items()}


def run_gatednp(module, inputs: dict, upstream: dict | np.random.Generator) -> dict:
    """Forward and backward of a gatednp layer or cell, every result under its fixture name.

    Args:
        module: gn.LSTM/GRU/RNN (x (T, B, I) etc., lengths allowed) or a cell (x (B, I)/(I,)).
        inputs: x, h0, and c0 for an LSTM(Cell), lengths optionally (layers only).
        upstream: {dy, dh_n[, dc_n]} ({dh1[, dc1]} for cells), or a Generator that draws them
            once the outputs' shapes are known (returned too, under upstream/).

    Returns:
        {output/..., grad/x, grad/h0[, grad/c0], grad/<param>[, upstream/...]}.
    """
    cell, pair = not isinstance(module, RNNBase), "c0" in inputs
    state = (inputs["h0"], inputs["c0"]) if pair else inputs["h0"]
    module.train()
    module.zero_grad()
    if cell:
        out = module(inputs["x"], state)
    else:
        y, final = module(inputs["x"], state, lengths=inputs.get("lengths"))
        out = (y, *final) if pair else (y, final)
    outputs = dict(zip(_names(cell, pair), out if isinstance(out, tuple) else (out,)))
    drawn = isinstance(upstream, np.random.Generator)
    if drawn:
        upstream = draw_upstream(outputs, upstream)
    d = [upstream["d" + k] for k in _names(cell, pair)]
    if cell:
        dx, dstate = module.backward(tuple(d) if pair else d[0])
    else:
        dx, dstate = module.backward(d[0], tuple(d[1:]) if pair else d[1])
    results = {f"output/{k}": np.array(v) for k, v in outputs.items()}
    results["grad/x"] = dx
    results.update(zip(("grad/h0", "grad/c0"), dstate if pair else (dstate,)))
    results.update({f"grad/{k}": p.grad.copy() for k, p in module.named_parameters()})
    if drawn:
        results.update({f"upstream/{k}": v for k, v in upstream.items()})
    return results


def run_torch(module, inputs: dict, upstream: dict) -> dict:
    """What `run_gatednp` returns, computed by torch autograd (torch imported here only)."""
    import torch

    cell, pair = isinstance(module, torch.nn.RNNCellBase), "c0" in inputs
    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in inputs.items() if k != "lengths"}
    state = (leaves["h0"], leaves["c0"]) if pair else leaves["h0"]
    module.zero_grad()
    with warnings.catch_warnings():  # torch's note that float32 LSTM + proj_size skips oneDNN
        warnings.filterwarnings("ignore", "LSTM with projections is not supported with oneDNN")
        if cell:
            out = module(leaves["x"], state)
        else:
            y, final = _torch_layer(module, leaves["x"], state, inputs.get("lengths"))
            out = (y, *final) if pair else (y, final)
    outputs = dict(zip(_names(cell, pair), out if isinstance(out, tuple) else (out,)))
    loss = sum((v * torch.from_numpy(upstream["d" + k])).sum() for k, v in outputs.items())
    loss.backward()
    results = {f"output/{k}": v.detach().numpy().copy() for k, v in outputs.items()}
    results.update({f"grad/{k}": v.grad.numpy().copy() for k, v in leaves.items()})
    results.update({f"grad/{k}": p.grad.numpy().copy() for k, p in module.named_parameters()})
    return results


def _torch_layer(module, x, state, lengths):
    """torch layer forward; with lengths, packed (enforce_sorted=False) and padded back to T."""
    if lengths is None:
        return module(x, state)
    import torch

    rnn_utils, batch_first = torch.nn.utils.rnn, module.batch_first
    packed = rnn_utils.pack_padded_sequence(
        x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False
    )
    packed_y, final = module(packed, state)
    T = x.shape[1 if batch_first else 0]
    y, _ = rnn_utils.pad_packed_sequence(packed_y, batch_first=batch_first, total_length=T)
    return y, final


def compare(gn_module, torch_module, x, state, lengths, rng: np.random.Generator) -> dict:
    """Run both modules on the same x, state, lengths and random upstream; {name: Error}.

    Fails (naming every tensor) if any output, final state or gradient is out of tolerance.
    """
    parts = state if isinstance(state, tuple) else (state,)
    inputs = {"x": x, **dict(zip(("h0", "c0"), parts))}
    if lengths is not None:
        inputs["lengths"] = np.asarray(lengths, dtype=np.int64)
    ours = run_gatednp(gn_module, inputs, rng)
    upstream = {k[len("upstream/") :]: ours.pop(k) for k in list(ours) if k.startswith("upstream/")}
    return assert_close_named(ours, run_torch(torch_module, inputs, upstream))


# -- Adam trajectories: LSTM(I, H) → Linear(H, 1) on the last step, mean squared error ------------


class LastStep(gn.Module):
    """`fc(lstm(x)[0][-1])`, parameters named lstm.* then fc.*, as in the adam fixtures."""

    def __init__(self, lstm: gn.LSTM, fc: gn.Linear) -> None:
        self.lstm, self.fc = lstm, fc

    def loss(self, x: np.ndarray, target: np.ndarray) -> float:
        """Forward, mse_loss (mean) and backward; accumulates every parameter's grad."""
        y, _ = self.lstm(x)  # (T, B, H)
        loss, dpred = gn.mse_loss(self.fc(y[-1]), target)
        dy = np.zeros_like(y)
        dy[-1] = self.fc.backward(dpred)  # only the last step feeds the head
        self.lstm.backward(dy)
        return loss


def adam_trajectory(model: LastStep, x, target, hyper: dict, steps: int):
    """gn.Adam for `steps` steps; returns (losses (steps,), params after 1, params after all)."""
    opt = gn.Adam(model.parameters(), **hyper)
    losses, param1 = [], None
    for step in range(steps):
        opt.zero_grad()
        losses.append(model.loss(x, target))
        opt.step()
        if step == 0:
            param1 = model.state_dict()
    return np.array(losses), param1, model.state_dict()
