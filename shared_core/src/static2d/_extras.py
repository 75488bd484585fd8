"""The extras of static2d-core, and the one way an error says which to install.

Each adapter offers the core's `transformers` extra under its own name (`static2d-langchain[transformers]` pulls
`static2d-core[transformers]`), and its README says so: the hint names the extra of the adapters in use (imported
in this process), the ones the user installed, and the core's when no adapter is imported.
"""

from __future__ import annotations

import sys
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


def adapters_in_use() -> list[str]:
    """The static2d adapters imported in this process (by distribution name), in a fixed order."""
    return [dist for module, dist in ADAPTERS.items() if module in sys.modules]


def install_hint(extra: Extra) -> str:
    """The command that installs `extra`, as an error message gives it: the adapter's extra where one is in use.

    Example:
        >>> install_hint("onnx")
        "pip install 'static2d-core[onnx]'"
    """
    names = adapters_in_use() if extra in ADAPTER_EXTRAS else []
    return " or ".join(f"pip install '{name}[{extra}]'" for name in names or [CORE])
