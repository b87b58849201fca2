"""gatednp's own threads (gatednp/threads.py): splitting the time loops and the large GEMMs over
blocks of rows changes no result, errors in any block reach the caller, and set_num_threads
hands NumPy's OpenBLAS its thread count back."""

import os
import select
import signal

import numpy as np
import pytest

import gatednp as gn
from gatednp import threads
from tests.conftest import randomize


def set_threads(n):
    """gn.set_num_threads(n), expecting its warning where NumPy's BLAS is not a findable OpenBLAS."""
    if n > 1 and threads._numpy_openblas() is None:
        with pytest.warns(RuntimeWarning, match="not an OpenBLAS"):
            gn.set_num_threads(n)
    else:
        gn.set_num_threads(n)


@pytest.fixture
def split_everything(monkeypatch):
    """Two gatednp threads, with thresholds so low that even these small tests split."""
    monkeypatch.setattr(threads, "MIN_BLOCK_BYTES", 1)
    monkeypatch.setattr(threads, "MIN_LOOP_BYTES", 1)
    monkeypatch.setattr(threads, "MIN_BLOCK_MACS", 1)
    set_threads(2)
    yield
    gn.set_num_threads(1)


def _run(kind, options, lengths, seed=0):
    """Outputs, final state, dx, state gradients and every parameter gradient of one step."""
    rng = np.random.default_rng(seed)
    T, B, I, H = 6, 5, 3, 4
    layer = randomize(getattr(gn, kind)(I, H, rng=seed, **options), rng)
    x = rng.standard_normal((T, B, I))
    y, state = layer(x, lengths=lengths)
    dy = rng.standard_normal(y.shape)
    if lengths is not None:
        dy[np.arange(T)[:, None] >= np.asarray(lengths)[None, :]] = 0
    ds = tuple(rng.standard_normal(s.shape) for s in (state if kind == "LSTM" else (state,)))
    dx, dstate0 = layer.backward(dy, ds if kind == "LSTM" else ds[0])
    grads = {name: p.grad.copy() for name, p in layer.named_parameters()}
    return y.copy(), state, dx, dstate0, grads


def _arrays(values):
    """Every array in a nest of tuples, in order."""
    for v in values:
        yield from (_arrays(v) if isinstance(v, tuple) else [v])


CASES = [
    ("LSTM", {}, None),
    ("LSTM", {"num_layers": 2, "bidirectional": True}, [6, 2, 5, 1, 3]),
    ("LSTM", {"proj_size": 2}, [6, 6, 4, 4, 1]),
    ("GRU", {}, None),
    ("GRU", {"num_layers": 2, "bidirectional": True}, [3, 6, 1, 2, 5]),
]


@pytest.mark.parametrize("kind, options, lengths", CASES)
def test_split_over_rows_changes_no_result(kind, options, lengths, split_everything):
    blocks = []
    original = threads._run
    threads._run = lambda fn, b: (blocks.append(len(b)), original(fn, b))[1]
    try:
        split = _run(kind, options, lengths)
    finally:
        threads._run = original
    assert max(blocks) == 2  # the loops and GEMMs really ran as two blocks
    gn.set_num_threads(1)
    serial = _run(kind, options, lengths)
    for a, b in zip(_arrays(split[:4]), _arrays(serial[:4]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)
    for name in serial[4]:
        np.testing.assert_allclose(split[4][name], serial[4][name], rtol=1e-14, atol=1e-15)


def test_an_error_in_a_worker_block_reaches_the_caller(split_everything):
    def loop(lo, hi):
        if lo == 0:
            raise FloatingPointError("block 0 failed")

    with pytest.raises(FloatingPointError, match="block 0 failed"):
        threads.run_row_blocks(loop, B=4, T=1, row_bytes=8)
    ran = []
    threads.run_row_blocks(lambda lo, hi: ran.append((lo, hi)), B=4, T=1, row_bytes=8)
    assert sorted(ran) == [(0, 2), (2, 4)]  # the pool still works afterwards


def test_matmul_rows_equals_matmul(split_everything):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((7, 5)), rng.standard_normal((5, 3))
    np.testing.assert_allclose(threads.matmul_rows(a, b), a @ b, rtol=1e-15)
    np.testing.assert_allclose(threads.matmul_rows(a.T[:, :4].T, b), a[:4] @ b, rtol=1e-15)


def test_set_num_threads_gives_openblas_its_threads_back():
    blas = threads._numpy_openblas()
    if blas is None:
        pytest.skip("NumPy's BLAS here is not an OpenBLAS gatednp can find")
    before = blas.get()
    gn.set_num_threads(2)
    try:
        assert gn.get_num_threads() == 2
        assert blas.get() == 1
    finally:
        gn.set_num_threads(1)
    assert blas.get() == before and gn.get_num_threads() == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, None])
def test_set_num_threads_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        gn.set_num_threads(bad)


def test_set_num_threads_warns_when_it_cannot_set_the_blas(monkeypatch):
    monkeypatch.setattr(threads, "_numpy_openblas", lambda: None)
    with pytest.warns(RuntimeWarning, match="set its threads to 1 yourself"):
        gn.set_num_threads(2)
    gn.set_num_threads(1)
    assert gn.get_num_threads() == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")  # 3.12+
def test_a_forked_child_splits_with_its_own_pool(split_everything):
    layer = gn.GRU(3, 4, rng=0)
    x = np.random.default_rng(0).standard_normal((5, 4, 3))
    expected = layer(x)[0]  # the parent's pool is running now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the same split must run (a dead pool would hang here)
        ok = np.array_equal(layer(x)[0], expected)
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    ready, _, _ = select.select([read], [], [], 30)  # a hung child must fail the test, not hang it
    answer = os.read(read, 1) if ready else b""
    os.close(read)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert answer == b"1"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [1, 2, 7])
def test_matmul_equals_numpys_bit_for_bit(dtype, K):
    """threads.matmul sends an inner dimension of 1 to np.dot (NumPy's matmul loops slowly
    there): the same numbers, into a given `out` or a new array, for any inner size."""
    rng = np.random.default_rng(K)
    a, b = rng.standard_normal((300, K)).astype(dtype), rng.standard_normal((K, 40)).astype(dtype)
    expected = np.matmul(a, b)
    np.testing.assert_array_equal(threads.matmul(a, b), expected)
    out = np.empty_like(expected)
    assert threads.matmul(a, b, out=out) is out
    np.testing.assert_array_equal(out, expected)
    strided = np.empty((300, 80), dtype)[:, ::2]  # not C-contiguous: np.matmul takes it
    threads.matmul(a, b.T.copy().T, out=strided)
    np.testing.assert_array_equal(strided, expected)
