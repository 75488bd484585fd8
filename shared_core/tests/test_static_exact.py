"""Exact on every input, not on probes: every code point, every printable-ASCII triple and random Unicode text.

For each tokenizer family of the test kit, through the static engine (whichever fast path it takes) against the
plain Hugging Face tokenizer:

- every one of the 1,112,064 code points (all but the surrogates) inside a word (four to a word, between ASCII
  letters; 17,376 texts of four words); and every assigned code point (and every eighth unassigned or private-use
  one: they share their properties) next to a space on either side, alone between spaces and next to each other;
- for the families tokie runs, every ordered triple of printable-ASCII characters (a de Bruijn sequence cut into
  texts) and 20,000 random printable-ASCII texts;
- 3,000 random Unicode texts (words of code points from every plane and of assigned characters of every general
  category, joined by spaces, runs of spaces, tabs and newlines), ids and vectors.
"""

from __future__ import annotations

import functools
import random
import unicodedata
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import static2d
from static2d._static.engine import StaticEngine
from static2d_testkit.families import FAMILIES, family_model
from tokenizers import Tokenizer

CODE_POINTS = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
TOKIE = ("wordpiece-uncased", "wordpiece-cased", "byte-bpe")


def _made_once(make: Callable[..., list[str]]) -> Callable[..., list[str]]:
    """`make`, its texts built once per run (the same for the same arguments; a second over a million code points
    in Python each time) and handed out as a new list, which a caller may change."""
    built = functools.cache(make)

    @functools.wraps(make)
    def texts(*args: object, **kwargs: object) -> list[str]:
        return list(built(*args, **kwargs))

    return texts


@_made_once
def _in_words() -> list[str]:
    """Every code point inside a word (between ASCII letters), four to a word, four words to a text."""
    c = CODE_POINTS + CODE_POINTS[:16]
    words = [f"a{c[i]}b{c[i + 1]}c{c[i + 2]}d{c[i + 3]}e" for i in range(0, len(CODE_POINTS), 4)]
    return [" ".join(words[i : i + 4]) for i in range(0, len(words), 4)]


@_made_once
def _at_spaces() -> list[str]:
    """Code points after a space, before a space, alone between spaces and next to one another (sixteen a text)."""
    unassigned = [c for c in CODE_POINTS if unicodedata.category(c) in ("Cn", "Co")]
    chosen = [c for c in CODE_POINTS if unicodedata.category(c) not in ("Cn", "Co")] + unassigned[::8]
    out = []
    for i in range(0, len(chosen), 16):
        c = (chosen[i : i + 16] * 16)[:16]
        out.append(
            f"ab {c[0]}cd ef{c[1]} {c[2]} g{c[3]}{c[4]}h {c[5]}{c[6]} {c[7]} {c[8]}i j{c[9]} "
            f"{c[10]}{c[11]}{c[12]} k {c[13]}  {c[14]}\t{c[15]}"
        )
    return out


@_made_once
def _random_unicode(n: int, seed: int) -> list[str]:
    """Random texts: words of random code points (from every plane, and assigned ones of every category)."""
    rng = random.Random(seed)
    assigned: dict[str, list[str]] = {}
    for c in CODE_POINTS[::7]:
        assigned.setdefault(unicodedata.category(c), []).append(c)
    categories = sorted(assigned)

    def char() -> str:
        roll = rng.random()
        if roll < 0.2:
            return rng.choice(CODE_POINTS)
        if roll < 0.5:
            return chr(rng.randrange(0x20, 0x7F))
        return rng.choice(assigned[rng.choice(categories)])

    texts = []
    for _ in range(n):
        words = ["".join(char() for _ in range(rng.randint(1, 8))) for _ in range(rng.randint(1, 12))]
        seps = [rng.choice([" ", " ", " ", " ", "  ", "\t", "\n", " \n "]) for _ in words]
        texts.append(
            "".join(w + s for w, s in zip(words, seps, strict=True)).rstrip(" ")
            if rng.random() < 0.8
            else "".join(w + s for w, s in zip(words, seps, strict=True))
        )
    return texts


@_made_once
def _marks_in_words() -> list[str]:
    """Every combining mark after bases of each UTF-8 width (ASCII to CJK), alone, stacked and at a word's end."""
    marks = [c for c in CODE_POINTS if unicodedata.category(c)[0] == "M"]
    bases = ["a", "\u00e9", "\u03b1", "\u0915", "\u0e44", "\u4e2d", "\uac00", "\U00020000"]
    words = [f"{b}{m}{b}{m}{m}x{b}{m}" for i, m in enumerate(marks) for b in (bases[i % len(bases)],)]
    words += [f"{b}{m}" for m in marks[::5] for b in bases]
    return [" ".join(words[i : i + 8]) for i in range(0, len(words), 8)]


@_made_once
def _ascii_triples() -> list[str]:
    """Every ordered triple of printable-ASCII characters next to each other in some text (de Bruijn, order 3)."""
    k, order = 95, 3
    a = [0] * (k * order)
    sequence: list[int] = []

    def walk(t: int, p: int) -> None:
        if t > order:
            if order % p == 0:
                sequence.extend(a[1 : p + 1])
            return
        a[t] = a[t - p]
        walk(t + 1, p)
        for j in range(a[t - p] + 1, k):
            a[t] = j
            walk(t + 1, t)

    walk(1, 1)
    text = "".join(chr(32 + c) for c in sequence)
    text += text[:2]
    return [text[i : i + 402] for i in range(0, len(text) - 2, 400)]


@_made_once
def _random_ascii(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = [chr(c) for c in range(0x20, 0x7F)] + list("eeeeaaaoooiiinnnsssttt     ")
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120))) for _ in range(n)]


@pytest.fixture(scope="module", params=FAMILIES)
def family(request: pytest.FixtureRequest) -> tuple[str, Path, Path]:
    kind = request.param
    return kind, family_model(kind), family_model(kind, "sentence-transformers")


def _engine(path: Path) -> StaticEngine:
    engine = static2d.load(path, normalize=False)._get().engine
    assert isinstance(engine, StaticEngine)
    return engine


def _assert_same_ids(engine: StaticEngine, reference: Tokenizer, texts: list[str]) -> None:
    expected = [e.ids for e in reference.encode_batch_fast(texts, add_special_tokens=False)]
    tokens = engine.tokenize(texts)
    flat, slots = tokens.ids, tokens.lengths
    lengths = [len(r) for r in expected]
    if slots.tolist() == lengths and flat.tolist() == [i for r in expected for i in r]:
        return
    starts = np.cumsum(slots) - slots
    wrong = [
        i
        for i, row in enumerate(expected)
        if slots[i] != len(row) or flat[starts[i] : starts[i] + slots[i]].tolist() != row
    ]
    shown = [(texts[i][:80], [hex(ord(c)) for c in texts[i] if ord(c) > 0x7E][:16]) for i in wrong[:3]]
    pytest.fail(f"{len(wrong)} of {len(texts)} texts got other ids than Hugging Face's, e.g. {shown}")


def test_every_code_point_inside_a_word_and_next_to_spaces(family: tuple[str, Path, Path]) -> None:
    _kind, _, st_dir = family
    engine = _engine(st_dir)  # StaticEmbedding semantics: every id as Hugging Face gives it, no truncation
    reference = Tokenizer.from_file(str(st_dir / "0_StaticEmbedding" / "tokenizer.json"))
    reference.no_padding()
    inside = _in_words()
    if engine._cache is not None:  # the engine is shared: count this test's texts only
        engine._cache.texts = engine._cache.texts_whole = 0
    _assert_same_ids(engine, reference, inside)
    if engine._cache is not None:  # inside a word no character sends a text past the cache
        assert engine._cache.texts_whole == 0
    _assert_same_ids(engine, reference, _at_spaces())


def test_every_mark_after_bases_of_every_width(family: tuple[str, Path, Path]) -> None:
    """A base and the marks after it are one cluster of the word cache's checks (`WordCache._by_clusters`)."""
    _kind, _, st_dir = family
    engine = _engine(st_dir)
    reference = Tokenizer.from_file(str(st_dir / "0_StaticEmbedding" / "tokenizer.json"))
    reference.no_padding()
    texts = _marks_in_words()
    _assert_same_ids(engine, reference, texts)  # every piece new to the cache
    _assert_same_ids(engine, reference, texts)  # every piece known


def test_printable_ascii_goes_to_tokie_and_every_triple_is_exact(family: tuple[str, Path, Path]) -> None:
    kind, _, st_dir = family
    if kind not in TOKIE:
        pytest.skip("tokie is not used for this family")
    engine = _engine(st_dir)
    fast = engine._cache.tokie if engine._cache is not None else engine._fast  # the word cache's new pieces, or texts
    assert fast is not None
    reference = Tokenizer.from_file(str(st_dir / "0_StaticEmbedding" / "tokenizer.json"))
    reference.no_padding()
    texts = _ascii_triples() + _random_ascii(20_000, seed=3)
    expected = [e.ids for e in reference.encode_batch_fast(texts, add_special_tokens=False)]
    for way in (fast._flat, fast._each):
        tokens = way(texts)
        flat, slots = tokens.ids, tokens.lengths
        assert slots.tolist() == [len(r) for r in expected]
        assert flat.tolist() == [i for r in expected for i in r]


@pytest.mark.parametrize("fmt", ["model2vec", "sentence-transformers"])
def test_random_unicode_texts_ids_and_vectors(family: tuple[str, Path, Path], fmt: str) -> None:
    from model2vec import StaticModel
    from sentence_transformers import SentenceTransformer

    _, m2v_dir, st_dir = family
    texts = _random_unicode(3000, seed=11)
    if fmt == "sentence-transformers":
        engine = _engine(st_dir)
        reference = Tokenizer.from_file(str(st_dir / "0_StaticEmbedding" / "tokenizer.json"))
        reference.no_padding()
        _assert_same_ids(engine, reference, texts)
        theirs = SentenceTransformer(str(st_dir), device="cpu").encode(texts, convert_to_numpy=True)
        ours = static2d.load(st_dir, normalize=False).encode(texts)
    else:
        theirs = StaticModel.from_pretrained(str(m2v_dir)).encode(texts)
        ours = static2d.load(m2v_dir, normalize=False).encode(texts)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
