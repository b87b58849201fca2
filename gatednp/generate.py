"""Text generation from a trained language model: greedy, temperature and top-k sampling.

The model is anything with `reset_state()` and `step(ids) -> logits`, taking ids (B,) and
returning the next-token logits (B, V) while carrying its recurrent state (a `Stateful` layer
inside; the lab's `LanguageModel` is one). `generate` warms the state up on the whole prefix,
then feeds each chosen token back in:

    logits = step(prefix[0]), ..., step(prefix[-1])      # warm-up
    repeat: next = choose(logits); logits = step(next)

`choose` is argmax (greedy), or a draw from softmax(logits / temperature) restricted to the
`top_k` largest logits, with a seeded np.random.Generator so a generation is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .module import as_rng

__all__ = ["sample_next", "generate"]


def sample_next(
    logits: np.ndarray,
    *,
    greedy: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Choose one token per row of logits (B, V) (or (V,)) -> ids (B,) (or a 0-d array).

    Args:
        logits: unnormalised next-token scores.
        greedy: take the argmax (temperature, top_k and generator are then unused).
        temperature: > 0; below 1 sharpens the distribution, above 1 flattens it.
        top_k: draw only among the k largest logits (None: all).
        generator: np.random.Generator or seed.

    >>> sample_next(np.array([[0.0, 3.0, 1.0]]), greedy=True)
    array([1])
    >>> sample_next(np.array([0.0, 3.0, 1.0]), top_k=1, generator=0)   # top-1 is greedy
    array(1)
    """
    z = np.asarray(logits, dtype=float)
    if z.ndim not in (1, 2) or z.shape[-1] == 0:
        raise ValueError(f"logits must be (V,) or (B, V) with V ≥ 1, got shape {z.shape}")
    rows = z.reshape(-1, z.shape[-1])
    if greedy:
        return rows.argmax(axis=1).reshape(z.shape[:-1])
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 (use greedy=True for argmax), got {temperature}")
    V = rows.shape[1]
    if top_k is not None and not (isinstance(top_k, (int, np.integer)) and 1 <= top_k <= V):
        raise ValueError(f"top_k must be an int in [1, {V}] or None, got {top_k!r}")
    rng = as_rng(generator)
    scaled = rows / temperature
    if top_k is not None and top_k < V:
        kth = np.partition(scaled, V - top_k, axis=1)[:, V - top_k, None]
        scaled = np.where(scaled >= kth, scaled, -np.inf)
    p = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    u = rng.random((len(p), 1))
    ids = np.minimum((np.cumsum(p, axis=1) < u).sum(axis=1), V - 1)
    return ids.reshape(z.shape[:-1])


def generate(
    model,
    prefix: Sequence[int],
    num_tokens: int,
    *,
    greedy: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: np.random.Generator | int | None = None,
) -> list[int]:
    """Continue `prefix` (token ids) by `num_tokens` tokens; returns prefix + continuation.

    Args:
        model: has `reset_state()` and `step(ids (1,)) -> logits (1, V)`; put it in eval mode.
        prefix: at least one token id; the state is warmed up on all of it.
        num_tokens: how many tokens to add (≥ 0).
        greedy, temperature, top_k, generator: as `sample_next`.
    """
    ids = [int(i) for i in prefix]
    if not ids:
        raise ValueError("generate needs a prefix of at least one token to start from")
    if (
        isinstance(num_tokens, bool)
        or not isinstance(num_tokens, (int, np.integer))
        or num_tokens < 0
    ):
        raise ValueError(f"num_tokens must be an int ≥ 0, got {num_tokens!r}")
    rng = as_rng(generator)
    model.reset_state()
    for i in ids:
        logits = model.step(np.array([i]))
    for _ in range(num_tokens):
        nxt = int(
            sample_next(logits, greedy=greedy, temperature=temperature, top_k=top_k, generator=rng)[
                0
            ]
        )
        ids.append(nxt)
        logits = model.step(np.array([nxt]))
    return ids
