"""`timemachine --compare-torch`: the same language model trained in torch from the same weights.

Both run in float64 on the same minibatches (the same `Schedule`, the same state resets), with
SGD and gradient-norm clipping; torch carries its state with `.detach()`, gatednp with
`Stateful`. The two loss curves agree to ~1e-13 over the first steps (they part slowly after,
by the order of floating-point sums). torch is imported here only.
"""

from __future__ import annotations

import numpy as np

from ..optim import SGD
from ..train import train as train_loop
from .language import LanguageModel, lm_loss

__all__ = ["torch_losses", "gatednp_losses", "compare_torch"]


def gatednp_losses(data, cell: str, steps: int, seed: int = 0) -> tuple[LanguageModel, list[float]]:
    """Train a float64 gatednp model for `steps` steps -> (its initial state_dict's model, losses).

    Returns a fresh model with the same initial weights (for torch) and the loss per step."""
    r = data.recipe
    model = LanguageModel(cell, len(data.vocab), r["hidden"], dtype=np.float64, rng=seed)
    initial = LanguageModel(cell, len(data.vocab), r["hidden"], dtype=np.float64, rng=seed)
    schedule = data.schedule(np.random.default_rng(seed + 1))

    def batches(step: int):
        x, y, reset = schedule.batch(step)
        if reset:
            model.reset_state()
        return x, y

    opt = SGD(model.parameters(), lr=r["lr"])
    history = train_loop(model, lm_loss, opt, batches, steps, clip=r["clip"])
    return initial, history.losses


def torch_losses(data, cell: str, initial: LanguageModel, steps: int, seed: int = 0) -> list[float]:
    """The same training in torch, float64, starting from `initial`'s weights."""
    import torch
    from torch import nn

    r, V = data.recipe, len(data.vocab)
    layer = {"gru": nn.GRU, "lstm": nn.LSTM, "rnn": nn.RNN}[cell]

    class TorchLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = layer(V, r["hidden"], dtype=torch.float64)
            self.fc = nn.Linear(r["hidden"], V, dtype=torch.float64)

    net = TorchLM()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in initial.state_dict().items()})
    opt = torch.optim.SGD(net.parameters(), lr=r["lr"])
    schedule = data.schedule(np.random.default_rng(seed + 1))
    state, losses = None, []
    for step in range(1, steps + 1):
        x, y, reset = schedule.batch(step)
        if reset:
            state = None
        elif state is not None:
            state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        xt = nn.functional.one_hot(torch.from_numpy(x.T.copy()), V).double()
        out, state = net.rnn(xt, state)
        logits = net.fc(out).transpose(0, 1)
        loss = nn.functional.cross_entropy(logits.reshape(-1, V), torch.from_numpy(y).reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), r["clip"])
        opt.step()
        losses.append(loss.item())
    return losses


def compare_torch(data, cell: str, steps: int = 20, seed: int = 0) -> int:
    """Print both loss curves side by side; exit status 1 if they differ by more than 1e-10."""
    initial, ours = gatednp_losses(data, cell, steps, seed)
    theirs = torch_losses(data, cell, initial, steps, seed)
    print(f"{cell}, float64, the same weights and minibatches: loss per step")
    print(f"{'step':>4} {'gatednp':>20} {'torch':>20} {'|difference|':>13}")
    for s, (a, b) in enumerate(zip(ours, theirs), 1):
        print(f"{s:>4} {a:>20.15f} {b:>20.15f} {abs(a - b):>13.2e}")
    worst = max(abs(a - b) for a, b in zip(ours, theirs))
    print(f"largest difference {worst:.2e} (bound 1e-10)")
    return 0 if worst <= 1e-10 else 1
