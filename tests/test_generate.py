"""Tests of gatednp/generate.py: greedy, temperature and top-k sampling, seeded reproducibility,
warm-up on the prefix through a Stateful layer."""

from __future__ import annotations

import numpy as np
import pytest

import gatednp as gn


def test_greedy_is_argmax_and_top1_equals_greedy():
    z = np.random.default_rng(0).standard_normal((6, 9))
    np.testing.assert_array_equal(gn.sample_next(z, greedy=True), z.argmax(axis=1))
    np.testing.assert_array_equal(gn.sample_next(z, top_k=1, generator=1), z.argmax(axis=1))


def test_sampling_frequencies_follow_softmax_over_temperature():
    z = np.log(np.array([0.5, 0.3, 0.2]))
    draws = gn.sample_next(np.tile(z, (20000, 1)), temperature=0.5, generator=0)
    p = np.array([0.5, 0.3, 0.2]) ** 2
    p /= p.sum()
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / 20000, p, atol=0.015)


def test_top_k_never_draws_outside_the_k_largest():
    z = np.random.default_rng(2).standard_normal(10)
    draws = gn.sample_next(np.tile(z, (5000, 1)), top_k=3, generator=3)
    assert set(draws) == set(np.argsort(z)[-3:])


def test_seeded_generator_reproduces():
    z = np.random.default_rng(4).standard_normal((50, 7))
    a = gn.sample_next(z, generator=np.random.default_rng(5))
    b = gn.sample_next(z, generator=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kw, words",
    [({"temperature": 0}, "temperature"), ({"top_k": 0}, "top_k"), ({"top_k": 9}, "top_k")],
)
def test_bad_options(kw, words):
    with pytest.raises(ValueError, match=words):
        gn.sample_next(np.zeros((1, 4)), generator=0, **kw)


class TinyLM:
    """One-hot -> GRU (Stateful) -> Linear: the protocol `generate` needs."""

    def __init__(self, V=5, H=4):
        self.V, self.rnn = V, gn.Stateful(gn.GRU(V, H, rng=0))
        self.fc = gn.Linear(H, V, rng=1)

    def reset_state(self):
        self.rnn.reset_state()

    def step(self, ids):
        return self.fc(self.rnn.step(gn.one_hot(ids, self.V, dtype=np.float64)))

    def logits(self, ids):  # the whole sequence at once
        y, _ = self.rnn.layer(gn.one_hot(np.array(ids)[:, None], self.V, dtype=np.float64))
        return self.fc(y[:, 0])


def test_generate_warms_up_on_the_prefix_and_feeds_back_its_choices():
    lm = TinyLM()
    out = gn.generate(lm, [1, 2, 3], 6, greedy=True)
    assert out[:3] == [1, 2, 3] and len(out) == 9
    for t in range(3, 9):  # each token is the argmax after the whole sequence so far
        assert out[t] == int(lm.logits(out[:t])[-1].argmax())
    a = gn.generate(lm, [0], 10, temperature=1.0, top_k=3, generator=7)
    assert a == gn.generate(lm, [0], 10, temperature=1.0, top_k=3, generator=7)


def test_generate_needs_a_prefix():
    with pytest.raises(ValueError, match="prefix"):
        gn.generate(TinyLM(), [], 3)
