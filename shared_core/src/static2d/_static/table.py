"""The static model's embedding table: memory-mapped from the safetensors file where it can be used as it is stored.

A float32 table (sentence-transformers `embedding.weight`, or model2vec `embeddings` without `mapping` / `weights`)
is mapped read-only straight from model.safetensors: the process holds only the pages it touches, and those pages
are the operating system's file cache, shared by every process that maps the same file. A table that must be
transformed first (float16 / float64, model2vec's vocabulary quantization `mapping`, its per-token `weights`) is
built once as a float32 array private to the process (vocabulary rows x dims x 4 bytes).
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors import SafetensorError, safe_open

from static2d._model.files import check_finite

# sentence-transformers StaticEmbedding's table, model2vec's table
_KEYS = ("embedding.weight", "embeddings")


def load_table(folder: Path, name: str) -> npt.NDArray[np.float32]:
    """The embedding table as a C-contiguous float32 matrix, model2vec's token mapping and weights folded in.

    Args:
        folder: The folder holding model.safetensors.
        name: The model's name, for error messages.

    Returns:
        A read-only memory map of the file when the stored table is float32 and needs no change, else an array.

    Raises:
        ValueError: The file is damaged, holds no table, or its table is not a 2-D float matrix.

    Example:
        >>> table = load_table(Path("my-static-model"), "my-static-model")  # doctest: +SKIP
        >>> table.shape  # (vocabulary, dims)  # doctest: +SKIP
    """
    path = folder / "model.safetensors"
    try:
        with safe_open(str(path), framework="numpy") as f:
            keys = set(f.keys())
            key = next((k for k in _KEYS if k in keys), None)
            if key is None:
                msg = (
                    f"Static model {name!r}: {path} has tensors {sorted(keys)}, but a static model needs "
                    "'embeddings' (model2vec) or 'embedding.weight' (sentence-transformers StaticEmbedding)."
                )
                raise ValueError(msg)
            extra = key == "embeddings"  # model2vec's vocabulary quantization and token weights
            mapping = f.get_tensor("mapping") if extra and "mapping" in keys else None
            weights = f.get_tensor("weights") if extra and "weights" in keys else None
            shape = list(f.get_slice(key).get_shape())
            dtype = str(f.get_slice(key).get_dtype())
            mapped = _mapped(path, key) if mapping is None and weights is None and dtype == "F32" else None
            table = mapped if mapped is not None else f.get_tensor(key)
    except (SafetensorError, OSError) as e:  # a truncated or foreign file
        msg = f"Static model {name!r}: cannot read {path} ({e}). The file looks damaged: download the model again."
        raise ValueError(msg) from e
    if len(shape) != 2 or not np.issubdtype(table.dtype, np.floating):
        msg = (
            f"Static model {name!r}: the embedding table has shape {tuple(shape)} and dtype {table.dtype}; "
            "expected a 2-D float matrix."
        )
        raise ValueError(msg)
    if mapped is not None:
        check_finite(mapped, path, name)
        return mapped
    if mapping is not None:
        table = table[mapping.astype(np.int64)]
    out = np.ascontiguousarray(table, dtype=np.float32)
    if weights is not None:
        out = out * weights.astype(np.float32)[:, None]
    check_finite(out, path, name)
    return out


def table_key(path: Path) -> str | None:
    """Which static table a safetensors file holds: "embedding.weight", "embeddings", or None (none, unreadable)."""
    try:
        with safe_open(str(path), framework="numpy") as f:
            keys = set(f.keys())
    except (SafetensorError, OSError):
        return None  # reported with the right words when the table is loaded
    return next((k for k in _KEYS if k in keys), None)


def _mapped(path: Path, key: str) -> npt.NDArray[np.float32] | None:
    """Tensor `key` (float32) of a safetensors file as a read-only memory map, or None if it cannot be mapped."""
    if sys.byteorder != "little":  # safetensors stores little-endian
        return None
    with path.open("rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
    begin, end = (int(x) for x in header[key]["data_offsets"])
    shape = tuple(int(x) for x in header[key]["shape"])
    if len(shape) != 2 or end - begin != 4 * shape[0] * shape[1] or shape[0] * shape[1] == 0:
        return None
    if path.stat().st_size < 8 + size + end:
        msg = f"{path} is shorter than its header says (truncated)"
        raise OSError(msg)
    mapped = np.memmap(path, dtype="<f4", mode="r", offset=8 + size + begin, shape=shape)
    return mapped.view(np.ndarray)  # a plain array over the map (which it keeps open)
