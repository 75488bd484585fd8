from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

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
