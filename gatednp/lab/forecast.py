"""Training a forecaster: a `SequenceModel` regressor on windows, with progress and the weights
kept from its best validation epoch (shared by the traffic and reactor experiments).

Adam on the mean squared error of the scaled target, minibatches shuffled each epoch, the
learning rate on a cosine from `lr` down to `lr / 20`, gradient norm clipped; after each epoch
the validation MSE is measured and the best epoch's weights are restored at the end (the
validation part is carved from the training data, never the test data).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..losses import mse_loss
from ..optim import Adam
from ..train import train as train_loop
from .experiments import duration
from .models import SequenceModel

__all__ = ["FitResult", "fit", "predict"]


@dataclass
class FitResult:
    """What `fit` measured: per-step training losses, per-epoch validation MSE, the best epoch."""

    epochs: int = 0
    best_epoch: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)  # per step
    val_mse: list[float] = field(default_factory=list)  # per epoch


def predict(model: SequenceModel, X: np.ndarray, batch: int = 4096) -> np.ndarray:
    """The model's predictions on (N, T, I) windows, in eval mode, batch by batch."""
    model.eval()
    out = np.concatenate([model(X[i : i + batch]) for i in range(0, len(X), batch)])
    model.train()
    return out


def fit(
    model: SequenceModel,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    epochs: int,
    batch: int,
    lr: float,
    clip: float = 1.0,
    seed: int = 0,
    name: str = "",
    log_every: int = 10,
    out=print,
) -> FitResult:
    """Train on (X_train, y_train, X_val, y_val) (windows (N, T, I), targets (N, O))."""
    X, y, X_val, y_val = data
    rng = np.random.default_rng(seed)
    per_epoch = -(-len(X) // batch)
    steps = epochs * per_epoch
    opt = Adam(model.parameters(), lr=lr)
    result, best = FitResult(), (np.inf, None)
    order = np.arange(len(X))
    start = time.perf_counter()

    def batches(step: int):
        k = (step - 1) % per_epoch
        if k == 0:
            rng.shuffle(order)
        opt.param_groups[0]["lr"] = lr * (
            0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * (step - 1) / steps))
        )
        idx = order[k * batch : (k + 1) * batch]
        return X[idx], y[idx]

    def progress(step: int, loss: float) -> bool:
        nonlocal best
        result.losses.append(loss)
        if step % per_epoch:
            return False
        e = step // per_epoch
        val = float(np.mean((predict(model, X_val) - y_val) ** 2))
        result.val_mse.append(val)
        if val < best[0]:
            best = (val, model.state_dict())
            result.best_epoch = e
        if e % log_every == 0 or e == epochs:
            elapsed = time.perf_counter() - start
            out(
                f"  {name:<5} epoch {e:4d}/{epochs}  loss {np.mean(result.losses[-per_epoch:]):.3e}"
                f"  val {val:.3e}  {step / elapsed:6.1f} steps/s"
                f"  ETA {duration(elapsed * (epochs - e) / e)}"
            )
        return False

    train_loop(model, mse_loss, opt, batches, steps, clip=clip, callback=progress)
    if best[1] is not None:
        model.load_state_dict(best[1])
    result.epochs, result.seconds = epochs, time.perf_counter() - start
    return result
