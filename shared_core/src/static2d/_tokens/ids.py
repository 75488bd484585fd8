"""Token ids of many texts as two flat arrays, and the few operations every tokenizer path shares on them.

`Tokens` is (flat ids of all the texts in order, tokens per text): no padding, no Python list per text.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

Ids: TypeAlias = npt.NDArray[np.intp]
Tokens: TypeAlias = tuple[Ids, Ids]


def from_rows(rows: Sequence[Sequence[int]]) -> Tokens:
    """(flat ids, tokens per text) of one list of ids per text."""
    slots = np.fromiter(map(len, rows), dtype=np.intp, count=len(rows))
    flat = np.fromiter(chain.from_iterable(rows), dtype=np.intp, count=int(slots.sum()))
    return flat, slots


def truncate(flat: Ids, slots: Ids, max_length: int | None, keep_end: bool = False) -> Tokens:
    """The first (or, `keep_end`, the last) `max_length` tokens of each text, as the tokenizer's truncation keeps."""
    if max_length is None or slots.size == 0 or int(slots.max()) <= max_length:
        return flat, slots
    owner = np.repeat(np.arange(len(slots)), slots)
    position = np.arange(flat.size) - (np.cumsum(slots) - slots)[owner]
    keep = position >= (slots - max_length)[owner] if keep_end else position < max_length
    return flat[keep], np.minimum(slots, max_length)


def drop(flat: Ids, slots: Ids, token: int | None) -> Tokens:
    """The ids without every `token` (model2vec drops the unknown token), and the tokens left per text."""
    if token is None:
        return flat, slots
    keep = flat != token
    if keep.all():
        return flat, slots
    owner = np.repeat(np.arange(len(slots)), slots)
    return flat[keep], np.bincount(owner[keep], minlength=len(slots)).astype(np.intp)


def assemble(n: int, parts: Sequence[tuple[Ids, Tokens]]) -> Tokens:
    """The tokens of `n` texts put together from parts, each (the texts' positions, their tokens in that order)."""
    if len(parts) == 1 and len(parts[0][0]) == n:
        return parts[0][1]
    slots = np.zeros(n, dtype=np.intp)
    for where, (_, part_slots) in parts:
        slots[where] = part_slots
    starts = np.cumsum(slots) - slots
    flat = np.empty(int(slots.sum()), dtype=np.intp)
    for where, (part_flat, part_slots) in parts:
        if part_flat.size:
            # each token's place: its text's start in the whole + its position within its text
            own_starts = np.cumsum(part_slots) - part_slots
            shift = np.repeat(starts[where] - own_starts, part_slots)
            flat[shift + np.arange(part_flat.size)] = part_flat
    return flat, slots
