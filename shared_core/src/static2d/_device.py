"""The `device` option's rule, once: its spelling, and where a model runs with it (torch / onnxruntime lazily).

`device=None` means the best accelerator torch sees (`accelerator`), in sentence-transformers' order (cuda, mps,
npu, xpu, hpu), else the CPU. torch is asked only where it is installed and the machine shows a sign of an
accelerator (a GPU driver's device file on Linux; any macOS or Windows machine), so a CPU-only Linux machine that
runs ONNX Runtime never imports torch to find out that it has none.

`check_spelling` is the option registry's check (a torch device type with an optional index). `place` is the one
resolver: given the device, the backend (and quantize, dtype, and the model's kind once known) it says which
runtime runs the model on which device, or refuses with static2d's own error, naming the value, what this machine
offers, and the fix. It runs when an encoder (or an adapter's embedder) is made, on every load, before any engine
is looked up or built, so a device is never accepted and then ignored, and torch's own errors about a device never
reach the user.

The rule:

* A static model runs on the CPU with numpy: any device but None / "cpu" is refused (here only: the option
  registry's `refuse_inapplicable` leaves the device to this rule).
* None: the best accelerator torch sees (cuda, mps, npu, xpu, hpu), else the CPU; for backend="onnx", the CPU.
* "cpu" (or "cpu:0"): any backend.
* "meta", "xla", "ipu", "maia", "privateuseone": refused (no numbers on "meta"; the others need out-of-tree
  plugins static2d does not run on).
* Another device runs on torch where this torch build has that device type and this machine has the device (and
  its index). backend="onnx" runs on "cuda" / "cuda:N" only, with onnxruntime-gpu's CUDAExecutionProvider
  (device_id N). backend="auto" takes torch where torch can use the device, else ONNX Runtime where it can.
* quantize="int8" runs on the CPU only.
"""

from __future__ import annotations

import functools
import glob
import importlib.util
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Literal

# torch's device types (torch.device accepts these, with an optional ":index").
DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "npu", "hpu", "xla", "meta", "mtia", "ipu", "maia", "privateuseone")
_SPELLING = re.compile(rf"^({'|'.join(DEVICE_TYPES)})(?::(0|[1-9][0-9]*))?$")
# Device types static2d never runs on, and why.
_NEVER = {
    "meta": "'meta' is torch's placeholder device: its tensors have shapes but no numbers, so nothing can be "
    "computed on it",
    "xla": "torch reaches XLA devices (TPUs) only through the torch_xla plugin, which static2d does not run on",
    "ipu": "torch reaches Graphcore IPUs only through the PopTorch plugin, which static2d does not run on",
    "maia": "torch reaches Maia devices only through an out-of-tree plugin, which static2d does not run on",
    "privateuseone": "'privateuseone' is the slot torch keeps for an out-of-tree device plugin, which static2d "
    "does not run on",
}
# The package that gives torch each device type it does not bring itself.
_PLUGINS = {"npu": "torch_npu (Ascend)", "hpu": "habana_frameworks.torch (Intel Gaudi)"}
_CUDA_PROVIDER = "CUDAExecutionProvider"

Runtime = Literal["numpy", "torch", "onnx"]


# Device files of accelerator drivers on Linux: NVIDIA (and WSL's GPU), AMD ROCm, Ascend NPU, Habana Gaudi.
_SIGNS = (
    "/dev/nvidiactl",
    "/dev/nvidia0",
    "/proc/driver/nvidia/version",
    "/dev/dxg",
    "/dev/kfd",
    "/dev/davinci0",
    "/dev/accel",
    "/dev/hl0",
)


def _may_have_accelerator() -> bool:
    """Whether asking torch is worth importing it: torch already imported, a non-Linux machine, or a driver's file."""
    if "torch" in sys.modules or sys.platform != "linux":
        return True
    return any(os.path.exists(p) for p in _SIGNS) or bool(glob.glob("/dev/dri/renderD*"))  # renderD*: Intel XPU


@functools.lru_cache(maxsize=1)
def accelerator() -> str | None:
    """The best accelerator torch sees ("cuda:0", "mps", "npu", "xpu", "hpu"), or None (once per process).

    A CUDA device is `cuda:$LOCAL_RANK` under a distributed launcher (as sentence-transformers picks it), else
    `cuda:0` (a Ray actor given a GPU sees only that one, as device 0).

    Example:
        >>> accelerator() in (None, "cuda:0", "mps", "npu", "xpu", "hpu")  # doctest: +SKIP
        True
    """
    if importlib.util.find_spec("torch") is None or not _may_have_accelerator():
        return None
    import torch

    if torch.cuda.is_available():
        rank = os.environ.get("LOCAL_RANK", "")
        index = int(rank) if rank.isdigit() and int(rank) < torch.cuda.device_count() else 0
        return f"cuda:{index}"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    for kind in ("npu", "xpu", "hpu"):
        module = getattr(torch, kind, None)
        if module is not None and hasattr(module, "is_available") and module.is_available():
            return kind
    return None


def resolve_device(device: str | None) -> str:
    """The device a transformer runs on: `device` as given, or for None the best accelerator, else "cpu"."""
    return device if device is not None else accelerator() or "cpu"


class DeviceError(ValueError):
    """A device the model cannot run on here: the message names the value, what this machine offers, the fix."""


def check_spelling(value: object, name: str = "device") -> object:
    """The option registry's check: None, or a torch device type with an optional index ("cuda:1").

    Raises:
        TypeError: Not a str (nor None).
        ValueError: Not a torch device's spelling ("gpu", "CPU", "cuda:x", "cpu:00"), or a CPU index other than 0.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        what = 'a torch device name such as "cpu" or "cuda", or None'
        msg = f"{name} must be {what}, got {value!r} ({type(value).__name__})."
        raise TypeError(msg)
    match = _SPELLING.match(value)
    if match is None:
        msg = (
            f"{name}={value!r} is not a torch device: use 'cpu', 'cuda', 'cuda:1', 'mps', 'xpu' (a device type "
            f"from {', '.join(DEVICE_TYPES)}, with an optional ':index' without leading zeros), or None for the "
            "default."
        )
        raise ValueError(msg)
    if match.group(1) == "cpu" and match.group(2) not in (None, "0"):
        msg = f"{name}={value!r}: the CPU has no device index (all its cores are one device). Use device='cpu'."
        raise ValueError(msg)
    return value


@dataclass(frozen=True)
class Placement:
    """Where a model runs: the runtime (None: backend="auto" decides by the model) and the device.

    `device` is the option as given for torch (None: the best accelerator torch sees), and "cpu" or "cuda:N" for
    ONNX Runtime.
    """

    runtime: Runtime | None
    device: str | None


def is_cpu(device: str | None) -> bool:
    """Whether `device` names the CPU ("cpu", "cpu:0")."""
    return device is not None and device.partition(":")[0] == "cpu"


def onnx_device(device: str | None) -> str:
    """The device ONNX Runtime runs on for a device `place` accepted for it: "cpu", or "cuda:N"."""
    if device is None or is_cpu(device):
        return "cpu"
    kind, _, index = device.partition(":")
    return f"{kind}:{index or 0}"


def place(
    device: str | None,
    *,
    backend: str = "auto",
    quantize: str | None = None,
    dtype: str = "float32",
    kind: str | None = None,
    model: str = "",
) -> Placement:
    """Where a model runs with these options, or static2d's refusal (`DeviceError`, a ValueError).

    Args:
        device: The `device` option (spelling already checked).
        backend: "auto", "torch" or "onnx".
        quantize: None or "int8" (ONNX Runtime, on the CPU).
        dtype: The transformer's dtype on torch ("float32": any runtime).
        kind: "static", "transformer", or None where the model is not described yet (a lazy hub model).
        model: The model as given, for messages.

    Example:
        >>> place("cpu", backend="onnx")
        Placement(runtime='onnx', device='cpu')
    """
    if kind == "static":
        if device is None or is_cpu(device):
            return Placement("numpy", "cpu")
        msg = (
            f"device={device!r} was given, but {model or 'the model'!r} is a static embedding model: static models run "
            "on the CPU with numpy (a table lookup per token, which a GPU would not make faster), so device does not "
            "apply. Leave device unset (or 'cpu')."
        )
        raise DeviceError(msg)
    forced_onnx = backend == "onnx" or quantize is not None
    if device is None or is_cpu(device):
        if forced_onnx:
            return Placement("onnx", "cpu")
        return Placement("torch", device) if backend == "torch" else Placement(None, device)
    kind_of = device.partition(":")[0]
    if kind_of in _NEVER:
        _refuse(device, _NEVER[kind_of], "static2d runs on", fix="")
    if quantize is not None:
        _refuse(
            device,
            f"quantize={quantize!r} runs the int8 graph on ONNX Runtime's CPU provider only",
            "int8 runs on",
            fix="Use device='cpu' (or leave it unset) with quantize, or leave quantize unset to run on this device.",
        )
    if backend == "torch" or dtype != "float32":
        why = torch_refusal(device)
        if why is not None:
            _refuse(device, why, "torch can use", fix="")
        return Placement("torch", device)
    if backend == "onnx":
        why = onnx_refusal(device)
        if why is not None:
            _refuse(device, why, "backend='onnx' can use", fix=_onnx_fix(device), offers=_onnx_offers())
        return Placement("onnx", onnx_device(device))
    return _auto(device)


def _auto(device: str) -> Placement:
    """backend="auto" with a device other than the CPU: torch where it can use it, else ONNX Runtime where it can."""
    torch_why = torch_refusal(device)
    if torch_why is None and importlib.util.find_spec("torch") is not None:
        return Placement("torch", device)
    cuda = device.partition(":")[0] == "cuda"
    onnx_why = onnx_refusal(device) if cuda else None
    if cuda and onnx_why is None:
        return Placement("onnx", onnx_device(device))
    if torch_why is None:  # torch is not installed: loading it names the extra to install
        return Placement("torch", device)
    why = torch_why if onnx_why is None else f"{torch_why}; and {onnx_why}"
    _refuse(device, why, "static2d can use", fix="")
    raise AssertionError  # _refuse raised


def _refuse(device: str, why: str, who: str, *, fix: str, offers: list[str] | None = None) -> None:
    """Raise the three-part refusal: the value and why, what this machine offers, and the fix."""
    offers = offers or offered()
    best = next((d for d in offers if d != "cpu" and "(" not in d), None)  # what device=None takes (torch's)
    default = f"None (the best device found: {best})" if best else "None (here: the CPU)"
    fix = fix or f"Use device='cpu', or {default}."
    msg = f"device={device!r} cannot be used: {why}. On this machine {who}: {', '.join(offers)}. {fix}"
    raise DeviceError(msg)


def _onnx_fix(device: str) -> str:
    if device.partition(":")[0] == "cuda":
        return (
            "Use backend='torch' (or 'auto') for this device, or install onnxruntime-gpu (pip install "
            "onnxruntime-gpu, in place of onnxruntime) for ONNX Runtime on a CUDA GPU, or device='cpu'."
        )
    return "Use backend='torch' (or 'auto') for this device, or device='cpu' with backend='onnx'."


def _torch_version() -> str:
    import torch

    return str(torch.__version__)


def torch_refusal(device: str) -> str | None:  # noqa: PLR0911, PLR0912 - one reason per case
    """Why torch cannot run a transformer on `device` here (None: it can, or torch is not installed to ask).

    Without torch, None: loading the torch engine then names the extra to install.
    """
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    kind, _, index = device.partition(":")
    version = _torch_version()
    if kind == "cpu":
        return None
    if kind in _NEVER:
        return _NEVER[kind]
    if kind == "cuda":
        if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
            return f"this torch ({version}) was built without CUDA"
        available, count = bool(torch.cuda.is_available()), int(torch.cuda.device_count())
    elif kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_built():
            return f"this torch ({version}) was built without MPS (Apple's GPU framework, on macOS)"
        available, count = bool(mps.is_available()), 1
    else:  # xpu, npu, hpu, mtia: torch's module for the device type, where this build (or a plugin) has one
        try:
            module = getattr(torch, kind, None)
        except Exception:
            module = None
        if module is None or not hasattr(module, "is_available"):
            plugin = f" ({_PLUGINS[kind]} is not installed)" if kind in _PLUGINS else ""
            return f"this torch ({version}) has no {kind} support{plugin}"
        try:
            available = bool(module.is_available())
            count = int(module.device_count()) if available and hasattr(module, "device_count") else 1
        except Exception as e:
            return f"torch ({version}) cannot start its {kind} runtime ({type(e).__name__}: {e})"
    if not available:
        return f"torch ({version}) sees no {kind} device on this machine"
    if index and int(index) >= count:
        return f"torch ({version}) sees {count} {kind} device(s) here, {kind}:0 to {kind}:{count - 1}"
    return None


def onnx_refusal(device: str) -> str | None:
    """Why ONNX Runtime cannot run a transformer on `device` here (None: it can: CPU, or CUDA with its provider)."""
    kind = device.partition(":")[0]
    if kind == "cpu":
        return None
    if kind != "cuda":
        return f"backend='onnx' runs on the CPU, or on a CUDA GPU with onnxruntime-gpu, not on {kind} devices"
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed"
    import onnxruntime

    providers = list(onnxruntime.get_available_providers())
    if _CUDA_PROVIDER not in providers:
        return (
            f"the installed onnxruntime ({onnxruntime.__version__}) has no {_CUDA_PROVIDER} (it offers "
            f"{', '.join(providers)}): it is not the onnxruntime-gpu build"
        )
    return None


def _onnx_offers() -> list[str]:
    """The devices backend='onnx' can use here: the CPU, and CUDA where onnxruntime-gpu is installed."""
    return ["cpu", *([d for d in offered() if d.startswith("cuda")] if onnx_refusal("cuda") is None else [])]


def offered() -> list[str]:
    """The devices static2d can use on this machine: "cpu", then each one torch (or ONNX Runtime's CUDA) sees."""
    found = ["cpu"]
    if importlib.util.find_spec("torch") is not None:
        best = accelerator()  # imports torch only where the machine shows a sign of an accelerator
        if best is not None:
            import torch

            kind = best.partition(":")[0]
            if kind == "cuda":
                found += [f"cuda:{i}" for i in range(int(torch.cuda.device_count()))]
            else:
                module: Any = getattr(torch, kind, None)
                count = int(module.device_count()) if module is not None and hasattr(module, "device_count") else 1
                found += [kind] if count <= 1 else [f"{kind}:{i}" for i in range(count)]
    if "cuda:0" not in found and onnx_refusal("cuda") is None:
        found.append("cuda (ONNX Runtime's CUDA provider, backend='onnx')")
    return found
