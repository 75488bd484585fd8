from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import static2d
from static2d_testkit.sts import REPO, spearman_x100, sts_dev

os.environ.setdefault("HF_HUB_OFFLINE", "1")

__all__ = ["REPO", "TEXTS", "assert_threads_match_serial", "onnx_cache_at", "spearman_x100", "sts_dev"]


TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "A panda eats bamboo in China.",
    "",
    "the",
    "Ünïcödé ☃ 中文 emoji 🐼 and [UNK] tokens",
    "bank of the river " * 300,  # longer than any max length
    "   ",
    "What is the capital of France?",
]


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny")


def assert_threads_match_serial(enc: static2d.Encoder, texts: list[str], atol: float = 0.0) -> None:
    """8 threads encoding (each a rotation of `texts`) at once get exactly what a serial run gets."""
    serial = enc.encode(texts)
    results: dict[int, np.ndarray] = {}
    barrier = threading.Barrier(8)

    def worker(k: int) -> None:
        barrier.wait()
        results[k] = enc.encode(texts[k:] + texts[:k])

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(8))
    for k, out in results.items():
        np.testing.assert_allclose(out, np.roll(serial, -k, axis=0), rtol=0, atol=atol)


_RUN_ONNX_CACHE: list[Path] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    """Note the run's ONNX cache (the test kit's plugin or nox names it) before any test points it elsewhere."""
    del session
    if os.environ.get("STATIC2D_ONNX_CACHE"):
        _RUN_ONNX_CACHE.append(Path(os.environ["STATIC2D_ONNX_CACHE"]))


@pytest.fixture
def run_onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The run's own ONNX cache, for a test of the bundled MiniLM in a module (or test) that otherwise keeps a fresh
    one: MiniLM's cut graphs (a slow export each) are then built once per run, shared by every module and nox
    session. Tests that count exports or cache entries keep their fresh cache."""
    folder = _RUN_ONNX_CACHE[0] if _RUN_ONNX_CACHE else tmp_path_factory.getbasetemp() / "run-onnx-cache"
    with onnx_cache_at(folder):
        yield folder


@contextlib.contextmanager
def onnx_cache_at(folder: Path) -> Iterator[Path]:
    """STATIC2D_ONNX_CACHE set to `folder`, and no loaded model kept, inside the block (restored after it)."""
    before = os.environ.get("STATIC2D_ONNX_CACHE")
    os.environ["STATIC2D_ONNX_CACHE"] = str(folder)
    static2d.clear_cache()
    try:
        yield folder
    finally:
        static2d.clear_cache()
        if before is None:
            del os.environ["STATIC2D_ONNX_CACHE"]
        else:
            os.environ["STATIC2D_ONNX_CACHE"] = before


def add_dense_module(path: Path, features: tuple[int, int] | None = None) -> Path:
    """Insert a Dense module after the Pooling one of the model at `path` (whose modules.json is its own copy).

    Returns the module's folder, with a config.json for (in_features, out_features) if `features` is given (an
    identity activation, with bias); the caller writes the weights.
    """
    modules = json.loads((path / "modules.json").read_text())
    modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (path / "modules.json").write_text(json.dumps(modules))
    folder = path / "2_Dense"
    folder.mkdir()
    if features is not None:
        config = {
            "in_features": features[0],
            "out_features": features[1],
            "bias": True,
            "activation_function": "torch.nn.modules.linear.Identity",
        }
        (folder / "config.json").write_text(json.dumps(config))
    return folder


class CountedTokie:
    """tokie, counting its calls on its own threads (`encode_batch_flat`) and text by text (`encode`)."""

    def __init__(self, fast: object) -> None:
        self.fast = fast
        self.batches = 0
        self.texts = 0

    def encode_batch_flat(self, texts: list[str], add_special_tokens: bool) -> object:
        self.batches += 1
        return self.fast.encode_batch_flat(texts, add_special_tokens=add_special_tokens)  # type: ignore[attr-defined]

    def encode(self, text: str, add_special_tokens: bool) -> object:
        self.texts += 1
        return self.fast.encode(text, add_special_tokens=add_special_tokens)  # type: ignore[attr-defined]
