"""Content hashes of model files, computed once per process per file state.

Shared by every user of them: the ONNX cache's source and the fingerprint of a local model.
"""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path

_HASHES: dict[tuple[str, int, int], str] = {}
_HASHES_LOCK = threading.Lock()
_BLOB = re.compile(r"^[0-9a-f]{64}$")


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes (read a block at a time)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def content_id(path: Path, *, hub: bool = False) -> str:
    """sha256 of a file, computed once per (path, size, modification time) in the process.

    With `hub=True` (files huggingface_hub downloaded for a hub id) a blob of the hub cache is known by its name,
    which the hub makes the sha256 of an LFS file's content. Files given as a local path are always hashed: a
    folder laid out like a hub snapshot may have been edited in place, its blob names then no longer the content's.
    """
    real = path.resolve()
    if hub and real.parent.name == "blobs" and _BLOB.match(real.name):
        return real.name
    stat = real.stat()
    key = (str(real), stat.st_size, stat.st_mtime_ns)
    with _HASHES_LOCK:
        known = _HASHES.get(key)
    if known is None:
        known = sha256_file(real)
        with _HASHES_LOCK:
            _HASHES[key] = known
    return known
