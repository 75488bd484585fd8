"""The cache of cut ONNX graphs: one entry per source, bound to what it was built from, verified on every load.

An entry is a folder holding the graph and `static2d.json`: the sha256 of each file, and the *source* it was
built from (a content hash of the model's weights and config, the layers, the exporter's format and opset, and
any option that changes the graph). An entry whose files or source do not match is never used: it is rebuilt.
Where the cache folder cannot be written, the graph is built in a temporary folder and kept in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from static2d._hashing import content_id, sha256_file
from static2d._model.describe import TransformerDescription, read_json
from static2d._model.hub import is_local

logger = logging.getLogger("static2d")

# Bump when the exported graph changes: older cache entries are then not reused.
FORMAT = 3  # 3: the graph also outputs each shallower layer (encode_grid)
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


def weights_id(tf_dir: Path) -> str:
    """A content hash of what the exported graph depends on: the safetensors weights and config.json."""
    h = hashlib.sha256(f"static2d-onnx/{FORMAT}/opset{OPSET}".encode())
    for path in [*sorted(tf_dir.glob("*.safetensors")), tf_dir / "config.json"]:
        if path.is_file():
            h.update(f"|{path.name}={content_id(path)}".encode())
    return h.hexdigest()


def source_of(
    description: TransformerDescription, layers: int, graph: Mapping[str, object] | None = None
) -> dict[str, Any]:
    """What a cut graph is built from: the model's content, its depth, the exporter, and the graph's options."""
    return {
        "format": FORMAT,
        "opset": OPSET,
        "weights": weights_id(description.pipeline.tf_dir),
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


def verify(entry: Path, source: Mapping[str, Any]) -> CutModel | None:
    """The entry's graph if it was built from `source` and every file matches its recorded sha256; else None."""
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
        model: bytes | Path = data if len(recorded) == 1 else entry / MODEL_FILE
        return CutModel(entry, model, tuple(meta["inputs"]))
    except (OSError, ValueError, KeyError, TypeError):
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


def _write(folder: Path, source: Mapping[str, Any], inputs: list[str]) -> None:
    meta = {
        "source": dict(source),
        "inputs": list(inputs),
        "files": {p.name: {"sha256": sha256_file(p), "size": p.stat().st_size} for p in sorted(folder.iterdir())},
    }
    with (folder / _META).open("w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
        f.flush()
        os.fsync(f.fileno())


Build = Callable[[Path], list[str]]
"""Writes the graph to the given path and returns its input names."""

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
        inputs = build(tmp / MODEL_FILE)
        _write(tmp, source, inputs)
        _install(tmp, entry, source)
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
        inputs = build(Path(tmp) / MODEL_FILE)
        if len(list(Path(tmp).iterdir())) == 1:
            return CutModel(None, (Path(tmp) / MODEL_FILE).read_bytes(), tuple(inputs))
        kept = Path(tempfile.mkdtemp(prefix="static2d-onnx-"))  # a graph with external weights needs its folder
        shutil.copytree(tmp, kept, dirs_exist_ok=True)
        return CutModel(kept, kept / MODEL_FILE, tuple(inputs))
