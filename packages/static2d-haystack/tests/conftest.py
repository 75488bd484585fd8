"""Models for the static2d-haystack tests. Nothing here imports torch at import time (the `notorch` session)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from static2d_testkit import bundled_transformer, distilled_static_model, make_static_model

# Before haystack is imported: tests never send telemetry (nor open a socket for it), and Haystack's own files
# (its telemetry config, a failed pipeline's snapshot: ~/.haystack) go to a home folder of the run's own, removed at
# exit, not into the home of whoever runs pytest (nox gives its run a home of its own as well).
REAL_HOME = os.path.expanduser("~")
os.environ["HAYSTACK_TELEMETRY_ENABLED"] = "False"
_HOME = tempfile.mkdtemp(prefix="static2d-haystack-home-")
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
os.environ["HOME"] = _HOME


@pytest.fixture(scope="session")
def tiny_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random model2vec model (64 dims), with saved query and document prompts."""
    return make_static_model(
        tmp_path_factory.mktemp("models") / "tiny",
        dims=64,
        prompts={"query": "what is ", "document": "this is "},
    )


@pytest.fixture(scope="session")
def distilled() -> Path:
    """A real static model (256 dims) distilled from all-MiniLM-L6-v2 (needs torch and model2vec)."""
    return distilled_static_model()


@pytest.fixture(scope="session")
def minilm() -> Path:
    """The real all-MiniLM-L6-v2 (6 layers, 384 dims)."""
    return bundled_transformer()
