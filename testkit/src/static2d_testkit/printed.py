"""What a user sees when a script fails: run Python code in a fresh interpreter and read what it printed.

Tests of error messages use it to pin the whole experience, not just the exception: how many tracebacks are
printed (chained ones included), and the last line, the one a user reads.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Collection
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


# The messages a newcomer meets first, word for word: every adapter prints the same (but for its own extra's name).
OFFLINE = (
    "OSError: Model 'sentence-transformers/static-retrieval-mrl-en-v1' is not in the local cache (the default "
    "Hugging Face cache) and cannot be downloaded (HF_HUB_OFFLINE is set). Download it once with network access "
    "(unset HF_HUB_OFFLINE / local_files_only), or pass the path of a local directory holding the model."
)
LANGCHAIN_HF = "LangChain's HuggingFaceEmbeddings"
HAYSTACK_ST = "Haystack's SentenceTransformers embedders"
ONE_PROCESS = (
    "static2d embeds in one process: a static model embeds tens of thousands of texts a second on one CPU core, and a "
    "transformer runs on every core (or on `device`). To spread a large corpus over processes or machines, use "
    "static2d.BatchEncoder with Ray Data or pandas."
)


# What the install hint adds where the extra would bring PyPI's CUDA torch onto a machine without a GPU.
CPU_TORCH = (
    " --extra-index-url https://download.pytorch.org/whl/cpu (no NVIDIA GPU is visible here: that index gives "
    "torch's CPU build, not PyPI's CUDA build with several GB of NVIDIA libraries; pip keeps a torch already installed)"
)


def no_extra(dist: str, cpu: bool | None = None) -> str:
    """The last line printed where a transformer is loaded without the `transformers` extra of package `dist`.

    `cpu`: whether the hint names PyTorch's CPU index (None: as it does on this machine, where torch is installed
    or not, with a GPU visible or not).
    """
    if cpu is None:
        from static2d._extras import wants_cpu_torch

        cpu = wants_cpu_torch("transformers")
    return (
        "ImportError: This model is a transformer; running it needs torch and sentence-transformers, which are not "
        f"installed. Install the extra: pip install '{dist}[transformers]'{CPU_TORCH if cpu else ''} (static models "
        "need neither)."
    )


def suggested_options(message: str) -> list[str]:
    """The option names a refusal tells the user to use.

    As "use the static2d option(s) a=1, b instead" or "did you mean a=1?" write them (the values a test gives
    have no ", " or " or " in them).
    """
    found = re.findall(r"use the static2d options? (.+?) instead|did you mean (.+?)\?", message)
    return [part.split("=", 1)[0] for groups in found for text in groups if text for part in re.split(", | or ", text)]


def peer_name_problems(make: Callable[..., object], owner: str, takes: Collection[str]) -> list[str]:
    """What goes wrong when `make` is given each name of the peer-name table (an empty list: nothing).

    Each name is given alone, with a plain value (a dict option: a dict) and with an empty dict. It must be
    refused by a TypeError naming `owner`, every option the message suggests must be one `owner` takes, and where
    the table's static2d option for the name is one `owner` takes, the message must suggest it (never "static2d
    has no ... option here").
    """
    from static2d.adapters import PEER_OPTIONS

    problems = []
    for name, peer in PEER_OPTIONS.items():
        if name in takes:
            continue  # the adapter's own option of that name (Haystack's prefix)
        for value in ({"device": "cpu", "batch_size": 8, "query": "q: "}, {}) if peer.holds_options else ("x", {}):
            try:
                make(**{name: value})
            except TypeError as e:
                message = str(e)
            else:
                problems.append(f"{owner} took {name}={value!r}")
                continue
            suggested = suggested_options(message)
            if not message.startswith(f"{owner} has no option {name!r}"):
                problems.append(f"{name}={value!r}: not {owner}'s refusal: {message}")
            elif not set(suggested) <= set(takes):
                problems.append(f"{name}={value!r}: suggests {sorted(set(suggested) - set(takes))}: {message}")
            elif set(peer.use) <= set(takes) and ("option here" in message or not set(peer.use) <= set(suggested)):
                problems.append(f"{name}={value!r}: does not suggest {', '.join(peer.use)}: {message}")
    return problems
