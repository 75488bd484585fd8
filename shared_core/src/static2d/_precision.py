"""Quantized embeddings (`precision`), with sentence-transformers' meaning (`quantize_embeddings`).

- "float32": the embeddings as they are.
- "int8" / "uint8": each dimension mapped linearly from its range [low, high] to 256 levels (-128..127 or 0..255),
  floored and clipped, exactly as sentence-transformers' `quantize_embeddings(..., ranges=...)`. The ranges are a
  property of the model and settings, never of the batch: computed once per encoder from the calibration text
  shipped with static2d (`calibration.txt`), so the same text gets the same code whatever it is embedded with.
- "binary" / "ubinary": one bit per dimension (> 0), packed 8 to a byte (int8 offset by -128, or uint8): a
  vector of ceil(dims / 8) numbers, as sentence-transformers returns.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Precision = Literal["float32", "int8", "uint8", "binary", "ubinary"]
PRECISIONS: tuple[str, ...] = ("float32", "int8", "uint8", "binary", "ubinary")
_DTYPES = {"float32": np.float32, "int8": np.int8, "uint8": np.uint8, "binary": np.int8, "ubinary": np.uint8}


def check_precision(precision: object) -> str:
    """Validate the `precision` option: one of PRECISIONS.

    Example:
        >>> check_precision("int8")
        'int8'
    """
    if not isinstance(precision, str):
        msg = f"precision must be one of {', '.join(map(repr, PRECISIONS))} (a str), got {precision!r}."
        raise TypeError(msg)
    if precision not in PRECISIONS:
        msg = (
            f"precision={precision!r} is not a precision static2d knows: use one of "
            f"{', '.join(map(repr, PRECISIONS))} (sentence-transformers' quantize_embeddings names)."
        )
        raise ValueError(msg)
    return precision


def vector_length(dims: int, precision: str) -> int:
    """How many numbers one embedding holds: `dims`, or ceil(dims / 8) for the packed binary precisions.

    Example:
        >>> vector_length(384, "ubinary")
        48
    """
    return -(-dims // 8) if precision in ("binary", "ubinary") else dims


def bytes_per_vector(dims: int, precision: str) -> int:
    """Bytes one stored embedding takes: 4 per dimension (float32), 1 (int8 / uint8), or 1 per 8 (binary).

    Example:
        >>> bytes_per_vector(384, "int8")
        384
    """
    return vector_length(dims, precision) * np.dtype(_DTYPES[precision]).itemsize


def calibration_texts() -> list[str]:
    """The calibration text shipped with static2d: one short English text a line (queries and passages).

    Example:
        >>> len(calibration_texts()) > 100
        True
    """
    text = resources.files("static2d").joinpath("calibration.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def ranges_of(embeddings: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Per-dimension [low, high] (shape (2, dims)) of float embeddings, as sentence-transformers computes them."""
    return np.vstack((embeddings.min(axis=0), embeddings.max(axis=0))).astype(np.float32)


def ranges_id(ranges: npt.NDArray[np.float32] | None) -> str:
    """A short hash of the int8 / uint8 ranges, for the fingerprint ("" when there are none)."""
    if ranges is None:
        return ""
    return hashlib.sha256(np.ascontiguousarray(ranges, dtype="<f4").tobytes()).hexdigest()[:12]


def quantize(
    embeddings: npt.NDArray[np.float32], precision: str, ranges: npt.NDArray[np.float32] | None
) -> npt.NDArray[Any]:
    """Quantize float embeddings to `precision` (ranges of shape (2, dims) needed for int8 / uint8).

    Example:
        >>> quantize(np.array([[0.5, -0.5, 0, 1, 1, 1, 1, 1, 1]], dtype=np.float32), "ubinary", None)
        array([[159, 128]], dtype=uint8)
    """
    if precision == "float32":
        return embeddings
    if precision in ("binary", "ubinary"):
        packed = np.packbits(embeddings > 0, axis=1)
        return (packed.astype(np.int16) - 128).astype(np.int8) if precision == "binary" else packed
    assert ranges is not None  # noqa: S101 - the encoder computes them before quantizing to int8 / uint8
    starts = ranges[0]
    steps = (ranges[1] - ranges[0]) / 255
    steps = np.where(steps == 0, 1, steps).astype(np.float32)  # a constant dimension maps to 0
    levels: npt.NDArray[np.float32] = np.clip(np.floor((embeddings - starts) / steps), 0, 255)
    if precision == "uint8":
        return levels.astype(np.uint8)
    return (levels - 128).astype(np.int8)
