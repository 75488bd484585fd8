"""Whether a dtype runs on a device, and the torch dtype of a `dtype` option (torch imported lazily).

Which device a transformer runs on (`device=None`: the best accelerator torch sees) is `static2d._device`'s rule.
"""

from __future__ import annotations

from typing import Any


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
