"""The static model's embedding table: memory-mapped from the safetensors file where it can be used as it is stored.

A float32 table (sentence-transformers `embedding.weight`, or model2vec `embeddings` without `mapping` / `weights`)
is mapped read-only straight from model.safetensors: the process holds only the pages it touches, and those pages
are the operating system's file cache, shared by every process that maps the same file.

Every other table model2vec 0.10 reads is built once as a float32 array private to the process (vocabulary rows x
dims x 4 bytes), with the values model2vec computes from it:

- a float16 or float64 table (model2vec `quantize_to="float16"` / `"float64"`), made float32;
- an int8 table (`quantize_to="int8"`): model2vec stores the rounded values without their scale and pools those
  very integers (its vectors are the mean of the int8 values, normalized or not as the model says), so they are
  taken as they are (exact in float32);
- vocabulary quantization (`vocabulary_quantization=k`): a `mapping` from each token to one of k rows, and
  per-token `weights` (model2vec also saves weights on their own): row `mapping[token] * weights[token]`, as
  model2vec multiplies them, in any combination with any of the dtypes above.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors import SafetensorError, safe_open

from static2d._model.describe import TABLE_KEYS
from static2d._model.files import check_finite
from static2d._model.safetensors import read_header

# The table dtypes model2vec writes (its quantize_to) and reads back, by safetensors' names.
_DTYPES = {"F32": "float32", "F16": "float16", "F64": "float64", "I8": "int8"}


def load_table(folder: Path, name: str) -> npt.NDArray[np.float32]:
    """The embedding table as a C-contiguous float32 matrix, model2vec's token mapping and weights folded in.

    Args:
        folder: The folder holding model.safetensors.
        name: The model's name, for error messages.

    Returns:
        A read-only memory map of the file when the stored table is float32 and needs no change, else an array.

    Raises:
        ValueError: The file is damaged, holds no table, or its table, mapping or weights are not of a kind
            model2vec writes.

    Example:
        >>> table = load_table(Path("my-static-model"), "my-static-model")  # doctest: +SKIP
        >>> table.shape  # (vocabulary, dims)  # doctest: +SKIP
    """
    path = folder / "model.safetensors"
    try:
        with safe_open(str(path), framework="numpy") as f:
            keys = set(f.keys())
            key = next((k for k in TABLE_KEYS.values() if k in keys), None)
            if key is None:
                msg = (
                    f"Static model {name!r}: {path} has tensors {sorted(keys)}, but a static model needs "
                    "'embeddings' (model2vec) or 'embedding.weight' (sentence-transformers StaticEmbedding)."
                )
                raise ValueError(msg)
            extra = key == TABLE_KEYS["model2vec"]  # model2vec's vocabulary quantization and token weights
            mapping = f.get_tensor("mapping") if extra and "mapping" in keys else None
            weights = f.get_tensor("weights") if extra and "weights" in keys else None
            shape = tuple(f.get_slice(key).get_shape())
            dtype = str(f.get_slice(key).get_dtype())
            if len(shape) != 2 or dtype not in _DTYPES:
                msg = (
                    f"Static model {name!r}: the embedding table in {path} has shape {shape} and dtype {dtype}; "
                    f"expected a 2-D matrix of {' / '.join(_DTYPES.values())} (what model2vec writes). Re-save "
                    "the model with model2vec or sentence-transformers."
                )
                raise ValueError(msg)
            mapped = _mapped(path, key) if mapping is None and weights is None and dtype == "F32" else None
            table = mapped if mapped is not None else f.get_tensor(key)
    except (SafetensorError, OSError) as e:  # a truncated or foreign file
        msg = f"Static model {name!r}: cannot read {path} ({e}). The file looks damaged: download the model again."
        raise ValueError(msg) from e
    if mapped is not None:
        check_finite(mapped, path, name)
        return mapped
    if mapping is not None:
        table = table[_checked_mapping(mapping, table.shape[0], path, name)]
    out = np.ascontiguousarray(table, dtype=np.float32)
    if weights is not None:
        out *= _checked_weights(weights, out.shape[0], path, name)[:, None]
    check_finite(out, path, name)
    return out


def _checked_mapping(mapping: npt.NDArray[np.generic], rows: int, path: Path, name: str) -> npt.NDArray[np.intp]:
    """model2vec's token -> row mapping, checked: a 1-D array of whole numbers, each a row of the table."""
    if mapping.ndim != 1 or not np.issubdtype(mapping.dtype, np.integer):
        msg = (
            f"Static model {name!r}: 'mapping' in {path} has shape {mapping.shape} and dtype {mapping.dtype}; "
            "model2vec's vocabulary quantization maps each token to a row: a 1-D array of whole numbers. "
            "The file is damaged: download the model again."
        )
        raise ValueError(msg)
    if mapping.size and (int(mapping.min()) < 0 or int(mapping.max()) >= rows):
        msg = (
            f"Static model {name!r}: 'mapping' in {path} points at rows {int(mapping.min())}..{int(mapping.max())}, "
            f"but the table has {rows}. The file is damaged: download the model again."
        )
        raise ValueError(msg)
    return mapping.astype(np.intp)


def _checked_weights(weights: npt.NDArray[np.generic], rows: int, path: Path, name: str) -> npt.NDArray[np.float32]:
    """model2vec's per-token weights, checked: one float a token."""
    if weights.shape != (rows,) or not np.issubdtype(weights.dtype, np.floating):
        msg = (
            f"Static model {name!r}: 'weights' in {path} has shape {weights.shape} and dtype {weights.dtype}; "
            f"model2vec stores one float weight a token ({rows} here). The file is damaged: download it again."
        )
        raise ValueError(msg)
    return weights.astype(np.float32)


def _mapped(path: Path, key: str) -> npt.NDArray[np.float32] | None:
    """Tensor `key` (float32) of a safetensors file as a read-only memory map, or None if it cannot be mapped."""
    if sys.byteorder != "little":  # safetensors stores little-endian
        return None
    try:
        info = read_header(path)[key]
    except ValueError as e:  # truncated or malformed: the caller reports it
        raise OSError(str(e)) from e
    shape = info.shape
    if len(shape) != 2 or info.end - info.begin != 4 * shape[0] * shape[1] or shape[0] * shape[1] == 0:
        return None
    mapped = np.memmap(path, dtype="<f4", mode="r", offset=info.begin, shape=shape)
    return mapped.view(np.ndarray)  # a plain array over the map (which it keeps open)
