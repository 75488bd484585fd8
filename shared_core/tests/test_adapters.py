"""`static2d.adapters.EncoderMixin`, on a framework-free embedder: it forwards to the encoder, pickles no token."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import static2d
from static2d.adapters import EncoderMixin
from static2d_testkit import make_static_model

SECRET = "hf_NotAnActualTokenButSecret"


class PlainEmbedder(EncoderMixin):
    """What an adapter does: keeps the options (`token` included) and makes the lazy encoder."""

    def __init__(self, model: str, dims: int | None = None, token: str | None = None) -> None:
        self.model, self.dims, self.token = model, dims, token
        self._encoder = static2d.load(model, dims=dims, token=token, lazy=True)


class EnvTokenEmbedder(PlainEmbedder):
    """An adapter whose token is only the name of a variable keeps it in a pickle (as Haystack's Secret)."""

    def _token_to_pickle(self) -> object:
        return self.token


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(make_static_model(tmp_path_factory.mktemp("static") / "m"))


def test_the_common_block_forwards_to_the_encoder(model: str) -> None:
    embedder = PlainEmbedder(model, dims=8)
    core = static2d.load(model, dims=8)
    assert embedder.encoder is embedder._encoder
    assert embedder.embedding_dim == 8
    assert not embedder.encoder.loaded
    assert embedder.warm_up() is embedder
    assert embedder.encoder.loaded
    assert embedder.fingerprint == core.fingerprint
    assert embedder.describe() == core.describe()
    embedder.check_fingerprint(core.describe())
    with pytest.raises(static2d.FingerprintMismatchError):
        embedder.check_fingerprint(static2d.load(model, dims=4).describe())


def test_a_pickle_holds_no_token(model: str) -> None:
    embedder = PlainEmbedder(model, dims=8, token=SECRET)
    data = pickle.dumps(embedder)
    assert SECRET.encode() not in data
    again = pickle.loads(data)
    assert again.token is None
    assert embedder.token == SECRET  # the embedder pickled keeps its own
    assert again.model == model
    assert again.dims == 8
    assert (again.encoder.encode(["a cat"]) == embedder.encoder.encode(["a cat"])).all()


def test_an_adapter_may_keep_a_reference_to_its_token(model: str) -> None:
    again = pickle.loads(pickle.dumps(EnvTokenEmbedder(model, token="HF_TOKEN")))
    assert again.token == "HF_TOKEN"


def test_the_plumbing_is_not_the_core_api() -> None:
    for name in ("EncoderMixin", "check_texts", "check_text", "PEER_OPTIONS", "peer_option_message"):
        assert name not in static2d.__all__
        assert not hasattr(static2d, name)
    assert Path(static2d.adapters.__file__).name == "adapters.py"
