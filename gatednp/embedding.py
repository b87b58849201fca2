"""Token ids in, vectors out: `Embedding` (torch.nn.Embedding) and `one_hot` (F.one_hot).

An embedding is a lookup: row `ids[...]` of the weight W (num_embeddings, embedding_dim).

    y[..., :] = W[ids[...], :]            dW[k, :] = Σ over every position where ids == k of dy

so a token that appears several times in a batch receives the sum of its gradients (np.add.at,
which accumulates over repeated indices, unlike `dW[ids] += dy`). The ids get no gradient.
"""

from __future__ import annotations

import numpy as np

from .checks import check_dtype, check_float_array, check_sizes
from .module import BackwardError, Module, Parameter, as_rng

__all__ = ["Embedding", "one_hot", "check_ids"]


def check_ids(ids, num_classes: int, name: str = "ids") -> np.ndarray:
    """`ids` as an integer ndarray with every entry in [0, num_classes), or a clear error.

    >>> check_ids([1, 2], 3)
    array([1, 2])
    """
    a = np.asarray(ids)
    if a.dtype == bool or not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{name} must be integer token ids (e.g. dtype int64), got dtype {a.dtype}")
    if a.size and (a.min() < 0 or a.max() >= num_classes):
        bad = a[(a < 0) | (a >= num_classes)].flat[0]
        raise IndexError(
            f"{name} must lie in [0, {num_classes}), got {bad} (values from {a.min()} to {a.max()})"
        )
    return a


class Embedding(Module):
    """torch.nn.Embedding: weight (num_embeddings, embedding_dim) drawn from N(0, 1).

    Args:
        num_embeddings: the vocabulary size V.
        embedding_dim: the vector size D.
        padding_idx: as torch: that row starts at zero and never receives a gradient.
        dtype: the weight's float dtype.
        rng: generator or seed for the initial weight.

    >>> import numpy as np, gatednp as gn
    >>> emb = gn.Embedding(10, 3, rng=0)
    >>> emb(np.array([[1, 2, 1]])).shape                  # ids (*) -> (*, D)
    (1, 3, 3)
    >>> emb.backward(np.ones((1, 3, 3)))                  # ids get no gradient
    >>> emb.weight.grad[1]                                # id 1 was used twice
    array([2., 2., 2.])
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        *,
        dtype=np.float64,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        check_sizes(num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        dtype = check_dtype(dtype)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"padding_idx must be within [-{num_embeddings}, {num_embeddings}), got {padding_idx}"
                )
            padding_idx = int(padding_idx) % num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = padding_idx
        w = as_rng(rng).standard_normal((num_embeddings, embedding_dim)).astype(dtype)
        if padding_idx is not None:
            w[padding_idx] = 0
        self.weight = Parameter(w)
        self._ids: np.ndarray | None = None

    def __repr__(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"Embedding({self.num_embeddings}, {self.embedding_dim}{pad})"

    @property
    def dtype(self) -> np.dtype:
        return self.weight.data.dtype

    def forward(self, ids: np.ndarray) -> np.ndarray:
        """ids (*), integers in [0, num_embeddings) -> vectors (*, embedding_dim)."""
        ids = check_ids(ids, self.num_embeddings)
        self._ids = ids if self.training else None
        return self.weight.data[ids]

    def backward(self, dy: np.ndarray) -> None:
        """dy (*, embedding_dim) -> None; adds dy's rows into weight.grad at their ids."""
        ids = self._ids
        if ids is None:
            raise BackwardError(
                "Embedding.backward() needs a forward pass in training mode first (once per forward)"
            )
        dy = check_float_array(dy, "dy", self.dtype)
        if dy.shape != (*ids.shape, self.embedding_dim):
            raise ValueError(
                f"Expected dy of shape {(*ids.shape, self.embedding_dim)}, got {dy.shape}"
            )
        self._ids = None
        flat_ids, flat_dy = ids.reshape(-1), dy.reshape(-1, self.embedding_dim)
        if self.padding_idx is not None:
            keep = flat_ids != self.padding_idx
            flat_ids, flat_dy = flat_ids[keep], flat_dy[keep]
        np.add.at(self.weight.grad, flat_ids, flat_dy)
        return None


def one_hot(ids, num_classes: int = -1, *, dtype=np.int64) -> np.ndarray:
    """torch.nn.functional.one_hot: ids (*) -> (*, num_classes), 1 at each id, else 0.

    Args:
        ids: integer ids ≥ 0.
        num_classes: the width; -1 (torch's default) means max(ids) + 1.
        dtype: int64 as torch; pass a float dtype to feed a recurrent layer directly.

    >>> one_hot(np.array([0, 2]), 3, dtype=np.float64)
    array([[1., 0., 0.],
           [0., 0., 1.]])
    """
    a = np.asarray(ids)
    if num_classes == -1:
        if a.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from empty ids; pass num_classes")
        num_classes = int(np.max(check_ids(a, np.iinfo(np.int64).max))) + 1
    check_sizes(num_classes=num_classes)
    a = check_ids(a, num_classes)
    out = np.zeros((*a.shape, num_classes), dtype=dtype)
    np.put_along_axis(out, a[..., None], 1, axis=-1)
    return out
