"""What a newcomer meets first, in Haystack: one clear message, printed once, naming the fix.

The default model offline, a transformer without the extra (named as this package's), another embedder's option.
Each is run as a user runs it, in a fresh interpreter, and what it prints is read back: one traceback, and the
exact last line.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from haystack_integrations.components.embedders.static2d import Static2DDocumentEmbedder, Static2DTextEmbedder
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


def test_an_unknown_option_gets_the_closest_one(tmp_path: Path) -> None:
    script = (
        "from haystack_integrations.components.embedders.static2d import Static2DTextEmbedder\n"
        "Static2DTextEmbedder(dimension=256)"
    )
    printed = run_python(script, home=tmp_path)
    assert printed.tracebacks == 1, printed.stderr
    assert printed.last_line.startswith(
        "TypeError: Static2DTextEmbedder has no option 'dimension': did you mean dims=256? Its options: model, dims, "
    )
    with pytest.raises(TypeError, match=r"^Static2DDocumentEmbedder has no option 'depth': did you mean layers=2\?"):
        Static2DDocumentEmbedder(depth=2)
    # Haystack's own types in the suggestion
    with pytest.raises(TypeError, match=r"did you mean device=ComponentDevice\.from_str\('cuda'\)\?"):
        Static2DTextEmbedder(devices="cuda")


def test_prompts_and_quantization_ranges_name_the_static2d_options() -> None:
    with pytest.raises(TypeError) as info:
        Static2DTextEmbedder(prompts="query: ")
    assert str(info.value) == (
        "Static2DTextEmbedder has no option 'prompts' (an option of sentence-transformers): use the static2d options "
        "query_prompt, document_prompt instead."
    )
    with pytest.raises(TypeError) as info:
        Static2DDocumentEmbedder(quantization_ranges=[[-1.0, 1.0]])
    assert str(info.value).startswith(
        f"Static2DDocumentEmbedder has no option 'quantization_ranges' (an option of {HAYSTACK_ST}): use the static2d "
        "option precision instead: precision='int8' or 'uint8' quantizes as sentence-transformers' "
        "quantize_embeddings does, with each dimension's range fixed per model"
    )


@pytest.mark.parametrize("component", [Static2DTextEmbedder, Static2DDocumentEmbedder])
def test_every_peer_name_suggests_an_option_it_takes(component: type) -> None:
    takes = [name for name in inspect.signature(component.__init__).parameters if name != "self"]
    assert peer_name_problems(component, component.__name__, takes) == []
