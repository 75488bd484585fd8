"""The static encoder on tiny generated models: both formats, dims, prompts, bad inputs, concurrency, caching."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import static2d
from conftest import TEXTS, assert_threads_match_serial
from static2d import _engines
from static2d._model.describe import describe
from static2d._static.engine import StaticEngine
from static2d_testkit import make_static_model


@pytest.fixture(scope="module", params=["model2vec", "sentence-transformers"])
def static_path(request: pytest.FixtureRequest, tiny_dir: Path) -> Path:
    return make_static_model(tiny_dir / f"static-{request.param}", fmt=request.param, dims=64)


def _reference(path: Path, texts: list[str], dims: int, *, m2v: bool) -> np.ndarray:
    """Mean pooling written out the slow, obvious way, from the raw files (for the tiny model's WordPiece)."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    folder = path if m2v else path / "0_StaticEmbedding"
    tensors = load_file(str(folder / "model.safetensors"))
    table = tensors["embeddings" if m2v else "embedding.weight"].astype(np.float64)
    if "weights" in tensors:
        table = table * tensors["weights"][:, None]
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    unk = tok.token_to_id("[UNK]")
    median = int(np.median([len(t) for t in tok.get_vocab()]))
    rows = []
    for text in texts:
        # model2vec first cuts the text to max_length * median token length characters
        ids = tok.encode(text[: 512 * median] if m2v else text, add_special_tokens=False).ids
        if m2v:
            ids = [i for i in ids if i != unk][:512]
        v = table[ids, :dims].mean(axis=0) if ids else np.zeros(dims)
        n = np.linalg.norm(v)
        rows.append(v / n if n > 0 else v)
    return np.array(rows)


@pytest.mark.parametrize("dims", [None, 48, 7, 1])
def test_mean_pooling_matches_a_plain_reference(static_path: Path, dims: int | None) -> None:
    enc = static2d.load(static_path, dims=dims)
    out = enc.encode(TEXTS)
    assert out.dtype == np.float32
    assert out.shape == (len(TEXTS), dims or 64)
    m2v = not (static_path / "modules.json").exists()
    np.testing.assert_allclose(out, _reference(static_path, TEXTS, dims or 64, m2v=m2v), atol=1e-5)


def test_dims_truncate_then_renormalise(static_path: Path) -> None:
    full = static2d.load(static_path).encode(TEXTS[:2])
    cut = static2d.load(static_path, dims=16).encode(TEXTS[:2])
    expected = full[:, :16] / np.linalg.norm(full[:, :16], axis=1, keepdims=True)
    np.testing.assert_allclose(cut, expected, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(cut, axis=1), 1.0, atol=1e-6)


def test_unnormalised_output_is_the_plain_mean(static_path: Path) -> None:
    raw = static2d.load(static_path, normalize=False).encode(TEXTS[:2])
    unit = static2d.load(static_path).encode(TEXTS[:2])
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), unit, atol=1e-6)


def test_empty_inputs(static_path: Path) -> None:
    enc = static2d.load(static_path, dims=32)
    assert enc.encode([]).shape == (0, 32)
    out = enc.encode(["", "   ", "the"])
    assert np.all(out[:2] == 0)
    assert not np.isnan(out).any()
    assert np.linalg.norm(out[2]) == pytest.approx(1.0, abs=1e-6)


def test_layers_on_a_static_model_is_refused(static_path: Path) -> None:
    with pytest.raises(ValueError, match="static models have no layers"):
        static2d.load(static_path, layers=2)


def test_a_lazy_local_model_is_checked_at_once(static_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_load(*args: object) -> None:
        raise AssertionError("a lazy encoder loaded its weights")

    monkeypatch.setattr(_engines, "_static", no_load)
    with pytest.raises(ValueError, match="static models have no layers"):
        static2d.load(static_path, layers=2, lazy=True)
    with pytest.raises(ValueError, match="dims=65 is out of range"):
        static2d.load(static_path, dims=65, lazy=True)
    with pytest.raises(ValueError, match="names no folder"):
        static2d.load(static_path / "nope", lazy=True)
    assert not static2d.load(static_path, dims=64, lazy=True).loaded


@pytest.mark.parametrize(
    ("options", "error", "pattern"),
    [
        ({"dims": 0}, ValueError, r"dims=0 is out of range"),
        ({"dims": 65}, ValueError, r"dims=65 is out of range: this model takes dims from 1 to 64"),
        ({"dims": -3}, ValueError, r"out of range"),
        ({"dims": 2.5}, TypeError, r"dims must be a whole number"),
        ({"dims": True}, TypeError, r"dims must be a whole number .* \(bool\)"),
        ({"dims": "64"}, TypeError, r"dims must be a whole number"),
        ({"layers": 1.0}, TypeError, r"layers must be a whole number"),
        ({"batch_size": 0}, ValueError, r"batch_size=0 is out of range"),
        ({"normalize": "yes"}, TypeError, r"normalize must be True or False"),
        ({"query_prompt": 3}, TypeError, r"query_prompt must be a str"),
    ],
)
def test_bad_options_are_named(static_path: Path, options: dict[str, object], error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        static2d.load(static_path, **options)  # type: ignore[arg-type]


def test_type_errors_come_before_any_model_work() -> None:
    # the model does not exist; the bad option is still what is reported
    with pytest.raises(TypeError, match="dims must be a whole number"):
        static2d.load("/does/not/exist", dims=1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("texts", "pattern"),
    [
        ("just a string", r"got a single str \(it would be embedded character by character\)\. Wrap it in a list"),
        (["ok", 3, "x"], r"item 1 is a int"),
        (["ok", None], r"item 1 is a NoneType"),
        ([b"bytes"], r"item 0 is bytes \(b.bytes.\): bytes are not text"),
        (42, r"takes a list of str, got int"),
    ],
)
def test_bad_texts_are_named(static_path: Path, texts: object, pattern: str) -> None:
    enc = static2d.load(static_path)
    for fn in (enc.encode, enc.encode_query, enc.encode_document):
        with pytest.raises(TypeError, match=pattern):
            fn(texts)  # type: ignore[arg-type]


def test_tuple_input_works(static_path: Path) -> None:
    enc = static2d.load(static_path)
    np.testing.assert_array_equal(enc.encode(tuple(TEXTS)), enc.encode(TEXTS))


def test_batches_do_not_change_vectors(static_path: Path) -> None:
    whole = static2d.load(static_path).encode(TEXTS * 5)
    batched = static2d.load(static_path, batch_size=3).encode(TEXTS * 5)
    np.testing.assert_allclose(batched, whole, atol=1e-6)


def test_long_text_works_and_model2vec_max_length_applies(tiny_dir: Path) -> None:
    path = make_static_model(tiny_dir / "short", max_length=4)
    enc = static2d.load(path)
    a, b = enc.encode(["the cat dog fox bank river", "the cat dog fox"])
    np.testing.assert_allclose(a, b, atol=1e-6)
    # max_length given by the user wins over the model's
    a, b = static2d.load(path, max_length=5).encode(["the cat dog fox bank river", "the cat dog fox bank"])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_sentence_transformers_static_has_no_length_limit(tiny_dir: Path) -> None:
    path = make_static_model(tiny_dir / "st-long", fmt="sentence-transformers")
    enc = static2d.load(path)
    assert enc.max_length is None
    long = "the " * 2000 + "panda"
    a, b = enc.encode([long, "the " * 2000])
    assert not np.allclose(a, b)  # the last token still counts


def test_token_weights_are_applied(tiny_dir: Path) -> None:
    path = make_static_model(tiny_dir / "weighted", token_weights=True)
    out = static2d.load(path).encode(TEXTS)
    np.testing.assert_allclose(out, _reference(path, TEXTS, 64, m2v=True), atol=1e-5)


def test_float16_tables_are_read(tiny_dir: Path) -> None:
    path = make_static_model(tiny_dir / "half", dtype="float16")
    out = static2d.load(path).encode(TEXTS)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, _reference(path, TEXTS, 64, m2v=True), atol=1e-5)


def test_saved_prompts_and_overrides(tiny_dir: Path) -> None:
    path = make_static_model(tiny_dir / "prompted", prompts={"query": "query: ", "document": "passage: "})
    enc = static2d.load(path)
    assert (enc.query_prompt, enc.document_prompt) == ("query: ", "passage: ")
    np.testing.assert_array_equal(enc.encode_query(["a cat"]), enc.encode(["query: a cat"]))
    np.testing.assert_array_equal(enc.encode_document(["a cat"]), enc.encode(["passage: a cat"]))
    assert not np.allclose(enc.encode_query(["a cat"]), enc.encode(["a cat"]))
    none = static2d.load(path, query_prompt="", document_prompt="doc: ")
    np.testing.assert_array_equal(none.encode_query(["a cat"]), enc.encode(["a cat"]))
    np.testing.assert_array_equal(none.encode_document(["a cat"]), enc.encode(["doc: a cat"]))


def test_one_loaded_model_per_configuration(static_path: Path) -> None:
    a = static2d.load(static_path, dims=8)
    b = static2d.load(str(static_path), dims=32, query_prompt="q: ")
    assert a.same_model(b)
    assert (a.dims, b.dims) == (8, 32)


def test_concurrent_loads_load_once(tiny_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_static_model(tiny_dir / "race")
    calls = []
    real = _engines._static

    def counting(*args: object) -> object:
        calls.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(_engines, "_static", counting)
    barrier = threading.Barrier(8)
    backends = []

    def worker() -> None:
        barrier.wait()
        backends.append(static2d.load(path)._get().engine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert all(b is backends[0] for b in backends)


def test_eight_threads_get_the_serial_vectors(static_path: Path) -> None:
    enc = static2d.load(static_path, dims=32, batch_size=7)
    assert_threads_match_serial(enc, [f"{t} {i}" for i in range(40) for t in TEXTS])


def test_unknown_format_and_damaged_files(tiny_dir: Path) -> None:
    empty = tiny_dir / "not-a-model"
    empty.mkdir()
    (empty / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="Cannot tell what model"):
        static2d.load(empty)
    broken = make_static_model(tiny_dir / "broken")
    (broken / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="download the model again"):
        static2d.load(broken)
    missing = make_static_model(tiny_dir / "missing")
    (missing / "tokenizer.json").unlink()
    with pytest.raises(ValueError, match=r"missing \['tokenizer.json'\]"):
        static2d.load(missing)
    bad_json = make_static_model(tiny_dir / "badjson", fmt="sentence-transformers")
    (bad_json / "modules.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        static2d.load(bad_json)


def test_each_reader_says_how_its_format_encodes(static_path: Path) -> None:
    """model2vec's own way of encoding (its max_length, the unknown token dropped, characters capped) is on the
    description its reader makes; the engine follows those fields, never the format's name."""
    description = describe(static_path, static_path.name)
    m2v = description.format == "model2vec"
    assert (description.drops_unknown, description.caps_characters, description.tokenizer_truncation) == (
        m2v,
        m2v,
        not m2v,
    )
    assert description.static_max_length == (512 if m2v else None)
    engine = StaticEngine(replace(description, format="sentence-transformers-static" if m2v else "model2vec"), None)
    assert (engine._unk_id is not None, engine._char_cap is not None, engine.max_length) == (
        m2v,
        m2v,
        512 if m2v else None,
    )


def test_unknown_paths_and_ids() -> None:
    with pytest.raises(ValueError, match="names no folder: there is no "):
        static2d.load("./no/such/dir")
    with pytest.raises(ValueError, match="hub id"):
        static2d.load("")
    with pytest.raises(OSError, match="HF_HUB_OFFLINE"):
        static2d.load("static2d-tests/definitely-not-cached")


def test_a_file_instead_of_a_directory(tiny_dir: Path) -> None:
    path = make_static_model(tiny_dir / "file-given")
    with pytest.raises(ValueError, match="is a file; pass the directory"):
        static2d.load(path / "config.json")


def test_hub_layout_from_the_cache(tiny_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hub id resolves through huggingface_hub's cache, offline, to the same model as its directory."""
    cache = tiny_dir / "hub-cache"
    snap = cache / "models--owner--tiny" / "snapshots" / ("0" * 40)
    make_static_model(snap, fmt="sentence-transformers")
    (cache / "models--owner--tiny" / "refs").mkdir(parents=True)
    (cache / "models--owner--tiny" / "refs" / "main").write_text("0" * 40)
    enc = static2d.load("owner/tiny", cache_folder=cache, local_files_only=True)
    np.testing.assert_array_equal(enc.encode(TEXTS), static2d.load(snap).encode(TEXTS))
    with pytest.raises(OSError, match="not in the local cache"):
        static2d.load("owner/other", cache_folder=cache)


def test_repr_and_properties(static_path: Path) -> None:
    enc = static2d.load(static_path, dims=10, lazy=True)
    assert "not loaded" in repr(enc)
    assert not enc.loaded
    assert enc.kind == "static"
    assert enc.loaded
    assert (enc.dims, enc.max_dims, enc.layers, enc.max_layers) == (10, 64, None, None)
    assert enc.backend == "numpy"
    assert "dims=10/64" in repr(enc)
    assert json.dumps(enc.options["dims"]) == "10"


def test_options_never_show_the_token(static_path: Path) -> None:
    enc = static2d.load(static_path, token="hf_secret_value", lazy=True)
    assert enc.options["token"] == "***"
    assert "hf_secret_value" not in repr(enc.options) + repr(enc)


def _trained_tokenizer(kind: str) -> object:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    corpus = [t for t in TEXTS if t.strip()] * 3 + ["Café naïve résumé", "tabs\tand\nnew lines", "x" * 40]
    if kind == "bpe-bytelevel":
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>"], show_progress=False)
    elif kind == "unigram-metaspace":
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
        tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="always")
        trainer = trainers.UnigramTrainer(
            vocab_size=120, special_tokens=["<unk>"], unk_token="<unk>", show_progress=False
        )
    elif kind == "unigram-metaspace-first":
        tok = Tokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
        trainer = trainers.UnigramTrainer(
            vocab_size=120, special_tokens=["<unk>"], unk_token="<unk>", show_progress=False
        )
    else:
        tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
        tok.normalizer = normalizers.Strip()
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = trainers.WordLevelTrainer(special_tokens=["<unk>"], show_progress=False)
    tok.train_from_iterator(corpus, trainer=trainer)
    return tok


@pytest.mark.parametrize("kind", ["bpe-bytelevel", "unigram-metaspace", "unigram-metaspace-first", "wordlevel"])
def test_every_text_gets_the_tokens_it_gets_alone(kind: str, tmp_path: Path) -> None:
    """However the static path batches tokenization, each text's vector is the mean over its own tokens."""
    from safetensors.numpy import save_file

    tok = _trained_tokenizer(kind)
    path = make_static_model(tmp_path / kind, fmt="sentence-transformers", dims=8)
    tok.save(str(path / "0_StaticEmbedding" / "tokenizer.json"))  # type: ignore[attr-defined]
    table = np.random.default_rng(1).standard_normal((tok.get_vocab_size(), 8)).astype(np.float32)  # type: ignore[attr-defined]
    save_file({"embedding.weight": table}, str(path / "0_StaticEmbedding" / "model.safetensors"))
    texts = [*TEXTS, " leading space", "trailing space ", "Café naïve résumé", "tabs\tand\nnew lines"] * 40
    expected = []
    for text in texts:
        ids = tok.encode(text, add_special_tokens=False).ids  # type: ignore[attr-defined]
        v = table[ids].astype(np.float64).mean(axis=0) if ids else np.zeros(8)
        n = np.linalg.norm(v)
        expected.append(v / n if n > 0 else v)
    static2d.clear_cache()
    np.testing.assert_allclose(static2d.load(path).encode(texts), np.array(expected), atol=1e-5)
