"""Every table model2vec 0.10 reads gives model2vec's vectors: float16 / float32 / float64 / int8, vocabulary
quantization (token mapping) and per-token weights, in any combination; the float32 table stays memory-mapped.

Models are written by model2vec itself (`StaticModel(...).save_pretrained`, its `quantize_embeddings` for the dtype,
its `quantize_model` for vocabulary quantization), and read back by static2d and by model2vec.
"""

from __future__ import annotations

import json
import mmap
from pathlib import Path

import numpy as np
import pytest
import static2d
from safetensors.numpy import load_file, save_file
from static2d._static.engine import StaticEngine
from static2d_testkit.families import train_tokenizer
from static2d_testkit.multilingual import multilingual_texts

DIMS = 24
TEXTS = [*multilingual_texts(600, seed=21), "", "   ", "[UNK]", "x" * 3000]


@pytest.fixture(scope="module")
def tokenizer() -> object:
    return train_tokenizer("unigram-nfkc")


def _engine(enc: static2d.Encoder) -> StaticEngine:
    engine = enc._get().engine
    assert isinstance(engine, StaticEngine)
    return engine


def _save(folder: Path, tokenizer: object, dtype: str, *, mapping: bool, weights: bool, normalize: bool) -> Path:
    """A model2vec model saved by model2vec: table of `dtype`, with a token mapping and / or token weights."""
    from model2vec import StaticModel
    from model2vec.quantization import DType, quantize_embeddings

    vocab = tokenizer.get_vocab_size()  # type: ignore[attr-defined]
    rng = np.random.default_rng(len(str(folder)))
    rows = 300 if mapping else vocab
    table = quantize_embeddings(rng.standard_normal((rows, DIMS)).astype(np.float32), DType(dtype))
    model = StaticModel(
        vectors=table,
        tokenizer=tokenizer,
        normalize=normalize,
        weights=rng.uniform(0.1, 2.0, vocab).astype(np.float32) if weights else None,
        token_mapping=rng.integers(0, rows, vocab) if mapping else None,
    )
    model.save_pretrained(str(folder))
    return folder


def _model2vec_vectors(folder: Path, texts: list[str]) -> np.ndarray:
    """model2vec's own vectors, computed in float32 (a float16 model's output is float16: it rounds its means)."""
    from model2vec import StaticModel

    model = StaticModel.from_pretrained(str(folder))
    if model.embedding.dtype == np.float16:
        model.embedding = model.embedding.astype(np.float32)
    return np.asarray(model.encode(texts), dtype=np.float32)


@pytest.mark.parametrize("dtype", ["float32", "float16", "float64", "int8"])
@pytest.mark.parametrize(("mapping", "weights"), [(False, False), (False, True), (True, False), (True, True)])
def test_every_dtype_mapping_and_weights_gives_model2vec_vectors(
    tokenizer: object, tmp_path: Path, dtype: str, mapping: bool, weights: bool
) -> None:
    normalize = mapping  # both settings of the model's normalize, across the cases
    folder = _save(tmp_path / "m", tokenizer, dtype, mapping=mapping, weights=weights, normalize=normalize)
    stored = load_file(str(folder / "model.safetensors"))
    assert stored["embeddings"].dtype == np.dtype(dtype)
    assert ("mapping" in stored) == mapping
    assert ("weights" in stored) == weights
    enc = static2d.load(folder, normalize=normalize)  # static2d normalizes unless told, model2vec as its config says
    assert enc.embedding_dim == DIMS
    assert static2d.load(folder, lazy=True).embedding_dim == DIMS
    ours = enc.encode(TEXTS)
    theirs = _model2vec_vectors(folder, TEXTS)
    scale = max(1.0, float(np.abs(theirs).max()))  # int8 without normalizing: means of integers up to 127
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5 * scale)
    assert np.abs(ours).max() > 0
    cut = static2d.load(folder, dims=8, normalize=normalize).encode(TEXTS[:50])
    np.testing.assert_allclose(cut, _normalized(theirs[:50, :8], normalize), rtol=1e-5, atol=1e-5 * scale)


def _normalized(x: np.ndarray, normalize: bool) -> np.ndarray:
    """`x` normalized (as static2d does after cutting to `dims`) where the model normalizes."""
    if not normalize:
        return x
    x = x.astype(np.float64)
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def test_vocabulary_quantization_by_model2vec_int8(tokenizer: object, tmp_path: Path) -> None:
    """model2vec's own quantize_model: k-means vocabulary quantization (mapping + weights) and an int8 table."""
    pytest.importorskip("sklearn")
    from model2vec import StaticModel
    from model2vec.model import quantize_model

    base = _save(tmp_path / "base", tokenizer, "float32", mapping=False, weights=False, normalize=True)
    quantized = quantize_model(StaticModel.from_pretrained(str(base)), vocabulary_quantization=64, quantize_to="int8")
    quantized.save_pretrained(str(tmp_path / "q"))
    config = json.loads((tmp_path / "q" / "config.json").read_text())
    assert config["embedding_dtype"] == "int8"
    assert config["vocabulary_quantization"] == 64
    ours = static2d.load(tmp_path / "q", normalize=True).encode(TEXTS)
    np.testing.assert_allclose(ours, _model2vec_vectors(tmp_path / "q", TEXTS), rtol=1e-5, atol=1e-5)


def test_float32_table_is_a_shared_read_only_map_and_others_are_folded(tokenizer: object, tmp_path: Path) -> None:
    folder = _save(tmp_path / "f32", tokenizer, "float32", mapping=False, weights=False, normalize=False)
    engine = _engine(static2d.load(folder))
    assert not engine.table.flags.writeable
    base = engine.table
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    assert isinstance(base, mmap.mmap)
    np.testing.assert_array_equal(engine.table, load_file(str(folder / "model.safetensors"))["embeddings"])
    folded = _engine(
        static2d.load(_save(tmp_path / "i8", tokenizer, "int8", mapping=True, weights=True, normalize=False))
    )
    assert folded.table.dtype == np.float32
    assert folded.table.flags.writeable  # built once, private to the process


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: {**t, "embeddings": t["embeddings"].astype(np.int16)}, "dtype I16"),
        (lambda t: {**t, "mapping": t["mapping"] + 1000}, "'mapping' in .* points at rows"),
        (lambda t: {**t, "mapping": t["mapping"].astype(np.float32)}, "'mapping' in .* dtype float32"),
        (lambda t: {**t, "weights": t["weights"][:10]}, "'weights' in .* has shape \\(10,\\)"),
    ],
)
def test_a_table_model2vec_does_not_write_is_refused_clearly(
    tokenizer: object, tmp_path: Path, change: object, message: str
) -> None:
    folder = _save(tmp_path / "m", tokenizer, "float32", mapping=True, weights=True, normalize=False)
    tensors = load_file(str(folder / "model.safetensors"))
    save_file(change(tensors), str(folder / "model.safetensors"))  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        static2d.load(folder)
