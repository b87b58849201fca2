"""The systems under test: each builds, for one configuration, a training step and an inference
forward as zero-argument callables over fixed random data.

A training step is: the recurrent layer over (T, B, I), a Linear head (H -> 1) on every output,
the MSE loss against a fixed target, backward through both, one Adam update (and zero_grad).
Inference is the recurrent layer alone in eval mode (no cache, no autograd).
"""

from __future__ import annotations

import numpy as np

import gatednp as gn

from .naive import Naive

SHAPES = {  # name: (T, B, I, H)
    "tiny": (10, 2, 1, 32),
    "small": (50, 32, 32, 128),
    "medium": (100, 64, 128, 256),
    "large": (50, 128, 512, 512),
}
GATES = {"LSTM": 4, "GRU": 3}


def forward_flops(cell: str, shape: tuple[int, int, int, int]) -> float:
    """GEMM FLOPs of one forward pass: 2·T·B·(I+H)·G·H."""
    T, B, I, H = shape
    return 2.0 * T * B * (I + H) * GATES[cell] * H


def _data(shape, dtype, seed=0):
    T, B, I, _ = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, I)).astype(dtype)
    target = rng.standard_normal((T, B, 1)).astype(dtype)
    return x, target


def _numpy_system(cell, shape, dtype, naive: bool):
    """gatednp's layer, or the naive loop on the same parameters; gatednp's head, loss, Adam."""
    _, _, I, H = shape
    x, target = _data(shape, dtype)
    layer = getattr(gn, cell)(I, H, dtype=dtype, rng=0)
    head = gn.Linear(H, 1, dtype=dtype, rng=1)
    rnn = Naive(cell, layer.parameters()) if naive else layer
    opt = gn.Adam(layer.parameters() + head.parameters(), lr=1e-3)

    def train():
        y = rnn(x) if naive else rnn(x)[0]
        pred = head(y)
        _, dpred = gn.mse_loss(pred, target)
        rnn.backward(head.backward(dpred))
        opt.step()
        opt.zero_grad()

    def infer():  # eval mode: no cache
        rnn.eval()
        try:
            return rnn(x)
        finally:
            rnn.train()

    return {"train": train, "infer": infer, "layer": layer}


def gatednp_system(cell, shape, dtype):
    return _numpy_system(cell, shape, dtype, naive=False)


def naive_system(cell, shape, dtype):
    return _numpy_system(cell, shape, dtype, naive=True)


def torch_system(cell, shape, dtype):
    """torch.nn.LSTM/GRU + Linear, MSE, torch.optim.Adam (its CPU defaults)."""
    import torch

    _, _, I, H = shape
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    x, target = (torch.from_numpy(a) for a in _data(shape, dtype))
    torch.manual_seed(0)
    layer = getattr(torch.nn, cell)(I, H).to(tdtype)
    head = torch.nn.Linear(H, 1).to(tdtype)
    opt = torch.optim.Adam(list(layer.parameters()) + list(head.parameters()), lr=1e-3)

    def train():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(head(layer(x)[0]), target)
        loss.backward()
        opt.step()

    def infer():
        with torch.inference_mode():
            return layer(x)

    return {"train": train, "infer": infer}


SYSTEMS = {"gatednp": gatednp_system, "torch": torch_system, "naive": naive_system}


def cache_bytes(cell, shape, dtype) -> tuple[int, int]:
    """(bytes BPTT must store, bytes gatednp's cache holds) for one layer's forward.

    What must be stored: LSTM x, h_0..h_T, c_0..c_T, the gates, tanh(c_t); GRU x, h_0..h_T,
    the gates and a_t = W_hn h_{t-1} + b_hn.
    """
    T, B, I, H = shape
    size = np.dtype(dtype).itemsize
    if cell == "LSTM":
        needed = T * B * I + 2 * (T + 1) * B * H + T * B * 4 * H + T * B * H
    else:
        needed = T * B * I + (T + 1) * B * H + T * B * 3 * H + T * B * H
    layer = getattr(gn, cell)(I, H, dtype=dtype, rng=0)
    held, seen = 0, set()
    for cache in layer.run(_data(shape, dtype)[0], keep_cache=True, dropout=False)[2].caches:
        for value in vars(cache).values():
            if isinstance(value, np.ndarray):
                base = value if value.base is None else value.base
                if id(base) not in seen:
                    seen.add(id(base))
                    held += base.nbytes
    return needed * size, held
