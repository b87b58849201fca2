"""Gradient flow through time: ‖∂L/∂h_t‖ against the lag T − t, for the RNN, LSTM and GRU.

The loss L reads only the last state h_T (the adding problem: a Linear head on h_T, MSE), so
∂L/∂h_t is the error signal that reaches step t after travelling back T − t steps:

    ∂L/∂h_{t-1} = (∂h_t/∂h_{t-1})ᵀ ∂L/∂h_t

For the tanh RNN ∂h_t/∂h_{t-1} = diag(1 − h_t²) W_hh, and a product of many such factors
shrinks geometrically (Bengio et al. 1994; Hochreiter 1991) — the vanishing gradient. The LSTM's
cell state has the additive path ∂c_t/∂c_{t-1} = diag(f_t), which a forget gate near 1 keeps
near the identity; the GRU's h_t = (1 − z_t) n_t + z_t h_{t-1} has diag(z_t) the same way.

`lstm-fb1` is the LSTM with its forget-gate bias set to 1 at init (variants.init_forget_bias):
torch's init gives f ≈ σ(0) = 1/2, which halves the cell-state gradient at every step.

The measurement is a hand-written BPTT loop over the cell classes: T forward calls of
LSTMCell / GRUCell / RNNCell (weights copied from the trained layer), then T backward calls,
each of which returns the gradient with respect to the previous state.
"""

from __future__ import annotations

import argparse

import numpy as np

from ..cells import cell_like
from .experiments import apply_defaults, train, train_options, write_plots
from .layers import make_layer
from .models import SequenceModel
from .tasks import Task, adding_task

__all__ = ["gradient_norms", "run_gradflow", "DEFAULTS", "DEFAULT_CELLS"]

DEFAULT_CELLS = ["rnn", "lstm", "lstm-fb1", "gru"]
DEFAULTS = dict(seq_len=100, hidden=64, batch=64, steps=1500, lr=0.005, clip=1.0)
LAGS = (0, 1, 2, 5, 10, 20, 50, 100, 200)


def gradient_norms(model, task: Task, x: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
    """Mean over the batch of ‖∂L/∂h_t‖ (and ‖∂L/∂c_t‖ for an LSTM), indexed by lag T − t.

    Args:
        model: a SequenceModel (models.py), time-major, its head on the last step of a one-layer
            LSTM, GRU or RNN.
        task: gives the loss; x (T, B, I) and target (B, O) one batch of it.

    Returns:
        {"h": (T+1,), and "c": (T+1,) for an LSTM}: entry k is the norm at h_{T−k} (k = T is h_0).
    """
    cell = cell_like(model.rnn, dtype=np.float64)  # its weights, as a float64 cell
    x = x.astype(np.float64)
    T = x.shape[0]
    state = None
    for t in range(T):  # forward through the cell, one cache per step
        state = cell(x[t], state)
    h_T = state[0] if isinstance(state, tuple) else state
    W, b = model.fc.weight.data.astype(np.float64), model.fc.bias.data.astype(np.float64)
    _, dpred = task.loss(h_T @ W.T + b, target.astype(np.float64))
    dh = dpred @ W  # ∂L/∂h_T through the head
    dstate = (dh, None) if isinstance(state, tuple) else dh
    norms: dict[str, list[float]] = {"h": []} if dstate is dh else {"h": [], "c": []}
    for _ in range(T):  # walk back: each call returns the gradient wrt the previous state
        parts = dstate if isinstance(dstate, tuple) else (dstate,)
        for key, d in zip(norms, parts):
            norms[key].append(0.0 if d is None else float(np.linalg.norm(d, axis=1).mean()))
        _, dstate = cell.backward(dstate)
    parts = dstate if isinstance(dstate, tuple) else (dstate,)
    for key, d in zip(norms, parts):
        norms[key].append(float(np.linalg.norm(d, axis=1).mean()))
    return {k: np.array(v) for k, v in norms.items()}


def run_gradflow(args: argparse.Namespace) -> int:
    """`python -m gatednp experiment gradflow`: norms at init and after training, a table."""
    apply_defaults(args, DEFAULTS)
    task = adding_task(args.seq_len)
    x, target = task.batch(np.random.default_rng(args.seed + 3), args.batch, np.float64)
    series = {}
    for cell in args.cell or DEFAULT_CELLS:
        layer = make_layer(
            cell, task.input_size, args.hidden, dtype=np.dtype(args.dtype), rng=args.seed
        )
        at_init = gradient_norms(SequenceModel(layer, 1, rng=args.seed), task, x, target)
        print(
            f"gradflow: training {cell} on adding (T = {args.seq_len}) for {args.steps} steps",
            flush=True,
        )
        r = train(task, cell, **train_options(args))
        trained = gradient_norms(r.model, task, x, target)
        print(f"  {cell} test MSE after training: {r.test_loss:.4f}")
        for key in at_init:
            suffix = "" if key == "h" else " (c)"
            series[f"{cell}{suffix} init"] = at_init[key]
            series[f"{cell}{suffix} trained"] = trained[key]
    lags = [k for k in LAGS if k <= args.seq_len]
    print()
    print(
        f"mean ‖∂L/∂h_(T−k)‖ over {args.batch} sequences of the adding problem, T = {args.seq_len}"
    )
    print(f"{'':<21}" + "".join(f"{'k=' + str(k):>10}" for k in lags) + f"{'k=T / k=0':>11}")
    for name, n in series.items():
        ratio = f"{n[-1] / n[0]:.1e}" if n[0] else "-"  # c_T gets no gradient of its own
        print(f"{name:<21}" + "".join(f"{n[k]:>10.2e}" for k in lags) + f"{ratio:>11}")
    if args.plot:
        from .plots import gradient_norms as plot

        title = f"gradient reaching h_(T−k), adding problem T = {args.seq_len}"
        write_plots(lambda: [plot(series, args.plot, title=title, ylabel="mean ‖∂L/∂h‖, ‖∂L/∂c‖")])
    return 0
