"""Tokenize each word once: texts cut at their spaces, each piece's ids looked up in a cache Hugging Face filled.

Mean pooling needs each text's token ids (their multiset, in fact), and most words of a corpus were seen before. So
a text is cut at every space (U+0020) into pieces; each piece's ids come from a dictionary, and only a piece never
seen is tokenized, by the Hugging Face tokenizer itself (a piece after a space with that space in front of it, as
it stands in the text). Everything that happens inside a piece (normalization, accents, CJK, byte fallback,
unknown characters, special tokens) is Hugging Face's own work on that very piece; what this module must be sure
of is only that a space cuts the text's tokens in two: tokens(A + " " + B) == tokens(A) + tokens(" " + B).

That holds for these tokenizer layouts, and only they use the cache (any other: Hugging Face tokenizes the text):

- "drop": the pre-tokenizer splits at whitespace and drops it (BertPreTokenizer, Whitespace, WhitespaceSplit,
  with Punctuation / Digits), after normalizers that work within a character, a combining sequence or a grapheme
  (BertNormalizer, Lowercase, NFC/NFD/NFKC/NFKD, StripAccents, Precompiled, a Replace of a pattern without
  whitespace or of runs of spaces by one). Any model (WordPiece, WordLevel, BPE, Unigram) sees one pre-token at a
  time, so never across the space.
- "space": Metaspace (splitting, so "▁" starts a new pre-token at every space) or GPT-2's ByteLevel regex (a space
  starts a new match before a letter, digit or symbol), after such normalizers. Here a space next to other
  whitespace is not a clean cut (Replace collapses "  " to " ", ByteLevel keeps whitespace runs together), so a
  piece is only used where its normalized form starts and ends with a character that is not whitespace, format,
  control, unassigned or "▁", and normalizing " " + piece gives " " + the normalized piece.
- "none": Llama-2's SentencePiece-style BPE: "▁" prepended and for every space, no pre-tokenizer, so the BPE model
  sees the whole text; it never merges across a space because no vocabulary token has "▁" after another character
  (checked on the vocabulary), and a piece must not start or end with "▁" itself.

In every layout a piece is also refused if it ends with a character that extends the grapheme over the space
(Unicode Grapheme_Cluster_Break=Prepend, and any format or control character), or holds an added token's text
(special tokens are matched before the model): a text with a refused piece is tokenized whole by Hugging Face. The
layout check is then proven on the shared probe texts (`exact.proven`), cold and warm; the tests put every code
point next to a space and inside a word, and random Unicode texts, through every family.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections.abc import Sequence
from itertools import repeat
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tokenizers import Tokenizer

from static2d._static import kernel
from static2d._static.joiner import Joiner
from static2d._tokens import exact
from static2d._tokens.ids import Ids, Tokens, assemble, from_rows, truncate
from static2d._tokens.tokie import FastTokenizer, split

Rule = Literal["drop", "space", "none"]

_NORMALIZERS = frozenset({"BertNormalizer", "Lowercase", "NFC", "NFD", "NFKC", "NFKD", "StripAccents", "Precompiled"})
_DROPPING = frozenset({"BertPreTokenizer", "Whitespace", "WhitespaceSplit"})
_SPLITTERS = _DROPPING | {"Punctuation", "Digits"}
_MODELS = frozenset({"WordPiece", "WordLevel", "BPE", "Unigram"})
_SPACE_RUNS = frozenset({" {2,}", " +"})
# Unicode Grapheme_Cluster_Break=Prepend: such a character joins the next one (a space too) into one grapheme.
_PREPEND = frozenset(
    [*map(chr, range(0x600, 0x606)), "\u06dd", "\u070f", "\u0890", "\u0891", "\u08e2", "\u0d4e"]
    + [chr(c) for c in (0x110BD, 0x110CD, 0x111C2, 0x111C3, 0x1193F, 0x11941, 0x11A3A, 0x11D46, 0x11F02)]
    + [chr(c) for c in range(0x11A84, 0x11A8A)]
)

# A character's classes in `WordCache.classes` (bits), as the kernel reads them (`_kernel.c` refusals).
JUDGED, BASE, MARK, TOUCHES_ADDED, END_REFUSED = 1, 2, 4, 8, 16


def _anchor(token: str) -> str:
    """The one character of an added token looked for (`WordCache._anchor`): a symbol or punctuation if it has one."""
    return next((c for c in token if unicodedata.category(c)[0] in "PS"), token[0])


def _steps(step: dict[str, Any] | None, key: str) -> list[dict[str, Any]] | None:
    """The steps of a normalizer / pre-tokenizer (a Sequence flattened), or None if it is not laid out as JSON."""
    if step is None:
        return []
    if step.get("type") == "Sequence":
        inner = step.get(key)
        if not isinstance(inner, list):
            return None
        out: list[dict[str, Any]] = []
        for s in inner:
            flat = _steps(s, key)
            if flat is None:
                return None
            out += flat
        return out
    return [step]


def _replace_ok(step: dict[str, Any], rule: Rule) -> bool:
    """A Replace that cannot reach over a space: a literal without whitespace, or runs of spaces made one."""
    pattern = step.get("pattern") or {}
    if "String" in pattern:
        text = str(pattern["String"])
        return bool(text) and not any(c.isspace() for c in text)
    return rule in ("drop", "space") and pattern.get("Regex") in _SPACE_RUNS and step.get("content") == " "


def layout(spec: dict[str, Any]) -> Rule | None:  # noqa: PLR0911 - one answer per layout
    """Which layout (module docstring) a tokenizer.json has, or None where a space may not cut its tokens in two."""
    normalizers = _steps(spec.get("normalizer"), "normalizers")
    pre = _steps(spec.get("pre_tokenizer"), "pretokenizers")
    model = spec.get("model") or {}
    kind = model.get("type")
    if normalizers is None or pre is None or kind not in _MODELS:
        return None
    if kind == "BPE" and model.get("dropout") not in (None, 0, 0.0):
        return None
    pre_types = [str(p.get("type")) for p in pre]
    rule: Rule
    metaspace = pre_types == ["Metaspace"] and pre[0].get("split", True) and pre[0].get("replacement", "▁") == "▁"
    byte_level = pre_types == ["ByteLevel"] and pre[0].get("use_regex", True)
    if pre_types and set(pre_types) <= _SPLITTERS and _DROPPING & set(pre_types):
        rule = "drop"
    elif metaspace or byte_level:
        rule = "space"
    elif not pre_types and _llama_like(normalizers, model):
        return "none"
    else:
        return None
    for step in normalizers:
        kind = str(step.get("type"))
        if kind == "Replace":
            if not _replace_ok(step, rule):
                return None
        elif kind not in _NORMALIZERS:
            return None
    return rule


def _llama_like(normalizers: list[dict[str, Any]], model: dict[str, Any]) -> bool:
    """Llama-2's layout: Prepend("▁"), Replace(" " -> "▁"), and a plain BPE.

    With no token that has "▁" after another character, no merge reaches over a space.
    """
    if [n.get("type") for n in normalizers] != ["Prepend", "Replace"]:
        return False
    prepend, replace = normalizers
    if prepend.get("prepend") != "▁" or (replace.get("pattern") or {}).get("String") != " ":
        return False
    if replace.get("content") != "▁" or model.get("type") != "BPE":
        return False
    if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix") or model.get("ignore_merges"):
        return False
    vocab = model.get("vocab") or {}
    return not any("▁" in token.lstrip("▁") for token in vocab)


def _joins_next(c: str) -> bool:
    """A character that may extend its grapheme over a space after it: Prepend, or a format or control character."""
    return c in _PREPEND or unicodedata.category(c) in ("Cc", "Cf")


def _unclean(c: str) -> bool:
    """Whitespace, control, format, unassigned, private use, surrogate, or "▁": not a clean edge of a piece."""
    return c == "▁" or c.isspace() or unicodedata.category(c)[0] in "CZ"


class WordCache:
    """Token ids of texts through a cache of the ids of each piece between spaces (module docstring).

    Thread-safe. Where the compiled kernel is on, the pieces live in its table (`_kernel.c` Pieces): texts are cut
    and looked up there with the GIL released, under the table's read lock; pieces never seen are tokenized here,
    by each worker for its own texts (no lock), and inserted under the table's write lock. Else (and for a text
    that is not valid UTF-8) the dictionaries below serve, read and filled under a lock.

    Example:
        >>> cache = WordCache.make(tokenizer)  # None where a space may not cut the tokens  # doctest: +SKIP
        >>> flat, slots = cache.tokenize(["a text", "another text"])  # doctest: +SKIP
    """

    # At most this many pieces are kept (then the cache starts afresh): about 100 MB at the most.
    MAX_PIECES = 1 << 19

    def __init__(
        self, tokenizer: Tokenizer, rule: Rule, spec: dict[str, Any], tokie: FastTokenizer | None = None
    ) -> None:
        truncation = tokenizer.truncation
        self.max_length: int | None = None if truncation is None else int(truncation["max_length"])
        self.keep_end = truncation is not None and truncation.get("direction") == "left"
        self.rule = rule
        self._hf = _untruncated(tokenizer)
        # New pieces are tokenized many to a string where that is proven to give each its own tokens (joiner.py),
        # those of printable ASCII by tokie where it is proven for this tokenizer (without its truncation).
        self._joiner = Joiner.make(self._hf)
        self.tokie = tokie
        normalizer = self._hf.normalizer
        self._normalize = normalizer.normalize_str if normalizer is not None else None
        # The piece after a space is tokenized with that space (Llama's normalizer puts a "▁" before every piece).
        self._prefix = "" if rule == "none" else " "
        # Whether the first piece of a text gets the ids it gets after a space (then one dictionary serves both).
        pre = spec.get("pre_tokenizer") or {}
        if pre.get("type") == "Metaspace":
            legacy = "always" if pre.get("add_prefix_space", True) else "never"  # before prepend_scheme
            self._uniform = pre.get("prepend_scheme", legacy) in ("always", "first")
        elif pre.get("type") == "ByteLevel":
            self._uniform = bool(pre.get("add_prefix_space", True))
        else:
            self._uniform = True
        # Where the normalizer maps each printable-ASCII character to one such character (not a space) and a space
        # to a space, looking a piece by character (no Replace of a literal, which may match several), a piece of
        # printable ASCII needs no normalizing to be judged: its ends are clean and " " + piece normalizes as
        # " " + its normalized form (module docstring).
        self._plain_ascii = self._normalize is None or self._ascii_is_plain(spec)
        # Where the normalizer works character by character on letters, digits, punctuation and symbols that stand
        # alone (their own grapheme, composing with nothing), a piece of such characters is normalized by looking
        # up each one's normalized form (worked out once a character, by the normalizer itself).
        steps = _steps(spec.get("normalizer"), "normalizers") or []
        self._literal_replace = any(
            step.get("type") == "Replace" and "String" in (step.get("pattern") or {}) for step in steps
        )
        self._per_char = not self._literal_replace and (self._normalize is None or self._normalize(" ") == " ")
        contents = [str(t.get("content", "")) for t in spec.get("added_tokens") or []]
        self._added = re.compile("|".join(map(re.escape, contents)), re.IGNORECASE) if contents else None
        # An added token's text can only be in a piece's normalized form where one of its characters is: one
        # character of each (a symbol where it has one) is looked for in each character and its normalized form.
        anchors = {_anchor(t) for t in contents if t}
        self._anchor = re.compile("[" + re.escape("".join(sorted(anchors))) + "]", re.IGNORECASE) if anchors else None
        # Marks join a piece's clusters (`_by_clusters`) where no such character is one a mark could compose into
        # (not ASCII), and, under Precompiled (which maps a grapheme of under 6 bytes as a whole), only in clusters
        # of 6 UTF-8 bytes or more (`_wide_clusters`).
        self._marks = self._per_char and all(a.isascii() for a in anchors)
        self._wide_marks = any(step.get("type") == "Precompiled" for step in steps)
        # Each character judged so far (`_judge`): its classes (CLASSES), by code point, read by the kernel too; and
        # the characters that may start a piece (`_bases`) or be in one (`_clean`) of `_by_clusters`.
        self.classes = np.zeros(0x110000, dtype=np.uint8)
        self._judged: set[str] = set()
        self._bases: set[str] = set()
        self._clean: set[str] = set()
        self._lock = threading.Lock()
        # The compiled table of pieces (`_kernel.c` Pieces), made on first use where the kernel is on; the Python
        # dictionaries below serve where it is off (and a text that is not valid UTF-8).
        self._native: Any = None
        self._making = threading.Lock()  # the compiled table is made once
        # How many texts this cache was given, and how many of them Hugging Face tokenized whole.
        self.texts = 0
        self.texts_whole = 0
        self._reset()

    @classmethod
    def make(cls, tokenizer: Tokenizer, tokie_path: str | Path | None = None) -> WordCache | None:
        """A word cache for `tokenizer` (with the truncation the model uses set on it), or None where not proven.

        None where its layout is not one where a space cuts the tokens in two, an added token holds whitespace,
        or a probe text disagrees. `tokie_path`: the tokenizer.json tokie may read to tokenize new pieces of
        printable ASCII (where tokie is proven for it), or None.
        """
        spec = json.loads(tokenizer.to_str())
        rule = layout(spec)
        if rule is None:
            return None
        for token in spec.get("added_tokens") or []:
            content = str(token.get("content", ""))
            if not content or any(c.isspace() for c in content):
                return None  # it could span a space: matched before the text is cut
        tokie = None
        if tokie_path is not None:  # one tokie (proven without the model's truncation: pieces are not cut)
            tokie = FastTokenizer.make(_untruncated(tokenizer), tokie_path)
        cache = cls(tokenizer, rule, spec, tokie)
        fresh = cls(tokenizer, rule, spec, tokie)
        # cold (every piece new), then warm (every piece from the cache), then text by text
        ways = [cache.tokenize, cache.tokenize, lambda texts: _one_by_one(fresh, texts)]
        if not exact.proven(tokenizer, ways, cache.max_length):
            return None
        cache.texts = cache.texts_whole = 0
        return cache

    def _ascii_is_plain(self, spec: dict[str, Any]) -> bool:
        steps = _steps(spec.get("normalizer"), "normalizers") or []
        if any(step.get("type") == "Replace" and "String" in (step.get("pattern") or {}) for step in steps):
            return False
        assert self._normalize is not None  # noqa: S101 - called where there is a normalizer
        normalize = self._normalize
        printable = [chr(c) for c in range(0x21, 0x7F)]
        mapped = [normalize(c) for c in printable]
        plain = all(len(m) == 1 and m.isascii() and m.isprintable() and m != " " for m in mapped)
        return plain and normalize(" ") == " " and normalize("".join(printable)) == "".join(mapped)

    def _reset(self) -> None:
        self._later: dict[str, int] = {}  # piece after a space (every piece, where uniform) -> its number
        self._first: dict[str, int] = {}  # first piece of a text, where that differs
        self._starts = np.zeros(1024, dtype=np.intp)  # each piece's ids: _ids[_starts[w] : _starts[w] + _lengths[w]]
        self._lengths = np.zeros(1024, dtype=np.intp)
        self._unsafe = np.zeros(1024, dtype=bool)  # a text holding this piece is tokenized whole
        self._ids = np.zeros(1 << 14, dtype=np.intp)
        self._pieces = 0
        self._filled = 0

    def tokenize(self, texts: Sequence[str]) -> Tokens:
        """The texts' Tokens exactly as the Hugging Face tokenizer gives them, with its truncation."""
        n = len(texts)
        if n == 0:
            return Tokens(np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp))
        if kernel.native() is not None:
            tokens = self._tokenize_native(texts)
            if tokens is not None:
                return tokens
        # every text's pieces, in order, from one split (a text of k spaces has k + 1 pieces)
        counts = np.fromiter(map(str.count, texts, repeat(" ")), dtype=np.intp, count=n) + 1
        pieces = " ".join(texts).split(" ")
        first_at = np.cumsum(counts) - counts
        whole = None
        with self._lock:
            words = self._look_up(pieces, first_at)
            if words is None:  # the cache was full: start afresh, and look up again (everything is new now)
                self._reset()
                words = self._look_up(pieces, first_at, full_ok=True)
                assert words is not None  # noqa: S101 - with full_ok
            lengths = self._lengths[words]
            starts = self._starts[words]
            unsafe = self._unsafe[words]
            if unsafe.any():  # those texts are left out here (no tokens), and tokenized whole below
                owner = np.repeat(np.arange(n), counts)
                whole = np.zeros(n, dtype=bool)
                whole[owner[unsafe]] = True
                lengths = np.where(whole[owner], 0, lengths)
            total = int(lengths.sum())
            shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
            flat = self._ids[shift + np.arange(total)]
            self.texts += n
            self.texts_whole += 0 if whole is None else int(whole.sum())
        slots = np.add.reduceat(lengths, first_at)
        where = np.zeros(0, dtype=np.intp) if whole is None else np.flatnonzero(whole)
        return self._finish(texts, Tokens(flat, slots), where)

    def _tokenize_native(self, texts: Sequence[str]) -> Tokens | None:
        """`tokenize` through the compiled table: the texts cut and their pieces found with the GIL released.

        One pass finds the ids of every text whose pieces are all known; the pieces not found are tokenized here as
        `_look_up` does (the same checks, one batched Hugging Face call, outside the table's lock) and inserted, and
        only the texts that held them are looked up again. None (the dictionaries then serve) for a text that is not
        valid UTF-8, or if other calls kept emptying the table meanwhile.
        """
        if self._native is None:  # made on first use
            with self._making:
                if self._native is None:
                    native = kernel.native()
                    assert native is not None  # noqa: S101 - called where the kernel is on
                    self._native = native.Pieces()
        n = len(texts)
        parts: list[tuple[Ids, Tokens]] = []
        wholes: list[Ids] = []
        todo, rows = texts, np.arange(n)
        for _ in range(4):
            try:
                flat, slots, whole, pending, missed, firsts = self._native.look_up(todo, self._uniform)
            except UnicodeEncodeError:
                return None
            pending_at = _int64s(pending)
            done = np.ones(len(rows), dtype=bool)
            done[pending_at] = False
            parts.append((rows[done], Tokens(_int64s(flat), _int64s(slots)[done])))
            wholes.append(rows[_int64s(whole)])
            if not pending_at.size:
                break
            self._insert_new(missed, firsts)
            todo, rows = [todo[i] for i in pending_at.tolist()], rows[pending_at]
        else:
            return None
        where = np.sort(np.concatenate(wholes))
        self.texts += n
        self.texts_whole += where.size
        return self._finish(texts, assemble(n, parts), where)

    def _finish(self, texts: Sequence[str], tokens: Tokens, where: Ids) -> Tokens:
        """`tokens` (no ids for the texts `where`) with the texts `where` tokenized whole, truncated.

        Those texts hold a piece that may not be cut off at its spaces: Hugging Face tokenizes each of them whole.
        """
        if where.size:
            n = len(texts)
            encoded = self._hf.encode_batch_fast([texts[i] for i in where.tolist()], add_special_tokens=False)
            mine = np.setdiff1d(np.arange(n), where, assume_unique=True)
            own = Tokens(tokens.ids, tokens.lengths[mine])  # the texts tokenized whole have no ids here
            tokens = assemble(n, [(mine, own), (where, from_rows([e.ids for e in encoded]))])
        return truncate(tokens, self.max_length, self.keep_end)

    def _insert_new(self, missed: list[str], firsts: list[bool]) -> None:
        """Tokenize pieces not in the compiled table (one batched Hugging Face call) and insert them.

        Workers do this at the same time, each for its own texts' new pieces (no lock: a worker never waits for
        another's Hugging Face call); a piece two of them found new is inserted once (`insert` skips it the second
        time: the same ids).
        """
        inputs = [piece if first else self._prefix + piece for piece, first in zip(missed, firsts, strict=True)]
        tokens = self._tokenize_new(inputs)
        self._native.insert(
            missed,
            firsts,
            tokens.ids.astype(np.int64),
            tokens.lengths.astype(np.int64),
            self._refusals(missed),
            self.MAX_PIECES,
        )

    def _tokenize_new(self, inputs: list[str]) -> Tokens:
        """The ids of new pieces, each as it is tokenized alone.

        tokie for those of printable ASCII where it is proven, the others joined (`joiner.py`) or one by one by
        Hugging Face.
        """
        if self.tokie is not None:
            return split(inputs, self.tokie.tokenize, self._tokenize_new_exactly)
        return self._tokenize_new_exactly(inputs)

    def _tokenize_new_exactly(self, inputs: Sequence[str]) -> Tokens:
        if self._joiner is not None and len(inputs) > 1:
            return self._joiner.tokenize(inputs)
        return from_rows([e.ids for e in self._hf.encode_batch_fast(list(inputs), add_special_tokens=False)])

    def _look_up(self, pieces: list[str], first_at: Ids, full_ok: bool = False) -> Ids | None:
        """Each piece's number in the cache (pieces never seen are tokenized and added).

        None if the new pieces would fill the cache past MAX_PIECES, unless `full_ok` (one call's pieces, alone).
        """
        words = np.fromiter(map(self._later.get, pieces, repeat(-1)), dtype=np.intp, count=len(pieces))
        if not self._uniform:
            firsts = [pieces[i] for i in first_at.tolist()]
            words[first_at] = np.fromiter(map(self._first.get, firsts, repeat(-1)), dtype=np.intp, count=len(firsts))
        missing = np.flatnonzero(words < 0)
        if missing.size == 0:
            return words
        if self._uniform:
            missed = list(map(pieces.__getitem__, missing.tolist()))
            new = list(zip(dict.fromkeys(missed), repeat(False)))
        else:
            at_start = set(first_at.tolist())
            new = list(dict.fromkeys((pieces[i], i in at_start) for i in missing.tolist()))
        if self._pieces + len(new) > self.MAX_PIECES and not full_ok:
            return None
        self._add(new, self._tokenize_new([piece if first else self._prefix + piece for piece, first in new]))
        later, starting = self._later, self._first
        if self._uniform:
            words[missing] = np.fromiter(map(later.__getitem__, missed), np.intp, count=len(missed))
        else:
            words[missing] = [starting[pieces[i]] if i in at_start else later[pieces[i]] for i in missing.tolist()]
        return words

    def _add(self, new: list[tuple[str, bool]], tokens: Tokens) -> None:
        """Store the ids of new pieces (growing the arrays as needed)."""
        size = self._pieces + len(new)
        if size > self._starts.size:
            grown = max(size, 2 * self._starts.size)
            self._starts = np.resize(self._starts, grown)
            self._lengths = np.resize(self._lengths, grown)
            self._unsafe = np.resize(self._unsafe, grown)
        flat, lengths = tokens.ids, tokens.lengths
        total = self._filled + flat.size
        if total > self._ids.size:
            self._ids = np.resize(self._ids, max(total, 2 * self._ids.size))
        self._ids[self._filled : total] = flat
        numbers = range(self._pieces, size)
        self._starts[numbers.start : numbers.stop] = self._filled + np.cumsum(lengths) - lengths
        self._lengths[numbers.start : numbers.stop] = lengths
        self._unsafe[numbers.start : numbers.stop] = self._refusals([piece for piece, _ in new])
        for number, (piece, first) in zip(numbers, new, strict=True):
            (self._first if first else self._later)[piece] = number
        self._pieces, self._filled = size, total

    def _refusals(self, pieces: list[str]) -> Sequence[int]:
        """`_refused` of each piece: by the kernel where it is built, from the characters' classes, else in Python.

        The added tokens are looked for in all the pieces at once, first (no added token holds a newline: `make`); the
        pieces the kernel leaves to Python (2: a character not judged yet, or a check only the normalizer makes),
        and those holding an added token's text, are `_refused` here, which judges their new characters.
        """
        added = self._added
        hits = [m.start() for m in added.finditer("\n".join(pieces))] if added is not None else []
        if not hits:
            added = None
        if kernel.native() is None:
            return [self._refused(piece, added) for piece in pieces]
        verdicts = bytearray(self._kernel_refusals(pieces))
        ask = np.frombuffer(verdicts, dtype=np.uint8) == 2
        if hits:  # the piece each match is in
            ask[np.searchsorted(np.cumsum([len(p) + 1 for p in pieces]), hits, side="right")] = True
        for i in np.flatnonzero(ask).tolist():
            verdicts[i] = self._refused(pieces[i], added)
        return verdicts

    def _kernel_refusals(self, pieces: list[str]) -> bytes:
        """The kernel's answer for each piece (`_kernel.c` refusals): 0 safe, 1 refused, 2 left to `_refused`."""
        native = kernel.native()
        assert native is not None  # noqa: S101 - called where the kernel is on
        rule = ("drop", "space", "none").index(self.rule)
        flags = (self._plain_ascii, self._per_char, self._wide_marks)
        verdicts: bytes = native.refusals(pieces, self.classes, rule, *flags)
        return verdicts

    def _refused(self, piece: str, added: re.Pattern[str] | None) -> bool:  # noqa: PLR0911 - one answer per reason
        """Whether a text holding this piece must be tokenized whole (module docstring).

        `added` finds added tokens' text in the piece (None where it holds none); its normalized form is looked at
        here.
        """
        if added is not None and added.search(piece):
            return True
        if not piece:
            return self.rule != "drop"  # two spaces in a row, or a space at an end
        if self._plain_ascii and self.rule != "none" and piece.isascii() and piece.isprintable():
            return False
        last = piece[-1]
        if last not in self._judged:  # judged here, so the kernel finds it next time
            self._judge(last)
        if self.classes[ord(last)] & END_REFUSED:
            return True
        if self.rule == "none":
            return piece[0] == "▁" or piece[-1] == "▁"
        if self._per_char and self._by_clusters(piece):
            return False
        normalize = self._normalize
        if normalize is None:
            alone, spaced = piece, " " + piece
        else:
            alone, spaced = normalize(piece), normalize(" " + piece)
            if self._added is not None and self._added.search(alone):
                return True
        if spaced != " " + alone:
            return True
        if self.rule == "drop":
            return bool(alone) and _joins_next(alone[-1])
        return not alone or _unclean(alone[0]) or _unclean(alone[-1]) or alone[-1] in _PREPEND

    def _by_clusters(self, piece: str) -> bool:
        """Whether a piece is known safe from its characters' classes alone (the kernel decides this too).

        That is where it starts with a base (`_judge`) and each of its characters is a base or a mark, none holding
        an added token's character: each base with the marks after it is a cluster the normalizer works within
        (a base starts a grapheme and composes with nothing before it; only marks compose with what precedes
        them, and only marks reorder), so the space before the piece stays a space and its normalized form starts
        and ends clean, as `_refused` requires.
        """
        chars = set(piece)
        for c in chars.difference(self._judged):
            self._judge(c)
        if not self._clean.issuperset(chars) or piece[0] not in self._bases:
            return False
        return not self._wide_marks or self._bases.issuperset(chars) or _wide_clusters(piece, self._bases)

    def _judge(self, c: str) -> None:
        """Work out a character's classes (CLASSES) once, with the normalizer itself, and record them.

        A base is a letter, digit, punctuation or symbol that is its own grapheme and composes with nothing before
        it (no mark, no Hangul jamo, no regional indicator or emoji modifier, no Prepend or spacing-mark letter),
        whose normalized form has clean ends ("drop": does not end with a format or control character). A mark
        (where `_marks`) is a combining mark whose normalized form holds nothing unclean. Either one holding an
        added token's character (itself or in its normalized form) is marked so, and is in no piece decided here.
        """
        code = ord(c)
        category = unicodedata.category(c)
        bits = JUDGED | (END_REFUSED if _joins_next(c) else 0)
        normalize = self._normalize or str
        form = ""
        if category[0] in "LNPS" and c not in _PREPEND and c not in "▁\u0e33\u0eb3" and not _composes(code):
            form = normalize(c)
            if self.rule == "drop":
                ok = not form or not _joins_next(form[-1])
            else:
                ok = bool(form) and not _unclean(form[0]) and not _unclean(form[-1]) and form[-1] not in _PREPEND
            bits |= BASE if ok else 0
        elif category[0] == "M" and self._marks:
            form = normalize(c)
            bits |= MARK if not any(_unclean(x) or x in _PREPEND for x in form) else 0
        if bits & (BASE | MARK) and self._anchor is not None and self._anchor.search(c + form):
            bits |= TOUCHES_ADDED
        # the sets first, then the table: the kernel reads the table without the GIL, and a character it finds
        # judged is one Python knows too
        if bits & (BASE | MARK) and not bits & TOUCHES_ADDED:
            self._clean.add(c)
            if bits & BASE:
                self._bases.add(c)
        self._judged.add(c)
        self.classes[code] = bits


def _wide_clusters(piece: str, bases: set[str]) -> bool:
    """Whether each base of the piece with the marks after it, where it has any, is 6 UTF-8 bytes or more.

    Precompiled maps a grapheme of under 6 bytes as a whole (its character map may hold such a sequence), a longer
    one character by character.
    """
    marked, size = False, 0
    for c in piece:
        code = ord(c)
        width = 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
        if c in bases:
            if marked and size < 6:
                return False
            marked, size = False, width
        else:
            marked, size = True, size + width
    return not (marked and size < 6)


def _composes(code: int) -> bool:
    """Characters that join a neighbour into one grapheme or compose with it.

    Hangul jamo (conjoining, compatibility, halfwidth), regional indicators, emoji modifiers, halfwidth voiced marks.
    """
    return (
        0x1100 <= code <= 0x11FF
        or 0x3130 <= code <= 0x318F
        or 0xA960 <= code <= 0xA97F
        or 0xD7B0 <= code <= 0xD7FF
        or 0xFFA0 <= code <= 0xFFDC
        or 0x1F1E6 <= code <= 0x1F1FF
        or 0x1F3FB <= code <= 0x1F3FF
        or code in (0xFF9E, 0xFF9F)
    )


def _one_by_one(cache: WordCache, texts: Sequence[str]) -> Tokens:
    """Text by text, each in a call of its own: a text must get the same ids alone as in a batch."""
    parts = [cache.tokenize([t]) for t in texts]
    flat = np.concatenate([np.zeros(0, np.intp), *(p.ids for p in parts)])
    return Tokens(flat, np.array([int(p.lengths[0]) for p in parts], dtype=np.intp))


def _int64s(buffer: bytes) -> Ids:
    """The int64 array the compiled table hands back as bytes, as ids."""
    return np.frombuffer(buffer, dtype=np.int64).astype(np.intp, copy=False)


def _untruncated(tokenizer: Tokenizer) -> Tokenizer:
    """A copy of `tokenizer` without truncation or padding (a piece is tokenized whole, alone)."""
    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.no_truncation()
    copy.no_padding()
    return copy
