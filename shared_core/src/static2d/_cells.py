"""The one output contract of every engine: vectors at (layers, dims) cells, cut to `dims` and normalised once.

An engine's `encode` embeds the texts at each depth it is asked for, at the widest `dims` of the cells, chunk by
chunk (`chunks`, or `by_chunks` where the engine returns each chunk's vectors), and hands the result to `finish`,
which cuts each cell's columns and normalises them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from static2d._vectors import normalize_rows

Cell: TypeAlias = tuple[int, int]
"""(layers, dims): a depth of the model (0 for a model without layers) and a number of leading dimensions."""
Vectors: TypeAlias = npt.NDArray[np.float32]


def chunks(
    texts: Sequence[str], step: int, progress: Callable[[int], object] | None = None
) -> Iterator[tuple[int, Sequence[str]]]:
    """(where it starts, the chunk) for `step` texts at a time; `progress` is told each chunk's size once it is done.

    Example:
        >>> [(start, list(chunk)) for start, chunk in chunks(["a", "b", "c"], 2)]
        [(0, ['a', 'b']), (2, ['c'])]
    """
    n = len(texts)
    for start in range(0, n, step):
        chunk = texts if n <= step else texts[start : start + step]
        yield start, chunk
        if progress is not None:
            progress(len(chunk))


def by_chunks(
    texts: Sequence[str],
    step: int,
    run: Callable[[Sequence[str]], dict[int, Vectors]],
    progress: Callable[[int], object] | None = None,
) -> dict[int, Vectors]:
    """`run` on `step` texts at a time, its {depth: vectors} put together in the order of `texts`.

    Args:
        texts: The texts.
        step: Texts handed to `run` at once.
        run: Embeds some texts: {depth: float32 array (len(chunk), width)}, the same depths and width each time.
        progress: Called with the number of texts of each chunk done.
    """
    n = len(texts)
    if n <= step:
        out = run(texts)
        if progress is not None and n:
            progress(n)
        return out
    full: dict[int, Vectors] = {}
    for start, chunk in chunks(texts, step, progress):
        for depth, vectors in run(chunk).items():
            if depth not in full:
                full[depth] = np.empty((n, vectors.shape[1]), dtype=np.float32)
            full[depth][start : start + len(chunk)] = vectors
    return full


def finish(full: dict[int, Vectors], wanted: Sequence[Cell], *, normalize: bool) -> dict[Cell, Vectors]:
    """Each wanted (depth, dims) cell: the first `dims` columns of `full[depth]`, unit length if `normalize`.

    The arrays of `full` are used (and normalised) in place where a cell takes all their columns.
    """
    out: dict[Cell, Vectors] = {}
    for depth, dims in wanted:  # the narrower cells copied first, before a full-width one is normalised in place
        vectors = full[depth]
        if dims < vectors.shape[1]:
            out[depth, dims] = np.ascontiguousarray(vectors[:, :dims])
    for depth, dims in wanted:
        if (depth, dims) not in out:
            out[depth, dims] = full[depth]
    if normalize:
        for vectors in out.values():
            normalize_rows(vectors)
    return out
