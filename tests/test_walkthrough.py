"""docs/walkthrough.md tells the truth: every statement it quotes is in lstm.py or gru.py, and its
Python block runs. When a loop is rewritten, update the quote the failure names."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "walkthrough.md").read_text()
SOURCE = {name: (ROOT / "gatednp" / name).read_text() for name in ("lstm.py", "gru.py")}


def quoted_code() -> list[tuple[str, str]]:
    """(file, statement) for each `code` quote in the right-hand column of the tables."""
    quotes, current = [], None
    for line in DOC.splitlines():
        if line.startswith("## "):
            current = "lstm.py" if "lstm.py" in line else "gru.py" if "gru.py" in line else None
        if current and line.startswith("| ") and not line.startswith("| equation"):
            code = line.rstrip(" |").rsplit(" | ", 1)[-1]
            for q in re.findall(r"`([^`]+)`", code):
                if "…" not in q and re.search(r"[=(]", q):  # statements, not symbols
                    quotes.append((current, q.replace("\\|", "|")))
    return quotes


def test_every_quoted_statement_is_in_the_source():
    quotes = quoted_code()
    assert len(quotes) > 40
    missing = [f"{f}: {q}" for f, q in quotes if q not in SOURCE[f]]
    assert not missing, "walkthrough quotes code that is no longer there:\n" + "\n".join(missing)


def test_python_block_runs():
    (block,) = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)
    namespace: dict = {}
    exec(compile(block, "walkthrough.md", "exec"), namespace)
    assert namespace["acts"][1, 1]["c"].shape == (100, 4, 16)
