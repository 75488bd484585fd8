"""What a newcomer meets first, in Haystack: one clear message, printed once, naming the fix.

The default model offline, a transformer without the extra (named as this package's), another embedder's option.
Each is run as a user runs it, in a fresh interpreter, and what it prints is read back: one traceback, and the
exact last line.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from haystack_integrations.components.embedders.static2d import Static2DDocumentEmbedder, Static2DTextEmbedder
from static2d_testkit import bert_files
from static2d_testkit.printed import HAYSTACK_ST, LANGCHAIN_HF, OFFLINE, ONE_PROCESS, no_extra, run_python

NO_EXTRA = no_extra("static2d-haystack")
OFFLINE_SCRIPT = (
    "from haystack import Pipeline\n"
    "from haystack_integrations.components.embedders.static2d import Static2DTextEmbedder\n"
    "pipe = Pipeline()\n"
    "pipe.add_component('embedder', Static2DTextEmbedder())\n"
    "pipe.run({'embedder': {'text': 'What do pandas eat?'}})"
)
NO_EXTRA_SCRIPT = (
    "import sys; sys.modules['sentence_transformers'] = None\n"
    "from haystack_integrations.components.embedders.static2d import Static2DTextEmbedder\n"
    "embedder = Static2DTextEmbedder({model!r}, backend='torch')\n"
    "embedder.warm_up()"
)


def test_the_default_model_offline_is_one_message(tmp_path: Path) -> None:
    printed = run_python(OFFLINE_SCRIPT, home=tmp_path)
    assert printed.returncode == 1
    assert printed.tracebacks == 1, printed.stderr  # no chain from huggingface_hub or Haystack's pipeline
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
            (
                f"(an option of {LANGCHAIN_HF} and {HAYSTACK_ST}): "
                "use the static2d option device=ComponentDevice.from_str('cuda') instead."
            ),
        ),
        (
            "encode_kwargs",
            {"normalize_embeddings": True},
            f"(an option of {LANGCHAIN_HF} and {HAYSTACK_ST}): use the static2d option normalize=True instead.",
        ),
        (
            "normalize_embeddings",
            True,
            (
                f"(an option of {HAYSTACK_ST} and sentence-transformers' encode()): "
                "use the static2d option normalize=True instead."
            ),
        ),
        (
            "progress_bar",
            True,
            f"(an option of {HAYSTACK_ST}): use the static2d option show_progress_bar=True instead.",
        ),
        (
            "truncate_dim",
            16,
            f"(an option of sentence-transformers and {HAYSTACK_ST}): use the static2d option dims=16 instead.",
        ),
        (
            "model_name",
            "org/model",
            (
                f"(an option of {LANGCHAIN_HF} and LlamaIndex's HuggingFaceEmbedding): "
                "use the static2d option model='org/model' instead."
            ),
        ),
        (
            "multi_process",
            True,
            f"(an option of {LANGCHAIN_HF}): {ONE_PROCESS}",
        ),
    ],
)
def test_a_peer_option_gets_the_static2d_option(tiny_static: Path, name: str, value: object, refusal: str) -> None:
    model = tiny_static
    with pytest.raises(TypeError) as info:
        Static2DTextEmbedder(str(model), **{name: value})
    assert str(info.value) == f"Static2DTextEmbedder has no option {name!r} {refusal}"


def test_the_document_embedder_refuses_them_too(tiny_static: Path) -> None:
    with pytest.raises(TypeError) as info:
        Static2DDocumentEmbedder(str(tiny_static), progress_bar=False)
    assert str(info.value) == (
        "Static2DDocumentEmbedder has no option 'progress_bar' (an option of Haystack's SentenceTransformers "
        "embedders): use the static2d option show_progress_bar=False instead."
    )
    # its own options are taken as they are
    assert Static2DDocumentEmbedder(str(tiny_static), meta_fields_to_embed=["title"]).meta_fields_to_embed == ["title"]
