"""The compiled kernel of the static path (`_kernel.c`), where it was built, else None: numpy does the same work.

The kernel is compiled when the package is installed from source with a C compiler present (setup.py); it is
optional, so an install without a compiler still works, on numpy. `STATIC2D_KERNEL=0` switches it off (the numpy
path, which gives bit-identical vectors: the tests compare the two). Loaded on first use, not at `import static2d`.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
from collections.abc import Sequence
from types import ModuleType

_log = logging.getLogger("static2d")


@functools.cache
def native() -> ModuleType | None:
    """The compiled kernel module, or None (switched off by STATIC2D_KERNEL=0, or not built: one log line)."""
    if os.environ.get("STATIC2D_KERNEL", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    try:
        module = importlib.import_module("static2d._static._kernel")  # optional, compiled at install
    except ImportError as e:
        _log.info("static2d: the compiled static kernel is not built here (%s); pooling runs on numpy.", e)
        return None
    return module


def name() -> str:
    """The kernel the static path runs: "C" or "numpy"."""
    return "C" if native() is not None else "numpy"


def longest(texts: Sequence[object]) -> int:
    """The length of the longest text (0 for none), or -1 - i where item i is the first that is not a str.

    One pass in the kernel (no Python call per text), else in Python: the same answer.

    Example:
        >>> longest(["a", "abc"]), longest(["a", b"b"])
        (3, -2)
    """
    module = native()
    if module is not None:
        return int(module.longest(texts))
    if all(type(t) is str for t in texts):
        return max(map(len, texts), default=0)  # type: ignore[arg-type]  # every item is a str
    return -1 - next(i for i, t in enumerate(texts) if type(t) is not str)
