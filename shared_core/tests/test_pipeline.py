"""The torch engine's pipeline on the CPU (the code path a GPU runs): batches by tokens, exact ids, exact vectors."""

from __future__ import annotations

import json
import logging
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import static2d
from conftest import TEXTS, CountedTokie, sts_dev
from static2d_testkit import TRANSFORMER_FAMILIES, bundled_transformer, tiny_transformer
from static2d_testkit.multilingual import multilingual_texts

torch = pytest.importorskip("torch")
st = pytest.importorskip("sentence_transformers")

from static2d._tokens.exact import PROBES  # noqa: E402
from static2d._tokens.transformer import SentenceTransformersTokenizer  # noqa: E402
from static2d._torch.pipeline import Prefetcher, cut  # noqa: E402 - needs torch


@pytest.fixture(scope="module", params=TRANSFORMER_FAMILIES)
def family_model(request: pytest.FixtureRequest) -> Path:
    return tiny_transformer(request.param)


@pytest.fixture(scope="module")
def bert() -> Path:
    return tiny_transformer("bert")


def _texts(n: int) -> list[str]:
    """n texts of many lengths (from 1 word to past the max length), repeats and empty ones among them."""
    words = " ".join(t for t in TEXTS if t.strip()).split()
    return [" ".join(words[: (i * 7) % 60]) + f" {i}" * (i % 3) for i in range(n)] + ["", "   ", "word " * 300]


def _engine(enc: static2d.Encoder) -> Any:
    return enc._get().engine


class _Shapes:
    """Records the (rows, width) of every batch the transformer runs."""

    def __init__(self, engine: Any) -> None:
        self.seen: list[tuple[int, int]] = []
        self._handle = engine.auto_model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, _module: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        self.seen.append(tuple(ids.shape))

    def close(self) -> None:
        self._handle.remove()


def test_cut_respects_the_token_budget_and_the_row_cap() -> None:
    rng = np.random.default_rng(0)
    lengths = np.sort(rng.integers(1, 300, size=5000))[::-1]
    for max_tokens, max_rows, min_rows in ((1024, 10_000, 1), (1024, 7, 1), (100, 64, 1), (50, 3, 1), (1024, 64, 32)):
        ends = cut(lengths, max_tokens, max_rows, min_rows)
        assert ends[-1] == len(lengths)
        starts = [0, *ends[:-1]]
        for start, end in zip(starts, ends, strict=True):
            rows, width = end - start, int(lengths[start])
            assert 1 <= rows <= max_rows
            # within the budget, or a single text longer than it, or the floor of rows (min_rows) of long texts
            assert rows * width <= max_tokens or rows == 1 or rows == min_rows
            # full: one more text would break the budget, the cap or the floor (except the last batch)
            if end < len(lengths):
                assert rows == max_rows or ((rows + 1) * width > max_tokens and rows >= min_rows)


def test_batches_hold_sentence_transformers_ids_and_every_row_once(bert: Path) -> None:
    """Each batch, padded by the pipeline, holds the ids sentence-transformers makes for those texts."""
    enc = static2d.load(bert, backend="torch")
    engine = _engine(enc)
    assert "tokenizers" in engine.tokenizer.name  # the fast path was proven exact on the probe
    texts = _texts(700) + list(PROBES)
    reference = SentenceTransformersTokenizer(engine.model, type_ids=True)
    seen: list[int] = []
    with Prefetcher(texts, "query: ", engine.tokenizer, engine.layout, max_tokens=512, max_rows=64) as batches:
        for batch in batches:
            ids, mask = batch.inputs["input_ids"], batch.inputs["attention_mask"]
            assert ids.shape[0] * ids.shape[1] <= 512 or ids.shape[0] == 1
            assert ids.shape[0] <= 64
            assert batch.padded == bool((mask == 0).any())
            expected = reference.features(["query: " + texts[i] for i in batch.rows])
            width = int(expected["input_ids"].shape[1])
            assert ids.shape[1] == width  # padded to the batch's longest text, as sentence-transformers pads
            assert torch.equal(ids, expected["input_ids"])
            assert torch.equal(mask, expected["attention_mask"])
            assert torch.equal(batch.inputs["token_type_ids"], expected["token_type_ids"])
            seen.extend(batch.rows.tolist())
    assert sorted(seen) == list(range(len(texts)))


def test_tokie_takes_the_printable_ascii_texts_with_sentence_transformers_ids(bert: Path) -> None:
    """For BERT's WordPiece, tokie tokenizes the texts of printable ASCII and Hugging Face the others, in one call:
    sentence-transformers' ids, token type ids and truncation, in the texts' order."""
    pytest.importorskip("tokie")
    engine = _engine(static2d.load(bert, backend="torch"))
    assert engine.tokenizer.name == "tokie + tokenizers"
    rng = random.Random(0)
    printable = [chr(c) for c in range(0x20, 0x7F)]
    texts = ["".join(rng.choices(printable, k=rng.randint(0, 150))) for _ in range(600)]
    texts += [*multilingual_texts(200, seed=3), "word " * 300, "x" * 2000, *PROBES]
    rng.shuffle(texts)
    got = engine.tokenizer.tokenize(texts)
    expected = SentenceTransformersTokenizer(engine.model, type_ids=True).tokenize(texts)
    np.testing.assert_array_equal(got.lengths, expected.lengths)
    np.testing.assert_array_equal(got.ids, expected.ids)
    np.testing.assert_array_equal(got.type_ids, expected.type_ids)


def test_tokie_keeps_to_the_thread_limit_in_the_torch_engine(bert: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Below the process's CPUs (a Ray actor given one CPU), tokie tokenizes text by text instead of on a thread per
    CPU: the same ids."""
    pytest.importorskip("tokie")
    from static2d import _threads

    engine = _engine(static2d.load(bert, backend="torch"))
    counted = CountedTokie(engine.tokenizer._fast)
    monkeypatch.setattr(engine.tokenizer, "_fast", counted)
    texts = _texts(300)
    monkeypatch.setattr(_threads, "affinity_cpus", lambda: 4)
    monkeypatch.setattr(_threads, "limit", lambda: 4)
    expected = engine.tokenizer.tokenize(texts)
    assert (counted.batches, counted.texts) == (1, 0)
    counted.batches = 0
    monkeypatch.setattr(_threads, "limit", lambda: 1)
    got = engine.tokenizer.tokenize(texts)
    assert counted.batches == 0
    assert counted.texts > 0
    np.testing.assert_array_equal(got.ids, expected.ids)
    np.testing.assert_array_equal(got.lengths, expected.lengths)


def test_tokie_is_not_used_where_it_disagrees_on_one_probe(bert: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tokie that gets one pair of ASCII characters wrong (only the pair probes hold "|}") is
    refused at load: Hugging Face tokenizes every text."""
    pytest.importorskip("tokie")
    from static2d._tokens import transformer as tokens

    class OnePairWrong:
        def __init__(self, fast: Any) -> None:
            self.fast = fast

        def encode_batch_flat(self, texts: list[str], add_special_tokens: bool) -> tuple[Any, Any]:
            ids, lengths = self.fast.encode_batch_flat(texts, add_special_tokens=add_special_tokens)
            if any("|}" in t for t in texts):
                ids = ids.copy()
                ids[1] += 1
            return ids, lengths

    real = tokens.TokieTokenizer.make

    def make(exact: Any) -> Any:
        made = real(exact)
        if made is not None:
            made._fast = OnePairWrong(made._fast)
        return made

    monkeypatch.setattr(tokens.TokieTokenizer, "make", make)
    static2d.clear_cache()
    enc = static2d.load(bert, backend="torch")
    assert _engine(enc).tokenizer.name == "tokenizers"
    static2d.clear_cache()


def test_a_tokenizer_error_reaches_the_caller_and_names_the_text(bert: Path) -> None:
    enc = static2d.load(bert, backend="torch")
    texts = [*_texts(600), "bad \udcff surrogate", "fine"]
    with pytest.raises(ValueError, match=r"item 603 holds '\\udcff'"):
        enc.encode(texts)
    assert enc.encode(["still works"]).shape == (1, 32)  # the engine is usable after the error


@pytest.mark.slow
def test_minilm_float32_is_sentence_transformers_to_the_last_bits() -> None:
    """Run directly (own ids, token-budget batches, pooling and normalisation on the device), the vectors are
    sentence-transformers' own: max difference ~1e-7 on the CPU."""
    path = bundled_transformer()
    texts = TEXTS + sts_dev()[0][:300]
    ours = static2d.load(path, backend="torch").encode(texts)
    theirs = st.SentenceTransformer(str(path), device="cpu").encode(texts, normalize_embeddings=True)
    assert float(np.abs(ours - theirs).max()) < 2e-6


def test_each_family_is_sentence_transformers_with_prompts(family_model: Path) -> None:
    enc = static2d.load(family_model, backend="torch", query_prompt="query: ")
    texts = _texts(40)
    model = st.SentenceTransformer(str(family_model), device="cpu")
    theirs = model.encode(texts, prompt="query: ", normalize_embeddings=True)
    np.testing.assert_allclose(enc.encode_query(texts), theirs, atol=2e-6, rtol=0)


@pytest.mark.parametrize(
    "pooling",
    [
        {"pooling_mode": "mean", "include_prompt": False},
        {"pooling_mode": ["cls", "mean"], "include_prompt": False},
        {"pooling_mode": "lasttoken"},
        {"pooling_mode": "max"},
    ],
)
def test_pooling_leaves_the_prompt_out_as_sentence_transformers(
    bert: Path, tmp_path: Path, pooling: dict[str, object]
) -> None:
    path = tmp_path / "model"
    shutil.copytree(bert, path)
    (path / "1_Pooling" / "config.json").write_text(json.dumps({"embedding_dimension": 32, **pooling}))
    prompt = "query: a prompt of a few words: "
    texts = [t for t in _texts(60) if t.strip()]
    ours = static2d.load(path, backend="torch", query_prompt=prompt).encode_query(texts)
    theirs = st.SentenceTransformer(str(path), device="cpu").encode(texts, prompt=prompt, normalize_embeddings=True)
    np.testing.assert_allclose(ours, theirs, atol=2e-6, rtol=0)


def test_memory_is_bounded_by_the_token_budget_not_the_text_count(bert: Path) -> None:
    """However many texts, no batch the transformer runs holds more than max_batch_tokens padded tokens."""
    enc = static2d.load(bert, backend="torch")
    engine = _engine(enc)
    budget, engine.max_batch_tokens = engine.max_batch_tokens, 384
    least, engine.min_batch_texts = engine.min_batch_texts, 1  # (the CPU's floor of texts a batch, tested below)
    shapes = _Shapes(engine)
    try:
        few, many = _texts(30), _texts(1500)
        enc.encode(few)
        largest_few = max(r * w for r, w in shapes.seen)
        shapes.seen.clear()
        enc.encode(many)
        largest_many = max(r * w for r, w in shapes.seen)
        assert len(shapes.seen) > 10
        assert sum(r for r, _ in shapes.seen) == len(many)  # each text runs once
        assert largest_many <= 384  # no text is longer than the budget here (max length 128)
        assert largest_few <= 384
        # batches are filled towards the budget, not fixed at a count: short texts come many to a batch
        rows = [r for r, _ in shapes.seen]
        assert max(rows) > 3 * min(rows)
    finally:
        shapes.close()
        engine.max_batch_tokens, engine.min_batch_texts = budget, least


def test_batch_size_caps_the_texts_per_batch(bert: Path) -> None:
    enc = static2d.load(bert, backend="torch", batch_size=5)
    assert enc.batch_size == 5
    shapes = _Shapes(_engine(enc))
    try:
        enc.encode(_texts(100))
        assert max(r for r, _ in shapes.seen) == 5
    finally:
        shapes.close()
    assert static2d.load(bert, backend="torch").batch_size == 4096  # the torch default: the token budget binds


def test_bert_family_masks_never_wait_for_the_device(bert: Path, family_model: Path) -> None:
    """BERT-like models get a mask transformers does not check on the device (proven equal at load)."""
    engine = _engine(static2d.load(family_model, backend="torch"))
    model_type = engine.auto_model.config.model_type
    plain = model_type in {"bert", "xlm-roberta", "distilbert"}
    assert (engine._mask_4d, engine._no_mask) == (plain, plain)


def test_grid_and_batch_encoder_use_the_same_path(bert: Path) -> None:
    import pandas as pd

    enc = static2d.load(bert, backend="torch", document_prompt="passage: ")
    texts = _texts(50)
    grid = enc.encode_document_grid(texts, layers=[2, 4], dims=[8, 32])
    np.testing.assert_allclose(grid[4, 32], enc.encode_document(texts), atol=1e-6, rtol=0)
    np.testing.assert_allclose(
        grid[2, 8],
        static2d.load(bert, backend="torch", layers=2, dims=8, document_prompt="passage: ").encode_document(texts),
        atol=1e-6,
        rtol=0,
    )
    batch = static2d.BatchEncoder(bert, backend="torch", document_prompt="passage: ")
    out = batch(pd.DataFrame({"text": texts}))
    np.testing.assert_allclose(np.stack(out["embedding"]), enc.encode_document(texts), atol=1e-6, rtol=0)


def test_the_device_and_backend_are_said(bert: Path, caplog: pytest.LogCaptureFixture) -> None:
    static2d.clear_cache()
    with caplog.at_level(logging.INFO, logger="static2d"):
        enc = static2d.load(bert, backend="torch", layers=3)
    assert (enc.device, enc.backend, enc.dtype) == ("cpu", "torch", "float32")
    assert any(f"{bert} runs on cpu (torch, float32)" in r.getMessage() for r in caplog.records)
    fields = enc.describe()
    assert (fields["device"], fields["backend"], fields["dtype"]) == ("cpu", "torch", "float32")


def test_progress_bar_counts_texts(bert: Path, capsys: pytest.CaptureFixture[str]) -> None:
    enc = static2d.load(bert, backend="torch")
    out = enc.encode(_texts(200), show_progress_bar=True)
    assert out.shape == (203, 32)
    assert "203/203" in capsys.readouterr().err
