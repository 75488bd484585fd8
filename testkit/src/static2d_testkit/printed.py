"""What a user sees when a script fails: run Python code in a fresh interpreter and read what it printed.

Tests of error messages use it to pin the whole experience, not just the exception: how many tracebacks are
printed (chained ones included), and the last line, the one a user reads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Printed:
    """What a failed run printed on stderr."""

    returncode: int
    stderr: str

    @property
    def tracebacks(self) -> int:
        """How many tracebacks were printed (a chained exception prints one more)."""
        return self.stderr.count("Traceback (most recent call last):")

    @property
    def last_line(self) -> str:
        """The last line printed: the exception a user reads, as `Type: message`."""
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""


def run_python(code: str, *, home: str | os.PathLike[str], env: dict[str, str] | None = None) -> Printed:
    """Run `code` in a fresh interpreter, offline, with an empty Hugging Face cache under `home`.

    Args:
        code: The script.
        home: A temporary folder for the run's caches (HF_HOME and the home folder).
        env: More environment variables.

    Returns:
        Its exit status and what it printed on stderr.
    """
    folder = Path(home)
    base = {
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(folder / "hf"),
        "HOME": str(folder / "home"),
        "HAYSTACK_TELEMETRY_ENABLED": "False",
        "TRANSFORMERS_VERBOSITY": "error",
        "PYTHONWARNINGS": "ignore",
    }
    run_env = {**os.environ, **base, **(env or {})}
    result = subprocess.run(  # noqa: S603 - this interpreter, the test's own code
        [sys.executable, "-c", code], capture_output=True, text=True, env=run_env, check=False, timeout=600
    )
    return Printed(result.returncode, result.stderr)
