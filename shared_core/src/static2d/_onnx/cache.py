"""The cache of cut ONNX graphs: one entry per source, bound to what it was built from, verified on every load.

An entry is a folder holding the graph and `static2d.json`: the sha256 of each file, and the *source* it was
built from (a content hash of the model's weights and config, the layers, the exporter's format and opset, and
any option that changes the graph), with any check made of the graph when it was built (int8's agreement with
the float graph). The graph file itself carries its source and check too, written into its own metadata when it
is built: an entry is used only if its files match their sha256, and the graph's own record matches both the
source asked for and `static2d.json`. So a graph built for another source (another depth, the float graph in an
int8 entry) is never used, even with `static2d.json` rewritten to match it: it is rebuilt.
Where the cache folder cannot be written, the graph is built in a temporary folder and kept in memory. Where its
disk (or quota) fills while a graph is written, `CacheFullError` says so (the folder, the space the graph needs,
STATIC2D_ONNX_CACHE), and nothing of the build is left behind.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import struct
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from static2d._hashing import content_id, sha256_file
from static2d._model.describe import TransformerDescription, read_json
from static2d._model.hub import is_local

logger = logging.getLogger("static2d")

# Bump when the exported graph changes: older cache entries are then not reused.
FORMAT = 4  # 3: the graph also outputs each shallower layer (encode_grid); 4: it records its source and check
OPSET = 17
_META = "static2d.json"
MODEL_FILE = "model.onnx"


def cache_root() -> Path:
    """Where cut models are kept: $STATIC2D_ONNX_CACHE, else $XDG_CACHE_HOME/static2d/onnx (~/.cache/...)."""
    explicit = os.environ.get("STATIC2D_ONNX_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "static2d" / "onnx"


def weights_id(tf_dir: Path, *, hub: bool = False) -> str:
    """A content hash of what the exported graph depends on: the safetensors weights and config.json.

    `hub`: the folder is a snapshot huggingface_hub gave for a hub id (its blobs are known by their names).
    """
    h = hashlib.sha256(f"static2d-onnx/{FORMAT}/opset{OPSET}".encode())
    for path in [*sorted(tf_dir.glob("*.safetensors")), tf_dir / "config.json"]:
        if path.is_file():
            h.update(f"|{path.name}={content_id(path, hub=hub)}".encode())
    return h.hexdigest()


def source_of(
    description: TransformerDescription, layers: int, graph: Mapping[str, object] | None = None
) -> dict[str, Any]:
    """What a cut graph is built from: the model's content, its depth, the exporter, and the graph's options."""
    return {
        "format": FORMAT,
        "opset": OPSET,
        "weights": weights_id(description.pipeline.tf_dir, hub=not is_local(description.name)),
        "layers": int(layers),
        "graph": dict(graph or {}),
    }


def entry_path(description: TransformerDescription, source: Mapping[str, Any]) -> Path:
    """The cache folder for a source (named for people, keyed by everything in the source)."""
    name = Path(description.name).name if is_local(description.name) else description.name  # folder name / hub id
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "--", name)[-60:].strip("-.") or "model"
    key = hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()[:20]
    return cache_root() / f"{slug}-L{source['layers']}-{key}"


@dataclass(frozen=True)
class CutModel:
    """A verified graph: bytes, or a path when it keeps weights in external files (then `entry` holds them)."""

    entry: Path | None
    model: bytes | Path
    inputs: tuple[str, ...]
    check: Mapping[str, Any] = field(default_factory=dict)  # what was measured of the graph when it was built


_STAMP_SOURCE = "static2d.source"
_STAMP_CHECK = "static2d.check"


def _canonical(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def stamp(graph: Path, source: Mapping[str, Any], check: Mapping[str, Any]) -> None:
    """Write the graph's source and check into its own metadata (ModelProto.metadata_props), in place.

    The graph's top-level protobuf records are copied as they are, less any static2d entry it was made with (a
    graph quantized from a stamped float graph inherits that one's), and the two entries are appended as encoded
    records (a protobuf message read from concatenated encodings merges them): no protobuf library is needed.
    """
    data = graph.read_bytes()
    kept = [data[begin:end] for number, begin, end, payload in _spans(data) if not _is_stamp(number, payload)]
    with graph.open("wb") as f:
        f.writelines(kept)
        for key, value in ((_STAMP_SOURCE, _canonical(source)), (_STAMP_CHECK, _canonical(check))):
            f.write(_field(14, _field(1, key.encode()) + _field(2, value.encode())))


def _is_stamp(number: int, payload: memoryview | None) -> bool:
    if number != 14 or payload is None:
        return False
    key = _records(payload).get(1)
    return key is not None and bytes(key[0]).startswith(b"static2d.")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _read_varint(data: bytes | memoryview, at: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
        if shift > 63:
            msg = "malformed varint"
            raise ValueError(msg)


def _spans(data: bytes | memoryview) -> list[tuple[int, int, int, memoryview | None]]:
    """The top-level fields of one protobuf message: (number, begin, end, payload of a length-delimited one)."""
    view = memoryview(data)
    out: list[tuple[int, int, int, memoryview | None]] = []
    at = 0
    while at < len(view):
        begin = at
        key, at = _read_varint(view, at)
        number, wire = key >> 3, key & 7
        payload = None
        if wire == 0:
            _, at = _read_varint(view, at)
        elif wire == 1:
            at += 8
        elif wire == 5:
            at += 4
        elif wire == 2:
            size, at = _read_varint(view, at)
            payload = view[at : at + size]
            at += size
        else:
            msg = f"wire type {wire}"
            raise ValueError(msg)
        if at > len(view):
            msg = "truncated message"
            raise ValueError(msg)
        out.append((number, begin, at, payload))
    return out


def _records(data: bytes | memoryview) -> dict[int, list[memoryview]]:
    """The length-delimited fields of one protobuf message, by field number (other wire types skipped)."""
    out: dict[int, list[memoryview]] = {}
    for number, _, _, payload in _spans(data):
        if payload is not None:
            out.setdefault(number, []).append(payload)
    return out


def stamped(graph: bytes) -> dict[str, str]:
    """The static2d entries of a serialized ONNX graph's metadata (ValueError: not a protobuf, or a key twice)."""
    found: dict[str, str] = {}
    for entry in _records(graph).get(14, []):
        fields = _records(entry)
        key = bytes(fields[1][0]).decode() if 1 in fields else ""
        if key.startswith("static2d."):
            if key in found:
                msg = f"{key} twice"
                raise ValueError(msg)
            found[key] = bytes(fields[2][0]).decode() if 2 in fields else ""
    return found


def verify(entry: Path, source: Mapping[str, Any]) -> CutModel | None:
    """The entry's graph if it was built from `source`, as its files' sha256 and its graph's own record say."""
    try:
        meta = read_json(entry / _META)
        recorded: dict[str, dict[str, Any]] = meta["files"]
        if meta.get("source") != json.loads(json.dumps(source)) or MODEL_FILE not in recorded:
            if (entry / MODEL_FILE).exists():
                logger.warning(
                    "The cached ONNX graph %s was built from %s, not from %s: it is not used.",
                    entry,
                    meta.get("source"),
                    dict(source),
                )
            return None
        data = b""
        for name, info in recorded.items():
            path = entry / name
            if path.stat().st_size != int(info["size"]):
                return None
            if name == MODEL_FILE:
                data = path.read_bytes()
                digest = hashlib.sha256(data).hexdigest()
            else:
                digest = sha256_file(path)
            if digest != info["sha256"]:
                return None
        check = meta.get("check") or {}
        own = stamped(data)
        if own.get(_STAMP_SOURCE) != _canonical(source) or own.get(_STAMP_CHECK) != _canonical(check):
            logger.warning(
                "The cached ONNX graph %s was not built as its static2d.json says (its own record names %s): it "
                "is not used.",
                entry,
                own.get(_STAMP_SOURCE, "no source"),
            )
            return None
        model: bytes | Path = data if len(recorded) == 1 else entry / MODEL_FILE
        return CutModel(entry, model, tuple(meta["inputs"]), dict(check))
    except (OSError, ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError):
        return None


def _install(tmp: Path, entry: Path, source: Mapping[str, Any]) -> None:
    """Move a finished build into place atomically; a valid entry someone else installed meanwhile is kept."""
    for _ in range(3):
        try:
            os.rename(tmp, entry)
            return
        except OSError:
            if verify(entry, source) is not None:
                return  # another process (or thread) won the race with an equally good graph
            trash = entry.with_name(f".{entry.name}.{os.getpid()}.{threading.get_ident()}.broken")
            with contextlib.suppress(OSError):
                os.rename(entry, trash)
            shutil.rmtree(trash, ignore_errors=True)
    os.rename(tmp, entry)


def _write(folder: Path, source: Mapping[str, Any], inputs: list[str], check: Mapping[str, Any]) -> None:
    meta = {
        "source": dict(source),
        "inputs": list(inputs),
        "check": dict(check),
        "files": {p.name: {"sha256": sha256_file(p), "size": p.stat().st_size} for p in sorted(folder.iterdir())},
    }
    with (folder / _META).open("w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
        f.flush()
        os.fsync(f.fileno())


_FULL = (errno.ENOSPC, errno.EDQUOT)
# How a full disk reads where a library turned the OSError into a message (torch's exporter, onnx's writer).
_FULL_WORDS = ("No space left on device", "Disk quota exceeded", f"[Errno {errno.ENOSPC}]", f"[Errno {errno.EDQUOT}]")


class CacheFullError(OSError):
    """The ONNX cache's disk (or quota) filled while a graph was written; no partial entry is left."""


def disk_full(error: BaseException | None) -> bool:
    """Whether `error`, or one it was raised from, is a full disk or quota (ENOSPC, EDQUOT)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _FULL:
            return True
        if any(words in str(error) for words in _FULL_WORDS):
            return True
        error = error.__cause__ or error.__context__
    return False


def graph_bytes(description: TransformerDescription, layers: int) -> int:
    """An estimate of the cut graph's size: its weights in float32 (from the safetensors headers), layers kept."""
    deep = re.compile(r"(?:^|\.)(?:layer|layers|h|block|blocks)\.(\d+)\.")
    total = 0
    for path in sorted(description.pipeline.tf_dir.glob("*.safetensors")):
        try:
            with path.open("rb") as f:
                (size,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(size))
        except (OSError, ValueError, struct.error):
            total += path.stat().st_size if path.exists() else 0
            continue
        for name, info in header.items():
            found = deep.search(name)
            if name == "__metadata__" or (found is not None and int(found.group(1)) >= layers):
                continue
            count = 1
            for n in info.get("shape", []):
                count *= int(n)
            total += 4 * count
    return total


def _full_error(entry: Path, description: TransformerDescription, layers: int, error: BaseException) -> CacheFullError:
    where = entry.parent
    try:
        free = f"{shutil.disk_usage(where).free / 1e6:.1f} MB is free there now"
    except OSError:
        free = "its free space cannot be read"
    cause = error
    while not (isinstance(cause, OSError) and cause.errno in _FULL) and (cause.__cause__ or cause.__context__):
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    code = cause.errno if isinstance(cause, OSError) and cause.errno in _FULL else errno.ENOSPC
    what = "the disk quota is used up" if code == errno.EDQUOT else "the disk is full"
    msg = (
        f"static2d cannot cache the ONNX graph of {description.name!r} at {layers} layer(s): {what} "
        f"({os.strerror(code)}) in the ONNX cache folder {where}. The graph needs about "
        f"{graph_bytes(description, layers) / 1e6:.1f} MB there (its float32 weights), and {free}; nothing of it "
        "was kept. Free space there, or set STATIC2D_ONNX_CACHE to a folder on a disk with room (or use "
        "backend='torch', which needs no cache)."
    )
    return CacheFullError(code, msg)


Build = Callable[[Path], tuple[list[str], dict[str, Any]]]
"""Writes the graph to the given path; returns its input names and what was measured of it (JSON), if anything."""

_WARNED: set[str] = set()


def get_or_build(description: TransformerDescription, source: Mapping[str, Any], build: Build) -> CutModel:
    """The verified graph for `source` from the cache, built with `build` (and cached) first if need be."""
    entry = entry_path(description, source)
    found = verify(entry, source)
    if found is not None:
        return found
    if (entry / _META).exists():
        logger.warning("The cached ONNX graph %s is damaged, incomplete or not this model's; building it again.", entry)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", suffix=".tmp", dir=entry.parent))
    except OSError as e:
        return _build_in_memory(source, build, why=f"{entry.parent} cannot be written ({e.strerror or e})")
    try:
        inputs, check = build(tmp / MODEL_FILE)
        stamp(tmp / MODEL_FILE, source, check)
        _write(tmp, source, inputs, check)
        _install(tmp, entry, source)
    except CacheFullError:
        raise  # (a graph this one is built from, already said)
    except Exception as e:
        if disk_full(e):
            raise _full_error(entry, description, int(source["layers"]), e) from e
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    found = verify(entry, source)
    if found is None:
        msg = f"The ONNX graph written to {entry} does not verify (is the disk full, or the folder shared?)."
        raise OSError(msg)
    return found


def _build_in_memory(source: Mapping[str, Any], build: Build, *, why: str) -> CutModel:
    """Build the graph in a temporary folder and keep it in memory: the model runs, it is just not cached."""
    if why not in _WARNED:
        _WARNED.add(why)
        logger.warning(
            "static2d cannot cache ONNX graphs: %s. The graph is built for this process only; set "
            "STATIC2D_ONNX_CACHE to a writable folder to keep it.",
            why,
        )
    with tempfile.TemporaryDirectory(prefix="static2d-onnx-") as tmp:
        inputs, check = build(Path(tmp) / MODEL_FILE)
        if len(list(Path(tmp).iterdir())) == 1:
            return CutModel(None, (Path(tmp) / MODEL_FILE).read_bytes(), tuple(inputs), check)
        kept = Path(tempfile.mkdtemp(prefix="static2d-onnx-"))  # a graph with external weights needs its folder
        shutil.copytree(tmp, kept, dirs_exist_ok=True)
        return CutModel(kept, kept / MODEL_FILE, tuple(inputs), check)
