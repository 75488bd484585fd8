"""How many threads static2d may keep busy in this process: the CPUs it was given, or a limit set for it.

A worker of a bulk job (a Ray actor given one CPU, say) must not run a thread per core of the machine: N workers on
N cores would each start N threads. `set_limit` caps static2d's own helper threads, the tokenizer's thread pool,
torch's intra-op threads and ONNX Runtime's (for sessions made afterwards).
"""

from __future__ import annotations

import math
import os
import sys

_limit: int | None = None


def ray_cpus() -> int | None:
    """The CPUs Ray assigned to this process, if it is a Ray worker (an actor given none counts as one); else None.

    Example:
        >>> from static2d._threads import ray_cpus
        >>> ray_cpus() is None  # not in a Ray worker
        True
    """
    ray = sys.modules.get("ray")  # only a process that runs Ray has imported it; never imported here
    if ray is None or not ray.is_initialized():
        return None
    context = ray.get_runtime_context()
    if context.worker.mode != ray.WORKER_MODE:
        return None
    # Ray's own rule for OMP_NUM_THREADS in its workers: no CPUs or a fraction of one counts as one.
    cpus = context.get_assigned_resources().get("CPU")
    return max(1, math.floor(cpus)) if cpus else 1


def available_cpus() -> int:
    """The CPUs this process may use: those Ray assigned to this worker (in a Ray worker), else its CPU affinity.

    Example:
        >>> from static2d._threads import available_cpus
        >>> available_cpus() >= 1
        True
    """
    cpus = ray_cpus()
    return cpus if cpus is not None else affinity_cpus()


def affinity_cpus() -> int:
    """The CPUs this process may run on: its CPU affinity (the CPU count where there is none).

    What a library that sizes its own thread pool by the machine sees (tokie does), whatever Ray assigned.

    Example:
        >>> from static2d._threads import affinity_cpus
        >>> affinity_cpus() >= 1
        True
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def configured() -> int | None:
    """The limit set by `set_limit`, or None when none was set (each library then picks its own default)."""
    return _limit


def limit() -> int:
    """The number of threads static2d keeps busy: the limit set by `set_limit`, else `available_cpus()`."""
    return _limit if _limit is not None else available_cpus()


def set_limit(threads: int) -> None:
    """Cap the threads of everything static2d runs in this process to `threads`.

    Applies at once to static2d's helper threads and torch's intra-op threads (if torch is imported), and to the
    tokenizers' thread pool and ONNX Runtime sessions made from now on (the tokenizers pool is sized when it is
    first used: call this before the first encode of the process).

    Example:
        >>> from static2d._threads import limit, set_limit
        >>> set_limit(1)
        >>> limit()
        1
    """
    global _limit  # noqa: PLW0603 - one limit per process, as torch's and the tokenizers' are
    _limit = threads
    os.environ["RAYON_NUM_THREADS"] = str(threads)  # the Rust pool behind `tokenizers`, sized on first use
    if threads == 1:
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
