"""The workspace (gatednp/workspace.py): buffers are reused only when nothing else holds them,
within the limit, and reuse never changes a number the layers compute."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import gatednp as gn
from gatednp import workspace

SHAPE = (64, 1024)  # 256 KiB in float32: above workspace.MIN_BYTES


@pytest.fixture(autouse=True)
def fresh_workspace():
    before = workspace.limit()
    workspace.clear()
    yield
    workspace.set_limit(before)
    workspace.clear()


def test_a_free_buffer_is_handed_out_again():
    a = workspace.empty(SHAPE, np.float32)
    first = id(a)
    del a
    b = workspace.empty(SHAPE, np.float32)
    assert id(b) == first
    assert workspace.info()["buffers"] == 1


def test_a_buffer_is_not_reused_while_a_view_of_it_lives():
    a = workspace.empty(SHAPE, np.float32)
    view = a[1:]
    del a
    b = workspace.empty(SHAPE, np.float32)
    assert not np.shares_memory(b, view)
    del view, b
    assert workspace.info()["free"] == 2


def test_small_arrays_are_numpys_own():
    small = workspace.empty((4, 4), np.float64)
    assert small.shape == (4, 4)
    assert workspace.info()["buffers"] == 0


def test_zeros_are_zero_even_when_reused():
    a = workspace.empty(SHAPE, np.float32)
    a.fill(7)
    del a
    assert not workspace.zeros(SHAPE, np.float32).any()


def test_the_limit_bounds_what_is_kept_and_zero_turns_reuse_off():
    nbytes = np.empty(SHAPE, np.float32).nbytes
    workspace.set_limit(2 * nbytes)
    kept = [workspace.empty(SHAPE, np.float32) for _ in range(4)]
    assert workspace.info()["bytes"] == 2 * nbytes  # the other two were not kept
    del kept
    workspace.empty((128, 1024), np.float32)  # needs room: the free ones of SHAPE go
    assert workspace.info()["bytes"] <= 2 * nbytes
    workspace.set_limit(0)
    a = workspace.empty(SHAPE, np.float32)
    assert a.shape == SHAPE
    assert workspace.info() == {"bytes": 0, "buffers": 0, "free": 0, "limit": 0}


@pytest.mark.parametrize("bad", [-1, 1.5, True, "1"])
def test_set_limit_names_what_it_expected(bad):
    with pytest.raises(ValueError, match=r"nbytes must be an int >= 0, got"):
        workspace.set_limit(bad)


def test_threads_never_share_a_live_buffer():
    live, errors = [], []
    lock = threading.Lock()

    def worker():
        for _ in range(200):
            a = workspace.empty(SHAPE, np.float32)
            with lock:
                if any(b is a for b in live):
                    errors.append("a live buffer was handed out twice")
                live.append(a)
            with lock:
                live.remove(a)
            del a

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_outputs_a_user_keeps_are_never_overwritten(kind):
    """Two calls in a row: the first call's outputs and state keep their values."""
    layer = getattr(gn, kind)(8, 64, num_layers=2, dtype=np.float32, rng=0)
    layer.eval()
    rng = np.random.default_rng(0)
    x1, x2 = (rng.standard_normal((40, 32, 8)).astype(np.float32) for _ in range(2))
    y1, s1 = layer(x1)
    kept_y, kept_s = y1.copy(), np.copy(s1[0] if kind == "LSTM" else s1)
    y2, _ = layer(x2)
    assert not np.shares_memory(y1, y2)
    np.testing.assert_array_equal(y1, kept_y)
    np.testing.assert_array_equal(s1[0] if kind == "LSTM" else s1, kept_s)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_reuse_changes_no_number(kind, bidirectional):
    """Training steps with reuse on and off give bit-identical outputs and gradients, with a
    forward whose cache is dropped unused in between (buffers come back mid-sequence)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((30, 16, 4))
    dy = rng.standard_normal((30, 16, 2 * 64 if bidirectional else 64))
    results = []
    for limit in (0, workspace.limit()):
        workspace.set_limit(limit)
        layer = getattr(gn, kind)(4, 64, 2, bidirectional=bidirectional, rng=0)
        out = []
        for step in range(3):
            y, _ = layer(x * (step + 1))
            if step == 1:
                layer(x)  # a forward whose cache replaces the last one, never used
                y, _ = layer(x * (step + 1))
            layer.backward(dy)
            out.append(np.array(y))
            out.extend(p.grad.copy() for p in layer.parameters())
            layer.zero_grad()
        results.append(out)
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)
