"""Every documented misuse of the public API raises ValueError/TypeError with gatednp's message.

Each case is (what is called, the exception type, a regex of the message). `_raises` also checks
that the error was raised by gatednp's own code, not by NumPy deep inside a computation.
"""

import os
import re
import traceback
import warnings

import numpy as np
import pytest

import gatednp as gn

GATEDNP = os.path.dirname(gn.__file__)


def _raises(call, exc, match):
    with pytest.raises(exc, match=match) as info:
        call()
    frame = traceback.extract_tb(info.value.__traceback__)[-1]
    assert frame.filename.startswith(GATEDNP), f"raised outside gatednp: {frame.filename}"
    return info.value


class _FakeTensor:
    """What a torch tensor looks like to gatednp (no torch needed)."""

    def detach(self):
        return self

    def numpy(self):
        return np.zeros((5, 2, 3))


def _x(*shape, dtype=np.float64):
    return np.zeros(shape, dtype=dtype)


def lstm(**kw):
    return gn.LSTM(3, 4, rng=0, **kw)


def gru(**kw):
    return gn.GRU(3, 4, rng=0, **kw)


def after_forward(module, x, *args, **kw):
    module(x, *args, **kw)
    return module


# (id, call, exception, message regex)
CASES = [
    # input rank, feature size, dtype, emptiness
    ("lstm-rank-4", lambda: lstm()(_x(2, 2, 2, 3)), ValueError, "Expected input to be 2D or 3D, got 4D"),
    ("lstm-rank-1", lambda: lstm()(_x(3)), ValueError, "Expected input to be 2D or 3D, got 1D"),
    ("gru-rank-0", lambda: gru()(np.array(1.0)), ValueError, "Expected input to be 2D or 3D, got 0D"),
    ("lstm-features", lambda: lstm()(_x(5, 2, 5)), ValueError, re.escape("input.size(-1) must be equal to input_size. Expected 3, got 5")),
    ("gru-features-batch-first", lambda: gru(batch_first=True)(_x(2, 5, 4)), ValueError, "Expected 3, got 4"),
    ("lstm-int-input", lambda: lstm()(_x(5, 2, 3, dtype=np.int64)), TypeError, "input must be a floating-point array, got dtype int64"),
    ("lstm-bool-input", lambda: lstm()(_x(5, 2, 3, dtype=bool)), TypeError, "got dtype bool"),
    ("lstm-complex-input", lambda: lstm()(_x(5, 2, 3, dtype=complex)), TypeError, "got dtype complex128"),
    ("lstm-list-input", lambda: lstm()([[[0.0, 0.0, 0.0]]]), TypeError, "input must be a NumPy array, got list"),
    ("lstm-float32-into-float64", lambda: lstm()(_x(5, 2, 3, dtype=np.float32)), ValueError, re.escape("input has dtype float32 but the module's parameters are float64; convert one of them (no silent cast): input.astype(np.float64), or build the layers with dtype=np.float32")),
    ("lstm-torch-tensor", lambda: lstm()(_FakeTensor()), TypeError, re.escape("input must be a NumPy array, got _FakeTensor: pass input.detach().numpy()")),
    ("lstm-list", lambda: lstm()([[[0.0] * 3]]), TypeError, re.escape("input must be a NumPy array, got list: pass np.asarray(input, dtype=...)")),
    ("gru-float64-into-float32", lambda: gru(dtype=np.float32)(_x(5, 2, 3)), ValueError, "input has dtype float64 but the module's parameters are float32"),
    # initial states
    ("lstm-state-not-pair", lambda: lstm()(_x(5, 2, 3), _x(1, 2, 4)), TypeError, r"LSTM expects hx to be a pair \(h, c\), got ndarray"),
    ("lstm-state-triple", lambda: lstm()(_x(5, 2, 3), (_x(1, 2, 4),) * 3), TypeError, "got a tuple of 3"),
    ("gru-state-pair", lambda: gru()(_x(5, 2, 3), (_x(1, 2, 4), _x(1, 2, 4))), TypeError, "GRU expects hx to be a single array, got a tuple"),
    ("lstm-h0-layers", lambda: lstm()(_x(5, 2, 3), (_x(2, 2, 4), _x(1, 2, 4))), ValueError, re.escape("Expected h0 size (1, 2, 4), got (2, 2, 4)")),
    ("lstm-c0-hidden", lambda: lstm()(_x(5, 2, 3), (_x(1, 2, 4), _x(1, 2, 5))), ValueError, re.escape("Expected c0 size (1, 2, 4), got (1, 2, 5)")),
    ("lstm-h0-batch", lambda: lstm()(_x(5, 2, 3), (_x(1, 3, 4), _x(1, 2, 4))), ValueError, re.escape("Expected h0 size (1, 2, 4), got (1, 3, 4)")),
    ("lstm-proj-h0-size", lambda: gn.LSTM(3, 4, proj_size=2)(_x(5, 2, 3), (_x(1, 2, 4), _x(1, 2, 4))), ValueError, re.escape("Expected h0 size (1, 2, 2), got (1, 2, 4)")),
    ("gru-h0-bidirectional", lambda: gru(bidirectional=True)(_x(5, 2, 3), _x(1, 2, 4)), ValueError, re.escape("Expected h0 size (2, 2, 4), got (1, 2, 4)")),
    ("gru-h0-unbatched", lambda: gru()(_x(5, 3), _x(1, 2, 4)), ValueError, re.escape("Expected h0 size (1, 4), got (1, 2, 4)")),
    ("lstm-h0-none-in-pair", lambda: lstm()(_x(5, 2, 3), (None, _x(1, 2, 4))), TypeError, "h0 must be a NumPy array, got NoneType"),
    ("gru-h0-dtype", lambda: gru()(_x(5, 2, 3), _x(1, 2, 4, dtype=np.float32)), ValueError, "h0 has dtype float32"),
    ("gru-h0-int", lambda: gru()(_x(5, 2, 3), _x(1, 2, 4, dtype=int)), TypeError, "h0 must be a floating-point array"),
    # lengths
    ("lengths-count", lambda: lstm()(_x(5, 2, 3), lengths=[5, 4, 3]), ValueError, r"lengths must be a 1-D array of 2 ints .* got shape \(3,\)"),
    ("lengths-too-long", lambda: gru()(_x(5, 2, 3), lengths=[6, 2]), ValueError, r"lengths must lie in \[0, T=5\], got min 2 and max 6"),
    ("lengths-negative", lambda: lstm()(_x(5, 2, 3), lengths=[5, -1]), ValueError, r"lengths must lie in \[0, T=5\], got min -1"),
    ("lengths-float", lambda: gru()(_x(5, 2, 3), lengths=[5.0, 2.0]), ValueError, "dtype float64"),
    ("lengths-2d", lambda: gru()(_x(5, 2, 3), lengths=[[5, 2]]), ValueError, r"got shape \(1, 2\)"),
    ("lengths-unbatched", lambda: gru()(_x(5, 3), lengths=[5]), ValueError, "lengths needs batched input"),
    # constructor arguments
    ("input-size-0", lambda: gn.LSTM(0, 4), ValueError, "input_size must be greater than zero, got 0"),
    ("hidden-size-negative", lambda: gn.GRU(3, -1), ValueError, "hidden_size must be greater than zero, got -1"),
    ("hidden-size-float", lambda: gn.LSTM(3, 4.0), TypeError, "hidden_size must be an int, got float"),
    ("num-layers-0", lambda: gn.LSTM(3, 4, 0), ValueError, "num_layers must be greater than zero, got 0"),
    ("num-layers-bool", lambda: gn.GRU(3, 4, True), TypeError, "num_layers must be an int, got bool"),
    ("dropout-1", lambda: gn.LSTM(3, 4, 2, dropout=1.0), ValueError, r"dropout must be a number in \[0, 1\), got 1.0"),
    ("dropout-negative", lambda: gn.GRU(3, 4, 2, dropout=-0.1), ValueError, r"got -0.1"),
    ("dropout-nan", lambda: gn.GRU(3, 4, 2, dropout=float("nan")), ValueError, r"got nan"),
    ("dropout-str", lambda: gn.GRU(3, 4, 2, dropout="0.5"), TypeError, r"dropout must be a number in \[0, 1\), got str"),
    ("proj-size-negative", lambda: gn.LSTM(3, 4, proj_size=-1), ValueError, "proj_size must be zero or positive, got -1"),
    ("proj-size-equal-hidden", lambda: gn.LSTM(3, 4, proj_size=4), ValueError, "proj_size has to be smaller than hidden_size, got 4 >= 4"),
    ("proj-size-float", lambda: gn.LSTM(3, 4, proj_size=1.5), TypeError, "proj_size must be an int, got float"),
    ("dtype-int", lambda: gn.LSTM(3, 4, dtype=np.int32), TypeError, "dtype must be a floating-point dtype"),
    ("dtype-unknown", lambda: gn.GRU(3, 4, dtype="float3"), TypeError, "dtype must be a floating-point dtype .* got 'float3'"),
    ("bidirectional-str", lambda: gn.GRU(3, 4, bidirectional="yes"), TypeError, "bidirectional must be a bool, got str"),
    ("rng-str", lambda: gn.LSTM(3, 4, rng="seed"), TypeError, "rng must be an np.random.Generator, an int seed or None, got str"),
    ("cell-input-size-0", lambda: gn.LSTMCell(0, 4), ValueError, "input_size must be greater than zero, got 0"),
    ("cell-dtype-int", lambda: gn.GRUCell(3, 4, dtype=np.int64), TypeError, "dtype must be a floating-point dtype"),
    ("linear-out-0", lambda: gn.Linear(3, 0), ValueError, "out_features must be greater than zero, got 0"),
    ("linear-dtype-int", lambda: gn.Linear(3, 2, dtype=int), TypeError, "dtype must be a floating-point dtype"),
    ("rnn-nonlinearity", lambda: gn.RNN(3, 4, nonlinearity="sigmoid"), ValueError, "Unknown nonlinearity 'sigmoid'. Select from 'tanh' or 'relu'"),
    ("rnncell-nonlinearity", lambda: gn.RNNCell(3, 4, nonlinearity="gelu"), ValueError, "Unknown nonlinearity 'gelu'"),
    ("rnn-hidden-0", lambda: gn.RNN(3, 0), ValueError, "hidden_size must be greater than zero, got 0"),
    ("rnncell-dtype-int", lambda: gn.RNNCell(3, 4, dtype=np.int16), TypeError, "dtype must be a floating-point dtype"),
    ("rnn-features", lambda: gn.RNN(3, 4)(_x(5, 2, 4)), ValueError, "Expected 3, got 4"),
    ("rnn-h0-shape", lambda: gn.RNN(3, 4, 2)(_x(5, 2, 3), _x(1, 2, 4)), ValueError, re.escape("Expected h0 size (2, 2, 4), got (1, 2, 4)")),
    ("rnncell-h-shape", lambda: gn.RNNCell(3, 4)(_x(2, 3), _x(2, 5)), ValueError, re.escape("Expected h size (2, 4), got (2, 5)")),
    # cells
    ("lstmcell-rank", lambda: gn.LSTMCell(3, 4)(_x(5, 2, 3)), ValueError, "Expected input to be 1D or 2D, got 3D"),
    ("grucell-features", lambda: gn.GRUCell(3, 4)(_x(2, 5)), ValueError, "got 5 expected 3"),
    ("lstmcell-state-not-tuple", lambda: gn.LSTMCell(3, 4)(_x(2, 3), _x(2, 4)), TypeError, r"expects its state as \('h', 'c'\), got ndarray"),
    ("lstmcell-c-shape", lambda: gn.LSTMCell(3, 4)(_x(2, 3), (_x(2, 4), _x(2, 5))), ValueError, re.escape("Expected c size (2, 4), got (2, 5)")),
    ("grucell-h-dtype", lambda: gn.GRUCell(3, 4)(_x(2, 3), _x(2, 4, dtype=np.float32)), ValueError, "h has dtype float32"),
    ("grucell-int-input", lambda: gn.GRUCell(3, 4)(_x(2, 3, dtype=int)), TypeError, "got dtype int64"),
    # Linear and the course models
    ("linear-features", lambda: gn.Linear(3, 2)(_x(5, 4)), ValueError, re.escape("Linear expects input of shape (..., 3), got (5, 4)")),
    ("linear-0d", lambda: gn.Linear(3, 2)(np.float64(1.0)), TypeError, "input must be a NumPy array, got float64"),
    ("model-rank", lambda: gn.LSTMModel(1, 4, 1)(_x(5, 1)), ValueError, r"LSTMModel expects input of shape \(B, T, input_size\), got shape \(5, 1\)"),
    ("model-features", lambda: gn.GRUModel(1, 4, 1)(_x(2, 5, 2)), ValueError, "Expected 1, got 2"),
    # state_dict
    ("state-dict-not-mapping", lambda: lstm().load_state_dict([("weight_ih_l0", _x(16, 3))]), TypeError, "state_dict must be a mapping .* got list"),
    ("state-dict-missing", lambda: lstm().load_state_dict({"weight_ih_l0": _x(16, 3)}), ValueError, r"missing keys: \['weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0'\]"),
    ("state-dict-unexpected", lambda: gru().load_state_dict({**gru().state_dict(), "weight_hr_l0": _x(1), "extra": _x(1)}), ValueError, r"unexpected keys: \['weight_hr_l0', 'extra'\]"),
    ("state-dict-shape", lambda: gru().load_state_dict({**gru().state_dict(), "bias_ih_l0": _x(13), "weight_hh_l0": _x(12, 5)}), ValueError, r"weight_hh_l0: expected shape \(12, 4\), got \(12, 5\); bias_ih_l0: expected shape \(12,\), got \(13,\)"),
    ("state-dict-non-numeric", lambda: gru().load_state_dict({**gru().state_dict(), "bias_ih_l0": np.array(["a"] * 12)}), ValueError, r"bias_ih_l0: expected a real numeric array, got dtype <U1"),
    # optimizers and clipping
    ("adam-lr-negative", lambda: gn.Adam(lstm().parameters(), lr=-1e-3), ValueError, "Invalid learning rate: -0.001"),
    ("adam-lr-str", lambda: gn.Adam(lstm().parameters(), lr="0.1"), TypeError, "Invalid learning rate: expected a real number, got str"),
    ("adam-eps-negative", lambda: gn.Adam(lstm().parameters(), eps=-1e-8), ValueError, "Invalid epsilon value: -1e-08"),
    ("adam-beta1-one", lambda: gn.Adam(lstm().parameters(), betas=(1.0, 0.999)), ValueError, "Invalid beta parameter at index 0: 1.0"),
    ("adam-beta2-negative", lambda: gn.Adam(lstm().parameters(), betas=(0.9, -0.1)), ValueError, "Invalid beta parameter at index 1: -0.1"),
    ("adam-betas-float", lambda: gn.Adam(lstm().parameters(), betas=0.9), TypeError, r"betas must be a pair \(beta1, beta2\), got float"),
    ("adam-betas-triple", lambda: gn.Adam(lstm().parameters(), betas=(0.9, 0.9, 0.9)), ValueError, r"betas must be a pair"),
    ("adam-weight-decay", lambda: gn.Adam(lstm().parameters(), weight_decay=-1), ValueError, "Invalid weight_decay value: -1"),
    ("adam-module", lambda: gn.Adam(lstm()), TypeError, r"Adam expects an iterable of Parameters such as model.parameters\(\), got LSTM"),
    ("adam-empty", lambda: gn.Adam([]), ValueError, "optimizer got an empty parameter list"),
    ("sgd-lr-negative", lambda: gn.SGD(lstm().parameters(), lr=-1), ValueError, "Invalid learning rate: -1"),
    ("sgd-momentum-negative", lambda: gn.SGD(lstm().parameters(), momentum=-0.5), ValueError, "Invalid momentum value: -0.5"),
    ("sgd-nesterov", lambda: gn.SGD(lstm().parameters(), nesterov=True), ValueError, "Nesterov momentum requires a momentum"),
    ("clip-negative", lambda: gn.clip_grad_norm(lstm().parameters(), -1.0), ValueError, "Invalid max_norm: -1.0"),
    ("clip-norm-type", lambda: gn.clip_grad_norm(lstm().parameters(), 1.0, norm_type=0), ValueError, "Invalid norm_type: expected a positive number or inf, got 0"),
    ("clip-module", lambda: gn.clip_grad_norm(lstm(), 1.0), TypeError, "clip_grad_norm expects an iterable of Parameters"),
    # losses
    ("mse-shapes", lambda: gn.mse_loss(_x(4, 1), _x(4)), ValueError, r"mse_loss: pred and target must have the same shape, got \(4, 1\) and \(4,\)"),
    ("l1-shapes", lambda: gn.l1_loss(_x(1), _x(3)), ValueError, "same shape"),
    ("huber-shapes", lambda: gn.huber_loss(_x(2, 3), _x(3, 2)), ValueError, "same shape"),
    ("mse-dtypes", lambda: gn.mse_loss(_x(3), _x(3, dtype=np.float32)), ValueError, "same dtype, got float64 and float32"),
    ("mse-int", lambda: gn.mse_loss(_x(3, dtype=int), _x(3, dtype=int)), TypeError, "pred must be a floating-point array"),
    ("mse-reduction", lambda: gn.mse_loss(_x(3), _x(3), reduction="avg"), ValueError, "reduction must be one of"),
]  # fmt: skip


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(call, exc, match):
    _raises(call, exc, match)


# -- backward misuse: before forward, twice for one forward, wrong upstream gradient ------------

BACKWARD_CASES = [
    ("lstm-before-forward", lambda: lstm().backward(_x(5, 2, 4)), "LSTM.backward\\(\\) needs a forward pass in training mode: no forward has run yet"),
    ("gru-twice", lambda: [gru_ := after_forward(gru(), _x(5, 2, 3)), gru_.backward(_x(5, 2, 4)), gru_.backward(_x(5, 2, 4))], "the last forward was already walked back"),
    ("lstm-after-eval-forward", lambda: after_forward(lstm().eval(), _x(5, 2, 3)).backward(_x(5, 2, 4)), "ran in eval mode, .* \\(call .train\\(\\) before the forward\\)"),
    ("linear-twice", lambda: [fc := after_forward(gn.Linear(3, 2), _x(5, 3)), fc.backward(_x(5, 2)), fc.backward(_x(5, 2))], "Linear.backward\\(\\) .* already walked back"),
    ("linear-after-eval-forward", lambda: after_forward(gn.Linear(3, 2).eval(), _x(5, 3)).backward(_x(5, 2)), "Linear.backward\\(\\) .* ran in eval mode"),
    ("lstmcell-before-forward", lambda: gn.LSTMCell(3, 4).backward((_x(2, 4), None)), "called more times than forward"),
    ("grucell-twice", lambda: [c := gn.GRUCell(3, 4), c(_x(2, 3)), c.backward(_x(2, 4)), c.backward(_x(2, 4))], "called more times than forward"),
    ("grucell-after-eval-forward", lambda: [c := gn.GRUCell(3, 4).eval(), c(_x(2, 3)), c.backward(_x(2, 4))], "GRUCell.backward\\(\\) .* ran in eval mode"),
    ("rnn-before-forward", lambda: gn.RNN(3, 4).backward(_x(5, 2, 4)), "RNN.backward\\(\\) needs a forward pass"),
    ("rnncell-before-forward", lambda: gn.RNNCell(3, 4).backward(_x(2, 4)), "called more times than forward"),
    ("linear-before-forward", lambda: gn.Linear(3, 2).backward(_x(5, 2)), "needs a forward pass"),
    ("model-before-forward", lambda: gn.LSTMModel(1, 4, 1).backward(_x(2, 1)), "needs a forward pass"),
]  # fmt: skip


@pytest.mark.parametrize("call, match", [c[1:] for c in BACKWARD_CASES], ids=[c[0] for c in BACKWARD_CASES])  # fmt: skip
def test_backward_without_forward(call, match):
    err = _raises(call, ValueError, match)
    assert isinstance(err, RuntimeError)  # torch raises RuntimeError: both catch it


GRADIENT_CASES = [
    ("lstm-dy-shape", lambda: after_forward(lstm(), _x(5, 2, 3)).backward(_x(5, 2, 5)), ValueError, re.escape("Expected dy shaped like the output y (T, B, features): (5, 2, 4), got (5, 2, 5)")),
    ("lstm-dy-2d", lambda: after_forward(lstm(), _x(5, 2, 3)).backward(_x(2, 4)), ValueError, re.escape("Expected dy shaped like the output y (T, B, features): (5, 2, 4), got (2, 4)")),
    ("lstm-dy-3d-unbatched", lambda: after_forward(lstm(), _x(5, 3)).backward(_x(5, 1, 4)), ValueError, re.escape("y (T, features), unbatched: (5, 4), got (5, 1, 4)")),
    ("lstm-dy-batch-first", lambda: after_forward(lstm(batch_first=True), _x(2, 5, 3)).backward(_x(5, 2, 4)), ValueError, re.escape("Expected dy shaped like the output y (B, T, features), batch_first: (2, 5, 4), got (5, 2, 4)")),
    ("gru-dy-dtype", lambda: after_forward(gru(), _x(5, 2, 3)).backward(_x(5, 2, 4, dtype=np.float32)), ValueError, "dy has dtype float32"),
    ("gru-dy-int", lambda: after_forward(gru(), _x(5, 2, 3)).backward(_x(5, 2, 4, dtype=int)), TypeError, "dy must be a floating-point array"),
    ("lstm-dh-shape", lambda: after_forward(lstm(), _x(5, 2, 3)).backward(_x(5, 2, 4), (_x(2, 2, 4), None)), ValueError, re.escape("Expected dh_n size (1, 2, 4), got (2, 2, 4)")),
    ("lstm-dstate-not-pair", lambda: after_forward(lstm(), _x(5, 2, 3)).backward(_x(5, 2, 4), _x(1, 2, 4)), TypeError, r"expects dstate to be a pair \(h, c\)"),
    ("gru-dstate-pair", lambda: after_forward(gru(), _x(5, 2, 3)).backward(_x(5, 2, 4), (_x(1, 2, 4),)), TypeError, "expects dstate to be a single array"),
    ("lstmcell-dstate-array", lambda: after_forward(gn.LSTMCell(3, 4), _x(2, 3)).backward(_x(2, 2, 4)), TypeError, r"gradient of its state as a tuple \('dh', 'dc'\), got ndarray"),
    ("grucell-dh-shape", lambda: after_forward(gn.GRUCell(3, 4), _x(2, 3)).backward(_x(3, 4)), ValueError, re.escape("Expected gradient of the state size (2, 4), got (3, 4)")),
    ("linear-dy-shape", lambda: after_forward(gn.Linear(3, 2), _x(5, 3)).backward(_x(5, 3)), ValueError, re.escape("Expected dy of shape (5, 2), got (5, 3)")),
    ("model-dpred-shape", lambda: after_forward(gn.GRUModel(1, 4, 1), _x(2, 3, 1)).backward(_x(3, 1)), ValueError, re.escape("Expected dy of shape (2, 1), got (3, 1)")),
]  # fmt: skip


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in GRADIENT_CASES], ids=[c[0] for c in GRADIENT_CASES])  # fmt: skip
def test_bad_upstream_gradient(call, exc, match):
    _raises(call, exc, match)


def test_a_rejected_gradient_keeps_the_cache():
    layer = after_forward(gn.GRU(3, 4, rng=0), np.ones((5, 2, 3)))
    with pytest.raises(ValueError):
        layer.backward(_x(5, 2, 5))
    dx, dh0 = layer.backward(np.ones((5, 2, 4)))  # the forward can still be walked back
    assert dx.shape == (5, 2, 3) and np.any(dx != 0)


def test_a_rejected_state_dict_changes_nothing():
    layer = gn.LSTM(3, 4, rng=0)
    before = layer.state_dict()
    bad = {**gn.LSTM(3, 4, rng=1).state_dict(), "bias_hh_l0": _x(3)}
    with pytest.raises(ValueError, match="bias_hh_l0"):
        layer.load_state_dict(bad)
    for name, value in layer.state_dict().items():
        assert np.array_equal(value, before[name]), name


def test_batch_of_zero_works_with_zero_gradients():
    """B = 0 is a valid (empty) batch, as in torch (T = 0 too, as in ONNX: test_recurrent.py)."""
    layer = gn.LSTM(3, 4, 2, bidirectional=True, proj_size=2, rng=0)
    y, (h_n, c_n) = layer(_x(5, 0, 3), lengths=np.array([], dtype=int))
    assert y.shape == (5, 0, 4) and h_n.shape == (4, 0, 2) and c_n.shape == (4, 0, 4)
    dx, _ = layer.backward(_x(5, 0, 4))
    assert dx.shape == (5, 0, 3)
    assert all(not p.grad.any() for p in layer.parameters())


def test_dropout_on_one_layer_warns_as_torch():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        gn.LSTM(3, 4, dropout=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gn.GRU(3, 4, num_layers=2, dropout=0.5)
        gn.RNN(3, 4, dropout=0.0)


def test_inf_input_gives_nan_silently_as_torch():
    x = np.full((4, 2, 3), np.inf)
    x[0, 0, 0] = -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for layer in (gn.LSTM(3, 4, rng=0), gn.GRU(3, 4, rng=0), gn.Linear(3, 4, rng=0)):
            out = layer(x)
            y = out[0] if isinstance(out, tuple) else out
            assert np.isnan(y).any()
            layer.backward(np.ones_like(y))
