"""gn.RNN and gn.RNNCell against live torch: every option, outputs and all gradients.

Separate from the LSTM/GRU parity harness (tests/test_parity.py) so the two merge cleanly.
"""

import itertools

import numpy as np
import pytest

import gatednp as gn
from tests.conftest import randomize

torch = pytest.importorskip("torch", reason="live parity with torch.nn.RNN needs torch")

OPTIONS = list(
    itertools.product(
        ["tanh", "relu"],  # nonlinearity
        [1, 3],  # num_layers
        [False, True],  # bidirectional
        [True, False],  # bias
        [False, True],  # batch_first
        [None, [5, 2, 4]],  # lengths
    )
)


def copy_to_torch(ours, theirs):
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(getattr(ours, name).data))


@pytest.mark.parametrize(
    "nonlinearity, num_layers, bidirectional, bias, batch_first, lengths", OPTIONS
)
def test_rnn_matches_torch(nonlinearity, num_layers, bidirectional, bias, batch_first, lengths):
    T, B, I, H = 5, 3, 2, 4
    kw = dict(
        num_layers=num_layers,
        nonlinearity=nonlinearity,
        bias=bias,
        batch_first=batch_first,
        bidirectional=bidirectional,
    )
    rng = np.random.default_rng(len(str(kw)) + (lengths is not None))
    ours = randomize(gn.RNN(I, H, rng=rng, **kw), rng)
    theirs = torch.nn.RNN(I, H, dtype=torch.float64, **kw)
    copy_to_torch(ours, theirs)
    L = num_layers * ours.num_directions
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I))
    h0 = rng.standard_normal((L, B, H))

    y, h_n = ours(x, h0, lengths=lengths)
    dy, dh = rng.standard_normal(y.shape), rng.standard_normal(h_n.shape)
    ours.zero_grad()
    dx, dh0 = ours.backward(dy, dh)

    xt, h0t = (torch.tensor(a, requires_grad=True) for a in (x, h0))
    if lengths is None:
        yt, h_nt = theirs(xt, h0t)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False
        )
        yp, h_nt = theirs(packed, h0t)
        yt, _ = torch.nn.utils.rnn.pad_packed_sequence(yp, batch_first=batch_first, total_length=T)
    ((yt * torch.from_numpy(dy)).sum() + (h_nt * torch.from_numpy(dh)).sum()).backward()

    pairs = {"y": (y, yt), "h_n": (h_n, h_nt), "dx": (dx, xt.grad), "dh0": (dh0, h0t.grad)}
    pairs.update({n: (getattr(ours, n).grad, p.grad) for n, p in theirs.named_parameters()})
    for name, (a, b) in pairs.items():
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_unbatched_matches_torch(nonlinearity):
    rng = np.random.default_rng(3)
    ours = randomize(
        gn.RNN(2, 4, num_layers=2, nonlinearity=nonlinearity, bidirectional=True, rng=rng), rng
    )
    theirs = torch.nn.RNN(
        2, 4, num_layers=2, nonlinearity=nonlinearity, bidirectional=True, dtype=torch.float64
    )
    copy_to_torch(ours, theirs)
    x, h0 = rng.standard_normal((5, 2)), rng.standard_normal((4, 4))
    y, h_n = ours(x, h0)
    yt, h_nt = theirs(torch.from_numpy(x), torch.from_numpy(h0))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(h_n, h_nt.detach().numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "nonlinearity, bias", list(itertools.product(["tanh", "relu"], [True, False]))
)
def test_rnn_cell_loop_matches_torch(nonlinearity, bias):
    rng = np.random.default_rng(4)
    ours = randomize(gn.RNNCell(3, 4, bias=bias, nonlinearity=nonlinearity, rng=rng), rng)
    theirs = torch.nn.RNNCell(3, 4, bias=bias, nonlinearity=nonlinearity, dtype=torch.float64)
    copy_to_torch(ours, theirs)
    xs, h = rng.standard_normal((4, 2, 3)), rng.standard_normal((2, 4))
    xts = [torch.tensor(a, requires_grad=True) for a in xs]
    hs, hts, ht = [], [], torch.from_numpy(h)
    for x, xt in zip(xs, xts, strict=True):
        h, ht = ours(x, h), theirs(xt, ht)
        hs.append(h)
        hts.append(ht)
        np.testing.assert_allclose(h, ht.detach().numpy(), rtol=0, atol=1e-12)
    dhs = rng.standard_normal((4, 2, 4))
    sum((ht * torch.from_numpy(d)).sum() for ht, d in zip(hts, dhs, strict=True)).backward()
    ours.zero_grad()
    carry = np.zeros((2, 4))
    for t in reversed(range(4)):  # newest first: each step gets its own dh plus what t+1 sends
        dx, carry = ours.backward(dhs[t] + carry)
        np.testing.assert_allclose(dx, xts[t].grad.numpy(), rtol=0, atol=1e-12)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(getattr(ours, name).grad, p.grad.numpy(), rtol=0, atol=1e-12)
