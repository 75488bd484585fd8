"""The static fast paths: the same ids and vectors as Hugging Face and model2vec for every tokenizer family.

Tokenizers of each family are trained by the test kit on multilingual text it makes (40 languages and scripts) and
English STS-B sentences; each is saved as a model2vec model (by model2vec itself) and as a sentence-transformers
StaticEmbedding folder (`embedding.weight`). For a corpus of multilingual sentences, STS-B sentences and awkward
Unicode, the static encoder's ids and vectors must equal the plain Hugging Face reference, in one big call (the
threaded route) and text by text, whichever tokenizer path was chosen; the path chosen must be the expected one.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import static2d
from conftest import CountedTokie, sts_dev
from static2d._static import kernel, wordcache
from static2d._static.engine import StaticEngine
from static2d._tokens import exact
from static2d._tokens import tokie as fasttok
from static2d_testkit.families import FAMILIES, family_model, train_tokenizer
from static2d_testkit.multilingual import multilingual_texts
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

MAX_LENGTH = 512  # model2vec's max_length in the test kit's models; the long texts below pass it
SENTENCES = [s for pair in zip(*sts_dev()[:2], strict=True) for s in pair]
AWKWARD = [
    *exact.PROBES,
    "x" * 2000,
    "the quick brown fox " * 200,
    "Ein Mann spielt Gitarre. " * 60,
    "東京は日本の首都です。" * 80,
]
CORPUS = SENTENCES[:1500] + multilingual_texts(2500, seed=7) + AWKWARD

# Which tokenizers run for each family: the word cache for every layout where a space cuts the tokens in two (all of
# them here), its new pieces of printable ASCII tokenized by tokie where tokie is proven (BERT WordPiece and
# byte-level BPE).
PATHS = {
    "wordpiece-uncased": "word cache + tokie",
    "wordpiece-cased": "word cache + tokie",
    "byte-bpe": "word cache + tokie",
    "unigram-nfkc": "word cache",
    "unigram-precompiled": "word cache",
    "sp-bpe-byte-fallback": "word cache",
    "bpe-lowercase": "word cache",
    "wordlevel": "word cache",
}


@pytest.fixture(scope="module", params=FAMILIES)
def family(request: pytest.FixtureRequest) -> tuple[str, Path, Path]:
    """(family, its model2vec model written by model2vec, its sentence-transformers StaticEmbedding folder)."""
    kind = request.param
    return kind, family_model(kind), family_model(kind, "sentence-transformers")


def _reference(
    folder: Path, texts: list[str], *, m2v: bool, max_length: int = MAX_LENGTH
) -> tuple[list[list[int]], np.ndarray]:
    """Hugging Face ids (as model2vec / sentence-transformers use them) and their plain float64 means."""
    from safetensors.numpy import load_file

    tensors = load_file(str(folder / "model.safetensors"))
    table = tensors["embeddings" if m2v else "embedding.weight"].astype(np.float64)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    if m2v:  # model2vec: cut to max_length * median token length characters, truncate, drop the unknown token
        cap = max_length * int(np.median([len(t) for t in tok.get_vocab()]))
        texts = [t[:cap] for t in texts]
        tok.enable_truncation(max_length)
    spec = json.loads(tok.to_str())["model"]
    unk = tok.token_to_id(spec["unk_token"]) if spec.get("unk_token") else spec.get("unk_id")
    ids = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
    if m2v and unk is not None:
        ids = [[i for i in row if i != unk] for row in ids]
    means = np.array([table[row].mean(axis=0) if row else np.zeros(table.shape[1]) for row in ids])
    return ids, means


def _engine(enc: static2d.Encoder) -> StaticEngine:
    engine = enc._get().engine
    assert isinstance(engine, StaticEngine)
    return engine


@pytest.mark.parametrize("fmt", ["model2vec", "sentence-transformers"])
def test_ids_and_vectors_equal_hugging_face_whichever_path(
    family: tuple[str, Path, Path], fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind, m2v_dir, st_dir = family
    m2v = fmt == "model2vec"
    path, folder = (m2v_dir, m2v_dir) if m2v else (st_dir, st_dir / "0_StaticEmbedding")
    static2d.clear_cache()  # a fresh engine: its word cache counts this test's texts only, not earlier tests'
    enc = static2d.load(path, normalize=False)
    engine = _engine(enc)
    numpy_path = PATHS[kind].replace("word cache + tokie", "tokie + word cache")  # no compiled table
    assert engine.tokenizer_path == (PATHS[kind] if kernel.native() is not None else numpy_path)
    ids, expected = _reference(folder, CORPUS, m2v=m2v)
    if m2v:
        assert any(len(r) >= MAX_LENGTH for r in ids)

    tokens = engine.tokenize(CORPUS)
    flat, slots = tokens.ids, tokens.lengths
    assert slots.tolist() == [len(r) for r in ids]
    assert flat.tolist() == [i for r in ids for i in r]
    if engine._cache is not None:  # most texts went through the cache, not whole to Hugging Face
        assert engine._cache.texts_whole < 0.1 * engine._cache.texts

    big = CORPUS + CORPUS[::-1]  # > 4,096 texts: tokenized and pooled in pieces by the workers
    out = enc.encode(big)  # float32 sums of up to 2,000 rows: within 1e-4 (relative) of float64 ones
    np.testing.assert_allclose(out, np.vstack([expected, expected[::-1]]), rtol=1e-4, atol=1e-5)
    one_by_one = np.vstack([enc.encode([t]) for t in CORPUS])
    np.testing.assert_allclose(one_by_one, out[: len(CORPUS)], rtol=0, atol=1e-6)

    # the plain Hugging Face path of static2d itself gives the same vectors (the shared engine restored after)
    for path_attribute in ("_fast", "_cache", "_joiner"):
        monkeypatch.setattr(engine, path_attribute, None)
    np.testing.assert_allclose(enc.encode(big), out, rtol=0, atol=1e-6)


def test_model2vec_folder_is_model2vec_and_sentence_transformers_folder_keeps_its_semantics(
    family: tuple[str, Path, Path],
) -> None:
    """A folder model2vec wrote (modules.json beside, no model_type) drops the unknown token and honours max_length,
    as model2vec does; a StaticEmbedding folder (`embedding.weight`) keeps the unknown token, as sentence-transformers.
    """
    from model2vec import StaticModel
    from sentence_transformers import SentenceTransformer

    kind, m2v_dir, st_dir = family
    texts = SENTENCES[:300] + multilingual_texts(300, seed=8) + AWKWARD
    assert (m2v_dir / "modules.json").is_file()
    assert "model_type" not in json.loads((m2v_dir / "config.json").read_text())
    ours_m2v = static2d.load(m2v_dir, normalize=False).encode(texts)
    theirs_m2v = StaticModel.from_pretrained(str(m2v_dir)).encode(texts)
    np.testing.assert_allclose(ours_m2v, theirs_m2v, rtol=1e-4, atol=1e-6)

    ours_st = static2d.load(st_dir, normalize=False).encode(texts)
    theirs_st = SentenceTransformer(str(st_dir), device="cpu").encode(texts, convert_to_numpy=True)
    np.testing.assert_allclose(ours_st, theirs_st, rtol=0, atol=1e-5)
    if kind not in ("byte-bpe", "sp-bpe-byte-fallback"):  # no unknown token (bytes): the two semantics agree
        assert np.abs(ours_m2v - ours_st).max() > 1e-2


def test_tokie_only_where_proven_and_only_for_printable_ascii(
    family: tuple[str, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Allowed by layout or not, tokie is used only where it agrees on every probe it would get; and it never gets
    a text that is not printable ASCII (the characters where its Unicode tables differ from Hugging Face's)."""
    kind, m2v_dir, _ = family
    path = m2v_dir / "tokenizer.json"
    hf = Tokenizer.from_file(str(path))
    hf.no_truncation()
    made = fasttok.FastTokenizer.make(hf, path)
    assert (made is not None) == PATHS[kind].endswith("tokie")
    # with every layout allowed, the probes alone keep away the ones tokie gets wrong on ASCII (BPE + Lowercase)
    everything: Callable[[dict[str, object]], bool] = lambda spec: True  # noqa: E731
    monkeypatch.setattr(fasttok, "supported", everything)
    made = fasttok.FastTokenizer.make(hf, path)
    if kind == "bpe-lowercase":
        assert made is None
    assert fasttok.accepted("Hello, world! 3.14 don't")
    assert not fasttok.accepted("hello\x7fworld")
    assert not fasttok.accepted("caf\u00e9")
    assert not fasttok.accepted("tab\there")
    assert not fasttok.accepted("𠀀")

    engine = _engine(static2d.load(m2v_dir, normalize=False, max_length=MAX_LENGTH - 1))
    fast = engine._cache.tokie if engine.tokenizer_path.startswith("word cache") else engine._fast  # pieces or texts
    if fast is not None:
        seen: list[str] = []
        real = fast.tokenize
        monkeypatch.setattr(fast, "tokenize", lambda texts: seen.extend(texts) or real(texts))
        engine.tokenize(CORPUS)
        assert seen
        assert all(fasttok.accepted(t) for t in seen)
        everything = " ".join(CORPUS).split(" ")
        assert len(seen) < len(set(everything))  # not every piece: those of printable ASCII, once each


def test_tokie_or_cache_missing_means_hugging_face(
    family: tuple[str, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, m2v_dir, _ = family
    monkeypatch.setitem(sys.modules, "tokie", None)  # import tokie raises ImportError
    enc = static2d.load(m2v_dir, normalize=False, max_length=MAX_LENGTH + 1)  # a new engine, not the cached one
    assert "tokie" not in _engine(enc).tokenizer_path
    _, expected = _reference(m2v_dir, CORPUS, m2v=True, max_length=MAX_LENGTH + 1)
    np.testing.assert_allclose(enc.encode(CORPUS), expected, rtol=1e-4, atol=1e-5)
    monkeypatch.setattr(wordcache.WordCache, "make", classmethod(lambda cls, *args: None))
    enc = static2d.load(m2v_dir, normalize=False, max_length=MAX_LENGTH + 2)
    assert _engine(enc).tokenizer_path == "tokenizers"
    _, expected = _reference(m2v_dir, CORPUS, m2v=True, max_length=MAX_LENGTH + 2)
    np.testing.assert_allclose(enc.encode(CORPUS), expected, rtol=1e-4, atol=1e-5)


def _unigram(pre_tokenizer: object, normalizer: object = None) -> Tokenizer:
    tok = train_tokenizer("unigram-nfkc")
    assert isinstance(tok, Tokenizer)
    tok.pre_tokenizer = pre_tokenizer  # type: ignore[assignment]
    if normalizer is not None:
        tok.normalizer = normalizer  # type: ignore[assignment]
    return tok


def test_word_cache_refuses_layouts_where_a_space_may_not_cut_the_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """No cache where the model sees across words, a step may reach over a space, or an added token holds one; and
    where the layout check is forced open, the probe texts alone refuse what is not exact."""
    seeing = _unigram(pre_tokenizers.Metaspace(split=False))  # the whole text is one pre-token
    assert wordcache.layout(json.loads(seeing.to_str())) is None
    assert wordcache.WordCache.make(seeing) is None
    collapsing = _unigram(pre_tokenizers.Metaspace(), normalizers.Replace(" ", "_"))  # a pattern with a space
    assert wordcache.layout(json.loads(collapsing.to_str())) is None
    spaced = _unigram(pre_tokenizers.Metaspace())
    spaced.add_tokens(["new york"])
    assert wordcache.WordCache.make(spaced) is None

    llama = train_tokenizer("sp-bpe-byte-fallback")
    assert isinstance(llama, Tokenizer)
    assert wordcache.layout(json.loads(llama.to_str())) == "none"
    spec = json.loads(llama.to_str())
    spec["model"]["vocab"]["a▁b"] = len(spec["model"]["vocab"])  # a token over a space: BPE may merge across it
    assert wordcache.layout(spec) is None

    # forced open, the probes refuse what the layout check would have: a model that sees the whole line
    monkeypatch.setattr(wordcache, "layout", lambda spec: "space")
    whole_words = Tokenizer(models.WordLevel({"a b": 0, "[UNK]": 1}, unk_token="[UNK]"))
    whole_words.pre_tokenizer = pre_tokenizers.Split("\n", "isolated")
    assert wordcache.WordCache.make(whole_words) is None


def test_word_cache_is_shared_safely_by_threads_and_starts_afresh_when_full(
    family: tuple[str, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import assert_threads_match_serial

    _, m2v_dir, _ = family
    monkeypatch.setattr(wordcache.WordCache, "MAX_PIECES", 3000)  # full after a few hundred texts
    enc = static2d.load(m2v_dir, normalize=False, max_length=MAX_LENGTH + 3)
    texts = multilingual_texts(1200, seed=9)
    _, expected = _reference(m2v_dir, texts, m2v=True, max_length=MAX_LENGTH + 3)
    np.testing.assert_allclose(enc.encode(texts), expected, rtol=1e-4, atol=1e-5)
    assert_threads_match_serial(enc, texts[:400])


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_a_batch_uses_at_most_the_thread_limit_and_the_vectors_do_not_depend_on_it(
    limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers and pooling helpers together never exceed static2d's thread limit (a Ray actor's CPUs, set_limit);
    a big batch (in pieces) and a small one (pooled in parts) give the vectors of one thread, bit for bit."""
    import threading

    from static2d import _threads
    from static2d._static import engine as engine_module
    from static2d._static import pool as pool_module

    enc = static2d.load(family_model("unigram-precompiled"), normalize=False)
    big, small = multilingual_texts(13_000, seed=4), multilingual_texts(3000, seed=5)
    monkeypatch.setattr(_threads, "limit", lambda: 1)
    expected = [enc.encode(big), enc.encode(small)]

    alive, most = [1], [1]  # the caller's thread counts
    lock = threading.Lock()

    class Counted(threading.Thread):
        def run(self) -> None:
            with lock:
                alive[0] += 1
                most[0] = max(most[0], alive[0])
            try:
                super().run()
            finally:
                with lock:
                    alive[0] -= 1

    monkeypatch.setattr(engine_module.threading, "Thread", Counted)
    monkeypatch.setattr(pool_module.threading, "Thread", Counted)
    monkeypatch.setattr(_threads, "limit", lambda: limit)
    for texts, vectors in zip([big, small], expected, strict=True):
        np.testing.assert_array_equal(enc.encode(texts), vectors)
    assert most[0] <= limit
    if limit > 1:
        assert most[0] > 1  # the cores are used


def test_tokie_keeps_to_the_thread_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """tokie starts a thread per CPU it sees, whatever static2d's limit: below the process's CPUs (a Ray actor given
    one CPU), it tokenizes (the word cache's new pieces) text by text in static2d's own threads instead, with the same
    vectors."""
    pytest.importorskip("tokie")
    from static2d import _threads

    def fresh(max_length: int) -> tuple[static2d.Encoder, CountedTokie]:
        """A new engine (its word cache empty), its tokie counted."""
        enc = static2d.load(family_model("wordpiece-uncased"), normalize=False, max_length=max_length)
        engine = _engine(enc)
        assert engine._cache is not None
        # tokie for the word cache's new pieces; on the numpy path, for whole texts
        fast = engine._cache.tokie if kernel.native() is not None else engine._fast
        assert fast is not None
        counted = CountedTokie(fast._tokenizer)
        monkeypatch.setattr(fast, "_tokenizer", counted)
        return enc, counted

    texts = [t for t in sts_dev()[0] if fasttok.accepted(t)][:2000]
    monkeypatch.setattr(_threads, "affinity_cpus", lambda: 4)
    monkeypatch.setattr(_threads, "limit", lambda: 4)
    enc, counted = fresh(500)  # far past these texts' lengths: the same vectors whatever the limit
    expected = enc.encode(texts)
    assert counted.batches > 0
    assert counted.texts == 0
    monkeypatch.setattr(_threads, "limit", lambda: 1)
    enc, counted = fresh(501)
    np.testing.assert_array_equal(enc.encode(texts), expected)
    assert counted.batches == 0
    assert counted.texts > 1000  # each new piece (or text) of printable ASCII, one by one
