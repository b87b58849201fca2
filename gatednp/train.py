"""A training loop that never loses the user's work: the course's loop plus three guards.

Each step is the loop every course example writes by hand:

    optimizer.zero_grad();  pred = model(x);  loss, dpred = loss_fn(pred, y)
    model.backward(dpred);  [clip_grad_norm];  optimizer.step()

and `train` adds: the loss and the gradient norm must be finite before the optimizer may move
anything, the parameters are snapshot before each update and restored if it produced a non-finite
value, and a failure raises `NonFiniteError` naming the step, with the history so far attached.
So after any stop, the model holds the last finite parameters it reached, ready to save.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .optim import Optimizer, clip_grad_norm

__all__ = ["train", "History", "NonFiniteError"]


@dataclass
class History:
    """What `train` recorded: one entry per completed step.

    Attributes:
        steps: the global number of each completed step (start + 1, start + 2, ...).
        losses: the loss at each step, before its update.
        grad_norms: the total 2-norm of the gradients at each step, before clipping.
    """

    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)


class NonFiniteError(FloatingPointError):
    """Training met a nan or inf; `step` is the failing step, `history` what came before it."""

    def __init__(self, message: str, step: int, history: History) -> None:
        super().__init__(message)
        self.step, self.history = step, history


def _batch_source(batches) -> Callable[[int], tuple[np.ndarray, np.ndarray]]:
    """A function step -> (x, y) from a sequence of pairs (used in turn) or such a function."""
    if callable(batches):
        return batches
    if not isinstance(batches, Sequence) or len(batches) == 0:
        raise TypeError(
            "batches must be a non-empty sequence of (x, y) pairs or a function "
            f"step -> (x, y), got {type(batches).__name__}"
            + (" of length 0" if isinstance(batches, Sequence) else "")
        )
    return lambda step: batches[(step - 1) % len(batches)]


def train(
    model,
    loss_fn: Callable,
    optimizer: Optimizer,
    batches,
    steps: int,
    *,
    start: int = 0,
    clip: float | None = None,
    log_every: int = 0,
    callback: Callable[[int, float], bool | None] | None = None,
) -> History:
    """Run `steps` optimizer steps on `model`, stopping cleanly at the first non-finite value.

    Args:
        model: anything with `model(x) -> pred`, `model.backward(dpred)` and `parameters()`
            (every gatednp layer, `LSTMModel`, `GRUModel`).
        loss_fn: `(pred, y) -> (loss, dpred)`, e.g. `gn.mse_loss`.
        optimizer: built over `model.parameters()`.
        batches: a sequence of (x, y) pairs, used in turn (step s takes pair (s − 1) mod n),
            or a function `step -> (x, y)`; steps are numbered globally from `start + 1`, so
            a run resumed with `start` sees the same batches as one that never stopped.
        steps: how many steps to run (≥ 0).
        start: the number of steps already taken (e.g. the step stored in a checkpoint).
        clip: if given, `clip_grad_norm(model.parameters(), clip)` before each update.
        log_every: print the loss every this many steps (0: never).
        callback: called as `callback(step, loss)` after each step; returning True stops.

    Returns:
        The `History` of the completed steps.

    Raises:
        NonFiniteError: the loss, the gradient norm or an updated parameter was nan or inf at
            some step; the model keeps its parameters from the step before (the optimizer's
            moments keep that step's finite gradient only if the update itself failed).
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be an int ≥ 0, got {steps!r}")
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be a positive max norm or None, got {clip!r}")
    batch = _batch_source(batches)
    params = list(model.parameters())
    snapshot = [np.empty_like(p.data) for p in params]
    history = History()

    def fail(step: int, what: str) -> NonFiniteError:
        kept = f"from step {step - 1}" if step > 1 else "their initial values"
        return NonFiniteError(
            f"step {step}: {what}; training stopped, the model keeps its last finite "
            f"parameters ({kept})",
            step,
            history,
        )

    for step in range(start + 1, start + steps + 1):
        x, y = batch(step)
        optimizer.zero_grad()
        pred = model(x)
        loss, dpred = loss_fn(pred, y)
        if not np.isfinite(loss):
            raise fail(step, f"the loss is {loss}")
        model.backward(dpred)
        # the norm before clipping; max_norm = inf only measures it
        norm = clip_grad_norm(params, np.inf if clip is None else clip)
        if not np.isfinite(norm):
            raise fail(step, f"the gradient norm is {norm}")
        for p, keep in zip(params, snapshot):
            np.copyto(keep, p.data)
        try:  # an exception inside the update (Ctrl-C, a warning made an error) undoes it too
            optimizer.step()
            if not all(np.isfinite(p.data).all() for p in params):
                raise fail(step, "the update made a parameter non-finite")
        except BaseException:
            for p, keep in zip(params, snapshot):
                np.copyto(p.data, keep)
            raise
        history.steps.append(step)
        history.losses.append(float(loss))
        history.grad_norms.append(norm)
        if log_every and step % log_every == 0:
            print(f"  step {step:5d}  loss {loss:.6f}")
        if callback is not None and callback(step, float(loss)):
            break
    return history
