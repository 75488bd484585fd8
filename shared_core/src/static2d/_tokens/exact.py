# ruff: noqa: RUF001 - probe texts in many scripts, look-alike characters on purpose
"""The one check that a faster tokenizer gives Hugging Face `tokenizers`' very ids, and the one list of probe texts.

`same` is the one comparison of two `Tokens` (ids, tokens per text, token type ids): the static paths' check
against Hugging Face (`agrees`) and the transformer's against sentence-transformers both use it.

Every faster path (tokie for plain ASCII text, the word cache, texts joined by a separator) is built for a
tokenizer only where its kind is argued exact (each says why in its own module) and then must agree with the
Hugging Face tokenizer, with the model's truncation, on every probe text below, in every way it may run (cold and
warm, text by text and in one call). A path that disagrees on a single probe is not used: Hugging Face tokenizes.

The probes are awkward on purpose and not only English: CJK (with Extension B-H ideographs), Arabic and Hebrew
with marks, Telugu, Devanagari, Thai, Korean, combining marks alone and stacked, format characters (zero-width
joiner and non-joiner, bidi marks, soft hyphen, byte-order mark, Arabic number sign), C0 controls and DEL,
unassigned and private-use code points, whitespace of every kind alone and next to spaces, the "▁" SentencePiece
uses, the special tokens of common models, very long words, and every pair of printable ASCII characters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import resources

import numpy as np
from tokenizers import Tokenizer

from static2d._tokens.ids import Tokens, from_rows

_WORDS = (
    "Hello, world! A man is playing a large flute. don't can't I'm we've they'll she'd it's JOHN'S",
    "Ünïcödé àccents, ß and ﬁ ligatures; Straße ÉCOLE Œuvre ǅ İstanbul ½ ² Ⅻ ﬀ ﬂow ǆ",
    "中文字符 and 日本語 mixed with English; 東京は日本の首都です。 한국어 문장입니다. ｶﾀｶﾅ",
    "CJK Extension ideographs: 㐀 䶵 𠀀 𪛖 𪜀 𫝀 𫠠 𬺰 𰀀 𱍐 𲎯 丽 and 𠀀x x𠀀x",
    "\uff26\uff35\uff2c\uff2c\uff37\uff29\uff24\uff34\uff28 \uff76\uff80\uff76\uff85 \uff11\uff12\uff13\u3000全角",
    "emoji 🐼🎉 👨\u200d👩\u200d👧 🇫🇷 👍🏽 ❤️ and symbols ©®™ ← → ∑ ∞ ♥",
    "Привет мир, Ёлка, Ґанок; Ελληνικά ΟΔΟΣ σοφός; Հայերեն; ქართული",
    "مرحبا بالعالم، اللُّغَةُ العَرَبِيَّةُ ﷺ ٱلْحَمْدُ ١٢٣ \u0600١٢ \u06dd٣; שָׁלוֹם עֲלֵיכֶם; روباه قهوه\u200cای",
    "नमस्ते दुनिया क्षत्रिय; তেলুగు: తెలుగు భాష ౘౙ ౚ; தமிழ்; বাংলা; ไทยภาษา กรุงเทพฯ; ភាសាខ្មែរ; ኢትዮጵያ",
    "Tiếng Việt có dấu: Hà Nội, Nguyễn; Yorùbá: ọmọ, E\u0301 ku\u0300; Ọ̀ṣẹ́",
    "e\u0301 combining at the start: \u0301x and x \u0301 y and stacked a\u0301\u0302\u0303\u0323 \u20dd\u0489",
    "\u200b zero\u200bwidth \ufeff bom \u00ad soft\u00adhyphen \u200e\u200f bidi\u202ebidi\u202c \u2060 \u2061 \u180e",
    "controls \x00 nul \x01 \x1b esc \x7f del hello\x7fworld x\x85y \x1c\x1d\x1e\x1f a\u2028b\u2029c",
    "unassigned \u0378 \u0380 \u0530 \u05ff \u0ffe \U0002fffe \U000e0080 x\u0378y \ufffe \uffff",
    "private use \ue000 x\ue001y \U000f0000 \U0010fffd",
    "spaces: a  b   c\td\ne\r\nf\u00a0g\u2003h\u3000i\u202fj \u00a0 k \t l \n m \u205f n \u1680 o",
    "sentencepiece ▁ marks: ▁hello ▁▁ x▁ ▁x▁ a ▁ b",
    "[CLS] [SEP] [MASK] [PAD] [UNK] <s> </s> <unk> <pad> <mask> <|endoftext|> <0x41> ##ing Ġthe",
    "numbers 3.14159 1,000,000 2024-01-01 ²³ ⅔ ① ٣ ۴ ५ ๕ 〇 1st 2nd 10x",
    "supercalifragilisticexpialidocious antidisestablishmentarianism Donaudampfschifffahrtsgesellschaftskapitän",
    "a" * 150,
    "MiXeD cAsE wOrDs AND UPPER lower; ǅungla Ǉ ǈ ǉ; ΣΊΣΥΦΟΣ; İIıi; ﬃ ﬄ ẞ",
    "https://example.org/path?q=1&r=2#frag user@example.com #tag @name $100 50% €12,50 C++ C# .NET",
    "  leading and trailing spaces  ",
    "\tTabs\nand\r\nnewlines\n",
    "\u00a0\u3000 no-break and ideographic spaces at both ends \u2003\n",
    "query: what is the capital of France?",
)
_CALIBRATION_LINES = 64  # lines of static2d's calibration text among the probes (ordinary English)
# Each text alone, and a few that put the words next to each other in other ways.
_EDGES = ("", " ", "  ", "\t", "\n", "x", " x", "x ", " x ", "x  y", "▁", " ▁ ", "\u0301", " \u0301", "\u0600 x")


def _ascii_pairs() -> list[str]:
    """Every ordered pair of printable ASCII characters, next to each other in some text (a de Bruijn sequence)."""
    k = 95
    sequence: list[int] = []
    a = [0] * (2 * k)

    def walk(t: int, p: int) -> None:  # the standard recursive construction, order 2
        if t > 2:
            if 2 % p == 0:
                sequence.extend(a[1 : p + 1])
            return
        a[t] = a[t - p]
        walk(t + 1, p)
        for j in range(a[t - p] + 1, k):
            a[t] = j
            walk(t + 1, t)

    walk(1, 1)
    text = "".join(chr(32 + c) for c in sequence)
    text += text[0]  # the sequence is cyclic: the last pair wraps around
    return [text[i : i + 301] for i in range(0, len(text) - 1, 300)]


PROBES: tuple[str, ...] = (*_WORDS, *_EDGES, *_ascii_pairs())
"""The probe texts every fast tokenizer path must tokenize exactly as Hugging Face does (see `probe_texts`)."""


def probe_texts(max_length: int | None) -> list[str]:
    """The probes for a tokenizer that keeps `max_length` tokens.

    `PROBES`, ordinary English (lines of static2d's calibration text), texts longer than `max_length` tokens (or
    than 512 where there is no limit), and the probes joined into one long text (by newlines and by spaces).
    """
    text = resources.files("static2d").joinpath("calibration.txt").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    past = (max_length or 512) + 3
    long = ["word " * past, "Straße " * past]
    return [*PROBES, *lines[:_CALIBRATION_LINES], *long, "\n".join(_WORDS), " ".join(_WORDS)]


def same(a: Tokens, b: Tokens) -> bool:
    """Whether two Tokens are the very same: ids, tokens per text, and token type ids (or neither has them)."""
    if (a.type_ids is None) != (b.type_ids is None):
        return False
    same_types = a.type_ids is None or bool(np.array_equal(a.type_ids, b.type_ids))  # type: ignore[arg-type]
    return bool(np.array_equal(a.lengths, b.lengths)) and bool(np.array_equal(a.ids, b.ids)) and same_types


def agrees(reference: Tokenizer, candidate: Callable[[Sequence[str]], Tokens], texts: Sequence[str]) -> bool:
    """Whether `candidate` gives `reference`'s ids (without special tokens, with its truncation) for `texts`."""
    expected = reference.encode_batch_fast(list(texts), add_special_tokens=False)
    return same(candidate(texts), from_rows([e.ids for e in expected]))


def proven(
    reference: Tokenizer,
    ways: Sequence[Callable[[Sequence[str]], Tokens]],
    max_length: int | None,
    only: Callable[[str], bool] | None = None,
) -> bool:
    """Whether every way a fast path may run agrees with `reference` on every probe text (`only` those it gets)."""
    texts = [t for t in probe_texts(max_length) if only is None or only(t)]
    return all(agrees(reference, way, texts) for way in ways)
