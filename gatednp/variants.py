"""LSTM and GRU variants in one place, for comparison (Greff et al. 2017, "LSTM: A Search Space
Odyssey"). Written for clarity: one step at a time, each with its hand-written backward; the
fast, torch-exact layers are lstm.py and gru.py.

Shapes: T steps, B batch, I inputs, H hidden units. Each variant is a one-layer module with the
layers' call: `y, state_n = m(x, state)` on x (T, B, I) and `dx, dstate0 = m.backward(dy,
dstate)`, y (T, B, H). gatednp/lab/variants.py compares them (`python -m gatednp experiment
variants`).
"""

from __future__ import annotations

import numpy as np

from .activations import sigmoid_
from .module import Module, as_rng, init_uniform
from .recurrent import check_float_array, check_sizes

__all__ = ["LSTMVariant", "GRUResetBefore", "init_forget_bias"]


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return sigmoid_(np.array(a))


class _StepLoop(Module):
    """forward/backward over a sequence by a loop of `_step` / `_step_backward` calls."""

    STATE: tuple[str, ...]

    def __init__(self, input_size: int, hidden_size: int, G: int, *, dtype, rng) -> None:
        check_sizes(input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size, self.dtype = input_size, hidden_size, np.dtype(dtype)
        self.rng = as_rng(rng)
        self._bound = 1.0 / np.sqrt(hidden_size)  # torch's init: U(−1/√H, 1/√H)
        self.weight_ih = init_uniform(self.rng, (G * hidden_size, input_size), self._bound, dtype)
        self.weight_hh = init_uniform(self.rng, (G * hidden_size, hidden_size), self._bound, dtype)
        self._cache = None

    def forward(self, x: np.ndarray, state=None):
        """x (T, B, I), state (h0[, c0]) each (B, H) or None -> y (T, B, H), final state."""
        x = check_float_array(x, "input", self.dtype)
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"input must be (T, B, {self.input_size}), got shape {x.shape}")
        T, B, _ = x.shape
        if state is None:
            state = tuple(np.zeros((B, self.hidden_size), self.dtype) for _ in self.STATE)
        state = state if isinstance(state, tuple) else (state,)
        y = np.empty((T, B, self.hidden_size), dtype=self.dtype)
        steps = []
        for t in range(T):
            state, step = self._step(x[t], state)
            y[t] = state[0]
            steps.append(step)
        self._cache = (x, steps) if self.training else None
        return y, state if len(state) > 1 else state[0]

    def backward(self, dy: np.ndarray, dstate=None):
        """dy (T, B, H), dstate like the final state (None: zeros) -> dx, dstate0."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward() needs a training-mode forward")
        x, steps = self._cache
        self._cache = None
        B = x.shape[1]
        if dstate is None:
            dstate = (None,) * len(self.STATE)
        dstate = dstate if isinstance(dstate, tuple) else (dstate,)
        ds = [np.zeros((B, self.hidden_size), self.dtype) if d is None else d for d in dstate]
        dx = np.empty_like(x)
        for t in reversed(range(len(steps))):
            ds[0] = ds[0] + dy[t]  # dh_t = dy_t + what step t+1 sends back
            dx[t], ds = self._step_backward(steps[t], ds)
        return dx, tuple(ds) if len(ds) > 1 else ds[0]


# ---------------------------------------------------------------------------------------------
# LSTM variants: peephole, coupled input–forget gate (CIFG), no forget gate (1997)
#
#     i_t = σ(W_i x_t + R_i h_{t-1} + p_i ⊙ c_{t-1} + b_i)     p = 0 without peepholes
#     f_t = σ(W_f x_t + R_f h_{t-1} + p_f ⊙ c_{t-1} + b_f)     forget="gate"
#         = 1 − i_t                                             forget="coupled" (CIFG)
#         = 1                                                   forget="none" (1997 LSTM)
#     g_t = tanh(W_g x_t + R_g h_{t-1} + b_g)
#     c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
#     o_t = σ(W_o x_t + R_o h_{t-1} + p_o ⊙ c_t + b_o)          (sees the new c_t)
#     h_t = o_t ⊙ tanh(c_t)
# Backward (di, df, dg, do = gradients of the pre-activations; dc_t' from step t+1):
#     do_t = dh_t ⊙ tanh(c_t) ⊙ o_t(1 − o_t)
#     dc_t = dc_t' + dh_t ⊙ o_t ⊙ (1 − tanh²(c_t)) + do_t ⊙ p_o
#     di_t = dc_t ⊙ g_t ⊙ i_t(1 − i_t)            CIFG: dc_t ⊙ (g_t − c_{t-1}) ⊙ i_t(1 − i_t)
#     df_t = dc_t ⊙ c_{t-1} ⊙ f_t(1 − f_t)
#     dg_t = dc_t ⊙ i_t ⊙ (1 − g_t²)
#     dc_{t-1}' = dc_t ⊙ f_t + di_t ⊙ p_i + df_t ⊙ p_f
#     dh_{t-1}' = Rᵀ dgates_t;  dx_t = Wᵀ dgates_t;  dW += dgates_t x_tᵀ;  dR += dgates_t h_{t-1}ᵀ
#     db += dgates_t;  dp_i += di_t ⊙ c_{t-1};  dp_f += df_t ⊙ c_{t-1};  dp_o += do_t ⊙ c_t
# with dgates_t = [di|df|dg|do] (forget="gate") or [di|dg|do]; sums run over the batch too.
# ---------------------------------------------------------------------------------------------


class LSTMVariant(_StepLoop):
    """An LSTM with optional peepholes and a forget gate that may be coupled or absent.

    Parameters: weight_ih (G·H, I), weight_hh (G·H, H), bias (G·H,) with G = 4 ([i|f|g|o]) or
    3 ([i|g|o]); with peepholes also weight_ci, weight_cf (if a forget gate), weight_co (H,).

    >>> import numpy as np
    >>> m = LSTMVariant(2, 3, peephole=True, forget="coupled", rng=0)
    >>> y, (h, c) = m(np.ones((4, 5, 2)))
    >>> y.shape, [name for name, _ in m.named_parameters()]
    ((4, 5, 3), ['weight_ih', 'weight_hh', 'bias', 'weight_ci', 'weight_co'])
    """

    STATE = ("h", "c")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        peephole: bool = False,
        forget: str = "gate",
        dtype=np.float64,
        rng=None,
    ) -> None:
        if forget not in ("gate", "coupled", "none"):
            raise ValueError(f"forget must be 'gate', 'coupled' or 'none', got {forget!r}")
        self.peephole, self.forget = peephole, forget
        self.names = ("i", "f", "g", "o") if forget == "gate" else ("i", "g", "o")
        super().__init__(input_size, hidden_size, len(self.names), dtype=dtype, rng=rng)
        H = hidden_size
        self.bias = init_uniform(self.rng, (len(self.names) * H,), self._bound, dtype)
        if peephole:
            self.weight_ci = init_uniform(self.rng, (H,), self._bound, dtype)
            if forget == "gate":
                self.weight_cf = init_uniform(self.rng, (H,), self._bound, dtype)
            self.weight_co = init_uniform(self.rng, (H,), self._bound, dtype)

    def _p(self, name: str) -> np.ndarray | float:
        """A peephole weight, or 0 where there is none."""
        p = getattr(self, f"weight_c{name}", None)
        return 0.0 if p is None else p.data

    def _split(self, a: np.ndarray) -> dict[str, np.ndarray]:
        H = self.hidden_size
        return {n: a[:, k * H : (k + 1) * H] for k, n in enumerate(self.names)}

    def _step(self, x, state):
        h_prev, c_prev = state
        pre = self._split(
            x @ self.weight_ih.data.T + h_prev @ self.weight_hh.data.T + self.bias.data
        )
        i = _sigmoid(pre["i"] + self._p("i") * c_prev)
        if self.forget == "gate":
            f = _sigmoid(pre["f"] + self._p("f") * c_prev)
        else:
            f = 1 - i if self.forget == "coupled" else np.ones_like(i)
        g = np.tanh(pre["g"])
        c = f * c_prev + i * g
        o = _sigmoid(pre["o"] + self._p("o") * c)
        tanh_c = np.tanh(c)
        h = o * tanh_c
        return (h, c), dict(
            x=x, h_prev=h_prev, c_prev=c_prev, i=i, f=f, g=g, o=o, c=c, tanh_c=tanh_c
        )

    def _step_backward(self, s, dstate):
        dh, dc_next = dstate
        i, f, g, o, c_prev = s["i"], s["f"], s["g"], s["o"], s["c_prev"]
        d = {}
        d["o"] = dh * s["tanh_c"] * o * (1 - o)
        dc = dc_next + dh * o * (1 - s["tanh_c"] ** 2) + d["o"] * self._p("o")
        d["i"] = dc * (g - c_prev if self.forget == "coupled" else g) * i * (1 - i)
        if self.forget == "gate":
            d["f"] = dc * c_prev * f * (1 - f)
        d["g"] = dc * i * (1 - g**2)
        dc_prev = dc * f + d["i"] * self._p("i") + d.get("f", 0.0) * self._p("f")
        dgates = np.concatenate([d[n] for n in self.names], axis=1)  # (B, G·H)
        self.weight_ih.grad += dgates.T @ s["x"]
        self.weight_hh.grad += dgates.T @ s["h_prev"]
        self.bias.grad += dgates.sum(axis=0)
        if self.peephole:
            self.weight_ci.grad += (d["i"] * c_prev).sum(axis=0)
            if self.forget == "gate":
                self.weight_cf.grad += (d["f"] * c_prev).sum(axis=0)
            self.weight_co.grad += (d["o"] * s["c"]).sum(axis=0)
        return dgates @ self.weight_ih.data, [dgates @ self.weight_hh.data, dc_prev]


def init_forget_bias(module: Module, value: float = 1.0) -> Module:
    """Start the forget gate open (Jozefowicz et al. 2015): its total bias set to `value`.

    For gn.LSTM (every layer and direction) and gn.LSTMCell the forget slice of bias_ih is set
    to `value` and that of bias_hh to 0 (only their sum matters); for an LSTMVariant with a
    forget gate, the forget slice of `bias`. Returns the module.

    >>> import gatednp as gn
    >>> lstm = init_forget_bias(gn.LSTM(2, 3, rng=0))
    >>> (lstm.bias_ih_l0.data + lstm.bias_hh_l0.data)[3:6].tolist()
    [1.0, 1.0, 1.0]
    """
    H = module.hidden_size
    if isinstance(module, LSTMVariant) and module.forget == "gate":
        module.bias.data[H : 2 * H] = value
        return module
    pairs = [(n, p) for n, p in module.named_parameters() if n.startswith("bias_")]
    if isinstance(module, LSTMVariant) or not pairs or pairs[0][1].data.shape != (4 * H,):
        raise TypeError(
            f"module must be an LSTM, LSTMCell or LSTMVariant with a forget gate and biases, got {module!r}"
        )
    for name, p in pairs:
        p.data[H : 2 * H] = value if name.startswith("bias_ih") else 0.0
    return module


# ---------------------------------------------------------------------------------------------
# GRU with the reset gate *before* the recurrent product (Cho et al. 2014; Keras
# reset_after=False). torch (gru.py) applies it after: r ⊙ (W_hn h + b_hn).
#
#     r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
#     z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
#     n_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn)
#     h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}
# Backward (dr, dz, dn = gradients of the pre-activations):
#     dn_t = dh_t ⊙ (1 − z_t) ⊙ (1 − n_t²)
#     dz_t = dh_t ⊙ (h_{t-1} − n_t) ⊙ z_t(1 − z_t)
#     drh_t = W_hnᵀ dn_t                                    (gradient of r_t ⊙ h_{t-1})
#     dr_t = drh_t ⊙ h_{t-1} ⊙ r_t(1 − r_t)
#     dh_{t-1}' = dh_t ⊙ z_t + drh_t ⊙ r_t + W_hrᵀ dr_t + W_hzᵀ dz_t
#     dW_ih += [dr|dz|dn]_t x_tᵀ    dW_hr, dW_hz += dr_t, dz_t h_{t-1}ᵀ    dW_hn += dn_t (r_t ⊙ h_{t-1})ᵀ
#     db_ih = db_hh += [dr|dz|dn]_t                          dx_t = W_ihᵀ [dr|dz|dn]_t
# ---------------------------------------------------------------------------------------------


class GRUResetBefore(_StepLoop):
    """A GRU whose reset gate scales h_{t-1} before W_hn; torch's parameter layout and init.

    >>> import numpy as np
    >>> y, h = GRUResetBefore(2, 3, rng=0)(np.ones((4, 5, 2)))
    >>> y.shape, h.shape
    ((4, 5, 3), (5, 3))
    """

    STATE = ("h",)

    def __init__(self, input_size: int, hidden_size: int, *, dtype=np.float64, rng=None) -> None:
        super().__init__(input_size, hidden_size, 3, dtype=dtype, rng=rng)
        self.bias_ih = init_uniform(self.rng, (3 * hidden_size,), self._bound, dtype)
        self.bias_hh = init_uniform(self.rng, (3 * hidden_size,), self._bound, dtype)

    def _step(self, x, state):
        (h_prev,) = state
        H = self.hidden_size
        W_hh = self.weight_hh.data
        xi = x @ self.weight_ih.data.T + self.bias_ih.data  # (B, 3H): [r|z|n] input parts
        b_hh = self.bias_hh.data
        rz = _sigmoid(xi[:, : 2 * H] + h_prev @ W_hh[: 2 * H].T + b_hh[: 2 * H])
        r, z = rz[:, :H], rz[:, H:]
        rh = r * h_prev
        n = np.tanh(xi[:, 2 * H :] + rh @ W_hh[2 * H :].T + b_hh[2 * H :])
        h = (1 - z) * n + z * h_prev
        return (h,), dict(x=x, h_prev=h_prev, r=r, z=z, n=n, rh=rh)

    def _step_backward(self, s, dstate):
        (dh,) = dstate
        H = self.hidden_size
        W_hh = self.weight_hh.data
        r, z, n, h_prev = s["r"], s["z"], s["n"], s["h_prev"]
        dn = dh * (1 - z) * (1 - n**2)
        dz = dh * (h_prev - n) * z * (1 - z)
        drh = dn @ W_hh[2 * H :]
        dr = drh * h_prev * r * (1 - r)
        drz = np.concatenate([dr, dz], axis=1)  # (B, 2H)
        dgates = np.concatenate([drz, dn], axis=1)  # (B, 3H): [dr|dz|dn]
        self.weight_ih.grad += dgates.T @ s["x"]
        self.weight_hh.grad[: 2 * H] += drz.T @ h_prev
        self.weight_hh.grad[2 * H :] += dn.T @ s["rh"]
        db = dgates.sum(axis=0)
        self.bias_ih.grad += db
        self.bias_hh.grad += db
        dh_prev = dh * z + drh * r + drz @ W_hh[: 2 * H]
        return dgates @ self.weight_ih.data, [dh_prev]
