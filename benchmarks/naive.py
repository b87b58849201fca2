"""The naive per-time-step NumPy LSTM and GRU the design is measured against.

This is how a first NumPy LSTM is usually written: each step computes its pre-activations with
two fresh GEMMs, allocates every gate and state, and appends them to a list; backward walks the
list and adds each step's weight gradients (`dW += dz.T @ x_t`) as it goes. Same equations and
parameters as gatednp (torch's layout), so its outputs agree with gatednp's; only the
arrangement differs. It is a benchmark baseline, not part of the library.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit


class Naive:
    """One layer, one direction, over (T, B, I); parameters shared with a gatednp layer.

    Args:
        kind: "LSTM" or "GRU".
        params: the gatednp layer's Parameters in torch order (weight_ih, weight_hh, bias_ih,
            bias_hh); their `.data` is read and their `.grad` accumulated into.
    """

    def __init__(self, kind: str, params) -> None:
        self.kind = kind
        self.w_ih, self.w_hh, self.b_ih, self.b_hh = params
        self.training = True
        self._steps = None

    def train(self) -> None:
        self.training = True

    def eval(self) -> None:
        self.training = False

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x (T, B, I) -> y (T, B, H), with a zero initial state."""
        step = self._lstm_step if self.kind == "LSTM" else self._gru_step
        H = self.w_hh.data.shape[1]
        state = tuple(np.zeros((x.shape[1], H), x.dtype) for _ in range(2))
        ys, steps = [], []
        for x_t in x:
            state, saved = step(x_t, state)
            ys.append(state[0])
            steps.append(saved)
        self._steps = steps if self.training else None
        return np.stack(ys)

    def _lstm_step(self, x_t, state):
        h, c = state
        z = x_t @ self.w_ih.data.T + self.b_ih.data + h @ self.w_hh.data.T + self.b_hh.data
        i, f, g, o = np.split(z, 4, axis=1)
        i, f, g, o = expit(i), expit(f), np.tanh(g), expit(o)
        c_new = f * c + i * g
        tanh_c = np.tanh(c_new)
        return (o * tanh_c, c_new), (x_t, h, c, i, f, g, o, tanh_c)

    def _gru_step(self, x_t, state):
        h = state[0]
        gi = x_t @ self.w_ih.data.T + self.b_ih.data
        gh = h @ self.w_hh.data.T + self.b_hh.data
        i_r, i_z, i_n = np.split(gi, 3, axis=1)
        h_r, h_z, a = np.split(gh, 3, axis=1)
        r, z = expit(i_r + h_r), expit(i_z + h_z)
        n = np.tanh(i_n + r * a)
        h_new = (1 - z) * n + z * h
        return (h_new, h_new), (x_t, h, r, z, n, a)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dy (T, B, H) -> dx (T, B, I); accumulates the parameters' .grad step by step."""
        B, H = dy.shape[1], self.w_hh.data.shape[1]
        dh_next, dc_next = np.zeros((B, H), dy.dtype), np.zeros((B, H), dy.dtype)
        dxs = []
        for t in range(len(self._steps) - 1, -1, -1):
            dh = dy[t] + dh_next
            if self.kind == "LSTM":
                x_t, h, c, i, f, g, o, tanh_c = self._steps[t]
                do = dh * tanh_c * o * (1 - o)
                dc = dc_next + dh * o * (1 - tanh_c**2)
                di = dc * g * i * (1 - i)
                df = dc * c * f * (1 - f)
                dg = dc * i * (1 - g**2)
                dz = np.concatenate([di, df, dg, do], axis=1)
                dc_next = dc * f
                dh_next = dz @ self.w_hh.data
                dz_h = dz
            else:
                x_t, h, r, z, n, a = self._steps[t]
                dn = dh * (1 - z) * (1 - n**2)
                dzg = dh * (h - n) * z * (1 - z)
                dr = dn * a * r * (1 - r)
                dz = np.concatenate([dr, dzg, dn], axis=1)
                dz_h = np.concatenate([dr, dzg, dn * r], axis=1)
                dh_next = dh * z + dz_h @ self.w_hh.data
            self.w_ih.grad += dz.T @ x_t
            self.w_hh.grad += dz_h.T @ h
            self.b_ih.grad += dz.sum(axis=0)
            self.b_hh.grad += dz_h.sum(axis=0)
            dxs.append(dz @ self.w_ih.data)
        self._steps = None
        return np.stack(dxs[::-1])
