"""The catalogue of classic backward bugs, as mutated step_backward functions.

Each cell's backward is written once more below, the way a student would, with switches that
plant one classic bug each (`bug=` a name from the catalogue). A `Mutant` says where the step
checker must put the blame: the gate blocks of the weight gradients that go wrong (letters;
"" for the RNN's single block), or, when no weight is hit, the state/input gradients that are,
and the step for a bug planted at one time step only (the checker runs backward for
t = T − 1 … 0, so `at_step` counts calls).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gatednp import gru, lstm, rnn
from gatednp.module import Weights

T = 4  # the sequence length the catalogue is run at


@dataclass(frozen=True)
class Mutant:
    kind: str
    bug: str
    gates: tuple[str, ...] = ()  # the gate blocks to blame
    tensors: tuple[str, ...] = ()  # else the tensors to blame
    step: int | None = None  # the only failing step, for a step-specific bug
    options: dict = field(default_factory=dict)

    def functions(self):
        math = {"lstm": lstm, "gru": gru, "rnn": rnn}[self.kind]
        backward = {"lstm": lstm_backward, "gru": gru_backward, "rnn": rnn_backward}[self.kind]
        opts = {k: v for k, v in self.options.items() if k not in ("peepholes", "proj_size")}
        calls = []

        def mutated(dstate, cache, w):
            calls.append(None)
            here = self.step is None or T - len(calls) == self.step
            return backward(dstate, cache, w, bug=self.bug if here else None, **opts)

        return (lambda x, s, w: math.step(x, s, w, **opts)), mutated


def lstm_backward(dstate, cache, w, bug=None, forget_gate="gate"):
    dh, dc_next = dstate
    x, hp, cp, c = cache.x, cache.h_prev, cache.c_prev, cache.c
    i, f, g, o, tc, m = cache.i, cache.f, cache.g, cache.o, cache.tanh_c, cache.m
    pi, pf, po = (0.0 if p is None else p for p in (w.weight_ci, w.weight_cf, w.weight_co))
    dm = dh if w.weight_hr is None else dh @ w.weight_hr
    if bug == "dm ignores the projection":
        dm = dh @ np.eye(dh.shape[1], tc.shape[1])
    do = dm * (o if bug == "do without tanh(c)" else c if bug == "do with c for tanh(c)" else tc)
    do = do * o * (1 - o) if bug != "do without tanh(c)" else do * (1 - o)
    through_h = dm * (1 - tc**2) * (1 if bug == "no o in the cell path" else o)
    if bug == "tanh' as tanh(1 - tanh) in the cell path":
        through_h = dm * o * tc * (1 - tc)
    dc = (0 if bug == "incoming dc dropped" else dc_next) + through_h + do * po
    coupled = forget_gate == "coupled" and bug != "coupled di without c_prev"
    di = dc * (g - cp if coupled else g) * i * (1 - i)
    if bug == "di without g":
        di = dc * i * (1 - i)
    if bug == "di with f's derivative":
        di = dc * g * f * (1 - f)
    df = dc * (c if bug == "df with c for c_prev" else cp) * f * (1 - f)
    if bug == "df with the wrong sign":
        df = -df
    dg = dc * i * (g * (1 - g) if bug == "tanh' as g(1 - g)" else 1 - g**2)
    if bug == "dg without i":
        dg = dc * (1 - g**2)
    if bug == "dg halved":
        dg = 0.5 * dg
    carousel = (
        0
        if bug == "carousel dc_prev = dc * f dropped"
        else dc * (i if bug == "dc_prev with i for f" else f)
    )
    dc_prev = carousel + (0 if bug == "peephole i dropped from dc_prev" else di * pi) + df * pf
    order = (
        ("i", "f", "o", "g") if bug == "blocks in cs231n's order" else lstm.gate_names(forget_gate)
    )
    d = {"i": di, "f": df, "g": dg, "o": do}
    dpre = np.concatenate([d[k] for k in order], axis=1)
    dh_prev = np.zeros_like(hp) if bug == "dh_prev dropped" else dpre @ w.weight_hh
    dx = (
        dpre[:, : i.shape[1]] @ w.weight_ih[: i.shape[1]]
        if bug == "dx from i only"
        else dpre @ w.weight_ih
    )
    last = bug == "dW_ih from the last sample only"
    grads = Weights(
        weight_ih=np.outer(dpre[-1], x[-1]) if last else dpre.T @ x,
        weight_hh=dpre.T @ (m if bug == "dW_hh with h for h_prev" and w.weight_hr is None else hp),
        bias_ih=dpre.sum(axis=0),
        bias_hh=np.zeros(dpre.shape[1]) if bug == "db_hh forgotten" else dpre.sum(axis=0),
        weight_hr=None
        if w.weight_hr is None
        else (m.T @ dh if bug == "dW_hr transposed" else dh.T @ m),
        weight_ci=None if w.weight_ci is None else (di * cp).sum(axis=0),
        weight_cf=None
        if w.weight_cf is None
        else (df * (c if bug == "dp_f with c" else cp)).sum(axis=0),
        weight_co=None if w.weight_co is None else (do * c).sum(axis=0),
    )
    return dx, (dh_prev, dc_prev), grads


def gru_backward(dstate, cache, w, bug=None, reset_after=True):
    (dh,) = dstate
    x, hp, r, z, n, a = cache.x, cache.h_prev, cache.r, cache.z, cache.n, cache.a
    H = r.shape[1]
    dn = dh * (1 if bug == "dn without (1 - z)" else 1 - z)
    dn = dn * (n * (1 - n) if bug == "tanh' as n(1 - n)" else 1 - n**2)
    if bug == "dn scaled":
        dn = 1.1 * dn
    dz = dh * ((n - hp) if bug == "dz with the wrong sign" else (hp - n))
    dz = dz * ((1 - z**2) if bug == "σ' as 1 - z²" else z * (1 - z))
    W_hrz, W_hn = np.split(w.weight_hh, [2 * H])
    if reset_after:
        da = dn if bug == "da without r" else dn * r
        dr = dn * (hp if bug == "dr with h_prev for a" else 1 if bug == "dr without a" else a)
        dr = dr * r * (1 - r)
        dhh = np.concatenate([dr, dz, da], axis=1)
        dh_prev = dhh @ w.weight_hh
        b_hn = dn if bug == "b_hn outside the reset product" else da
        db_hh = np.concatenate([dr, dz, b_hn], axis=1).sum(axis=0)
        h_side = hp if bug != "dW_hh with h for h_prev" else (1 - z) * n + z * hp
        side = np.concatenate([dr, dz, dn], axis=1) if bug == "dW_hh with dn for da" else dhh
        dW_hh = side.T @ h_side
    else:
        drh = dn @ (W_hn.T if bug == "W_hn not transposed" else W_hn)
        dr = (a if bug == "dr with a for (W_hnᵀ dn) h_prev" else drh * hp) * r * (1 - r)
        drz = np.concatenate([dr, dz], axis=1)
        dh_prev = drz @ W_hrz + (0 if bug == "dh_prev without drh r" else drh * r)
        rh = hp if bug == "dW_hn with h_prev for r h_prev" else r * hp
        dW_hh = np.concatenate([drz.T @ hp, dn.T @ rh])
        db_hh = np.concatenate([dr, dz, dn], axis=1).sum(axis=0)
    carry = dh * ((1 - z) if bug == "dh_prev with (1 - z)" else z)
    dh_prev = (
        np.zeros_like(hp)
        if bug == "dh_prev dropped"
        else dh_prev + (0 if bug == "dh_prev without dh z" else carry)
    )
    blocks = [dz, dr, dn] if bug == "r and z blocks swapped" else [dr, dz, dn]
    dpre = np.concatenate(blocks, axis=1)
    if bug == "r and z blocks swapped":
        dW_hh = np.concatenate([dW_hh[H : 2 * H], dW_hh[:H], dW_hh[2 * H :]])
        db_hh = np.concatenate([db_hh[H : 2 * H], db_hh[:H], db_hh[2 * H :]])
    dx = (
        dpre[:, : 2 * H] @ w.weight_ih[: 2 * H]
        if bug == "dx without the n block"
        else dpre @ w.weight_ih
    )
    last = bug == "dW_ih from the last sample only"
    grads = Weights(
        weight_ih=np.outer(dpre[-1], x[-1]) if last else dpre.T @ x,
        weight_hh=dW_hh,
        bias_ih=np.zeros(3 * H) if bug == "db_ih forgotten" else dpre.sum(axis=0),
        bias_hh=db_hh,
    )
    return dx, (dh_prev,), grads


def rnn_backward(dstate, cache, w, bug=None, nonlinearity="tanh"):
    (dh,) = dstate
    h, hp, x = cache.h, cache.h_prev, cache.x
    if nonlinearity == "relu":
        da = dh * ((h >= 0) if bug == "relu' as h >= 0" else (h > 0))
    elif bug == "tanh' as h(1 - h)":
        da = dh * h * (1 - h)
    elif bug == "tanh' of the pre-activation":
        da = dh * (1 - np.arctanh(h) ** 2)
    else:
        da = dh * (1 - h**2) * (-1 if bug == "da with the wrong sign" else 1)
    if bug == "da scaled":
        da = 1.1 * da
    W_hh = w.weight_hh.T if bug == "W_hh not transposed" else w.weight_hh
    dh_prev = dh @ W_hh if bug == "dh_prev without φ'" else da @ W_hh
    if bug == "dh_prev dropped":
        dh_prev = np.zeros_like(hp)
    grads = Weights(
        weight_ih=np.outer(da[-1], x[-1]) if bug == "dW_ih from the last sample only" else da.T @ x,
        weight_hh=da.T @ (h if bug == "dW_hh with h for h_prev" else hp),
        bias_ih=da.sum(axis=0),
        bias_hh=np.zeros(da.shape[1]) if bug == "db_hh forgotten" else da.sum(axis=0),
    )
    return (dh @ w.weight_ih if bug == "dx without φ'" else da @ w.weight_ih), (dh_prev,), grads


ALL4, RZN = ("f", "g", "i", "o"), ("n", "r", "z")
IFG = ("f", "g", "i")
CATALOGUE = [
    Mutant("lstm", "df with c for c_prev", ("f",)),
    Mutant("lstm", "no o in the cell path", IFG),
    Mutant("lstm", "carousel dc_prev = dc * f dropped", tensors=("c",)),
    Mutant("lstm", "tanh' as g(1 - g)", ("g",)),
    Mutant("lstm", "tanh' as tanh(1 - tanh) in the cell path", IFG),
    Mutant("lstm", "do without tanh(c)", ("o",)),
    Mutant("lstm", "do with c for tanh(c)", ("o",)),
    Mutant("lstm", "di without g", ("i",)),
    Mutant("lstm", "di with f's derivative", ("i",)),
    Mutant("lstm", "df with the wrong sign", ("f",)),
    Mutant("lstm", "dg without i", ("g",)),
    Mutant("lstm", "incoming dc dropped", IFG),
    Mutant("lstm", "dc_prev with i for f", tensors=("c",)),
    Mutant("lstm", "blocks in cs231n's order", ("g", "o")),
    Mutant("lstm", "dh_prev dropped", tensors=("h",)),
    Mutant("lstm", "dx from i only", tensors=("x",)),
    Mutant("lstm", "dW_ih from the last sample only", ALL4),
    Mutant("lstm", "dW_hh with h for h_prev", ALL4),
    Mutant("lstm", "db_hh forgotten", ALL4),
    Mutant("lstm", "dg halved", ("g",), step=0),
    Mutant("lstm", "df with c for c_prev", ("f",), step=2),
    Mutant("lstm", "dp_f with c", ("f",), options={"peepholes": True}),
    Mutant("lstm", "peephole i dropped from dc_prev", tensors=("c",), options={"peepholes": True}),
    Mutant("lstm", "dW_hr transposed", tensors=("weight_hr",), options={"proj_size": 2}),
    Mutant("lstm", "dm ignores the projection", ALL4, options={"proj_size": 2}),
    Mutant("lstm", "coupled di without c_prev", ("i",), options={"forget_gate": "coupled"}),
    Mutant("gru", "dz with the wrong sign", ("z",)),
    Mutant("gru", "b_hn outside the reset product", ("n",)),
    Mutant("gru", "dn without (1 - z)", ("n", "r")),
    Mutant("gru", "tanh' as n(1 - n)", ("n", "r")),
    Mutant("gru", "σ' as 1 - z²", ("z",)),
    Mutant("gru", "dr without a", ("r",)),
    Mutant("gru", "dr with h_prev for a", ("r",)),
    Mutant("gru", "da without r", ("n",)),
    Mutant("gru", "dh_prev without dh z", tensors=("h",)),
    Mutant("gru", "dh_prev with (1 - z)", tensors=("h",)),
    Mutant("gru", "dW_hh with dn for da", ("n",)),
    Mutant("gru", "dW_hh with h for h_prev", RZN),
    Mutant("gru", "dW_ih from the last sample only", RZN),
    Mutant("gru", "db_ih forgotten", RZN),
    Mutant("gru", "dx without the n block", tensors=("x",)),
    Mutant("gru", "r and z blocks swapped", ("r", "z")),
    Mutant("gru", "dh_prev dropped", tensors=("h",)),
    Mutant("gru", "dr with a for (W_hnᵀ dn) h_prev", ("r",), options={"reset_after": False}),
    Mutant("gru", "W_hn not transposed", ("r",), options={"reset_after": False}),
    Mutant("gru", "dW_hn with h_prev for r h_prev", ("n",), options={"reset_after": False}),
    Mutant("gru", "dh_prev without drh r", tensors=("h",), options={"reset_after": False}),
    Mutant("gru", "dz with the wrong sign", ("z",), step=1),
    Mutant("gru", "dn scaled", ("n", "r"), step=3),
    Mutant("rnn", "tanh' as h(1 - h)", ("",)),
    Mutant("rnn", "tanh' of the pre-activation", ("",)),
    Mutant("rnn", "relu' as h >= 0", ("",), options={"nonlinearity": "relu"}),
    Mutant("rnn", "W_hh not transposed", tensors=("h",)),
    Mutant("rnn", "dW_hh with h for h_prev", ("",)),
    Mutant("rnn", "db_hh forgotten", ("",)),
    Mutant("rnn", "dW_ih from the last sample only", ("",)),
    Mutant("rnn", "dh_prev dropped", tensors=("h",)),
    Mutant("rnn", "dx without φ'", tensors=("x",)),
    Mutant("rnn", "dh_prev without φ'", tensors=("h",)),
    Mutant("rnn", "da with the wrong sign", ("",)),
    Mutant("rnn", "da scaled", ("",), step=0),
]
