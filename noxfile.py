"""Sessions: lint, typecheck, tests per package (each in its own environment), no-torch installs, integration,
examples, and the benchmark suite (`nox -s bench`, not part of the default run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = str(ROOT / "constraints.txt")
nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "typecheck", "tests", "notorch", "integration", "examples"]

PACKAGES = {
    "core": "shared_core",
    "langchain": "packages/static2d-langchain",
    "llamaindex": "packages/static2d-llamaindex",
    "haystack": "packages/static2d-haystack",
}
TYPED_PACKAGES = (
    "static2d",
    "langchain_static2d",
    "llama_index.embeddings.static2d",
    "haystack_integrations.components.embedders.static2d",
)
# No test may reach a hub; the CPU torch wheel on this disk is found by uv as by pip.
ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "true"}


def _pip_find_links() -> str:
    """Where pip finds local wheels (the CPU torch build): $PIP_FIND_LINKS, else pip's own configuration."""
    if os.environ.get("PIP_FIND_LINKS"):
        return os.environ["PIP_FIND_LINKS"]
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.find-links"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


# uv does not read pip's settings: hand it the same local wheels, so torch==2.13.0 resolves to the CPU build.
if "UV_FIND_LINKS" not in os.environ and (links := _pip_find_links()):
    os.environ["UV_FIND_LINKS"] = ",".join(links.split())


def _install(session: nox.Session, *args: str) -> None:
    session.install("-c", CONSTRAINTS, *args)


def _groups(path: str, group: str) -> list[str]:
    return list(nox.project.dependency_groups(nox.project.load_toml(f"{path}/pyproject.toml"), group))


def _core(extra: str = "[transformers]") -> str:
    return f"-e{ROOT / 'shared_core'}{extra}"


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("ruff==0.17.6")  # pinned: a new release may format differently
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    _install(session, "mypy==2.4.1", _core(), *(f"-e{ROOT / p}" for p in list(PACKAGES.values())[1:]))
    session.run("mypy", *(f"-p{name}" for name in TYPED_PACKAGES))


@nox.session(python="3.11")
@nox.parametrize("package", list(PACKAGES))
def tests(session: nox.Session, package: str) -> None:
    """A package's tests, in an environment holding only that package, its framework and the test tools."""
    path = PACKAGES[package]
    own = [] if package == "core" else [f"-e{ROOT / path}[transformers]"]
    _install(session, _core(), *own, *_groups(path, "test"))
    session.run("pytest", f"{path}/tests", "-m", "not notorch", *session.posargs, env=ENV)


@nox.session(python="3.11")
@nox.parametrize("package", list(PACKAGES))
def notorch(session: nox.Session, package: str) -> None:
    """Install a package as a user does (no extras): static models must work, and torch must not come along."""
    path = PACKAGES[package]
    # the core with onnxruntime (still no torch): a cut graph cached by the `tests` session must run here
    target = _core("[onnx]") if package == "core" else f"{ROOT / path}"
    _install(session, target, "pytest>=8", "pytest-asyncio>=0.24")
    session.run("pytest", f"{path}/tests", "-m", "notorch", *session.posargs, env=ENV)


def _everything(session: nox.Session, *extra: str) -> None:
    """The core and all three adapters with the transformers extra, in one environment, plus `extra`."""
    _install(session, _core(), *(f"-e{ROOT / p}[transformers]" for p in list(PACKAGES.values())[1:]), *extra)


@nox.session(python="3.11")
def integration(session: nox.Session) -> None:
    """One environment with all three frameworks: the same RAG pipeline in each, dims and layers from config."""
    _everything(session, *_groups("integration_tests", "test"))
    session.run("pytest", "integration_tests", *session.posargs, env=ENV)


@nox.session(python="3.11")
def examples(session: nox.Session) -> None:
    """Run every example as a smoke test (`--smoke`: small corpus, small grid)."""
    _everything(session, "-r", str(ROOT / "examples/requirements.txt"))
    for script in sorted(Path(ROOT / "examples").glob("*.py")):
        session.run("python", str(script), "--smoke", env=ENV)


@nox.session(python="3.11", default=False)
def demo(session: nox.Session) -> None:
    """The main job: RAG in LangChain, LlamaIndex and Haystack, then the layers x dims table and out/tradeoff.png."""
    _everything(session, "-r", str(ROOT / "examples/requirements.txt"))
    session.run("python", str(ROOT / "examples/demo.py"), *session.posargs, env=ENV)


@nox.session(python="3.11", default=False)
def bench(session: nox.Session) -> None:
    """The benchmark suite: static2d side by side with its peers, ratios measured in one run."""
    _everything(session, _core("[transformers,onnx-export]"), "-r", str(ROOT / "benchmarks/requirements.txt"))
    session.run("python", str(ROOT / "benchmarks/run.py"), *session.posargs, env=ENV)
