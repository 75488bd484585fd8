"""Token ids of many texts as flat arrays (`Tokens`), and the few operations every tokenizer path shares on them.

`Tokens` is the one token-array type of every engine: the flat ids of all the texts in order, the tokens per text,
and (for a transformer that takes them) the token type ids, as `ids`: no padding, no Python list per text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

Ids: TypeAlias = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True, eq=False)
class Tokens:
    """Token ids of several texts, concatenated: text i is ids[offsets[i] : offsets[i] + lengths[i]].

    Compared with `exact.same` (arrays have no single truth value, so == is identity).
    """

    ids: Ids
    lengths: Ids
    type_ids: Ids | None = None  # as `ids`; None where the model takes no token type ids (every static model)

    @property
    def offsets(self) -> Ids:
        """Where each text's ids start in `ids`."""
        out = np.zeros(len(self.lengths), dtype=np.intp)
        np.cumsum(self.lengths[:-1], out=out[1:])
        return out

    def take(self, rows: Ids) -> Tokens:
        """The texts `rows` (in that order), as a new Tokens."""
        lengths = self.lengths[rows]
        starts = self.offsets[rows]
        total = int(lengths.sum())
        # position k of the output is ids[starts[row] + (k - first output position of row)]
        ends = np.cumsum(lengths)
        index = np.repeat(starts - (ends - lengths), lengths) + np.arange(total, dtype=np.intp)
        types = None if self.type_ids is None else self.type_ids[index]
        return Tokens(self.ids[index], lengths, types)

    @staticmethod
    def join(parts: Sequence[Tokens]) -> Tokens:
        """The texts of several Tokens, one after the other (type ids only where every part has them)."""
        types = [p.type_ids for p in parts]
        return Tokens(
            np.concatenate([p.ids for p in parts]),
            np.concatenate([p.lengths for p in parts]),
            None if any(t is None for t in types) else np.concatenate(types),  # type: ignore[arg-type]
        )


def from_rows(rows: Sequence[Sequence[int]]) -> Tokens:
    """The Tokens of one list of ids per text."""
    slots = np.fromiter(map(len, rows), dtype=np.intp, count=len(rows))
    flat = np.fromiter(chain.from_iterable(rows), dtype=np.intp, count=int(slots.sum()))
    return Tokens(flat, slots)


def truncate(tokens: Tokens, max_length: int | None, keep_end: bool = False) -> Tokens:
    """The first (or, `keep_end`, the last) `max_length` tokens of each text, as the tokenizer's truncation keeps."""
    slots = tokens.lengths
    if max_length is None or slots.size == 0 or int(slots.max()) <= max_length:
        return tokens
    owner = np.repeat(np.arange(len(slots)), slots)
    position = np.arange(tokens.ids.size) - (np.cumsum(slots) - slots)[owner]
    keep = position >= (slots - max_length)[owner] if keep_end else position < max_length
    return _keep(tokens, keep, np.minimum(slots, max_length))


def drop(tokens: Tokens, token: int | None) -> Tokens:
    """The ids without every `token` (model2vec drops the unknown token), and the tokens left per text."""
    if token is None:
        return tokens
    hit = tokens.ids == token
    if not hit.any():
        return tokens
    slots = tokens.lengths
    gone = np.concatenate((np.zeros(1, dtype=np.intp), np.cumsum(hit, dtype=np.intp)))  # dropped before each token
    ends = np.cumsum(slots)
    return _keep(tokens, ~hit, slots - (gone[ends] - gone[ends - slots]))


def _keep(tokens: Tokens, keep: npt.NDArray[np.bool_], lengths: Ids) -> Tokens:
    """The tokens where `keep`, `lengths` per text."""
    types = None if tokens.type_ids is None else tokens.type_ids[keep]
    return Tokens(tokens.ids[keep], lengths, types)


def assemble(n: int, parts: Sequence[tuple[Ids, Tokens]]) -> Tokens:
    """The tokens of `n` texts put together from parts, each (the texts' positions, their tokens in that order).

    Type ids are kept where every part has them.
    """
    if len(parts) == 1 and len(parts[0][0]) == n:
        return parts[0][1]
    slots = np.zeros(n, dtype=np.intp)
    for where, part in parts:
        slots[where] = part.lengths
    starts = np.cumsum(slots) - slots
    total = int(slots.sum())
    flat = np.empty(total, dtype=np.intp)
    types = None if any(part.type_ids is None for _, part in parts) else np.empty(total, dtype=np.intp)
    for where, part in parts:
        if part.ids.size:
            # each token's place: its text's start in the whole + its position within its text
            own_starts = np.cumsum(part.lengths) - part.lengths
            place = np.repeat(starts[where] - own_starts, part.lengths) + np.arange(part.ids.size)
            flat[place] = part.ids
            if types is not None:
                types[place] = part.type_ids  # type: ignore[assignment]  # every part has them where types is set
    return Tokens(flat, slots, types)
