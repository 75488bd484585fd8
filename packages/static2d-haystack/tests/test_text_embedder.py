import asyncio
import threading

import numpy as np
import pytest
import static2d
from haystack import Document
from haystack.utils import ComponentDevice, Secret
from haystack.utils.device import Device, DeviceMap
from haystack_integrations.components.embedders.static2d import Static2DTextEmbedder

QUERIES = ["what do pandas eat", "the bank of the river", "a quick brown fox jumps over the lazy dog", ""]


@pytest.mark.slow
@pytest.mark.parametrize("dims", [None, 64])
def test_parity_with_core_static(distilled, dims):
    embedder = Static2DTextEmbedder(str(distilled), dims=dims)
    embedder.warm_up()
    core = static2d.load(distilled, dims=dims)
    for text in QUERIES:
        got = embedder.run(text)["embedding"]
        assert isinstance(got, list)
        assert all(type(x) is float for x in got)
        assert len(got) == (dims or 256)
        np.testing.assert_allclose(got, core.encode_query([text])[0], atol=1e-6)


@pytest.mark.slow
def test_parity_with_core_transformer_layers_and_dims(minilm):
    embedder = Static2DTextEmbedder(str(minilm), layers=3, dims=128)
    core = static2d.load(minilm, layers=3, dims=128)
    got = np.array([embedder.run(text)["embedding"] for text in QUERIES])
    assert got.shape == (len(QUERIES), 128)
    np.testing.assert_allclose(got, core.encode_query(QUERIES), atol=1e-6)
    # and it is not the full-depth model
    full = static2d.load(minilm, dims=128).encode_query(QUERIES)
    assert np.abs(got - full).max() > 1e-2


def test_query_prompt_prefix_and_suffix_compose_like_the_core(tiny_static):
    core = static2d.load(tiny_static)
    assert core.query_prompt == "what is "  # the model's saved prompt is used
    got = Static2DTextEmbedder(str(tiny_static), prefix="the ", suffix=" cat").run("dog")["embedding"]
    np.testing.assert_allclose(got, core.encode(["what is the dog cat"], prompt="")[0], atol=1e-6)
    # the query prompt, not the document one
    assert not np.allclose(got, core.encode_document(["the dog cat"])[0], atol=1e-3)


def test_explicit_query_prompt_replaces_the_saved_one(tiny_static):
    got = Static2DTextEmbedder(str(tiny_static), query_prompt="a ").run("dog")["embedding"]
    expected = static2d.load(tiny_static).encode(["a dog"], prompt="")[0]
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_normalize_false_passes_through(tiny_static):
    got = np.array(Static2DTextEmbedder(str(tiny_static), normalize=False, dims=16).run("panda")["embedding"])
    expected = static2d.load(tiny_static, normalize=False, dims=16).encode_query(["panda"])[0]
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert abs(np.linalg.norm(got) - 1) > 1e-3


def test_run_loads_lazily_without_warm_up(tiny_static):
    embedder = Static2DTextEmbedder(str(tiny_static), dims=8)
    assert not embedder.encoder.loaded
    assert len(embedder.run("panda")["embedding"]) == 8
    assert embedder.encoder.loaded
    embedder.warm_up()  # a second warm-up is harmless
    assert embedder.encoder.dims == 8


@pytest.mark.parametrize("bad", [["panda"], Document(content="panda"), None, 3])
def test_wrong_input_type_message(tiny_static, bad):
    embedder = Static2DTextEmbedder(str(tiny_static))
    msg = (
        "Static2DTextEmbedder expects a string as input. "
        "In case you want to embed a list of Documents, please use the Static2DDocumentEmbedder."
    )
    with pytest.raises(TypeError) as info:
        embedder.run(bad)
    assert str(info.value) == msg
    with pytest.raises(TypeError, match="expects a string as input"):
        asyncio.run(embedder.run_async(bad))


def test_run_async_equals_run_and_leaves_the_loop(tiny_static, monkeypatch):
    embedder = Static2DTextEmbedder(str(tiny_static), dims=32)
    threads = []
    encode_query = embedder.encoder.encode_query

    def spy(texts, **kwargs):
        threads.append(threading.get_ident())
        return encode_query(texts, **kwargs)

    monkeypatch.setattr(embedder.encoder, "encode_query", spy)
    expected = embedder.run("a panda eats bamboo")
    got = asyncio.run(embedder.run_async("a panda eats bamboo"))
    assert got == expected
    assert threads[0] == threading.get_ident()
    assert threads[1] != threading.get_ident()  # encoded in a worker thread, not on the event loop


def test_invalid_dims_fail_at_construction(tiny_static):
    with pytest.raises(ValueError, match="dims=0 is out of range"):
        Static2DTextEmbedder(str(tiny_static), dims=0)
    with pytest.raises(TypeError, match="dims must be a whole number"):
        Static2DTextEmbedder(str(tiny_static), dims=2.5)
    with pytest.raises(TypeError, match="layers must be a whole number"):
        Static2DTextEmbedder(str(tiny_static), layers=True)


def test_local_model_options_are_checked_against_the_model_at_construction(tiny_static, tmp_path):
    # No model is loaded (lazy), but a local model's configs are read at once.
    with pytest.raises(ValueError, match="dims=65 is out of range"):
        Static2DTextEmbedder(str(tiny_static), dims=65)
    with pytest.raises(ValueError, match="static embedding model"):
        Static2DTextEmbedder(str(tiny_static), layers=2)
    with pytest.raises(ValueError, match="names no folder: there is no "):
        Static2DTextEmbedder(str(tmp_path / "no" / "such model"))


def test_a_hub_model_is_looked_up_only_on_warm_up(tmp_path):
    embedder = Static2DTextEmbedder("static2d-tests/no-such-model", cache_folder=str(tmp_path), local_files_only=True)
    assert not embedder.encoder.loaded
    with pytest.raises(OSError, match="not in the local cache"):
        embedder.warm_up()


def test_haystack_option_types_are_checked(tiny_static):
    with pytest.raises(TypeError, match="ComponentDevice"):
        Static2DTextEmbedder(str(tiny_static), device="cpu")
    with pytest.raises(TypeError, match="must be a haystack Secret"):
        Static2DTextEmbedder(str(tiny_static), token="hf_plain_token")
    with pytest.raises(ValueError, match=r"maps the model over several devices .* runs a model on one device"):
        Static2DTextEmbedder(str(tiny_static), device=ComponentDevice.from_multiple(_device_map()))


def test_device_and_token_reach_the_core(tiny_static, monkeypatch):
    monkeypatch.setenv("STATIC2D_TEST_TOKEN", "hf_from_env")
    embedder = Static2DTextEmbedder(
        str(tiny_static), device=ComponentDevice.from_str("cpu"), token=Secret.from_env_var("STATIC2D_TEST_TOKEN")
    )
    assert embedder.encoder.options["device"] == "cpu"
    assert embedder.encoder._options.token == "hf_from_env"
    assert Static2DTextEmbedder(str(tiny_static), token=None).encoder.options["token"] is None


def _device_map():
    return DeviceMap({"a": Device.cpu(), "b": Device.disk()})


def test_max_length_reaches_the_core(tiny_static):
    text = "the cat dog fox bank river " * 50
    cut = Static2DTextEmbedder(str(tiny_static), max_length=3)
    core = static2d.load(tiny_static, max_length=3).encode_query([text])[0]
    np.testing.assert_allclose(cut.run(text)["embedding"], core, atol=1e-6)
    assert cut.run(text)["embedding"] != Static2DTextEmbedder(str(tiny_static)).run(text)["embedding"]
    assert Static2DTextEmbedder.from_dict(cut.to_dict()).max_length == 3


def test_backend_reaches_the_core(tiny_static):
    with pytest.raises(ValueError, match=r"backend='torch' was given, but .* is a static embedding model"):
        Static2DTextEmbedder(str(tiny_static), backend="torch")  # a transformer's option, refused on a static model
    embedder = Static2DTextEmbedder("owner/other-model", backend="torch")  # a hub id is looked up on first use
    assert embedder.encoder.options["backend"] == "torch"
    assert Static2DTextEmbedder.from_dict(embedder.to_dict()).encoder.options["backend"] == "torch"
    with pytest.raises(ValueError, match="backend must be one of"):
        Static2DTextEmbedder(str(tiny_static), backend="tensorflow")
