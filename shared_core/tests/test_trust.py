"""Trust: a damaged model, a bad option or a bad text gives static2d's own clear error, never wrong vectors.

Each test builds a broken model in a temporary folder from the bundled all-MiniLM-L6-v2 or a tiny model (a tensor
removed, a config changed, a NaN written, a file truncated, a JSON file mangled, a cache entry swapped) and
asserts the exact error type and the words that matter in its message.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import static2d
from conftest import add_dense_module, onnx_cache_at
from static2d_testkit import bundled_transformer, make_static_model

torch = pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")
from safetensors.numpy import load_file, save_file  # noqa: E402

TEXTS = ["A panda eats bamboo.", "The river bank at night.", "What is the capital of France?"]


@pytest.fixture(autouse=True)
def onnx_cache(tmp_path: Path) -> Iterator[Path]:
    """A fresh ONNX cache per test (so nothing damaged is ever reused), and no loaded model kept between tests."""
    folder = tmp_path / "onnx-cache"
    with onnx_cache_at(folder):
        yield folder


def copy_model(src: Path, dst: Path, *, copy: tuple[str, ...] = ()) -> Path:
    """A copy of a model folder: files in `copy` copied (to be damaged), the others linked (read-only use)."""
    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if str(path.relative_to(src)) in copy:
            shutil.copyfile(path, target)
        else:
            target.symlink_to(path)
    return dst


def minilm_with(tmp_path: Path, change: dict[str, np.ndarray | None], name: str = "broken") -> Path:
    """MiniLM with tensors of model.safetensors replaced (an array), added, or removed (None)."""
    src = bundled_transformer()
    dst = copy_model(src, tmp_path / name, copy=())
    tensors = load_file(str(src / "model.safetensors"))
    for key, value in change.items():
        if value is None:
            del tensors[key]
        else:
            tensors[key] = value
    (dst / "model.safetensors").unlink()
    save_file(tensors, str(dst / "model.safetensors"))
    return dst


def minilm_config(tmp_path: Path, **changes: object) -> Path:
    src = bundled_transformer()
    dst = copy_model(src, tmp_path / "config", copy=("config.json",))
    config = json.loads((dst / "config.json").read_text())
    config.update(changes)
    (dst / "config.json").write_text(json.dumps(config))
    return dst


def reference(layers: int | None = None) -> np.ndarray:
    return static2d.load(bundled_transformer(), backend="torch", layers=layers).encode(TEXTS)


QUERY = "encoder.layer.2.attention.self.query.weight"

# --- damaged transformer weights ---------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["torch", "onnx", "auto"])
def test_a_missing_tensor_is_named_not_filled_with_random_numbers(
    tmp_path: Path, backend: str, onnx_cache: Path
) -> None:
    path = minilm_with(tmp_path, {QUERY: None})
    with pytest.raises(ValueError, match=r"missing 1 tensor\(s\): encoder\.layer\.2\.attention\.self\.query\.weight"):
        static2d.load(path, backend=backend)
    with pytest.raises(ValueError, match=rf"{path / 'model.safetensors'}.*download the model again"):
        static2d.load(path, backend=backend)
    assert not onnx_cache.exists() or not any(onnx_cache.iterdir()), "nothing may be exported from damaged weights"


def test_a_tensor_of_a_layer_that_does_not_run_may_be_missing(tmp_path: Path) -> None:
    path = minilm_with(tmp_path, {QUERY: None})
    got = static2d.load(path, layers=2, backend="torch").encode(TEXTS)
    np.testing.assert_allclose(got, reference(layers=2), atol=1e-6, rtol=0)


def test_the_unused_pooler_may_be_missing(tmp_path: Path) -> None:
    path = minilm_with(tmp_path, {"pooler.dense.weight": None, "pooler.dense.bias": None})
    np.testing.assert_allclose(static2d.load(path, backend="torch").encode(TEXTS), reference(), atol=1e-6, rtol=0)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_a_wrongly_shaped_tensor_is_named(tmp_path: Path, backend: str) -> None:
    path = minilm_with(tmp_path, {QUERY: np.zeros((384, 380), dtype=np.float32)})
    with pytest.raises(
        ValueError, match=r"wrong shape: encoder\.layer\.2\.attention\.self\.query\.weight \(384, 380\) "
    ):
        static2d.load(path, backend=backend)


def test_an_unexpected_tensor_in_a_layer_is_named(tmp_path: Path) -> None:
    renamed = "encoder.layer.1.attention.self.quary.weight"
    tensors = load_file(str(bundled_transformer() / "model.safetensors"))
    path = minilm_with(tmp_path, {renamed: tensors[QUERY.replace("2", "1")], QUERY.replace("2", "1"): None})
    with pytest.raises(ValueError, match=rf"missing 1 .*; 1 tensor\(s\) the architecture does not have: {renamed}"):
        static2d.load(path, backend="torch")


def test_heads_for_other_tasks_are_not_unexpected(tmp_path: Path) -> None:
    path = minilm_with(tmp_path, {"cls.predictions.bias": np.zeros(30522, dtype=np.float32)})
    np.testing.assert_allclose(static2d.load(path, backend="torch").encode(TEXTS), reference(), atol=1e-6, rtol=0)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_a_config_declaring_more_layers_than_the_weights_hold(tmp_path: Path, backend: str) -> None:
    path = minilm_config(tmp_path, num_hidden_layers=12)
    with pytest.raises(ValueError, match=r"config\.json declares 12 layers, the weights hold 6 \(pass layers=6"):
        static2d.load(path, backend=backend)
    # the layers that exist are fine
    got = static2d.load(path, layers=6, backend=backend).encode(TEXTS)
    np.testing.assert_allclose(got, reference(), atol=1e-4, rtol=0)


def test_a_config_declaring_fewer_layers_than_the_weights_hold(tmp_path: Path) -> None:
    path = minilm_config(tmp_path, num_hidden_layers=4)
    with pytest.raises(ValueError, match=r"does not have: encoder\.layer\.4\..*declares 4 layers, the weights hold 6"):
        static2d.load(path, backend="torch")


def test_a_config_with_another_hidden_size(tmp_path: Path) -> None:
    path = minilm_config(tmp_path, hidden_size=768)
    with pytest.raises(ValueError, match=r"wrong shape: .*\(30522, 384\) \(expected \(30522, 768\)\)"):
        static2d.load(path, backend="torch")


@pytest.mark.parametrize("backend", ["torch", "onnx", "auto"])
@pytest.mark.parametrize("keep", [0, 5, 1000, "tensors"])
def test_a_truncated_safetensors_file_says_download_again(tmp_path: Path, backend: str, keep: object) -> None:
    src = bundled_transformer()
    path = copy_model(src, tmp_path / "cut")
    data = (src / "model.safetensors").read_bytes()
    size = len(data) - 4096 if keep == "tensors" else int(keep)  # type: ignore[call-overload]
    (path / "model.safetensors").unlink()
    (path / "model.safetensors").write_bytes(data[:size])
    with pytest.raises(ValueError, match=rf"{path / 'model.safetensors'} is damaged or truncated: download the model"):
        static2d.load(path, backend=backend)


def _sharded(tmp_path: Path) -> Path:
    """MiniLM with its weights in two shards and an index, as transformers saves large models."""
    src = bundled_transformer()
    dst = copy_model(src, tmp_path / "sharded")
    tensors = load_file(str(src / "model.safetensors"))
    (dst / "model.safetensors").unlink()
    names = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    weight_map = {}
    for file, keys in shards.items():
        save_file({k: tensors[k] for k in keys}, str(dst / file))
        weight_map.update(dict.fromkeys(keys, file))
    (dst / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return dst


def test_sharded_weights_are_read_and_checked(tmp_path: Path) -> None:
    path = _sharded(tmp_path)
    np.testing.assert_allclose(static2d.load(path, backend="torch").encode(TEXTS), reference(), atol=1e-6, rtol=0)
    static2d.clear_cache()
    shard = path / "model-00002-of-00002.safetensors"
    tensors = load_file(str(shard))
    del tensors[QUERY]
    save_file(tensors, str(shard))
    with pytest.raises(ValueError, match=rf"missing 1 tensor\(s\): {QUERY}") as info:
        static2d.load(path, backend="torch")
    assert str(shard) in str(info.value)
    shard.unlink()
    with pytest.raises(ValueError, match=r"index\.json names weight files that are not there: \['model-00002"):
        static2d.load(path, backend="torch")


# --- tokenizers, pickles, static tables -------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_a_transformer_without_tokenizer_files_is_refused(tmp_path: Path, backend: str) -> None:
    path = copy_model(bundled_transformer(), tmp_path / "notok")
    for name in ("tokenizer.json", "vocab.txt"):
        (path / name).unlink()
    with pytest.raises(ValueError, match=r"no tokenizer in .*no tokenizer\.json and no vocabulary file.*unknown"):
        static2d.load(path, backend=backend)


def test_a_vocab_file_alone_is_a_usable_tokenizer(tmp_path: Path) -> None:
    path = copy_model(bundled_transformer(), tmp_path / "vocab-only")
    (path / "tokenizer.json").unlink()
    np.testing.assert_allclose(static2d.load(path, backend="torch").encode(TEXTS), reference(), atol=1e-5, rtol=0)


def test_a_dense_head_only_as_a_pickle_is_refused_never_unpickled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = bundled_transformer()
    path = copy_model(src, tmp_path / "pickled-dense", copy=("modules.json",))
    dense = add_dense_module(path, (384, 8))
    torch.save({"linear.weight": torch.zeros(8, 384), "linear.bias": torch.zeros(8)}, dense / "pytorch_model.bin")
    unpickled: list[object] = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: unpickled.append(a))
    for backend in ("torch", "onnx", "auto"):
        with pytest.raises(
            ValueError, match=r"Dense module in .*2_Dense has its weights only as \['pytorch_model\.bin'\]"
        ):
            static2d.load(path, backend=backend)
    assert unpickled == []


@pytest.mark.parametrize("fmt", ["model2vec", "sentence-transformers"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_static_table_with_nan_or_inf_is_refused(tmp_path: Path, fmt: str, bad: float) -> None:
    path = make_static_model(tmp_path / "m", fmt=fmt)  # type: ignore[arg-type]
    file = path / "model.safetensors" if fmt == "model2vec" else path / "0_StaticEmbedding" / "model.safetensors"
    tensors = load_file(str(file))
    key = "embeddings" if fmt == "model2vec" else "embedding.weight"
    tensors[key][7, 3] = bad
    save_file(tensors, str(file))
    with pytest.raises(
        ValueError, match=rf"embedding table in {file} holds NaN or infinite values in 1 row\(s\) \(rows 7\)"
    ):
        static2d.load(path)


def test_static_token_weights_with_nan_are_refused(tmp_path: Path) -> None:
    path = make_static_model(tmp_path / "m", token_weights=True)
    tensors = load_file(str(path / "model.safetensors"))
    tensors["weights"][[2, 9]] = np.nan
    save_file(tensors, str(path / "model.safetensors"))
    with pytest.raises(
        ValueError, match=r"NaN or infinite values in 2 row\(s\) \(rows 2, 9\).*download the model again"
    ):
        static2d.load(path)


# --- token safety ---------------------------------------------------------------------------------------------

SECRET = "hf_NotARealTokenButSecret1234"


def test_a_token_is_never_pickled_nor_shown(tmp_path: Path) -> None:
    import pickle

    path = make_static_model(tmp_path / "m")
    enc = static2d.load(path, token=SECRET, lazy=True)
    for text in (repr(enc), repr(enc._options), str(enc.options), repr(enc.warm_up())):
        assert SECRET not in text
    data = pickle.dumps(enc)
    assert SECRET.encode() not in data
    again = pickle.loads(data)
    assert again._options.token is None  # the other side reads HF_TOKEN, if it needs a token
    np.testing.assert_array_equal(again.encode(TEXTS), enc.encode(TEXTS))
    assert enc.options["token"] == "***"


def test_a_token_flag_survives_pickling(tmp_path: Path) -> None:
    import pickle

    path = make_static_model(tmp_path / "m")
    assert pickle.loads(pickle.dumps(static2d.load(path, token=False, lazy=True)))._options.token is False


# --- embedding_dim, known before loading ----------------------------------------------------------------------


@pytest.mark.parametrize(("dims", "expected"), [(None, 64), (16, 16)])
def test_static_embedding_dim_before_loading(tmp_path: Path, dims: int | None, expected: int) -> None:
    enc = static2d.load(make_static_model(tmp_path / "m", fmt="sentence-transformers"), dims=dims, lazy=True)
    assert enc.embedding_dim == expected
    assert not enc.loaded
    assert enc.encode(["a cat"]).shape == (1, expected)
    assert enc.embedding_dim == expected


@pytest.mark.parametrize(("dims", "expected"), [(None, 384), (128, 128)])
def test_transformer_embedding_dim_before_loading(dims: int | None, expected: int) -> None:
    enc = static2d.load(bundled_transformer(), dims=dims, layers=2, backend="torch", lazy=True)
    assert enc.embedding_dim == expected
    assert not enc.loaded
    assert enc.encode(["a cat"]).shape == (1, expected)


# --- deep traces become static2d's own errors -------------------------------------------------------------------


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from static2d_testkit import tiny_transformer

    return tiny_transformer("bert", layers=4)


@pytest.mark.parametrize("n", [2, 40, 5000])  # text by text, block pooling, tokenized in helper threads
def test_a_lone_surrogate_names_its_item_static(tmp_path: Path, n: int) -> None:
    enc = static2d.load(make_static_model(tmp_path / "m"))
    texts = ["the quick brown fox"] * n
    texts[n - 2] = "a cat \ud800 here"
    with pytest.raises(ValueError, match=rf"item {n - 2} holds '\\ud800' at character 6, a lone surrogate"):
        enc.encode(texts)
    assert enc.encode(["a cat"]).shape == (1, 64)  # the encoder still works


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_a_lone_surrogate_names_its_item_transformer(bert: Path, backend: str) -> None:
    enc = static2d.load(bert, backend=backend)
    with pytest.raises(ValueError, match=r"item 2 holds '\\udfff' at character 0, a lone surrogate.*Repair or drop"):
        enc.encode(["fine", "also fine", "\udfff tail"])
    with pytest.raises(ValueError, match=r"the prompt holds '\\ud800'"):
        enc.encode(["fine"], prompt="q\ud800: ")


@pytest.mark.parametrize("device", ["foo", "", "cuda:x", "CPU", "gpu"])
def test_a_device_that_is_no_torch_device_is_refused_at_once(bert: Path, tmp_path: Path, device: str) -> None:
    with pytest.raises(ValueError, match=rf"device='{device}' is not a torch device: use 'cpu', 'cuda'"):
        static2d.load(bert, device=device, lazy=True)
    with pytest.raises(ValueError, match=r"is not a torch device"):  # a typo is a typo, for a static model too
        static2d.load(make_static_model(tmp_path / "m"), device=device, lazy=True)


def test_a_device_of_the_wrong_type_is_refused(bert: Path) -> None:
    with pytest.raises(TypeError, match=r"device must be a torch device name such as \"cpu\" or \"cuda\", or None"):
        static2d.load(bert, device=0, lazy=True)  # type: ignore[arg-type]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_without_cuda_is_refused_when_the_encoder_is_made(bert: Path, device: str) -> None:
    with pytest.raises(
        ValueError, match=rf"device='{device}' cannot be used: (this torch .* without CUDA|torch .* sees no cuda)"
    ):
        static2d.load(bert, device=device, lazy=True)


@pytest.mark.usefixtures("run_onnx_cache")
def test_max_length_beyond_the_positions_is_refused() -> None:
    with pytest.raises(
        ValueError,
        match=r"max_length=1000 is out of range: .*position embeddings for 512 tokens, so it takes "
        r"max_length from 1 to 512",
    ):
        static2d.load(bundled_transformer(), max_length=1000, lazy=True)
    long = ["word " * 2000]
    for backend in ("torch", "onnx"):
        assert static2d.load(bundled_transformer(), max_length=512, backend=backend).encode(long).shape == (1, 384)


def test_max_length_of_a_roberta_family_model_leaves_out_the_padding_offset(tmp_path: Path) -> None:
    from static2d_testkit import tiny_transformer

    path = tiny_transformer("xlm-roberta", layers=2, name="xlmr")  # 514 positions, 512 usable
    with pytest.raises(ValueError, match=r"from 1 to 512"):
        static2d.load(path, max_length=513, lazy=True)
    assert static2d.load(path, max_length=512, backend="torch").encode(["word " * 2000]).shape == (1, 32)


@pytest.mark.parametrize(("value", "error", "words"), [(0, ValueError, "at least 1"), (1.5, TypeError, "whole number")])
def test_max_length_below_one_or_not_a_number(bert: Path, value: object, error: type, words: str) -> None:
    with pytest.raises(error, match=rf"max_length.*{words}"):
        static2d.load(bert, max_length=value, lazy=True)  # type: ignore[arg-type]


# --- malformed configs name the file ----------------------------------------------------------------------------

NOT_TEXT = b"\xff\xfe\x00\x81garbage"


@pytest.mark.parametrize(
    ("file", "content", "words"),
    [
        ("modules.json", "not json{", r"modules\.json is not valid JSON"),
        ("modules.json", '{"a": 1}', r"modules\.json holds a JSON dict, but a list was expected"),
        ("modules.json", "[1, 2]", r"modules\.json: entry 0 is 1, not a module"),
        ("config_sentence_transformers.json", '["x"]', r"config_sentence_transformers\.json holds a JSON list"),
        ("config_sentence_transformers.json", '{"prompts": {"query": 3}}', r"prompt 'query' is 3, not a str"),
        ("config_sentence_transformers.json", NOT_TEXT, r"config_sentence_transformers\.json is not a text file"),
        ("config.json", NOT_TEXT, r"config\.json is not a text file"),
        ("config.json", '{"num_hidden_layers": "six"}', r"config\.json: 'num_hidden_layers' is 'six'"),
        ("sentence_bert_config.json", '{"max_seq_length": "long"}', r"'max_seq_length' is 'long'"),
        ("tokenizer_config.json", "nope", r"tokenizer_config\.json is not valid JSON"),
        ("1_Pooling/config.json", '{"pooling_mode": 5}', r"pooling_mode is 5, not a mode name"),
        ("1_Pooling/config.json", "[]", r"1_Pooling/config\.json holds a JSON list"),
    ],
)
def test_a_malformed_config_names_the_file(
    bert: Path, tmp_path: Path, file: str, content: str | bytes, words: str
) -> None:
    path = copy_model(bert, tmp_path / "m", copy=(file,))
    target = path / file
    target.unlink()
    target.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ValueError, match=words) as info:
        static2d.load(path, lazy=True)
    assert "download" in str(info.value) or "Fix" in str(info.value) or "not a" in str(info.value)


def test_a_malformed_dense_config_names_the_file(bert: Path, tmp_path: Path) -> None:
    path = copy_model(bert, tmp_path / "m", copy=("modules.json",))
    modules = json.loads((path / "modules.json").read_text())
    modules.insert(2, {"idx": 2, "name": "2", "path": "3_Dense", "type": "sentence_transformers.models.Dense"})
    (path / "modules.json").write_text(json.dumps(modules))
    (path / "3_Dense").mkdir()
    (path / "3_Dense" / "config.json").write_text('{"in_features": 32}')
    with pytest.raises(ValueError, match=r"3_Dense/config\.json names no in_features / out_features"):
        static2d.load(path, lazy=True)
    (path / "3_Dense" / "config.json").write_text("[]")
    with pytest.raises(ValueError, match=r"3_Dense/config\.json holds a JSON list, but a JSON object was expected"):
        static2d.load(path, lazy=True)


def test_a_malformed_static_config_names_the_file(tmp_path: Path) -> None:
    path = make_static_model(tmp_path / "m")
    (path / "config.json").write_bytes(NOT_TEXT)
    with pytest.raises(ValueError, match=rf"{path / 'config.json'} is not a text file"):
        static2d.load(path)


# --- the ONNX cache: entries bound to their source, and a cache that cannot be written --------------------------


def _entries(cache: Path, layers: int) -> list[Path]:
    return sorted(p for p in cache.glob(f"*-L{layers}-*") if p.is_dir() and not p.name.startswith("."))


@pytest.mark.parametrize("swap", ["entry", "graph only"])
def test_a_swapped_cache_entry_is_never_used(
    bert: Path, onnx_cache: Path, swap: str, caplog: pytest.LogCaptureFixture
) -> None:
    reference4 = static2d.load(bert, backend="torch").encode(TEXTS)
    three = static2d.load(bert, layers=3, backend="onnx").encode(TEXTS)
    static2d.load(bert, backend="onnx").encode(TEXTS)
    (l3,), (l4,) = _entries(onnx_cache, 3), _entries(onnx_cache, 4)
    names = ["model.onnx", "static2d.json"] if swap == "entry" else ["model.onnx"]
    for name in names:
        shutil.copyfile(l3 / name, l4 / name)
    static2d.clear_cache()
    with caplog.at_level("WARNING", logger="static2d"):
        got = static2d.load(bert, backend="onnx").encode(TEXTS)
    np.testing.assert_allclose(got, reference4, atol=1e-4, rtol=0)
    assert not np.allclose(got, three, atol=1e-3)
    assert f"The cached ONNX graph {l4}" in caplog.text
    static2d.clear_cache()
    np.testing.assert_allclose(static2d.load(bert, backend="onnx").encode(TEXTS), reference4, atol=1e-4, rtol=0)


def test_an_unwritable_cache_still_runs_the_model_and_says_why_once(
    bert: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    os.environ["STATIC2D_ONNX_CACHE"] = str(blocker / "onnx")  # restored by the onnx_cache fixture
    with caplog.at_level("WARNING", logger="static2d"):
        for layers in (4, 2):
            enc = static2d.load(bert, layers=layers, backend="auto")
            np.testing.assert_allclose(
                enc.encode(TEXTS), static2d.load(bert, layers=layers, backend="torch").encode(TEXTS), atol=1e-4, rtol=0
            )
    assert caplog.text.count("static2d cannot cache ONNX graphs") == 1
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("naming", ["prefixed", "legacy LayerNorm"])
def test_weights_named_as_transformers_still_reads_them_are_accepted(tmp_path: Path, naming: str) -> None:
    """A checkpoint saved from BertForMaskedLM (`bert.` prefix) or with TF-era `gamma`/`beta` names loads as before."""
    src = bundled_transformer()
    tensors = load_file(str(src / "model.safetensors"))
    if naming == "prefixed":
        renamed = {f"bert.{k}": v for k, v in tensors.items()}
    else:
        renamed = {
            k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
            for k, v in tensors.items()
        }
        assert renamed.keys() != tensors.keys()
    path = copy_model(src, tmp_path / "renamed")
    (path / "model.safetensors").unlink()
    save_file(renamed, str(path / "model.safetensors"))
    np.testing.assert_allclose(static2d.load(path, backend="torch").encode(TEXTS), reference(), atol=1e-6, rtol=0)
