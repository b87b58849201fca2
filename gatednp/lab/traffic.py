"""`python -m gatednp experiment traffic`: 5-minute traffic-flow forecasting on one PeMS
detector (Fu, Zhang & Li 2016: LSTM and GRU for traffic flow), against baselines.

    python -m gatednp experiment traffic            (LSTM and GRU, minutes)
    python -m gatednp experiment traffic --quick    (seconds: checks that it learns)
    python -m gatednp experiment traffic --plot traffic.png   (one test day, truth and models)

Set-up, as the Keras reference (xiaochus/TrafficFlowPrediction, numbers in the data README):
12 lags (one hour) predict the next 5-minute flow; min–max scaling fit on the training part
(27 weekdays of January–February 2016); the windows run over each part as one series, as the
reference's do (so a window may span the night between two listed days); the test targets are
the 15 March days from their 13th slot on (4,308 values). Models: two stacked layers of 64
(LSTM or GRU) and a Linear head on the last step, float32; Adam on the scaled MSE, batch 256,
the last 5 % of the training windows for validation (best epoch kept, forecast.py).

Baselines that need no training: the training mean; persistence (the last observed value);
the same slot on the previous listed day; a least-squares linear AR(12) with intercept fitted on
the training windows. Metrics in vehicles per 5 minutes (MAPE leaves the zero targets out).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ..data import MinMaxScaler, sliding_windows
from ..losses import mse_loss
from ..metrics import forecast_metrics
from .datasets import pems_flow
from .experiments import write_plots
from .forecast import fit, predict
from .layers import CELLS
from .models import SequenceModel
from .tasks import Task

__all__ = ["LAGS", "baselines", "metrics_table", "run_traffic", "traffic_task", "persistence_mse"]

LAGS = 12
FULL = dict(hidden=64, layers=2, epochs=250, batch=256, lr=2e-3, log_every=10)
QUICK = dict(hidden=16, layers=1, epochs=4, batch=256, lr=1e-2, log_every=1)


def baselines(train: np.ndarray, test: np.ndarray) -> dict[str, np.ndarray]:
    """Forecasts of test[LAGS:] from each baseline; train (D1, 288) and test (D2, 288) by day."""
    tr, te = train.reshape(-1), test.reshape(-1)
    allflow = np.concatenate([tr, te])
    t = len(tr) + np.arange(LAGS, len(te))  # the targets' positions in the whole series
    X, y = sliding_windows(tr, LAGS)
    A = np.column_stack([X[:, :, 0], np.ones(len(X))])
    coef, *_ = np.linalg.lstsq(A, y[:, 0], rcond=None)
    Xt, _ = sliding_windows(te, LAGS)
    return {
        "training mean": np.full(len(t), tr.mean()),
        "persistence": allflow[t - 1],
        "previous day": allflow[t - 288],
        "linear AR(12)": np.column_stack([Xt[:, :, 0], np.ones(len(Xt))]) @ coef,
    }


def traffic_task(lags: int = LAGS) -> Task:
    """The series as a Task of tasks.py, for the variant study: `lags` min–max scaled flows
    (x (lags, B, 1), time-major) -> the next one. Batches are drawn from the training windows,
    the validation and test sets (`heldout`) from the test days' windows. The baseline is the
    test MSE of always answering the training mean (`persistence_mse` is a stronger bar)."""
    X, y, Xt, yt = _scaled_windows(lags)

    def sampler(X: np.ndarray, y: np.ndarray):
        def batch(rng: np.random.Generator, B: int, dtype) -> tuple[np.ndarray, np.ndarray]:
            rows = rng.integers(0, len(X), size=B)
            return X[rows].transpose(1, 0, 2).astype(dtype), y[rows].astype(dtype)

        return batch

    mean = float(np.mean((yt - y.mean()) ** 2))
    return Task("traffic", 1, 1, False, sampler(X, y), mse_loss, "MSE", _mse, mean, sampler(Xt, yt))


def persistence_mse(lags: int = LAGS) -> float:
    """The scaled test MSE of repeating the last value: what `traffic_task` must beat."""
    _, _, Xt, yt = _scaled_windows(lags)
    return _mse(Xt[:, -1], yt)


def _scaled_windows(lags: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """X (N, lags, 1), y (N, 1) from the training days, Xt, yt from the test days, min–max
    scaled by the training days."""
    train, test = pems_flow()
    scaler = MinMaxScaler().fit(train.reshape(-1, 1))
    X, y = sliding_windows(scaler.transform(train.reshape(-1, 1)), lags)
    Xt, yt = sliding_windows(scaler.transform(test.reshape(-1, 1)), lags)
    return X, y, Xt, yt


def _mse(pred: np.ndarray, target: np.ndarray) -> float:
    return float(np.mean((pred - target) ** 2))


def metrics_table(truth: np.ndarray, forecasts: dict, seconds: dict | None = None) -> str:
    lines = [f"{'model':<14} {'MAE':>7} {'RMSE':>7} {'MAPE %':>7} {'R²':>7} {'time':>8}"]
    for name, pred in forecasts.items():
        m = forecast_metrics(truth, pred)
        s = (seconds or {}).get(name)
        lines.append(
            f"{name:<14} {m['mae']:>7.3f} {m['rmse']:>7.3f} {m['mape']:>7.2f} {m['r2']:>7.4f}"
            + (f" {s:>7.1f}s" if s is not None else f" {'-':>8}")
        )
    zeros = forecast_metrics(truth, truth)["mape_zero_targets_excluded"]
    lines.append(f"({len(truth)} test targets; MAPE leaves out the {zeros} zero targets)")
    return "\n".join(lines)


def run_traffic(args: argparse.Namespace) -> int:
    """The experiment's entry point; exit status 1 if --quick finds that nothing was learnt."""
    cfg = dict(QUICK if args.quick else FULL)
    for key in ("hidden", "epochs", "batch", "lr"):
        if getattr(args, key, None) is not None:
            cfg[key] = getattr(args, key)
    train, test = pems_flow()
    scaler = MinMaxScaler().fit(train.reshape(-1, 1))
    dtype = np.dtype(args.dtype)
    X, y = sliding_windows(scaler.transform(train.reshape(-1, 1)).astype(dtype), LAGS)
    Xt, _ = sliding_windows(scaler.transform(test.reshape(-1, 1)).astype(dtype), LAGS)
    truth = test.reshape(-1)[LAGS:]
    n_val = len(X) // 20
    data = (X[:-n_val], y[:-n_val], X[-n_val:], y[-n_val:])
    forecasts, seconds = baselines(train, test), {}
    cells = args.cell or (["gru"] if args.quick else ["lstm", "gru"])
    print(f"traffic: {len(X)} training windows, {len(truth)} test targets, {cfg}", flush=True)
    fits = {}
    for c in cells:
        layer = CELLS[c](1, cfg["hidden"], num_layers=cfg["layers"], batch_first=True,
                         dtype=dtype, rng=args.seed)  # fmt: skip
        model = SequenceModel(layer, 1, rng=args.seed)
        start = time.perf_counter()
        fits[c] = fit(model, data, epochs=cfg["epochs"], batch=cfg["batch"], lr=cfg["lr"],
                      seed=args.seed + 1, name=c, log_every=cfg["log_every"],
                      out=lambda s: print(s, flush=True))  # fmt: skip
        seconds[c] = time.perf_counter() - start
        forecasts[c] = scaler.inverse_transform(predict(model, Xt))[:, 0].astype(float)
        print(f"  {c}: best validation epoch {fits[c].best_epoch} of {cfg['epochs']}", flush=True)
    print()
    print(metrics_table(truth, forecasts, seconds))
    if args.plot:
        from . import plots

        day = 4  # one test day, its 276 predicted slots
        sl = slice(day * 288, (day + 1) * 288 - LAGS)
        series = {
            "truth": truth[sl],
            **{k: v[sl] for k, v in forecasts.items() if k != "training mean"},
        }
        hours = (np.arange(LAGS, 288) * 5) / 60
        write_plots(lambda: [plots.lines(series, args.plot, x=hours, xlabel="hour of the day",
                                         ylabel="vehicles per 5 minutes",
                                         title=f"PeMS lane-1 flow, test day {day + 1}")])  # fmt: skip
    if args.quick:
        trivial = forecast_metrics(truth, forecasts["training mean"])["mae"]
        ok = all(f.losses[-1] < f.losses[0] for f in fits.values()) and all(
            forecast_metrics(truth, forecasts[c])["mae"] < trivial for c in cells
        )
        print("quick check:", "learns (loss falls, beats the training mean)" if ok else "FAILED")
        return 0 if ok else 1
    return 0
