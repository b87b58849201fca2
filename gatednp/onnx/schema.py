"""What the ONNX operators and gatednp's layers share: op names, gate counts, dtypes, activations.

The ONNX-only options of gatednp's layers (activations, activation_alpha, activation_beta,
clip, reverse) are looked up in the installed gatednp: the mapping of one that it lacks is a
clear error, never a silent drop (`has_option`).
"""

from __future__ import annotations

import inspect

import numpy as np

from ..recurrent import GRU, LSTM, RNN
from ..registry import KINDS

__all__ = [
    "OPSET", "IR_VERSION", "EXTRA", "require_onnx", "OPS", "LAYERS", "GATES", "DEFAULT_ACTIVATIONS",
    "ONNX_ACTIVATIONS", "activation_key", "has_option", "UnsupportedError", "attributes",
]  # fmt: skip

# Opset 21: the newest that every onnxruntime the extra allows (>= 1.18) runs; IR version 10
# is the one onnx 1.16 writes, so the files load there too.
OPSET = 21
IR_VERSION = 10
EXTRA = 'pip install "gatednp[onnx]"'

OPS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}  # kind name -> ONNX op_type
LAYERS = {"LSTM": LSTM, "GRU": GRU, "RNN": RNN}
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
DEFAULT_ACTIVATIONS = {
    "LSTM": ("sigmoid", "tanh", "tanh"),
    "GRU": ("sigmoid", "tanh"),
    "RNN": ("tanh",),
}
# gatednp's activation names (lower case, no underscores) -> ONNX's spelling
ONNX_ACTIVATIONS = {
    name.lower(): name
    for name in (
        "Sigmoid", "Tanh", "Relu", "HardSigmoid", "Affine", "LeakyRelu", "ThresholdedRelu",
        "ScaledTanh", "Elu", "Softsign", "Softplus",
    )
}  # fmt: skip


class UnsupportedError(ValueError):
    """An ONNX graph or a gatednp model that the other side cannot express."""


def require_onnx():
    """The `onnx` package, or an ImportError naming the extra that installs it."""
    try:
        import onnx
    except ImportError as err:
        raise ImportError(
            f"gatednp.onnx needs the onnx package, which is not installed: {EXTRA} "
            "(onnx, and onnxruntime to run the exported files)"
        ) from err
    return onnx


def activation_key(name: str) -> str:
    """An activation name as gatednp compares them: lower case, underscores dropped."""
    return str(name).lower().replace("_", "")


def has_option(op: str, option: str) -> bool:
    """Whether the installed gatednp's layer for `op` takes `option` (a cell option such as
    clip or activations, or a layer keyword such as reverse)."""
    kind = KINDS[op.lower()]
    return option in kind.options or option in inspect.signature(LAYERS[op]).parameters


def onnx_dtype(dtype: np.dtype) -> int:
    """The ONNX TensorProto element type of a float32 / float64 layer."""
    onnx = require_onnx()
    types = {
        np.dtype(np.float32): onnx.TensorProto.FLOAT,
        np.dtype(np.float64): onnx.TensorProto.DOUBLE,
    }
    if np.dtype(dtype) not in types:
        raise UnsupportedError(f"ONNX export supports float32 and float64 layers, not {dtype}")
    return types[np.dtype(dtype)]


def attributes(node) -> dict:
    """A node's attributes as Python values (strings decoded)."""
    onnx = require_onnx()

    def text(v):
        return v.decode() if isinstance(v, bytes) else v

    values = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    return {k: [text(x) for x in v] if isinstance(v, list) else text(v) for k, v in values.items()}
