"""gatednp/train.py: the course loop, and stopping at the first nan/inf with the work intact."""

import numpy as np
import pytest

import gatednp as gn
from gatednp.lab.demo import consecutive_numbers
from gatednp.train import NonFiniteError


def _course_loop(model, optimizer, X, y, steps):
    """The loop the course writes by hand."""
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        pred = model(X)
        loss, dpred = gn.mse_loss(pred, y)
        model.backward(dpred)
        optimizer.step()
        losses.append(loss)
    return losses


def test_train_is_the_course_loop_bitwise():
    X, y = consecutive_numbers(8)
    a, b = gn.LSTMModel(1, 6, 1, rng=0), gn.LSTMModel(1, 6, 1, rng=0)
    opt_a, opt_b = gn.Adam(a.parameters(), lr=0.01), gn.Adam(b.parameters(), lr=0.01)
    losses = _course_loop(a, opt_a, X, y, 30)
    history = gn.train(b, gn.mse_loss, opt_b, [(X, y)], 30)
    assert history.losses == losses and history.steps == list(range(1, 31))
    assert all(np.array_equal(p.data, q.data) for p, q in zip(a.parameters(), b.parameters()))


def test_batches_cycle_and_callback_stops():
    X, y = consecutive_numbers(6)
    seen = []
    model = gn.GRUModel(1, 4, 1, rng=0)
    pairs = [(X[:3], y[:3]), (X[3:], y[3:])]
    history = gn.train(
        model, gn.mse_loss, gn.SGD(model.parameters(), lr=1e-3), pairs, 10,
        callback=lambda step, loss: seen.append(step) or step == 5,
    )  # fmt: skip
    assert seen == [1, 2, 3, 4, 5] and len(history.losses) == 5


def test_clip_bounds_the_gradient_and_records_the_norm_before_clipping():
    X, y = consecutive_numbers(8)
    model = gn.LSTMModel(1, 6, 1, rng=0)
    opt = gn.SGD(model.parameters(), lr=0.0)
    history = gn.train(model, gn.mse_loss, opt, [(X, y)], 1, clip=0.5)
    total = np.sqrt(sum(np.sum(p.grad**2) for p in model.parameters()))
    assert history.grad_norms[0] > 0.5 and total == pytest.approx(0.5, rel=1e-5)


def _diverging(lr=1e6, bad_step=None):
    """SGD with a huge rate on a growing target, or a target that turns to nan at bad_step."""
    X, y = consecutive_numbers(8)
    model = gn.LSTMModel(1, 4, 1, rng=0)
    opt = gn.SGD(model.parameters(), lr=lr)

    def batch(step):
        target = y * 1e300 if bad_step is None else y
        return X, (np.full_like(y, np.nan) if step == bad_step else target)

    return model, opt, batch


def test_nan_loss_stops_at_its_step_and_keeps_the_previous_parameters():
    model, opt, batch = _diverging(lr=1e-3, bad_step=4)
    gn.train(model, gn.mse_loss, opt, batch, 3)
    kept = [p.data.copy() for p in model.parameters()]
    with pytest.raises(
        NonFiniteError, match=r"^step 4: the loss is nan; .*\(from step 3\)"
    ) as info:
        gn.train(model, gn.mse_loss, opt, batch, 10, start=3)
    assert info.value.step == 4 and info.value.history.steps == []
    assert all(np.array_equal(a, p.data) for a, p in zip(kept, model.parameters()))


def test_overflowing_gradient_or_update_restores_the_last_finite_parameters():
    model, opt, batch = _diverging()
    snapshots = []
    with pytest.raises(NonFiniteError, match=r"^step (\d+): the (gradient norm is inf|loss is inf|update made)") as info:  # fmt: skip
        with np.errstate(over="ignore", invalid="ignore"):
            gn.train(
                model, gn.mse_loss, opt, batch, 50,
                callback=lambda s, l: snapshots.append([p.data.copy() for p in model.parameters()]),
            )  # fmt: skip
    step = info.value.step
    assert len(info.value.history.steps) == step - 1 == len(snapshots)
    last = snapshots[-1] if snapshots else None
    for i, p in enumerate(model.parameters()):
        assert np.isfinite(p.data).all()
        if last is not None:
            assert np.array_equal(last[i], p.data)


def test_update_that_overflows_is_undone():
    X, y = consecutive_numbers(4)
    model = gn.GRUModel(1, 3, 1, rng=0)
    opt = gn.SGD(model.parameters(), lr=1e308)  # finite loss and gradient, infinite step
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(NonFiniteError, match=r"step 1: the update made a parameter non-finite; .*\(their initial values\)"):  # fmt: skip
        with np.errstate(over="ignore"):
            gn.train(model, gn.mse_loss, opt, [(X, y)], 5)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters()))


def test_exception_inside_the_update_is_undone():
    """Under warnings-as-errors the overflow raises inside optimizer.step(): still undone."""
    X, y = consecutive_numbers(4)
    model = gn.GRUModel(1, 3, 1, rng=0)
    opt = gn.SGD(model.parameters(), lr=1e308)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(RuntimeWarning, match="overflow"):
        gn.train(model, gn.mse_loss, opt, [(X, y)], 5)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters()))


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        (dict(steps=-1), ValueError, "steps must be an int ≥ 0, got -1"),
        (dict(steps=2.5), ValueError, "steps must be an int ≥ 0, got 2.5"),
        (dict(clip=0.0), ValueError, "clip must be a positive max norm or None, got 0.0"),
        (dict(batches=[]), TypeError, "batches must be a non-empty sequence .* of length 0"),
        (dict(batches=None), TypeError, "got NoneType"),
    ],
)
def test_bad_arguments(kw, exc, match):
    X, y = consecutive_numbers(4)
    model = gn.GRUModel(1, 3, 1, rng=0)
    args = dict(batches=[(X, y)], steps=3) | kw
    with pytest.raises(exc, match=match):
        gn.train(model, gn.mse_loss, gn.Adam(model.parameters()), args.pop("batches"), **args)
