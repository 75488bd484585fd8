"""Each framework builds its embedder from a config file; editing `layers` / `dims` in the file takes effect.

Haystack: the indexing and query pipelines as YAML (`Pipeline.dumps()` / `Pipeline.loads`). LangChain: a TOML
file of `Static2DEmbeddings` options. LlamaIndex: `Static2DEmbedding.to_dict()` saved as YAML, read back with
`from_dict`. After each edit the reloaded pipeline gives vectors of the new size, equal to the core's, and its
vector store holds vectors of exactly that size.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
import static2d
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

pytestmark = pytest.mark.slow

N_DOCS = 40
N_QUESTIONS = 3
# The first settings are written to the file; each later one is edited into it, then the file is reloaded.
STEPS = {
    "minilm": [{"layers": 6, "dims": 384}, {"layers": 2, "dims": 96}, {"layers": 1, "dims": 32}],
    "static": [{"dims": 256}, {"dims": 64}],
}


@pytest.fixture
def texts(corpus):
    return corpus.doc_ids[:N_DOCS], corpus.doc_texts[:N_DOCS], corpus.questions[:N_QUESTIONS]


def _core(model: Path, step: dict[str, int]) -> static2d.Encoder:
    return static2d.load(model, **step)


def _check_vectors(got, expected, dims: int) -> None:
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == expected.shape == (len(expected), dims)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("which", list(STEPS))
def test_haystack_pipeline_yaml(which, models, texts, tmp_path):
    from haystack import Document, Pipeline
    from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
    from haystack.components.writers import DocumentWriter
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from haystack.document_stores.types import DuplicatePolicy
    from haystack_integrations.components.embedders.static2d import Static2DDocumentEmbedder, Static2DTextEmbedder

    model, (doc_ids, doc_texts, questions) = models[which], texts
    first, *_ = STEPS[which]
    # Two pipelines, one store: in-memory stores with the same `index` share their documents.
    index = f"config-swap-{tmp_path.name}"
    indexing = Pipeline()
    indexing.add_component("embedder", Static2DDocumentEmbedder(str(model), **first))
    store = InMemoryDocumentStore(index=index, embedding_similarity_function="cosine")
    indexing.add_component("writer", DocumentWriter(document_store=store, policy=DuplicatePolicy.OVERWRITE))
    indexing.connect("embedder.documents", "writer.documents")
    query = Pipeline()
    query.add_component("embedder", Static2DTextEmbedder(str(model), **first))
    query.add_component("retriever", InMemoryEmbeddingRetriever(document_store=store, top_k=3, return_embedding=True))
    query.connect("embedder.embedding", "retriever.query_embedding")
    files = {"indexing": tmp_path / "indexing.yaml", "query": tmp_path / "query.yaml"}
    files["indexing"].write_text(indexing.dumps())
    files["query"].write_text(query.dumps())

    for step in STEPS[which]:
        for path in files.values():
            config = yaml.safe_load(path.read_text())
            params = config["components"]["embedder"]["init_parameters"]
            assert set(step) <= set(params)
            params.update(step)
            path.write_text(yaml.safe_dump(config))
        indexing = Pipeline.loads(files["indexing"].read_text())
        query = Pipeline.loads(files["query"].read_text())
        core, dims = _core(model, step), step["dims"]

        documents = [Document(id=i, content=t) for i, t in zip(doc_ids, doc_texts, strict=True)]
        indexing.run({"embedder": {"documents": documents}})
        written = indexing.get_component("writer").document_store.filter_documents()
        stored = {doc.id: doc.embedding for doc in written}
        assert sorted(stored) == sorted(doc_ids)
        expected_docs = core.encode_document(doc_texts)
        _check_vectors([stored[i] for i in doc_ids], expected_docs, dims)

        expected = core.encode_query(questions)
        for q, question in enumerate(questions):
            result = query.run({"embedder": {"text": question}}, include_outputs_from={"embedder"})
            _check_vectors([result["embedder"]["embedding"]], expected[q : q + 1], dims)
            hits = result["retriever"]["documents"]
            # The query pipeline's store is the indexing pipeline's (same index), holding only `dims`-long vectors.
            assert len(hits) == 3
            assert {len(hit.embedding or []) for hit in hits} == {dims}
            assert hits[0].id == doc_ids[int(np.argmax(expected_docs @ expected[q]))]


def _set_toml_key(path: Path, key: str, value: int) -> None:
    text, count = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", path.read_text())
    assert count == 1, f"{key} not found once in {path}"
    path.write_text(text)


@pytest.mark.parametrize("which", list(STEPS))
def test_langchain_toml(which, models, texts, tmp_path):
    from langchain_core.vectorstores import InMemoryVectorStore
    from langchain_static2d import Static2DEmbeddings

    model, (doc_ids, doc_texts, questions) = models[which], texts
    first, *_ = STEPS[which]
    path = tmp_path / "embeddings.toml"
    lines = ["# Static2DEmbeddings options", "[embeddings]", f"model = '{model}'"]
    path.write_text("\n".join([*lines, *(f"{key} = {value}" for key, value in first.items())]) + "\n")

    for step in STEPS[which]:
        for key, value in step.items():
            _set_toml_key(path, key, value)
        embeddings = Static2DEmbeddings(**tomllib.loads(path.read_text())["embeddings"])
        assert (embeddings.layers, embeddings.dims) == (step.get("layers"), step["dims"])
        core, dims = _core(model, step), step["dims"]

        store = InMemoryVectorStore.from_texts(doc_texts, embeddings, ids=doc_ids)
        _check_vectors([store.store[i]["vector"] for i in doc_ids], core.encode_document(doc_texts), dims)
        _check_vectors([embeddings.embed_query(q) for q in questions], core.encode_query(questions), dims)
        assert len(store.as_retriever(search_kwargs={"k": 3}).invoke(questions[0])) == 3


@pytest.fixture
def restore_settings():
    from llama_index.core import Settings

    saved = Settings._embed_model
    yield
    Settings._embed_model = saved


@pytest.mark.usefixtures("restore_settings")
@pytest.mark.parametrize("which", list(STEPS))
def test_llamaindex_yaml(which, models, texts, tmp_path):
    from llama_index.core import Document, Settings, VectorStoreIndex
    from llama_index.embeddings.static2d import Static2DEmbedding

    model, (doc_ids, doc_texts, questions) = models[which], texts
    first, *_ = STEPS[which]
    path = tmp_path / "embed_model.yaml"
    path.write_text(yaml.safe_dump(Static2DEmbedding(str(model), **first).to_dict()))

    for step in STEPS[which]:
        config = yaml.safe_load(path.read_text())
        assert set(step) <= set(config)
        config.update(step)
        path.write_text(yaml.safe_dump(config))
        Settings.embed_model = Static2DEmbedding.from_dict(yaml.safe_load(path.read_text()))
        core, dims = _core(model, step), step["dims"]

        index = VectorStoreIndex.from_documents(
            [Document(text=t, id_=i) for i, t in zip(doc_ids, doc_texts, strict=True)]
        )
        by_doc = {index.docstore.docs[n].ref_doc_id: v for n, v in index.vector_store.data.embedding_dict.items()}
        _check_vectors([by_doc[i] for i in doc_ids], core.encode_document(doc_texts), dims)
        queries = [Settings.embed_model.get_query_embedding(q) for q in questions]
        _check_vectors(queries, core.encode_query(questions), dims)
        assert len(index.as_retriever(similarity_top_k=3).retrieve(questions[0])) == 3
