"""The extras of static2d-core, and the one way an error says which to install."""

from __future__ import annotations

from typing import Literal

Extra = Literal["transformers", "onnx", "onnx-export", "plot", "fast"]


def install_hint(extra: Extra) -> str:
    """The command that installs `extra`, as an error message gives it.

    Example:
        >>> install_hint("onnx")
        "pip install 'static2d-core[onnx]'"
    """
    return f"pip install 'static2d-core[{extra}]'"
