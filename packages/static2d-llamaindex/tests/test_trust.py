"""The LlamaIndex adapter refuses what it would otherwise take and ignore, checks its input, keeps tokens secret."""

from __future__ import annotations

import asyncio
import pickle

import numpy as np
import pytest
import static2d
from llama_index.core.bridge.pydantic import SecretStr
from llama_index.core.callbacks import CallbackManager
from llama_index.embeddings.static2d import Static2DEmbedding
from static2d_testkit import damaged_static_model

SECRET = "hf_NotARealTokenButSecret1234"


@pytest.mark.parametrize(
    ("name", "value", "use"),
    [
        ("truncate_dim", 64, "dims=64"),
        ("dim", 64, "dims=64"),
        ("dimensions", 32, "dims=32"),
        ("query_instruction", "q: ", "query_prompt='q: '"),
        ("text_instruction", "d: ", "document_prompt='d: '"),
        ("max_seq_length", 128, "max_length=128"),
        ("cache_dir", "/tmp/x", "cache_folder='/tmp/x'"),
    ],
)
def test_peer_option_names_say_what_to_use_instead(tiny_model, name, value, use):
    with pytest.raises(
        TypeError, match=rf"no option '{name}' \(an option of [^)]+\): use the static2d option {use} instead\.$"
    ):
        Static2DEmbedding(tiny_model, **{name: value})


def test_an_unknown_option_is_refused_with_the_known_ones(tiny_model):
    with pytest.raises(TypeError, match=r"no option 'colour'\. Its options: .*dims.*layers"):
        Static2DEmbedding(tiny_model, colour="blue")


def test_model_name_says_use_model(tiny_model):
    with pytest.raises(ValueError, match=r"use the static2d option model='other/model' instead"):
        Static2DEmbedding(tiny_model, model_name="other/model")


def test_base_embedding_options_are_still_taken(tiny_model):
    manager = CallbackManager([])
    embed = Static2DEmbedding(tiny_model, num_workers=2, callback_manager=manager, embed_batch_size=100)
    assert (embed.num_workers, embed.callback_manager, embed.embed_batch_size) == (2, manager, 100)
    again = Static2DEmbedding.from_dict(embed.to_dict())
    assert again.model == embed.model
    assert again.num_workers == 2


BAD_BATCHES = [
    (
        "hello",
        r"takes a list of texts, got a single str \(it would be embedded character by character\)\. Wrap it in a list",
    ),
    (None, r"takes a list of str, got NoneType"),
    (3, r"takes a list of str, got int"),
    ((t for t in ["a", "b"]), r"takes a list of str, got generator .*Pass list\(texts\)"),
    (["a cat", 7], r"item 1 is a int \(7\)"),
    (["a cat", None], r"item 1 is a NoneType"),
]


@pytest.mark.parametrize(("texts", "words"), BAD_BATCHES)
def test_batch_input_is_checked(tiny_model, texts, words):
    embed = Static2DEmbedding(tiny_model)
    with pytest.raises(TypeError, match=rf"get_text_embedding_batch\(\) {words}" if "item" not in words else words):
        embed.get_text_embedding_batch(texts)


@pytest.mark.parametrize(("texts", "words"), BAD_BATCHES[:4])
def test_async_batch_and_agg_input_is_checked(tiny_model, texts, words):
    embed = Static2DEmbedding(tiny_model)
    with pytest.raises(TypeError, match=rf"aget_text_embedding_batch\(\) {words}"):
        asyncio.run(embed.aget_text_embedding_batch(texts))
    with pytest.raises(TypeError, match=rf"get_agg_embedding_from_queries\(\) {words}"):
        embed.get_agg_embedding_from_queries(texts)


@pytest.mark.parametrize("method", ["get_query_embedding", "get_text_embedding"])
@pytest.mark.parametrize("value", [None, 3, ["a cat"]])
def test_single_text_input_is_checked(tiny_model, method, value):
    embed = Static2DEmbedding(tiny_model)
    with pytest.raises(TypeError, match=rf"{method}\(\) takes one text \(a str\), got {type(value).__name__}"):
        getattr(embed, method)(value)
    with pytest.raises(TypeError, match=rf"a{method}\(\) takes one text"):
        asyncio.run(getattr(embed, "a" + method)(value))


def test_a_tuple_of_texts_is_fine(tiny_model):
    embed = Static2DEmbedding(tiny_model)
    core = static2d.load(tiny_model)
    got = np.asarray(embed.get_text_embedding_batch(("a cat", "a dog")))
    np.testing.assert_allclose(got, core.encode_document(["a cat", "a dog"]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("token", [SECRET, SecretStr(SECRET)])
def test_a_token_is_a_secret_everywhere(tiny_model, token):
    embed = Static2DEmbedding(tiny_model, token=token)
    assert isinstance(embed.token, SecretStr)
    assert embed.token.get_secret_value() == SECRET
    assert embed._encoder._options.token == SECRET  # it reaches the core
    for text in (repr(embed), str(embed), embed.to_json(), str(embed.to_dict()), str(embed.model_dump())):
        assert SECRET not in text
    data = pickle.dumps(embed)
    assert SECRET.encode() not in data
    again = pickle.loads(data)
    assert again.token is None
    assert again.get_query_embedding("a cat") == embed.get_query_embedding("a cat")


def test_a_token_of_another_type_is_refused(tiny_model):
    with pytest.raises(TypeError, match=r"token must be a str, a pydantic SecretStr or None, got a int"):
        Static2DEmbedding(tiny_model, token=123)


@pytest.mark.parametrize(("dims", "expected"), [(None, 64), (8, 8)])
def test_embedding_dim_before_loading(tiny_model, dims, expected):
    embed = Static2DEmbedding(tiny_model, dims=dims)
    assert embed.embedding_dim == expected
    assert not embed._encoder.loaded
    assert len(embed.get_query_embedding("a cat")) == expected
    assert embed.dims == dims  # the option as given, so configs round-trip
    with pytest.raises(AttributeError):
        embed.embedding_dim = 3


def _nan_model(tmp_path):
    from safetensors.numpy import load_file, save_file
    from static2d_testkit import make_static_model

    path = make_static_model(tmp_path / "nan")
    tensors = load_file(str(path / "model.safetensors"))
    tensors["embeddings"][5, 0] = np.nan
    save_file(tensors, str(path / "model.safetensors"))
    return path


def test_a_damaged_model_is_refused_through_the_adapter(tmp_path):
    embed = Static2DEmbedding(_nan_model(tmp_path))
    with pytest.raises(ValueError, match=r"holds NaN or infinite values in 1 row\(s\) \(rows 5\)"):
        embed.get_query_embedding("a cat")


def test_a_lone_surrogate_names_its_item_through_the_adapter(tiny_model):
    embed = Static2DEmbedding(tiny_model)
    with pytest.raises(ValueError, match=r"item 1 holds '\\ud800' at character 2, a lone surrogate"):
        embed.get_text_embedding_batch(["a cat", "a \ud800 dog"])


def test_bytes_are_not_text_through_the_adapter(tiny_model):
    embed = Static2DEmbedding(tiny_model)
    with pytest.raises(
        TypeError, match=r"get_text_embedding_batch\(\) takes a list of str, got bytes \(b'abc'\): bytes"
    ):
        embed.get_text_embedding_batch(b"abc")
    with pytest.raises(TypeError, match=r"item 1 is bytes \(b''\): bytes are not text\. Decode it first"):
        embed.get_text_embedding_batch(["the fox", b""])
    with pytest.raises(
        TypeError, match=r"get_query_embedding\(\) takes one text \(a str\), got bytes \(b'abc'\): bytes"
    ):
        embed.get_query_embedding(b"abc")


@pytest.mark.parametrize("how", ["custom module", "damaged tokenizer"])
def test_a_model_static2d_refuses_is_refused_through_the_adapter(tmp_path, how):
    path, words = damaged_static_model(tmp_path, how)
    with pytest.raises(ValueError, match=words):
        Static2DEmbedding(str(path)).get_query_embedding("the quick brown fox")


# A device this machine cannot use is refused when the embedding is made, with static2d's words (never torch's at
# the first embed, never ignored by backend="onnx"); a static model runs on the CPU only.
NOT_HERE = ["npu", "xla", "ipu", "maia", "hpu", "privateuseone", "meta", "meta:0", "mps", "xpu", "cuda", "cuda:1"]


@pytest.mark.slow  # the real all-MiniLM-L6-v2
@pytest.mark.parametrize("backend", ["auto", "onnx"])
@pytest.mark.parametrize("device", NOT_HERE)
def test_a_device_this_machine_cannot_use_is_refused_when_made(minilm, device, backend):
    torch = pytest.importorskip("torch")
    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match=rf"device='{device}' cannot be used: .+\. On this machine .*: cpu.*\. Use "):
        Static2DEmbedding(model=str(minilm), device=device, backend=backend)


def test_a_device_that_is_no_device_is_refused_when_made(tiny_model):
    with pytest.raises(ValueError, match=r"device='cpu:00' is not a torch device"):
        Static2DEmbedding(model=str(tiny_model), device="cpu:00")


@pytest.mark.parametrize("device", ["cuda", "mps", "meta"])
def test_a_static_model_refuses_a_device(tiny_model, device):
    with pytest.raises(ValueError, match=rf"device='{device}' was given, but .* is a static embedding model: static"):
        Static2DEmbedding(model=str(tiny_model), device=device)
    assert Static2DEmbedding(model=str(tiny_model), device="cpu").describe()["device"] == "cpu"
