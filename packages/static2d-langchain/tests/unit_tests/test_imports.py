from importlib.metadata import version

import langchain_static2d
from langchain_core.embeddings import Embeddings
from static2d_testkit.api import check_public_api


def test_all_is_the_documented_api() -> None:
    check_public_api(langchain_static2d, "langchain_static2d")
    assert issubclass(langchain_static2d.Static2DEmbeddings, Embeddings)


def test_version_matches_distribution() -> None:
    assert langchain_static2d.__version__ == version("static2d-langchain")
