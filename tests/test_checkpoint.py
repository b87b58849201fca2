"""gatednp/checkpoint.py: exact resume, atomic writes, and clear refusals that change nothing."""

import os
import signal
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import gatednp as gn
from gatednp import checkpoint
from gatednp.checkpoint import CheckpointError, CheckpointNotFoundError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(gn.__file__)))


def _batches(step):
    """Deterministic data by step number, so a resumed run sees what a straight one sees."""
    rng = np.random.default_rng(step)
    return rng.standard_normal((4, 6, 3)), rng.standard_normal((4, 6, 8))


def _setup(seed):
    model = gn.LSTM(3, 4, num_layers=2, dropout=0.3, bidirectional=True, batch_first=True, rng=seed)
    return model, gn.Adam(model.parameters(), lr=1e-2, amsgrad=True)


def _loss(pred, y):
    return gn.mse_loss(pred, y)


class _Wrapped(gn.Module):
    """The LSTM with a loss on its output sequence (train() wants model(x) -> pred)."""

    def __init__(self, layer):
        self.layer = layer

    def forward(self, x):
        return self.layer(x)[0]

    def backward(self, dy):
        return self.layer.backward(dy)[0]


def _snapshot(model, optimizer):
    opt = optimizer.state_dict()["state"]
    return (
        [p.data.copy() for p in model.parameters()],
        [{k: np.copy(v) for k, v in entry.items()} for entry in opt.values()],
        model.rng.bit_generator.state,
    )


def _assert_bitwise_equal(a, b):
    params_a, opt_a, rng_a = a
    params_b, opt_b, rng_b = b
    for i, (x, y) in enumerate(zip(params_a, params_b)):
        assert x.dtype == y.dtype and np.array_equal(x, y), f"parameter {i} differs"
    for i, (x, y) in enumerate(zip(opt_a, opt_b)):
        for k in x:
            assert np.array_equal(x[k], y[k]), f"optimizer state {i} {k} differs"
    assert rng_a == rng_b


def test_resume_continues_the_uninterrupted_trajectory_bitwise(tmp_path):
    N, M = 4, 5
    straight, opt = _setup(seed=0)
    gn.train(_Wrapped(straight), _loss, opt, _batches, N + M)

    first, opt1 = _setup(seed=0)
    gn.train(_Wrapped(first), _loss, opt1, _batches, N)
    path = tmp_path / "run.ckpt"
    gn.save(path, first, opt1, note="half way")
    first.rng.random(10)  # disturb the RNG after saving: load must put it back

    resumed, opt2 = _setup(seed=123)  # another init and RNG: everything must come from the file
    ck = gn.load(path, resumed, opt2)
    assert ck.step == N and ck.meta == {"note": "half way"}
    gn.train(_Wrapped(resumed), _loss, opt2, _batches, M, start=ck.step)
    _assert_bitwise_equal(_snapshot(straight, opt), _snapshot(resumed, opt2))


def test_load_without_a_model_rebuilds_it(tmp_path):
    model = gn.GRUModel(2, 5, 3, dtype=np.float32, rng=0)
    gn.save(tmp_path / "m.npz", model, step=7)
    ck = gn.load(tmp_path / "m.npz")
    assert type(ck.model) is gn.GRUModel and ck.step == 7
    for (name, p), q in zip(model.named_parameters(), ck.model.parameters()):
        assert q.dtype == np.float32 and np.array_equal(p.data, q.data), name


def test_writes_exactly_the_path_given(tmp_path):
    gn.save(tmp_path / "model.ckpt", gn.Linear(2, 2, rng=0))
    assert sorted(os.listdir(tmp_path)) == ["model.ckpt"]  # no ".npz" appended, no temp left


def test_file_holds_no_pickled_objects(tmp_path):
    model, opt = _setup(0)
    gn.train(_Wrapped(model), _loss, opt, _batches, 1)
    gn.save(tmp_path / "c", model, opt)
    with np.load(tmp_path / "c", allow_pickle=False) as f:
        assert all(f[k].dtype != object for k in f.files)
        assert "optim/state/0/exp_avg" in f.files and "rng/." in f.files


def _saved_pair(tmp_path):
    """A checkpoint of one model, and a second model/optimizer that must stay untouched."""
    model, opt = _setup(0)
    gn.train(_Wrapped(model), _loss, opt, _batches, 2)
    path = tmp_path / "good.ckpt"
    gn.save(path, model, opt)
    other, other_opt = _setup(1)
    gn.train(_Wrapped(other), _loss, other_opt, _batches, 1)
    return path, other, other_opt


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "text"])
def test_damaged_file_is_refused_and_changes_nothing(tmp_path, damage):
    path, model, opt = _saved_pair(tmp_path)
    data = path.read_bytes()
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":  # inside an array's bytes (the largest entry's): only the CRC can tell
        with zipfile.ZipFile(path) as zf:
            entry = max(zf.infolist(), key=lambda e: e.file_size)
        i = entry.header_offset + 30 + len(entry.orig_filename) + entry.file_size // 2
        i += int.from_bytes(data[entry.header_offset + 28 : entry.header_offset + 30], "little")
        data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]
    elif damage == "empty":
        data = b""
    else:
        data = b"weights = [1, 2, 3]\n"
    path.write_bytes(data)
    before = _snapshot(model, opt)
    with pytest.raises(CheckpointError, match="not a readable gatednp checkpoint"):
        gn.load(path, model, opt)
    _assert_bitwise_equal(before, _snapshot(model, opt))


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint file at") as info:
        gn.load(tmp_path / "nowhere.ckpt", gn.Linear(2, 2))
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: gn.GRU(3, 4, 2, bidirectional=True, batch_first=True), "holds a LSTM, the model is a GRU"),
        (lambda: gn.LSTM(3, 5, 2, dropout=0.3, bidirectional=True, batch_first=True), "hidden_size: the file has 4, the model 5; weight_ih_l0: expected \\(20, 3\\)"),
        (lambda: gn.LSTM(3, 4, 1, dropout=0.0, bidirectional=True, batch_first=True), "dropout: the file has 0.3, the model 0.0; num_layers: the file has 2, the model 1; .*unexpected parameter weight_ih_l1"),
        (lambda: gn.LSTM(3, 4, 2, dropout=0.3, bidirectional=True, batch_first=True, dtype=np.float32), "dtype: the file has 'float64', the model 'float32'"),
    ],
)  # fmt: skip
def test_other_architecture_is_refused_and_changes_nothing(tmp_path, make, match):
    path, _, _ = _saved_pair(tmp_path)
    model = make()
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(CheckpointError, match=match):
        gn.load(path, model)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters()))


def test_other_optimizer_is_refused_and_changes_nothing(tmp_path):
    path, model, _ = _saved_pair(tmp_path)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(CheckpointError, match="holds the state of a Adam, the optimizer is a SGD"):
        gn.load(path, model, gn.SGD(model.parameters(), lr=0.1))
    # same class, but over other parameters: the model is loaded first, then rolled back
    with pytest.raises(
        CheckpointError, match="the optimizer state does not fit: .* the optimizer has 2"
    ):
        gn.load(path, model, gn.Adam(model.parameters()[:2]))
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters()))


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        gn.save(3, gn.Linear(2, 2))
    with pytest.raises(TypeError, match="model must be a gatednp Module, got dict"):
        gn.save(tmp_path / "x", {})
    with pytest.raises(TypeError, match="meta must be JSON-serialisable"):
        gn.save(tmp_path / "x", gn.Linear(2, 2), data=np.zeros(2))
    with pytest.raises(ValueError, match="step must be an int ≥ 0, got -1"):
        gn.save(tmp_path / "x", gn.Linear(2, 2), step=-1)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        gn.save(tmp_path / "no" / "x", gn.Linear(2, 2))
    assert os.listdir(tmp_path) == []


def test_crash_between_write_and_replace_keeps_the_old_file(tmp_path, monkeypatch):
    path, _, _ = _saved_pair(tmp_path)
    old = path.read_bytes()

    def crash(src, dst):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(checkpoint.os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        gn.save(path, gn.LSTM(3, 4, 2, bidirectional=True, batch_first=True, rng=9))
    assert path.read_bytes() == old and sorted(os.listdir(tmp_path)) == ["good.ckpt"]


_KILLED_WRITER = """
import os, sys, time
import numpy as np
import gatednp as gn
from gatednp import checkpoint

path = sys.argv[1]
model = gn.LSTM(3, 4, rng=0)
gn.save(path, model, version="old")
for p in model.parameters():
    p.data += 1.0

def slow_write(f, arrays):  # write part of the new file, then hang until killed
    f.write(b"PK\\x03\\x04 half of a zip")
    f.flush()
    print("writing", flush=True)
    time.sleep(60)

checkpoint._write = slow_write
gn.save(path, model, version="new")
"""


def test_kill_during_write_leaves_the_previous_checkpoint(tmp_path):
    path = tmp_path / "run.ckpt"
    env = {**os.environ, "PYTHONPATH": ROOT}
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_KILLED_WRITER), str(path)],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout.readline() == b"writing\n"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    ck = gn.load(path, gn.LSTM(3, 4, rng=1))
    assert ck.meta == {"version": "old"}
    expected = gn.LSTM(3, 4, rng=0)
    for p, q in zip(expected.parameters(), ck.model.parameters()):
        assert np.array_equal(p.data, q.data)
    # the killed writer's temporary file is still there; the next save removes it
    (left,) = [name for name in os.listdir(tmp_path) if name != "run.ckpt"]
    assert left.endswith(".tmp")
    gn.save(path, expected)
    assert os.listdir(tmp_path) == ["run.ckpt"]
