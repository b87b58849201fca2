"""Every one-layer recurrent module the lab trains, by the name `--cell` takes.

`CELLS` are torch's three layers; `VARIANTS` the LSTM and GRU variants, options of gn.LSTM and
gn.GRU (lstm.py and gru.py), that `python -m gatednp experiment variants` (the first four) and
`python -m gatednp study variants` (all) compare; `DESCRIPTIONS` says in a few words what each
name is. A variant whose option the installed gatednp lacks is a ValueError from `make_layer`.
"""

from __future__ import annotations

from ..module import Module
from ..recurrent import GRU, LSTM, RNN

__all__ = ["CELLS", "VARIANTS", "DESCRIPTIONS", "make_layer"]

CELLS = {
    "lstm": lambda I, H, **kw: LSTM(I, H, **kw),
    "gru": lambda I, H, **kw: GRU(I, H, **kw),
    "rnn": lambda I, H, **kw: RNN(I, H, nonlinearity="tanh", **kw),
}
VARIANTS = {
    "lstm-fb1": lambda I, H, **kw: LSTM(I, H, forget_bias=1.0, **kw),
    "peephole": lambda I, H, **kw: LSTM(I, H, peepholes=True, **kw),
    "cifg": lambda I, H, **kw: LSTM(I, H, forget_gate="coupled", **kw),
    "lstm1997": lambda I, H, **kw: LSTM(I, H, forget_gate="none", **kw),
    "gru-rb": lambda I, H, **kw: GRU(I, H, reset_after=False, **kw),
    "nig": lambda I, H, **kw: LSTM(I, H, input_gate="none", **kw),
    "nog": lambda I, H, **kw: LSTM(I, H, output_gate="none", **kw),
    "noa": lambda I, H, **kw: LSTM(I, H, activations=("sigmoid", "tanh", "identity"), **kw),
}
DESCRIPTIONS = {
    "lstm": "torch's LSTM (forget bias at init ~ 0)",
    "lstm-fb1": "forget-gate bias 1 (Jozefowicz 2015)",
    "peephole": "peepholes (Gers & Schmidhuber 2000)",
    "cifg": "coupled gates f = 1 − i",
    "lstm1997": "no forget gate, f ≡ 1 (1997)",
    "gru": "torch's GRU (reset after W_hn)",
    "gru-rb": "GRU, reset before W_hn (Cho 2014)",
    "rnn": "tanh RNN, no gates",
    "nig": "no input gate, i ≡ 1",
    "nog": "no output gate, o ≡ 1",
    "noa": "no output activation, h = o ⊙ c",
}


def make_layer(kind: str, input_size: int, hidden_size: int, *, dtype, rng) -> Module:
    """A one-layer, time-major recurrent module by name: a key of `CELLS` or of `VARIANTS`.

    >>> import numpy as np
    >>> make_layer("cifg", 2, 3, dtype=np.float64, rng=0)(np.ones((4, 5, 2)))[0].shape
    (4, 5, 3)
    """
    factory = CELLS.get(kind) or VARIANTS.get(kind)
    if factory is None:
        raise ValueError(f"cell must be one of {[*CELLS, *VARIANTS]}, got {kind!r}")
    try:
        return factory(input_size, hidden_size, dtype=dtype, rng=rng)
    except TypeError as e:  # an option this gatednp does not have (yet): "unexpected keyword"
        raise ValueError(f"the installed gatednp cannot build {kind!r}: {e}") from e
