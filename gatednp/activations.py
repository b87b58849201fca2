"""The nonlinearities: the gates' σ and tanh written into a given array, and ONNX's table.

Both are a large share of a forward step (five of them per LSTM unit), so each uses the fastest
formulation measured on the CPUs we benchmark (benchmarks/README.md), switching on the dtype and
the block size; the small-block path is the plain library call, whose fixed cost is lowest.

- With NumPy's SIMD tanh (NumPy 2.x on AVX2 / AVX-512 CPUs: `SIMD_TANH`, read from
  numpy.lib.introspect), np.tanh is the fastest transcendental here (float32 0.2 ns, float64
  0.8 ns per element, against expit's 2.5 and 3.8), so it carries both:
  tanh is NumPy's; σ(x) = ½ tanh(½x) + ½ for blocks of at least `SIGMOID_TANH_MIN`
  elements (expit below: one call is cheaper there), and the LSTM's whole [i|f|g|o] block is
  activated in four calls (`lstm_block`). The tanh form of σ is accurate to a few ulps of 1 in
  absolute terms (≤ 1 ulp measured over every binade), a few ulps relative where σ ≥ ¼; a σ
  below ~ε comes out as 0 or a multiple of ε/2 instead of its tiny value. That is no loss: the
  argument is a GEMM output whose own rounding error is absolute, of order ε·Σ|wᵢxᵢ|, and a
  gate that small multiplies its operand down to below that operand's rounding error anyway.
- Without it (older NumPy, or a CPU NumPy has no SIMD tanh for), σ is `scipy.special.expit`,
  or, for float32 blocks of at least 2048 elements, `1 / (1 + e⁻ˣ)` from NumPy's vectorised
  float32 `exp` (e⁻ˣ overflows to inf for x < −88.7 and then σ = 1/inf = 0, the right limit:
  that overflow is expected and silenced); tanh is NumPy's, or, for float64 blocks of at least
  1024 elements, `1 − 2 / (1 + e²ˣ)`, accurate to a few ulps of 1 in absolute terms (≤ 4.5e-16),
  by the same argument as above.
Every path is tested on every machine (tests/test_activations.py switches SIMD_TANH).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np
from scipy.special import expit

__all__ = [
    "sigmoid_", "tanh", "tanh_", "lstm_block", "lstm_block_scale", "ONNX_ACTIVATIONS", "Activation", "canonical",
    "check_activations", "activation_functions", "Clip", "clip_", "check_clip",
]  # fmt: skip

SIGMOID_EXP_MIN = 2048  # float32 blocks at least this large use 1 / (1 + e⁻ˣ) (no SIMD tanh)
TANH_EXP_MIN = 1024  # float64 blocks at least this large use 1 − 2 / (1 + e²ˣ) (no SIMD tanh)
# With NumPy's SIMD tanh, blocks at least this large use σ(x) = ½ tanh(½x) + ½ (measured here,
# AVX-512, NumPy 2.4, µs for σ over 1024 / 4096 elements: float32 expit 3.0 / 10.8, the exp form
# 2.2 / 3.8, the tanh form 2.4 / 3.1; float64 expit 4.2 / 15.8, exp 2.8 / 6.6, tanh form 2.7 / 5.7)
SIGMOID_TANH_MIN = {np.float32: 1024, np.float64: 512}


def _simd_tanh(dtype: type) -> bool:
    """Whether NumPy's tanh runs with SIMD on this CPU for `dtype` (numpy.lib.introspect, NumPy
    2.x); then np.tanh is the fastest tanh and the base of the fastest σ."""
    try:
        from numpy.lib.introspect import opt_func_info

        current = opt_func_info(func_name="^tanh$")["tanh"][np.dtype(dtype).char * 2]["current"]
    except (ImportError, KeyError, TypeError):
        return False
    return bool(current) and "baseline" not in current


SIMD_TANH = {dtype: _simd_tanh(dtype) for dtype in (np.float32, np.float64)}


def sigmoid_(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e⁻ˣ), in place; returns `x`."""
    kind = x.dtype.type
    if SIMD_TANH.get(kind) and x.size >= SIGMOID_TANH_MIN[kind]:
        np.multiply(x, 0.5, out=x)  # ½ and ½ are exact: the error is tanh's, a few ulps of 1
        np.tanh(x, out=x)
        np.multiply(x, 0.5, out=x)
        return np.add(x, 0.5, out=x)
    if kind != np.float32 or x.size < SIGMOID_EXP_MIN:
        return expit(x, out=x)
    np.negative(x, out=x)
    with np.errstate(over="ignore"):  # e⁻ˣ = inf for x < −88.7: σ = 1/inf = 0
        np.exp(x, out=x)
    x += 1
    return np.reciprocal(x, out=x)


def tanh(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """tanh(x) written into `out` (which may be `x`); returns `out`."""
    if x.dtype != np.float64 or x.size < TANH_EXP_MIN or SIMD_TANH[np.float64]:
        return np.tanh(x, out=out)
    with np.errstate(over="ignore"):  # 2x or e²ˣ = inf for x > 354: tanh = 1 − 2/inf = 1
        np.multiply(x, 2, out=out)
        np.exp(out, out=out)
    out += 1
    np.divide(2, out, out=out)
    return np.subtract(1, out, out=out)


@lru_cache(maxsize=64)
def lstm_block_scale(H: int, dtype: type) -> np.ndarray | None:
    """With NumPy's SIMD tanh, s = ½ on the i, f, o columns of [i|f|g|o] and 1 on g: the
    factor of σ(x) = ½ tanh(½x) + ½ inside the tanh, which a layer folds into its weights
    (`lstm_block(..., prescaled=True)`); None without SIMD tanh."""
    if not SIMD_TANH.get(np.dtype(dtype).type):
        return None
    scale = np.full(4 * H, 0.5, dtype)
    scale[2 * H : 3 * H] = 1
    scale.flags.writeable = False
    return scale


@lru_cache(maxsize=64)
def lstm_block(H: int, dtype: type, prescaled: bool = False) -> Callable[[np.ndarray], np.ndarray]:
    """σ on the i, f, o columns of an [i|f|g|o] block (…, 4H) and tanh on its g columns, in
    place, in the fewest NumPy calls. With NumPy's SIMD tanh: x ← tanh(x ⊙ s) ⊙ s + b with
    s = `lstm_block_scale` (½ on i, f, o: σ(x) = ½ tanh(½x) + ½; 1 on g) and b = ½ on i, f, o,
    0 on g; four calls, three when the block arrives multiplied by s already (`prescaled`: the
    engine folds s into W_ih, W_hh and the bias, exactly, s being a power of two). Else one σ
    over the block with g through tanh(x) = 2σ(2x) − 1 (four calls and σ)."""
    scale = lstm_block_scale(H, dtype)
    if scale is not None:
        shift = np.where(scale == 1, 0, 0.5).astype(dtype)

        def block(x: np.ndarray) -> np.ndarray:
            if not prescaled:
                np.multiply(x, scale, out=x)
            np.tanh(x, out=x)
            np.multiply(x, scale, out=x)
            return np.add(x, shift, out=x)

        return block
    if prescaled:
        raise ValueError("lstm_block: prescaled blocks need NumPy's SIMD tanh (SIMD_TANH)")

    def block(x: np.ndarray) -> np.ndarray:
        g = x[..., 2 * H : 3 * H]
        g *= 2
        sigmoid_(x)
        g *= 2
        g -= 1
        return x

    return block


def tanh_(x: np.ndarray) -> np.ndarray:
    """tanh(x), in place; returns `x`."""
    return tanh(x, out=x)


# -- ONNX's activation functions -------------------------------------------------------------
#
# The activations ONNX's LSTM, GRU and RNN operators may be given (their `activations`
# attribute), with ONNX's defaults for α and β, and "identity" (= Affine with α = 1, β = 0).
# Each derivative is written from the output y = f(x), as σ' = y(1 − y) is, so a step keeps
# only its activations for backward. Names: lowercase without underscores ("hardsigmoid"),
# given in any case, with or without underscores ("HardSigmoid", "hard_sigmoid").


def _const(y: np.ndarray, value: float) -> np.ndarray:
    return np.full_like(y, value)


def _where(cond: np.ndarray, a: float, b: float, like: np.ndarray) -> np.ndarray:
    return np.where(cond, like.dtype.type(a), like.dtype.type(b))


# name: (α default, β default) (None: not taken), y = f(x, α, β), f'(x) written from y
ONNX_ACTIVATIONS: dict[str, tuple[float | None, float | None, Callable, Callable]] = {
    "sigmoid": (None, None, lambda x, a, b: expit(x), lambda y, a, b: y * (1 - y)),
    "tanh": (None, None, lambda x, a, b: np.tanh(x), lambda y, a, b: 1 - y * y),
    "relu": (None, None, lambda x, a, b: np.maximum(x, 0), lambda y, a, b: _where(y > 0, 1, 0, y)),
    "identity": (None, None, lambda x, a, b: np.array(x), lambda y, a, b: _const(y, 1)),
    # αx + β: α
    "affine": (1.0, 0.0, lambda x, a, b: a * x + b, lambda y, a, b: _const(y, a)),
    # x if x ≥ 0 else αx: 1 or α (α ≥ 0, so y > 0 ⇔ x > 0)
    "leakyrelu": (
        0.01, None, lambda x, a, b: np.where(x >= 0, x, a * x),
        lambda y, a, b: _where(y > 0, 1, a, y),
    ),
    # x if x ≥ α else 0: 1 where y ≠ 0
    "thresholdedrelu": (
        1.0, None, lambda x, a, b: np.where(x >= a, x, 0).astype(x.dtype),
        lambda y, a, b: _where(y != 0, 1, 0, y),
    ),
    # α tanh(βx): αβ(1 − tanh²) = β(α − y²/α)
    "scaledtanh": (
        1.0, 1.0, lambda x, a, b: a * np.tanh(b * x),
        lambda y, a, b: b * (a - y * y / a) if a else _const(y, 0),
    ),
    # min(max(αx + β, 0), 1): α where 0 < y < 1
    "hardsigmoid": (
        0.2, 0.5, lambda x, a, b: np.clip(a * x + b, 0, 1),
        lambda y, a, b: _where((y > 0) & (y < 1), a, 0, y),
    ),
    # x if x ≥ 0 else α(eˣ − 1): 1, or αeˣ = y + α (α ≥ 0, so y > 0 ⇔ x > 0)
    "elu": (
        1.0, None, lambda x, a, b: np.where(x >= 0, x, a * np.expm1(np.minimum(x, 0))),
        lambda y, a, b: np.where(y > 0, y.dtype.type(1), y + a),
    ),
    # x / (1 + |x|): 1 / (1 + |x|)² = (1 − |y|)²
    "softsign": (None, None, lambda x, a, b: x / (1 + np.abs(x)), lambda y, a, b: (1 - np.abs(y)) ** 2),
    # log(1 + eˣ): σ(x) = 1 − e⁻ʸ
    "softplus": (None, None, lambda x, a, b: np.logaddexp(0, x), lambda y, a, b: -np.expm1(-y)),
}  # fmt: skip
NEEDS_NONNEGATIVE_ALPHA = ("leakyrelu", "elu")  # their derivative is read off y through α ≥ 0


def canonical(name: str) -> str:
    """An activation's name as gatednp keeps it: "HardSigmoid", "hard_sigmoid" -> "hardsigmoid";
    ValueError naming the valid ones for a name ONNX does not list."""
    if not isinstance(name, str):
        raise TypeError(f"an activation is named by a str, got {type(name).__name__}")
    key = name.lower().replace("_", "")
    if key not in ONNX_ACTIVATIONS:
        raise ValueError(
            f"Unknown activation {name!r}. Select from {', '.join(ONNX_ACTIVATIONS)} "
            "(any case, underscores ignored)."
        )
    return key


@dataclass(frozen=True)
class Activation:
    """One activation with its α and β: `act(x)` is y, `act.grad(y)` is f'(x) read off y."""

    name: str
    alpha: float | None = None
    beta: float | None = None

    def __post_init__(self) -> None:  # a None α or β: ONNX's default
        default_alpha, default_beta = ONNX_ACTIVATIONS[self.name][:2]
        object.__setattr__(self, "alpha", default_alpha if self.alpha is None else self.alpha)
        object.__setattr__(self, "beta", default_beta if self.beta is None else self.beta)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ONNX_ACTIVATIONS[self.name][2](x, self.alpha, self.beta)

    def grad(self, y: np.ndarray) -> np.ndarray:
        """f'(x) at the x that gave y = f(x), shaped and typed like y."""
        return ONNX_ACTIVATIONS[self.name][3](y, self.alpha, self.beta)

    def apply_(self, x: np.ndarray) -> np.ndarray:
        """f(x) written over x; returns x."""
        return self.in_place()(x)

    def in_place(self) -> Callable[[np.ndarray], np.ndarray]:
        """The function that writes f(x) over x: the fast sigmoid_ and tanh_ for those two."""
        fast = {"sigmoid": sigmoid_, "tanh": tanh_}.get(self.name)
        return fast or partial(_write_over, self)


def _write_over(f: Activation, x: np.ndarray) -> np.ndarray:
    x[...] = f(x)
    return x


def check_activations(
    activations: tuple | list | None,
    alpha: tuple | list | None,
    beta: tuple | list | None,
    defaults: tuple[str, ...],
    roles: str,
) -> tuple[tuple[str, ...] | None, tuple | None, tuple | None]:
    """The options `activations`, `activation_alpha`, `activation_beta` of a cell whose default
    activations are `defaults` (one per role, e.g. "f, g, h"), checked and put in their kept
    form: canonical names, α and β position by position with ONNX's defaults filled in (None
    where an activation takes none); all three None when they are the cell's defaults."""
    if activations is None:
        if alpha is not None or beta is not None:
            raise ValueError("activation_alpha and activation_beta need activations")
        return None, None, None
    if isinstance(activations, str) or not isinstance(activations, (tuple, list)):
        raise TypeError(
            f"activations must be a tuple of {len(defaults)} names ({roles}), "
            f"got {type(activations).__name__}"
        )
    if len(activations) != len(defaults):
        raise ValueError(
            f"activations must name {len(defaults)} functions ({roles}), e.g. {defaults}, "
            f"got {len(activations)}: {tuple(activations)}"
        )
    names = tuple(canonical(a) for a in activations)
    kept = []
    for what, given in (("activation_alpha", alpha), ("activation_beta", beta)):
        if given is None:
            given = (None,) * len(names)
        if isinstance(given, str) or not isinstance(given, (tuple, list)):
            raise TypeError(
                f"{what} must be a tuple of numbers or None, got {type(given).__name__}"
            )
        if len(given) != len(names):
            raise ValueError(
                f"{what} must have one entry per activation ({len(names)}, None for the default), "
                f"got {len(given)}"
            )
        values = []
        for name, v in zip(names, given):
            default = ONNX_ACTIVATIONS[name][0 if what == "activation_alpha" else 1]
            if v is None:
                values.append(default)
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float, np.number)):
                raise TypeError(f"{what} entries must be numbers or None, got {type(v).__name__}")
            if default is None:
                raise ValueError(f"{name} takes no {what[11:]}, got {what}={tuple(given)}")
            if not np.isfinite(v):
                raise ValueError(f"{what} entries must be finite, got {v}")
            if what == "activation_alpha" and name in NEEDS_NONNEGATIVE_ALPHA and v < 0:
                raise ValueError(
                    f"{name} needs alpha ≥ 0 in gatednp (its derivative is read off its output), "
                    f"got {v}"
                )
            values.append(float(v))
        kept.append(tuple(values))
    if names == defaults and all(v is None for v in kept[0] + kept[1]):
        return None, None, None
    return (
        names,
        None if all(v is None for v in kept[0]) else kept[0],
        None if all(v is None for v in kept[1]) else kept[1],
    )


@lru_cache(maxsize=256)  # steps and engines ask on every call: the answer is built once
def activation_functions(
    activations: tuple[str, ...] | None,
    alpha: tuple | None,
    beta: tuple | None,
    defaults: tuple[str, ...],
) -> tuple[Activation, ...]:
    """The cell's activations as `Activation`s, from its options (`check_activations` keeps
    them filled in; here a None α or β is its ONNX default)."""
    names = defaults if activations is None else activations
    alpha = alpha or (None,) * len(names)
    beta = beta or (None,) * len(names)
    return tuple(Activation(canonical(n), a, b) for n, a, b in zip(names, alpha, beta))


class Clip:
    """ONNX's `clip`: each activation's input cut to [−clip, clip] (None: left as it is).

    `cut(x, name)` returns the cut input and remembers where it was inside the bounds;
    `cut.grad(name)` is then the cut's derivative, 1 there and 0 where it cut (1 without clip).
    """

    def __init__(self, clip: float | None) -> None:
        self.clip = clip
        self.kept: dict[str, np.ndarray] = {}  # name -> |x| ≤ clip

    def __call__(self, x: np.ndarray, name: str) -> np.ndarray:
        if self.clip is None:
            return x
        self.kept[name] = np.abs(x) <= self.clip
        return np.clip(x, -self.clip, self.clip)

    def grad(self, name: str) -> np.ndarray | float:
        return self.kept.get(name, 1.0)  # 1: no clip, or no input (a gate that is the constant 1)


def clip_(x: np.ndarray, bound: float, kept: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """ONNX's clip for the engines, in place: `kept` marks where |x| ≤ bound (|x| goes through
    `scratch`, shaped like x, so a time loop allocates nothing), then x is cut to [−bound, bound]."""
    np.less_equal(np.abs(x, out=scratch), bound, out=kept)
    return np.clip(x, -bound, bound, out=x)


def check_clip(clip: float | None) -> float | None:
    """ONNX's clip threshold: None, or a finite number > 0 (as a float)."""
    if clip is None:
        return None
    if isinstance(clip, bool) or not isinstance(clip, (int, float, np.number)):
        raise TypeError(f"clip must be a number > 0 or None, got {type(clip).__name__}")
    if not np.isfinite(clip) or clip <= 0:
        raise ValueError(f"clip must be a finite number > 0 (or None for no clip), got {clip}")
    return float(clip)
