"""Mean pooling of token vectors: each text's rows of the table added in token order, then divided by their count.

Every path makes each text's sum the same way, the sequential float32 sum model2vec makes (`np.mean(table[ids],
axis=0)`): the compiled kernel (`kernel.py`), which reads the table where it lies (a memory map will do) with the
GIL released, and numpy, its reference and fallback. On numpy, texts are sorted by length; the texts of one length
are gathered a block at a time into one (texts, length, dims) array and summed over the length; a text longer than
a block is summed a block at a time, each block's first row carrying the sum so far. No padding. The kernel and
numpy both release the GIL, so the texts can be pooled in parts by several threads at once; each text's sum is made
the same way whichever part it is in, so the vectors depend on neither the number of threads nor the path.
"""

from __future__ import annotations

import threading
from types import ModuleType

import numpy as np
import numpy.typing as npt

from static2d._static import kernel
from static2d._tokens.ids import Ids, Tokens, drop

# A block of gathered token vectors is at most this many bytes, so it stays in cache and memory does not grow with
# the input.
BLOCK_BYTES = 1 << 21
# Below this many tokens a batch is pooled by one thread (starting another costs more than it saves).
_PARALLEL_TOKENS = 1 << 14


def pool(
    table: npt.NDArray[np.float32],
    flat: Ids,
    slots: Ids,
    dims: int,
    threads: int = 1,
    *,
    out: npt.NDArray[np.float32] | None = None,
    skip: int | None = None,
) -> npt.NDArray[np.float32]:
    """Mean of the first `dims` components of each text's token vectors; a text without tokens gives zeros.

    Args:
        table: The (vocabulary, dims) float32 table.
        flat: The token ids of all texts, text after text.
        slots: How many of them each text has.
        dims: How many leading components to keep.
        threads: At most this many threads pool parts of the texts at once (the caller's thread is one of them).
        out: A C-contiguous (texts, dims) float32 array to write into (say, rows of a larger output), or None.
        skip: A token id left out of every mean (model2vec drops the unknown token): the kernel skips its rows as
            it sums, the numpy path drops it first (`ids.drop`); the same sums either way.

    Returns:
        A (texts, dims) float32 array: `out` where given.

    Example:
        >>> table = np.eye(3, dtype=np.float32)
        >>> pool(table, np.array([0, 1, 2]), np.array([2, 1]), 3)
        array([[0.5, 0.5, 0. ],
               [0. , 0. , 1. ]], dtype=float32)
    """
    n = len(slots)
    view = table if dims == table.shape[1] else table[:, :dims]
    native = kernel_for(table)
    if native is None and skip is not None:
        dropped = drop(Tokens(flat, slots), skip)
        flat, slots, skip = dropped.ids, dropped.lengths, None
    if out is None:
        out = np.zeros((n, dims), dtype=np.float32)
    elif native is None or flat.size == 0:  # the numpy path writes only the texts that have tokens
        out[:] = 0
    if flat.size == 0:
        return out
    starts = np.cumsum(slots) - slots
    if native is not None:
        flat, slots = flat.astype(np.int64, copy=False), slots.astype(np.int64, copy=False)

    into = out

    def _pool_part(a: int, b: int) -> None:
        if native is None:
            _pool_into(into[a:b], view, flat, starts[a:b], slots[a:b], dims)
            into[a:b] /= np.maximum(slots[a:b], 1).astype(np.float32)[:, None]
        elif a < b:
            first, last = int(starts[a]), int(starts[b - 1] + slots[b - 1])
            native.pool(table, flat[first:last], slots[a:b], dims, into[a:b], -1 if skip is None else skip)

    parts = max(1, min(threads, n, flat.size // _PARALLEL_TOKENS))
    if parts == 1:
        _pool_part(0, n)
    else:
        # texts cut into parts of about the same number of tokens, each pooled by a thread of its own
        cuts = np.searchsorted(np.cumsum(slots), np.linspace(0, flat.size, parts + 1)[1:-1]).tolist()
        bounds = list(zip([0, *cuts], [*cuts, n], strict=True))
        errors: list[BaseException] = []

        def work(a: int, b: int) -> None:
            try:
                _pool_part(a, b)
            except BaseException as e:  # handed to the caller
                errors.append(e)

        helpers = [threading.Thread(target=work, args=ab, name="static2d-pool", daemon=True) for ab in bounds[1:]]
        for h in helpers:
            h.start()
        work(*bounds[0])
        for h in helpers:
            h.join()
        if errors:
            raise errors[0]
    return out


def kernel_for(table: npt.NDArray[np.float32]) -> ModuleType | None:
    """The compiled kernel, where it is built and on and can read `table` as it is (C-contiguous float32), else None."""
    native = kernel.native()
    if native is None or table.dtype != np.float32 or table.ndim != 2 or not table.flags.c_contiguous:
        return None
    return native


def mean_rows(table: npt.NDArray[np.float32], ids: Ids, dims: int) -> npt.NDArray[np.float32]:
    """The mean of the table rows `ids` (first `dims` components; zeros for no ids), as `pool` makes it."""
    native = kernel_for(table)
    if native is None or not len(ids):
        total = sum_rows(table, ids, dims) if len(ids) else np.zeros(dims, dtype=np.float32)
        total /= np.float32(max(1, len(ids)))
        return total
    out = np.empty((1, dims), dtype=np.float32)
    native.pool(table, np.asarray(ids, dtype=np.int64), np.array([len(ids)], dtype=np.int64), dims, out)
    return out.reshape(dims)


def _pool_into(  # noqa: PLR0917 - private, the parts of one pooling
    out: npt.NDArray[np.float32], table: npt.NDArray[np.float32], flat: Ids, starts: Ids, slots: Ids, dims: int
) -> None:
    """Write each text's sum of token vectors into `out` (texts `starts`/`slots` of `flat`).

    The rows are gathered into one buffer made once per call (no memory handed back and forth with the system per
    block: that page-faults, and serializes threads on the process's memory map).
    """
    n = len(slots)
    budget = max(1, BLOCK_BYTES // (4 * dims))  # token vectors per block
    buffer = np.empty((budget, dims), dtype=np.float32)
    if n == 1:
        if slots[0]:
            out[0] = sum_rows(table, flat[int(starts[0]) : int(starts[0] + slots[0])], dims, buffer)
        return
    order = np.argsort(slots, kind="stable")
    lengths, starts = slots[order], starts[order]
    sums = np.empty((budget, dims), dtype=np.float32)
    first = int(np.searchsorted(lengths, 1))  # texts without tokens stay zero
    last = int(np.searchsorted(lengths, budget, side="right"))  # longer texts: summed a piece at a time
    runs = np.flatnonzero(np.diff(lengths[first:last])) + first + 1
    for a, b in zip([first, *runs.tolist()], [*runs.tolist(), last], strict=True):
        length = int(lengths[a])
        width = np.arange(length)
        step = budget // length
        for s in range(a, b, step):
            e = min(b, s + step)
            k = e - s
            rows = buffer[: k * length]
            np.take(table, flat[starts[s:e, None] + width].ravel(), axis=0, out=rows, mode="clip")
            _add_rows(rows.reshape(k, length, dims), sums[:k])
            out[order[s:e]] = sums[:k]
    for i in range(last, n):
        start, length = int(starts[i]), int(lengths[i])
        out[order[i]] = sum_rows(table, flat[start : start + length], dims, buffer)


def sum_rows(
    table: npt.NDArray[np.float32], ids: Ids, dims: int, buffer: npt.NDArray[np.float32] | None = None
) -> npt.NDArray[np.float32]:
    """Sum of the table rows `ids` in order (first `dims` components), a block at a time (gathered into `buffer`).

    Each block's first row has the sum so far added to it, so the result is the one sequential float32 sum over all
    the rows (a + b == b + a exactly), not a sum of block sums.
    """
    step = max(1, BLOCK_BYTES // (4 * dims))
    if buffer is None:
        buffer = np.empty((min(step, max(1, len(ids))), dims), dtype=np.float32)
    step = min(step, len(buffer))
    view = table if dims == table.shape[1] else table[:, :dims]
    total = np.zeros(dims, dtype=np.float32)
    for p in range(0, len(ids), step):
        part = ids[p : p + step]
        rows = buffer[: len(part)]
        np.take(view, part, axis=0, out=rows, mode="clip")
        if p:
            rows[0] += total
        _add_rows(rows[None], total[None])
    return total


def _add_rows(rows: npt.NDArray[np.float32], out: npt.NDArray[np.float32]) -> None:
    """`out[t] = rows[t, 0] + rows[t, 1] + ...` in that order, component by component (float32).

    numpy sums over an axis that is not the innermost one row after row; with a single component the summed axis
    becomes the innermost one, where numpy sums pairwise, so that case is made sequential by a cumulative sum.
    """
    if rows.shape[2] == 1:
        out[:] = np.add.accumulate(rows, axis=1)[:, -1]
    else:
        np.sum(rows, axis=1, out=out)
