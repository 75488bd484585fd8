"""What to install for a feature, named for the package the user installed (an adapter, or the core itself).

Each adapter offers the core's `transformers` extra under its own name (`static2d-langchain[transformers]` pulls
`static2d-core[transformers]`), and its README says so: an error names the extra of the adapter in use, the one the
user knows, and the core's when no adapter is imported.
"""

from __future__ import annotations

import sys

CORE = "static2d-core"
# The adapters' import names and their distributions; each offers the core's `transformers` extra as its own.
ADAPTERS = {
    "langchain_static2d": "static2d-langchain",
    "llama_index.embeddings.static2d": "static2d-llamaindex",
    "haystack_integrations.components.embedders.static2d": "static2d-haystack",
}
ADAPTER_EXTRAS = ("transformers",)


def packages_in_use() -> list[str]:
    """The static2d adapters imported in this process (by distribution name), in a fixed order."""
    return [dist for module, dist in ADAPTERS.items() if module in sys.modules]


def install_hint(extra: str) -> str:
    """The pip command that installs `extra`, for the adapters in use (the core's own when none is, or not offered).

    Example:
        >>> install_hint("plot")
        "pip install 'static2d-core[plot]'"
    """
    names = packages_in_use() if extra in ADAPTER_EXTRAS else []
    return " or ".join(f"pip install '{name}[{extra}]'" for name in names or [CORE])
