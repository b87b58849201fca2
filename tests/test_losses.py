"""Tests of gatednp/losses.py: values and gradients against finite differences and torch's
autograd, shape and dtype checking, reductions and edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gatednp.losses import huber_loss, l1_loss, mse_loss

LOSSES = {"mse_loss": mse_loss, "l1_loss": l1_loss, "huber_loss": huber_loss}


def random_pair(shape=(3, 4), dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    pred = rng.standard_normal(shape).astype(dtype)
    target = (rng.standard_normal(shape) * 1.5).astype(dtype)
    return pred, target


def finite_difference(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of a scalar function f at x, entry by entry."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        grad[index] = (f(plus) - f(minus)) / (2 * eps)
    return grad


def assert_gradient_matches_fd(loss, pred, target, reduction, **kw):
    value, dpred = loss(pred, target, reduction, **kw)
    if reduction == "none":
        f = lambda x: float(loss(x, target, "none", **kw)[0].sum())  # noqa: E731
    else:
        f = lambda x: loss(x, target, reduction, **kw)[0]  # noqa: E731
    numeric = finite_difference(f, pred)
    scale = max(1.0, abs(f(pred)))
    assert np.all(np.abs(dpred - numeric) <= 1e-8 * scale + 1e-5 * np.abs(numeric)), (
        f"{loss.__name__}/{reduction}: max |analytic − numeric| = "
        f"{np.max(np.abs(dpred - numeric)):.3e}"
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", LOSSES)
def test_gradient_matches_finite_differences(name, reduction):
    pred, target = random_pair()
    assert_gradient_matches_fd(LOSSES[name], pred, target, reduction)


def test_huber_gradient_matches_finite_differences_with_delta():
    pred, target = random_pair(seed=4)
    assert_gradient_matches_fd(huber_loss, pred, target, "mean", delta=0.3)


def test_mse_by_hand():
    pred = np.array([[1.0, 2.0], [3.0, 4.0]])
    target = np.array([[0.0, 2.0], [5.0, 3.5]])
    value, dpred = mse_loss(pred, target)
    assert value == (1.0 + 0.0 + 4.0 + 0.25) / 4
    assert isinstance(value, float)
    assert np.array_equal(dpred, np.array([[0.5, 0.0], [-1.0, 0.25]]))
    value, dpred = mse_loss(pred, target, "sum")
    assert value == 5.25 and np.array_equal(dpred, np.array([[2.0, 0.0], [-4.0, 1.0]]))
    value, dpred = mse_loss(pred, target, "none")
    assert np.array_equal(value, np.array([[1.0, 0.0], [4.0, 0.25]]))
    assert np.array_equal(dpred, np.array([[2.0, 0.0], [-4.0, 1.0]]))


TORCH_LOSSES = [
    ("mse_loss", {}),
    ("l1_loss", {}),
    ("huber_loss", {}),
    ("huber_loss", {"delta": 0.4}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name, kw", TORCH_LOSSES, ids=str)
def test_matches_torch_autograd(name, kw, reduction, dtype):
    torch = pytest.importorskip("torch")
    pred, target = random_pair((2, 3, 5), dtype)
    value, dpred = LOSSES[name](pred, target, reduction, **kw)
    tpred = torch.tensor(pred, requires_grad=True)
    tvalue = getattr(torch.nn.functional, name)(
        tpred, torch.tensor(target), reduction=reduction, **kw
    )
    tvalue.sum().backward()  # for "none": the gradient of the sum, as ours
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(
        value, tvalue.detach().numpy(), rtol=rtol, atol=rtol, err_msg=f"{name} value"
    )
    assert dpred.dtype == dtype and dpred.shape == pred.shape
    np.testing.assert_allclose(
        dpred, tpred.grad.numpy(), rtol=rtol, atol=rtol * 1e-3, err_msg=f"{name} dpred"
    )
    if reduction == "none":
        assert value.dtype == dtype and value.shape == pred.shape
    else:
        assert isinstance(value, float)


FIXTURE = Path(__file__).resolve().parent / "fixtures" / "losses.npz"
FROZEN = {"mse": ("mse_loss", {}), "l1": ("l1_loss", {}), "huber": ("huber_loss", {}),
          "huber_delta0.4": ("huber_loss", {"delta": 0.4})}  # fmt: skip


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("key", FROZEN)
def test_matches_frozen_torch_autograd(key, reduction, dtype):
    """The same comparison with torch's values and gradients frozen in tests/fixtures (written
    by generate.py with torch 2.13.0): runs without torch."""
    with np.load(FIXTURE, allow_pickle=False) as f:
        pred, target = f[f"input/{dtype}/pred"], f[f"input/{dtype}/target"]
        expected = f[f"loss/{key}/{reduction}/{dtype}/value"]
        expected_grad = f[f"loss/{key}/{reduction}/{dtype}/dpred"]
    name, kw = FROZEN[key]
    value, dpred = LOSSES[name](pred, target, reduction, **kw)
    rtol = 1e-12 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(value, expected, rtol=rtol, atol=rtol)
    assert dpred.dtype == pred.dtype
    np.testing.assert_allclose(dpred, expected_grad, rtol=rtol, atol=rtol * 1e-3)


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from([np.float64, np.float32]),
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4),
    st.data(),
)
def test_shapes_dtypes_and_invariants(dtype, shape, data):
    elements = st.floats(-100, 100, width=32)
    pred = data.draw(hnp.arrays(dtype, shape, elements=elements))
    target = data.draw(hnp.arrays(dtype, shape, elements=elements))
    pred_before, target_before = pred.copy(), target.copy()
    for loss in LOSSES.values():
        value, dpred = loss(pred, target)
        assert isinstance(dpred, np.ndarray)
        assert dpred.shape == pred.shape and dpred.dtype == pred.dtype
        assert value >= 0
        elementwise, dsum = loss(pred, target, "none")
        assert elementwise.shape == pred.shape and elementwise.dtype == dtype
        # mean = sum / N, for the value and for the gradient
        n = pred.size
        np.testing.assert_allclose(dsum / n, dpred, rtol=1e-6, atol=1e-30)
        zero, dzero = loss(pred, pred)
        assert zero == 0 and not dzero.any()
    assert np.array_equal(pred, pred_before) and np.array_equal(target, target_before)


@settings(max_examples=20, deadline=None)
@given(
    hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=3), elements=st.floats(-10, 10)),
    st.data(),
)
def test_mse_gradient_matches_finite_differences_hypothesis(pred, data):
    target = data.draw(hnp.arrays(np.float64, pred.shape, elements=st.floats(-10, 10)))
    assert_gradient_matches_fd(mse_loss, pred, target, "mean")


@pytest.mark.parametrize("name", LOSSES)
def test_errors(name):
    loss = LOSSES[name]
    with pytest.raises(
        ValueError,
        match=rf"^{name}: pred and target must have the same shape, got \(3, 1\) and \(3,\)$",
    ):
        loss(np.zeros((3, 1)), np.zeros(3))
    with pytest.raises(ValueError, match="same dtype, got float32 and float64"):
        loss(np.zeros(3, np.float32), np.zeros(3))
    with pytest.raises(TypeError, match="pred must be a floating-point array, got dtype int64"):
        loss(np.zeros(3, np.int64), np.zeros(3))
    with pytest.raises(TypeError, match="target must be a floating-point array, got dtype bool"):
        loss(np.zeros(3), np.zeros(3, bool))
    with pytest.raises(ValueError, match="reduction must be one of"):
        loss(np.zeros(3), np.zeros(3), "average")


def test_huber_rejects_nonpositive_delta():
    with pytest.raises(ValueError, match="delta must be positive, got 0.0"):
        huber_loss(np.zeros(3), np.zeros(3), delta=0.0)


def test_empty_input():
    pred = np.zeros((0, 3))
    value, dpred = mse_loss(pred, pred)  # torch: nan, and no warning (warnings are errors here)
    assert np.isnan(value) and dpred.shape == (0, 3)
    assert mse_loss(pred, pred, "sum")[0] == 0.0


def test_non_contiguous_and_read_only_inputs():
    pred, target = random_pair((4, 6))
    expected = mse_loss(pred, target)
    pred_f, target_ro = np.asfortranarray(pred), target.copy()
    target_ro.flags.writeable = False
    value, dpred = mse_loss(pred_f, target_ro)
    assert value == expected[0] and np.array_equal(dpred, expected[1])
    value, dpred = mse_loss(pred.T, target.T)
    assert value == pytest.approx(expected[0], rel=1e-15)
    assert np.array_equal(dpred, expected[1].T)


# cross_entropy and perplexity ----------------------------------------------------------------


def ce_case(shape=(4, 5), seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal(shape) * 3
    C = shape[1] if len(shape) > 1 else shape[0]
    tshape = () if len(shape) == 1 else (shape[0], *shape[2:])
    return logits, rng.integers(0, C, size=tshape)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(5,), (4, 5), (3, 5, 2)])
def test_cross_entropy_gradient_matches_finite_differences(shape, reduction):
    from gatednp.losses import cross_entropy

    logits, target = ce_case(shape)
    if len(shape) > 1:
        target.reshape(-1)[1] = -100  # one ignored row
    r = np.random.default_rng(9).standard_normal(target.shape)  # random upstream for "none"
    if reduction == "none":
        f = lambda z: float(np.sum(cross_entropy(z, target, reduction="none")[0] * r))  # noqa: E731
        _, grad = cross_entropy(logits, target, reduction="none")
        # the "none" gradient is that of the plain sum: weight it by r row by row
        weights = np.expand_dims(r, 0 if len(shape) == 1 else 1) if r.ndim else r
        grad = grad * weights
    else:
        f = lambda z: cross_entropy(z, target, reduction=reduction)[0]  # noqa: E731
        _, grad = cross_entropy(logits, target, reduction=reduction)
    numeric = finite_difference(f, logits)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(5,), (4, 5), (3, 5, 2)])
def test_cross_entropy_matches_torch(shape, reduction):
    torch = pytest.importorskip("torch")
    from gatednp.losses import cross_entropy

    logits, target = ce_case(shape, seed=1)
    if len(shape) > 1:
        target.reshape(-1)[0] = 7  # a custom ignore_index
    value, grad = cross_entropy(logits, target, ignore_index=7, reduction=reduction)
    z = torch.tensor(logits, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(
        z, torch.from_numpy(target), ignore_index=7, reduction=reduction
    )
    ref.sum().backward()
    np.testing.assert_allclose(value, ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_cross_entropy_is_stable_for_huge_logits_and_keeps_float32():
    from gatednp.losses import cross_entropy

    loss, grad = cross_entropy(np.array([[1000.0, 0.0, -1000.0]]), np.array([0]))
    assert loss == 0.0 and np.all(np.isfinite(grad))
    loss, grad = cross_entropy(np.array([[1000.0, 0.0]]), np.array([1]))
    assert loss == 1000.0
    _, g32 = cross_entropy(np.zeros((2, 3), np.float32), np.array([0, 1]))
    assert g32.dtype == np.float32


def test_cross_entropy_all_ignored_is_nan_as_torch():
    from gatednp.losses import cross_entropy

    loss, grad = cross_entropy(np.zeros((2, 3)), np.array([-100, -100]))
    assert np.isnan(loss) and not grad.any()


@pytest.mark.parametrize(
    "logits, target, error, words",
    [
        (np.zeros((2, 3)), np.array([0, 3]), IndexError, "got 3"),
        (np.zeros((2, 3)), np.array([0, -2]), IndexError, "got -2"),
        (np.zeros((2, 3)), np.array([0.0, 1.0]), TypeError, "integer class ids"),
        (np.zeros((2, 3)), np.array([0, 1, 2]), ValueError, "target of shape"),
        (np.zeros((2, 3), int), np.array([0, 1]), TypeError, "floating-point"),
    ],
)
def test_cross_entropy_bad_input(logits, target, error, words):
    from gatednp.losses import cross_entropy

    with pytest.raises(error, match=words):
        cross_entropy(logits, target)


def test_perplexity_of_a_uniform_guess_is_the_vocabulary_size():
    from gatednp.losses import cross_entropy, perplexity

    loss, _ = cross_entropy(np.zeros((10, 28)), np.arange(10))
    assert perplexity(loss) == pytest.approx(28.0, rel=1e-12)
