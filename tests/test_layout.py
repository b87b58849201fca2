"""The package's shape: the lab uses the core one way, no import circle, no private name crosses
files, no file grows past 400 lines. Read from the source (ast), so nothing is imported."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gatednp"
MAX_LINES = 400
TOO_LONG_FOR_NOW: set[str] = set()  # files allowed over the limit while being split: none


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


FILES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import statement in the file, at any
    depth (a function-level import is a dependency too); only gatednp modules are kept."""
    path = FILES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            source = ".".join(base + ([node.module] if node.module else []))
            taken = [a.name for a in node.names]
            submodules = [f"{source}.{t}" for t in taken if f"{source}.{t}" in FILES]
            found += [(m, []) for m in submodules]  # `from .. import gru` imports gatednp.gru
            if len(submodules) < len(taken):
                found.append((source, [t for t in taken if f"{source}.{t}" not in FILES]))
    return [(m, taken) for m, taken in found if m in FILES]


GRAPH = {name: sorted({m for m, _ in imports(name)} - {name}) for name in FILES}


def test_the_ast_walk_sees_the_known_edges():
    assert "gatednp.lab.models" in GRAPH["gatednp"] and "gatednp.train" in GRAPH["gatednp.lab.demo"]
    assert "gatednp.lab.experiments" in GRAPH["gatednp.cli"]  # `from .lab import experiments`
    assert "gatednp" in GRAPH["gatednp.cli"]  # `from . import GRU, ...`: the package face


def circles(graph: dict[str, list[str]]) -> list[str]:
    """Depth-first search; each back edge closes a circle, given as the path around it."""
    state, found = {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                found.append(
                    " -> ".join([*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt])
                )
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for name in graph:
        if name not in state:
            visit(name, [name])
    return found


def test_no_import_circle():
    assert not circles(GRAPH), "import circles:\n" + "\n".join(circles(GRAPH))


def test_a_circle_is_found_and_named():
    assert circles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == ["a -> b -> c -> a"]
    assert circles({"a": ["b"], "b": [], "c": ["a", "b"]}) == []


def test_the_core_never_imports_the_lab():
    """Only the package face (re-exports) and the command line (dispatch) may reach into lab."""
    allowed = {"gatednp", "gatednp.cli"}
    core = [n for n in GRAPH if not n.startswith("gatednp.lab") and n not in allowed]
    upward = [f"{n} -> {m}" for n in core for m in GRAPH[n] if m.startswith("gatednp.lab")]
    assert not upward, upward


def test_the_lab_imports_core_modules_not_the_package_face():
    """`from .. import LSTM` would run gatednp/__init__, which imports the lab back."""
    lab = [n for n in GRAPH if n.startswith("gatednp.lab")]
    assert not [n for n in lab if "gatednp" in GRAPH[n]]


def test_no_private_name_crosses_files():
    crossing = [
        f"{name}: from {source} import {t}"
        for name in FILES
        for source, taken in imports(name)
        for t in taken
        if t.startswith("_") and not t.startswith("__")
    ]
    assert not crossing, crossing


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(
            rel,
            marks=[pytest.mark.xfail(strict=False, reason=f"{rel} is being split elsewhere")]
            if rel in TOO_LONG_FOR_NOW
            else [],
        )
        for rel in sorted(str(p.relative_to(ROOT)) for p in FILES.values())
    ],
)
def test_no_file_over_400_lines(path):
    lines = len((ROOT / path).read_text().splitlines())
    assert lines <= MAX_LINES, f"{path} has {lines} lines"
