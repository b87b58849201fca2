"""Central differences through a step function: the numeric reference of the step checker.

`state_gradients` runs a step over a sequence and finds ∂L/∂s_t for every state by perturbing
it and re-running the steps after it; `local_gradients` finds one step's gradients (x, the
previous state, and the weights used at that step only: the unrolled weights) of ⟨s_{t+1}, u⟩
for the upstream gradient u = ∂L/∂s_{t+1}. Together they are the per-step decomposition of
BPTT: the weight gradient is the sum over t of the local ones.

>>> import numpy as np
>>> from gatednp import rnn
>>> from gatednp.module import Weights
>>> rng = np.random.default_rng(0)
>>> w = Weights(*(rng.normal(size=s) for s in [(2, 3), (2, 2), (2,), (2,)]))
>>> x, s, u = rng.normal(size=(1, 3)), (rng.normal(size=(1, 2)),), (rng.normal(size=(1, 2)),)
>>> dx, ds, g = local_gradients(lambda x, s, w: rnn.step(x, s, w), x, s, w, lambda w: w, u)
>>> exact = rnn.step_backward(u, rnn.step(x, s, w)[1], w)
>>> bool(np.allclose(dx, exact[0]) and np.allclose(g["weight_hh"], exact[2].weight_hh))
True
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .module import Weights
from .numgrad import numerical_gradient

__all__ = ["state_gradients", "local_gradients"]


def _loss(new: tuple, u: tuple) -> float:
    return sum(float(np.vdot(a, b)) for a, b in zip(new, u, strict=True))


def _perturbed(f: Callable[[], float], a: np.ndarray, eps: float) -> np.ndarray:
    return numerical_gradient(lambda _: f(), a, eps=eps)


def state_gradients(
    step: Callable, xs: np.ndarray, s0: tuple, R: np.ndarray, Rc, eps: float = 1e-6
) -> tuple[list[tuple], list[tuple], float]:
    """Run `step(x, s)` over xs (T, B, I) from s0 and differentiate L = Σ_t ⟨h_{t+1}, R_t⟩
    (+ ⟨c_T, Rc⟩) with respect to every state s_1 … s_T.

    Returns:
        the states [s_0 … s_T], the upstream gradients [u_0 … u_{T−1}] with u_t = ∂L/∂s_{t+1}
        (tuples like the state), and L.
    """
    T = len(xs)
    states = [tuple(p.copy() for p in s0)]
    for t in range(T):
        states.append(tuple(step(xs[t], states[-1])[0]))

    def rest(t: int, s: tuple) -> float:
        """L's terms from s_{t+1} = s onwards."""
        total = float(np.vdot(s[0], R[t]))
        for k in range(t + 1, T):
            s = tuple(step(xs[k], s)[0])
            total += float(np.vdot(s[0], R[k]))
        return total + (float(np.vdot(s[1], Rc)) if Rc is not None else 0.0)

    upstream = []
    for t in range(T):
        s = tuple(p.copy() for p in states[t + 1])
        upstream.append(tuple(_perturbed(lambda t=t, s=s: rest(t, s), part, eps) for part in s))
    return states, upstream, rest(0, states[1])


def local_gradients(
    step: Callable,
    x: np.ndarray,
    s: tuple,
    w: Weights,
    to_user: Callable[[Weights], Weights],
    u: tuple,
    eps: float = 1e-6,
) -> tuple[np.ndarray, tuple, dict[str, np.ndarray]]:
    """Gradients of ⟨step(x, s, w)'s new state, u⟩ with respect to x, s and each field of w
    (torch's layout; `to_user` maps w to the layout `step` takes).

    Returns:
        dx (B, I), the state gradients (a tuple like s), {field: gradient} for w's fields.
    """
    x, s = x.copy(), tuple(p.copy() for p in s)
    fields = {k: v.copy() for k, v in w._asdict().items() if v is not None}

    def f() -> float:
        return _loss(step(x, s, to_user(Weights(**fields)))[0], u)

    dx = _perturbed(f, x, eps)
    ds = tuple(_perturbed(f, part, eps) for part in s)
    return dx, ds, {k: _perturbed(f, v, eps) for k, v in fields.items()}
