"""NumPy's floor: the least work any NumPy implementation of one LSTM or GRU layer must do.

It computes no correct gradient and is not a model: it is a lower bound on time, built from what
a step cannot avoid on this machine, each as a single NumPy call on preallocated buffers:
- the GEMMs, each the fastest way NumPy has (threads.matmul: np.dot for an input size of 1):
  the input projections of all steps at once (x W_ihᵀ, one GEMM before the loop), one
  recurrent GEMM per step forward (h_{t-1} W_hhᵀ) and one backward (dgates W_hh), and after the
  backward loop the three GEMMs for dW_ih, dW_hh and dx, plus the bias sums;
- one elementwise pass per tensor a step must write, with the fastest activation gatednp has
  (activations.py), the nonlinearities' derivative factors (σ' = σ(1 − σ), tanh' = 1 − tanh²)
  folded away:
    LSTM forward  pre += hoisted, σ over [i|f|g|o], c = f ⊙ c_prev, i ⊙ g, c += i ⊙ g,
                  tanh(c), h = o ⊙ tanh(c)                                  (1 GEMM + 7 calls)
    LSTM backward dh = dy + dh', do, dc = dh ⊙ o, dc += dc', di, df, dg, dc' = dc ⊙ f
                                                                          (1 GEMM + 8 calls)
    GRU forward   [r|z] += h W_h(rz)ᵀ, σ([r|z]), r ⊙ a, n += r ⊙ a, tanh(n), h − n, ⊙ z, + n
                                                                          (1 GEMM + 8 calls)
    GRU backward  dh = dy + dh', dh ⊙ z, dz, dn, da, dr, dh' += dh ⊙ z      (1 GEMM + 7 calls)
Anything that computes the real gradients makes at least these calls over at least these
elements, so gatednp ÷ floor says how far a point is from NumPy's limit. The training step
around it (head, MSE, Adam) is gatednp's, as in the other NumPy systems.
"""

from __future__ import annotations

import numpy as np

from gatednp.activations import sigmoid_, tanh, tanh_
from gatednp.threads import matmul


class Floor:
    """One layer, one direction, over (T, B, I), on a gatednp layer's parameters (read only,
    their `.grad` accumulated into so that Adam has work of the right size)."""

    def __init__(self, kind: str, params) -> None:
        self.kind, self.G = kind, 4 if kind == "LSTM" else 3
        self.w_ih, self.w_hh, self.b_ih, self.b_hh = params
        self.training = True
        self._buffers = None

    def train(self) -> None:
        self.training = True

    def eval(self) -> None:
        self.training = False

    def _alloc(self, T: int, B: int, dtype) -> dict:
        H = self.w_hh.data.shape[1]
        key = (T, B, np.dtype(dtype))
        if self._buffers is None or self._buffers["key"] != key:
            e = lambda *s: np.zeros(s, dtype)  # noqa: E731
            self._buffers = dict(
                key=key, gates=e(T, B, self.G * H), h=e(T + 1, B, H), c=e(T + 1, B, H),
                tc=e(T, B, H), hh=e(B, self.G * H), s=e(B, H), dh=e(B, H), dh_next=e(B, H),
                dc=e(B, H), dc_next=e(B, H),
            )  # fmt: skip
        return self._buffers

    def __call__(self, x: np.ndarray) -> np.ndarray:
        T, B, I = x.shape
        buf = self._alloc(T, B, x.dtype)
        gates, h, c, tc, hh, s = (buf[k] for k in ("gates", "h", "c", "tc", "hh", "s"))
        H = h.shape[-1]
        matmul(x.reshape(T * B, I), self.w_ih.data.T, out=gates.reshape(T * B, -1))  # I = 1 too
        gates += self.b_ih.data + self.b_hh.data
        W_hhT = self.w_hh.data.T
        for t in range(T):
            if self.kind == "LSTM":
                i, f, g, o = (gates[t, :, k * H : (k + 1) * H] for k in range(4))
                np.matmul(h[t], W_hhT, out=hh)
                gates[t] += hh
                sigmoid_(gates[t])
                np.multiply(f, c[t], out=c[t + 1])
                np.multiply(i, g, out=s)
                c[t + 1] += s
                tanh(c[t + 1], out=tc[t])
                np.multiply(o, tc[t], out=h[t + 1])
            else:
                rz, r, z, n = (
                    gates[t, :, : 2 * H],
                    gates[t, :, :H],
                    gates[t, :, H : 2 * H],
                    gates[t, :, 2 * H :],
                )
                np.matmul(h[t], W_hhT, out=hh)
                rz += hh[:, : 2 * H]
                sigmoid_(rz)
                np.multiply(r, hh[:, 2 * H :], out=s)
                n += s
                tanh_(n)
                np.subtract(h[t], n, out=h[t + 1])
                h[t + 1] *= z
                h[t + 1] += n
        self._x = x if self.training else None
        return h[1:]

    def backward(self, dy: np.ndarray) -> np.ndarray:
        x, buf = self._x, self._buffers
        T, B, I = x.shape
        gates, h, c, tc = buf["gates"], buf["h"], buf["c"], buf["tc"]
        dh, dh_next, dc, dc_next, s = (buf[k] for k in ("dh", "dh_next", "dc", "dc_next", "s"))
        H = h.shape[-1]
        dh_next[...] = 0
        dc_next[...] = 0
        with np.errstate(all="ignore"):  # its values are no gradient and may grow: only time counts
            self._loop(dy, gates, h, c, tc, dh, dh_next, dc, dc_next, s)
        g2 = gates.reshape(T * B, -1)
        self.w_ih.grad += g2.T @ x.reshape(T * B, I)
        self.w_hh.grad += g2.T @ h[:-1].reshape(T * B, H)
        db = g2.sum(axis=0)
        self.b_ih.grad += db
        self.b_hh.grad += db
        return (g2 @ self.w_ih.data).reshape(T, B, I)

    def _loop(self, dy, gates, h, c, tc, dh, dh_next, dc, dc_next, s) -> None:
        """The backward time loop: one recurrent GEMM and the minimal passes per step."""
        T, H, W_hh = gates.shape[0], h.shape[-1], self.w_hh.data
        for t in range(T - 1, -1, -1):
            np.add(dy[t], dh_next, out=dh)
            if self.kind == "LSTM":
                i, f, g, o = (gates[t, :, k * H : (k + 1) * H] for k in range(4))
                np.multiply(dh, o, out=dc)  # dc = dh ⊙ o ⊙ (…) + dc'
                dc += dc_next
                np.multiply(dh, tc[t], out=o)  # do
                np.multiply(dc, f, out=dc_next)  # dc' = dc ⊙ f
                np.multiply(dc, c[t], out=f)  # df
                np.multiply(dc, i, out=s)  # dc ⊙ i
                np.multiply(dc, g, out=i)  # di
                np.multiply(s, g, out=g)  # dg
                np.matmul(gates[t], W_hh, out=dh_next)
            else:
                r, z, n = (gates[t, :, k * H : (k + 1) * H] for k in range(3))
                np.multiply(dh, z, out=s)  # dh ⊙ z
                np.multiply(dh, n, out=z)  # dz
                np.multiply(dh, h[t], out=n)  # dn
                np.multiply(n, r, out=dc)  # da
                np.multiply(dc, r, out=r)  # dr
                np.matmul(gates[t], W_hh, out=dh_next)
                dh_next += s
