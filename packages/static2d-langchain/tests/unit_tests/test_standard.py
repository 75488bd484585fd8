"""LangChain's standard unit suite, unmodified, on a tiny static model."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("langchain_tests", reason="the standard suites need the `test` dependency group")

from langchain_static2d import Static2DEmbeddings
from langchain_tests.unit_tests import EmbeddingsUnitTests


class TestStatic2DEmbeddingsUnit(EmbeddingsUnitTests):
    model_dir: Path

    @pytest.fixture(autouse=True)
    def _model_dir(self, tiny_static_model: Path) -> None:
        self.model_dir = tiny_static_model

    @property
    def embeddings_class(self) -> type[Static2DEmbeddings]:
        return Static2DEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, object]:
        return {"model": str(self.model_dir), "dims": 32}
