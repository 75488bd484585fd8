from __future__ import annotations

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.embeddings.static2d import Static2DEmbedding

DOCUMENTS = {
    "panda": "The giant panda lives in the mountains of China and eats bamboo almost all day.",
    "guitar": "She plays the electric guitar in a rock band every Friday night.",
    "bank": "The central bank raised interest rates to fight inflation and protect the currency.",
    "river": "The river floods its banks each spring when the snow in the hills melts.",
}
QUESTIONS = {
    "What do pandas eat?": "panda",
    "Which musical instrument does she play?": "guitar",
    "Why did the interest rates go up?": "bank",
}


@pytest.fixture
def settings_embed_model():
    saved = Settings._embed_model
    yield
    Settings._embed_model = saved


@pytest.mark.slow
@pytest.mark.usefixtures("settings_embed_model")
@pytest.mark.parametrize("which", ["distilled", "minilm"])
def test_vector_store_index_retrieves_the_right_document(request, which):
    if which == "distilled":
        dims, embed = 128, Static2DEmbedding(request.getfixturevalue("distilled_model"), dims=128)
    else:
        dims, embed = 256, Static2DEmbedding(request.getfixturevalue("minilm"), layers=4, dims=256)
    Settings.embed_model = embed
    documents = [Document(text=text, metadata={"topic": topic}) for topic, text in DOCUMENTS.items()]
    index = VectorStoreIndex.from_documents(documents)
    retriever = index.as_retriever(similarity_top_k=1)
    for question, topic in QUESTIONS.items():
        (hit,) = retriever.retrieve(question)
        assert hit.node.metadata["topic"] == topic, question
    stored = index.vector_store.data.embedding_dict
    assert len(stored) == len(DOCUMENTS)
    assert {len(vector) for vector in stored.values()} == {dims}
