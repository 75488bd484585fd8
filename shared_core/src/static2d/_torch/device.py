"""Where a transformer runs: the best accelerator torch sees, and whether a dtype runs there (torch imported lazily).

`device=None` means the best accelerator torch sees, in sentence-transformers' order (cuda, mps, npu, xpu, hpu),
else the CPU. torch is asked only where it is installed and the machine shows a sign of an accelerator (a GPU
driver's device file on Linux; any macOS or Windows machine), so a CPU-only Linux machine that runs ONNX Runtime
never imports torch to find out that it has none.
"""

from __future__ import annotations

import functools
import glob
import importlib.util
import os
import sys
from typing import Any

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


def is_accelerator(device: str) -> bool:
    """Whether `device` names an accelerator (anything but the CPU and torch's "meta" placeholder)."""
    return device.partition(":")[0] not in ("cpu", "meta")


def torch_dtype(name: str) -> Any:  # noqa: ANN401 - a torch.dtype
    """The torch dtype of a `dtype` option value."""
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def check_dtype_runs(dtype: str, device: str) -> None:
    """Refuse a `dtype` the device cannot run, by running a transformer's operations on a tiny input in it.

    Embedding lookup, linear layer, layer norm, GELU and masked scaled-dot-product attention: what every
    transformer static2d runs needs. A dtype torch has no kernel for on that device is refused here, at load, not
    mid-encode.

    Raises:
        ValueError: The dtype does not run on the device (the message names torch's complaint and what to use).

    Example:
        >>> check_dtype_runs("bfloat16", "cpu")  # doctest: +SKIP
    """
    if dtype == "float32":
        return
    import torch

    why = kernel_refusal(torch_dtype(dtype), device)
    if why is not None:
        msg = (
            f"dtype={dtype!r} cannot run on device {device!r} with torch {torch.__version__}: {why}. Use "
            f"dtype='float32' there{_other_half(dtype)}, or a device with {dtype} kernels (a GPU)."
        )
        raise ValueError(msg)


def kernel_refusal(kind: Any, device: str) -> str | None:  # noqa: ANN401 - a torch.dtype
    """Why a transformer's operations do not run in torch dtype `kind` on `device` (None: they run, finite)."""
    import torch

    try:
        table = torch.ones((8, 8), dtype=kind, device=device)
        hidden = torch.nn.functional.embedding(torch.zeros((2, 4), dtype=torch.long, device=device), table)
        hidden = torch.nn.functional.linear(hidden, table)
        hidden = torch.nn.functional.gelu(torch.nn.functional.layer_norm(hidden, (8,)))
        heads = hidden.view(2, 4, 2, 4).transpose(1, 2)
        mask = torch.ones((2, 1, 1, 4), dtype=torch.bool, device=device)
        out = torch.nn.functional.scaled_dot_product_attention(heads, heads, heads, attn_mask=mask)
        finite = bool(torch.isfinite(out.float()).all())  # waits for the device: its errors surface here
    except (RuntimeError, TypeError, NotImplementedError) as e:
        return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return None if finite else "non-finite numbers on a tiny test input"


def _other_half(dtype: str) -> str:
    other = "bfloat16" if dtype == "float16" else "float16"
    return f" (or try dtype={other!r})"
