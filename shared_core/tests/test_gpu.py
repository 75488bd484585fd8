"""On a CUDA GPU (skipped without one): the default device, float32 parity, half precision, no waits, memory.

CI has no GPU; these run where one is (`pytest -m gpu shared_core/tests/test_gpu.py`). The same code path runs on
the CPU in test_pipeline.py and test_dtype.py.
"""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import static2d
from conftest import TEXTS, spearman_x100, sts_dev
from static2d_testkit import bundled_transformer, make_tiny_transformer

torch = pytest.importorskip("torch")
st = pytest.importorskip("sentence_transformers")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.fixture(scope="module")
def minilm() -> Path:
    return bundled_transformer()


@pytest.fixture(scope="module")
def sts() -> tuple[list[str], list[str], np.ndarray]:
    return sts_dev()


def _many(n: int) -> list[str]:
    first, second, _ = sts_dev()
    texts = first + second
    return [texts[i % len(texts)] + (" again" * (i // len(texts))) for i in range(n)]


def test_default_settings_run_on_the_gpu(minilm: Path, caplog: pytest.LogCaptureFixture) -> None:
    static2d.clear_cache()
    with caplog.at_level(logging.INFO, logger="static2d"):
        enc = static2d.load(minilm)  # device=None, backend="auto"
    assert enc.backend == "torch"
    assert enc.device.startswith("cuda")
    assert any(f"runs on {enc.device} (torch, float32)" in r.getMessage() for r in caplog.records)
    assert enc.describe()["device"] == enc.device
    cpu = static2d.load(minilm, device="cpu", backend="torch")
    assert cpu.fingerprint == enc.fingerprint  # the device does not change the vectors' fingerprint


def test_float32_on_the_gpu_is_sentence_transformers(minilm: Path, sts: tuple[list[str], list[str], Any]) -> None:
    texts = TEXTS + sts[0][:500]
    ours = static2d.load(minilm, device="cuda").encode(texts)
    theirs = st.SentenceTransformer(str(minilm), device="cuda").encode(texts, normalize_embeddings=True)
    assert float(np.abs(ours - theirs).max()) < 1e-5


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_on_the_gpu(minilm: Path, dtype: str, sts: tuple[list[str], list[str], Any]) -> None:
    first, second, gold = sts
    full = static2d.load(minilm, device="cuda")
    half = static2d.load(minilm, device="cuda", dtype=dtype)  # type: ignore[arg-type]
    assert half.dtype == dtype
    a, b = half.encode(first), half.encode(second)
    cosine = (a * full.encode(first)).sum(axis=1)
    assert float(cosine.min()) >= 0.999
    reference = spearman_x100(full.encode(first), full.encode(second), gold)
    assert abs(spearman_x100(a, b, gold) - reference) <= 0.3


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_queuing_a_batch_never_waits_for_the_gpu(minilm: Path, dtype: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """torch's sync debug mode raises on any wait for the device while a batch is queued (transformers' mask
    checks, .item(), a blocking copy); the engine waits only for the copy of a batch queued two batches ago."""
    enc = static2d.load(minilm, device="cuda", dtype=dtype)  # type: ignore[arg-type]
    engine = enc._get().engine
    assert engine._mask_4d
    real = engine._run

    def strict(*args: Any, **kwargs: Any) -> Any:
        torch.cuda.set_sync_debug_mode("error")
        try:
            return real(*args, **kwargs)
        finally:
            torch.cuda.set_sync_debug_mode("default")

    monkeypatch.setattr(engine, "_run", strict)
    monkeypatch.setattr(engine, "max_batch_tokens", 2048)  # many batches
    out = enc.encode(_many(3000))
    assert out.shape == (3000, 384)
    assert np.isfinite(out).all()


def test_gpu_memory_is_bounded_by_the_token_budget(minilm: Path) -> None:
    enc = static2d.load(minilm, device="cuda", dtype="bfloat16")
    engine = enc._get().engine

    def peak(n: int) -> int:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        enc.encode(_many(n))
        torch.cuda.synchronize()
        return int(torch.cuda.max_memory_allocated() - base)

    small, large = peak(5000), peak(40000)
    assert large <= small * 1.1 + 16 * 2**20, (small, large)
    assert large <= engine.activation_bytes(), (large, engine.activation_bytes())  # docs/usage.md's estimate


def test_the_cut_frees_gpu_memory(tmp_path: Path) -> None:
    path = make_tiny_transformer(tmp_path / "bert", "bert", layers=4, hidden=256)

    def held(layers: int) -> int:
        static2d.clear_cache()
        gc.collect()
        torch.cuda.empty_cache()
        before = torch.cuda.memory_allocated()
        enc = static2d.load(path, device="cuda", layers=layers)
        enc.encode(["warm"])
        after = torch.cuda.memory_allocated() - before
        del enc
        static2d.clear_cache()
        return int(after)

    assert held(1) < held(4) * 0.6


def test_grid_on_the_gpu_matches_cut_encoders(minilm: Path, sts: tuple[list[str], list[str], Any]) -> None:
    texts = TEXTS + sts[0][:200]
    full = static2d.load(minilm, device="cuda")
    grid = full.encode_grid(texts, layers=[2, 6], dims=[64, 384])
    for (depth, d), got in grid.items():
        cut = static2d.load(minilm, device="cuda", layers=depth, dims=d)
        np.testing.assert_allclose(got, cut.encode(texts), atol=1e-4, rtol=0)


def test_batch_encoder_on_the_gpu(minilm: Path) -> None:
    import pandas as pd

    texts = _many(500)
    batch = static2d.BatchEncoder(minilm, dtype="bfloat16")
    out = np.stack(batch(pd.DataFrame({"text": texts}))["embedding"])
    assert batch.encoder.device.startswith("cuda")
    np.testing.assert_allclose(out, static2d.load(minilm, dtype="bfloat16").encode_document(texts), atol=1e-6)
