"""ONNX export and import: gatednp layers as the standard LSTM, GRU and RNN operators, and back.

    gn.onnx.export(model, path=None, *, lengths=False, initial_state=False, opset=21)
        -> onnx.ModelProto (written atomically to `path` when given)
    gn.onnx.load(path_or_model, *, weights=None)
        -> gn.LSTM / gn.GRU / gn.RNN (layers stacked as num_layers), or a course model

`model` is a gn.LSTM, gn.GRU or gn.RNN (any num_layers, bidirectional, batch_first), or a
course model (gn.LSTMModel, gn.GRUModel, a SequenceModel): its layer, then the linear head on
the last step (a Gemm) or on every step (MatMul + Add). One ONNX node per layer carries both
directions; between layers Squeeze (one direction) or Transpose + Reshape (two) turn ONNX's
Y (T, D, B, H) into torch's (T, B, D·H). ONNX's gate orders (LSTM i o f c, GRU z r h) and its
bias B = [Wb | Rb] are converted with gn.convert_gates. docs/onnx.md has the table of every
attribute and input, and what each maps to or why it is refused.

The `onnx` package (and `onnxruntime`, to run what is exported) is the optional extra
`pip install "gatednp[onnx]"`; it is imported only when export or load is called.
"""

from __future__ import annotations

from .reader import load
from .schema import OPSET
from .writer import export

__all__ = ["export", "load", "OPSET"]
