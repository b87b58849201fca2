"""Checkpoints: a model, its optimizer, the step count and the RNG in one .npz, written atomically.

One file holds everything a run needs to continue exactly where it stopped (no pickle anywhere):

    format             "gatednp-checkpoint/2";  digest  SHA-256 of all the others (ckptfile.py)
    model/class        the model's class name;  model/config  its constructor arguments (JSON)
    param/<name>       every parameter, by torch's name, in the model's dtype
    rng/<module>       bit_generator.state (JSON) of every np.random.Generator a module keeps
    optim/class        the optimizer's class name;  optim/param_groups  its hyperparameters (JSON)
    optim/state/<i>/<buffer>   its per-parameter state (exp_avg, exp_avg_sq, step, ...)
    extra/<module>/<name>  a module's own state beyond parameters (Stateful: its carried h, c)
    step               the number of steps taken;  meta  the user's keyword arguments (JSON)

Writing goes through atomic.py: a temporary file in the target's directory, flushed, fsynced and
renamed over the target with `os.replace`, so a crash at any moment leaves either the old file or
the new one, never a mix; only regular files are written (symlinks are followed). Reading
(ckptfile.py) proves the file whole before parsing it, and `load` checks every entry before it
changes anything.
"""

from __future__ import annotations

import inspect
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .atomic import write_atomic
from .ckptfile import CheckpointError, CheckpointNotFoundError, read, seal, to_json
from .module import MODULE_CLASSES, Module, parameter_budget

__all__ = ["save", "load", "Checkpoint", "CheckpointError", "CheckpointNotFoundError"]


@dataclass
class Checkpoint:
    """What `load` restored: the model, the optimizer passed to `load` (None if none was; the
    stored optimizer state is only restored into one), the step and the meta."""

    model: Module
    optimizer: Any = None
    step: int = 0
    meta: dict[str, Any] = field(default_factory=dict)


def _named_modules(module: Module, prefix: str = "") -> dict[str, Module]:
    """`module` and every submodule (attributes), by path: "." for the model itself."""
    found = {prefix.rstrip(".") or ".": module}
    for name, value in vars(module).items():
        if isinstance(value, Module):
            found.update(_named_modules(value, prefix + name + "."))
    return found


def _named_rngs(module: Module) -> dict[str, np.random.Generator]:
    """Every Generator kept by `module` or a submodule (attribute `rng`), by module path."""
    found = _named_modules(module).items()
    return {k: m.rng for k, m in found if isinstance(getattr(m, "rng", None), np.random.Generator)}


def _with_extra_state(module: Module) -> dict[str, Module]:
    """The modules that keep state beyond parameters (`get_extra_state`, as in torch)."""
    return {k: m for k, m in _named_modules(module).items() if hasattr(m, "get_extra_state")}


def _config(model: Module) -> dict[str, Any]:
    """The constructor arguments that can be read back from the model's attributes."""
    config = {}
    for name in list(inspect.signature(type(model).__init__).parameters)[1:]:
        value = getattr(model, name, None)
        if name == "bias" and not isinstance(value, bool):  # Linear keeps a Parameter or None
            value = value is not None
        if isinstance(value, (bool, int, float, str)) and name != "rng":
            config[name] = value
        elif isinstance(value, tuple) and all(
            v is None or isinstance(v, (int, float, str)) for v in value
        ):  # e.g. activations=("sigmoid", "tanh", "identity"), activation_alpha=(None, 0.5)
            config[name] = list(value)
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
        path: the file to write (a regular file or a symlink to one; no suffix is added). Its
            directory must exist. A new file's mode follows the umask; a file's mode is kept.
        model: a gatednp Module.
        optimizer: an optimizer over the model's parameters, or None.
        step: the number of steps taken; default: the optimizer's step count (or 0).
        **meta: anything JSON-serialisable (epoch, config of the run, ...), returned by `load`.
    """
    path = _check_path(path)
    if not isinstance(model, Module):
        raise TypeError(f"model must be a gatednp Module, got {type(model).__name__}")
    arrays: dict[str, np.ndarray] = {
        "model/class": np.array(type(model).__name__),
        "model/config": to_json(_config(model), "the model's config"),
    }
    for name, p in model.named_parameters():
        arrays[f"param/{name}"] = np.asarray(p.data)
    for name, rng in _named_rngs(model).items():
        arrays[f"rng/{name}"] = to_json(rng.bit_generator.state, f"RNG {name}")
    for name, module in _with_extra_state(model).items():
        for key, value in module.get_extra_state().items():
            arrays[f"extra/{name}/{key}"] = np.asarray(value)
    if optimizer is not None:
        sd = optimizer.state_dict()
        arrays["optim/class"] = np.array(type(optimizer).__name__)
        arrays["optim/param_groups"] = to_json(sd["param_groups"], "the optimizer's param_groups")
        for i, entry in sd["state"].items():
            for name, value in entry.items():
                arrays[f"optim/state/{i}/{name}"] = np.asarray(value)
        if step is None:
            step = next(iter(sd["state"].values()), {}).get("step", 0)
    step = 0 if step is None else step
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ValueError(f"step must be an int ≥ 0, got {step!r}")
    arrays["step"] = np.array(step, dtype=np.int64)
    arrays["meta"] = to_json(meta, "meta", allow_nan=False)
    seal(arrays)
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


def _text(arrays: dict, key: str, path: str, kind: type = dict):
    """The JSON entry `key`, decoded and of type `kind`; CheckpointError naming the key."""
    if key not in arrays:
        raise CheckpointError(f"{path!r}: the entry {key!r} is missing")
    try:
        value = json.loads(str(arrays[key]))
    except ValueError as e:
        raise CheckpointError(f"{path!r}: the entry {key!r} is not valid JSON: {e}") from None
    if not isinstance(value, kind):
        raise CheckpointError(
            f"{path!r}: the entry {key!r} should hold a {kind.__name__}, got {type(value).__name__}"
        )
    return value


def _step(arrays: dict, path: str) -> int:
    a = arrays["step"]
    if a.shape != () or a.dtype.kind not in "iu" or int(a) < 0:
        raise CheckpointError(f"{path!r}: 'step' should be one integer ≥ 0, got {a!r}")
    return int(a)


def _build(class_name: str, config: dict, arrays: dict, path: str) -> Module:
    """A new gatednp model of the stored class and constructor arguments, allowed no more
    parameter values than the file holds."""
    cls = MODULE_CLASSES.get(class_name)
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise CheckpointError(
            f"{path!r} holds a {class_name}, which is not a gatednp class: pass a model to load into"
        )
    stored = sum(a.size for k, a in arrays.items() if k.startswith("param/"))
    try:
        with parameter_budget(stored, "the file"):
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
            stored optimizer state is then ignored, and `Checkpoint.optimizer` is None).

    Returns:
        A `Checkpoint` with the model, the optimizer, the step and the meta.

    Raises:
        CheckpointNotFoundError: no file at `path`.
        CheckpointError: the file is truncated, corrupted, incomplete or not a checkpoint, or
            was written by another architecture or optimizer. Nothing has been changed then.
    """
    path = _check_path(path)
    arrays = read(path)
    class_name = str(arrays["model/class"])
    config = _text(arrays, "model/config", path)
    step, meta = _step(arrays, path), _text(arrays, "meta", path)
    if model is None:
        model = _build(class_name, config, arrays, path)
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
        try:  # on a scratch generator of the same kind: a bad state fails here, not later
            type(rngs[name].bit_generator)().state = rng_states[name]
        except (TypeError, ValueError, KeyError) as e:
            problems.append(
                f"RNG {name}: not a {type(rngs[name].bit_generator).__name__} state: {e!r}"
            )
    extra = _extra_states(model, arrays, problems)
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
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as e:
            model.load_state_dict(before)
            raise CheckpointError(f"{path!r}: the optimizer state does not fit: {e}") from e
    for name, rng in rngs.items():
        rng.bit_generator.state = rng_states[name]
    for module, value in extra:
        module.set_extra_state(value)
    return Checkpoint(model, optimizer, step, meta)


def _extra_states(model: Module, arrays: dict, problems: list[str]) -> list:
    """(module, its extra-state entries, checked) for every module that keeps one; problems
    noted."""
    out = []
    for name, module in _with_extra_state(model).items():
        prefix = f"extra/{name}/"
        entries = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        try:
            module.check_extra_state(entries)
            out.append((module, entries))
        except (TypeError, ValueError) as e:
            problems.append(f"the state of {name}: {e}")
    return out


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
            i, _, name = key[len("optim/state/") :].partition("/")
            bad_step = name == "step" and (value.shape != () or value.dtype.kind not in "iu")
            if not i.isdigit() or not name or bad_step:
                raise CheckpointError(f"{path!r}: unexpected entry {key!r} {value.dtype}")
            state.setdefault(int(i), {})[name] = int(value) if name == "step" else value
    return {"state": state, "param_groups": _text(arrays, "optim/param_groups", path, list)}
