"""`python -m gatednp experiment timemachine`: d2l's character-level language model on
H. G. Wells' *The Time Machine* with RNN, GRU and LSTM (d2l's GRU chapter).

    python -m gatednp experiment timemachine                 (d2l v1.0's recipe, minutes)
    python -m gatednp experiment timemachine --recipe v0.17  (d2l v0.17's: 500 epochs)
    python -m gatednp experiment timemachine --quick         (seconds: checks that it learns)
    python -m gatednp experiment timemachine --compare-torch (the same model in torch, float64)

Recipes (d2l's, as the data README in gatednp/lab/data/ records them):
  v1.0:  the first 10,000 subsequences of 32 characters (starting at every character) for
         training, the next 5,000 for validation; random order, a zero state for each
         minibatch of 1024; 32 hidden units, SGD lr 4, gradient norm clipped to 1, 50 epochs.
  v0.17: the first 10,000 characters in sequential minibatches of 32 × 35, the state carried
         across an epoch (truncated BPTT); 256 hidden units, lr 1, clipping 1, 500 epochs.
         d2l reports training perplexity 1.1 (GRU from scratch). d2l has no validation here;
         this one validates on the next 5,000 characters, cut into sequences of 35.
Models differ from d2l's "scratch" ones in their initialisation only (torch's layer init,
which d2l's concise nn.GRU version uses), and the plain RNN takes lr 1 under every recipe, as
in d2l's RNN chapter (at lr 4 it diverges). The trivial baseline is the unigram model: each
character's training frequency, whatever came before.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

import numpy as np

from ..data import sequential_partition
from ..generate import generate
from ..optim import SGD
from ..train import train as train_loop
from .datasets import timemachine
from .experiments import duration, write_plots
from .language import LanguageModel, Schedule, evaluate_lm, lm_loss, unigram_loss

__all__ = ["RECIPES", "LMData", "lm_data", "LMResult", "train_lm", "run_timemachine"]

RECIPES = {
    "v1.0": dict(style="v1.0", split="subsequences", batch=1024, num_steps=32, hidden=32,
                 lr=4.0, clip=1.0, epochs=50, num_train=10000, num_val=5000, log_every=5),
    "v0.17": dict(style="v0.17", split="sequential", batch=32, num_steps=35, hidden=256,
                  lr=1.0, clip=1.0, epochs=500, num_train=10000, num_val=5000, log_every=50),
    "quick": dict(style="v1.0", split="subsequences", batch=128, num_steps=16, hidden=32,
                  lr=4.0, clip=1.0, epochs=6, num_train=2048, num_val=512, log_every=1),
}  # fmt: skip
PREFIX = "time traveller"


@dataclass
class LMData:
    """A recipe's data: the training stream or subsequences, the validation set, the vocab."""

    recipe: dict
    vocab: object
    train_ids: np.ndarray  # every training token (the unigram baseline's counts)
    X_train: np.ndarray | None  # (N, T) subsequences, or None for sequential partitioning
    Y_train: np.ndarray | None
    X_val: np.ndarray
    Y_val: np.ndarray

    def schedule(self, rng: np.random.Generator) -> Schedule:
        r = self.recipe
        if r["split"] == "sequential":
            return Schedule(
                lambda e: sequential_partition(self.train_ids, r["batch"], r["num_steps"], rng),
                carry=True,
            )

        def epoch(_: int):
            order = rng.permutation(len(self.X_train))
            for i in range(0, len(order), r["batch"]):
                idx = order[i : i + r["batch"]]
                yield self.X_train[idx], self.Y_train[idx]

        return Schedule(epoch, carry=False)

    def steps_bound(self) -> int:
        """At least as many steps as the recipe's epochs take."""
        r = self.recipe
        n = len(self.X_train) if self.X_train is not None else len(self.train_ids) // r["num_steps"]
        return r["epochs"] * (n // r["batch"] + 1)


def _rows(ids: np.ndarray, T: int, every: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, T) inputs and targets from sequences of T + 1 tokens starting every `every` tokens."""
    starts = np.arange(0, len(ids) - T, every)
    s = ids[starts[:, None] + np.arange(T + 1)]
    return s[:, :-1], s[:, 1:]


def lm_data(recipe: dict) -> LMData:
    """Cut the corpus as the recipe says (see the module docstring)."""
    corpus, vocab = timemachine(recipe["style"])
    T, n_train, n_val = recipe["num_steps"], recipe["num_train"], recipe["num_val"]
    if recipe["split"] == "subsequences":
        X, Y = _rows(corpus[: n_train + n_val + T], T, 1)
        return LMData(recipe, vocab, corpus[: n_train + T], X[:n_train], Y[:n_train],
                      X[n_train : n_train + n_val], Y[n_train : n_train + n_val])  # fmt: skip
    X_val, Y_val = _rows(corpus[n_train : n_train + n_val], T, T)
    return LMData(recipe, vocab, corpus[:n_train], None, None, X_val, Y_val)


@dataclass
class LMResult:
    """One trained language model: per-epoch perplexities, per-step losses, speed, samples."""

    cell: str
    model: LanguageModel
    train_ppl: list[float] = field(default_factory=list)  # per epoch
    val_ppl: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)  # per step
    steps: int = 0
    seconds: float = 0.0
    tokens_per_s: float = 0.0
    greedy: str = ""
    sampled: str = ""


def train_lm(data: LMData, cell: str, *, seed: int = 0, dtype=np.float32, out=print) -> LMResult:
    """Train one cell on the recipe with SGD and gradient clipping; progress every few epochs."""
    r = data.recipe
    lr = min(r["lr"], 1.0) if cell == "rnn" else r["lr"]  # d2l's RNN chapter: lr 1
    model = LanguageModel(cell, len(data.vocab), r["hidden"], dtype=dtype, rng=seed)
    schedule = data.schedule(np.random.default_rng(seed + 1))
    result = LMResult(cell, model)
    epoch_losses: list[float] = []
    start = time.perf_counter()
    tokens = 0

    def batches(step: int):
        nonlocal tokens
        x, y, reset = schedule.batch(step)
        if reset:
            model.reset_state()
        tokens += y.size
        return x, y

    def progress(step: int, loss: float) -> bool:
        result.losses.append(loss)
        epoch_losses.append(loss)
        if step not in schedule.epoch_end:
            return False
        e = schedule.epoch
        result.train_ppl.append(float(np.exp(np.mean(epoch_losses))))
        epoch_losses.clear()
        result.val_ppl.append(float(np.exp(evaluate_lm(model, data.X_val, data.Y_val))))
        if e % r["log_every"] == 0 or e == r["epochs"]:
            elapsed = time.perf_counter() - start
            out(
                f"  {cell:<5} epoch {e:4d}/{r['epochs']}  train ppl {result.train_ppl[-1]:7.3f}"
                f"  val ppl {result.val_ppl[-1]:7.3f}  {tokens / elapsed:8.0f} tokens/s"
                f"  {step / elapsed:5.1f} steps/s  ETA {duration(elapsed * (r['epochs'] - e) / e)}"
            )
        return e >= r["epochs"]

    opt = SGD(model.parameters(), lr=lr)
    train_loop(model, lm_loss, opt, batches, data.steps_bound(), clip=r["clip"], callback=progress)
    result.seconds = time.perf_counter() - start
    result.steps, result.tokens_per_s = len(result.losses), tokens / result.seconds
    model.eval()
    prefix = data.vocab.encode(PREFIX)
    result.greedy = data.vocab.decode(generate(model, prefix, 50, greedy=True))
    result.sampled = data.vocab.decode(
        generate(model, prefix, 50, temperature=0.8, top_k=5, generator=seed)
    )
    model.reset_state()
    model.train()
    return result


def summary(results: list[LMResult], data: LMData) -> str:
    base = float(np.exp(unigram_loss(data.train_ids, data.Y_val, len(data.vocab))))
    lines = [
        f"{'cell':<5} {'params':>7} {'epochs':>6} {'steps':>6} {'time':>8} {'tokens/s':>9}"
        f" {'train ppl':>9} {'val ppl':>8} {'val/unigram':>11}"
    ]
    for r in results:
        n = sum(p.data.size for p in r.model.parameters())
        lines.append(
            f"{r.cell:<5} {n:>7} {len(r.train_ppl):>6} {r.steps:>6} {r.seconds:>7.1f}s"
            f" {r.tokens_per_s:>9.0f} {r.train_ppl[-1]:>9.3f} {r.val_ppl[-1]:>8.3f}"
            f" {r.val_ppl[-1] / base:>11.3f}"
        )
    lines.append(f"unigram baseline (character frequencies): val ppl {base:.3f}")
    for r in results:
        lines.append(f"{r.cell:<5} greedy : {r.greedy!r}")
        lines.append(f"{r.cell:<5} sampled: {r.sampled!r}  (temperature 0.8, top-5)")
    return "\n".join(lines)


def run_timemachine(args: argparse.Namespace) -> int:
    """The experiment's entry point; exit status 1 if --quick finds that nothing was learnt."""
    name = "quick" if args.quick else (args.recipe or "v1.0")
    recipe = dict(RECIPES[name])
    for key, opt in (("hidden", "hidden"), ("batch", "batch"), ("lr", "lr"), ("clip", "clip"),
                     ("num_steps", "seq_len"), ("epochs", "epochs")):  # fmt: skip
        if getattr(args, opt, None) is not None:
            recipe[key] = getattr(args, opt)
    data = lm_data(recipe)
    if args.compare_torch:
        from .torch_lm import compare_torch

        return compare_torch(data, (args.cell or ["gru"])[0], seed=args.seed)
    cells = args.cell or (["gru"] if args.quick else ["rnn", "gru", "lstm"])
    print(f"timemachine, recipe {name}: {recipe}", flush=True)
    results = [
        train_lm(data, c, seed=args.seed, dtype=np.dtype(args.dtype),
                 out=lambda s: print(s, flush=True))
        for c in cells
    ]  # fmt: skip
    print()
    print(summary(results, data))
    if args.plot:
        from . import plots

        curves = {f"{r.cell} {k}": v for r in results
                  for k, v in (("train", r.train_ppl), ("val", r.val_ppl))}  # fmt: skip
        write_plots(lambda: [plots.lines(curves, args.plot, xlabel="epoch", ylabel="perplexity",
                                         log=True, title=f"The Time Machine, d2l {name}")])  # fmt: skip
    if args.quick:
        base = float(np.exp(unigram_loss(data.train_ids, data.Y_val, len(data.vocab))))
        ok = all(r.losses[-1] < r.losses[0] and r.val_ppl[-1] < base for r in results)
        print("quick check:", "learns (loss falls, beats the unigram baseline)" if ok else "FAILED")
        return 0 if ok else 1
    return 0
