"""gn.onnx.load reads what torch.onnx.export (the TorchScript exporter, dynamo=False, which runs
offline) writes for torch.nn.LSTM / GRU / RNN: zero states built by Expand, initial states
sliced per layer, Transpose + Reshape between layers, and a Linear on the last step."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

import gatednp as gn

pytest.importorskip("onnx", reason="the onnx extra is not installed")
torch = pytest.importorskip("torch", reason="needs torch to export")
from gatednp.onnx.schema import UnsupportedError  # noqa: E402
from gatednp.torch_compat import from_torch  # noqa: E402


class LastStep(torch.nn.Module):
    """The course model in torch: a recurrent layer and a Linear on its last step."""

    def __init__(self, rnn, out):
        super().__init__()
        self.rnn, self.fc = rnn, torch.nn.Linear(rnn.hidden_size * (1 + rnn.bidirectional), out)

    def forward(self, x, *state):
        y, _ = self.rnn(x, *state)
        return self.fc(y[:, -1] if self.rnn.batch_first else y[-1])


class LastState(LastStep):
    """The other common head: the Linear on h_n[-1], the last layer's final state."""

    def __init__(self, rnn, out):
        super().__init__(rnn, out)
        self.fc = torch.nn.Linear(rnn.hidden_size, out)

    def forward(self, x):
        _, state = self.rnn(x)
        return self.fc((state[0] if isinstance(state, tuple) else state)[-1])


class WithState(torch.nn.Module):
    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, h0, c0=None):
        return self.rnn(x, h0 if c0 is None else (h0, c0))


def torch_export(module, args, names) -> bytes:
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        try:
            torch.onnx.export(module.eval(), args, f, dynamo=False, input_names=names)
        except Exception as err:  # pragma: no cover - a torch without the TorchScript exporter
            pytest.skip(f"torch.onnx.export(dynamo=False) failed here: {err}")
    return f.getvalue()


RNNS = {
    "lstm-2-bi-batch-first": lambda: torch.nn.LSTM(3, 4, 2, batch_first=True, bidirectional=True),
    "gru-3": lambda: torch.nn.GRU(3, 4, 3),
    "rnn-relu-2-bi": lambda: torch.nn.RNN(3, 4, 2, nonlinearity="relu", bidirectional=True),
}


@pytest.mark.parametrize("name", sorted(RNNS))
def test_torch_exports_load_and_match_torch(name):
    torch.manual_seed(0)
    rnn = RNNS[name]()
    x = torch.randn(2, 5, 3)
    D, B = 1 + rnn.bidirectional, 2 if rnn.batch_first else 5
    states = [
        torch.randn(D * rnn.num_layers, B, 4)
        for _ in range(2 if isinstance(rnn, torch.nn.LSTM) else 1)
    ]
    layer = gn.onnx.load(
        torch_export(WithState(rnn), (x, *states), ["x", "h0", "c0"][: 1 + len(states)])
    )
    assert repr(layer) == repr(from_torch(rnn))
    with torch.no_grad():
        want = rnn(x, tuple(states) if len(states) == 2 else states[0])
    got = layer(
        x.numpy(), tuple(s.numpy() for s in states) if len(states) == 2 else states[0].numpy()
    )
    np.testing.assert_allclose(got[0], want[0].numpy(), rtol=1e-5, atol=1e-5)
    heads = [LastStep(rnn, 2)] + ([LastState(rnn, 2)] if not rnn.bidirectional else [])
    for model in heads:
        loaded = gn.onnx.load(torch_export(model, (x,), ["x"]))
        with torch.no_grad():
            np.testing.assert_allclose(loaded(x.numpy()), model(x).numpy(), rtol=1e-5, atol=1e-5)


def test_a_head_on_the_reverse_directions_final_state_is_refused():
    """h_n[-1] of a bidirectional layer is the backward direction's state after reading the
    whole sequence backwards, not the output at the last step: no course model computes it."""
    rnn = torch.nn.GRU(3, 4, bidirectional=True)
    with pytest.raises(UnsupportedError, match="Gather on a tensor with axes"):
        gn.onnx.load(torch_export(LastState(rnn, 2), (torch.randn(5, 2, 3),), ["x"]))
