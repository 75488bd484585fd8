from __future__ import annotations

import importlib.util
import math

import pytest
from llama_index.embeddings.static2d import Static2DEmbedding

pytestmark = pytest.mark.notorch


def test_torch_is_not_installed():
    assert importlib.util.find_spec("torch") is None


def test_static_model_embeds_without_torch(tiny_model):
    embed = Static2DEmbedding(tiny_model, dims=16)
    query = embed.get_query_embedding("where does the panda live")
    texts = embed.get_text_embedding_batch(["the panda eats bamboo", "the river bank"])
    assert len(query) == 16
    assert [len(v) for v in texts] == [16, 16]
    assert all(type(x) is float for x in query)
    assert math.isclose(sum(x * x for x in query), 1.0, rel_tol=1e-5)
