from __future__ import annotations

import csv
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import static2d

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[2]
STS = REPO / "data" / "sts-dev.csv"


def sts_dev() -> tuple[list[str], list[str], np.ndarray]:
    with STS.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], np.array([float(r["score"]) for r in rows])


def spearman_x100(a: np.ndarray, b: np.ndarray, gold: np.ndarray) -> float:
    from scipy.stats import spearmanr

    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float(spearmanr((a * b).sum(axis=1), gold).statistic * 100)


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
