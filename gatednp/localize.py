"""Where a gradient is wrong: one tensor's comparison, kept whole, and read by gate and by step.

A `TensorReport` holds the analytic gradient, the reference it is held to (finite differences
or the textbook step) and their difference `error`, with the tensor's layout: which axis is
time (`step_axis`) and the gate blocks its rows are made of (`gates`, from the cell registry,
e.g. ("i", "f", "g", "o") for an LSTM's fused weights). An element passes when

    |analytic − reference| ≤ atol·max(1, |L|) + rtol·|reference|

(`tol_abs` = atol·max(1, |L|) is worked out once by the caller). `by_gate()` and `by_step()`
split the same error array along the gate blocks and the time axis.

>>> import numpy as np
>>> ref = np.ones((2, 6, 3))                       # 2 steps, rows [r|z|n] of H = 2, 3 columns
>>> got = ref.copy(); got[1, 2, 0] += 0.5          # step 1, gate z, unit 0, column 0
>>> t = TensorReport.compare("weight_ih_l0", got, ref, 1e-8, 1e-5, gates=("r", "z", "n"), step_axis=0)
>>> t.ok, [g for g, s in t.by_gate().items() if not s.ok], [s for s, b in enumerate(t.by_step()) if not b.ok]
(False, ['z'], [1])
>>> print(t.by_gate()["z"].describe())
weight_ih_l0, update gate z, step 1, unit 0, column 0: expected 1, got 1.5
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["TensorReport", "BlockReport", "ReportRows", "GATE_NAMES", "format_table"]

GATE_NAMES = {
    "i": "input gate i",
    "f": "forget gate f",
    "g": "candidate cell g",
    "o": "output gate o",
    "r": "reset gate r",
    "z": "update gate z",
    "n": "candidate n",
}


@dataclass
class BlockReport:
    """One block of a tensor (a gate, a step, or both): verdict, errors and the worst element."""

    name: str  # the tensor's name
    gate: str | None  # the gate's letter, None for a tensor without gate blocks
    step: int | None  # the time step, None when the block spans every step
    ok: bool
    max_abs_err: float
    max_rel_err: float  # max |error| / max |reference| over the block
    worst: tuple[int, ...]  # index of the worst element in the whole tensor
    expected: float  # the reference there
    got: float  # the analytic value there

    def describe(self) -> str:
        """ "forget gate f, step 3, unit 2, column 0: expected …, got …" (units and columns
        count within the gate block)."""
        parts = [self.name]
        if self.gate is not None:
            parts.append(GATE_NAMES.get(self.gate, f"gate {self.gate}"))
        return (
            ", ".join(parts + self._where()) + f": expected {self.expected:.6g}, got {self.got:.6g}"
        )

    def _where(self) -> list[str]:
        return [f"{k} {v}" for k, v in self.position.items()]

    position: dict = field(default_factory=dict)  # e.g. {"step": 3, "unit": 2, "column": 0}


@dataclass
class TensorReport:
    """One tensor's comparison: verdict, largest errors, and the arrays to dig into.

    `max_rel_err` is max |analytic − reference| / max |reference|. `error`, `analytic` and
    `reference` (None for a report built from numbers only) have the tensor's shape, with time
    on `step_axis` when the check is per step; `gates` names the row blocks.
    """

    name: str
    shape: tuple[int, ...]
    max_abs_err: float
    max_rel_err: float
    ok: bool
    analytic: np.ndarray | None = None
    reference: np.ndarray | None = None
    tol_abs: float = 0.0
    rtol: float = 0.0
    gates: tuple[str, ...] = ()
    step_axis: int | None = None

    @classmethod
    def compare(
        cls,
        name: str,
        analytic: np.ndarray,
        reference: np.ndarray,
        tol_abs: float,
        rtol: float,
        *,
        gates: tuple[str, ...] = (),
        step_axis: int | None = None,
        shape: tuple[int, ...] | None = None,
    ) -> TensorReport:
        """Compare `analytic` with `reference` (same shape) element-wise.

        Args:
            name: the tensor's name; tol_abs, rtol: the pass rule above.
            gates: the gate letters the rows (the axis after `step_axis`, else axis 0) split into.
            step_axis: the axis indexing time, if any.
            shape: the shape to print (default the arrays' shape).
        Returns:
            a TensorReport keeping both arrays.
        """
        analytic = np.asarray(analytic, dtype=np.float64)
        reference = np.asarray(reference, dtype=np.float64)
        if analytic.shape != reference.shape:
            raise ValueError(
                f"{name}: the gradient has shape {analytic.shape}, expected {reference.shape}"
            )
        err = np.abs(analytic - reference)
        bad = ~(err <= tol_abs + rtol * np.abs(reference))  # nan counts as bad
        max_err = float(np.nanmax(err)) if err.size and not np.isnan(err).all() else 0.0
        if np.isnan(err).any():
            max_err = float("nan")
        scale = float(np.max(np.abs(reference))) if reference.size else 0.0
        return cls(
            name,
            analytic.shape if shape is None else shape,
            max_err,
            max_err / scale if scale else max_err,
            not bool(bad.any()),
            analytic,
            reference,
            tol_abs,
            rtol,
            tuple(gates),
            step_axis,
        )

    @property
    def error(self) -> np.ndarray:
        """analytic − reference, the tensor's shape."""
        if self.analytic is None or self.reference is None:
            raise ValueError(f"{self.name}: this report kept no arrays")
        return self.analytic - self.reference

    def _bad(self) -> np.ndarray:
        err = np.abs(self.error)
        return ~(err <= self.tol_abs + self.rtol * np.abs(self.reference))

    def _row_axis(self) -> int:
        return 0 if self.step_axis is None else self.step_axis + 1

    def _block(self, gate: str | None, step: int | None) -> BlockReport:
        index: list = [slice(None)] * self.error.ndim
        offset = [0] * self.error.ndim
        if gate is not None:
            ax = self._row_axis()
            size = self.error.shape[ax] // len(self.gates)
            k = self.gates.index(gate)
            index[ax] = slice(k * size, (k + 1) * size)
            offset[ax] = k * size
        if step is not None:
            index[self.step_axis] = slice(step, step + 1)
            offset[self.step_axis] = step
        idx = tuple(index)
        err, ref, bad = np.abs(self.error[idx]), self.reference[idx], self._bad()[idx]
        if err.size == 0:
            return BlockReport(self.name, gate, step, True, 0.0, 0.0, (), 0.0, 0.0)
        local = np.unravel_index(int(np.argmax(np.where(np.isnan(err), np.inf, err))), err.shape)
        worst = tuple(int(i + o) for i, o in zip(local, offset))
        max_err = float(err[local])
        scale = float(np.max(np.abs(ref)))
        position = self._position(worst, gate)
        return BlockReport(
            self.name,
            gate,
            step,
            not bool(bad.any()),
            max_err,
            max_err / scale if scale else max_err,
            worst,
            float(self.reference[worst]),
            float(self.analytic[worst]),
            position,
        )

    def _position(self, worst: tuple[int, ...], gate: str | None) -> dict:
        """Name the worst element's coordinates: step, unit (within the gate), column."""
        position = {}
        rest = list(worst)
        if self.step_axis is not None:
            position["step"] = rest.pop(self.step_axis)
        if self.gates and rest:
            size = self.error.shape[self._row_axis()] // len(self.gates)
            position["unit"] = rest[0] % size
            if len(rest) > 1:
                position["column"] = rest[1]
        elif len(rest) == 2:
            position.update(sample=rest[0], unit=rest[1])
        elif rest:
            position["index"] = tuple(rest) if len(rest) > 1 else rest[0]
        return position

    def by_gate(self) -> dict[str, BlockReport]:
        """One BlockReport per gate block (all steps); {"": whole tensor} without gates."""
        if not self.gates:
            return {"": self._block(None, None)}
        return {g: self._block(g, None) for g in self.gates}

    def by_step(self) -> list[BlockReport]:
        """One BlockReport per time step (all gates); [] for a tensor without a time axis."""
        if self.step_axis is None:
            return []
        return [self._block(None, t) for t in range(self.error.shape[self.step_axis])]

    def block(self, gate: str | None = None, step: int | None = None) -> BlockReport:
        """The BlockReport of one gate and/or one step."""
        return self._block(gate, step)

    def failures(self) -> list[BlockReport]:
        """The failing (gate, step) blocks, worst first."""
        gates = self.gates or (None,)
        steps = range(self.error.shape[self.step_axis]) if self.step_axis is not None else (None,)
        blocks = [self._block(g, t) for g in gates for t in steps]
        return sorted(
            (b for b in blocks if not b.ok), key=lambda b: -np.nan_to_num(b.max_rel_err, nan=np.inf)
        )


def _cell(block: BlockReport) -> str:
    return "ok" if block.ok else f"{block.max_rel_err:.0e}"


def format_table(reports: list[TensorReport], max_steps: int = 12) -> str:
    """The compact table: one row per tensor and gate block, one column per step ("all" for a
    tensor without a time axis); a cell reads "ok" or the block's worst relative error."""
    T = max((r.error.shape[r.step_axis] for r in reports if r.step_axis is not None), default=0)
    shown = min(T, max_steps)
    head = f"{'tensor':<16} {'gate':<5} " + " ".join(f"{'t' + str(t):>6}" for t in range(shown))
    lines = [head + ("  ..." if T > shown else "") + f" {'all':>6}"]
    for r in reports:
        for gate in r.gates or (None,):
            steps = r.error.shape[r.step_axis] if r.step_axis is not None else 0
            cells = [
                f"{_cell(r.block(gate, t)):>6}" if t < steps else f"{'':>6}" for t in range(shown)
            ]
            lines.append(
                f"{r.name:<16} {gate or '':<5} "
                + " ".join(cells)
                + ("  ..." if T > shown else "")
                + f" {_cell(r.block(gate)):>6}"
            )
    return "\n".join(lines)


class ReportRows:
    """What every check's report shares: `rows` of TensorReports, `ok`, `report[name]`."""

    rows: list[TensorReport]

    @property
    def ok(self) -> bool:
        """True when every tensor passes."""
        return all(r.ok for r in self.rows)

    def __getitem__(self, name: str) -> TensorReport:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no tensor {name!r}; the report has {[r.name for r in self.rows]}")
