"""Losses: each returns `(value, dpred)`, the loss and its gradient with respect to `pred`.

With d = pred − target over N entries and "mean" reduction (torch's definitions):

    mse_loss    L = Σ d² / N                      ∂L/∂pred = (2/N) d
    l1_loss     L = Σ |d| / N                     ∂L/∂pred = sign(d) / N        (0 at d = 0)
    huber_loss  L = Σ h(d) / N,  h(d) = ½d² if |d| < δ else δ(|d| − ½δ)
                                                  ∂L/∂pred = clip(d, −δ, δ) / N

"sum" drops the 1/N; "none" returns the elementwise losses and the gradient of their sum.

`cross_entropy(logits, target)` is softmax and negative log-likelihood in one (torch's
F.cross_entropy with class indices): for one row z with class y, with lse = log Σ_c exp z_c
computed as m + log Σ exp(z − m), m = max z (no overflow),

    L = lse − z_y                                 ∂L/∂z = softmax(z) − onehot(y)

averaged over the rows whose target is not `ignore_index` ("mean"); `perplexity` is exp of
that mean, the language model's figure.
`pred` and `target` must have the same shape (no broadcasting) and the same float dtype;
`dpred` has that shape and dtype. The mean over zero entries is nan, as in torch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["mse_loss", "l1_loss", "huber_loss", "cross_entropy", "perplexity"]

_REDUCTIONS = ("mean", "sum", "none")


def _difference(name: str, pred, target, reduction: str) -> np.ndarray:
    """Check the arguments of loss `name` and return d = pred − target."""
    pred, target = np.asarray(pred), np.asarray(target)
    for what, a in (("pred", pred), ("target", target)):
        if not np.issubdtype(a.dtype, np.floating):
            raise TypeError(f"{name}: {what} must be a floating-point array, got dtype {a.dtype}")
    if pred.dtype != target.dtype:
        raise ValueError(
            f"{name}: pred and target must have the same dtype, got {pred.dtype} and {target.dtype}"
        )
    if pred.shape != target.shape:
        raise ValueError(
            f"{name}: pred and target must have the same shape, got {pred.shape} and {target.shape}"
        )
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return pred - target


def _reduce(
    elementwise: np.ndarray, dsum: np.ndarray, reduction: str
) -> tuple[float | np.ndarray, np.ndarray]:
    """Apply the reduction to the elementwise loss and to the gradient of its sum (in place)."""
    elementwise, dsum = np.asarray(elementwise), np.asarray(dsum)  # 0-d results stay arrays
    if reduction == "none":
        return elementwise, dsum
    if reduction == "sum":
        return float(elementwise.sum()), dsum
    n = elementwise.size
    if n == 0:
        return float("nan"), dsum
    dsum *= 1.0 / n
    return float(elementwise.mean()), dsum


def _loss(
    name: str, pred, target, reduction: str, f: Callable[[np.ndarray], tuple]
) -> tuple[float | np.ndarray, np.ndarray]:
    d = _difference(name, pred, target, reduction)
    elementwise, dsum = f(d)
    return _reduce(elementwise, dsum, reduction)


def mse_loss(
    pred: np.ndarray, target: np.ndarray, reduction: str = "mean"
) -> tuple[float | np.ndarray, np.ndarray]:
    """Mean squared error, as `torch.nn.functional.mse_loss`.

    Args:
        pred: (*), float.
        target: (*), same shape and dtype as pred.
        reduction: "mean" | "sum" | "none".

    Returns:
        value: a Python float, or for "none" the elementwise (pred − target)², shape (*).
        dpred: (*), ∂value/∂pred (for "none": the gradient of the sum, 2(pred − target)).

    Example:
        >>> import numpy as np
        >>> loss, dpred = mse_loss(np.array([1.0, 2.0]), np.array([0.0, 4.0]))
        >>> loss, dpred
        (2.5, array([ 1., -2.]))
    """
    return _loss("mse_loss", pred, target, reduction, lambda d: (d * d, d * 2.0))


def l1_loss(
    pred: np.ndarray, target: np.ndarray, reduction: str = "mean"
) -> tuple[float | np.ndarray, np.ndarray]:
    """Mean absolute error, as `torch.nn.functional.l1_loss`; the gradient at d = 0 is 0.

    Args and Returns: as `mse_loss`, with |pred − target| and sign(pred − target).
    """
    return _loss("l1_loss", pred, target, reduction, lambda d: (np.abs(d), np.sign(d)))


def huber_loss(
    pred: np.ndarray, target: np.ndarray, reduction: str = "mean", delta: float = 1.0
) -> tuple[float | np.ndarray, np.ndarray]:
    """Huber loss, as `torch.nn.functional.huber_loss`: quadratic within δ, linear beyond.

    Args:
        pred, target, reduction: as `mse_loss`.
        delta: δ > 0, where the loss turns from ½d² to δ(|d| − ½δ).

    Returns:
        As `mse_loss`, with h(d) elementwise and clip(d, −δ, δ) as the gradient of the sum.
    """
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    delta = float(delta)  # a Python float keeps float32 arrays float32

    def f(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = np.abs(d)
        small = a < delta
        elementwise = np.where(small, 0.5 * d * d, delta * (a - 0.5 * delta))
        return elementwise, np.clip(d, -delta, delta)

    return _loss("huber_loss", pred, target, reduction, f)


def cross_entropy(
    logits: np.ndarray, target, ignore_index: int = -100, reduction: str = "mean"
) -> tuple[float | np.ndarray, np.ndarray]:
    """Softmax cross-entropy over class indices, as `torch.nn.functional.cross_entropy`.

    Args:
        logits: (C,), (N, C) or (N, C, d1, ...), float: unnormalised scores, classes on axis 1
            (axis 0 for a single row), as torch.
        target: (), (N,) or (N, d1, ...), integer class ids in [0, C) or `ignore_index`.
            Class probabilities (float targets) are not supported.
        ignore_index: targets equal to it contribute neither loss nor gradient.
        reduction: "mean" (over the rows not ignored; nan if all are), "sum" or "none".

    Returns:
        value: a Python float, or for "none" the per-row losses shaped like target (0 where
            ignored).
        dlogits: like logits, ∂value/∂logits (for "none": the gradient of the sum).

    Example:
        >>> loss, dlogits = cross_entropy(np.array([[0.0, 0.0]]), np.array([1]))
        >>> round(loss, 6), dlogits
        (0.693147, array([[ 0.5, -0.5]]))
    """
    name = "cross_entropy"
    z = np.asarray(logits)
    if not np.issubdtype(z.dtype, np.floating):
        raise TypeError(f"{name}: logits must be a floating-point array, got dtype {z.dtype}")
    t = np.asarray(target)
    if t.dtype == bool or not np.issubdtype(t.dtype, np.integer):
        raise TypeError(
            f"{name}: target must hold integer class ids, got dtype {t.dtype} "
            "(class probabilities are not supported)"
        )
    if z.ndim == 0:
        raise ValueError(f"{name}: logits must be (C,), (N, C) or (N, C, d1, ...), got a scalar")
    expected = () if z.ndim == 1 else (z.shape[0], *z.shape[2:])  # the class axis dropped
    if t.shape != expected:
        raise ValueError(
            f"{name}: logits of shape {z.shape} (classes on axis {min(1, z.ndim - 1)}) need a "
            f"target of shape {expected}, got {t.shape}"
        )
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    C = z.shape[0] if z.ndim == 1 else z.shape[1]
    rows = np.moveaxis(z, 0 if z.ndim == 1 else 1, -1).reshape(-1, C)  # (M, C)
    t_flat = t.reshape(-1)
    valid = t_flat != ignore_index
    bad = valid & ((t_flat < 0) | (t_flat >= C))
    if bad.any():
        raise IndexError(
            f"{name}: target ids must lie in [0, {C}) (or equal ignore_index={ignore_index}), "
            f"got {t_flat[bad][0]}"
        )
    safe = np.where(valid, t_flat, 0)
    m = rows.max(axis=1, keepdims=True)
    shifted = rows - m
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    lse = np.log(s)
    picked = np.take_along_axis(shifted, safe[:, None], axis=1)
    losses = np.where(valid, (lse - picked)[:, 0], 0).astype(z.dtype)
    grad = e / s
    grad[np.arange(len(safe)), safe] -= 1
    grad *= valid[:, None]
    n = int(valid.sum())
    if reduction == "mean":
        value = float(losses.sum() / n) if n else float("nan")
        grad *= z.dtype.type(1.0 / n) if n else 0
    elif reduction == "sum":
        value = float(losses.sum())
    else:
        value = losses.reshape(t.shape)
    moved = np.moveaxis(z, 0 if z.ndim == 1 else 1, -1).shape
    dlogits = np.moveaxis(grad.reshape(moved), -1, 0 if z.ndim == 1 else 1).astype(z.dtype)
    return value, np.ascontiguousarray(dlogits)


def perplexity(loss: float) -> float:
    """exp(mean cross-entropy in nats per token): the language model's perplexity.

    1 is a perfect model; a uniform guess over V tokens scores V.

    >>> round(perplexity(np.log(28.0)), 9)
    28.0
    """
    return float(np.exp(loss))
