"""The static fast path: tokie only where it gives Hugging Face's ids, same vectors either way, both formats' semantics.

Tokenizers of each family are trained here with `tokenizers` trainers on real sentences; each is saved as a model2vec
model (by model2vec itself) and as a sentence-transformers StaticEmbedding folder (`embedding.weight`). For every text
of a corpus of STS-B sentences and awkward Unicode, the static encoder's ids and vectors must equal the plain
Hugging Face reference, in one big call (>= 4,096 texts: the threaded route) and text by text, whichever tokenizer
path was chosen; and the path chosen must be the fast one exactly where it is proven exact.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import static2d
from conftest import sts_dev
from safetensors.numpy import save_file
from static2d._static import fasttok as _fasttok
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

DIMS = 24
MAX_LENGTH = 40  # model2vec's truncation, reached by the long texts below
SENTENCES = [s for pair in zip(*sts_dev()[:2], strict=True) for s in pair]
AWKWARD = [
    *_fasttok.PROBES,
    "\uff26\uff35\uff2c\uff2c \uff48\uff45\uff4c\uff4c\uff4f\u3000world \uff76\uff80\uff76\uff85",
    "Straße ÉCOLE Œuvre ǅ İstanbul ﬀ ½ ² Ⅻ ﬁnance ﬂow",
    "A man is playing the 🎸 guitar… «quoted» „low“ \u2018single\u2019 — dash",
    "x" * 2000,
    "the quick brown fox " * 200,
    "A man is playing a guitar. " * 60,
    "ÀÉÎÕÜ àéîõü Ąę Łódź Čeština Ελληνικά",
]
CORPUS = SENTENCES + AWKWARD


def _train(kind: str) -> Tokenizer:
    train = SENTENCES[:1000]  # the rest of the corpus holds words (and characters) the vocabulary lacks
    if kind in ("wordpiece-uncased", "wordpiece-cased"):
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=kind == "wordpiece-uncased")
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        trainer = trainers.WordPieceTrainer(vocab_size=1500, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    elif kind == "byte-bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=1500, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    elif kind == "unigram-nfkc":
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=1500, unk_token="<unk>", special_tokens=["<unk>"])
    elif kind == "bpe-lowercase":
        tok = Tokenizer(models.BPE(unk_token="[UNK]"))
        tok.normalizer = normalizers.Lowercase()
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = trainers.BpeTrainer(vocab_size=1500, special_tokens=["[UNK]"])
    else:
        assert kind == "wordlevel"
        tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
        tok.normalizer = normalizers.Lowercase()
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = trainers.WordLevelTrainer(vocab_size=1500, special_tokens=["[UNK]"])
    tok.train_from_iterator(train, trainer)
    return tok


# Which tokenizer runs for each family: tokie where it was measured exact, Hugging Face everywhere else.
FAMILIES = {
    "wordpiece-uncased": "tokie",
    "wordpiece-cased": "tokie",
    "byte-bpe": "tokie",
    "unigram-nfkc": "tokenizers",
    "bpe-lowercase": "tokenizers",
    "wordlevel": "tokenizers",
}


@pytest.fixture(scope="module", params=list(FAMILIES))
def family(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    """(family, a model2vec model written by model2vec, a sentence-transformers StaticEmbedding folder)."""
    from model2vec import StaticModel

    kind = request.param
    root = tmp_path_factory.mktemp(kind)
    tok = _train(kind)
    table = np.random.default_rng(0).standard_normal((tok.get_vocab_size(), DIMS)).astype(np.float32)
    m2v = root / "model2vec"
    StaticModel(vectors=table, tokenizer=tok, normalize=False, max_length=MAX_LENGTH).save_pretrained(str(m2v))
    st = root / "st"
    (st / "0_StaticEmbedding").mkdir(parents=True)
    save_file({"embedding.weight": table}, str(st / "0_StaticEmbedding" / "model.safetensors"))
    tok.save(str(st / "0_StaticEmbedding" / "tokenizer.json"))
    module = {
        "idx": 0,
        "name": "0",
        "path": "0_StaticEmbedding",
        "type": "sentence_transformers.models.StaticEmbedding",
    }
    (st / "modules.json").write_text(json.dumps([module]))
    return kind, m2v, st


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
    unk = tok.token_to_id("[UNK]") if "[UNK]" in tok.get_vocab() else tok.token_to_id("<unk>")
    ids = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
    if m2v:
        ids = [[i for i in row if i != unk] for row in ids]
    means = np.array([table[row].mean(axis=0) if row else np.zeros(table.shape[1]) for row in ids])
    return ids, means


def _backend(enc: static2d.Encoder) -> object:
    return enc._get().engine


@pytest.mark.parametrize("fmt", ["model2vec", "sentence-transformers"])
def test_ids_and_vectors_equal_hugging_face_whichever_path(family: tuple[str, Path, Path], fmt: str) -> None:
    kind, m2v_dir, st_dir = family
    m2v = fmt == "model2vec"
    path, folder = (m2v_dir, m2v_dir) if m2v else (st_dir, st_dir / "0_StaticEmbedding")
    enc = static2d.load(path, normalize=False)
    backend = _backend(enc)
    assert backend.tokenizer_path == FAMILIES[kind]
    ids, expected = _reference(folder, CORPUS, m2v=m2v)
    assert any(len(r) >= MAX_LENGTH for r in ids)

    flat, slots = backend.tokenize(CORPUS)
    assert slots.tolist() == [len(r) for r in ids]
    assert flat.tolist() == [i for r in ids for i in r]

    big = CORPUS + CORPUS[::-1]  # >= 4,096 texts: tokenized in pieces by helper threads
    assert len(big) >= 4096
    out = enc.encode(big)  # float32 sums of up to 2,000 rows: within 1e-4 (relative) of float64 ones
    np.testing.assert_allclose(out, np.vstack([expected, expected[::-1]]), rtol=1e-4, atol=1e-5)
    one_by_one = np.vstack([enc.encode([t]) for t in CORPUS])
    np.testing.assert_allclose(one_by_one, out[: len(CORPUS)], rtol=0, atol=1e-6)

    # the Hugging Face path of static2d itself gives the same vectors
    backend._fast, backend._joiner = None, None
    np.testing.assert_allclose(enc.encode(big), out, rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.vstack([enc.encode([t]) for t in CORPUS]), one_by_one, rtol=0, atol=1e-6)


def test_model2vec_folder_is_model2vec_and_sentence_transformers_folder_keeps_its_semantics(
    family: tuple[str, Path, Path],
) -> None:
    """A folder model2vec wrote (modules.json beside, no model_type) drops the unknown token and honours max_length,
    as model2vec does; a StaticEmbedding folder (`embedding.weight`) keeps the unknown token, as sentence-transformers.
    """
    from model2vec import StaticModel
    from sentence_transformers import SentenceTransformer

    kind, m2v_dir, st_dir = family
    texts = SENTENCES[:300] + AWKWARD
    assert (m2v_dir / "modules.json").is_file()
    assert "model_type" not in json.loads((m2v_dir / "config.json").read_text())
    ours_m2v = static2d.load(m2v_dir, normalize=False).encode(texts)
    theirs_m2v = StaticModel.from_pretrained(str(m2v_dir)).encode(texts)
    np.testing.assert_allclose(ours_m2v, theirs_m2v, rtol=1e-4, atol=1e-6)

    ours_st = static2d.load(st_dir, normalize=False).encode(texts)
    theirs_st = SentenceTransformer(str(st_dir), device="cpu").encode(texts, convert_to_numpy=True)
    np.testing.assert_allclose(ours_st, theirs_st, rtol=0, atol=1e-5)
    if kind != "byte-bpe":  # byte-level BPE has no unknown token: the two semantics then agree
        assert np.abs(ours_m2v - ours_st).max() > 1e-2


def test_a_tokenizer_tokie_gets_wrong_goes_to_hugging_face(
    family: tuple[str, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Allowed by kind or not, a tokenizer tokie gets wrong on a probe text is never routed to it."""
    import tokie

    kind, m2v_dir, _ = family
    path = m2v_dir / "tokenizer.json"
    hf = Tokenizer.from_file(str(path))
    hf.no_truncation()  # model2vec saved its max_length in the file; tokie is compared without truncation here
    expected = [e.ids for e in hf.encode_batch(_fasttok.PROBES, add_special_tokens=False)]
    fast = tokie.Tokenizer.from_json(str(path)) if kind != "wordlevel" else None  # tokie cannot read WordLevel
    if fast is not None:
        fast.no_truncation()
    wrong = fast is None or [fast.encode(p, add_special_tokens=False).ids for p in _fasttok.PROBES] != expected
    assert wrong == (FAMILIES[kind] == "tokenizers")  # tokie is wrong on exactly the families routed away
    # even when every kind is allowed, the probes alone keep the wrong ones away
    everything: Callable[[dict[str, object]], bool] = lambda spec: True  # noqa: E731
    monkeypatch.setattr(_fasttok, "supported", everything)
    made = _fasttok.FastTokenizer.make(hf, path)
    assert (made is None) == wrong


def test_tokie_missing_means_hugging_face(family: tuple[str, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    _, m2v_dir, _ = family
    monkeypatch.setitem(sys.modules, "tokie", None)  # import tokie raises ImportError
    enc = static2d.load(m2v_dir, normalize=False, max_length=MAX_LENGTH + 1)  # a new backend, not the cached one
    assert _backend(enc).tokenizer_path == "tokenizers"
    _, expected = _reference(m2v_dir, CORPUS, m2v=True, max_length=MAX_LENGTH + 1)
    np.testing.assert_allclose(enc.encode(CORPUS), expected, rtol=1e-4, atol=1e-5)


def test_float32_table_is_a_shared_read_only_map_and_others_are_folded(tmp_path: Path) -> None:
    """A float32 table is mapped from the file (read-only); float16 + token weights are folded as model2vec does."""
    import mmap

    from model2vec import StaticModel

    tok = _train("wordpiece-uncased")
    rng = np.random.default_rng(1)
    table = rng.standard_normal((tok.get_vocab_size(), DIMS)).astype(np.float32)
    StaticModel(vectors=table, tokenizer=tok, normalize=False).save_pretrained(str(tmp_path / "f32"))
    backend = _backend(static2d.load(tmp_path / "f32"))
    assert not backend.table.flags.writeable
    base = backend.table
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    assert isinstance(base, mmap.mmap)
    np.testing.assert_array_equal(backend.table, table)

    weights = rng.uniform(0.1, 2.0, tok.get_vocab_size()).astype(np.float32)
    half = StaticModel(vectors=table.astype(np.float16), tokenizer=tok, normalize=False, weights=weights)
    half.save_pretrained(str(tmp_path / "f16"))
    ours = static2d.load(tmp_path / "f16", normalize=False)
    assert ours.kind == "static"
    assert _backend(ours).table.dtype == np.float32
    theirs = StaticModel.from_pretrained(str(tmp_path / "f16")).encode(SENTENCES[:500])
    np.testing.assert_allclose(ours.encode(SENTENCES[:500]), theirs.astype(np.float32), rtol=0, atol=2e-3)
