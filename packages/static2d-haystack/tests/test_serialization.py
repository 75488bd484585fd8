import copy
import inspect

import numpy as np
import pytest
import static2d
import yaml
from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
from haystack.components.writers import DocumentWriter
from haystack.core.errors import DeserializationError, PipelineError
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.utils import ComponentDevice, Secret
from haystack_integrations.components.embedders.static2d import Static2DDocumentEmbedder, Static2DTextEmbedder

PREFIX = "haystack_integrations.components.embedders.static2d."
DOCS = [
    Document(content="Giant pandas eat bamboo for most of the day.", meta={"title": "Pandas"}),
    Document(content="The river bank flooded after the storm.", meta={"title": "Weather"}),
    Document(content="The bank raised its interest rates.", meta={"title": "Money"}),
    Document(content="A man plays the guitar at night in the city.", meta={"title": "Music"}),
]


def test_text_embedder_to_dict(tiny_static):
    cpu = ComponentDevice.from_str("cpu")
    data = Static2DTextEmbedder(str(tiny_static), dims=16, prefix="p ", device=cpu).to_dict()
    assert data == {
        "type": PREFIX + "text_embedder.Static2DTextEmbedder",
        "init_parameters": {
            "model": str(tiny_static),
            "dims": 16,
            "layers": None,
            "normalize": True,
            "batch_size": None,
            "query_prompt": None,
            "document_prompt": None,
            "device": {"type": "single", "device": "cpu"},
            "revision": None,
            "cache_folder": None,
            "local_files_only": False,
            "trust_remote_code": False,
            "max_length": None,
            "backend": "auto",
            "quantize": None,
            "dtype": "float32",
            "precision": "float32",
            "token": {"type": "env_var", "env_vars": ["HF_API_TOKEN", "HF_TOKEN"], "strict": False},
            "prefix": "p ",
            "suffix": "",
            "show_progress_bar": False,
        },
    }


def test_document_embedder_to_dict_has_every_init_parameter(tiny_static):
    data = Static2DDocumentEmbedder(str(tiny_static), meta_fields_to_embed=["title"], embedding_separator=" ").to_dict()
    assert data["type"] == PREFIX + "document_embedder.Static2DDocumentEmbedder"
    params = set(inspect.signature(Static2DDocumentEmbedder.__init__).parameters) - {"self"}
    assert set(data["init_parameters"]) == params
    assert set(Static2DTextEmbedder(str(tiny_static)).to_dict()["init_parameters"]) == (
        params - {"meta_fields_to_embed", "embedding_separator"}
    )
    assert data["init_parameters"]["meta_fields_to_embed"] == ["title"]
    assert data["init_parameters"]["embedding_separator"] == " "


@pytest.mark.parametrize("cls", [Static2DTextEmbedder, Static2DDocumentEmbedder])
def test_the_token_value_is_never_serialised(tiny_static, monkeypatch, cls):
    monkeypatch.setenv("HF_TOKEN", "hf_do_not_leak")
    embedder = cls(str(tiny_static))
    assert embedder.encoder._options.token == "hf_do_not_leak"  # it does reach the core
    assert embedder.encoder.options["token"] == "***"  # and the core does not show it
    pipe = Pipeline()
    pipe.add_component("embedder", embedder)
    assert "hf_do_not_leak" not in pipe.dumps()
    assert "hf_do_not_leak" not in repr(embedder.to_dict())
    with pytest.raises(ValueError, match="Cannot serialize token-based secret"):
        cls(str(tiny_static), token=Secret.from_token("hf_plain")).to_dict()


def test_round_trip_gives_the_same_vectors(tiny_static):
    cpu = ComponentDevice.from_str("cpu")
    text = Static2DTextEmbedder(str(tiny_static), dims=24, prefix="the ", suffix=" cat", query_prompt="a ", device=cpu)
    data = text.to_dict()
    saved = copy.deepcopy(data)
    again = Static2DTextEmbedder.from_dict(data)
    assert data == saved  # from_dict leaves its input alone
    assert again.to_dict() == data
    assert isinstance(again.token, Secret)
    assert again.device == ComponentDevice.from_str("cpu")
    assert again.run("panda")["embedding"] == text.run("panda")["embedding"]

    docs = Static2DDocumentEmbedder(str(tiny_static), dims=12, meta_fields_to_embed=["title"], embedding_separator=" ")
    docs_again = Static2DDocumentEmbedder.from_dict(docs.to_dict())
    assert docs_again.to_dict() == docs.to_dict()
    assert docs_again.run(DOCS) == docs.run(DOCS)


def _edit(dumped: str, **changes: object) -> str:
    """Change the embedder's init parameters in a pipeline YAML, as a user editing the file would."""
    data = yaml.safe_load(dumped)
    data["components"]["embedder"]["init_parameters"].update(changes)
    return yaml.safe_dump(data)


def _pipelines(model: str, index: str, **options: object) -> tuple[Pipeline, Pipeline]:
    store = InMemoryDocumentStore(index=index, embedding_similarity_function="cosine")
    indexing = Pipeline()
    indexing.add_component("embedder", Static2DDocumentEmbedder(model, meta_fields_to_embed=["title"], **options))
    indexing.add_component("writer", DocumentWriter(document_store=store))
    indexing.connect("embedder.documents", "writer.documents")
    query = Pipeline()
    query.add_component("embedder", Static2DTextEmbedder(model, **options))
    query.add_component("retriever", InMemoryEmbeddingRetriever(document_store=store, top_k=2))
    query.connect("embedder.embedding", "retriever.query_embedding")
    return indexing, query


def _run_rag(indexing: Pipeline, query: Pipeline, question: str) -> tuple[list[Document], list[float], list[Document]]:
    indexing.run({"embedder": {"documents": DOCS}})
    stored = indexing.get_component("writer").document_store.filter_documents()
    result = query.run({"embedder": {"text": question}}, include_outputs_from={"embedder"})
    return stored, result["embedder"]["embedding"], result["retriever"]["documents"]


def _assert_retrieved_by_cosine(found, query_embedding, stored):
    scores = {content: float(np.dot(query_embedding, vector)) for content, vector in stored.items()}
    best = sorted(scores, key=scores.get, reverse=True)[:2]
    assert [doc.content for doc in found] == best
    np.testing.assert_allclose([doc.score for doc in found], [scores[c] for c in best], atol=1e-5)


def test_yaml_pipelines_with_dims_edited_static(tiny_static):
    indexing, query = _pipelines(str(tiny_static), "static2d-haystack-yaml-static", dims=48)
    new_indexing = Pipeline.loads(_edit(indexing.dumps(), dims=20))
    new_query = Pipeline.loads(_edit(query.dumps(), dims=20))
    stored, embedding, found = _run_rag(new_indexing, new_query, "what do pandas eat")

    core = static2d.load(tiny_static, dims=20)
    assert len(embedding) == 20
    np.testing.assert_allclose(embedding, core.encode_query(["what do pandas eat"])[0], atol=1e-6)
    by_content = {doc.content: doc.embedding for doc in stored}
    texts = [f"{doc.meta['title']}\n{doc.content}" for doc in DOCS]
    np.testing.assert_allclose([by_content[d.content] for d in DOCS], core.encode_document(texts), atol=1e-6)
    _assert_retrieved_by_cosine(found, embedding, by_content)


@pytest.mark.slow
def test_yaml_pipelines_with_layers_and_dims_edited_transformer(minilm):
    indexing, query = _pipelines(str(minilm), "static2d-haystack-yaml-minilm", layers=3, dims=128)
    new_indexing = Pipeline.loads(_edit(indexing.dumps(), layers=2, dims=64))
    new_query = Pipeline.loads(_edit(query.dumps(), layers=2, dims=64))
    assert new_query.get_component("embedder").to_dict()["init_parameters"]["layers"] == 2
    stored, embedding, found = _run_rag(new_indexing, new_query, "What do pandas eat?")

    core = static2d.load(minilm, layers=2, dims=64)
    np.testing.assert_allclose(embedding, core.encode_query(["What do pandas eat?"])[0], atol=1e-6)
    by_content = {doc.content: doc.embedding for doc in stored}
    texts = [f"{doc.meta['title']}\n{doc.content}" for doc in DOCS]
    np.testing.assert_allclose([by_content[d.content] for d in DOCS], core.encode_document(texts), atol=1e-6)
    _assert_retrieved_by_cosine(found, embedding, by_content)
    assert found[0].content == DOCS[0].content  # a real model, even cut down, finds the panda


def test_yaml_with_invalid_dims_fails_on_load(tiny_static):
    _, query = _pipelines(str(tiny_static), "static2d-haystack-yaml-invalid")
    with pytest.raises((ValueError, DeserializationError, PipelineError)) as info:
        Pipeline.loads(_edit(query.dumps(), dims=0))
    # Haystack 3 puts static2d's message in its own; Haystack 2 chains it (raise ... from e).
    assert "dims=0 is out of range" in f"{info.value} {info.value.__cause__}"
