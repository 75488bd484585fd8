"""The one reader of safetensors headers: each tensor's dtype, shape and place in the file, checked against its size.

Everything that needs to know what a safetensors file holds without loading it (a transformer's weight check, the
static table's key, width and memory map, the description's output size) reads it here.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of a safetensors file, as its header describes it."""

    dtype: str  # safetensors' name: "F32", "F16", "I8", ...
    shape: tuple[int, ...]
    begin: int  # byte offsets of its data in the file
    end: int


def _download_again(path: Path) -> str:
    return f"{path} is damaged or truncated: download the model again (or re-save it with safetensors)"


def read_header(path: Path) -> dict[str, TensorInfo]:
    """The tensors of a safetensors file, from its header; a truncated or malformed file is a ValueError.

    The offsets are absolute (from the start of the file).

    Example:
        >>> read_header(Path("model.safetensors"))["embeddings"].shape  # doctest: +SKIP
        (30522, 256)
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8)
            if len(head) < 8:
                msg = f"{_download_again(path)}: it holds {size} bytes, not even a safetensors header."
                raise ValueError(msg)
            (length,) = struct.unpack("<Q", head)
            if 8 + length > size:
                msg = f"{_download_again(path)}: its header claims {length} bytes, the file holds {size}."
                raise ValueError(msg)
            header = json.loads(f.read(length))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        msg = f"{_download_again(path)}: its safetensors header is not valid JSON ({e})."
        raise ValueError(msg) from None
    if not isinstance(header, dict):
        msg = f"{_download_again(path)}: its safetensors header is not a table of tensors."
        raise ValueError(msg)
    tensors: dict[str, TensorInfo] = {}
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, stop = (int(x) for x in info["data_offsets"])
            tensors[name] = TensorInfo(
                str(info["dtype"]), tuple(int(d) for d in info["shape"]), 8 + length + begin, 8 + length + stop
            )
            end = max(end, stop)
        except (KeyError, TypeError, ValueError, IndexError) as e:
            msg = f"{_download_again(path)}: its header entry for {name!r} is malformed ({e!r})."
            raise ValueError(msg) from None
    if 8 + length + end > size:
        msg = f"{_download_again(path)}: its tensors need {8 + length + end} bytes, the file holds {size}."
        raise ValueError(msg)
    return tensors


def try_read_header(path: Path) -> dict[str, TensorInfo] | None:
    """`read_header`, or None where the file is missing or damaged (reported with the right words on loading)."""
    try:
        return read_header(path)
    except (OSError, ValueError):
        return None
