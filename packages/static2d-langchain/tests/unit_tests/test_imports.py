from importlib.metadata import version

import langchain_static2d


def test_all() -> None:
    assert langchain_static2d.__all__ == ["Static2DEmbeddings", "__version__"]
    for name in langchain_static2d.__all__:
        assert getattr(langchain_static2d, name) is not None


def test_version_matches_distribution() -> None:
    assert langchain_static2d.__version__ == version("static2d-langchain")
