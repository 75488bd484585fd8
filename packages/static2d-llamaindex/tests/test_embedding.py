from __future__ import annotations

import pickle
import threading
from unittest import mock

import numpy as np
import pytest
import static2d
from llama_index.core.constants import DEFAULT_EMBED_BATCH_SIZE
from llama_index.embeddings.static2d import Static2DEmbedding
from static2d_testkit import make_static_model

QUERIES = ["where does the panda live", "who plays the guitar"]
TEXTS = [f"the {w} dog runs at night by the river bank" for w in ("quick", "brown", "lazy", "big", "old")] * 5


def assert_same(vectors, expected):
    got = np.asarray(vectors, dtype=np.float64)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


# --- the vectors are the core's ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["model2vec", "sentence-transformers"])
def test_static_vectors_equal_the_core(tmp_path, fmt):
    path = make_static_model(tmp_path / fmt, fmt=fmt, dims=64, prompts={"query": "query: ", "document": "doc: "})
    embed = Static2DEmbedding(path, dims=24)
    core = static2d.load(path, dims=24)

    assert_same([embed.get_query_embedding(q) for q in QUERIES], core.encode_query(QUERIES))
    assert_same([embed.get_text_embedding(t) for t in TEXTS[:2]], core.encode_document(TEXTS[:2]))
    assert_same(embed.get_text_embedding_batch(TEXTS), core.encode_document(TEXTS))
    # The prompts really differ, so the checks above tell query from document.
    assert not np.allclose(core.encode_query(QUERIES), core.encode_document(QUERIES))


def test_vectors_are_plain_float_lists_of_dims(tiny_model):
    embed = Static2DEmbedding(tiny_model, dims=8)
    vector = embed.get_query_embedding("the cat")
    assert type(vector) is list
    assert len(vector) == 8
    assert all(type(x) is float for x in vector)
    batch = embed.get_text_embedding_batch(["a cat", "a dog"])
    assert type(batch) is list
    assert all(type(v) is list and len(v) == 8 for v in batch)


def test_options_reach_the_core(tiny_model):
    embed = Static2DEmbedding(tiny_model, dims=8, normalize=False, query_prompt="q: ", document_prompt="d: ")
    core = static2d.load(tiny_model, dims=8, normalize=False, query_prompt="q: ", document_prompt="d: ")
    assert_same([embed.get_query_embedding("the cat")], core.encode_query(["the cat"]))
    assert_same([embed.get_text_embedding("the cat")], core.encode_document(["the cat"]))
    assert not np.isclose(np.linalg.norm(embed.get_query_embedding("the cat")), 1.0)


@pytest.mark.slow
def test_minilm_layers_and_dims_equal_the_core(minilm):
    embed = Static2DEmbedding(minilm, layers=3, dims=128)
    core = static2d.load(minilm, layers=3, dims=128)
    assert_same([embed.get_query_embedding(q) for q in QUERIES], core.encode_query(QUERIES))
    assert_same(embed.get_text_embedding_batch(TEXTS[:5]), core.encode_document(TEXTS[:5]))
    assert len(embed.get_query_embedding("hello")) == 128


# --- batching ----------------------------------------------------------------------------------------------


def spy(method):
    return mock.patch.object(static2d.Encoder, method, autospec=True, side_effect=getattr(static2d.Encoder, method))


def test_a_batch_reaches_the_core_in_one_call(tiny_model):
    texts = [f"the cat number {i}" for i in range(25)]
    assert len(texts) > DEFAULT_EMBED_BATCH_SIZE  # LlamaIndex alone would make 3 calls of 10
    embed = Static2DEmbedding(tiny_model)
    with spy("encode_document") as encode:
        vectors = embed.get_text_embedding_batch(texts)
    assert encode.call_count == 1
    assert list(encode.call_args.args[1]) == texts
    assert len(vectors) == 25


@pytest.mark.asyncio
async def test_async_batch_reaches_the_core_in_one_call(tiny_model):
    texts = [f"the dog number {i}" for i in range(25)]
    embed = Static2DEmbedding(tiny_model)
    with spy("encode_document") as encode:
        vectors = await embed.aget_text_embedding_batch(texts)
    assert encode.call_count == 1
    assert len(vectors) == 25


def test_embed_batch_size_is_still_honoured(tiny_model):
    embed = Static2DEmbedding(tiny_model, embed_batch_size=10)
    with spy("encode_document") as encode:
        embed.get_text_embedding_batch([f"text {i}" for i in range(25)])
    assert [len(call.args[1]) for call in encode.call_args_list] == [10, 10, 5]


# --- async -------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_async_equals_sync(tiny_model):
    embed = Static2DEmbedding(tiny_model, dims=32)
    query = await embed.aget_query_embedding(QUERIES[0])
    text = await embed.aget_text_embedding(TEXTS[0])
    batch = await embed.aget_text_embedding_batch(TEXTS)
    agg = await embed.aget_agg_embedding_from_queries(QUERIES)
    assert query == embed.get_query_embedding(QUERIES[0])
    assert text == embed.get_text_embedding(TEXTS[0])
    assert batch == embed.get_text_embedding_batch(TEXTS)
    assert agg == embed.get_agg_embedding_from_queries(QUERIES)


@pytest.mark.asyncio
async def test_async_runs_off_the_event_loop_thread(tiny_model):
    embed = Static2DEmbedding(tiny_model)
    threads: list[int] = []

    def record(method):
        real = getattr(static2d.Encoder, method)

        def wrapper(self, *args, **kwargs):
            threads.append(threading.get_ident())
            return real(self, *args, **kwargs)

        return mock.patch.object(static2d.Encoder, method, wrapper)

    with record("encode_query"), record("encode_document"):
        await embed.aget_query_embedding("a")
        await embed.aget_text_embedding("b")
        await embed.aget_text_embedding_batch(["c", "d"])
    assert len(threads) == 3
    assert threading.get_ident() not in threads


# --- construction and validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"dims": 0}, ValueError),
        ({"dims": -3}, ValueError),
        ({"dims": 2.5}, TypeError),
        ({"dims": True}, TypeError),
        ({"layers": 0}, ValueError),
        ({"batch_size": "big"}, TypeError),
        ({"normalize": "yes"}, TypeError),
        ({"model": ""}, ValueError),
    ],
)
def test_invalid_options_raise_at_construction(tiny_model, options, error):
    with spy("warm_up") as warm_up, pytest.raises(error):
        Static2DEmbedding(**{"model": tiny_model, **options})
    warm_up.assert_not_called()


def test_model_name_is_the_model(tiny_model):
    embed = Static2DEmbedding(tiny_model)
    assert embed.model == embed.model_name == str(tiny_model)
    with pytest.raises(ValueError, match="model="):
        Static2DEmbedding(model_name="BAAI/bge-small-en-v1.5")


def test_model_options_are_frozen(tiny_model):
    embed = Static2DEmbedding(tiny_model, dims=8)
    with pytest.raises(ValueError, match="frozen"):
        embed.dims = 16
    assert len(embed.get_query_embedding("cat")) == 8


def test_construction_is_lazy_and_warm_up_loads(tiny_model):
    embed = Static2DEmbedding(tiny_model, dims=8)
    assert not embed.encoder.loaded
    assert embed.warm_up() is embed
    assert embed.encoder.loaded


MODEL_ERRORS = [
    pytest.param({"layers": 2}, ValueError, "static", id="layers-on-static"),
    pytest.param({"dims": 65}, ValueError, "out of range", id="dims-above-max"),
    pytest.param({"model": "/no/such/model/dir"}, ValueError, "names no folder", id="bad-path"),
]


@pytest.mark.parametrize(("options", "error", "match"), MODEL_ERRORS)
def test_errors_that_need_the_model_raise_at_construction(tiny_model, options, error, match):
    with pytest.raises(error, match=match):
        Static2DEmbedding(**{"model": tiny_model, **options})


# --- serialisation and sharing -----------------------------------------------------------------------------


def test_to_dict_from_dict_round_trip(tiny_model):
    embed = Static2DEmbedding(tiny_model, dims=16, query_prompt="q: ", embed_batch_size=100)
    data = embed.to_dict()
    assert data["class_name"] == "Static2DEmbedding"
    assert data["dims"] == 16
    again = Static2DEmbedding.from_dict(data)
    assert again.to_dict() == data
    assert again.get_query_embedding("the cat") == embed.get_query_embedding("the cat")
    assert again.get_text_embedding_batch(TEXTS) == embed.get_text_embedding_batch(TEXTS)


def test_json_and_pickle_round_trip(tiny_model):
    embed = Static2DEmbedding(tiny_model, dims=16)
    for again in (Static2DEmbedding.from_json(embed.to_json()), pickle.loads(pickle.dumps(embed))):
        assert again.dims == 16
        assert again.get_query_embedding("the cat") == embed.get_query_embedding("the cat")


def test_embedders_with_different_dims_share_one_model(tiny_model):
    small = Static2DEmbedding(tiny_model, dims=8).warm_up()
    large = Static2DEmbedding(tiny_model, dims=48).warm_up()
    assert small.encoder.same_model(large.encoder)
    a, b = small.get_query_embedding("the cat"), large.get_query_embedding("the cat")
    assert (len(a), len(b)) == (8, 48)
    np.testing.assert_allclose(a, np.asarray(b[:8]) / np.linalg.norm(b[:8]), atol=1e-6)


def test_backend_reaches_the_core(tiny_model):
    with pytest.raises(ValueError, match=r"backend='onnx' was given, but .* is a static embedding model"):
        Static2DEmbedding(tiny_model, backend="onnx")  # a transformer's option, refused on a static model
    embed = Static2DEmbedding("owner/other-model", backend="onnx")  # a hub id is looked up on first use
    assert embed.encoder.options["backend"] == "onnx"
    assert Static2DEmbedding.from_dict(embed.to_dict()).encoder.options["backend"] == "onnx"
    with pytest.raises(ValueError, match="backend must be one of"):
        Static2DEmbedding(tiny_model, backend="tensorflow")
