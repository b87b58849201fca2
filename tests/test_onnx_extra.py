"""Without the onnx extra: importing gatednp works and never imports onnx; gn.onnx says which
extra to install. These run whether or not onnx is installed (its absence is faked)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import gatednp as gn


def test_importing_gatednp_does_not_import_onnx():
    code = "import sys, gatednp, gatednp.onnx; print('onnx' in sys.modules, 'onnxruntime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


@pytest.mark.parametrize(
    "call", [lambda: gn.onnx.export(gn.LSTM(2, 3)), lambda: gn.onnx.load("model.onnx")]
)
def test_without_onnx_the_error_names_the_extra(call, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "gatednp\[onnx\]"'):
        call()
