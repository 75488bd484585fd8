import asyncio
import copy
import threading
from dataclasses import replace

import haystack
import numpy as np
import pytest
import static2d
from haystack import Document
from haystack_integrations.components.embedders.static2d import Static2DDocumentEmbedder, Static2DTextEmbedder

DOCS = [
    Document(content="Giant pandas eat bamboo for most of the day.", meta={"title": "Pandas", "page": 0}),
    Document(content="The river bank flooded after the storm.", meta={"title": "Weather", "page": None}),
    Document(content="The bank raised its interest rates.", meta={"topic": "money"}),
    Document(content=None, meta={"title": "No content"}),
    Document(content=""),
]


def _texts(docs):
    return [doc.content or "" for doc in docs]


@pytest.mark.slow
@pytest.mark.parametrize("dims", [None, 32])
def test_parity_with_core_static(distilled, dims):
    result = Static2DDocumentEmbedder(str(distilled), dims=dims).run(DOCS)
    got = np.array([doc.embedding for doc in result["documents"]])
    assert got.shape == (len(DOCS), dims or 256)
    expected = static2d.load(distilled, dims=dims).encode_document(_texts(DOCS))
    np.testing.assert_allclose(got, expected, atol=1e-6)


@pytest.mark.slow
def test_parity_with_core_transformer_layers_and_dims(minilm):
    embedder = Static2DDocumentEmbedder(str(minilm), layers=3, dims=128)
    embedder.warm_up()
    got = np.array([doc.embedding for doc in embedder.run(DOCS)["documents"]])
    expected = static2d.load(minilm, layers=3, dims=128).encode_document(_texts(DOCS))
    assert got.shape == (len(DOCS), 128)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_meta_fields_prefix_suffix_and_separator_compose_like_the_core(tiny_static):
    embedder = Static2DDocumentEmbedder(
        str(tiny_static),
        meta_fields_to_embed=["title", "page", "missing"],
        embedding_separator=" | ",
        prefix="the ",
        suffix=" dog",
    )
    got = np.array([doc.embedding for doc in embedder.run(DOCS)["documents"]])
    composed = [
        "the Pandas | 0 | Giant pandas eat bamboo for most of the day. dog",  # a 0 value is embedded
        "the Weather | The river bank flooded after the storm. dog",  # a None value is not
        "the The bank raised its interest rates. dog",
        "the No content |  dog",
        "the  dog",
    ]
    core = static2d.load(tiny_static)
    assert core.document_prompt == "this is "  # the model's saved document prompt is used
    np.testing.assert_allclose(got, core.encode_document(composed), atol=1e-6)
    np.testing.assert_allclose(got, core.encode(["this is " + t for t in composed], prompt=""), atol=1e-6)


def test_default_separator_is_a_newline(tiny_static):
    doc = Document(content="eats bamboo", meta={"title": "panda"})
    got = Static2DDocumentEmbedder(str(tiny_static), meta_fields_to_embed=["title"]).run([doc])["documents"][0]
    expected = static2d.load(tiny_static).encode_document(["panda\neats bamboo"])[0]
    np.testing.assert_allclose(got.embedding, expected, atol=1e-6)


def test_explicit_document_prompt_replaces_the_saved_one(tiny_static):
    doc = Document(content="a panda")
    got = Static2DDocumentEmbedder(str(tiny_static), document_prompt="").run([doc])["documents"][0].embedding
    np.testing.assert_allclose(got, static2d.load(tiny_static).encode(["a panda"], prompt="")[0], atol=1e-6)


def test_documents_and_queries_meet_in_the_same_space(tiny_static):
    # Same model and dims on both sides: a document's vector is the text embedder's vector for the same text
    # when both prompts are the same.
    options = {"dims": 24, "query_prompt": "", "document_prompt": ""}
    doc = Static2DDocumentEmbedder(str(tiny_static), **options).run([Document(content="panda bear")])
    query = Static2DTextEmbedder(str(tiny_static), **options).run("panda bear")
    np.testing.assert_allclose(doc["documents"][0].embedding, query["embedding"], atol=1e-6)


def test_inputs_are_not_mutated_and_new_documents_are_returned(tiny_static):
    docs = copy.deepcopy(DOCS)
    docs[0] = replace(docs[0], embedding=[0.5] * 3)  # an old embedding is replaced in the output, kept in the input
    before = copy.deepcopy(docs)
    out = Static2DDocumentEmbedder(str(tiny_static), dims=16, meta_fields_to_embed=["title"]).run(docs)["documents"]
    assert docs == before
    assert len(out) == len(docs)
    for old, new in zip(docs, out, strict=True):
        assert new is not old
        assert new.id == old.id
        assert new.content == old.content
        assert new.meta == old.meta
        assert len(new.embedding) == 16
    assert docs[0].embedding == [0.5] * 3


def test_empty_list(tiny_static):
    assert Static2DDocumentEmbedder(str(tiny_static)).run([]) == {"documents": []}


@pytest.mark.parametrize("bad", ["a panda", Document(content="panda"), ["a panda"], [Document(content="x"), "y"], None])
def test_wrong_input_type_message(tiny_static, bad):
    embedder = Static2DDocumentEmbedder(str(tiny_static))
    msg = (
        "Static2DDocumentEmbedder expects a list of Documents as input. "
        "In case you want to embed a string, please use the Static2DTextEmbedder."
    )
    with pytest.raises(TypeError) as info:
        embedder.run(bad)
    assert str(info.value) == msg
    with pytest.raises(TypeError, match="expects a list of Documents as input"):
        asyncio.run(embedder.run_async(bad))


def test_run_async_equals_run_and_leaves_the_loop(tiny_static, monkeypatch):
    embedder = Static2DDocumentEmbedder(str(tiny_static), dims=32, meta_fields_to_embed=["title"])
    threads = []
    encode_document = embedder.encoder.encode_document

    def spy(texts, **kwargs):
        threads.append(threading.get_ident())
        return encode_document(texts, **kwargs)

    monkeypatch.setattr(embedder.encoder, "encode_document", spy)
    expected = embedder.run(DOCS)
    got = asyncio.run(embedder.run_async(DOCS))
    assert got == expected
    assert threads[0] == threading.get_ident()
    assert threads[1] != threading.get_ident()


def test_invalid_options_fail_at_construction(tiny_static, tmp_path):
    with pytest.raises(ValueError, match="dims=0 is out of range"):
        Static2DDocumentEmbedder(str(tiny_static), dims=0)
    with pytest.raises(TypeError, match="dims must be a whole number"):
        Static2DDocumentEmbedder(str(tiny_static), dims=2.5)
    with pytest.raises(ValueError, match="dims=65 is out of range"):
        Static2DDocumentEmbedder(str(tiny_static), dims=65)
    with pytest.raises(ValueError, match="static embedding model"):
        Static2DDocumentEmbedder(str(tiny_static), layers=2)
    with pytest.raises(ValueError, match="names no folder"):
        Static2DDocumentEmbedder(str(tmp_path / "no" / "such model"))


def test_text_and_document_embedders_share_one_loaded_model(tiny_static):
    text = Static2DTextEmbedder(str(tiny_static), dims=8)
    docs = Static2DDocumentEmbedder(str(tiny_static), dims=48)
    text.warm_up()
    docs.warm_up()
    # core internals: the loaded backend is the same object, whatever the dims
    assert text.encoder.same_model(docs.encoder)
    assert (text.encoder.dims, docs.encoder.dims) == (8, 48)


def test_async_pipeline(tiny_static):
    # Haystack 3 runs any Pipeline with run_async; Haystack 2 has AsyncPipeline for that.
    pipe = haystack.Pipeline() if hasattr(haystack.Pipeline, "run_async") else haystack.AsyncPipeline()
    pipe.add_component("docs", Static2DDocumentEmbedder(str(tiny_static), dims=16))
    pipe.add_component("text", Static2DTextEmbedder(str(tiny_static), dims=16))
    result = asyncio.run(pipe.run_async({"docs": {"documents": DOCS}, "text": {"text": "panda"}}))
    assert result["docs"]["documents"] == Static2DDocumentEmbedder(str(tiny_static), dims=16).run(DOCS)["documents"]
    assert result["text"] == Static2DTextEmbedder(str(tiny_static), dims=16).run("panda")
