"""Tests of gatednp/embedding.py: lookup, gradient accumulated by index (repeated ids), finite
differences, torch parity of output and weight gradient, padding_idx, one_hot and bad ids."""

from __future__ import annotations

import numpy as np
import pytest

import gatednp as gn
from gatednp.embedding import check_ids


def test_forward_is_a_row_lookup():
    emb = gn.Embedding(5, 3, rng=0)
    ids = np.array([[4, 0], [0, 2]])
    y = emb(ids)
    assert y.shape == (2, 2, 3)
    np.testing.assert_array_equal(y[0, 1], emb.weight.data[0])
    np.testing.assert_array_equal(y[1, 1], emb.weight.data[2])


def test_gradient_accumulates_over_repeated_ids():
    emb = gn.Embedding(4, 2, rng=0)
    ids = np.array([1, 3, 1, 1])
    emb(ids)
    dy = np.arange(8.0).reshape(4, 2)
    assert emb.backward(dy) is None
    expected = np.zeros((4, 2))
    expected[1] = dy[0] + dy[2] + dy[3]
    expected[3] = dy[1]
    np.testing.assert_array_equal(emb.weight.grad, expected)


def test_gradient_matches_finite_differences_with_random_upstream():
    rng = np.random.default_rng(1)
    emb = gn.Embedding(6, 3, rng=2)
    ids = rng.integers(0, 6, size=(5, 4))
    ids[0, :3] = 2  # repeats
    r = rng.standard_normal((5, 4, 3))
    emb(ids)
    emb.backward(r)
    numeric = np.zeros_like(emb.weight.data)
    eps = 1e-6
    for k in np.ndindex(emb.weight.data.shape):
        old = emb.weight.data[k]
        emb.weight.data[k] = old + eps
        plus = float(np.sum(emb.weight.data[ids] * r))
        emb.weight.data[k] = old - eps
        minus = float(np.sum(emb.weight.data[ids] * r))
        emb.weight.data[k] = old
        numeric[k] = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(emb.weight.grad, numeric, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("padding_idx", [None, 1])
def test_torch_parity_output_and_weight_gradient(padding_idx):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    emb = gn.Embedding(7, 4, padding_idx=padding_idx, rng=0)
    ids = rng.integers(0, 7, size=(6, 3))
    ids[0] = 1
    dy = rng.standard_normal((6, 3, 4))
    ref = torch.nn.Embedding(7, 4, padding_idx=padding_idx, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(emb.weight.data))
    y_ref = ref(torch.from_numpy(ids))
    y_ref.backward(torch.from_numpy(dy))
    y = emb(ids)
    emb.backward(dy)
    np.testing.assert_allclose(y, y_ref.detach().numpy(), rtol=1e-12, atol=0)
    np.testing.assert_allclose(emb.weight.grad, ref.weight.grad.numpy(), rtol=1e-12, atol=1e-14)
    if padding_idx is not None:
        assert not emb.weight.data[padding_idx].any()


def test_state_dict_names_match_torch():
    assert list(gn.Embedding(3, 2, rng=0).state_dict()) == ["weight"]


@pytest.mark.parametrize(
    "ids, error, words",
    [
        (np.array([0, 5]), IndexError, "[0, 5), got 5"),
        (np.array([-1, 2]), IndexError, "got -1"),
        (np.array([0.0, 1.0]), TypeError, "integer token ids"),
        (np.array([True]), TypeError, "integer token ids"),
    ],
)
def test_bad_ids_are_clear_errors(ids, error, words):
    with pytest.raises(
        error, match=words.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")
    ):
        gn.Embedding(5, 2, rng=0)(ids)


def test_backward_without_forward_and_wrong_dy():
    emb = gn.Embedding(5, 2, rng=0)
    with pytest.raises(RuntimeError, match="forward pass"):
        emb.backward(np.zeros((1, 2)))
    emb(np.array([1, 2]))
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        emb.backward(np.zeros((3, 2)))


def test_one_hot_as_torch():
    torch = pytest.importorskip("torch")
    ids = np.array([[0, 3], [2, 2]])
    ref = torch.nn.functional.one_hot(torch.from_numpy(ids)).numpy()
    got = gn.one_hot(ids)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(
        gn.one_hot(ids, 6, dtype=np.float32), np.eye(6, dtype=np.float32)[ids]
    )


def test_one_hot_rejects_out_of_range_and_float_ids():
    with pytest.raises(IndexError, match="got 4"):
        gn.one_hot(np.array([4]), 3)
    with pytest.raises(TypeError, match="float64"):
        gn.one_hot(np.array([1.0]), 3)
    with pytest.raises(TypeError, match="int"):
        check_ids(np.array(["a"]), 3)
