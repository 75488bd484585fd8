from __future__ import annotations

import importlib
from pathlib import Path

import llama_index.embeddings.static2d as pkg
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.embeddings.static2d import Static2DEmbedding
from static2d_testkit.api import check_public_api

SRC = Path(__file__).resolve().parents[1] / "src"


def test_all_is_the_documented_api():
    check_public_api(pkg, "llama_index.embeddings.static2d")


def test_is_a_llamaindex_embedding():
    assert issubclass(Static2DEmbedding, BaseEmbedding)
    assert Static2DEmbedding.class_name() == "Static2DEmbedding"


def test_llama_index_dirs_are_namespace_packages():
    # Other integrations install into llama_index/ and llama_index/embeddings/: we must not own them.
    assert not (SRC / "llama_index" / "__init__.py").exists()
    assert not (SRC / "llama_index" / "embeddings" / "__init__.py").exists()
    assert importlib.import_module("llama_index.embeddings").__file__ is None
    assert (SRC / "llama_index" / "embeddings" / "static2d" / "py.typed").is_file()
