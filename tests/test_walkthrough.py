"""docs/walkthrough.md tells the truth: every statement in the code column of its "equation | code"
tables is a line of the textbook step in the cell file its section names (lstm.py, gru.py,
rnn.py), no code it quotes anywhere is a line of the engine (gatednp/engine/), and its Python
block runs. When the step is rewritten, update the quote the failure names."""

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "walkthrough.md").read_text()
CELL_FILES = ("lstm.py", "gru.py", "rnn.py")
MIN_QUOTES = {"lstm.py": 30, "gru.py": 25, "rnn.py": 6}  # the step pair of each, line by line


def code_lines(path: Path) -> set[str]:
    """The lines of a Python file that hold code (not docstring or comment lines), stripped of
    indentation, trailing comment and trailing comma: the statements a quote must equal."""
    text = path.read_text()
    rows = {
        tok.start[0]
        for tok in tokenize.generate_tokens(io.StringIO(text).readline)
        if tok.type in (tokenize.NAME, tokenize.OP, tokenize.NUMBER)
    }
    lines = text.splitlines()
    return {lines[r - 1].split("  # ")[0].strip().rstrip(",") for r in rows}


CELL = {name: code_lines(ROOT / "gatednp" / name) for name in CELL_FILES}
ENGINE = set().union(*(code_lines(p) for p in (ROOT / "gatednp" / "engine").glob("*.py")))


def cells(row: str) -> list[str]:
    """The cells of a table row, split on the pipes that are not escaped (`\\|` in code)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]


def quoted_code() -> list[tuple[str | None, str]]:
    """(cell file of the section, statement) for each `code` quote in the right-hand column of
    the "equation | code" tables; the file is None in a section that names no cell file."""
    quotes, current, in_table = [], None, False
    for line in DOC.splitlines():
        if line.startswith("## "):
            named = re.findall(r"`gatednp/(\w+\.py)`", line)
            current = named[0] if named and named[0] in CELL_FILES else None
        if not line.startswith("|"):
            in_table = False
        elif cells(line) == ["equation", "code"]:
            in_table = True
        elif in_table and not set(line) <= set("|-: "):
            for q in re.findall(r"`([^`]+)`", cells(line)[-1]):
                quotes.append((current, q.replace("\\|", "|")))
    return quotes


def test_every_quoted_statement_is_a_line_of_the_step():
    quotes = quoted_code()
    outside = [q for f, q in quotes if f is None]
    assert not outside, "code quoted outside the cell sections:\n" + "\n".join(outside)
    for name, least in MIN_QUOTES.items():
        count = sum(f == name for f, _ in quotes)
        assert count >= least, f"only {count} quotes from {name}, expected at least {least}"
    missing = [f"{f}: {q}" for f, q in quotes if q not in CELL[f]]
    assert not missing, "walkthrough quotes code that is no longer there:\n" + "\n".join(missing)


def test_no_quote_is_engine_code():
    """The teaching code is the step: nothing in backticks, tables or prose, may be a line that
    only the engine has."""
    cell_code = set().union(*CELL.values())
    spans = {q.replace("\\|", "|") for q in re.findall(r"`([^`\n]+)`", DOC)}
    from_engine = sorted(q for q in spans if q in ENGINE and q not in cell_code)
    assert not from_engine, "walkthrough quotes the engine:\n" + "\n".join(from_engine)
    assert len(ENGINE - cell_code) > 100, "no engine code read: the check would pass vacuously"


def test_python_block_runs():
    (block,) = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)
    namespace: dict = {}
    exec(compile(block, "walkthrough.md", "exec"), namespace)
    assert namespace["acts"][1, 1]["c"].shape == (100, 4, 16)
