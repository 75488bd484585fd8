"""The extras of static2d-core, and the one way an error says which to install.

Each adapter offers the core's `transformers` extra under its own name (`static2d-langchain[transformers]` pulls
`static2d-core[transformers]`), and its README says so: the hint names the extra of the adapters in use (imported
in this process), the ones the user installed, and the core's when no adapter is imported.

An extra that pulls torch, on Linux with no NVIDIA GPU visible and no torch installed yet, gets PyPI's torch
otherwise: the CUDA build, several GB of NVIDIA libraries. The hint then takes torch from PyTorch's CPU index, as
the packages' READMEs do. A torch already installed stays: the extras ask for `torch>=2.1`, a floor, which pip
meets with the installed one.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from typing import Literal

Extra = Literal["transformers", "onnx", "onnx-export", "plot", "fast"]

CORE = "static2d-core"
# The adapters' import names and their distributions; each offers the core's `transformers` extra as its own.
ADAPTERS = {
    "langchain_static2d": "static2d-langchain",
    "llama_index.embeddings.static2d": "static2d-llamaindex",
    "haystack_integrations.components.embedders.static2d": "static2d-haystack",
}
ADAPTER_EXTRAS: tuple[Extra, ...] = ("transformers",)
# The extras that install torch.
TORCH_EXTRAS: tuple[Extra, ...] = ("transformers", "onnx-export")
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def gpu_visible() -> bool:
    """Whether this machine shows an NVIDIA GPU: `nvidia-smi` on PATH, or the NVIDIA driver loaded."""
    return shutil.which("nvidia-smi") is not None or Path("/proc/driver/nvidia").exists()


def _installed(module: str) -> bool:
    """Whether `module` can be imported (without importing it: torch takes seconds)."""
    if module in sys.modules:
        return sys.modules[module] is not None  # None: blocked, as if not installed
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def wants_cpu_torch(extra: Extra) -> bool:
    """Whether installing `extra` here would bring PyPI's CUDA torch where the CPU build is what can run.

    Linux (PyPI's torch for macOS and Windows is the CPU build already), no NVIDIA GPU visible, no torch installed.
    """
    return extra in TORCH_EXTRAS and sys.platform == "linux" and not gpu_visible() and not _installed("torch")


def adapters_in_use() -> list[str]:
    """The static2d adapters imported in this process (by distribution name), in a fixed order."""
    return [dist for module, dist in ADAPTERS.items() if module in sys.modules]


def install_hint(extra: Extra) -> str:
    """The command that installs `extra`, as an error message gives it: the adapter's extra where one is in use.

    Where the extra pulls torch and this Linux machine shows no NVIDIA GPU (and has no torch yet), the command takes
    torch from PyTorch's CPU index (`--extra-index-url https://download.pytorch.org/whl/cpu`), and says why.

    Example:
        >>> install_hint("onnx")
        "pip install 'static2d-core[onnx]'"
    """
    names = adapters_in_use() if extra in ADAPTER_EXTRAS else []
    commands = [f"pip install '{name}[{extra}]'" for name in names or [CORE]]
    if wants_cpu_torch(extra):
        commands = [f"{command} --extra-index-url {CPU_INDEX}" for command in commands]
        return (
            f"{' or '.join(commands)} (no NVIDIA GPU is visible here: that index gives torch's CPU build, not PyPI's "
            "CUDA build with several GB of NVIDIA libraries; pip keeps a torch already installed)"
        )
    return " or ".join(commands)
