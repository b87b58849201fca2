"""The checkpoint file itself: its entries, the digest that proves it whole, reading it untrusted.

A checkpoint is an uncompressed .npz (np.savez). Format 2 adds the entry `digest`: the SHA-256
over every other entry (name, dtype, shape and bytes, in name order) and the list of their names.
Reading checks, before anything is decompressed or allocated and before any model is touched:
- every zip entry is stored uncompressed (np.savez writes no other: a compressed entry, as in a
  zip bomb, is refused before it is inflated) and claims no more bytes than the file has;
- every array header asks for no more bytes than its entry holds (a crafted shape cannot make
  the reader allocate);
- the format, then the digest: an entry dropped (e.g. a flipped bit in the zip's directory
  hides the later ones), added or changed is refused;
- the entries every checkpoint has (`REQUIRED`) are present; format 1 files (no digest) load
  with only this check.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import zipfile

import numpy as np

__all__ = [
    "FORMAT", "REQUIRED", "CheckpointError", "CheckpointNotFoundError", "to_json", "seal", "read"
]  # fmt: skip

FORMAT = "gatednp-checkpoint/2"
_OLD_FORMATS = ("gatednp-checkpoint/1",)  # no digest
REQUIRED = ("format", "model/class", "model/config", "step", "meta")


class CheckpointError(ValueError):
    """The file is not a readable gatednp checkpoint, or does not fit the model/optimizer."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """There is no file at the path given to `load`."""


def _plain(value):
    """JSON for NumPy scalars (a hyperparameter given as np.float32(1e-3) is a number)."""
    if isinstance(value, np.generic) and value.ndim == 0 and value.dtype.kind in "biuf":
        return value.item()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def to_json(value, what: str, *, allow_nan: bool = True) -> np.ndarray:
    """`value` as a JSON text entry (NumPy scalars as numbers); TypeError naming `what`."""
    try:
        return np.array(json.dumps(value, allow_nan=allow_nan, default=_plain))
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what} must be JSON-serialisable: {e}") from None


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(json.dumps([name, a.dtype.str, list(a.shape)]).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def seal(arrays: dict[str, np.ndarray]) -> None:
    """Add the format and the digest of every other entry to `arrays`."""
    arrays["format"] = np.array(FORMAT)
    record = {"sha256": _digest(arrays), "entries": sorted(arrays)}
    arrays["digest"] = np.array(json.dumps(record))


def _check_entries(zf: zipfile.ZipFile, size: int, path: str) -> None:
    """Refuse compressed entries and sizes the file cannot hold, before reading any data."""
    total, seen = 0, set()
    for info in zf.infolist():
        name = info.filename
        if info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(
                f"{path!r}: the entry {name!r} is compressed, which save never writes; refused "
                f"before decompressing it (a zip bomb would be)"
            )
        total += info.file_size
        if name in seen or info.file_size != info.compress_size or total > size:
            raise CheckpointError(
                f"{path!r}: the zip directory is inconsistent at {name!r} (repeated name, or "
                f"more bytes claimed than the file's {size})"
            )
        seen.add(name)
        with zf.open(info) as entry:
            version = np.lib.format.read_magic(entry)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read_header(entry)
        nbytes = math.prod(shape) * dtype.itemsize
        if dtype.hasobject or nbytes > info.file_size:
            raise CheckpointError(
                f"{path!r}: the entry {name!r} claims an array of shape {shape} and dtype {dtype} "
                f"({nbytes} bytes) in {info.file_size} bytes; refused before allocating it"
            )


def read(path: str) -> dict[str, np.ndarray]:
    """Every array of the file, checked as the module docstring says, or CheckpointError."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CheckpointNotFoundError(f"no checkpoint file at {path!r}") from None
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointNotFoundError(f"no checkpoint file at {path!r}: it is not a regular file")
    try:
        with open(path, "rb") as fh:
            with zipfile.ZipFile(fh) as zf:
                _check_entries(zf, os.fstat(fh.fileno()).st_size, path)
            fh.seek(0)
            with np.load(fh, allow_pickle=False) as f:
                arrays = {key: f[key] for key in f.files}
    except CheckpointError:
        raise
    except Exception as e:  # zipfile, numpy and OS errors alike mean an unreadable file
        raise CheckpointError(
            f"{path!r} is not a readable gatednp checkpoint (truncated or corrupted?): "
            f"{type(e).__name__}: {e}"
        ) from e
    found = str(arrays["format"]) if "format" in arrays else "no 'format' entry"
    if found == FORMAT:
        _verify(arrays, path)
    elif found not in _OLD_FORMATS:
        raise CheckpointError(f"{path!r}: expected format {FORMAT!r}, got {found!r}")
    missing = [key for key in REQUIRED if key not in arrays]
    if missing:
        raise CheckpointError(f"{path!r}: the entries {missing} are missing (an incomplete file?)")
    return arrays


def _verify(arrays: dict[str, np.ndarray], path: str) -> None:
    if "digest" not in arrays:
        raise CheckpointError(f"{path!r}: the entry 'digest' is missing (an incomplete file?)")
    try:
        record = json.loads(str(arrays.pop("digest")))
        listed, sha = set(record["entries"]), record["sha256"]
    except (ValueError, TypeError, KeyError) as e:
        raise CheckpointError(f"{path!r}: the entry 'digest' is malformed: {e!r}") from None
    missing, extra = sorted(listed - set(arrays)), sorted(set(arrays) - listed)
    if missing or extra:
        raise CheckpointError(
            f"{path!r} is incomplete or altered: entries missing {missing}, not expected {extra}"
        )
    if _digest(arrays) != sha:
        raise CheckpointError(f"{path!r} is damaged: its content does not match its digest")
