"""Tests of gatednp/lab/language.py and datasets.py: the language model's gradient (finite
differences, float64), its Stateful carry, the schedule, the shipped corpus, and torch parity of
a whole training run (gatednp/lab/torch_lm.py)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from gatednp.lab.datasets import DATA, Vocab, pems_flow, timemachine
from gatednp.lab.language import LanguageModel, Schedule, evaluate_lm, lm_loss, unigram_loss


@pytest.mark.parametrize("embedding_dim", [None, 3])
@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
def test_gradient_matches_finite_differences(cell, embedding_dim):
    rng = np.random.default_rng(0)
    lm = LanguageModel(cell, 6, 4, embedding_dim=embedding_dim, rng=1)
    x, y = rng.integers(0, 6, (2, 5)), rng.integers(0, 6, (2, 5))
    lm.reset_state()
    loss, d = lm_loss(lm(x), y)
    lm.backward(d)

    def f():
        lm.reset_state()
        return lm_loss(lm(x), y)[0]

    for name, p in lm.named_parameters():
        for k in [tuple(rng.integers(0, n) for n in p.data.shape) for _ in range(3)]:
            old = p.data[k]
            p.data[k] = old + 1e-6
            plus = f()
            p.data[k] = old - 1e-6
            minus = f()
            p.data[k] = old
            assert p.grad[k] == pytest.approx((plus - minus) / 2e-6, rel=1e-5, abs=1e-9), name


def test_state_carries_between_calls_and_step_matches_forward():
    lm = LanguageModel("lstm", 5, 4, rng=0)
    ids = np.random.default_rng(1).integers(0, 5, (1, 6))
    lm.eval()
    lm.reset_state()
    whole = lm(ids)
    lm.reset_state()
    halves = np.concatenate([lm(ids[:, :3]), lm(ids[:, 3:])], axis=1)
    np.testing.assert_allclose(halves, whole, rtol=1e-12)
    lm.reset_state()
    steps = np.stack([lm.step(ids[:, t]) for t in range(6)], axis=1)
    np.testing.assert_allclose(steps, whole, rtol=1e-12)


def test_schedule_resets_at_each_epoch_when_carrying():
    s = Schedule(lambda e: iter([(np.zeros((1, 1)), np.zeros((1, 1)))] * 3), carry=True)
    resets = [s.batch(step)[2] for step in range(1, 7)]
    assert resets == [True, False, False, True, False, False]
    assert s.epoch_end == {3, 6} and s.epoch == 2
    s = Schedule(lambda e: iter([(np.zeros((1, 1)), np.zeros((1, 1)))] * 2), carry=False)
    assert all(s.batch(step)[2] for step in range(1, 5))


def test_unigram_loss_is_the_entropy_of_frequencies():
    train = np.array([0, 0, 0, 1])
    expected = -np.log(np.array([4, 2, 1]) / 7)[[0, 1, 2]].mean()
    assert unigram_loss(train, np.array([0, 1, 2]), 3) == pytest.approx(expected)


def test_evaluate_leaves_the_model_training_and_from_zero_state():
    lm = LanguageModel("gru", 5, 4, rng=0)
    x = np.zeros((3, 4), dtype=np.int64)
    a = evaluate_lm(lm, x, x, batch=2)
    assert lm.training and lm.rnn.state is None
    assert a == pytest.approx(evaluate_lm(lm, x, x, batch=3))


def test_shipped_data_and_d2l_preprocessing():
    raw = (DATA / "timemachine.txt").read_bytes()
    assert hashlib.sha1(raw).hexdigest() == "090b5e7e70c295757f55df93cb0a180b9691891a"
    ids, vocab = timemachine()
    assert len(vocab) == 28 and vocab.tokens[:2] == [" ", "<unk>"]
    assert vocab.decode(ids[:16]) == "the time machine"
    ids17, _ = timemachine("v0.17")
    assert len(ids17) < len(ids)
    train, test = pems_flow()
    assert train.shape == (27, 288) and test.shape == (15, 288)
    assert Vocab("ab").encode("c") == [Vocab("ab").index["<unk>"]]


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
def test_training_matches_torch_from_the_same_weights(cell):
    pytest.importorskip("torch")
    from gatednp.lab.timemachine import RECIPES, lm_data
    from gatednp.lab.torch_lm import gatednp_losses, torch_losses

    recipe = dict(RECIPES["quick"], num_train=256, num_val=64, batch=32, hidden=8)
    data = lm_data(recipe)
    initial, ours = gatednp_losses(data, cell, 20)
    theirs = torch_losses(data, cell, initial, 20)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)
    assert ours[-1] != ours[0]


def test_sequential_recipe_matches_torch_with_carried_state():
    pytest.importorskip("torch")
    from gatednp.lab.timemachine import RECIPES, lm_data
    from gatednp.lab.torch_lm import gatednp_losses, torch_losses

    data = lm_data(dict(RECIPES["v0.17"], hidden=8, num_train=2000))
    initial, ours = gatednp_losses(data, "lstm", 20)
    np.testing.assert_allclose(ours, torch_losses(data, "lstm", initial, 20), rtol=0, atol=1e-10)
