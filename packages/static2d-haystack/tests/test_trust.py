"""The Haystack components keep paths as str (pipelines serialise), and give the embedding size before loading."""

from __future__ import annotations

from pathlib import Path

import pytest
from haystack import Pipeline
from haystack.utils import Secret
from haystack_integrations.components.embedders.static2d import Static2DDocumentEmbedder, Static2DTextEmbedder
from static2d_testkit import damaged_static_model

COMPONENTS = [Static2DTextEmbedder, Static2DDocumentEmbedder]


@pytest.mark.parametrize("cls", COMPONENTS)
def test_a_path_model_is_kept_as_str_and_the_pipeline_serialises(tiny_static, tmp_path, cls):
    component = cls(model=Path(tiny_static), cache_folder=tmp_path)
    assert component.model == str(tiny_static)
    assert component.cache_folder == str(tmp_path)
    pipeline = Pipeline()
    pipeline.add_component("embedder", component)
    again = Pipeline.loads(pipeline.dumps())
    loaded = again.get_component("embedder")
    assert loaded.model == str(tiny_static)
    assert loaded.to_dict() == component.to_dict()


@pytest.mark.parametrize("cls", COMPONENTS)
@pytest.mark.parametrize(("dims", "expected"), [(None, 64), (8, 8)])
def test_embedding_dim_before_loading(tiny_static, cls, dims, expected):
    component = cls(model=str(tiny_static), dims=dims)
    assert component.embedding_dim == expected
    assert not component.encoder.loaded
    assert component.dims == dims
    with pytest.raises(AttributeError):
        component.embedding_dim = 3


def test_a_token_is_never_written(tiny_static, monkeypatch):
    secret = "hf_NotARealTokenButSecret1234"
    monkeypatch.setenv("HF_TOKEN", secret)
    component = Static2DTextEmbedder(model=str(tiny_static), token=Secret.from_env_var("HF_TOKEN"))
    assert component.encoder._options.token == secret
    assert secret not in str(component.to_dict())
    assert secret not in repr(component.encoder._options)


def test_a_lone_surrogate_names_its_document(tiny_static):
    from haystack import Document

    embedder = Static2DDocumentEmbedder(model=str(tiny_static))
    # (Haystack itself cannot hash such a text into an id, so the Document is given one)
    docs = [Document(content="the fox"), Document(id="d1", content="a \ud800 dog"), Document(content="the cat")]
    with pytest.raises(ValueError, match=r"item 1 holds '\\ud800' at character 2, a lone surrogate"):
        embedder.run(docs)
    with pytest.raises(ValueError, match=r"item 0 holds '\\ud800'"):
        Static2DTextEmbedder(model=str(tiny_static)).run("\ud800")


@pytest.mark.parametrize("cls", COMPONENTS)
def test_a_token_secret_is_never_pickled(tiny_static, cls):
    import pickle

    secret = "hf_NotARealTokenButSecret1234"
    component = cls(model=str(tiny_static), token=Secret.from_token(secret))
    assert component.encoder._options.token == secret  # it reaches the core
    data = pickle.dumps(component)
    assert secret.encode() not in data
    again = pickle.loads(data)
    assert again.token is None  # the other side reads HF_TOKEN, if it needs a token
    env = cls(model=str(tiny_static), token=Secret.from_env_var("HF_TOKEN", strict=False))
    assert pickle.loads(pickle.dumps(env)).token == env.token  # a variable's name is no secret: it is kept
    text = "the quick brown fox"
    if cls is Static2DTextEmbedder:
        assert again.run(text)["embedding"] == component.run(text)["embedding"]


def test_bytes_are_not_text_through_the_adapter(tiny_static):
    with pytest.raises(TypeError, match=r"got bytes \(b'abc'\): bytes are not text"):
        Static2DTextEmbedder(model=str(tiny_static)).run(b"abc")


@pytest.mark.parametrize("how", ["custom module", "damaged tokenizer"])
def test_a_model_static2d_refuses_is_refused_through_the_adapter(tmp_path, how):
    path, words = damaged_static_model(tmp_path, how)
    with pytest.raises(ValueError, match=words):
        Static2DTextEmbedder(model=str(path)).run("the quick brown fox")


# A device this machine cannot use is refused when the component is made, with static2d's words (never torch's at
# warm_up, never ignored by backend="onnx"); a device map is refused; a static model runs on the CPU only.
NOT_HERE = ["mps", "xpu", "cuda", "cuda:1"]  # the device types Haystack's ComponentDevice has, but the CPU


@pytest.mark.slow  # the real all-MiniLM-L6-v2
@pytest.mark.parametrize("cls", COMPONENTS)
@pytest.mark.parametrize("backend", ["auto", "onnx"])
@pytest.mark.parametrize("device", NOT_HERE)
def test_a_device_this_machine_cannot_use_is_refused_when_made(minilm, cls, device, backend):
    from haystack.utils import ComponentDevice

    torch = pytest.importorskip("torch")
    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match=rf"device='{device}' cannot be used: .+\. On this machine .*: cpu.*\. Use "):
        cls(model=str(minilm), device=ComponentDevice.from_str(device), backend=backend)


@pytest.mark.parametrize("cls", COMPONENTS)
def test_a_device_map_is_refused_with_static2ds_words(tiny_static, cls):
    from haystack.utils import ComponentDevice, Device, DeviceMap

    several = ComponentDevice.from_multiple(DeviceMap({"encoder": Device.gpu(0), "head": Device.cpu()}))
    with pytest.raises(ValueError, match=r"maps the model over several devices .* runs a model on one device\. Use "):
        cls(model=str(tiny_static), device=several)
    data = cls(model=str(tiny_static)).to_dict()
    data["init_parameters"]["device"] = several.to_dict()
    with pytest.raises(ValueError, match=r"maps the model over several devices"):
        cls.from_dict(data)


@pytest.mark.parametrize("cls", COMPONENTS)
def test_a_static_model_refuses_a_device(tiny_static, cls):
    from haystack.utils import ComponentDevice

    with pytest.raises(ValueError, match=r"device='cuda:1' was given, but .* is a static embedding model: static"):
        cls(model=str(tiny_static), device=ComponentDevice.from_str("cuda:1"))
    assert cls(model=str(tiny_static), device=ComponentDevice.from_str("cpu")).describe()["device"] == "cpu"
