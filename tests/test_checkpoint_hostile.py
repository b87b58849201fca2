"""Checkpoints that are damaged, incomplete or crafted (issue 13, items 3 to 8): each is refused
with a CheckpointError before anything is changed or allocated; a whole one restores everything,
a Stateful's carried state and NumPy-scalar hyperparameters included."""

import io
import json
import zipfile

import numpy as np
import pytest

import gatednp as gn
from gatednp.checkpoint import CheckpointError
from gatednp.ckptfile import seal


def _model_and_optimizer(seed=0):
    model = gn.LSTM(3, 4, dropout=0.0, rng=seed)
    opt = gn.Adam(model.parameters(), lr=1e-2)
    y, _ = model(np.random.default_rng(seed).standard_normal((5, 2, 3)))
    model.backward(np.ones_like(y))
    opt.step()
    return model, opt


def _snapshot(model, opt):
    sd = opt.state_dict()
    return (
        [p.data.copy() for p in model.parameters()],
        {i: {k: np.copy(v) for k, v in e.items()} for i, e in sd["state"].items()},
        json.dumps(sd["param_groups"]),
        json.dumps(model.rng.bit_generator.state),
    )


def _same(a, b):
    return (
        all(np.array_equal(x, y) for x, y in zip(a[0], b[0]))
        and a[1].keys() == b[1].keys()
        and all(np.array_equal(a[1][i][k], b[1][i][k]) for i in a[1] for k in a[1][i])
        and a[1:1] == b[1:1]
        and a[2:] == b[2:]
    )


def _entries(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _rewrite(path, change, reseal=True):
    """Change the entries of the file at `path` and write it back, with a new valid digest
    (as an attacker can: the digest proves the file whole, it is not a signature)."""
    arrays = _entries(path)
    if reseal:
        del arrays["digest"]
    change(arrays)
    if reseal:
        seal(arrays)
    _savez(path, arrays)


def _savez(path, arrays):
    with open(path, "wb") as f:  # np.savez(path) would add ".npz" to the name
        np.savez(f, **arrays)


@pytest.fixture
def saved(tmp_path):
    model, opt = _model_and_optimizer(0)
    path = tmp_path / "run.ckpt"
    gn.save(path, model, opt, epoch=3)
    target, target_opt = _model_and_optimizer(1)
    return path, target, target_opt


def _refused(path, model, opt, match):
    before = _snapshot(model, opt)
    with pytest.raises(CheckpointError, match=match):
        gn.load(path, model, opt)
    assert _same(before, _snapshot(model, opt))


def test_bit_flips_over_the_whole_file_are_refused_or_harmless(saved):
    """One flipped bit at every 31st byte (each bit in turn), and every bit of the fields that
    let flips escape before the digest: each central-directory record's name, extra-field and
    comment lengths (a flip there hid the later entries: `load` returned step 0 and meta {})
    and the end-of-directory record."""
    path, target, target_opt = saved
    data = path.read_bytes()
    original = _snapshot(*_model_and_optimizer(0))
    fields = [i for at in _find_all(data, b"PK\x01\x02") for i in range(at + 28, at + 34)]
    fields += range(len(data) - 22, len(data))
    flips = [(i, i % 8) for i in range(0, len(data), 31)] + [
        (i, b) for i in fields for b in range(8)
    ]
    loaded_fine = 0
    for i, bit in flips:
        path.write_bytes(data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1 :])
        try:
            ck = gn.load(path, target, target_opt)
        except CheckpointError:
            continue
        loaded_fine += 1  # a flip in a field nobody reads (a time stamp): everything intact
        assert _same(original, _snapshot(target, target_opt)), (i, bit)
        assert ck.step == 1 and ck.meta == {"epoch": 3}, (i, bit)
    assert loaded_fine < len(flips) // 4


def _find_all(data: bytes, sub: bytes) -> list[int]:
    found, at = [], data.find(sub)
    while at >= 0:
        found.append(at)
        at = data.find(sub, at + 1)
    return found


@pytest.mark.parametrize("entry", ["step", "meta", "optim/state/0/exp_avg", "digest", "format"])
def test_a_missing_entry_is_refused(saved, entry):
    path, target, target_opt = saved
    _rewrite(path, lambda a: a.pop(entry, None), reseal=False)
    _refused(path, target, target_opt, "missing|format")


def test_format_1_files_still_load_but_need_their_entries(saved):
    path, target, target_opt = saved
    arrays = _entries(path)
    del arrays["digest"]
    arrays["format"] = np.array("gatednp-checkpoint/1")
    _savez(path, arrays)
    assert gn.load(path, target, target_opt).meta == {"epoch": 3}
    del arrays["step"]
    _savez(path, arrays)
    _refused(path, target, target_opt, r"the entries \['step'\] are missing")


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda a: a.update(meta=np.array("[1, 2]")), "'meta' should hold a dict, got list"),
        (lambda a: a.update(meta=np.array("{not json")), "'meta' is not valid JSON"),
        (lambda a: a.update(step=np.array(-5)), "'step' should be one integer ≥ 0"),
        (lambda a: a.update(step=np.array(2.5)), "'step' should be one integer ≥ 0"),
        (lambda a: a.update(step=np.array([1, 2])), "'step' should be one integer ≥ 0"),
        (lambda a: a.update({"rng/.": np.array('{"bit_generator": "PCG64"}')}), "RNG .: not a PCG64 state"),
        (lambda a: a.update({"rng/.": np.array("[1]")}), "'rng/.' should hold a dict"),
        (lambda a: a.update({"optim/state/x/exp_avg": np.zeros(3)}), "unexpected entry 'optim/state/x/exp_avg'"),
        (lambda a: a.update({"optim/state/0/step": np.array(1.5)}), "unexpected entry 'optim/state/0/step'"),
        (lambda a: a.update({"optim/param_groups": np.array("[7]")}), "the optimizer state does not fit"),
        (lambda a: a.update({"optim/param_groups": np.array("{}")}), "'optim/param_groups' should hold a list"),
    ],
)  # fmt: skip
def test_a_malformed_entry_is_refused_before_anything_changes(saved, change, match):
    path, target, target_opt = saved
    _rewrite(path, change)
    _refused(path, target, target_opt, match)


def test_a_changed_entry_without_a_new_digest_is_refused(saved):
    path, target, target_opt = saved
    _rewrite(path, lambda a: a.update(step=np.array(7)), reseal=False)
    _refused(path, target, target_opt, "does not match its digest")


def test_a_config_asking_for_more_than_the_file_holds_is_not_built(saved):
    """A 5 KB file whose config says hidden_size=12000 made load allocate 4.3 GiB; the budget
    is checked before allocating (here 64, small enough to be harmless without the fix)."""
    path, _, _ = saved

    def grow(a):
        config = json.loads(str(a["model/config"]))
        a["model/config"] = np.array(json.dumps({**config, "hidden_size": 64}))

    _rewrite(path, grow)
    with pytest.raises(CheckpointError, match="more parameters than the 144 values the file holds"):
        gn.load(path)


def test_a_compressed_entry_is_refused_before_it_is_inflated(saved):
    path, _, _ = saved
    bomb = io.BytesIO()
    np.save(bomb, np.zeros(2_000_000, dtype=np.uint8))  # 2 MB that deflate to 2 KB
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb.npy", bomb.getvalue())
    assert path.stat().st_size < 20_000
    with pytest.raises(CheckpointError, match="'bomb.npy' is compressed, .* refused before"):
        gn.load(path)


def test_an_array_header_claiming_more_than_its_entry_holds_is_refused(saved):
    path, _, _ = saved
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**9,)}
    )
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("param/huge.npy", header.getvalue() + bytes(16))
    with pytest.raises(CheckpointError, match=r"claims an array of shape \(1000000000,\)"):
        gn.load(path)


def test_numpy_scalar_hyperparameters_and_meta_are_saved(tmp_path):
    model = gn.Linear(2, 2, rng=0)
    opt = gn.Adam(model.parameters(), lr=np.float32(1e-3), betas=(np.float64(0.8), 0.99))
    model(np.ones((1, 2)))
    model.backward(np.ones((1, 2)))
    opt.step()
    gn.save(tmp_path / "c", model, opt, epoch=np.int64(4), loss=np.float32(0.5))
    fresh = gn.Linear(2, 2, rng=1)
    fresh_opt = gn.Adam(fresh.parameters())
    ck = gn.load(tmp_path / "c", fresh, fresh_opt)
    assert ck.meta == {"epoch": 4, "loss": 0.5}
    group = fresh_opt.state_dict()["param_groups"][0]
    assert group["lr"] == float(np.float32(1e-3)) and tuple(group["betas"]) == (0.8, 0.99)
    assert np.array_equal(fresh.weight.data, model.weight.data)


@pytest.mark.parametrize("cls", [gn.LSTM, gn.GRU])
def test_stateful_resume_carries_the_state(tmp_path, cls):
    x = np.random.default_rng(0).standard_normal((9, 2, 3))
    stream = gn.Stateful(cls(3, 4, num_layers=2, rng=0)).eval()
    stream(x[:3])
    stream(x[3:6])
    gn.save(tmp_path / "s", stream)
    expected = stream(x[6:])
    resumed = gn.Stateful(cls(3, 4, num_layers=2, rng=5)).eval()
    gn.load(tmp_path / "s", resumed)
    np.testing.assert_array_equal(resumed(x[6:]), expected)
    resumed.reset_state()  # a saved empty state loads as empty
    gn.save(tmp_path / "s", resumed)
    gn.load(tmp_path / "s", stream)
    assert stream.state is None


def test_stateful_state_of_the_wrong_shape_is_refused(tmp_path):
    stream = gn.Stateful(gn.LSTM(3, 4, rng=0))
    stream(np.ones((2, 1, 3)))
    gn.save(tmp_path / "s", stream)
    other = gn.Stateful(gn.LSTM(3, 4, rng=0))
    _rewrite(tmp_path / "s", lambda a: a.update({"extra/./c": np.zeros((1, 1, 5))}))
    with pytest.raises(CheckpointError, match=r"the state of .: expected c of shape \(1, 1, 4\)"):
        gn.load(tmp_path / "s", other)
    assert other.state is None
