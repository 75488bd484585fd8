"""static2d.BatchEncoder on its own: dict / pandas / pyarrow batches, options, errors, pickling, threads."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import static2d


@pytest.fixture(scope="module")
def core(static_model: str) -> static2d.Encoder:
    return static2d.load(static_model, dims=64)


def test_dict_batch_gets_the_cores_vectors(static_model, core, sentences):
    texts = np.array(sentences[:50], dtype=object)
    batch = {"id": np.arange(50), "text": texts}
    out = static2d.BatchEncoder(static_model, dims=64)(batch)
    assert type(out) is dict
    assert set(out) == {"id", "text", "embedding"}
    assert set(batch) == {"id", "text"}  # the input batch is not modified
    assert out["embedding"].dtype == np.float32
    assert out["embedding"].shape == (50, 64)
    np.testing.assert_array_equal(out["embedding"], core.encode_document(sentences[:50]))
    np.testing.assert_array_equal(out["id"], np.arange(50))


def test_dict_batch_of_numpy_str_and_of_a_list(static_model, core, sentences):
    enc = static2d.BatchEncoder(static_model, dims=64, column="body", output_column="vec")
    expected = core.encode_document(sentences[:5])
    np.testing.assert_array_equal(enc({"body": np.array(sentences[:5])})["vec"], expected)  # dtype <U
    np.testing.assert_array_equal(enc({"body": sentences[:5]})["vec"], expected)


def test_pandas_batch(static_model, core, sentences):
    df = pd.DataFrame({"text": sentences[:20], "n": range(20)})
    out = static2d.BatchEncoder(static_model, dims=64, kind="query")(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["text", "n", "embedding"]
    assert list(df.columns) == ["text", "n"]
    np.testing.assert_array_equal(np.stack(out["embedding"].to_list()), core.encode_query(sentences[:20]))


def test_pyarrow_batch_replaces_an_existing_output_column(static_model, core, sentences):
    table = pa.table({"embedding": [1] * 10, "text": sentences[:10]})
    out = static2d.BatchEncoder(static_model, dims=64, kind="plain")(table)
    assert isinstance(out, pa.Table)
    assert out.column_names == ["embedding", "text"]
    assert out.schema.field("embedding").type == pa.list_(pa.float32(), 64)
    np.testing.assert_array_equal(np.array(out.column("embedding").to_pylist()), core.encode(sentences[:10]))
    assert table.column("embedding").to_pylist() == [1] * 10


def test_kind_picks_the_prompt(static_model, sentences):
    prompts = {"query_prompt": "query: ", "document_prompt": "passage: "}
    batch = {"text": sentences[:4]}
    vectors = {
        kind: static2d.BatchEncoder(static_model, kind=kind, **prompts)(batch)["embedding"]
        for kind in ("document", "query", "plain")
    }
    core = static2d.load(static_model, **prompts)
    np.testing.assert_array_equal(vectors["document"], core.encode_document(sentences[:4]))
    np.testing.assert_array_equal(vectors["query"], core.encode_query(sentences[:4]))
    np.testing.assert_array_equal(vectors["plain"], core.encode(sentences[:4]))
    assert not np.allclose(vectors["document"], vectors["query"])


def test_empty_batch(static_model):
    out = static2d.BatchEncoder(static_model, dims=32)({"text": np.array([], dtype=object)})
    assert out["embedding"].shape == (0, 32)


def test_options_are_checked_at_construction_without_loading(static_model):
    with pytest.raises(ValueError, match=r"dims=999 is out of range: this model takes dims from 1 to 256"):
        static2d.BatchEncoder(static_model, dims=999)
    with pytest.raises(ValueError, match=r"static models have no layers"):
        static2d.BatchEncoder(static_model, layers=2)
    with pytest.raises(TypeError, match=r"unknown option\(s\) 'dimz'\. It takes column, output_column, kind, threads"):
        static2d.BatchEncoder(static_model, dimz=64)
    with pytest.raises(TypeError, match=r"unknown option\(s\) 'lazy'"):
        static2d.BatchEncoder(static_model, lazy=False)
    with pytest.raises(ValueError, match=r"kind must be one of 'document', 'query', 'plain'.*got 'queries'"):
        static2d.BatchEncoder(static_model, kind="queries")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"column must be a column name \(a non-empty str\), got 3 \(int\)"):
        static2d.BatchEncoder(static_model, column=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"threads must be a whole number"):
        static2d.BatchEncoder(static_model, threads=1.5)  # type: ignore[arg-type]
    enc = static2d.BatchEncoder(static_model, dims=8)
    assert not enc.encoder.loaded


@pytest.mark.parametrize(
    ("batch", "item"),
    [
        ({"text": np.array(["a panda", None, "a bear"], dtype=object)}, "item 1 is a NoneType"),
        (pd.DataFrame({"text": ["a panda", "a bear", np.nan]}), "item 2 is a float"),
        (pa.table({"text": ["a panda", None]}), "item 1 is a NoneType"),
        ({"text": np.array([b"bytes"], dtype=object)}, "item 0 is bytes"),
    ],
)
def test_a_row_without_text_is_a_clear_error(static_model, batch, item):
    enc = static2d.BatchEncoder(static_model)
    with pytest.raises(TypeError, match=rf"BatchEncoder: column 'text' must hold text only: .*{item}.*dropna"):
        enc(batch)


def test_a_missing_column_or_a_foreign_batch_is_a_clear_error(static_model):
    enc = static2d.BatchEncoder(static_model, column="body")
    with pytest.raises(ValueError, match=r"the batch has no column 'body' \(it has 'text', 'id'\)\. Name the text"):
        enc({"text": np.array(["a"]), "id": np.array([1])})
    with pytest.raises(TypeError, match=r"column 'body' of the dict batch is a str; expected a numpy array or list"):
        enc({"body": "one text"})
    with pytest.raises(TypeError, match=r"takes a batch as a dict of arrays.*got builtins\.list"):
        enc(["a panda"])


def test_pickles_as_its_options(static_model, core, sentences):
    enc = static2d.BatchEncoder(static_model, dims=64, output_column="v")
    enc({"text": ["warm"]})
    copy = pickle.loads(pickle.dumps(enc))
    assert repr(copy).startswith("BatchEncoder(Encoder(")
    assert "output_column='v'" in repr(copy)
    np.testing.assert_array_equal(copy({"text": sentences[:3]})["v"], core.encode_document(sentences[:3]))


def test_threads_caps_static2d_torch_and_the_tokenizer_pool(minilm):
    # A fresh process: the limit is process-wide, and the tokenizer pool is sized on first use.
    code = f"""
import os, numpy as np, static2d, torch
from static2d import _threads
assert _threads.configured() is None and _threads.ray_cpus() is None
enc = static2d.BatchEncoder({minilm!r}, layers=1, dims=32, threads=1, backend="torch")
out = enc({{"text": np.array(["a panda eats bamboo", "a bear"], dtype=object)}})
print(_threads.limit(), torch.get_num_threads(), os.environ["RAYON_NUM_THREADS"], os.environ["TOKENIZERS_PARALLELISM"])
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "1", "1", "false"]
