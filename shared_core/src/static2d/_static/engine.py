"""The static encoder: tokenize, gather token vectors, mean-pool. numpy, tokenizers, safetensors (and tokie)."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Literal

import numpy as np
import numpy.typing as npt
from tokenizers import AddedToken, Tokenizer

from static2d import _threads
from static2d._model.describe import StaticDescription
from static2d._model.files import read_tokenizer
from static2d._static.fasttok import FastTokenizer
from static2d._static.table import load_table

_Tokens = tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]

# Pooling gathers the token vectors of a group of texts of one length into one block of at most this many bytes,
# so the block stays in cache and memory does not grow with the input.
_BLOCK_BYTES = 1 << 21
# A batch of at least two pieces of this many texts is tokenized in pieces, by this many helper threads.
_PIECE = 2048
# At most this many texts are pooled text by text (less work around each than the block pooling).
_FEW = 16


class StaticEngine:
    """A loaded static embedding model, shared by every encoder that asks for it (read-only after load)."""

    kind: Literal["static"] = "static"
    runtime: Literal["numpy"] = "numpy"

    def __init__(self, files: StaticDescription, max_length: int | None) -> None:
        # float32; memory-mapped from the file (shared between processes) where it is stored as it is used
        self.table = load_table(files.static_dir, files.name)
        self.max_dims = int(self.table.shape[1])
        self.max_layers: int | None = None
        self.layers: int | None = None
        self.tokenizer = read_tokenizer(files.static_dir / "tokenizer.json", files.name)
        self.tokenizer.no_padding()
        vocab_size = self.tokenizer.get_vocab_size()
        if vocab_size > self.table.shape[0]:
            msg = (
                f"Static model {files.name!r}: the tokenizer has {vocab_size} tokens but the embedding table only "
                f"{self.table.shape[0]} rows. The model files do not belong together: download the model again."
            )
            raise ValueError(msg)
        self._unk_id: int | None = None
        self._char_cap: int | None = None
        if files.format == "model2vec":
            # As model2vec.StaticModel.encode: unknown tokens are dropped, and text is cut to max_length tokens
            # (after a cheap cut to max_length * median token length characters, which model2vec also makes).
            if max_length is None:
                max_length = files.static_max_length
            self._unk_id = _unk_token_id(self.tokenizer)
            if max_length is not None:
                vocab = self.tokenizer.get_vocab()
                median = int(np.median([len(t) for t in vocab]))
                self._char_cap = int(max_length) * median
        # sentence-transformers StaticEmbedding has no length limit of its own (the tokenizer's, if it was saved
        # with one, applies as there); max_length given by the user applies to both formats.
        if max_length is not None:
            self.tokenizer.enable_truncation(int(max_length))
        elif files.format == "model2vec":
            self.tokenizer.no_truncation()
        self.max_length = max_length
        # The fastest path proven to give this tokenizer's ids: tokie, else texts joined, else text by text.
        self._fast = FastTokenizer.make(self.tokenizer, files.static_dir / "tokenizer.json")
        self._joiner = None if self._fast is not None else _Joiner.make(self.tokenizer)

    @property
    def tokenizer_path(self) -> str:
        """Which tokenizer runs: "tokie" (proven exact for this tokenizer) or "tokenizers" (Hugging Face)."""
        return "tokie" if self._fast is not None else "tokenizers"

    def tokenize(self, texts: Sequence[str]) -> _Tokens:
        """Token ids of the texts as the model's own library makes them: (flat ids, tokens per text).

        A token the model drops (model2vec drops the unknown token) is removed, and not counted.
        """
        if self._char_cap is not None:
            cap = self._char_cap
            texts = [t[:cap] for t in texts]
        joined = None
        if self._fast is not None:
            joined = self._fast.tokenize(texts)
        elif self._joiner is not None and len(texts) > 1:
            joined = self._joiner.tokenize(texts)
        if joined is not None:
            flat, slots = joined
        else:
            rows = [e.ids for e in self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)]
            slots = np.fromiter(map(len, rows), dtype=np.intp, count=len(rows))
            flat = np.fromiter(chain.from_iterable(rows), dtype=np.intp, count=int(slots.sum()))
        if self._unk_id is not None:
            keep = flat != self._unk_id
            if not keep.all():
                owner = np.repeat(np.arange(len(slots)), slots)
                flat, slots = flat[keep], np.bincount(owner[keep], minlength=len(slots))
        return flat, slots

    def pool(self, flat: npt.NDArray[np.intp], slots: npt.NDArray[np.intp], dims: int) -> npt.NDArray[np.float32]:
        """Mean of the first `dims` components of each text's token vectors; a text without tokens gives zeros.

        Texts are sorted by length; the texts of one length are gathered a block at a time into one
        (texts, length, dims) array and summed: no padding, so the table is read as it is (a memory map will do).
        """
        n = len(slots)
        table = self.table if dims == self.max_dims else self.table[:, :dims]
        out = np.zeros((n, dims), dtype=np.float32)
        if flat.size == 0:
            return out
        if n == 1:
            out[0] = _sum_rows(table, flat, dims)
        else:
            starts = np.cumsum(slots) - slots
            order = np.argsort(slots, kind="stable")
            lengths, starts = slots[order], starts[order]
            budget = max(1, _BLOCK_BYTES // (4 * dims))  # token vectors per block
            first = int(np.searchsorted(lengths, 1))  # texts without tokens stay zero
            last = int(np.searchsorted(lengths, budget, side="right"))  # longer texts: summed a piece at a time
            runs = np.flatnonzero(np.diff(lengths[first:last])) + first + 1
            for a, b in zip([first, *runs.tolist()], [*runs.tolist(), last], strict=True):
                length = int(lengths[a])
                width = np.arange(length)
                for s in range(a, b, budget // length):
                    e = min(b, s + budget // length)
                    out[order[s:e]] = table[flat[starts[s:e, None] + width]].sum(axis=1)
            for i in range(last, n):
                start, length = int(starts[i]), int(lengths[i])
                out[order[i]] = _sum_rows(table, flat[start : start + length], dims)
        out /= np.maximum(slots, 1).astype(np.float32)[:, None]
        return out

    def encode_batch(self, texts: Sequence[str], dims: int, prompt: str, batch_size: int) -> npt.NDArray[np.float32]:
        """Encode one batch of texts (the prompt, if any, is prepended as sentence-transformers does).

        A large batch is cut into pieces, tokenized in helper threads (one per core, a piece each, so the cores are
        used whether or not the tokenizer's own parallelism is on) while this thread pools the pieces in order as
        they come: the tokenizer releases the GIL, so pooling costs (almost) no time of its own. tokie runs a piece
        on every core itself: one piece ahead is as fast, and holds less memory than one per core.
        """
        del batch_size  # the caller's batch is this batch
        if prompt:
            texts = [prompt + t for t in texts]
        n, piece = len(texts), _PIECE
        if n <= _FEW and self._fast is None:
            return self._encode_few(texts, dims)
        if n < 2 * piece:
            return self.pool(*self.tokenize(texts), dims)
        out = np.empty((n, dims), dtype=np.float32)
        starts = range(0, n, piece)
        workers = 1 if self._fast is not None else min(4, _threads.limit())
        ahead = deque(_Ahead(self.tokenize, texts[s : s + piece]) for s in starts[:workers])
        for i, start in enumerate(starts):
            tokens = ahead.popleft().result()
            if i + workers < len(starts):
                following = starts[i + workers]
                ahead.append(_Ahead(self.tokenize, texts[following : following + piece]))
            out[start : start + piece] = self.pool(*tokens, dims)
        return out

    def encode_layers(
        self, texts: Sequence[str], prompt: str, layers: Sequence[int], batch_size: int
    ) -> dict[int, npt.NDArray[np.float32]]:
        """A static model has no layers: always a ValueError (the encoder refuses a grid of one before this)."""
        msg = "A static embedding model has no layers to encode at; encode() it once instead."
        raise ValueError(msg)

    def _encode_few(self, texts: Sequence[str], dims: int) -> npt.NDArray[np.float32]:
        """`pool(*tokenize(texts), dims)` for a handful of texts, text by text (the same sums in the same order)."""
        if self._char_cap is not None:
            cap = self._char_cap
            texts = [t[:cap] for t in texts]
        table = self.table if dims == self.max_dims else self.table[:, :dims]
        out = np.zeros((len(texts), dims), dtype=np.float32)
        unk, budget = self._unk_id, max(1, _BLOCK_BYTES // (4 * dims))
        for i, encoding in enumerate(self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)):
            ids = encoding.ids
            if unk is not None and unk in ids:
                ids = [t for t in ids if t != unk]
            if ids:
                total = table[ids].sum(axis=0) if len(ids) <= budget else _sum_rows(table, np.array(ids), dims)
                out[i] = total / len(ids)
        return out


class _Joiner:
    """Tokenizes many short texts as a few long ones: the texts joined by a special token, then split at it.

    The tokenizer's per-text work (one input string, one Encoding and one Python object per text) costs about as
    much as tokenizing a short sentence itself; joined, it is paid once per group of texts. The special separator
    is matched before normalization and cuts the input into pieces that are normalized, pre-tokenized and
    tokenized independently, so each text gets the very tokens it gets alone, for tokenizers whose steps look at
    nothing beyond their piece. Only such tokenizers (by the types of their steps) are joined, and only after a
    check on awkward texts at load; a batch holding the separator itself is tokenized text by text.
    """

    SEPARATOR = "\ue000static2d\ue001"
    GROUP = 16  # texts per joined string
    # Steps that work on each piece on its own (Metaspace only when it prepends to every piece, not the first).
    NORMALIZERS = frozenset(
        {"BertNormalizer", "Lowercase", "NFC", "NFD", "NFKC", "NFKD", "StripAccents", "Strip", "Replace", "Precompiled"}
    )
    PRE_TOKENIZERS = frozenset(
        {"BertPreTokenizer", "Whitespace", "WhitespaceSplit", "Punctuation", "Digits", "Metaspace"}
    )
    MODELS = frozenset({"WordPiece", "WordLevel", "Unigram", "BPE"})

    def __init__(self, tokenizer: Tokenizer) -> None:
        truncation = tokenizer.truncation
        self.max_length: int | None = None if truncation is None else int(truncation["max_length"])
        self.keep_end = truncation is not None and truncation.get("direction") == "left"
        self.tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.tokenizer.add_special_tokens([AddedToken(self.SEPARATOR, special=True, normalized=False)])
        sep = self.tokenizer.token_to_id(self.SEPARATOR)
        assert sep is not None  # noqa: S101 - just added
        self.sep = sep

    @classmethod
    def make(cls, tokenizer: Tokenizer) -> _Joiner | None:
        """A joiner for `tokenizer`, or None where joining could change a text's tokens."""
        spec = json.loads(tokenizer.to_str())
        if not (
            _steps_in(spec.get("normalizer"), cls.NORMALIZERS)
            and _steps_in(spec.get("pre_tokenizer"), cls.PRE_TOKENIZERS)
            and (spec.get("model") or {}).get("type") in cls.MODELS
            and all(cls.SEPARATOR not in t["content"] for t in spec.get("added_tokens") or [])
        ):
            return None
        joiner = cls(tokenizer)
        probes = [*_PROBES, "word " * ((joiner.max_length or 0) + 3)]
        alone = [e.ids for e in tokenizer.encode_batch_fast(probes, add_special_tokens=False)]
        result = joiner.tokenize(probes)
        if result is None:
            return None
        flat, slots = result
        if flat.tolist() != list(chain.from_iterable(alone)) or slots.tolist() != [len(r) for r in alone]:
            return None
        return joiner

    def tokenize(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]] | None:
        """(flat ids, tokens per text), as tokenizing each text alone gives; None if a text holds the separator."""
        sep, group = self.SEPARATOR, self.GROUP
        joined = [sep.join(texts[i : i + group]) for i in range(0, len(texts), group)]
        if sum(s.count(sep) for s in joined) != len(texts) - len(joined):
            return None
        rows = [e.ids for e in self.tokenizer.encode_batch_fast(joined, add_special_tokens=False)]
        sizes = np.fromiter(map(len, rows), dtype=np.intp, count=len(rows))
        ids = np.fromiter(chain.from_iterable(rows), dtype=np.intp, count=int(sizes.sum()))
        is_sep = ids == self.sep
        # A token belongs to text (separators before it) + (its group's number), since each group of k texts
        # holds k - 1 separators.
        owner = np.cumsum(is_sep) + np.repeat(np.arange(len(rows)), sizes)
        keep = ~is_sep
        flat, owner = ids[keep], owner[keep]
        slots = np.bincount(owner, minlength=len(texts))
        if self.max_length is not None and slots.size and slots.max() > self.max_length:
            # The tokenizer's truncation, text by text: keep the first (or last) max_length tokens.
            starts = np.cumsum(slots) - slots
            position = np.arange(flat.size) - starts[owner]
            if self.keep_end:
                position = position + (self.max_length - slots[owner])
                flat = flat[position >= 0]
            else:
                flat = flat[position < self.max_length]
            slots = np.minimum(slots, self.max_length)
        return flat, slots.astype(np.intp, copy=False)


# Texts the tokenizer must cut the same joined and alone before a joiner is used.
_PROBES = [
    "",
    " ",
    "Hello, world!",
    "  leading and trailing spaces  ",
    "\tTabs\nand\r\nnewlines\n",
    "Ünïcödé àccents, ß and ﬁ ligatures",
    "中文字符 and 日本語 mixed with English",
    "emoji 🐼🎉 and symbols ©®™ ← → ∑",
    "a" * 150,
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "[CLS] [SEP] [MASK] <s> </s> <unk> <pad> [UNK]",
    "numbers 3.14159 1,000,000 2024-01-01",
    "\u200b zero\u200bwidth \ufeff bom \x00 nul",
    "e\u0301 combining mark at the start: \u0301x",
    "x",
    "",
]


def _steps_in(step: dict[str, object] | None, allowed: frozenset[str]) -> bool:
    """Whether a normalizer / pre-tokenizer (or each one of a Sequence) is of an allowed type."""
    if step is None:
        return True
    kind = step.get("type")
    if kind == "Sequence":
        inner = step.get("normalizers") or step.get("pretokenizers") or []
        return isinstance(inner, list) and all(_steps_in(s, allowed) for s in inner)
    if kind == "Metaspace":  # "first" prepends to the input's first piece only: joined, that is another piece
        return kind in allowed and step.get("prepend_scheme", "always") in ("always", "never")
    return kind in allowed


class _Ahead(threading.Thread):
    """Runs `work(texts)` in a thread of its own; `result()` waits for it (and raises what it raised)."""

    def __init__(self, work: Callable[[Sequence[str]], _Tokens], texts: Sequence[str]) -> None:
        super().__init__(name="static2d-tokenize", daemon=True)
        self._work, self._texts = work, texts
        self._value: _Tokens | None = None
        self._error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self._value = self._work(self._texts)
        except BaseException as e:  # handed to the caller
            self._error = e

    def result(self) -> _Tokens:
        self.join()
        if self._error is not None:
            raise self._error
        assert self._value is not None  # noqa: S101
        return self._value


def _sum_rows(table: npt.NDArray[np.float32], ids: npt.NDArray[np.intp], dims: int) -> npt.NDArray[np.float32]:
    """Sum of the table rows `ids`, a block at a time."""
    step = max(1, _BLOCK_BYTES // (4 * dims))
    total = np.zeros(dims, dtype=np.float32)
    for p in range(0, len(ids), step):
        total += table[ids[p : p + step]].sum(axis=0)
    return total


def _unk_token_id(tokenizer: Tokenizer) -> int | None:
    """The unknown token's id, which model2vec drops before pooling (as model2vec finds it)."""
    model = tokenizer.model
    if hasattr(model, "unk_token"):
        token = model.unk_token
        return None if token is None else tokenizer.token_to_id(token)
    unk = json.loads(tokenizer.to_str())["model"].get("unk_id")
    return None if unk is None else int(unk)
