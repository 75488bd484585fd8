"""`device`: one rule (static2d._device.place), applied when the encoder is made, in every backend.

A device torch does not know, was not built with, or does not see here gets static2d's own error (the value, what
this machine offers, the fix) at `load` (lazy too), never torch's at the first encode; a device a backend cannot
use is refused, never ignored; ONNX Runtime runs on CUDA through its CUDA provider (tested here with a stand-in
onnxruntime-gpu, this machine having none); a static model runs on the CPU only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import static2d
from conftest import onnx_cache_at
from static2d._device import DeviceError, Placement, place
from static2d_testkit import make_static_model

torch = pytest.importorskip("torch")
onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("sentence_transformers")

# Device strings a held-out sweep passed: each reached the user as torch's own error, or was ignored by ONNX.
TORCH_UNKNOWN = ["npu", "xla", "ipu", "maia", "hpu", "privateuseone", "meta", "meta:0", "mps", "xpu", "mtia"]
CUDA = [] if torch.cuda.is_available() else ["cuda", "cuda:1"]
NOT_HERE = TORCH_UNKNOWN + CUDA
REFUSAL = r"device='{}' cannot be used: .+\. On this machine [^:]+: cpu.*\. Use "


@pytest.fixture(autouse=True)
def onnx_cache(tmp_path: Path) -> Iterator[Path]:
    with onnx_cache_at(tmp_path / "onnx-cache") as folder:
        yield folder


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from static2d_testkit import make_tiny_transformer

    return make_tiny_transformer(tmp_path_factory.mktemp("bert") / "bert", "bert", layers=2)


def _pattern(device: str) -> str:
    return REFUSAL.format(device.replace("(", r"\("))


@pytest.mark.parametrize("backend", ["auto", "torch", "onnx"])
@pytest.mark.parametrize("device", NOT_HERE)
def test_a_device_this_machine_cannot_use_is_refused_when_the_encoder_is_made(
    bert: Path, device: str, backend: str
) -> None:
    with pytest.raises(DeviceError, match=_pattern(device)):
        static2d.load(bert, device=device, backend=backend, lazy=True)  # type: ignore[arg-type]


@pytest.mark.parametrize("device", NOT_HERE)
def test_a_hub_model_is_refused_before_it_is_looked_up(device: str) -> None:
    # Not local: the model is not found (nor downloaded) before the device is refused.
    with pytest.raises(DeviceError, match=_pattern(device)):
        static2d.load("nobody/no-such-model-here", device=device, lazy=True)


@pytest.mark.parametrize(
    ("device", "words"),
    [
        ("meta", r"placeholder device: its tensors have shapes but no numbers"),
        ("xla", r"only through the torch_xla plugin"),
        ("privateuseone", r"out-of-tree device plugin"),
        ("npu", r"has no npu support \(torch_npu \(Ascend\) is not installed\)"),
        ("hpu", r"has no hpu support \(habana_frameworks\.torch \(Intel Gaudi\) is not installed\)"),
        ("mps", r"built without MPS"),
        ("xpu", r"sees no xpu device on this machine"),
    ],
)
def test_the_refusal_says_why(bert: Path, device: str, words: str) -> None:
    with pytest.raises(DeviceError, match=words):
        static2d.load(bert, device=device, backend="torch", lazy=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_names_the_torch_build_and_onnxruntime(bert: Path) -> None:
    with pytest.raises(
        DeviceError, match=r"device='cuda' cannot be used: (this torch .* without CUDA|torch .* sees no cuda)"
    ):
        static2d.load(bert, device="cuda", backend="torch", lazy=True)
    with pytest.raises(DeviceError, match=r"has no CUDAExecutionProvider .*install onnxruntime-gpu"):
        static2d.load(bert, device="cuda:1", backend="onnx", lazy=True)
    with pytest.raises(DeviceError, match=r"CUDA.*; and the installed onnxruntime .* no CUDAExecutionProvider"):
        static2d.load(bert, device="cuda", lazy=True)  # auto: neither backend can use it


@pytest.mark.parametrize("device", ["cpu:00", "cpu:01", "cuda:007"])
def test_an_index_with_leading_zeros_is_no_device(bert: Path, device: str) -> None:
    with pytest.raises(ValueError, match=rf"device='{device}' is not a torch device: .*without leading zeros"):
        static2d.load(bert, device=device, lazy=True)


def test_the_cpu_has_no_index_but_zero(bert: Path) -> None:
    with pytest.raises(ValueError, match=r"device='cpu:1': the CPU has no device index .* Use device='cpu'"):
        static2d.load(bert, device="cpu:1", lazy=True)
    for backend in ("torch", "onnx"):
        enc = static2d.load(bert, device="cpu:0", backend=backend)  # type: ignore[arg-type]
        assert (enc.describe()["backend"], enc.describe()["device"]) == (backend, "cpu")


@pytest.mark.parametrize("device", ["cuda", "cuda:1", "mps", "xpu", "npu", "meta"])
def test_onnx_never_ignores_a_device(bert: Path, device: str) -> None:
    """Before: backend='onnx' with any device ran on the CPU. Now refused, on every load (a built engine too)."""
    assert static2d.load(bert, backend="onnx").describe()["device"] == "cpu"  # the ONNX engine is built and shared
    with pytest.raises(DeviceError, match=rf"device='{device}' cannot be used: .*On this machine .*: cpu\. Use"):
        static2d.load(bert, backend="onnx", device=device)
    with pytest.raises(DeviceError, match=rf"device='{device}' cannot be used"):
        static2d.load(bert, backend="onnx", device=device, lazy=True)


@pytest.mark.parametrize("device", ["cuda", "cuda:1", "mps", "xpu", "npu", "meta", "cpu:1"])
def test_a_static_model_runs_on_the_cpu_only(tmp_path: Path, device: str) -> None:
    path = make_static_model(tmp_path / "m")
    with pytest.raises(ValueError, match=rf"device='{device}'"):
        static2d.load(path, device=device, lazy=True)
    if device != "cpu:1":  # (a spelling error first)
        with pytest.raises(
            DeviceError,
            match=r"is a static embedding model: static models run on the CPU with numpy .* Leave device unset",
        ):
            static2d.load(path, device=device, lazy=True)
    for fine in (None, "cpu", "cpu:0"):
        assert static2d.load(path, device=fine).describe()["device"] == "cpu"


def test_the_rule_as_a_function() -> None:
    assert place(None, backend="auto") == Placement(None, None)
    assert place("cpu", backend="onnx") == Placement("onnx", "cpu")
    assert place(None, backend="onnx") == Placement("onnx", "cpu")  # ONNX's default device is the CPU
    assert place(None, quantize="int8") == Placement("onnx", "cpu")
    assert place("cpu", backend="torch") == Placement("torch", "cpu")
    assert place(None, kind="static") == Placement("numpy", "cpu")


# --- a machine with CUDA (stand-ins: this one has none) ----------------------------------------------------------


class _Session:
    """onnxruntime.InferenceSession as onnxruntime-gpu's: records the providers asked for, runs on the CPU."""

    asked: list[Any] = []  # noqa: RUF012 - shared by the test
    starts = True  # whether the CUDA provider "starts" (else the session falls back to the CPU, as ORT does)

    def __init__(self, model: Any, options: Any = None, providers: Any = None, **kwargs: Any) -> None:
        _Session.asked.append(providers)
        self._cuda = any(p == "CUDAExecutionProvider" or p[0] == "CUDAExecutionProvider" for p in providers or [])
        self._real = _REAL_SESSION(model, options, providers=["CPUExecutionProvider"], **kwargs)

    def get_providers(self) -> list[str]:
        return (["CUDAExecutionProvider"] if self._cuda and _Session.starts else []) + ["CPUExecutionProvider"]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


_REAL_SESSION = onnxruntime.InferenceSession


@pytest.fixture
def onnxruntime_gpu(monkeypatch: pytest.MonkeyPatch) -> type[_Session]:
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: providers)
    monkeypatch.setattr(onnxruntime, "InferenceSession", _Session)
    _Session.asked = []
    _Session.starts = True
    return _Session


def test_onnx_on_cuda_uses_the_cuda_provider_with_its_device_id(bert: Path, onnxruntime_gpu: type[_Session]) -> None:
    enc = static2d.load(bert, backend="onnx", device="cuda:1")
    assert [("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"] in onnxruntime_gpu.asked
    fields = enc.describe()
    assert (fields["backend"], fields["device"], enc.device) == ("onnx", "cuda:1", "cuda:1")
    assert enc.encode(["a cat"]).shape == (1, 32)
    # the CPU engine and the CUDA one are two engines
    assert not static2d.load(bert, backend="onnx").same_model(enc)
    assert static2d.load(bert, backend="onnx", device="cuda").describe()["device"] == "cuda:0"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_auto_takes_the_backend_that_can_use_the_device(bert: Path, onnxruntime_gpu: type[_Session]) -> None:
    del onnxruntime_gpu  # torch here is a CPU build: only ONNX Runtime (stand-in GPU build) can use CUDA
    fields = static2d.load(bert, device="cuda:0").describe()
    assert (fields["backend"], fields["device"]) == ("onnx", "cuda:0")


def test_a_cuda_provider_that_does_not_start_is_refused(bert: Path, onnxruntime_gpu: type[_Session]) -> None:
    onnxruntime_gpu.starts = False
    with pytest.raises(ValueError, match=r"could not start its CUDAExecutionProvider on cuda:0 .*would run on the CPU"):
        static2d.load(bert, backend="onnx", device="cuda")


def test_int8_runs_on_the_cpu_only(bert: Path, onnxruntime_gpu: type[_Session]) -> None:
    del onnxruntime_gpu
    with pytest.raises(DeviceError, match=r"quantize='int8' runs the int8 graph on ONNX Runtime's CPU provider only"):
        static2d.load(bert, quantize="int8", device="cuda", lazy=True)


def test_auto_takes_torch_where_torch_sees_the_device(bert: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from static2d import _device
    from static2d._choice import choose

    monkeypatch.setattr(_device, "torch_refusal", lambda device: None)  # torch "has" the device
    enc = static2d.load(bert, lazy=True)
    options, description = enc._options, enc._description
    assert description is not None
    assert choose(replace(options, device="cuda"), description, 2) == "torch"
    assert choose(replace(options, device="xpu:1"), description, 2) == "torch"
    assert choose(replace(options, device="cpu"), description, 2) == "onnx"


def test_batch_encoder_refuses_when_made(bert: Path) -> None:
    for device in ("npu", "meta", "cpu:00"):
        with pytest.raises(ValueError, match=rf"device='{device}'"):
            static2d.BatchEncoder(str(bert), device=device)
    with pytest.raises(DeviceError, match=r"device='mps' cannot be used"):
        static2d.BatchEncoder(str(bert), device="mps", backend="onnx")


def test_without_torch_auto_takes_onnxruntime_gpu_for_cuda(
    monkeypatch: pytest.MonkeyPatch, onnxruntime_gpu: type[_Session]
) -> None:
    import importlib.util

    del onnxruntime_gpu
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    assert place("cuda:1", backend="auto") == Placement("onnx", "cuda:1")
    assert place("xpu", backend="auto") == Placement("torch", "xpu")  # loading torch then names the extra


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_the_refusal_lists_onnxruntimes_cuda(onnxruntime_gpu: type[_Session]) -> None:
    del onnxruntime_gpu
    with pytest.raises(
        DeviceError,
        match=r"On this machine static2d can use: cpu, cuda \(ONNX Runtime's CUDA provider, backend='onnx'\)\. Use "
        r"device='cpu', or None \(here: the CPU\)\.",
    ):
        place("mps")
