"""An encoder's fingerprint: a short stable string naming everything that determines its vectors.

Store `encoder.describe()` (the readable fields and the fingerprint, all str) with an index when it is built,
and call `check_fingerprint(stored, encoder)` before querying it: a different model, `layers`, `dims`, prompt,
`normalize`, `max_length`, `precision` or `dtype` is refused with a message saying what changed and what to do.
Where the model runs (`device`, `backend`, the static path's `kernel`) is shown, not hashed: the same model and
settings give the same vectors on a GPU and on the CPU (float32), compiled kernel or not.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from static2d._hashing import content_id
from static2d._options import OPTIONS

# Bump when the recipe changes: a fingerprint never silently means two different things.
_VERSION = "s2d1"
# The fields hashed into the fingerprint, in order. `source` (the model as it was given) is shown, not hashed:
# the same weights at another path or on another machine give the same vectors.
HASHED = (
    "model",
    "kind",
    "layers",
    "dims",
    "normalize",
    "query_prompt",
    "document_prompt",
    "max_length",
    "quantize",
    "precision",
    "ranges",
    "dtype",
)
# Hashed fields added after the first recipe, and the value every fingerprint made before them meant: a field at
# that value is left out of the hash, so an index built before the field existed still matches.
_IMPLIED = {"dtype": "float32"}
# Fields shown beside the hashed ones, not hashed: the model as given, and where it ran.
SHOWN = ("source", "device", "backend", "kernel")
# Fields a user sets as a load() option of the same name; a mismatch there can be answered by setting it back
# (the model is hashed by its content, so it is not among them).
_OPTIONS = tuple(name for name in HASHED if name != "model" and name in {option.name for option in OPTIONS})
# What a model's vectors depend on in its folder: weights, configs, tokenizers (not READMEs or other runtimes).
_MODEL_SUFFIXES = (".json", ".safetensors", ".txt", ".model")
_SNAPSHOT = re.compile(r"^[0-9a-f]{40}$")


class Described(Protocol):
    """Anything with `describe()`: the core `Encoder` and every static2d adapter object."""

    def describe(self) -> dict[str, str]:
        """The encoder's readable fingerprint fields."""
        ...


def model_identity(folder: Path, *, hub: bool = False) -> str:
    """The model's identity: `owner/name@commit` for a snapshot huggingface_hub gave, else its files' content hash.

    Args:
        folder: The model's local directory.
        hub: Whether `folder` is the snapshot huggingface_hub resolved for a hub id. A folder given as a path is
            named by its content even when it is laid out like a hub snapshot: its files may have been edited.

    Returns:
        `"owner/name@<commit>"`, or `"sha256:<16 hex>"` over the folder's weights, configs and tokenizer files.

    Example:
        >>> model_identity(Path("/hf/hub/models--org--m/snapshots/" + "0" * 40), hub=True)  # doctest: +SKIP
        'org/m@0000000000000000000000000000000000000000'
    """
    parts = folder.parts
    snapshot = len(parts) >= 3 and parts[-2] == "snapshots" and bool(_SNAPSHOT.match(parts[-1]))
    if hub and snapshot and parts[-3].startswith("models--"):
        return f"{parts[-3].removeprefix('models--').replace('--', '/')}@{parts[-1]}"
    return f"sha256:{_content_hash(folder)}"


def _content_hash(folder: Path) -> str:
    """sha256 over the relative path, size and content hash of each model file (each file hashed once per process)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in _MODEL_SUFFIXES):
        digest.update(f"{path.relative_to(folder).as_posix()}\0{path.stat().st_size}\0{content_id(path)}\0".encode())
    return digest.hexdigest()[:16]


def fingerprint_of(fields: Mapping[str, str]) -> str:
    """The fingerprint of the hashed `fields`: `"s2d1-"` and 16 hex digits.

    Example:
        >>> fingerprint_of({name: "" for name in HASHED})[:5]
        's2d1-'
    """
    hashed = [name for name in HASHED if _IMPLIED.get(name) != str(fields[name])]
    canonical = json.dumps([[name, str(fields[name])] for name in hashed], ensure_ascii=True)
    return f"{_VERSION}-{hashlib.sha256(canonical.encode()).hexdigest()[:16]}"


def describe_fields(
    *,
    model: str,
    source: str,
    kind: str,
    layers: int | None,
    dims: int,
    normalize: bool,
    query_prompt: str,
    document_prompt: str,
    max_length: int | None,
    quantize: str | None,
    precision: str,
    ranges: str,
    dtype: str = "float32",
    device: str = "cpu",
    backend: str = "",
    kernel: str = "none",
) -> dict[str, str]:
    """The readable fields (all str, so any vector store's metadata takes them) and their fingerprint."""
    fields = {
        "model": model,
        "source": source,
        "kind": kind,
        "layers": "none" if layers is None else str(layers),
        "dims": str(dims),
        "normalize": "true" if normalize else "false",
        "query_prompt": query_prompt,
        "document_prompt": document_prompt,
        "max_length": "none" if max_length is None else str(max_length),
        "quantize": "none" if quantize is None else quantize,
        "precision": precision,
        "ranges": ranges,
        "dtype": dtype,
        "device": device,
        "backend": backend,
        "kernel": kernel,
    }
    return {"fingerprint": fingerprint_of(fields), **fields}


class FingerprintMismatchError(ValueError):
    """An index was built by an embedder whose vectors differ from the one querying it."""


def check_fingerprint(stored: str | Mapping[str, object], encoder: Described) -> None:
    """Refuse to query an index with an embedder that makes different vectors from the one that built it.

    Args:
        stored: What was saved with the index at indexing time: `encoder.describe()` (best: the error then says
            what changed), or just `encoder.fingerprint`. Extra keys (other metadata) are ignored.
        encoder: The encoder (or static2d adapter object) about to embed the queries.

    Raises:
        FingerprintMismatchError: (a ValueError) The fingerprints differ; the message lists the fields that
            changed, "layers 3 → 6", and says what to do.
        TypeError: `stored` is neither a str nor a mapping, or `encoder` has no `describe()`.
        ValueError: `stored` is a mapping with no "fingerprint".

    Example:
        >>> import static2d
        >>> enc = static2d.load("sentence-transformers/static-retrieval-mrl-en-v1", dims=256)  # doctest: +SKIP
        >>> metadata = enc.describe()  # saved with the collection when indexing  # doctest: +SKIP
        >>> static2d.check_fingerprint(metadata, enc)  # later, before querying: passes  # doctest: +SKIP
    """
    describe = getattr(encoder, "describe", None)
    current = describe() if callable(describe) else None
    if not isinstance(current, Mapping) or not isinstance(current.get("fingerprint"), str):
        msg = (
            f"check_fingerprint() takes the embedder about to embed the queries as its second argument (a static2d "
            f"Encoder or a static2d adapter object, which have describe()), got {type(encoder).__name__} "
            f"({encoder!r:.60}). Pass the embedder you query with: check_fingerprint(stored, embedder)."
        )
        raise TypeError(msg)
    if isinstance(stored, str):
        if stored != current["fingerprint"]:
            msg = (
                f"This index was built by an embedder with fingerprint {stored}, but this embedder's is "
                f"{current['fingerprint']}: its vectors differ, so search results would be wrong. Re-index with this "
                "embedder, or query with the settings the index was built with (store encoder.describe() with the "
                "index, not just the fingerprint, to be told which settings changed)."
            )
            raise FingerprintMismatchError(msg)
        return
    if not isinstance(stored, Mapping):  # untyped callers
        msg = f"stored must be a fingerprint (str) or the mapping describe() gave, got {type(stored).__name__}."  # type: ignore[unreachable]
        raise TypeError(msg)
    if "fingerprint" not in stored:
        msg = (
            f"The stored metadata has no static2d fingerprint (keys: {sorted(map(str, stored))[:12]}): the index was "
            "not built with describe() saved beside it. Re-index, saving embedder.describe() with the collection."
        )
        raise ValueError(msg)
    if str(stored["fingerprint"]) == current["fingerprint"]:
        return
    # a field stored before it existed (dtype) meant its implied value
    before = {name: str(stored[name]) if name in stored else _IMPLIED.get(name) for name in HASHED}
    changed = [name for name in HASHED if before[name] is not None and before[name] != current[name]]
    if not changed:
        msg = (
            f"This index was built by an embedder with fingerprint {stored['fingerprint']}, this embedder's is "
            f"{current['fingerprint']} (the fingerprint recipe or static2d version differs). Re-index with this "
            "embedder."
        )
        raise FingerprintMismatchError(msg)
    what = "; ".join(_change(name, str(before[name]), current[name], stored, current) for name in changed)
    back = [f"{name}={_as_option(name, str(before[name]))}" for name in changed if name in _OPTIONS]
    if "model" in changed or "kind" in changed:
        back.insert(0, f"model={str(stored.get('source', stored['model']))!r}")
    instead = f", or query with {', '.join(back)}" if back and "ranges" not in changed else ""
    msg = (
        f"This index was built by a different embedder ({stored['fingerprint']} → {current['fingerprint']}): "
        f"{what}. Its vectors would not match the stored ones. Re-index with this embedder{instead}."
    )
    raise FingerprintMismatchError(msg)


def _change(name: str, before: str, after: str, stored: Mapping[str, object], current: Mapping[str, str]) -> str:
    if name == "model":
        return f"model {stored.get('source', '?')} ({before}) → {current['source']} ({after})"
    if name in ("query_prompt", "document_prompt"):
        return f"{name} {before!r} → {after!r}"
    if name == "ranges":
        return f"int8/uint8 ranges {before} → {after}"
    return f"{name} {before} → {after}"


def _as_option(name: str, value: str) -> str:
    if name in ("layers", "dims", "max_length"):
        return "None" if value == "none" else value
    if name == "quantize" and value == "none":
        return "None"
    if name == "normalize":
        return "True" if value == "true" else "False"
    return repr(value)
