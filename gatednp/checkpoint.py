"""Checkpoints: a model, its optimizer, the step count and the RNG in one .npz, written atomically.

One file holds everything a run needs to continue exactly where it stopped (no pickle anywhere):

    format             "gatednp-checkpoint/1"
    model/class        the model's class name;  model/config  its constructor arguments (JSON)
    param/<name>       every parameter, by torch's name, in the model's dtype
    rng/<module>       bit_generator.state (JSON) of every np.random.Generator a module keeps
    optim/class        the optimizer's class name;  optim/param_groups  its hyperparameters (JSON)
    optim/state/<i>/<buffer>   its per-parameter state (exp_avg, exp_avg_sq, step, ...)
    step               the number of steps taken;  meta  the user's keyword arguments (JSON)

Writing goes through atomic.py: a temporary file in the target's directory, flushed, fsynced and
renamed over the target with `os.replace`, so a crash at any moment leaves either the old file or
the new one, never a mix; only regular files are written (symlinks are followed). Reading checks everything before changing anything.
"""

from __future__ import annotations

import inspect
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .atomic import write_atomic
from .module import MODULE_CLASSES, Module

__all__ = ["save", "load", "Checkpoint", "CheckpointError", "CheckpointNotFoundError"]

FORMAT = "gatednp-checkpoint/1"


class CheckpointError(ValueError):
    """The file is not a readable gatednp checkpoint, or does not fit the model/optimizer."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """There is no file at the path given to `load`."""


@dataclass
class Checkpoint:
    """What `load` restored: the model and optimizer (updated in place), the step and the meta."""

    model: Module
    optimizer: Any = None
    step: int = 0
    meta: dict[str, Any] = field(default_factory=dict)


def _named_rngs(module: Module, prefix: str = "") -> dict[str, np.random.Generator]:
    """Every Generator kept by `module` or a submodule (attribute `rng`), by module path."""
    found = {}
    if isinstance(getattr(module, "rng", None), np.random.Generator):
        found[prefix.rstrip(".") or "."] = module.rng
    for name, value in vars(module).items():
        if isinstance(value, Module):
            found.update(_named_rngs(value, prefix + name + "."))
    return found


def _config(model: Module) -> dict[str, Any]:
    """The constructor arguments that can be read back from the model's attributes."""
    config = {}
    for name in list(inspect.signature(type(model).__init__).parameters)[1:]:
        value = getattr(model, name, None)
        if name == "bias" and not isinstance(value, bool):  # Linear keeps a Parameter or None
            value = value is not None
        if isinstance(value, (bool, int, float, str)) and name != "rng":
            config[name] = value
    params = model.parameters()
    if params:
        config["dtype"] = str(params[0].data.dtype)
    return config


def _write(f, arrays: dict[str, np.ndarray]) -> None:
    """Write the arrays as an .npz into the open binary file `f`."""
    np.savez(f, **arrays)


def save(path: str | os.PathLike, model: Module, optimizer=None, *, step=None, **meta) -> None:
    """Write `model` (and `optimizer`, step, RNG states, meta) to exactly `path`, atomically.

    Args:
        path: the file to write; no suffix is added. Its directory must exist.
        model: a gatednp Module.
        optimizer: an optimizer over the model's parameters, or None.
        step: the number of steps taken; default: the optimizer's step count (or 0).
        **meta: anything JSON-serialisable (epoch, config of the run, ...), returned by `load`.
    """
    path = _check_path(path)
    if not isinstance(model, Module):
        raise TypeError(f"model must be a gatednp Module, got {type(model).__name__}")
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "model/class": np.array(type(model).__name__),
        "model/config": np.array(json.dumps(_config(model))),
    }
    for name, p in model.named_parameters():
        arrays[f"param/{name}"] = np.asarray(p.data)
    for name, rng in _named_rngs(model).items():
        arrays[f"rng/{name}"] = np.array(json.dumps(rng.bit_generator.state))
    if optimizer is not None:
        sd = optimizer.state_dict()
        arrays["optim/class"] = np.array(type(optimizer).__name__)
        arrays["optim/param_groups"] = np.array(json.dumps(sd["param_groups"]))
        for i, entry in sd["state"].items():
            for name, value in entry.items():
                arrays[f"optim/state/{i}/{name}"] = np.asarray(value)
        if step is None:
            step = next(iter(sd["state"].values()), {}).get("step", 0)
    step = 0 if step is None else step
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ValueError(f"step must be an int ≥ 0, got {step!r}")
    arrays["step"] = np.array(step, dtype=np.int64)
    try:
        arrays["meta"] = np.array(json.dumps(meta, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise TypeError(f"meta must be JSON-serialisable: {e}") from None

    try:
        write_atomic(path, lambda f: _write(f, arrays))
    except FileNotFoundError as e:
        raise FileNotFoundError(f"save: {e}") from None
    except ValueError as e:
        raise ValueError(f"save: {e}") from None


def _check_path(path) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    return os.fspath(path)


def _read(path: str) -> dict[str, np.ndarray]:
    """Every array of the file, fully read (so a bad CRC shows here), or CheckpointError."""
    if not os.path.isfile(path):
        raise CheckpointNotFoundError(f"no checkpoint file at {path!r}")
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
            arrays = {key: f[key] for key in f.files}
    except Exception as e:  # zipfile, numpy and OS errors alike mean an unreadable file
        raise CheckpointError(
            f"{path!r} is not a readable gatednp checkpoint (truncated or corrupted?): "
            f"{type(e).__name__}: {e}"
        ) from e
    if "format" not in arrays or str(arrays["format"]) != FORMAT:
        found = str(arrays["format"]) if "format" in arrays else "no 'format' entry"
        raise CheckpointError(f"{path!r}: expected format {FORMAT!r}, got {found!r}")
    return arrays


def _text(arrays: dict, key: str, path: str, default=None):
    """The JSON entry `key`, decoded; CheckpointError naming the key if absent or malformed."""
    if key not in arrays:
        if default is not None:
            return default
        raise CheckpointError(f"{path!r}: the entry {key!r} is missing")
    try:
        return json.loads(str(arrays[key]))
    except ValueError as e:
        raise CheckpointError(f"{path!r}: the entry {key!r} is not valid JSON: {e}") from None


def _build(class_name: str, config: dict, path: str) -> Module:
    """A new gatednp model of the stored class and constructor arguments."""
    cls = MODULE_CLASSES.get(class_name)
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise CheckpointError(
            f"{path!r} holds a {class_name}, which is not a gatednp class: pass a model to load into"
        )
    try:
        return cls(**config)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path!r}: cannot rebuild {class_name}(**{config}): {e}") from e


def load(path: str | os.PathLike, model: Module | None = None, optimizer=None) -> Checkpoint:
    """Restore a checkpoint written by `save` into `model` (and `optimizer`), in place.

    Args:
        path: the file written by `save`.
        model: the model to load into; it must be of the stored class with the same
            constructor arguments and dtype. None: build one from the stored class and config.
        optimizer: an optimizer of the stored class over `model.parameters()`, or None (the
            stored optimizer state is then ignored).

    Returns:
        A `Checkpoint` with the model, the optimizer, the step and the meta.

    Raises:
        CheckpointNotFoundError: no file at `path`.
        CheckpointError: the file is truncated, corrupted or not a checkpoint, or was written
            by another architecture or optimizer. Nothing has been changed in that case.
    """
    path = _check_path(path)
    arrays = _read(path)
    class_name = str(arrays.get("model/class", ""))
    config = _text(arrays, "model/config", path)
    if model is None:
        model = _build(class_name, config, path)
    elif not isinstance(model, Module):
        raise TypeError(f"model must be a gatednp Module or None, got {type(model).__name__}")

    # The architecture: class, constructor arguments, parameter names, shapes and dtypes
    problems = []
    if type(model).__name__ != class_name:
        problems.append(f"it holds a {class_name}, the model is a {type(model).__name__}")
    ours = _config(model)
    for key in sorted(set(ours) | set(config)):
        if ours.get(key) != config.get(key):
            problems.append(f"{key}: the file has {config.get(key)!r}, the model {ours.get(key)!r}")
    params = dict(model.named_parameters())
    stored = {k[len("param/") :]: v for k, v in arrays.items() if k.startswith("param/")}
    for name in [k for k in params if k not in stored]:
        problems.append(f"missing parameter {name}")
    for name in [k for k in stored if k not in params]:
        problems.append(f"unexpected parameter {name}")
    for name in [k for k in params if k in stored]:
        p, a = params[name], stored[name]
        if a.shape != p.data.shape or a.dtype != p.data.dtype:
            problems.append(
                f"{name}: expected {p.data.shape} {p.data.dtype}, got {a.shape} {a.dtype}"
            )
    rngs = _named_rngs(model)
    rng_states = {k[len("rng/") :]: _text(arrays, k, path) for k in arrays if k.startswith("rng/")}
    if rng_states.keys() != rngs.keys():
        problems.append(f"RNGs: the file has {sorted(rng_states)}, the model {sorted(rngs)}")
    for name in rngs.keys() & rng_states.keys():
        kind = rngs[name].bit_generator.state["bit_generator"]
        if rng_states[name].get("bit_generator") != kind:
            problems.append(f"RNG {name}: expected a {kind} state")
    if problems:
        raise CheckpointError(
            f"{path!r} does not fit {type(model).__name__}: " + "; ".join(problems)
        )
    optim_state = None if optimizer is None else _optimizer_state(arrays, optimizer, path)

    # Everything checks out: write, undoing the model if the optimizer still refuses its state
    before = model.state_dict()
    model.load_state_dict(stored)
    if optim_state is not None:
        try:
            optimizer.load_state_dict(optim_state)
        except (TypeError, ValueError) as e:
            model.load_state_dict(before)
            raise CheckpointError(f"{path!r}: the optimizer state does not fit: {e}") from e
    for name, rng in rngs.items():
        rng.bit_generator.state = rng_states[name]
    step = int(arrays["step"]) if "step" in arrays else 0
    return Checkpoint(model, optimizer, step, _text(arrays, "meta", path, default={}))


def _optimizer_state(arrays: dict, optimizer, path: str) -> dict:
    """The optimizer's state_dict rebuilt from the flat `optim/...` entries."""
    if "optim/class" not in arrays:
        raise CheckpointError(f"{path!r} holds no optimizer state; call load without optimizer")
    if str(arrays["optim/class"]) != type(optimizer).__name__:
        raise CheckpointError(
            f"{path!r} holds the state of a {arrays['optim/class']}, "
            f"the optimizer is a {type(optimizer).__name__}"
        )
    state: dict[int, dict[str, Any]] = {}
    for key, value in arrays.items():
        if key.startswith("optim/state/"):
            i, name = key[len("optim/state/") :].split("/", 1)
            state.setdefault(int(i), {})[name] = int(value) if name == "step" else value
    return {"state": state, "param_groups": _text(arrays, "optim/param_groups", path)}
