"""Gate orders across the ecosystem, and `convert_gates` between them.

A fused recurrent weight stacks one block of rows per gate, and every library stacks them in
its own order. Converting by hand is the classic silent bug: the shapes still fit, the model
runs, and it learns nothing. gatednp names the blocks with torch's letters — LSTM i, f, g, o
(g the candidate cell, which ONNX and Keras call c) and GRU r, z, n (n the candidate, their h):

    cell   order     blocks        where
    lstm   torch     i f g o       torch.nn.LSTM, gatednp
    lstm   onnx      i o f c       the ONNX LSTM operator (W, R, B, and P = [p_i, p_o, p_f])
    lstm   keras     i f c o       Keras LSTM kernel / recurrent_kernel / bias (gates on the last
                                   axis: axis=-1)
    lstm   cs231n    i f o g       Stanford CS231n's lstm_step_forward
    lstm   dlfs2     f g i o       "Deep Learning from Scratch 2" (Saito), class LSTM
    gru    torch     r z n         torch.nn.GRU, gatednp
    gru    onnx      z r h         the ONNX GRU operator
    gru    keras     z r h         Keras GRU (its bias is (2, 3H) with reset_after=True)

`convert_gates(W, from_order, to_order, cell=...)` takes either of these names or an explicit
order spelled in letters ("iofc", "ifgo", "zrh"; c is g's other name, h is n's).
"""

from __future__ import annotations

import numpy as np

__all__ = ["GATE_ORDERS", "convert_gates", "gate_order"]

CANONICAL = {"lstm": "ifgo", "gru": "rzn", "rnn": "h"}
ALIASES = {"lstm": {"c": "g"}, "gru": {"h": "n"}, "rnn": {}}
GATE_ORDERS: dict[str, dict[str, str]] = {
    "lstm": {"torch": "ifgo", "onnx": "iofg", "keras": "ifgo", "cs231n": "ifog", "dlfs2": "fgio"},
    "gru": {"torch": "rzn", "onnx": "zrn", "keras": "zrn"},
    "rnn": {"torch": "h", "onnx": "h", "keras": "h"},
}


def is_named(order: str) -> bool:
    """Whether `order` is one of GATE_ORDERS' names ("onnx"), not letters ("iofc")."""
    return any(str(order).lower() in orders for orders in GATE_ORDERS.values())


def gate_order(order: str, cell: str | None = None) -> tuple[str, str]:
    """(cell, order in torch's letters) of a named order ("onnx", with `cell`) or of an
    explicit one ("iofc"; its letters tell the cell when `cell` is None)."""
    if cell is not None and cell not in CANONICAL:
        raise ValueError(f"cell must be one of {sorted(CANONICAL)}, got {cell!r}")
    if not isinstance(order, str):
        raise TypeError(f"a gate order is a str, got {type(order).__name__}")
    named = order.lower()
    if is_named(named):
        if cell is None:
            raise ValueError(
                f"the named order {order!r} differs between cells: pass cell='lstm', 'gru' or 'rnn'"
            )
        if named not in GATE_ORDERS[cell]:
            raise ValueError(
                f"no {cell} order named {order!r}; the {cell} orders are {sorted(GATE_ORDERS[cell])}"
            )
        return cell, GATE_ORDERS[cell][named]
    for name in [cell] if cell is not None else list(CANONICAL):
        letters = "".join(ALIASES[name].get(ch, ch) for ch in named)
        if sorted(letters) == sorted(CANONICAL[name]):
            return name, letters
    cells = [cell] if cell is not None else list(CANONICAL)
    known = ", ".join(f"{n}: {CANONICAL[n]} or {sorted(GATE_ORDERS[n])}" for n in cells)
    raise ValueError(
        f"{order!r} is neither a named gate order nor a permutation of a cell's gate letters "
        f"({known})"
    )


def convert_gates(
    w: np.ndarray, from_order: str, to_order: str, *, cell: str | None = None, axis: int = 0
) -> np.ndarray:
    """A copy of `w` with its gate blocks along `axis` moved from `from_order` to `to_order`.

    Orders are names (with `cell`) or letters; gates are stacked along `axis` (0 for torch and
    ONNX weights and biases, -1 for Keras' kernels and biases).

    >>> import numpy as np, gatednp as gn
    >>> w = np.repeat(np.arange(4.0), 2)          # LSTM bias, H = 2, blocks i f g o = 0 1 2 3
    >>> gn.convert_gates(w, "torch", "onnx", cell="lstm")   # ONNX wants i o f c
    array([0., 0., 3., 3., 1., 1., 2., 2.])
    >>> gn.convert_gates(w, "ifgo", "fgio")      # letters tell the cell
    array([1., 1., 2., 2., 0., 0., 3., 3.])
    """
    cell_from, src = gate_order(from_order, cell)
    cell_to, dst = gate_order(to_order, cell_from if cell is None and is_named(to_order) else cell)
    if cell_from != cell_to:
        raise ValueError(f"{from_order!r} is an order of {cell_from}, {to_order!r} of {cell_to}")
    w = np.asarray(w)
    if w.ndim == 0:
        raise ValueError("convert_gates needs an array with a gate axis, got a scalar")
    rows = w.shape[axis]
    if rows % len(src):
        raise ValueError(
            f"axis {axis} of a {cell_from} weight holds {len(src)} gate blocks of equal size; "
            f"its length {rows} (shape {w.shape}) is not a multiple of {len(src)}"
        )
    blocks = dict(zip(src, np.split(w, len(src), axis=axis)))
    return np.concatenate([blocks[g] for g in dst], axis=axis)
