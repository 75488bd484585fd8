"""Behaviour of Static2DEmbeddings on a tiny random static model (no torch)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pydantic
import pytest
import static2d
from langchain_core.embeddings import Embeddings
from langchain_static2d import Static2DEmbeddings
from static2d import DEFAULT_MODEL
from static2d_testkit import make_static_model


def _core(path: Path, **options: object) -> static2d.Encoder:
    return static2d.load(path, **options)  # type: ignore[arg-type]


def test_is_a_langchain_embeddings_with_documented_fields() -> None:
    assert issubclass(Static2DEmbeddings, Embeddings)
    fields = Static2DEmbeddings.model_fields
    assert list(fields) == [*(option.name for option in static2d.OPTIONS), "show_progress_bar"]  # the core's order
    assert all(f.description for f in fields.values())
    assert fields["model"].default == DEFAULT_MODEL == "sentence-transformers/static-retrieval-mrl-en-v1"


def test_construction_is_lazy(tmp_path: Path) -> None:
    # A hub id that is not cached would fail to download offline: construction must not try.
    emb = Static2DEmbeddings(dims=128)
    assert emb.model == DEFAULT_MODEL
    assert not emb.encoder.loaded


def test_output_types_and_dims(tiny_static_model: Path, texts: list[str]) -> None:
    emb = Static2DEmbeddings(model=str(tiny_static_model), dims=16)
    docs = emb.embed_documents(texts)
    query = emb.embed_query(texts[0])
    assert type(docs) is list
    assert len(docs) == len(texts)
    assert all(type(v) is list and len(v) == 16 and all(type(x) is float for x in v) for v in docs)
    assert type(query) is list
    assert len(query) == 16
    assert all(type(x) is float for x in query)
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-6)


def test_full_size_when_dims_is_none(tiny_static_model: Path) -> None:
    assert len(Static2DEmbeddings(model=str(tiny_static_model)).embed_query("the fox")) == 64


def test_parity_with_core(tiny_static_model: Path, texts: list[str]) -> None:
    emb = Static2DEmbeddings(model=str(tiny_static_model), dims=24)
    core = _core(tiny_static_model, dims=24)
    np.testing.assert_allclose(emb.embed_documents(texts), core.encode_document(texts), atol=1e-6, rtol=0)
    np.testing.assert_allclose(emb.embed_query(texts[1]), core.encode_query([texts[1]])[0], atol=1e-6, rtol=0)


def test_parity_with_core_unnormalised_and_own_prompts(tiny_static_model: Path, texts: list[str]) -> None:
    options: dict[str, Any] = {"dims": 40, "normalize": False, "query_prompt": "how ", "document_prompt": ""}
    emb = Static2DEmbeddings(model=str(tiny_static_model), **options)
    core = _core(tiny_static_model, **options)
    docs = emb.embed_documents(texts)
    np.testing.assert_allclose(docs, core.encode_document(texts), atol=1e-6, rtol=0)
    np.testing.assert_allclose(emb.embed_query(texts[2]), core.encode_query([texts[2]])[0], atol=1e-6, rtol=0)
    assert not np.allclose(np.linalg.norm(docs, axis=1), 1.0)


def test_query_and_document_use_their_own_prompts(tiny_static_model: Path) -> None:
    emb = Static2DEmbeddings(model=str(tiny_static_model))
    core = _core(tiny_static_model)
    text = "a dog runs by the river"
    np.testing.assert_allclose(emb.embed_query(text), core.encode([f"what is {text}"])[0], atol=1e-6, rtol=0)
    np.testing.assert_allclose(emb.embed_documents([text])[0], core.encode([f"this is {text}"])[0], atol=1e-6, rtol=0)
    assert not np.allclose(emb.embed_query(text), emb.embed_documents([text])[0], atol=1e-3)


def test_empty_list(tiny_static_model: Path) -> None:
    assert Static2DEmbeddings(model=str(tiny_static_model)).embed_documents([]) == []


def test_accepts_path_objects(tiny_static_model: Path, tmp_path: Path) -> None:
    emb = Static2DEmbeddings(model=tiny_static_model, cache_folder=tmp_path)  # type: ignore[arg-type]
    assert emb.model == str(tiny_static_model)
    assert emb.cache_folder == str(tmp_path)
    assert len(emb.embed_query("fox")) == 64


def test_serialisation_round_trip(tiny_static_model: Path, texts: list[str]) -> None:
    emb = Static2DEmbeddings(model=str(tiny_static_model), dims=20, normalize=False, query_prompt="how ")
    dumped = emb.model_dump()
    assert dumped["dims"] == 20
    assert dumped["query_prompt"] == "how "
    again = Static2DEmbeddings(**dumped)
    from_json = Static2DEmbeddings.model_validate_json(emb.model_dump_json())
    for other in (again, from_json):
        assert other.model_dump() == dumped
        assert other.embed_documents(texts) == emb.embed_documents(texts)
        assert other.embed_query(texts[0]) == emb.embed_query(texts[0])


def test_options_are_frozen(tiny_static_model: Path) -> None:
    # Changing an option after construction would leave the encoder on the old one: refuse it.
    emb = Static2DEmbeddings(model=str(tiny_static_model), dims=8)
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        emb.dims = 16


def test_warm_up_loads_once_and_shares_the_model(tmp_path: Path) -> None:
    path = str(make_static_model(tmp_path / "fresh", dims=32))
    small = Static2DEmbeddings(model=path, dims=8)
    full = Static2DEmbeddings(model=path)
    assert not small.encoder.loaded
    assert small.warm_up() is small
    assert small.encoder.loaded
    assert not full.encoder.loaded
    full.warm_up()
    assert small.encoder.same_model(full.encoder)
    assert (len(small.embed_query("fox")), len(full.embed_query("fox"))) == (8, 32)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"dims": 0}, ValueError, "dims=0 is out of range"),
        ({"layers": 0}, ValueError, "layers=0 is out of range"),
        ({"batch_size": -1}, ValueError, "batch_size=-1 is out of range"),
        ({"max_length": 0}, ValueError, "max_length=0 is out of range"),
        ({"dims": 2.5}, pydantic.ValidationError, "dims"),
        ({"dims": True}, pydantic.ValidationError, "dims"),
        ({"dims": "64"}, pydantic.ValidationError, "dims"),
        ({"normalize": "yes"}, pydantic.ValidationError, "normalize"),
        ({"model": ""}, ValueError, "hub id"),
        ({"model": 3}, pydantic.ValidationError, "model"),
        ({"dimensions": 64}, TypeError, r"no option 'dimensions' .*: use the static2d option dims=64 instead\."),
        ({"colour": "blue"}, TypeError, r"^Static2DEmbeddings has no option 'colour'\. Its options: model, dims"),
    ],
)
def test_invalid_options_raise_at_construction(options: dict[str, object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        Static2DEmbeddings(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", ["layers on a static model", "missing directory"])
def test_model_errors_raise_at_construction(case: str, tiny_static_model: Path, tmp_path: Path) -> None:
    options = (
        {"model": str(tiny_static_model), "layers": 2}
        if case.startswith("layers")
        else {"model": str(tmp_path / "no" / "such" / "model")}
    )
    match = "static embedding model" if case.startswith("layers") else "names no folder"
    with pytest.raises(ValueError, match=match):
        Static2DEmbeddings(**options)


def test_async_parity(tiny_static_model: Path, texts: list[str]) -> None:
    emb = Static2DEmbeddings(model=str(tiny_static_model), dims=16)

    async def both() -> tuple[list[list[float]], list[float]]:
        return await emb.aembed_documents(texts), await emb.aembed_query(texts[3])

    docs, query = asyncio.run(both())
    assert docs == emb.embed_documents(texts)
    assert query == emb.embed_query(texts[3])


def test_async_runs_off_the_event_loop(tiny_static_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    emb = Static2DEmbeddings(model=str(tiny_static_model))
    threads: list[int] = []
    encode_document = type(emb.encoder).encode_document

    def spy(self: static2d.Encoder, texts: list[str], **kwargs: bool) -> object:
        threads.append(threading.get_ident())
        return encode_document(self, texts, **kwargs)

    monkeypatch.setattr(type(emb.encoder), "encode_document", spy)

    async def run() -> int:
        await emb.aembed_documents(["the fox"])
        return threading.get_ident()

    loop_thread = asyncio.run(run())
    assert threads
    assert threads[0] != loop_thread


def test_backend_reaches_the_core(tiny_static_model: Path) -> None:
    # a hub id is looked up on first use: the option reaches the core's encoder as given
    assert Static2DEmbeddings(model="owner/other-model", backend="torch").encoder.options["backend"] == "torch"
    with pytest.raises(ValueError, match=r"backend='torch' was given, but .* is a static embedding model"):
        Static2DEmbeddings(model=str(tiny_static_model), backend="torch")  # a transformer's option, refused
    assert Static2DEmbeddings(model=str(tiny_static_model)).model_dump()["backend"] == "auto"
    with pytest.raises(pydantic.ValidationError, match="backend"):
        Static2DEmbeddings(model=str(tiny_static_model), backend="tensorflow")  # type: ignore[arg-type]
