"""What a newcomer meets first, in LlamaIndex: one clear message, printed once, naming the fix.

The default model offline, a transformer without the extra (named as this package's), another embedder's option.
Each is run as a user runs it, in a fresh interpreter, and what it prints is read back: one traceback, and the
exact last line.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.embeddings.static2d import Static2DEmbedding
from static2d_testkit import bert_files
from static2d_testkit.printed import (
    HAYSTACK_ST,
    LANGCHAIN_HF,
    OFFLINE,
    ONE_PROCESS,
    no_extra,
    peer_name_problems,
    run_python,
)

NO_EXTRA = no_extra("static2d-llamaindex")
OFFLINE_SCRIPT = (
    "from llama_index.core import Document, Settings, VectorStoreIndex\n"
    "from llama_index.embeddings.static2d import Static2DEmbedding\n"
    "Settings.embed_model = Static2DEmbedding()\n"
    "VectorStoreIndex.from_documents([Document(text='Giant pandas eat bamboo.')])"
)
NO_EXTRA_SCRIPT = (
    "import sys; sys.modules['sentence_transformers'] = None\n"
    "from llama_index.embeddings.static2d import Static2DEmbedding\n"
    "Static2DEmbedding({model!r}, backend='torch').get_query_embedding('What do pandas eat?')"
)


def test_the_default_model_offline_is_one_message(tmp_path: Path) -> None:
    printed = run_python(OFFLINE_SCRIPT, home=tmp_path)
    assert printed.returncode == 1
    assert printed.tracebacks == 1, printed.stderr  # no chain from huggingface_hub, pydantic or LlamaIndex
    assert printed.last_line == OFFLINE


def test_a_transformer_without_the_extra_names_this_package(tmp_path: Path) -> None:
    model = bert_files(tmp_path / "bert")
    # sys.modules[name] = None: an import of it fails as if it were not installed
    printed = run_python(NO_EXTRA_SCRIPT.format(model=str(model)), home=tmp_path)
    assert printed.tracebacks == 1, printed.stderr
    assert printed.last_line == NO_EXTRA


@pytest.mark.parametrize(
    ("name", "value", "refusal"),
    [
        (
            "model_kwargs",
            {"device": "cuda"},
            f"(an option of {LANGCHAIN_HF} and {HAYSTACK_ST}): use the static2d option device='cuda' instead.",
        ),
        (
            "encode_kwargs",
            {"normalize_embeddings": True},
            f"(an option of {LANGCHAIN_HF} and {HAYSTACK_ST}): use the static2d option normalize=True instead.",
        ),
        (
            "show_progress",
            True,
            f"(an option of {LANGCHAIN_HF}): use the static2d option show_progress_bar=True instead.",
        ),
        (
            "truncate_dim",
            16,
            f"(an option of sentence-transformers and {HAYSTACK_ST}): use the static2d option dims=16 instead.",
        ),
        (
            "parallel_process",
            True,
            f"(an option of LlamaIndex's HuggingFaceEmbedding): {ONE_PROCESS}",
        ),
    ],
)
def test_a_peer_option_gets_the_static2d_option(tiny_model: Path, name: str, value: object, refusal: str) -> None:
    model = tiny_model
    with pytest.raises(TypeError) as info:
        Static2DEmbedding(str(model), **{name: value})
    assert str(info.value) == f"Static2DEmbedding has no option {name!r} {refusal}"


def test_an_unknown_option_gets_the_closest_one(tmp_path: Path) -> None:
    script = "from llama_index.embeddings.static2d import Static2DEmbedding\nStatic2DEmbedding(dimension=256)"
    printed = run_python(script, home=tmp_path)
    assert printed.tracebacks == 1, printed.stderr
    assert printed.last_line.startswith(
        "TypeError: Static2DEmbedding has no option 'dimension': did you mean dims=256? Its options: backend, "
    )
    for name, meant in (("num_layers", "layers=2"), ("n_layers", "layers=2"), ("batchsize", "batch_size=2")):
        with pytest.raises(TypeError, match=rf"^Static2DEmbedding has no option '{name}': did you mean {meant}\?"):
            Static2DEmbedding(**{name: 2})


def test_prompts_names_the_prompt_options() -> None:
    with pytest.raises(TypeError) as info:
        Static2DEmbedding(prompts="query: ")
    assert str(info.value) == (
        "Static2DEmbedding has no option 'prompts' (an option of sentence-transformers): use the static2d options "
        "query_prompt, document_prompt instead."
    )


def test_every_peer_name_suggests_an_option_it_takes() -> None:
    takes = list(Static2DEmbedding.model_fields)
    assert peer_name_problems(Static2DEmbedding, "Static2DEmbedding", takes) == []
