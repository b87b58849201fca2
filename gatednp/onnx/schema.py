"""What the ONNX operators and gatednp's layers share: op names, gate counts, dtypes, activations.

The ONNX-only options of gatednp's layers (activations, activation_alpha, activation_beta,
clip, reverse) are looked up in the installed gatednp: the mapping of one that it lacks is a
clear error, never a silent drop (`has_option`).
"""

from __future__ import annotations

import numpy as np

from ..activations import ONNX_ACTIVATIONS as FUNCTIONS  # name: (α default, β default, f, f')
from ..gates import CANONICAL
from ..recurrent import GRU, LSTM, RNN

__all__ = [
    "OPSET", "IR_VERSION", "EXTRA", "require_onnx", "OPS", "LAYERS", "GATES", "DEFAULT_ACTIVATIONS",
    "ONNX_ACTIVATIONS", "activation_key", "UnsupportedError", "attributes",
    "to_onnx_activations", "from_onnx_activations",
]  # fmt: skip

# Opset 21: the newest that every onnxruntime the extra allows (>= 1.18) runs; IR version 10
# is the one onnx 1.16 writes, so the files load there too.
OPSET = 21
IR_VERSION = 10
EXTRA = 'pip install "gatednp[onnx]"'

OPS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}  # kind name -> ONNX op_type
LAYERS = {"LSTM": LSTM, "GRU": GRU, "RNN": RNN}
GATES = {cell.upper(): len(order) for cell, order in CANONICAL.items()}  # blocks per operator
DEFAULT_ACTIVATIONS = {
    "LSTM": ("sigmoid", "tanh", "tanh"),
    "GRU": ("sigmoid", "tanh"),
    "RNN": ("tanh",),
}
# gatednp's activation names (lower case, no underscores) -> ONNX's spelling; gatednp's
# "identity" is written as ONNX's Affine with α = 1, β = 0
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
    """A node's attributes as Python values: strings decoded, and floats (which ONNX stores as
    float32) as the shortest decimal that rounds to them: 0.3, not 0.30000001192092896."""
    onnx = require_onnx()

    def text(v):
        if isinstance(v, float):
            return float(np.format_float_positional(np.float32(v), unique=True))
        return v.decode() if isinstance(v, bytes) else v

    values = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    return {k: [text(x) for x in v] if isinstance(v, list) else text(v) for k, v in values.items()}


def to_onnx_activations(
    names: tuple[str, ...], alpha: tuple | None, beta: tuple | None
) -> tuple[list[str], list[float], list[float]]:
    """gatednp's activations (α and β one entry per function, None for the default) as ONNX's
    attributes for one direction: the names, and the α and β lists, which hold values only for
    the functions that take them (every one written out, defaults included)."""
    n = len(names)
    onnx_names, onnx_alpha, onnx_beta = [], [], []
    for name, a, b in zip(names, alpha or (None,) * n, beta or (None,) * n):
        key = activation_key(name)
        if key == "identity":  # not in ONNX's list: Affine(x) = αx + β
            onnx_names.append("Affine")
            onnx_alpha.append(1.0)
            onnx_beta.append(0.0)
            continue
        if key not in ONNX_ACTIVATIONS or key not in FUNCTIONS:
            raise UnsupportedError(
                f"activation {name!r} has no ONNX name ({sorted(ONNX_ACTIVATIONS)})"
            )
        onnx_names.append(ONNX_ACTIVATIONS[key])
        default_alpha, default_beta = FUNCTIONS[key][:2]
        if default_alpha is not None:
            onnx_alpha.append(float(default_alpha if a is None else a))
        if default_beta is not None:
            onnx_beta.append(float(default_beta if b is None else b))
    return onnx_names, onnx_alpha, onnx_beta


def from_onnx_activations(
    names: list[str], alpha: list[float], beta: list[float], label: str
) -> tuple[list[str], list, list]:
    """ONNX's activations attributes (every direction's) as gatednp's: canonical names, and α
    and β one entry per function, read from ONNX's lists in order by the functions that take
    them (None past their end: ONNX's default, as onnxruntime reads them)."""
    keys, per_alpha, per_beta = [], [], []
    alphas, betas = iter(alpha), iter(beta)
    for name in names:
        key = activation_key(name)
        if key not in FUNCTIONS or key == "identity":
            raise UnsupportedError(
                f"node {label}: attribute activations={list(names)!r} names {name!r}, which is "
                f"not one of ONNX's ({', '.join(ONNX_ACTIVATIONS.values())})"
            )
        default_alpha, default_beta = FUNCTIONS[key][:2]
        keys.append(key)
        per_alpha.append(next(alphas, None) if default_alpha is not None else None)
        per_beta.append(next(betas, None) if default_beta is not None else None)
    return keys, per_alpha, per_beta
