"""int8's verdict belongs to a kind of CPU: it records the CPU's vector extensions, and is measured again on
another kind (ONNX Runtime's int8 kernels, and so the vectors, differ between AVX2 and AVX-512 VNNI CPUs).
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import static2d
from conftest import onnx_cache_at
from static2d._onnx import quantize
from static2d._onnx.quantize import CPU_FEATURES, Int8DisagreementError, cpu_kind
from static2d_testkit import make_tiny_transformer

pytest.importorskip("onnxruntime")
for _module in ("torch", "sentence_transformers", "onnx"):
    pytest.importorskip(_module)

AVX2_ONLY = "x86_64: avx2 fma"


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_transformer(tmp_path_factory.mktemp("tf") / "bert", "bert", layers=2, hidden=64)


@pytest.fixture(autouse=True)
def root(tmp_path: Path) -> Iterator[Path]:
    with onnx_cache_at(tmp_path / "onnx-cache") as folder:
        yield folder


@pytest.fixture
def quantize_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    import onnxruntime.quantization as q

    calls: list[int] = []
    real = q.quantize_dynamic
    monkeypatch.setattr(q, "quantize_dynamic", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def _int8_entries(root: Path) -> list[dict[str, Any]]:
    metas = [json.loads((p / "static2d.json").read_text()) for p in root.iterdir() if p.is_dir()]
    return [m for m in metas if m["source"]["graph"].get("quantize") == "int8"]


def test_the_cpu_kind_names_the_architecture_and_its_int8_extensions() -> None:
    machine, _, features = cpu_kind().partition(": ")
    assert machine == platform.machine().lower()
    assert features.startswith("none of ") or set(features.split()) <= set(CPU_FEATURES)


def test_the_cpu_kind_without_proc_cpuinfo_comes_from_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quantize, "_cpuinfo_flags", lambda: None)
    quantize.cpu_kind.cache_clear()
    try:
        numpy_kind = quantize.cpu_kind()
    finally:
        quantize.cpu_kind.cache_clear()
    assert numpy_kind.startswith(f"{platform.machine().lower()}: ")
    monkeypatch.setattr(quantize, "_cpuinfo_flags", lambda: {"fpu", "sse2", "avx2", "avx512_vnni", "pni"})
    try:
        assert quantize.cpu_kind() == f"{platform.machine().lower()}: avx2 avx512_vnni"  # others left out
    finally:
        quantize.cpu_kind.cache_clear()


def test_the_verdict_records_the_cpu_kind(bert: Path, root: Path) -> None:
    static2d.load(bert, quantize="int8")
    (meta,) = _int8_entries(root)
    assert meta["check"]["cpu"] == cpu_kind()
    assert meta["source"]["graph"]["cpu"] == cpu_kind()


def test_another_kind_of_cpu_measures_again(
    bert: Path, root: Path, monkeypatch: pytest.MonkeyPatch, quantize_calls: list[int]
) -> None:
    here = static2d.load(bert, quantize="int8")
    assert quantize_calls == [1]
    static2d.clear_cache()
    monkeypatch.setattr(quantize, "cpu_kind", lambda: AVX2_ONLY)  # the same cache, read on another kind of CPU
    static2d.load(bert, quantize="int8")
    assert len(quantize_calls) >= 2  # built and checked again, not taken from the other CPU's entry
    assert sorted(m["check"]["cpu"] for m in _int8_entries(root)) == sorted([cpu_kind.__wrapped__(), AVX2_ONLY])
    static2d.clear_cache()
    monkeypatch.undo()
    calls = len(quantize_calls)
    import onnxruntime.quantization as q

    monkeypatch.setattr(q, "quantize_dynamic", lambda *a, **k: quantize_calls.append(1))
    again = static2d.load(bert, quantize="int8")  # back on this CPU: its own verdict, from the cache
    assert len(quantize_calls) == calls
    assert (again.encode(["a cat"]) == here.encode(["a cat"])).all()


def test_a_refusal_on_one_kind_of_cpu_is_not_taken_for_another(
    bert: Path, monkeypatch: pytest.MonkeyPatch, quantize_calls: list[int]
) -> None:
    here, agreement = quantize.cpu_kind, quantize.AGREEMENT
    monkeypatch.setattr(quantize, "cpu_kind", lambda: AVX2_ONLY)
    monkeypatch.setattr(quantize, "AGREEMENT", 1.01)  # no int8 graph agrees: refused on this kind of CPU
    with pytest.raises(Int8DisagreementError, match=rf"on this kind of CPU \({AVX2_ONLY}\), below the 1\.01"):
        static2d.load(bert, quantize="int8")
    static2d.clear_cache()
    with pytest.raises(Int8DisagreementError, match=r"not measured again on this kind of CPU"):
        static2d.load(bert, quantize="int8")
    monkeypatch.setattr(quantize, "cpu_kind", here)
    monkeypatch.setattr(quantize, "AGREEMENT", agreement)
    static2d.clear_cache()
    calls = len(quantize_calls)
    assert static2d.load(bert, quantize="int8").backend == "onnx"  # measured on this CPU: it agrees here
    assert len(quantize_calls) > calls
