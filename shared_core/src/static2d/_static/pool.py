"""Mean pooling of token vectors: gather each text's rows of the table and sum them, a cache-sized block at a time.

Texts are sorted by length; the texts of one length are gathered a block at a time into one (texts, length, dims)
array and summed: no padding, so the table is read as it is (a memory map will do). numpy releases the GIL while it
gathers and sums, so the texts can be pooled in parts by several threads at once; each text's sum is made the same
way whichever part it is in, so the vectors do not depend on the number of threads.
"""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt

from static2d._tokens.ids import Ids

# A block of gathered token vectors is at most this many bytes, so it stays in cache and memory does not grow with
# the input.
BLOCK_BYTES = 1 << 21
# Below this many tokens a batch is pooled by one thread (starting another costs more than it saves).
_PARALLEL_TOKENS = 1 << 14


def pool(table: npt.NDArray[np.float32], flat: Ids, slots: Ids, dims: int, threads: int = 1) -> npt.NDArray[np.float32]:
    """Mean of the first `dims` components of each text's token vectors; a text without tokens gives zeros.

    Args:
        table: The (vocabulary, dims) float32 table.
        flat: The token ids of all texts, text after text.
        slots: How many of them each text has.
        dims: How many leading components to keep.
        threads: At most this many threads pool parts of the texts at once (the caller's thread is one of them).

    Returns:
        A (texts, dims) float32 array.

    Example:
        >>> table = np.eye(3, dtype=np.float32)
        >>> pool(table, np.array([0, 1, 2]), np.array([2, 1]), 3)
        array([[0.5, 0.5, 0. ],
               [0. , 0. , 1. ]], dtype=float32)
    """
    n = len(slots)
    view = table if dims == table.shape[1] else table[:, :dims]
    out = np.zeros((n, dims), dtype=np.float32)
    if flat.size == 0:
        return out
    starts = np.cumsum(slots) - slots
    parts = max(1, min(threads, n, flat.size // _PARALLEL_TOKENS))
    if parts == 1:
        _pool_into(out, view, flat, starts, slots, dims)
    else:
        # texts cut into parts of about the same number of tokens, each pooled by a thread of its own
        cuts = np.searchsorted(np.cumsum(slots), np.linspace(0, flat.size, parts + 1)[1:-1]).tolist()
        bounds = list(zip([0, *cuts], [*cuts, n], strict=True))
        errors: list[BaseException] = []

        def work(a: int, b: int) -> None:
            try:
                _pool_into(out[a:b], view, flat, starts[a:b], slots[a:b], dims)
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
    out /= np.maximum(slots, 1).astype(np.float32)[:, None]
    return out


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
            np.sum(rows.reshape(k, length, dims), axis=1, out=sums[:k])
            out[order[s:e]] = sums[:k]
    for i in range(last, n):
        start, length = int(starts[i]), int(lengths[i])
        out[order[i]] = sum_rows(table, flat[start : start + length], dims, buffer)


def sum_rows(
    table: npt.NDArray[np.float32], ids: Ids, dims: int, buffer: npt.NDArray[np.float32] | None = None
) -> npt.NDArray[np.float32]:
    """Sum of the table rows `ids`, a block at a time (gathered into `buffer`, if given)."""
    step = max(1, BLOCK_BYTES // (4 * dims))
    if buffer is None:
        buffer = np.empty((min(step, max(1, len(ids))), dims), dtype=np.float32)
    step = min(step, len(buffer))
    total = np.zeros(dims, dtype=np.float32)
    for p in range(0, len(ids), step):
        part = ids[p : p + step]
        rows = buffer[: len(part)]
        np.take(table, part, axis=0, out=rows, mode="clip")
        total += rows.sum(axis=0)
    return total
