"""gn.check_layer: a user's own layer, held to gatednp's layer of the same kind, localised."""

import numpy as np
import pytest

import gatednp as gn
from gatednp import lstm
from gatednp.module import Module, Parameter, Weights
from tests.conftest import randomize
from tests.mutants import lstm_backward


class HandWrittenLSTM(Module):
    """One layer, time-major, written the way a student would: a loop over the step."""

    KIND = "lstm"

    def __init__(self, I, H, bug=None, bug_steps=None, rng=0, loop_bug=None):
        rng = np.random.default_rng(rng)
        for name, shape in dict(
            weight_ih_l0=(4 * H, I),
            weight_hh_l0=(4 * H, H),
            bias_ih_l0=(4 * H,),
            bias_hh_l0=(4 * H,),
        ).items():
            setattr(self, name, Parameter(rng.uniform(-0.6, 0.6, shape)))
        self.bug, self.bug_steps, self.loop_bug = bug, bug_steps, loop_bug

    def w(self):
        return Weights(self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, self.bias_hh_l0)

    def forward(self, x, state):
        h, c = state[0][0], state[1][0]
        self.caches, ys = [], []
        for t in range(len(x)):
            (h, c), cache = lstm.step(x[t], (h, c), self.w().arrays())
            self.caches.append(cache)
            ys.append(h)
        return np.stack(ys), (h[None], c[None])

    def backward(self, dy, dstate):
        dh, dc = dstate[0][0], dstate[1][0]
        dx = np.zeros((len(dy), dy.shape[1], self.weight_ih_l0.shape[1]))
        for t in reversed(range(len(dy))):
            bug = self.bug if self.bug_steps is None or t in self.bug_steps else None
            dh_in = dh if self.loop_bug != "dh from t+1 dropped" or t == len(dy) - 1 else 0
            y_t = dy[t - 1] if self.loop_bug == "dy off by one step" and t > 0 else dy[t]
            dx[t], (dh, dc), g = lstm_backward(
                (dh_in + y_t, dc), self.caches[t], self.w().arrays(), bug=bug
            )
            if self.loop_bug == "grads assigned, not accumulated":
                for p, g_part in zip(self.w()[:4], g[:4]):
                    p.grad[...] = g_part
            else:
                self.w().accumulate(g)
        return dx, (dh[None], dc[None])


def test_a_correct_layer_passes_and_a_gatednp_layer_too():
    assert gn.check_layer(HandWrittenLSTM(3, 4)).ok
    rng = np.random.default_rng(0)
    layer = randomize(
        gn.GRU(3, 4, num_layers=2, bidirectional=True, reset_after=False, rng=rng), rng
    )
    report = gn.check_layer(layer)
    assert report.ok and report["weight_hh_l1_reverse"].gates == ("r", "z", "n")


def test_the_issue_example_is_localised():
    """dg wrong at t = 0 only: the g rows fail, and x fails at step 0 only."""
    report = gn.check_layer(HandWrittenLSTM(3, 4, bug="dg halved", bug_steps={0}), T=5)
    assert not report.ok and report["y"].ok  # the forward is right
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_hh_l0"):
        assert [g for g, b in report[name].by_gate().items() if not b.ok] == ["g"]
    assert [b.step for b in report["x"].by_step() if not b.ok] == [0]
    assert "candidate cell g" in "\n".join(report.failures())
    for name in ("weight_ih_l0 by step", "bias_hh_l0 by step"):
        row = report[name]  # each step run alone: every run is a "t = 0", so every step fails
        assert row.error.shape[0] == 5 and not any(b.ok for b in row.by_step())
        assert [g for g, b in row.by_gate().items() if not b.ok] == ["g"]


def test_df_with_c_spreads_back_in_time_but_starts_at_f():
    report = gn.check_layer(HandWrittenLSTM(3, 4, bug="df with c for c_prev"), T=4)
    assert not report["bias_ih_l0"].by_gate()["f"].ok
    assert report["bias_ih_l0"].by_gate()["f"].max_rel_err == max(
        b.max_rel_err for b in report["bias_ih_l0"].by_gate().values()
    )
    assert [b.ok for b in report["x"].by_step()][-1] is False  # the last step is already wrong
    per_step = report["weight_hh_l0 by step"]  # teacher-forced: f at every step, and only f
    assert [g for g, b in per_step.by_gate().items() if not b.ok] == ["f"]
    assert not any(b.ok for b in per_step.by_step())


def test_unknown_kind_falls_back_to_finite_differences():
    report = gn.check_layer(gn.Linear(3, 2, rng=0))  # no kind: gn.gradcheck
    assert report.ok and [r.name for r in report.rows] == ["weight", "bias", "x"]
    with pytest.raises(ValueError, match="kind must be"):
        gn.check_layer(HandWrittenLSTM(2, 3), kind="transformer")


@pytest.mark.parametrize(
    "loop_bug", ["dh from t+1 dropped", "dy off by one step", "grads assigned, not accumulated"]
)
def test_bugs_of_the_bptt_loop(loop_bug):
    """Bugs outside the step: the full run fails, and every step run alone passes, which is
    the sign that the step is right and the loop around it is not."""
    report = gn.check_layer(HandWrittenLSTM(3, 4, loop_bug=loop_bug), T=4)
    assert not report.ok
    assert all(report[f"{n} by step"].ok for n in ("weight_ih_l0", "weight_hh_l0", "bias_hh_l0"))
    assert not report["weight_hh_l0"].ok
