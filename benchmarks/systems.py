"""The systems under test: each builds, for one configuration, a training step and an inference
forward as zero-argument callables over fixed random data.

A training step is: the recurrent layer over (T, B, I), a Linear head (H -> 1) on every output,
the MSE loss against a fixed target, backward through both, one Adam update (and zero_grad).
Inference is the recurrent layer alone in eval mode (no cache, no autograd).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

import gatednp as gn

from .floor import Floor
from .naive import Naive


class Shape(NamedTuple):
    """A benchmark point: T steps, B batch, I inputs, H hidden; layers and directions."""

    T: int
    B: int
    I: int
    H: int
    layers: int = 1
    bidirectional: bool = False


SHAPES = {
    # the four reference shapes
    "tiny": Shape(10, 2, 1, 32),
    "small": Shape(50, 32, 32, 128),
    "medium": Shape(100, 64, 128, 256),
    "large": Shape(50, 128, 512, 512),
    # what users run: the course, the adding task, d2l's char LM, traffic, a stream
    "course": Shape(2, 20, 1, 50),
    "adding": Shape(100, 64, 2, 64),
    "charlm": Shape(35, 32, 28, 256),
    "traffic": Shape(12, 256, 1, 64),
    "stream": Shape(500, 1, 8, 64),
    # stacked and bidirectional
    "stack2": Shape(50, 32, 32, 128, layers=2),
    "stack3": Shape(35, 32, 28, 256, layers=3),
    "bi": Shape(50, 32, 32, 128, bidirectional=True),
    "bi-stack2": Shape(50, 32, 32, 128, layers=2, bidirectional=True),
    # a batch-size sweep at the small shape's T, I, H
    **{f"batch{B}": Shape(50, B, 32, 128) for B in (1, 4, 16, 64, 256)},
    # hidden size × batch size, for the heatmaps; T and H alone, for the growth exponents
    **{f"H{H}-B{B}": Shape(20, B, 32, H) for H in (32, 64, 128, 256) for B in (1, 8, 64, 256)},
    **{f"T{T}": Shape(T, 32, 32, 128) for T in (10, 30, 100, 300)},
    **{f"H{H}": Shape(20, 32, 32, H) for H in (32, 64, 128, 256, 512)},
}
SHAPE_SETS = {
    "reference": ["tiny", "small", "medium", "large"],
    "users": ["course", "adding", "charlm", "traffic", "stream"],
    "stacked": ["stack2", "stack3", "bi", "bi-stack2"],
    "sweep": [f"batch{B}" for B in (1, 4, 16, 64, 256)],
    "grid": [f"H{H}-B{B}" for H in (32, 64, 128, 256) for B in (1, 8, 64, 256)],
    "growth": [f"T{T}" for T in (10, 30, 100, 300)] + [f"H{H}" for H in (32, 64, 128, 256, 512)],
}
GATES = {"LSTM": 4, "GRU": 3}


def forward_flops(cell: str, shape: Shape) -> float:
    """GEMM FLOPs of one forward pass: 2·T·B·(I+H)·G·H per layer and direction (the layers
    above the first read D·H inputs)."""
    T, B, I, H, L, bi = shape
    D = 2 if bi else 1
    per_layer = [I] + [D * H] * (L - 1)
    return sum(2.0 * T * B * (i + H) * GATES[cell] * H * D for i in per_layer)


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((shape.T, shape.B, shape.I)).astype(dtype)
    target = rng.standard_normal((shape.T, shape.B, 1)).astype(dtype)
    return x, target


class Stack:
    """Layers and directions of one-direction loops (Naive, Floor), stacked as torch does:
    direction 1 runs on the reversed sequence, the directions' outputs are concatenated."""

    def __init__(self, loop, cell: str, layer) -> None:
        D = layer.num_directions
        self.D = D
        self.loops = [loop(cell, _own(layer.weights(k))) for k in range(layer.num_layers * D)]
        self.training = True

    def train(self) -> None:
        for m in self.loops:
            m.train()

    def eval(self) -> None:
        for m in self.loops:
            m.eval()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        for k in range(0, len(self.loops), self.D):
            y = self.loops[k](x)
            if self.D == 2:
                y = np.concatenate([y, self.loops[k + 1](x[::-1])[::-1]], axis=2)
            x = y
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        H = dy.shape[2] // self.D
        for k in reversed(range(0, len(self.loops), self.D)):
            dx = self.loops[k].backward(np.ascontiguousarray(dy[..., :H]))
            if self.D == 2:
                dx = dx + self.loops[k + 1].backward(np.ascontiguousarray(dy[::-1, :, H:]))[::-1]
            dy = dx
        return dy


def _own(w) -> list:
    """A layer direction's (weight_ih, weight_hh, bias_ih, bias_hh) Parameters."""
    return [w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh]


def _numpy_system(cell, shape, dtype, loop=None):
    """gatednp's layer, or a one-direction loop (naive, floor) stacked on its parameters;
    gatednp's head, loss and Adam in every case."""
    x, target = _data(shape, dtype)
    layer = getattr(gn, cell)(
        shape.I, shape.H, shape.layers, bidirectional=shape.bidirectional, dtype=dtype, rng=0
    )
    head = gn.Linear(shape.H * layer.num_directions, 1, dtype=dtype, rng=1)
    rnn = layer if loop is None else Stack(loop, cell, layer)
    opt = gn.Adam(layer.parameters() + head.parameters(), lr=1e-3)

    def train():
        y = rnn(x) if loop else rnn(x)[0]
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
    return _numpy_system(cell, shape, dtype)


def naive_system(cell, shape, dtype):
    return _numpy_system(cell, shape, dtype, Naive)


def floor_system(cell, shape, dtype):
    return _numpy_system(cell, shape, dtype, Floor)


def torch_system(cell, shape, dtype):
    """torch.nn.LSTM/GRU + Linear, MSE, torch.optim.Adam (its CPU defaults)."""
    import torch

    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    x, target = (torch.from_numpy(a) for a in _data(shape, dtype))
    torch.manual_seed(0)
    D = 2 if shape.bidirectional else 1
    layer = getattr(torch.nn, cell)(
        shape.I, shape.H, shape.layers, bidirectional=shape.bidirectional
    ).to(tdtype)
    head = torch.nn.Linear(shape.H * D, 1).to(tdtype)
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


SYSTEMS = {
    "gatednp": gatednp_system, "torch": torch_system, "naive": naive_system, "floor": floor_system,
}  # fmt: skip


def cache_bytes(cell, shape, dtype) -> tuple[int, int]:
    """(bytes BPTT must store, bytes gatednp's cache holds) for one layer's forward.

    What must be stored: LSTM x, h_0..h_T, c_0..c_T, the gates, tanh(c_t); GRU x, h_0..h_T,
    the gates and a_t = W_hn h_{t-1} + b_hn.
    """
    T, B, I, H = shape[:4]
    size = np.dtype(dtype).itemsize
    if cell == "LSTM":
        needed = T * B * I + 2 * (T + 1) * B * H + T * B * 4 * H + T * B * H
    else:
        needed = T * B * I + (T + 1) * B * H + T * B * 3 * H + T * B * H
    layer = getattr(gn, cell)(I, H, dtype=dtype, rng=0)
    held, seen = 0, set()
    for cache in layer.run(_data(Shape(*shape[:4]), dtype)[0], keep_cache=True, dropout=False)[
        2
    ].caches:
        for value in vars(cache).values():
            if isinstance(value, np.ndarray):
                base = value if value.base is None else value.base
                if id(base) not in seen:
                    seen.add(id(base))
                    held += base.nbytes
    return needed * size, held
