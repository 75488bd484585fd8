"""Hugging Face `tokenizers` on many short texts at once: the texts joined by a special token, then split at it.

The tokenizer's per-text work (one input string, one Encoding and one Python object per text) costs about as much
as tokenizing a short sentence itself; joined, it is paid once per group of texts. The special separator is
matched before normalization and cuts the input into pieces that are normalized, pre-tokenized and tokenized
independently, so each text gets the very tokens it gets alone, for tokenizers whose steps look at nothing beyond
their piece. Only such tokenizers (by the types of their steps) are joined, and only once proven on the probe
texts (`exact.proven`); a batch holding the separator itself is tokenized text by text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
from tokenizers import AddedToken, Tokenizer

from static2d._tokens import exact
from static2d._tokens.ids import Tokens, from_rows, truncate


class Joiner:
    """Tokenizes texts joined in groups by a special separator (module docstring).

    Example:
        >>> joiner = Joiner.make(tokenizer)  # None where joining could change a text's tokens  # doctest: +SKIP
        >>> flat, slots = joiner.tokenize(["a text", "another"])  # doctest: +SKIP
    """

    SEPARATOR = "\ue000static2d\ue001"
    GROUP = 64  # texts per joined string
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
        self._alone = Tokenizer.from_str(tokenizer.to_str())
        self._alone.no_padding()

    @classmethod
    def make(cls, tokenizer: Tokenizer) -> Joiner | None:
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
        return joiner if exact.proven(tokenizer, [joiner.tokenize], joiner.max_length) else None

    def tokenize(self, texts: Sequence[str]) -> Tokens:
        """The texts' Tokens, as tokenizing each text alone gives."""
        sep, group = self.SEPARATOR, self.GROUP
        joined = [sep.join(texts[i : i + group]) for i in range(0, len(texts), group)]
        if sum(s.count(sep) for s in joined) != len(texts) - len(joined):  # a text holds the separator
            return from_rows([e.ids for e in self._alone.encode_batch_fast(list(texts), add_special_tokens=False)])
        whole = from_rows([e.ids for e in self.tokenizer.encode_batch_fast(joined, add_special_tokens=False)])
        ids, sizes = whole.ids, whole.lengths
        is_sep = ids == self.sep
        # A token belongs to text (separators before it) + (its group's number), since each group of k texts
        # holds k - 1 separators.
        owner = np.cumsum(is_sep) + np.repeat(np.arange(len(sizes)), sizes)
        keep = ~is_sep
        flat, owner = ids[keep], owner[keep]
        slots = np.bincount(owner, minlength=len(texts)).astype(np.intp)
        return truncate(Tokens(flat, slots), self.max_length, self.keep_end)


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
