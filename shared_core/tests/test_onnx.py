"""backend="onnx": the transformer cut to `layers` in an ONNX graph, run by ONNX Runtime, same vectors as torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import static2d
from conftest import TEXTS, assert_threads_match_serial, onnx_cache_at, sts_dev
from static2d._choice import choose
from static2d._export import onnx as _onnx_export
from static2d._onnx import cache as _onnx_cache
from static2d._onnx.runtime import OnnxUnsupportedError
from static2d_testkit import TRANSFORMER_FAMILIES, bundled_transformer, make_tiny_transformer, tiny_transformer

pytest.importorskip("onnxruntime")

ATOL = 1e-4


@pytest.fixture(scope="module", autouse=True)
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every cut model of this module goes to a fresh folder (and loaded models are forgotten around it)."""
    folder = tmp_path_factory.mktemp("onnx-cache")
    with onnx_cache_at(folder):
        yield folder


def _needs_export_tools() -> None:
    for module in ("torch", "sentence_transformers", "onnx"):
        pytest.importorskip(module)


@pytest.fixture(scope="module", params=TRANSFORMER_FAMILIES)
def family_model(request: pytest.FixtureRequest) -> tuple[str, Path]:
    _needs_export_tools()
    return request.param, tiny_transformer(request.param)


@pytest.fixture(scope="module")
def bert() -> Path:
    _needs_export_tools()
    return tiny_transformer("bert")


def _pair(path: Path, **options: object) -> tuple[static2d.Encoder, static2d.Encoder]:
    onnx = static2d.load(path, backend="onnx", **options)  # type: ignore[arg-type]
    torch_ = static2d.load(path, backend="torch", **options)  # type: ignore[arg-type]
    return onnx, torch_


def _export_spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = _onnx_export.export

    def spy(*args: object, **kwargs: object) -> list[str]:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_onnx_export, "export", spy)
    return calls


# --- parity with the torch path ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("layers", "dims"), [(4, 32), (3, 16), (1, 8)])
def test_each_family_matches_torch(family_model: tuple[str, Path], layers: int, dims: int) -> None:
    _, path = family_model
    onnx, torch_ = _pair(path, layers=layers, dims=dims)
    assert onnx.backend == "onnx"
    assert (onnx.layers, onnx.max_layers, onnx.dims, onnx.max_dims, onnx.max_length) == (
        torch_.layers,
        torch_.max_layers,
        torch_.dims,
        torch_.max_dims,
        torch_.max_length,
    )
    texts = [*TEXTS, "word " * 400]  # past max_seq_length (128): truncated as sentence-transformers does
    np.testing.assert_allclose(onnx.encode(texts), torch_.encode(texts), atol=ATOL, rtol=0)


def test_prompts_match_torch(family_model: tuple[str, Path]) -> None:
    _, path = family_model
    onnx, torch_ = _pair(path, layers=2, query_prompt="query: ", document_prompt="passage: ")
    np.testing.assert_allclose(onnx.encode_query(TEXTS), torch_.encode_query(TEXTS), atol=ATOL, rtol=0)
    np.testing.assert_allclose(onnx.encode_document(TEXTS), torch_.encode_document(TEXTS), atol=ATOL, rtol=0)


@pytest.mark.slow
@pytest.mark.usefixtures("run_onnx_cache")
@pytest.mark.parametrize(("layers", "dims"), [(6, 384), (5, 256), (3, 128), (1, 32)])
def test_minilm_matches_torch(layers: int, dims: int) -> None:
    _needs_export_tools()
    path = bundled_transformer()
    texts = TEXTS + sts_dev()[0][:300]
    onnx, torch_ = _pair(path, layers=layers, dims=dims)
    assert onnx.max_length == 256
    np.testing.assert_allclose(onnx.encode(texts), torch_.encode(texts), atol=ATOL, rtol=0)


@pytest.mark.slow
@pytest.mark.usefixtures("run_onnx_cache")
def test_minilm_unnormalized_and_prompted_match_torch() -> None:
    _needs_export_tools()
    onnx, torch_ = _pair(bundled_transformer(), layers=3, dims=100, normalize=False, query_prompt="search: ")
    texts = sts_dev()[1][:100]
    np.testing.assert_allclose(onnx.encode_query(texts), torch_.encode_query(texts), atol=ATOL, rtol=0)


# --- pooling, Dense, Normalize ---------------------------------------------------------------------------------


def _with_pooling(src: Path, dst: Path, config: dict[str, object]) -> Path:
    shutil.copytree(src, dst)
    (dst / "1_Pooling" / "config.json").write_text(json.dumps({"embedding_dimension": 32, **config}))
    return dst


@pytest.mark.parametrize(
    "pooling",
    [
        {"pooling_mode": "cls"},
        {"pooling_mode": "max"},
        {"pooling_mode": "lasttoken"},
        {"pooling_mode": "weightedmean"},
        {"pooling_mode": "mean_sqrt_len_tokens"},
        {"pooling_mode": ["cls", "mean"]},
        {"pooling_mode": "mean", "include_prompt": False},
        {"pooling_mode": "cls", "include_prompt": False},
        {"word_embedding_dimension": 32, "pooling_mode_cls_token": True, "pooling_mode_max_tokens": True},
    ],
)
def test_pooling_modes_match_torch(bert: Path, tmp_path: Path, pooling: dict[str, object]) -> None:
    path = _with_pooling(bert, tmp_path / "model", pooling)
    onnx, torch_ = _pair(path, layers=2, query_prompt="query: a prompt of a few words: ")
    assert onnx.max_dims == torch_.max_dims
    texts = [t for t in TEXTS if t.strip()]
    np.testing.assert_allclose(onnx.encode(texts), torch_.encode(texts), atol=ATOL, rtol=0)
    np.testing.assert_allclose(onnx.encode_query(texts), torch_.encode_query(texts), atol=ATOL, rtol=0)


def _with_dense(src: Path, dst: Path, activation: str, out: int = 16) -> Path:
    import importlib

    import sentence_transformers as st
    import torch
    from static2d_testkit import _st_modules

    Normalize, _, _, _ = _st_modules()
    try:
        dense_cls = importlib.import_module("sentence_transformers.sentence_transformer.modules").Dense
    except ImportError:  # sentence-transformers < 6
        dense_cls = importlib.import_module("sentence_transformers.models").Dense
    model = st.SentenceTransformer(str(src), device="cpu")
    torch.manual_seed(1)
    dense = dense_cls(32, out, activation_function=getattr(torch.nn, activation)())
    st.SentenceTransformer(modules=[model[0], model[1], dense, Normalize()], device="cpu").save(str(dst))
    return dst


def test_a_dense_head_matches_torch(bert: Path, tmp_path: Path) -> None:
    path = _with_dense(bert, tmp_path / "dense", "Tanh")
    onnx, torch_ = _pair(path, layers=3, dims=12)
    assert onnx.max_dims == 16
    np.testing.assert_allclose(onnx.encode(TEXTS), torch_.encode(TEXTS), atol=ATOL, rtol=0)


def test_what_onnx_cannot_run_is_named_and_auto_falls_back(bert: Path, tmp_path: Path) -> None:
    path = _with_dense(bert, tmp_path / "gelu", "GELU")
    with pytest.raises(OnnxUnsupportedError, match=r"activation .*GELU.*backend='torch'"):
        static2d.load(path, backend="onnx")
    auto = static2d.load(path, layers=2)
    assert auto.backend == "torch"
    np.testing.assert_allclose(
        auto.encode(TEXTS), static2d.load(path, layers=2, backend="torch").encode(TEXTS), atol=0, rtol=0
    )


def test_a_graph_that_only_runs_at_the_traced_shape_is_refused(
    bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export whose graph is fixed to the traced shape (here: no dynamic axes) is caught, not cached."""
    import torch

    real = torch.onnx.export

    def fixed_shape_export(*args: object, **kwargs: object) -> object:
        kwargs.pop("dynamic_axes", None)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(torch.onnx, "export", fixed_shape_export)
    copy = shutil.copytree(bert, tmp_path / "copy")
    with pytest.raises(OnnxUnsupportedError, match=r"(?s)another shape than the traced one.*backend='torch'"):
        static2d.load(copy, layers=2, backend="onnx")
    assert not [p for p in Path(os.environ["STATIC2D_ONNX_CACHE"]).iterdir() if p.name.startswith(("copy-", ".c"))]
    auto = static2d.load(copy, layers=2)  # auto: torch, and the failure is remembered
    assert auto.backend == "torch"


# --- options -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "error"), [("tensorrt", ValueError), ("ONNX", ValueError), (1, TypeError)])
def test_bad_backend_is_refused(bert: Path, value: object, error: type) -> None:
    with pytest.raises(error, match=r"backend must be one of 'auto', 'torch', 'onnx'"):
        static2d.load(bert, backend=value)  # type: ignore[arg-type]


def test_onnx_runs_on_the_cpu_or_cuda_only(bert: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from static2d import _device

    with pytest.raises(ValueError, match=r"backend='onnx' runs on the CPU, or on a CUDA GPU with onnxruntime-gpu"):
        static2d.load(bert, backend="onnx", device="mps")
    monkeypatch.setattr(_device, "torch_refusal", lambda device: None)  # a machine whose torch has CUDA
    enc = static2d.load(bert, lazy=True)
    options, description = enc._options, enc._description
    assert description is not None
    assert choose(options, description, 2) == "onnx"
    assert choose(replace(options, device="cpu"), description, 2) == "onnx"
    assert choose(replace(options, device="cuda"), description, 2) == "torch"  # auto: a GPU is torch's


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_static_models_refuse_a_backend(tmp_path: Path, backend: str) -> None:
    from static2d_testkit import make_static_model

    path = make_static_model(tmp_path / "static")
    with pytest.raises(ValueError, match=rf"backend='{backend}' was given, but .* is a static embedding model"):
        static2d.load(path, backend=backend)
    assert static2d.load(path, backend="auto").backend == "numpy"


def test_auto_picks_onnx_here(bert: Path) -> None:
    assert static2d.load(bert, layers=2).backend == "onnx"
    assert static2d.load(bert, layers=2, backend="torch").backend == "torch"


def test_empty_inputs(bert: Path) -> None:
    enc = static2d.load(bert, layers=2, dims=8, backend="onnx")
    assert enc.encode([]).shape == (0, 8)
    out = enc.encode(["", "   "])
    assert np.isfinite(out).all()
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


# --- the cache of cut models -----------------------------------------------------------------------------------


def _verifies(path: Path, layers: int, entry: Path) -> bool:
    description = static2d.load(path, lazy=True)._description
    assert description is not None
    return _onnx_cache.verify(entry, _onnx_cache.source_of(description, layers)) is not None


def _entry(path: Path, layers: int) -> Path:
    cache = Path(os.environ["STATIC2D_ONNX_CACHE"])
    [entry] = [p for p in cache.iterdir() if p.name.startswith(f"{path.name}-L{layers}-")]
    return entry


def test_the_cut_model_is_exported_once_and_reused(bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = shutil.copytree(bert, tmp_path / "reuse")
    calls = _export_spy(monkeypatch)
    first = static2d.load(copy, layers=1, backend="onnx").encode(TEXTS)
    assert calls == [1]
    static2d.clear_cache()  # a new process, as far as the model cache knows
    second = static2d.load(copy, layers=1, backend="onnx").encode(TEXTS)
    assert calls == [1]
    np.testing.assert_array_equal(first, second)
    meta = json.loads((_entry(copy, 1) / "static2d.json").read_text())
    assert meta["source"]["layers"] == 1
    # the same folder with other weights is another model
    other = shutil.copytree(bert, tmp_path / "other" / "reuse")
    make_tiny_transformer(tmp_path / "seed1", "bert", seed=1)
    shutil.copy(tmp_path / "seed1" / "model.safetensors", other / "model.safetensors")
    static2d.load(other, layers=1, backend="onnx")
    assert calls == [1, 1]
    cache = Path(os.environ["STATIC2D_ONNX_CACHE"])
    assert len([p for p in cache.iterdir() if p.name.startswith("reuse-L1-")]) == 2
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temporary folders left


@pytest.mark.parametrize("damage", ["flip", "truncate", "no-sidecar", "bad-sidecar", "no-model"])
def test_a_damaged_cut_model_is_rebuilt_not_loaded(
    bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    import onnx

    copy = shutil.copytree(bert, tmp_path / "damaged")
    onnx_layers = 3
    good = static2d.load(copy, layers=onnx_layers, backend="onnx").encode(TEXTS)
    entry = _entry(copy, onnx_layers)
    model = entry / "model.onnx"
    if damage == "flip":
        data = bytearray(model.read_bytes())
        data[len(data) // 2] ^= 0xFF
        model.write_bytes(bytes(data))
    elif damage == "truncate":  # a half-written file
        model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    elif damage == "no-sidecar":
        (entry / "static2d.json").unlink()
    elif damage == "bad-sidecar":
        (entry / "static2d.json").write_text('{"format": 1, "files": {"model.onn')
    else:
        model.unlink()
    static2d.clear_cache()
    calls = _export_spy(monkeypatch)
    again = static2d.load(copy, layers=onnx_layers, backend="onnx").encode(TEXTS)
    assert calls == [1]
    np.testing.assert_allclose(again, good, atol=1e-6, rtol=0)
    assert _verifies(copy, onnx_layers, _entry(copy, onnx_layers))
    onnx.checker.check_model(str(_entry(copy, onnx_layers) / "model.onnx"))


def test_eight_threads_get_the_serial_vectors(bert: Path) -> None:
    enc = static2d.load(bert, layers=2, dims=16, batch_size=4, backend="onnx")
    texts = [f"{t} {i}" for i in range(6) for t in TEXTS]
    assert_threads_match_serial(enc, texts, atol=1e-6)


def test_eight_threads_loading_at_once_export_once(bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    copy = shutil.copytree(bert, tmp_path / "threads")
    calls = _export_spy(monkeypatch)
    barrier = threading.Barrier(8)
    out: dict[int, np.ndarray] = {}

    def worker(k: int) -> None:
        barrier.wait()
        out[k] = static2d.load(copy, layers=1, dims=8, backend="onnx").encode(TEXTS)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]
    assert sorted(out) == list(range(8))
    for v in out.values():
        np.testing.assert_array_equal(v, out[0])


_CHILD = """
import sys, numpy as np, static2d
enc = static2d.load(sys.argv[1], layers=2, dims=16, backend="onnx")
np.save(sys.argv[2], enc.encode(["a panda eats bamboo", "the river bank"]))
"""


@pytest.mark.slow
def test_two_processes_exporting_at_once_leave_one_good_model(bert: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(bert, tmp_path / "procs")
    cache = tmp_path / "cache"
    env = {**os.environ, "STATIC2D_ONNX_CACHE": str(cache)}
    procs = [
        subprocess.Popen([sys.executable, "-c", _CHILD, str(copy), str(tmp_path / f"{k}.npy")], env=env)
        for k in range(2)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    [entry] = [p for p in cache.iterdir()]  # one entry, no temporary or broken folders left
    assert _verifies(copy, 2, entry)
    np.testing.assert_allclose(np.load(tmp_path / "0.npy"), np.load(tmp_path / "1.npy"), atol=1e-6)


# --- without torch -----------------------------------------------------------------------------------------------

_BLOCK_TORCH = """
import sys, importlib.abc
class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"torch", "transformers", "sentence_transformers", "onnx"}:
            raise ImportError(f"{name} is blocked in this test")
sys.meta_path.insert(0, NoTorch())
import importlib.util
importlib.util.find_spec = (lambda real: lambda name, *a: None if name.split(".")[0] in
    {"torch", "transformers", "sentence_transformers", "onnx"} else real(name, *a))(importlib.util.find_spec)
import numpy as np, static2d
for backend in ("onnx", "auto"):
    static2d.clear_cache()
    enc = static2d.load(sys.argv[1], layers=2, dims=16, backend=backend)
    np.save(sys.argv[2] + backend + ".npy", enc.encode(sys.argv[3:]))
try:
    static2d.load(sys.argv[1], layers=1, backend="onnx")  # not cached: needs the export tools
except ImportError as e:
    print("IMPORT-ERROR:", e)
assert not [m for m in sys.modules if m.split(".")[0] in {"torch", "transformers", "onnx"}], "torch was imported"
"""


def test_a_cached_cut_model_encodes_without_torch(bert: Path, tmp_path: Path) -> None:
    """In a process where torch, transformers and onnx cannot be imported: onnxruntime, tokenizers, numpy only."""
    copy = shutil.copytree(bert, tmp_path / "notorch")
    expected = static2d.load(copy, layers=2, dims=16, backend="onnx").encode(TEXTS)
    result = subprocess.run(
        [sys.executable, "-c", _BLOCK_TORCH, str(copy), str(tmp_path / "out-"), *TEXTS],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for backend in ("onnx", "auto"):
        np.testing.assert_allclose(np.load(tmp_path / f"out-{backend}.npy"), expected, atol=1e-6, rtol=0)
    assert "static2d-core[onnx-export]" in result.stdout


@pytest.mark.notorch
def test_a_cut_model_encodes_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """nox `notorch` (static2d-core with the `onnx` extra, no torch): a graph cut and cached where torch was
    installed (the bundle the session writes with `python -m static2d_testkit.bundle` before removing torch)
    encodes with onnxruntime, tokenizers and numpy only, and "auto" picks it."""
    import importlib.util

    from static2d_testkit.bundle import BUNDLE_TEXTS, LAYERS

    assert importlib.util.find_spec("torch") is None, "torch is installed in the notorch environment"
    where = os.environ.get("STATIC2D_NOTORCH_BUNDLE")
    assert where, "STATIC2D_NOTORCH_BUNDLE is not set: run `python -m static2d_testkit.bundle DIR` first (nox does)"
    bundle = Path(where)
    monkeypatch.setenv("STATIC2D_ONNX_CACHE", str(bundle / "onnx"))
    static2d.clear_cache()
    enc = static2d.load(bundle / "model", layers=LAYERS)
    assert enc.backend == "onnx"
    np.testing.assert_allclose(enc.encode(BUNDLE_TEXTS), np.load(bundle / "expected.npy"), atol=ATOL, rtol=0)
    assert "torch" not in sys.modules
    static2d.clear_cache()
