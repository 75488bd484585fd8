"""Check the wheels and sdists that `nox -s build` made: one of each per published package, metadata complete.

Usage: python tools/check_dists.py DIST_DIR. Exits non-zero, naming every problem, if any check fails.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

# Published distribution -> its import package's folder inside the wheel (py.typed must be there).
PUBLISHED = {
    "static2d_core": "static2d",
    "static2d_langchain": "langchain_static2d",
    "static2d_llamaindex": "llama_index/embeddings/static2d",
    "static2d_haystack": "haystack_integrations/components/embedders/static2d",
}
# Nothing a user installs may hold test-only code.
TEST_ONLY = ("static2d/testing.py", "static2d_testkit", "/tests/", "conftest.py", "/tests_ray/")
# The core's compiled static kernel (setup.py): optional at install, required in a published wheel.
KERNEL = "static2d/_static/_kernel."
REQUIRED = ("Name", "Version", "Summary", "Requires-Python", "Description-Content-Type")


def check_wheel(path: Path, folder: str) -> list[str]:
    """Problems with one wheel: its METADATA, its py.typed, any test-only file."""
    problems = []
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(wheel.read(metadata_name).decode())
    problems += [f"{path.name}: METADATA has no {field}" for field in REQUIRED if not metadata.get(field)]
    if not (metadata.get("License-Expression") or metadata.get("License")):
        problems.append(f"{path.name}: METADATA names no licence (License-Expression)")
    if not metadata.get_all("Classifier"):
        problems.append(f"{path.name}: METADATA has no Classifier")
    if len(metadata.get_payload() or "") < 200:
        problems.append(f"{path.name}: the long description (README) is missing or a stub")
    if f"{folder}/py.typed" not in names:
        problems.append(f"{path.name}: no {folder}/py.typed (the package would not count as typed)")
    if not any(n.startswith(f"{folder}/") and n.endswith(".py") for n in names):
        problems.append(f"{path.name}: no module under {folder}/")
    problems += [f"{path.name}: ships test-only file {n}" for n in names if any(t in f"/{n}" for t in TEST_ONLY)]
    if folder == "static2d" and not any(n.startswith(KERNEL) and n.endswith((".so", ".pyd")) for n in names):
        problems.append(f"{path.name}: no compiled kernel ({KERNEL}*): built where no C compiler was found")
    return problems


def check_sdist(path: Path) -> list[str]:
    """Problems with one sdist: it must hold pyproject.toml, README.md, PKG-INFO and src/, and no tests."""
    with tarfile.open(path) as sdist:
        names = [n.split("/", 1)[1] for n in sdist.getnames() if "/" in n]
    problems = [f"{path.name}: no {n}" for n in ("pyproject.toml", "README.md", "PKG-INFO") if n not in names]
    if not any(n.startswith("src/") for n in names):
        problems.append(f"{path.name}: no src/")
    return problems


def main(dist: Path) -> int:
    """Check every published package's wheel and sdist in `dist`; print what is wrong; 0 if nothing is."""
    problems = []
    for name, folder in PUBLISHED.items():
        wheels = sorted(dist.glob(f"{name}-*.whl"))
        sdists = sorted(dist.glob(f"{name}-*.tar.gz"))
        if len(wheels) != 1 or len(sdists) != 1:
            problems.append(f"{name}: expected one wheel and one sdist in {dist}, found {wheels + sdists}")
            continue
        problems += check_wheel(wheels[0], folder) + check_sdist(sdists[0])
    built = [p.name for p in dist.iterdir() if p.name.endswith((".whl", ".tar.gz"))]
    extra = [name for name in built if not name.startswith(tuple(PUBLISHED))]
    problems += [f"{name}: not a published package, must not be built" for name in extra]
    for problem in problems:
        print(problem)
    print(f"{len(PUBLISHED)} packages checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
