"""The course examples: predict the next number of a consecutive sequence with an LSTM and a GRU.

Data: for s = 0, 1, …, 19 the sequence [s, s+1] (shape (B=20, T=2, 1)) with target s+2.
Model: `LSTMModel` / `GRUModel` (models.py); loss: MSE; optimizer: Adam(lr=0.01).
After training, each model predicts the number after the test sequence [10, 11].
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..losses import mse_loss
from ..optim import Adam
from ..train import train
from .models import GRUModel, LSTMModel

__all__ = ["consecutive_numbers", "run_example", "main"]

HIDDEN_SIZE, LR, EPOCHS, SEED = 50, 0.01, 500, 0


def consecutive_numbers(n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """X (n, 2, 1) = [[s], [s+1]] and y (n, 1) = s+2 for s = 0..n-1."""
    s = np.arange(n, dtype=np.float64)
    X = np.stack([s, s + 1], axis=1)[:, :, None]
    y = (s + 2)[:, None]
    return X, y


@dataclass
class ExampleResult:
    name: str
    first_loss: float
    final_loss: float
    prediction: float
    seconds: float


def run_example(
    model_class, *, epochs: int = EPOCHS, seed: int = SEED, log_every: int = 100
) -> ExampleResult:
    """Train `model_class(1, HIDDEN_SIZE, 1)` on the consecutive numbers, then predict 10, 11 → ?"""
    start = time.perf_counter()
    X, y = consecutive_numbers()
    model = model_class(input_size=1, hidden_size=HIDDEN_SIZE, output_size=1, rng=seed)
    optimizer = Adam(model.parameters(), lr=LR)
    # zero_grad, forward, loss, backward, step, once per epoch on the whole batch (train.py)
    losses = train(model, mse_loss, optimizer, [(X, y)], epochs, log_every=log_every).losses
    model.eval()
    prediction = float(model(np.array([[[10.0], [11.0]]]))[0, 0])
    return ExampleResult(
        model_class.__name__, losses[0], losses[-1], prediction, time.perf_counter() - start
    )


def main() -> int:
    """Run both examples and print a summary; exit status 1 if a prediction misses 12 by > 0.3."""
    results = []
    for title, cls in (("Example 1: LSTM", LSTMModel), ("Example 2: GRU", GRUModel)):
        print(f"{title} — learn s, s+1 → s+2 (Adam lr={LR}, {EPOCHS} epochs, hidden {HIDDEN_SIZE})")
        results.append(run_example(cls))
    print()
    print(f"{'model':<10} {'first loss':>11} {'final loss':>11} {'[10, 11] →':>11} {'time':>7}")
    for r in results:
        print(
            f"{r.name:<10} {r.first_loss:>11.4f} {r.final_loss:>11.6f} {r.prediction:>11.3f} {r.seconds:>6.2f}s"
        )
    ok = all(abs(r.prediction - 12) <= 0.3 for r in results)
    print(
        "both predictions are within 0.3 of 12" if ok else "a prediction missed 12 by more than 0.3"
    )
    return 0 if ok else 1
