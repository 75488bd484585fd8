"""Fast exact tokenization: `tokie`, for the tokenizers where it is proven to give Hugging Face's very ids.

Measured on the tokenizer families `tokenizers` trains (docs/usage.md: "Static models: past the tokenizer's ceiling"),
`tokie` gives the same ids as
`Tokenizer.encode_batch_fast(..., add_special_tokens=False)` for WordPiece models with the BERT normalizer and
pre-tokenizer (cased and uncased) and for byte-level BPE, 10x-30x faster; it differs for Unigram + Metaspace + NFKC
(on a few accented / emoji texts) and for BPE with a Lowercase normalizer (on nearly every text), and cannot read a
WordLevel tokenizer. So a tokenizer is routed here only when its model and every normalizer / pre-tokenizer step are
of a kind proven exact, and only after both libraries agree on awkward probe texts at load; everything else (or
tokie not installed) stays with Hugging Face `tokenizers`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

# (model type, allowed normalizer steps, allowed pre-tokenizer steps): the pipelines proven exact.
_EXACT: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = (
    ("WordPiece", frozenset({"BertNormalizer"}), frozenset({"BertPreTokenizer"})),
    ("BPE", frozenset(), frozenset({"ByteLevel"})),
)

# Up to this many texts are tokenized text by text (tokie's threads cost more than they save on a few texts).
_FEW = 32

# Texts both tokenizers must cut into the very same ids before the fast one is used.
PROBES = [
    "",
    " ",
    "Hello, world!",
    "A man is playing a large flute.",
    "  leading and trailing spaces  ",
    "\tTabs\nand\r\nnewlines\n",
    "Ünïcödé àccents, ß and ﬁ ligatures; Straße ÉCOLE Œuvre ǅ İstanbul ½ ² Ⅻ",
    "中文字符 and 日本語 mixed with English",
    "\uff26\uff35\uff2c\uff2c\uff37\uff29\uff24\uff34\uff28 \uff76\uff80\uff76\uff85 \uff11\uff12\uff13",
    "emoji 🐼🎉 👨\u200d👩\u200d👧 🇫🇷 and symbols ©®™ ← → ∑",
    "Привет мир, مرحبا بالعالم, שלום, नमस्ते",
    "a" * 150,
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "[CLS] [SEP] [MASK] <s> </s> <unk> <pad> [UNK] <|endoftext|>",
    "numbers 3.14159 1,000,000 2024-01-01 don't can't",
    "\u200b zero\u200bwidth \ufeff bom \x00 nul \x7f del x\u00a0y\u2003z",
    "e\u0301 combining mark at the start: \u0301x",
    "x",
]


class FastTokenizer:
    """`tokie` reading the model's tokenizer.json, with the Hugging Face tokenizer's truncation.

    Example:
        >>> from tokenizers import Tokenizer
        >>> hf = Tokenizer.from_file("tokenizer.json")  # doctest: +SKIP
        >>> fast = FastTokenizer.make(hf, "tokenizer.json")  # None unless proven exact  # doctest: +SKIP
        >>> flat, slots = fast.tokenize(["a text", "another"])  # doctest: +SKIP
    """

    def __init__(self, tokenizer: Any, max_length: int | None, direction: str) -> None:  # noqa: ANN401 - tokie's
        self._tokenizer = tokenizer
        self.max_length = max_length
        self.direction = direction

    @classmethod
    def make(cls, tokenizer: Tokenizer, path: str | Path) -> FastTokenizer | None:
        """A fast tokenizer giving `tokenizer`'s ids for every text, or None where that is not proven.

        Args:
            tokenizer: The Hugging Face tokenizer, with the truncation the model uses set on it.
            path: The tokenizer.json it was read from (tokie reads the same file).

        Returns:
            The fast tokenizer, or None when tokie is not installed, the pipeline is not of a kind proven exact,
            or the two disagree on a probe text.
        """
        if not supported(json.loads(tokenizer.to_str())):
            return None
        try:
            import tokie
        except ImportError:
            return None
        try:
            fast = tokie.Tokenizer.from_json(str(path))
        except (tokie.TokieError, OSError, ValueError):  # a format tokie cannot read: Hugging Face reads it
            return None
        fast.no_padding()
        truncation = tokenizer.truncation
        if truncation is None:
            fast.no_truncation()
            made = cls(fast, None, "right")
        else:
            direction = str(truncation.get("direction", "right"))
            fast.enable_truncation(int(truncation["max_length"]), direction=direction)
            made = cls(fast, int(truncation["max_length"]), direction)
        probes = [*PROBES, "word " * ((made.max_length or 0) + 3), "\n".join(PROBES)]
        expected = [e.ids for e in tokenizer.encode_batch_fast(probes, add_special_tokens=False)]
        flat_ids = [i for ids in expected for i in ids]
        lengths = [len(ids) for ids in expected]
        for way in (made._flat, made._each):  # both ways tokenize() may take
            flat, slots = way(probes)
            if flat.tolist() != flat_ids or slots.tolist() != lengths:
                return None
        return made

    def tokenize(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """(flat ids of all the texts, tokens per text), as Hugging Face gives them without special tokens."""
        return self._each(texts) if len(texts) <= _FEW else self._flat(texts)

    def _flat(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """All texts in one call, tokenized by tokie's own threads."""
        ids, lengths = self._tokenizer.encode_batch_flat(list(texts), add_special_tokens=False)
        return ids.astype(np.intp), lengths.astype(np.intp)

    def _each(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """Text by text in this thread: for a few texts, less work than waking tokie's threads."""
        rows = [self._tokenizer.encode(t, add_special_tokens=False).ids for t in texts]
        lengths = np.fromiter(map(len, rows), dtype=np.intp, count=len(rows))
        return np.fromiter(chain.from_iterable(rows), dtype=np.intp, count=int(lengths.sum())), lengths


def supported(spec: dict[str, Any]) -> bool:
    """Whether a tokenizer.json's model, normalizer and pre-tokenizer are of a kind proven exact with tokie."""
    model = (spec.get("model") or {}).get("type")
    for kind, normalizers, pre_tokenizers in _EXACT:
        steps_ok = _steps(spec.get("normalizer")) <= normalizers and _steps(spec.get("pre_tokenizer")) <= pre_tokenizers
        if model == kind and steps_ok:
            return True
    return False


def _steps(step: dict[str, Any] | None) -> set[str]:
    """The types of a normalizer / pre-tokenizer (each step of a Sequence)."""
    if step is None:
        return set()
    if step.get("type") == "Sequence":
        inner = step.get("normalizers") or step.get("pretokenizers") or []
        return set().union(*(_steps(s) for s in inner)) if isinstance(inner, list) else {"Sequence"}
    return {str(step.get("type"))}
