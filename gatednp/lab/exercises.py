"""Exercises: write the backward step of an LSTM, GRU or RNN yourself, graded gate by gate.

    python -m gatednp exercise lstm        # writes exercise_lstm.py here
    python -m gatednp check exercise_lstm.py

The file holds the forward step, written out, and a backward step whose lines are blanks
(`...`) with their equation in a comment. `check` runs `gn.check_step` on it: the table of
gates × time steps, and for every failing gate a hint (what that gate's gradient depends on).
Fill every blank correctly and every row reads ok.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["write_exercise", "exercise_source", "add_parsers", "BLANKS"]

HEADER = '''"""Exercise: the {name} backward step, by hand. Fill each `...` with the equation in its
comment (⊙ is `*`; batch first, so W x is `x @ W.T` and Wᵀ d is `d @ W`), then run

    python -m gatednp check {filename}

Shapes: x (B, I), h and c (B, H), fused weights in torch's layout (gate order {order}).
"""

import numpy as np

from gatednp.module import Weights

KIND = "{kind}"


def sigmoid(a):
    return 1 / (1 + np.exp(-a))

'''

FORWARD = {
    "lstm": '''
def step(x, state, w):
    """Given: one LSTM step. state = (h_prev, c_prev); returns (h, c) and the cache."""
    h_prev, c_prev = state
    pre = x @ w.weight_ih.T + w.bias_ih + h_prev @ w.weight_hh.T + w.bias_hh  # (B, 4H)
    a_i, a_f, a_g, a_o = np.split(pre, 4, axis=1)
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return (h, c), dict(x=x, h_prev=h_prev, c_prev=c_prev, i=i, f=f, g=g, o=o, tanh_c=tanh_c)


def step_backward(dstate, cache, w):
    """dstate = (dh, dc), the loss's gradient w.r.t. this step's (h, c) -> dx, (dh_prev,
    dc_prev), and this step's weight gradients (summed over the batch)."""
    dh, dc = dstate
    x, h_prev, c_prev = cache["x"], cache["h_prev"], cache["c_prev"]
    i, f, g, o, tanh_c = cache["i"], cache["f"], cache["g"], cache["o"], cache["tanh_c"]
''',
    "gru": '''
def step(x, state, w):
    """Given: one GRU step (torch's: the reset gate acts after W_hn). state = (h_prev,)."""
    (h_prev,) = state
    from_x = np.split(x @ w.weight_ih.T + w.bias_ih, 3, axis=1)  # W_i· x + b_i·, for r z n
    from_h = np.split(h_prev @ w.weight_hh.T + w.bias_hh, 3, axis=1)  # W_h· h_prev + b_h·
    r = sigmoid(from_x[0] + from_h[0])
    z = sigmoid(from_x[1] + from_h[1])
    a = from_h[2]  # W_hn h_prev + b_hn: the reset gate multiplies all of it
    n = np.tanh(from_x[2] + r * a)
    h = (1 - z) * n + z * h_prev
    return (h,), dict(x=x, h_prev=h_prev, r=r, z=z, n=n, a=a)


def step_backward(dstate, cache, w):
    """dstate = (dh,) -> dx, (dh_prev,), and this step's weight gradients."""
    (dh,) = dstate
    x, h_prev, r, z, n, a = (cache[k] for k in ("x", "h_prev", "r", "z", "n", "a"))
''',
    "rnn": '''
def step(x, state, w):
    """Given: one Elman RNN step with tanh. state = (h_prev,)."""
    (h_prev,) = state
    h = np.tanh(x @ w.weight_ih.T + w.bias_ih + h_prev @ w.weight_hh.T + w.bias_hh)
    return (h,), dict(x=x, h_prev=h_prev, h=h)


def step_backward(dstate, cache, w):
    """dstate = (dh,) -> dx, (dh_prev,), and this step's weight gradients."""
    (dh,) = dstate
    x, h_prev, h = cache["x"], cache["h_prev"], cache["h"]
''',
}

# The blanks: (variable, solution, equation), in order; lines without a variable are given.
BLANKS = {
    "lstm": [
        ("do", "dh * tanh_c * o * (1 - o)", "do = dh ⊙ tanh(c) ⊙ o(1 − o)"),
        ("dc", "dc + dh * o * (1 - tanh_c**2)", "dc ← dc + dh ⊙ o ⊙ (1 − tanh²(c))"),
        ("di", "dc * g * i * (1 - i)", "di = dc ⊙ g ⊙ i(1 − i)"),
        ("df", "dc * c_prev * f * (1 - f)", "df = dc ⊙ c_prev ⊙ f(1 − f)"),
        ("dg", "dc * i * (1 - g**2)", "dg = dc ⊙ i ⊙ (1 − g²)"),
        ("dc_prev", "dc * f", "dc_prev = dc ⊙ f"),
        (None, "dpre = np.concatenate([di, df, dg, do], axis=1)", "(B, 4H), gate order i f g o"),
        ("dx", "dpre @ w.weight_ih", "dx = W_ihᵀ dpre"),
        ("dh_prev", "dpre @ w.weight_hh", "dh_prev = W_hhᵀ dpre"),
        ("dW_ih", "dpre.T @ x", "dW_ih = dpre xᵀ"),
        ("dW_hh", "dpre.T @ h_prev", "dW_hh = dpre h_prevᵀ"),
        ("db", "dpre.sum(axis=0)", "db_ih = db_hh = Σ_batch dpre"),
        (None, "grads = Weights(weight_ih=dW_ih, weight_hh=dW_hh, bias_ih=db, bias_hh=db)", ""),
        (None, "return dx, (dh_prev, dc_prev), grads", ""),
    ],
    "gru": [
        ("dn", "dh * (1 - z) * (1 - n**2)", "dn = dh ⊙ (1 − z) ⊙ (1 − n²)"),
        ("dz", "dh * (h_prev - n) * z * (1 - z)", "dz = dh ⊙ (h_prev − n) ⊙ z(1 − z)"),
        ("da", "dn * r", "da = dn ⊙ r          (a = W_hn h_prev + b_hn)"),
        ("dr", "dn * a * r * (1 - r)", "dr = dn ⊙ a ⊙ r(1 − r)"),
        (None, "dpre = np.concatenate([dr, dz, dn], axis=1)", "the input side, (B, 3H)"),
        (None, "dhh = np.concatenate([dr, dz, da], axis=1)", "the recurrent side, (B, 3H)"),
        ("dx", "dpre @ w.weight_ih", "dx = W_ihᵀ dpre"),
        ("dh_prev", "dh * z + dhh @ w.weight_hh", "dh_prev = dh ⊙ z + W_hhᵀ dhh"),
        ("dW_ih", "dpre.T @ x", "dW_ih = dpre xᵀ"),
        ("dW_hh", "dhh.T @ h_prev", "dW_hh = dhh h_prevᵀ"),
        ("db_ih", "dpre.sum(axis=0)", "db_ih = Σ_batch dpre"),
        ("db_hh", "dhh.sum(axis=0)", "db_hh = Σ_batch dhh"),
        (
            None,
            "grads = Weights(weight_ih=dW_ih, weight_hh=dW_hh, bias_ih=db_ih, bias_hh=db_hh)",
            "",
        ),
        (None, "return dx, (dh_prev,), grads", ""),
    ],
    "rnn": [
        ("da", "dh * (1 - h**2)", "da = dh ⊙ (1 − h²)      (tanh' read off h)"),
        ("dx", "da @ w.weight_ih", "dx = W_ihᵀ da"),
        ("dh_prev", "da @ w.weight_hh", "dh_prev = W_hhᵀ da"),
        ("dW_ih", "da.T @ x", "dW_ih = da xᵀ"),
        ("dW_hh", "da.T @ h_prev", "dW_hh = da h_prevᵀ"),
        ("db", "da.sum(axis=0)", "db_ih = db_hh = Σ_batch da"),
        (None, "grads = Weights(weight_ih=dW_ih, weight_hh=dW_hh, bias_ih=db, bias_hh=db)", ""),
        (None, "return dx, (dh_prev,), grads", ""),
    ],
}

NAMES = {"lstm": ("LSTM", "i f g o"), "gru": ("GRU", "r z n"), "rnn": ("RNN", "one block")}


def exercise_source(kind: str, solved: bool = False) -> str:
    """The exercise file's text for `kind` ("lstm", "gru", "rnn"); `solved` fills the blanks."""
    name, order = NAMES[kind]
    text = HEADER.format(name=name, order=order, kind=kind, filename=f"exercise_{kind}.py")
    text += FORWARD[kind]
    for var, solution, equation in BLANKS[kind]:
        comment = f"  # {equation}" if equation else ""
        if var is None:
            text += f"    {solution}{comment}\n"
        else:
            text += f"    {var} = {solution if solved else '...'}{comment}\n"
    return text


def write_exercise(kind: str, directory: str | Path = ".", *, force: bool = False) -> Path:
    """Write exercise_<kind>.py into `directory` (refusing to overwrite unless `force`)."""
    path = Path(directory) / f"exercise_{kind}.py"
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; remove it or pass --force")
    path.write_text(exercise_source(kind))
    return path


def add_parsers(sub, check) -> dict:
    """The `exercise` and `check` subcommands; `check(target)` grades a file (cli.py)."""
    p = sub.add_parser("exercise", help="write a backward-step exercise: exercise_KIND.py")
    p.add_argument("kind", choices=sorted(BLANKS))
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    q = sub.add_parser("check", help="grade your step pair: python -m gatednp check FILE.py")
    q.add_argument("target", help="FILE.py (with step, step_backward and KIND), or FILE.py:Name")
    q.add_argument("--seed", type=int, default=0)

    def run_exercise(args: argparse.Namespace) -> int:
        try:
            path = write_exercise(args.kind, force=args.force)
        except FileExistsError as e:
            print(e)
            return 1
        print(f"wrote {path}: fill the blanks, then run  python -m gatednp check {path.name}")
        return 0

    return {"exercise": (p, run_exercise), "check": (q, lambda args: check(args.target, args.seed))}
