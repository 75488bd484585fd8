"""What a newcomer meets first, in LangChain: one clear message, printed once, naming the fix.

The default model offline, a transformer without the extra (named as this package's), another embedder's option.
Each is run as a user runs it, in a fresh interpreter, and what it prints is read back: one traceback, and the
exact last line.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from langchain_static2d import Static2DEmbeddings
from static2d_testkit import bert_files
from static2d_testkit.printed import HAYSTACK_ST, LANGCHAIN_HF, OFFLINE, no_extra, peer_name_problems, run_python

NO_EXTRA = no_extra("static2d-langchain")
OFFLINE_SCRIPT = (
    "from langchain_static2d import Static2DEmbeddings\nStatic2DEmbeddings().embed_query('What do pandas eat?')"
)
NO_EXTRA_SCRIPT = (
    "import sys; sys.modules['sentence_transformers'] = None\n"
    "from langchain_static2d import Static2DEmbeddings\n"
    "Static2DEmbeddings(model={model!r}, backend='torch').embed_query('What do pandas eat?')"
)


def test_the_default_model_offline_is_one_message(tmp_path: Path) -> None:
    printed = run_python(OFFLINE_SCRIPT, home=tmp_path)
    assert printed.returncode == 1
    assert printed.tracebacks == 1, printed.stderr  # no chain from huggingface_hub or pydantic
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
            "model_name",
            "org/model",
            (
                f"(an option of {LANGCHAIN_HF} and LlamaIndex's HuggingFaceEmbedding): "
                "use the static2d option model='org/model' instead."
            ),
        ),
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
    ],
)
def test_a_peer_option_gets_the_static2d_option(
    tiny_static_model: Path, name: str, value: object, refusal: str
) -> None:
    model = tiny_static_model
    with pytest.raises(TypeError) as info:
        Static2DEmbeddings(model=str(model), **{name: value})
    assert str(info.value) == f"Static2DEmbeddings has no option {name!r} {refusal}"


def test_a_bad_option_is_static2d_error_not_a_validation_error(tmp_path: Path) -> None:
    printed = run_python("from langchain_static2d import Static2DEmbeddings\nStatic2DEmbeddings(dims=0)", home=tmp_path)
    assert printed.tracebacks == 1, printed.stderr
    assert printed.last_line == (
        "ValueError: dims=0 is out of range: dims is a number of output dimensions, at least 1 (or None)."
    )
    with pytest.raises(ValueError, match=r"^dims=0 is out of range") as info:
        Static2DEmbeddings(dims=0)
    assert type(info.value) is ValueError  # not pydantic's ValidationError around it


def test_an_unknown_option_gets_the_closest_one_without_pydantic_words(tmp_path: Path) -> None:
    script = "from langchain_static2d import Static2DEmbeddings\nStatic2DEmbeddings(dimension=256)"
    printed = run_python(script, home=tmp_path)
    assert printed.tracebacks == 1, printed.stderr
    assert printed.last_line.startswith(
        "TypeError: Static2DEmbeddings has no option 'dimension': did you mean dims=256? Its options: model, dims, "
    )
    assert printed.last_line.endswith(", precision, show_progress_bar.")
    assert "pydantic" not in printed.stderr.splitlines()[-1]
    assert "errors.pydantic.dev" not in printed.stderr
    for name, meant in (("num_layers", "layers=2"), ("normalise", "normalize=2"), ("dim", "dims=2")):
        with pytest.raises(TypeError, match=rf"^Static2DEmbeddings has no option '{name}'.*\b{meant}\b"):
            Static2DEmbeddings(**{name: 2})


def test_prompts_names_the_prompt_options() -> None:
    with pytest.raises(TypeError) as info:
        Static2DEmbeddings(prompts="query: ")
    assert str(info.value) == (
        "Static2DEmbeddings has no option 'prompts' (an option of sentence-transformers): use the static2d options "
        "query_prompt, document_prompt instead."
    )


def test_every_peer_name_suggests_an_option_it_takes() -> None:
    takes = list(Static2DEmbeddings.model_fields)
    assert peer_name_problems(Static2DEmbeddings, "Static2DEmbeddings", takes) == []


def test_a_missing_folder_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="names no folder") as info:
        Static2DEmbeddings(model="./models/my-model")
    assert type(info.value) is ValueError  # static2d's own, not pydantic's ValidationError
    assert str(info.value).startswith(
        f"model='./models/my-model' names no folder: there is no {tmp_path / 'models' / 'my-model'} "
        f"({tmp_path / 'models'} exists, but holds no 'my-model'); a relative path is read from the working directory"
    )
    embeddings = Static2DEmbeddings(model="models/my-model", cache_folder=str(tmp_path / "hf"))  # maybe a hub id
    with pytest.raises(ValueError, match=r"^model='models/my-model' names no folder: there is no "):
        embeddings.embed_query("What do pandas eat?")


@pytest.mark.skipif(sys.platform != "linux", reason="PyPI's torch is the CUDA build on Linux only")
def test_without_a_gpu_the_extra_comes_with_the_cpu_build_of_torch(tmp_path: Path) -> None:
    model = bert_files(tmp_path / "bert")
    script = (
        "import sys; sys.modules['torch'] = None\n"
        "import static2d._extras; static2d._extras.gpu_visible = lambda: False  # a CPU-only machine\n"
        + NO_EXTRA_SCRIPT.format(model=str(model))
    )
    printed = run_python(script, home=tmp_path)
    assert printed.tracebacks == 1, printed.stderr
    assert printed.last_line == no_extra("static2d-langchain", cpu=True)
