"""The lab's real data, shipped in gatednp/lab/data/ (provenance, licences, checksums: its README).

- `timemachine(style)`: H. G. Wells' *The Time Machine* as d2l preprocesses it (letters only,
  lower case, characters as tokens) -> (token ids, vocabulary of 28 tokens).
- `pems_flow()`: one PeMS detector's 5-minute lane-1 flow, split into training and test days.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

__all__ = ["DATA", "Vocab", "timemachine", "pems_flow"]

DATA = Path(__file__).resolve().parent / "data"


class Vocab:
    """Tokens <-> ids, d2l v1.0's order: `<unk>` and every token sorted (space first, then
    `<unk>`, then a–z for The Time Machine). Unknown characters map to `<unk>`.

    >>> v = Vocab("ab a")
    >>> v.tokens, v.encode("ba?")
    ([' ', '<unk>', 'a', 'b'], [3, 2, 1])
    """

    def __init__(self, text: str) -> None:
        self.tokens = sorted({"<unk>", *text})
        self.index = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        """Characters -> ids (unknown ones -> `<unk>`'s id)."""
        unk = self.index["<unk>"]
        return [self.index.get(ch, unk) for ch in text]

    def decode(self, ids) -> str:
        """Ids -> the string they spell."""
        return "".join(self.tokens[int(i)] for i in ids)


def timemachine(style: str = "v1.0") -> tuple[np.ndarray, Vocab]:
    """The novel as d2l's character corpus -> (ids (L,) int64, Vocab).

    Args:
        style: "v1.0" replaces every run of non-letters in the whole text by one space (line
            breaks become spaces); "v0.17" does so line by line, strips each line and joins the
            lines with nothing between them, as d2l v0.17's `load_corpus_time_machine`.
    """
    raw = (DATA / "timemachine.txt").read_text(encoding="utf-8")
    if style == "v1.0":
        text = re.sub("[^A-Za-z]+", " ", raw).lower()
    elif style == "v0.17":
        text = "".join(re.sub("[^A-Za-z]+", " ", ln).strip().lower() for ln in raw.splitlines())
    else:
        raise ValueError(f"style must be 'v1.0' or 'v0.17', got {style!r}")
    vocab = Vocab(text)
    return np.array(vocab.encode(text), dtype=np.int64), vocab


def pems_flow() -> tuple[np.ndarray, np.ndarray]:
    """Lane-1 flow in vehicles per 5 minutes -> (train (27, 288), test (15, 288)), one row a day.

    The days are not contiguous (weekdays only), so each row is one whole day.
    """
    rows = np.loadtxt(DATA / "pems_lane1_flow_5min.csv", delimiter=",", skiprows=1, dtype=str)
    flow = rows[:, 1].astype(float)
    parts = [flow[rows[:, 2] == split].reshape(-1, 288) for split in ("train", "test")]
    return parts[0], parts[1]
