"""Checkpoints: `save(obj, path)` / `load(path)` without pickle.

Format: a plain ``.npz`` (zip of ``.npy`` arrays, as written by ``np.savez``). Every array of
`obj` is one member ``a0``, ``a1``, ...; the structure around them (dicts, lists, tuples, numbers,
strings, bools, None, and which arrays are Tensors) is JSON in the member ``__tinygrad_lite__``
(stored as a uint8 array of UTF-8 bytes). Loading uses ``np.load(path, allow_pickle=False)`` and
``json``: no code is executed and object arrays are refused on both sides.

Writes are atomic: the file is written to a temporary file in the same directory, flushed and
fsynced, then renamed over `path` with ``os.replace``; a crash mid-write leaves any previous
checkpoint intact.
"""
import json
import math
import os
import tempfile
import zipfile

import numpy as np

from .tensor import Tensor

__all__ = ["save", "load", "CheckpointError"]

FORMAT = "tinygrad_lite.checkpoint"
VERSION = 1
META_KEY = "__tinygrad_lite__"
_TAG = "__t__"


class CheckpointError(ValueError):
    """A file is not a tinygrad_lite checkpoint, or is truncated or corrupted."""


# ------------------------------------------------------------------------------ encoding
def _encode(obj, arrays, where):
    """JSON-able description of obj; arrays are appended to `arrays` and referenced by number."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):  # (bool handled above)
        return obj
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        return {_TAG: "float", "v": repr(obj)}  # nan / inf / -inf, kept out of the JSON numbers
    if isinstance(obj, Tensor):
        return {_TAG: "tensor", "i": _add_array(obj._data, arrays, where), "requires_grad": bool(obj.requires_grad)}
    if isinstance(obj, np.ndarray):
        return {_TAG: "ndarray", "i": _add_array(obj, arrays, where)}
    if isinstance(obj, np.generic):
        return {_TAG: "scalar", "i": _add_array(np.asarray(obj), arrays, where)}
    if isinstance(obj, dict):
        keys, vals = [], []
        for k, v in obj.items():
            if not (k is None or isinstance(k, (str, int, float, bool))):
                raise TypeError(f"save: dict key {k!r} of type {type(k).__name__} at {where} cannot be saved; "
                                "keys must be str, int, float, bool or None")
            keys.append(_encode(k, arrays, where))
            vals.append(_encode(v, arrays, f"{where}[{k!r}]"))
        return {_TAG: "dict", "k": keys, "v": vals}
    if isinstance(obj, list):
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, tuple):
        return {_TAG: "tuple", "v": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    raise TypeError(f"save: cannot save an object of type {type(obj).__name__} at {where}; checkpoints hold "
                    "nested dicts/lists/tuples of Tensors, numpy arrays, numbers, strings, bools and None")


def _add_array(arr, arrays, where):
    if arr.dtype.hasobject or arr.dtype.kind not in "biufc":
        raise TypeError(f"save: the array of shape {arr.shape} at {where} has dtype {arr.dtype}; only numeric and "
                        "bool arrays can be saved (object arrays would need pickle, which checkpoints never use)")
    arrays.append(arr)
    return len(arrays) - 1


def _decode(node, arrays, path):
    if isinstance(node, list):
        return [_decode(v, arrays, path) for v in node]
    if not isinstance(node, dict):
        return node
    tag = node.get(_TAG)
    if tag == "tensor":
        t = Tensor._leaf(_array(arrays, node["i"], path))
        if node.get("requires_grad") and t.dtype.kind == "f":
            t.requires_grad = True
        return t
    if tag == "ndarray":
        return _array(arrays, node["i"], path)
    if tag == "scalar":
        return _array(arrays, node["i"], path)[()]
    if tag == "float":
        return float(node["v"])
    if tag == "tuple":
        return tuple(_decode(v, arrays, path) for v in node["v"])
    if tag == "dict":
        return {_decode(k, arrays, path): _decode(v, arrays, path) for k, v in zip(node["k"], node["v"])}
    raise CheckpointError(f"load: {path!s} has an unknown entry type {tag!r} in its structure; it is not a "
                          f"tinygrad_lite checkpoint (version {VERSION}) or it is corrupted")


def _array(arrays, i, path):
    key = f"a{int(i)}"
    try:
        return arrays[key]
    except KeyError:
        raise CheckpointError(f"load: {path!s} is missing array {key!r}; the checkpoint is truncated or "
                              "corrupted") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"load: array {key!r} of {path!s} cannot be read ({e}); the checkpoint is "
                              "truncated or corrupted") from None


# ------------------------------------------------------------------------------ public API
def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """Write `obj` to `f` (a path: atomically; or a binary file object), never with pickle.

    PyTorch's pickle arguments are accepted for compatibility and have no effect.
"""
    if hasattr(f, "write"):
        arrays = []
        root = _encode(obj, arrays, "obj")
        _write(f, _members(root, arrays))
        return None
    return _save_path(obj, f)


def _members(root, arrays):
    meta = json.dumps({"format": FORMAT, "version": VERSION, "root": root}, allow_nan=False).encode("utf-8")
    members = {f"a{i}": a for i, a in enumerate(arrays)}
    members[META_KEY] = np.frombuffer(meta, dtype=np.uint8)
    return members


def _save_path(obj, path):
    """Write `obj` to `path` atomically (no pickle).

    obj: nested dicts (str/int/float/bool/None keys), lists and tuples of Tensors (any shape and
    dtype), numpy arrays, numpy scalars, Python numbers, strings, bools and None, e.g.
    ``{"model": model.state_dict(), "optim": opt.state_dict(), "step": 10}``.
    Raises TypeError (naming where in obj) for anything else, including object arrays."""
    path = os.fspath(path)
    arrays = []
    members = _members(_encode(obj, arrays, "obj"), arrays)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        _set_mode(fd, path)
        with os.fdopen(fd, "wb") as f:
            _write(f, members)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (best effort; not possible on every platform)
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _set_mode(fd, path):
    """Give the temporary file (created 0600) the permissions a plain open() would: the old
    file's mode when overwriting, else 0666 minus the umask."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        os.fchmod(fd, mode)
    except (AttributeError, OSError):  # pragma: no cover (platforms without fchmod)
        pass


def _write(f, members):
    np.savez(f, **members)


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Read a checkpoint written by `save` from a path or a binary file object (torch.load's arguments:
    `map_location` may be None, 'cpu', device('cpu'), a dict of locations or a function(tensor, 'cpu');
    a GPU location fails as PyTorch without one. `weights_only` is accepted either way: this format
    holds only data (tensors, arrays, numbers, strings, containers), so loading never runs code."""
    from .device import check_device
    if isinstance(map_location, dict):
        for v in map_location.values():
            check_device(v, "load(map_location=)")
    elif map_location is not None and not callable(map_location):
        check_device(map_location, "load(map_location=)")
    if hasattr(f, "read"):
        import io
        obj = _load_npz(io.BytesIO(f.read()), getattr(f, "name", "<file object>"))
    else:
        obj = _load_path(f)
    if callable(map_location) and not isinstance(map_location, dict):
        obj = _map_tensors(obj, lambda t: map_location(t, "cpu"))
    return obj


def _map_tensors(obj, fn):
    if isinstance(obj, Tensor):
        out = fn(obj)
        return obj if out is None else out
    if isinstance(obj, dict):
        return type(obj)((k, _map_tensors(v, fn)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_map_tensors(v, fn) for v in obj)
    return obj


def _load_npz(source, path):
    try:
        npz = np.load(source, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"load: {path} is not a tinygrad_lite checkpoint ({e})") from None
    return _read_npz(npz, path)


def _load_path(path):
    """Read a checkpoint written by `save`; Tensors come back as Tensors with their saved dtype
    (and requires_grad flag), arrays as numpy arrays.

    Raises FileNotFoundError for a missing file and CheckpointError (a ValueError) naming the path
    for an empty, truncated, corrupted or foreign file. Never executes code from the file."""
    path = os.fspath(path)
    size = os.path.getsize(path)
    if size == 0:
        raise CheckpointError(f"load: {path} is empty (0 bytes); it is not a tinygrad_lite checkpoint "
                              "(perhaps a write was interrupted)")
    with open(path, "rb") as f:
        head = f.read(4)
    is_zip = head in (b"PK\x03\x04", b"PK\x05\x06")
    try:
        npz = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        if is_zip:
            raise CheckpointError(f"load: {path} is a truncated or corrupted checkpoint (the zip archive cannot be "
                                  f"read: {e})") from None
        raise CheckpointError(f"load: {path} is not a tinygrad_lite checkpoint (expected a .npz zip archive "
                              f"written by tinygrad_lite.save; the file starts with {head!r})") from None
    return _read_npz(npz, path)


def _read_npz(npz, path):
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise CheckpointError(f"load: {path} is not a tinygrad_lite checkpoint (it is a single .npy array, "
                              "not a .npz archive written by tinygrad_lite.save)")
    with npz:
        if META_KEY not in npz.files:
            if any(n.endswith("data.pkl") or n.endswith("data") for n in npz.files):
                raise CheckpointError(f"load: {path} is a PyTorch (pickle) checkpoint; tinygrad_lite never unpickles. "
                                      "Re-save it from PyTorch as numpy arrays, e.g. np.savez(path, **{k: v.numpy() "
                                      "for k, v in state_dict.items()}), and load those")
            raise CheckpointError(f"load: {path} is not a tinygrad_lite checkpoint (a zip/npz archive without the "
                                  f"{META_KEY!r} entry; members: {npz.files[:5]})")
        try:
            raw = npz[META_KEY]
            meta = json.loads(bytes(raw.astype(np.uint8, copy=False)).decode("utf-8"))
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as e:
            raise CheckpointError(f"load: the metadata of {path} cannot be read ({e}); the checkpoint is "
                                  "truncated or corrupted") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise CheckpointError(f"load: {path} is not a tinygrad_lite checkpoint (unknown metadata format)")
        if meta.get("version") != VERSION:
            raise CheckpointError(f"load: {path} is a tinygrad_lite checkpoint of version {meta.get('version')}, "
                                  f"this version reads version {VERSION}")
        return _decode(meta["root"], npz, path)
