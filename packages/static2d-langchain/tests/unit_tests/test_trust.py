"""The LangChain adapter keeps a token secret (SecretStr) and gives the embedding size before loading."""

from __future__ import annotations

import pickle

import pytest
from langchain_static2d import Static2DEmbeddings
from pydantic import SecretStr
from static2d_testkit import damaged_static_model

SECRET = "hf_NotARealTokenButSecret1234"


@pytest.mark.parametrize("token", [SECRET, SecretStr(SECRET)])
def test_a_token_is_a_secret_everywhere(tiny_static_model, token):
    embed = Static2DEmbeddings(model=str(tiny_static_model), token=token)
    assert isinstance(embed.token, SecretStr)
    assert embed._encoder._options.token == SECRET  # it reaches the core
    texts = (repr(embed), str(embed), embed.model_dump_json(), str(embed.model_dump()), str(embed._encoder.options))
    for text in texts:
        assert SECRET not in text
    data = pickle.dumps(embed)
    assert SECRET.encode() not in data
    again = pickle.loads(data)
    assert again.token is None  # the other side reads HF_TOKEN, if it needs a token
    assert again.embed_query("the quick brown fox") == embed.embed_query("the quick brown fox")


def test_a_token_of_another_type_is_refused(tiny_static_model):
    with pytest.raises(ValueError, match=r"token\n  Input should be a valid string"):
        Static2DEmbeddings(model=str(tiny_static_model), token=123)


@pytest.mark.parametrize(("dims", "expected"), [(None, 64), (8, 8)])
def test_embedding_dim_before_loading(tiny_static_model, dims, expected):
    embed = Static2DEmbeddings(model=str(tiny_static_model), dims=dims)
    assert embed.embedding_dim == expected
    assert not embed._encoder.loaded
    assert len(embed.embed_query("the quick brown fox")) == expected
    assert embed.dims == dims
    with pytest.raises(ValueError, match=r"embedding_dim\n  Instance is frozen"):
        embed.embedding_dim = 3


def test_a_damaged_model_is_refused_through_the_adapter(tmp_path):
    import numpy as np
    from safetensors.numpy import load_file, save_file
    from static2d_testkit import make_static_model

    path = make_static_model(tmp_path / "nan")
    tensors = load_file(str(path / "model.safetensors"))
    tensors["embeddings"][5, 0] = np.inf
    save_file(tensors, str(path / "model.safetensors"))
    embed = Static2DEmbeddings(model=str(path))
    with pytest.raises(ValueError, match=r"holds NaN or infinite values in 1 row\(s\) \(rows 5\)"):
        embed.embed_query("the quick brown fox")


def test_a_lone_surrogate_names_its_item_through_the_adapter(tiny_static_model):
    embed = Static2DEmbeddings(model=str(tiny_static_model))
    with pytest.raises(ValueError, match=r"item 2 holds '\\udfff' at character 0, a lone surrogate"):
        embed.embed_documents(["the fox", "the dog", "\udfff"])


def test_bytes_are_not_text_through_the_adapter(tiny_static_model):
    embed = Static2DEmbeddings(model=str(tiny_static_model))
    with pytest.raises(TypeError, match=r"got bytes \(b'abc'\): bytes are not text"):
        embed.embed_documents(b"abc")
    with pytest.raises(TypeError, match=r"item 0 is bytes \(b''\): bytes are not text\. Decode it first"):
        embed.embed_query(b"")


@pytest.mark.parametrize("how", ["custom module", "damaged tokenizer"])
def test_a_model_static2d_refuses_is_refused_through_the_adapter(tmp_path, how):
    path, words = damaged_static_model(tmp_path, how)
    with pytest.raises(ValueError, match=words):
        Static2DEmbeddings(model=str(path)).embed_query("the quick brown fox")


# A device this machine cannot use is refused when the embedder is made, with static2d's words (never torch's at
# the first embed, never ignored by backend="onnx"); a static model runs on the CPU only.
NOT_HERE = ["npu", "xla", "ipu", "maia", "hpu", "privateuseone", "meta", "meta:0", "mps", "xpu", "cuda", "cuda:1"]


@pytest.mark.parametrize("backend", ["auto", "onnx"])
@pytest.mark.parametrize("device", NOT_HERE)
def test_a_device_this_machine_cannot_use_is_refused_when_made(device, backend):
    torch = pytest.importorskip("torch")
    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    from static2d_testkit import bundled_transformer

    with pytest.raises(ValueError, match=rf"device='{device}' cannot be used: .+\. On this machine .*: cpu.*\. Use "):
        Static2DEmbeddings(model=str(bundled_transformer()), device=device, backend=backend)


def test_a_device_that_is_no_device_is_refused_when_made(tiny_static_model):
    with pytest.raises(ValueError, match=r"device='cpu:00' is not a torch device"):
        Static2DEmbeddings(model=str(tiny_static_model), device="cpu:00")


@pytest.mark.parametrize("device", ["cuda", "mps", "meta"])
def test_a_static_model_refuses_a_device(tiny_static_model, device):
    with pytest.raises(ValueError, match=rf"device='{device}' was given, but .* is a static embedding model: static"):
        Static2DEmbeddings(model=str(tiny_static_model), device=device)
    assert Static2DEmbeddings(model=str(tiny_static_model), device="cpu").describe()["device"] == "cpu"
