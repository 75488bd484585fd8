"""`dtype`: half precision on torch, refused where it cannot run, part of the fingerprint (the device is not)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import static2d
from conftest import REPO, TEXTS, onnx_cache_at, spearman_x100, sts_dev
from static2d._fingerprint import HASHED, fingerprint_of
from static2d.adapters import peer_option_message
from static2d_testkit import bundled_transformer, make_static_model, tiny_transformer

torch = pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")


@pytest.fixture(scope="module")
def bert() -> Path:
    return tiny_transformer("bert")


def _anchor(layers: int, dims: int) -> float:
    """all-MiniLM-L6-v2's own STS-B dev score in float32 (data/reference-sts.csv, made by data/make_reference.py)."""
    import csv

    with (REPO / "data" / "reference-sts.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if (row["model"], row["layers"], int(row["dims"])) == ("all-MiniLM-L6-v2", str(layers), dims):
                return float(row["spearman_x100"])
    msg = f"no reference score for layers={layers} dims={dims}"
    raise LookupError(msg)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_minilm_stays_close_to_float32(dtype: str) -> None:
    """On the CPU, through the same pipeline a GPU runs: cosine >= 0.999 to float32's vectors, and the STS-B dev
    score within 0.3 points of float32's."""
    path = bundled_transformer()
    first, second, gold = sts_dev()
    half = static2d.load(path, dtype=dtype)  # type: ignore[arg-type]
    assert (half.backend, half.dtype, half.device) == ("torch", dtype, "cpu")  # "auto" runs torch for a half dtype
    texts = TEXTS + first[:300]
    full = static2d.load(path, backend="torch").encode(texts)
    cosine = (half.encode(texts) * full).sum(axis=1)
    assert float(cosine.min()) >= 0.999
    if dtype == "bfloat16":  # (float16 is slow on most CPUs: its score is measured on a GPU, tests/test_gpu.py)
        score = spearman_x100(half.encode(first), half.encode(second), gold)
        assert abs(score - _anchor(6, 384)) <= 0.3


def test_half_precision_runs_the_transformer_in_it_and_the_head_in_float32(bert: Path) -> None:
    enc = static2d.load(bert, backend="torch", layers=2, dtype="bfloat16")
    engine = enc._get().engine
    assert {p.dtype for p in engine.auto_model.parameters()} == {torch.bfloat16}
    assert {p.dtype for m in engine.head for p in m.parameters()} <= {torch.float32}
    out = enc.encode(TEXTS)
    assert out.dtype == np.float32
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    reference = static2d.load(bert, backend="torch", layers=2).encode(TEXTS)
    assert not np.array_equal(out, reference)  # it does run in bfloat16
    assert float((out * reference).sum(axis=1).min()) > 0.99


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"dtype": "bfloat16", "backend": "onnx"}, r"'bfloat16' runs the transformer on torch, but backend='onnx'"),
        ({"dtype": "float16", "quantize": "int8"}, r"'float16' runs the transformer on torch, but quantize='int8'"),
        ({"dtype": "half"}, r"dtype must be one of 'float32', 'bfloat16', 'float16'"),
    ],
)
def test_dtype_is_refused_before_anything_loads(bert: Path, options: dict[str, object], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        static2d.load(bert, lazy=True, **options)  # type: ignore[arg-type]


def test_dtype_of_the_wrong_type() -> None:
    with pytest.raises(TypeError, match=r"dtype must be one of"):
        static2d.load("any/model", dtype=torch.bfloat16, lazy=True)  # type: ignore[arg-type]


def test_a_static_model_refuses_half_precision(tmp_path: Path) -> None:
    path = make_static_model(tmp_path / "static")
    with pytest.raises(ValueError, match=r"dtype='bfloat16' was given, but .* is a static embedding model"):
        static2d.load(path, dtype="bfloat16")
    assert static2d.load(path).dtype == "float32"


def test_a_dtype_without_kernels_on_the_device_is_refused() -> None:
    """The check runs a transformer's operations on a tiny input: a dtype torch has no CPU kernels for fails it."""
    from static2d._torch.device import check_dtype_runs, kernel_refusal

    why = kernel_refusal(torch.float8_e4m3fn, "cpu")
    assert why is not None
    assert "not implemented" in why
    assert kernel_refusal(torch.bfloat16, "cpu") is None
    check_dtype_runs("bfloat16", "cpu")  # runs here: no error


def test_dtype_is_in_the_fingerprint_and_float32_fingerprints_are_unchanged(bert: Path) -> None:
    full = static2d.load(bert, backend="torch", layers=2)
    half = static2d.load(bert, backend="torch", layers=2, dtype="bfloat16")
    stored = full.describe()
    assert stored["dtype"] == "float32"
    assert half.describe()["dtype"] == "bfloat16"
    assert half.fingerprint != full.fingerprint
    # a float32 fingerprint is what it was before the dtype field existed: indexes built then still match
    before = {name: stored[name] for name in HASHED if name != "dtype"}
    assert fingerprint_of({**before, "dtype": "float32"}) == stored["fingerprint"]
    with pytest.raises(static2d.FingerprintMismatchError, match="dtype float32 → bfloat16") as refused:
        static2d.check_fingerprint(stored, half)
    assert str(refused.value).endswith("or query with dtype='float32'.")
    old = {k: v for k, v in half.describe().items() if k != "dtype"}  # metadata stored before the field existed
    with pytest.raises(static2d.FingerprintMismatchError, match="dtype float32 → bfloat16"):
        static2d.check_fingerprint({**old, "fingerprint": stored["fingerprint"]}, half)


def test_the_device_is_not_in_the_fingerprint(bert: Path) -> None:
    fields = static2d.load(bert, backend="torch", layers=2).describe()
    assert fields["device"] == "cpu"
    assert fingerprint_of({**fields, "device": "cuda:0", "backend": "onnx"}) == fields["fingerprint"]


@pytest.mark.skipif(
    importlib.util.find_spec("onnx") is None or importlib.util.find_spec("onnxruntime") is None,
    reason="needs the ONNX exporter",
)
def test_auto_on_a_machine_without_an_accelerator_decides_without_importing_torch(bert: Path, tmp_path: Path) -> None:
    """Where the machine shows no accelerator, "auto" picks ONNX Runtime and never imports torch to find out."""
    if _may_have_accelerator_here():
        pytest.skip("this machine shows an accelerator (or is not Linux): torch is rightly asked")
    with onnx_cache_at(tmp_path / "onnx") as cache:
        static2d.load(bert, layers=2, backend="onnx")  # exports and caches the cut graph (this process has torch)
        code = (
            "import sys, static2d\n"
            f"enc = static2d.load({str(bert)!r}, layers=2)\n"
            "print(enc.backend, enc.device, 'torch' in sys.modules)\n"
        )
        env = {**os.environ, "STATIC2D_ONNX_CACHE": str(cache)}
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True, env=env
        )
    assert result.stdout.split() == ["onnx", "cpu", "False"]


def _may_have_accelerator_here() -> bool:
    """Run in a fresh interpreter: this one has imported torch, which makes the answer yes."""
    code = "from static2d._device import _may_have_accelerator; print(_may_have_accelerator())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return out.stdout.strip() == "True"


def test_transformers_dtype_names_point_at_dtype() -> None:
    """Users of transformers / sentence-transformers pass torch_dtype (a torch dtype): the refusal names dtype."""
    takes = [option.name for option in static2d.OPTIONS]
    given = [
        ("torch_dtype", torch.bfloat16, "'bfloat16'"),
        ("model_kwargs", {"torch_dtype": torch.float16}, "'float16'"),
    ]
    for name, value, expected in given:
        message = peer_option_message("Static2DEmbeddings", name, value, takes)
        assert message is not None
        assert message.endswith(f"use the static2d option dtype={expected} instead."), message
