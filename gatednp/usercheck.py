"""Check the user's own code named on the command line: `path/to/file.py:Name` or `module:Name`.

What is named decides the checker:
  - anything with `step` and `step_backward` (a file or module without `:Name`, a class, an
    object): `gn.check_step`, the kind from its `KIND` ("lstm", "gru", "rnn") or its name,
    options from `OPTIONS` (a dict), the gate order from `GATE_ORDER` (e.g. "ifog");
  - a layer (torch's contract, see layercheck.py), a class building one with no arguments or
    with (input_size=3, hidden_size=4), or a function returning one: `gn.check_layer`.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from .layercheck import check_layer
from .registry import KINDS
from .stepcheck import check_step

__all__ = ["load_target", "check_target", "run_check"]


def load_target(spec: str) -> Any:
    """The object `spec` names: "file.py", "file.py:Name", "package.module" or "module:Name"."""
    where, _, name = spec.partition(":")
    if where.endswith(".py") or Path(where).is_file():
        path = Path(where).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"no file {where}")
        module_name = f"gatednp_user_{path.stem}"
        loader = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(loader)
        sys.path.insert(0, str(path.parent))  # so that the file can import its neighbours
        try:
            loader.loader.exec_module(module)
        finally:
            sys.path.remove(str(path.parent))
    else:
        module = importlib.import_module(where)
    if not name:
        return module
    if not hasattr(module, name):
        raise AttributeError(f"{where} has no {name!r}")
    return getattr(module, name)


def _kind(obj: Any, module: ModuleType | None = None) -> str:
    for source in (obj, module):
        kind = getattr(source, "KIND", None)
        if kind is not None:
            return str(kind).lower()
    name = getattr(obj, "__name__", type(obj).__name__).lower()
    for kind in KINDS:
        if kind in name:
            return kind
    raise ValueError(
        f"cannot tell whether {name} is an LSTM, a GRU or an RNN: give it KIND = 'lstm' (or 'gru', 'rnn')"
    )


def check_target(obj: Any, seed: int = 0):
    """Run the checker `obj` calls for (see the module docstring); returns its report."""
    if hasattr(obj, "step") and hasattr(obj, "step_backward"):
        holder = obj() if isinstance(obj, type) else obj
        return check_step(
            _kind(obj),
            holder.step,
            holder.step_backward,
            gate_order=getattr(obj, "GATE_ORDER", None),
            seed=seed,
            **dict(getattr(obj, "OPTIONS", {}) or {}),
        )
    layer = obj
    if callable(obj) and not hasattr(obj, "backward") or isinstance(obj, type):
        try:
            layer = obj()
        except TypeError:
            layer = obj(input_size=3, hidden_size=4)
    kind = getattr(getattr(layer, "kind", None), "name", None) or _kind(layer, None)
    return check_layer(layer, kind, seed=seed)


def _blanks(obj: Any) -> list[str]:
    """Line numbers of `name = ...` blanks left in the file that defines `obj`."""
    try:
        lines, start = inspect.getsourcelines(obj)
    except (OSError, TypeError):
        return []
    found = re.compile(r"^\s*\w+\s*=\s*\.\.\.\s*(#.*)?$")
    return [str(start + k) for k, line in enumerate(lines) if found.match(line)]


def run_check(spec: str, seed: int = 0) -> int:
    """Load, check and print; 0 when every gradient agrees, 1 otherwise (or on an error)."""
    try:
        obj = load_target(spec)
    except Exception as e:  # the user's file: any error is theirs to see
        print(f"could not load {spec}: {type(e).__name__}: {e}")
        return 1
    blanks = _blanks(obj)
    if blanks:
        print(f"{len(blanks)} blank(s) still to fill (`...`), at line(s) {', '.join(blanks)}")
        return 1
    try:
        report = check_target(obj, seed=seed)
    except Exception as e:
        frames = [
            f
            for f in traceback.extract_tb(e.__traceback__)
            if "gatednp" not in Path(f.filename).parts
        ]
        where = (
            f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}: {frames[-1].line}"
            if frames
            else ""
        )
        print(f"your code raised {type(e).__name__}: {e}{where}")
        return 1
    print(report if hasattr(report, "hints") else f"{report.table()}\n{report}")
    return 0 if report.ok else 1
