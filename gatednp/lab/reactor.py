"""`python -m gatednp experiment reactor`: LSTM and GRU models of a simulated pH neutralisation
reactor, one step ahead and in free run (Zarzycki & Ławryńczuk 2021 model two reactors so).

    python -m gatednp experiment reactor            (LSTM and GRU, about a minute)
    python -m gatednp experiment reactor --quick    (seconds: checks that it learns)
    python -m gatednp experiment reactor --plot reactor.png   (free-run trajectories)

The process (Henson & Seborg, "Adaptive nonlinear control of a pH neutralization process",
IEEE Trans. Control Systems Technology 2(3), 1994, the benchmark Zarzycki & Ławryńczuk use):
acid q1 (HNO3), buffer q2 (NaHCO3) and base q3 (NaOH with NaHCO3) flow into a tank of cross
section A and level h, drained through a valve. With the reaction invariants Wa (charge) and
Wb (carbonate ion concentration) of each stream i and of the tank (4):

    A h dWa4/dt = q1 (Wa1 − Wa4) + q2 (Wa2 − Wa4) + q3 (Wa3 − Wa4)
    A h dWb4/dt = q1 (Wb1 − Wb4) + q2 (Wb2 − Wb4) + q3 (Wb3 − Wb4)
    A dh/dt     = q1 + q2 + q3 − Cv √h

and the pH is the root of the charge balance

    Wa4 + 10^(pH−14) − 10^(−pH) + Wb4 (1 + 2·10^(pH−pK2)) / (1 + 10^(pK1−pH) + 10^(pH−pK2)) = 0

Constants (the paper's table as the benchmark literature quotes it): Wa1 = 3e-3 M, Wa2 =
−3e-2 M, Wa3 = −3.05e-3 M, Wb1 = 0, Wb2 = 3e-2 M, Wb3 = 5e-5 M, pK1 = 6.35, pK2 = 10.25,
A = 207 cm², Cv = 8.75 ml/(s·√cm), q1 = 16.6 ml/s, q2 = 0.55 ml/s; nominal q3 = 15.6 ml/s,
h = 14 cm, pH ≈ 7 (Cv √14 = 32.74 ≈ q1 + q2 + q3, a steady state). The manipulated input is
the base flow q3, held piecewise constant for random spans of 5–30 samples at random levels
in [11, 20] ml/s; the output is the pH, sampled every Ts = 10 s. `solve_ivp` (LSODA)
integrates each constant span; the pH is found by bisection on [0, 14] (the balance rises
monotonically with pH).

Models: inputs (q3, pH) over the last 10 samples, both min–max scaled on the training
trajectory, predict the next pH. One step ahead, the window holds measured pHs; in free run
(simulation mode, what predictive control needs) it holds the model's own earlier outputs
over the whole validation trajectory, from the true initial window. Baselines: the training
mean, and a linear ARX model with the same 10 lags fitted by least squares, in both modes.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ..data import MinMaxScaler
from ..metrics import mae, rmse
from .experiments import write_plots
from .forecast import fit, predict
from .layers import CELLS
from .models import SequenceModel

__all__ = ["CONSTANTS", "simulate", "ph_from_invariants", "run_reactor"]

CONSTANTS = dict(Wa1=3e-3, Wa2=-3e-2, Wa3=-3.05e-3, Wb1=0.0, Wb2=3e-2, Wb3=5e-5, pK1=6.35,
                 pK2=10.25, A=207.0, Cv=8.75, q1=16.6, q2=0.55)  # fmt: skip
TS, LAGS = 10.0, 10
FULL = dict(hidden=32, train=4000, val=1000, epochs=200, batch=64, lr=5e-3, log_every=20)
QUICK = dict(hidden=12, train=600, val=200, epochs=6, batch=32, lr=1e-2, log_every=2)


def ph_from_invariants(wa: np.ndarray, wb: np.ndarray) -> np.ndarray:
    """The pH solving the charge balance (module docstring), by 60 bisection steps on [0, 14]."""
    c = CONSTANTS
    lo, hi = np.zeros_like(wa), np.full_like(wa, 14.0)

    def balance(ph):
        carb = (1 + 2 * 10 ** (ph - c["pK2"])) / (1 + 10 ** (c["pK1"] - ph) + 10 ** (ph - c["pK2"]))
        return wa + 10 ** (ph - 14) - 10 ** (-ph) + wb * carb

    for _ in range(60):
        mid = (lo + hi) / 2
        up = balance(mid) > 0
        hi, lo = np.where(up, mid, hi), np.where(up, lo, mid)
    return (lo + hi) / 2


def _rhs(t, x, q3):
    c = CONSTANTS
    wa, wb, h = x
    q1, q2 = c["q1"], c["q2"]
    return [
        (q1 * (c["Wa1"] - wa) + q2 * (c["Wa2"] - wa) + q3 * (c["Wa3"] - wa)) / (c["A"] * h),
        (q1 * (c["Wb1"] - wb) + q2 * (c["Wb2"] - wb) + q3 * (c["Wb3"] - wb)) / (c["A"] * h),
        (q1 + q2 + q3 - c["Cv"] * np.sqrt(max(h, 0.0))) / c["A"],
    ]


def simulate(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n samples of (q3, pH) under random piecewise-constant q3, from the nominal steady state."""
    from scipy.integrate import solve_ivp

    rng = np.random.default_rng(seed)
    q3 = np.empty(n)
    k = 0
    while k < n:
        span = int(rng.integers(5, 31))
        q3[k : k + span] = rng.uniform(11.0, 20.0)
        k += span
    x = np.array([-4.32e-4, 5.28e-4, 14.0])
    states = np.empty((n, 3))
    k = 0
    while k < n:  # one solve_ivp per constant span, sampled every TS
        end = k + 1
        while end < n and q3[end] == q3[k]:
            end += 1
        t_eval = TS * np.arange(1, end - k + 1)
        sol = solve_ivp(_rhs, (0.0, t_eval[-1]), x, method="LSODA", t_eval=t_eval,
                        args=(q3[k],), rtol=1e-8, atol=1e-11)  # fmt: skip
        states[k:end] = sol.y.T
        x = sol.y[:, -1]
        k = end
    return q3, ph_from_invariants(states[:, 0], states[:, 1])


def _windows(u: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (N, LAGS, 2): (u, y) at k−LAGS … k−1, target (N, 1): y at k."""
    idx = np.arange(LAGS, len(y))[:, None] - LAGS + np.arange(LAGS)
    return np.stack([u[idx], y[idx]], axis=-1), y[LAGS:, None]


def free_run(step, u: np.ndarray, y0: np.ndarray) -> np.ndarray:
    """Simulation mode: y[k] = step(window of (u, ŷ) at k−LAGS … k−1), ŷ fed back, from the first
    LAGS true outputs y0; returns ŷ for k = LAGS … len(u) − 1."""
    y = np.concatenate([y0, np.zeros(len(u) - LAGS)])
    for k in range(LAGS, len(u)):
        y[k] = step(np.stack([u[k - LAGS : k], y[k - LAGS : k]], axis=-1)[None])
    return y[LAGS:]


def run_reactor(args: argparse.Namespace) -> int:
    """The experiment's entry point; exit status 1 if --quick finds that nothing was learnt."""
    cfg = dict(QUICK if args.quick else FULL)
    for key in ("hidden", "epochs", "batch", "lr"):
        if getattr(args, key, None) is not None:
            cfg[key] = getattr(args, key)
    start = time.perf_counter()
    u_tr, y_tr = simulate(cfg["train"], args.seed + 10)
    u_va, y_va = simulate(cfg["val"], args.seed + 11)
    print(f"reactor: simulated {cfg['train']} + {cfg['val']} samples in "
          f"{time.perf_counter() - start:.1f}s; {cfg}", flush=True)  # fmt: skip
    su, sy = MinMaxScaler().fit(u_tr), MinMaxScaler().fit(y_tr)
    dtype = np.dtype(args.dtype)
    X, Y = _windows(su.transform(u_tr), sy.transform(y_tr))
    Xv, _ = _windows(su.transform(u_va), sy.transform(y_va))
    n_val = len(X) // 10  # the training trajectory's end picks the best epoch
    data = tuple(a.astype(dtype) for a in (X[:-n_val], Y[:-n_val], X[-n_val:], Y[-n_val:]))
    truth = y_va[LAGS:]
    one, free, params, seconds, fits = {}, {}, {}, {}, {}
    A = np.column_stack([X.reshape(len(X), -1), np.ones(len(X))])
    coef, *_ = np.linalg.lstsq(A, Y[:, 0], rcond=None)
    arx = lambda w: float(np.append(w.reshape(-1), 1.0) @ coef)  # noqa: E731
    one["linear ARX"] = sy.inverse_transform(
        np.column_stack([Xv.reshape(len(Xv), -1), np.ones(len(Xv))]) @ coef
    )
    free["linear ARX"] = sy.inverse_transform(
        free_run(arx, su.transform(u_va), sy.transform(y_va[:LAGS]))
    )
    params["linear ARX"] = len(coef)
    one["training mean"] = free["training mean"] = np.full(len(truth), y_tr.mean())
    params["training mean"] = 1
    cells = args.cell or (["gru"] if args.quick else ["lstm", "gru"])
    for c in cells:
        model = SequenceModel(
            CELLS[c](2, cfg["hidden"], batch_first=True, dtype=dtype, rng=args.seed),
            1,
            rng=args.seed,
        )
        t0 = time.perf_counter()
        fits[c] = fit(model, data, epochs=cfg["epochs"], batch=cfg["batch"], lr=cfg["lr"], seed=args.seed + 1,
                      name=c, log_every=cfg["log_every"], out=lambda s: print(s, flush=True))  # fmt: skip
        seconds[c] = time.perf_counter() - t0
        params[c] = sum(p.data.size for p in model.parameters())
        one[c] = sy.inverse_transform(predict(model, Xv.astype(dtype))[:, 0].astype(float))
        model.eval()
        step = lambda w, m=model: float(m(w.astype(dtype))[0, 0])  # noqa: E731
        free[c] = sy.inverse_transform(
            free_run(step, su.transform(u_va), sy.transform(y_va[:LAGS]))
        )
        model.train()
    print()
    print(
        f"{'model':<14} {'params':>7} {'one-step RMSE':>14} {'MAE':>7} {'free-run RMSE':>14} {'MAE':>7} {'train time':>11}"
    )
    for name in one:
        s = f"{seconds[name]:.1f}s" if name in seconds else "-"
        print(f"{name:<14} {params[name]:>7} {rmse(truth, one[name]):>14.4f} {mae(truth, one[name]):>7.4f}"
              f" {rmse(truth, free[name]):>14.4f} {mae(truth, free[name]):>7.4f} {s:>11}")  # fmt: skip
    print(f"(pH units, validation trajectory of {len(truth)} samples, Ts = {TS:g} s)")
    if args.plot:
        from . import plots

        series = {
            "truth": truth,
            **{f"{k} free run": v for k, v in free.items() if k != "training mean"},
        }
        write_plots(lambda: [plots.lines(series, args.plot, x=TS * np.arange(LAGS, len(y_va)) / 60,
                                         xlabel="minutes", ylabel="pH",
                                         title="pH reactor, free run on the validation trajectory")])  # fmt: skip
    if args.quick:
        trivial = rmse(truth, one["training mean"])
        ok = all(f.losses[-1] < f.losses[0] for f in fits.values()) and all(
            rmse(truth, one[c]) < trivial for c in cells
        )
        print("quick check:", "learns (loss falls, beats the training mean)" if ok else "FAILED")
        return 0 if ok else 1
    return 0
