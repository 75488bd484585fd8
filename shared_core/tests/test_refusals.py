"""What static2d refuses, and how it says so: module types, configs, weights, tokenizers, heads, texts, max_length,
batches and fingerprints each give static2d's own error naming the problem, on every backend, never a deep trace
or wrong vectors.

Each test builds the bad input in a temporary folder (from the bundled all-MiniLM-L6-v2 or a tiny model) and
asserts the error type and the words that matter.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import static2d
from conftest import add_dense_module, onnx_cache_at
from static2d_testkit import bundled_transformer, make_static_model, tiny_transformer

torch = pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")
pytest.importorskip("onnxruntime")
from safetensors.numpy import load_file, save_file  # noqa: E402

TEXTS = ["A panda eats bamboo.", "The river bank at night.", "What is the capital of France?"]
BACKENDS = ["torch", "onnx", "auto"]


@pytest.fixture(autouse=True)
def onnx_cache(tmp_path: Path) -> Iterator[Path]:
    """A fresh ONNX cache per test, and no loaded model kept between tests."""
    with onnx_cache_at(tmp_path / "onnx-cache") as folder:
        yield folder


@pytest.fixture(scope="module")
def bert() -> Path:
    return tiny_transformer("bert", layers=2)


def linked_copy(src: Path, dst: Path, *, copy: tuple[str, ...] = ()) -> Path:
    """A copy of a model folder: files in `copy` copied (to be changed), the others linked."""
    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif str(path.relative_to(src)) in copy:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    return dst


def with_modules(src: Path, dst: Path, change: dict[int, str]) -> Path:
    """A copy of a model whose modules.json names other types (entry index -> type)."""
    path = linked_copy(src, dst, copy=("modules.json",))
    modules = json.loads((path / "modules.json").read_text())
    for index, type_name in change.items():
        modules[index]["type"] = type_name
    (path / "modules.json").write_text(json.dumps(modules))
    return path


# --- module types are matched by their full name -----------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("index", "type_name"), [(1, "custom_pkg.Pooling"), (0, "my_models.Transformer")])
def test_a_module_of_another_package_is_refused_on_every_backend(
    bert: Path, tmp_path: Path, backend: str, index: int, type_name: str
) -> None:
    path = with_modules(bert, tmp_path / "custom", {index: type_name})
    with pytest.raises(ValueError, match=rf"names module {index} '{type_name}', which is not one of sentence-transf"):
        static2d.load(path, backend=backend)


def test_a_static_module_of_another_package_is_refused(tmp_path: Path) -> None:
    src = make_static_model(tmp_path / "st", fmt="sentence-transformers")
    path = with_modules(src, tmp_path / "custom", {0: "custom_pkg.StaticEmbedding"})
    with pytest.raises(ValueError, match=r"'custom_pkg\.StaticEmbedding', which is not one of sentence-transformers'"):
        static2d.load(path)


@pytest.mark.parametrize(
    "names",
    [
        # sentence-transformers up to 5.x
        ("sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling"),
        ("sentence_transformers.models.transformer.Transformer", "sentence_transformers.models.pooling.Pooling"),
        # 6.x, as it saves them
        (
            "sentence_transformers.base.modules.transformer.Transformer",
            "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
        ),
    ],
)
def test_sentence_transformers_own_modules_are_read_under_each_name(
    bert: Path, tmp_path: Path, names: tuple[str, str]
) -> None:
    import importlib
    import warnings

    def importable(name: str) -> bool:  # by the installed sentence-transformers (each release knows some names)
        module, _, attr = name.rpartition(".")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # sentence-transformers 6's word on old names
                return hasattr(importlib.import_module(module), attr)
        except ImportError:
            return False

    reference = static2d.load(bert, backend="torch").encode(TEXTS)
    path = with_modules(bert, tmp_path / "named", dict(enumerate(names)))
    backends = ["onnx", *(["torch"] if all(map(importable, names)) else [])]
    for backend in backends:
        np.testing.assert_allclose(static2d.load(path, backend=backend).encode(TEXTS), reference, atol=1e-4, rtol=0)


# --- a missing Pooling config ------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_missing_pooling_config_is_refused_naming_the_file(tmp_path: Path, backend: str) -> None:
    path = linked_copy(bundled_transformer(), tmp_path / "no-pooling")
    (path / "1_Pooling" / "config.json").unlink()
    with pytest.raises(ValueError, match=rf"has a Pooling module but no {path / '1_Pooling' / 'config.json'}: "):
        static2d.load(path, backend=backend)


def test_a_missing_dense_config_is_refused_naming_the_file(bert: Path, tmp_path: Path) -> None:
    path = linked_copy(bert, tmp_path / "m", copy=("modules.json",))
    add_dense_module(path)
    with pytest.raises(ValueError, match=r"2_Dense/config\.json is missing\. The model files look incomplete"):
        static2d.load(path, lazy=True)


# --- NaN and infinity in transformer weights ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_transformer_weight_with_nan_or_inf_is_refused(
    tmp_path: Path, backend: str, bad: float, onnx_cache: Path
) -> None:
    src = bundled_transformer()
    path = linked_copy(src, tmp_path / "nan")
    tensors = load_file(str(src / "model.safetensors"))
    tensors["encoder.layer.3.output.dense.weight"][17, 5] = bad
    (path / "model.safetensors").unlink()
    save_file(tensors, str(path / "model.safetensors"))
    with pytest.raises(
        ValueError, match=r"hold NaN or infinite values in 1 tensor\(s\): encoder\.layer\.3\.output\.dense\.weight"
    ):
        static2d.load(path, backend=backend)
    assert not onnx_cache.exists() or not any(onnx_cache.iterdir()), "nothing may be exported from such weights"
    # a layer that does not run may hold anything: its weights are not read
    assert static2d.load(path, layers=3, backend="torch").encode(TEXTS).shape == (3, 384)


def test_bfloat16_weights_are_checked_too(tmp_path: Path) -> None:
    from safetensors.torch import load_file as load_torch
    from safetensors.torch import save_file as save_torch

    src = bundled_transformer()
    path = linked_copy(src, tmp_path / "bf16")
    tensors = {k: v.to(torch.bfloat16) for k, v in load_torch(str(src / "model.safetensors")).items()}
    (path / "model.safetensors").unlink()
    save_torch(tensors, str(path / "model.safetensors"))
    assert static2d.load(path, backend="torch").encode(TEXTS).shape == (3, 384)  # finite bfloat16 loads
    static2d.clear_cache()
    tensors["embeddings.word_embeddings.weight"][100, 3] = float("-inf")
    save_torch(tensors, str(path / "model.safetensors"))
    with pytest.raises(ValueError, match=r"1 tensor\(s\): embeddings\.word_embeddings\.weight"):
        static2d.load(path, backend="torch")


# --- tokenizer.json that tokenizers cannot read ------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"\x00\x01\xff\xfe binary", b'{"model": {"type": "WordPiece"'])
def test_a_damaged_tokenizer_json_is_refused_naming_the_file(tmp_path: Path, bert: Path, content: bytes) -> None:
    static = make_static_model(tmp_path / "static")
    (static / "tokenizer.json").write_bytes(content)
    with pytest.raises(ValueError, match=rf"{static / 'tokenizer.json'} is not a tokenizer that Hugging Face"):
        static2d.load(static)
    path = linked_copy(bert, tmp_path / "tf", copy=("tokenizer.json",))
    (path / "tokenizer.json").write_bytes(content)
    for backend in BACKENDS:
        with pytest.raises(ValueError, match=r"tokenizer\.json is not a tokenizer .*download the model again"):
            static2d.load(path, backend=backend)


# --- a Dense head that does not fit its config -------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_dense_head_whose_weights_do_not_fit_its_config_is_refused(bert: Path, tmp_path: Path, backend: str) -> None:
    path = linked_copy(bert, tmp_path / "dense", copy=("modules.json",))
    dense = add_dense_module(path, (32, 8))
    weights = {"linear.weight": np.zeros((16, 32), dtype=np.float32), "linear.bias": np.zeros(16, dtype=np.float32)}
    save_file(weights, str(dense / "model.safetensors"))
    with pytest.raises(
        ValueError,
        match=r"Dense head in .*2_Dense does not fit its config\.json .*linear\.weight \(16, 32\) \(expected",
    ):
        static2d.load(path, backend=backend)


# --- texts: bytes, and lone surrogates in grids ------------------------------------------------------------------


@pytest.mark.parametrize("given", [b"abc", b"", bytearray(b"abc")])
def test_bytes_are_not_text(tmp_path: Path, given: bytes) -> None:
    enc = static2d.load(make_static_model(tmp_path / "m"))
    for encode in (enc.encode, enc.encode_query, enc.encode_document):
        with pytest.raises(TypeError, match=r"takes a list of str, got (bytes|bytearray) \(b'(abc)?'\): bytes are not"):
            encode(given)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"item 1 is bytes \(b'abc'\): bytes are not text\. Decode it first"):
        enc.encode(["fine", b"abc"])  # type: ignore[list-item]


@pytest.mark.parametrize("backend", ["torch", "onnx"])
@pytest.mark.parametrize("method", ["encode_grid", "encode_query_grid", "encode_document_grid"])
def test_a_lone_surrogate_names_its_item_in_a_grid(bert: Path, backend: str, method: str) -> None:
    enc = static2d.load(bert, backend=backend)
    with pytest.raises(ValueError, match=r"item 1 holds '\\udcff' at character 2, a lone surrogate.*Repair or drop"):
        getattr(enc, method)(["fine", "a \udcff b"], layers=[1, 2], dims=[8])
    assert enc.encode_grid(["fine"], layers=[1], dims=[8])[1, 8].shape == (1, 8)


# --- max_length --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_max_length_is_applied_to_a_text_longer_than_the_positions(backend: str) -> None:
    long = ["word " * 2000, "a panda"]
    with pytest.raises(
        ValueError, match=r"max_length=1 leaves no room for text: .* puts 2 special tokens .*max_length=3"
    ):
        static2d.load(bundled_transformer(), backend=backend, max_length=1)
    with pytest.raises(ValueError, match=r"max_length=2 leaves no room for text"):
        static2d.load(bundled_transformer(), backend=backend, max_length=2, lazy=True)
    got = static2d.load(bundled_transformer(), backend=backend, max_length=3).encode(long)
    reference = static2d.load(bundled_transformer(), backend="torch", max_length=3).encode(["word", "a"])
    np.testing.assert_allclose(got, reference, atol=1e-4, rtol=0)  # [CLS] first-token [SEP]


# --- BatchEncoder on a batch with two text columns ---------------------------------------------------------------


def test_batch_encoder_refuses_two_columns_of_the_text_columns_name(tmp_path: Path) -> None:
    pandas = pytest.importorskip("pandas")
    pyarrow = pytest.importorskip("pyarrow")
    encoder = static2d.BatchEncoder(str(make_static_model(tmp_path / "m")), column="text")
    frame = pandas.DataFrame([["a cat", "a dog"], ["a fox", "a hen"]], columns=["text", "text"])
    with pytest.raises(ValueError, match=r"the DataFrame batch has 2 columns named 'text'.*Rename or drop"):
        encoder(frame)
    table = pyarrow.table([["a cat"], ["a dog"]], names=["text", "text"])
    with pytest.raises(ValueError, match=r"the Table batch has 2 columns named 'text'"):
        encoder(table)


# --- check_fingerprint's second argument -------------------------------------------------------------------------


@pytest.mark.parametrize("other", [None, "s2d1-0000000000000000", {"fingerprint": "x"}, 42])
def test_check_fingerprint_refuses_what_is_not_an_embedder(tmp_path: Path, other: object) -> None:
    stored = static2d.load(make_static_model(tmp_path / "m")).describe()
    with pytest.raises(TypeError, match=r"takes the embedder about to embed the queries as its second argument"):
        static2d.check_fingerprint(stored, other)  # type: ignore[arg-type]


# --- a forged float cache entry ----------------------------------------------------------------------------------


def test_a_shallower_graph_with_rewritten_metadata_is_never_used(
    bert: Path, onnx_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import hashlib

    full = static2d.load(bert, backend="onnx").encode(TEXTS)
    one = static2d.load(bert, backend="onnx", layers=1).encode(TEXTS)
    (l1,) = [p for p in onnx_cache.glob("bert-L1-*") if p.is_dir()]
    (l2,) = [p for p in onnx_cache.glob("bert-L2-*") if p.is_dir()]
    graph = (l1 / "model.onnx").read_bytes()
    (l2 / "model.onnx").write_bytes(graph)
    meta = json.loads((l2 / "static2d.json").read_text())
    meta["files"]["model.onnx"] = {"sha256": hashlib.sha256(graph).hexdigest(), "size": len(graph)}
    (l2 / "static2d.json").write_text(json.dumps(meta))
    static2d.clear_cache()
    with caplog.at_level("WARNING", logger="static2d"):
        again = static2d.load(bert, backend="onnx").encode(TEXTS)
    assert f"The cached ONNX graph {l2} was not built as its static2d.json says" in caplog.text
    np.testing.assert_allclose(again, full, atol=1e-6, rtol=0)
    assert not np.allclose(again, one, atol=1e-3)
