"""Haystack writes ~/.haystack when it is imported with its telemetry on (the README says so and how to turn it
off); the adapter used with telemetry off writes nothing there, and these tests never write into the real home."""

import os
import subprocess
import sys
from pathlib import Path

from conftest import REAL_HOME

PIPELINE = """
import sys
from haystack import Document, Pipeline
from haystack_integrations.components.embedders.static2d import Static2DDocumentEmbedder, Static2DTextEmbedder

pipe = Pipeline()
pipe.add_component("docs", Static2DDocumentEmbedder(sys.argv[1], dims=16))
pipe.add_component("text", Static2DTextEmbedder(sys.argv[1], dims=16))
out = pipe.run({"docs": {"documents": [Document(content="a panda eats bamboo")]}, "text": {"text": "panda"}})
assert len(out["text"]["embedding"]) == 16
"""


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def _run(code: str, home: Path, *args: str) -> None:
    env = {**os.environ, "HOME": str(home), "HAYSTACK_TELEMETRY_ENABLED": "False"}
    subprocess.run([sys.executable, "-c", code, *args], env=env, check=True, timeout=300)


def test_the_adapter_with_telemetry_off_writes_nothing_into_the_home_folder(tmp_path, tiny_static):
    real = Path(REAL_HOME) / ".haystack"
    before = _listing(real)
    home = tmp_path / "home"
    home.mkdir()
    _run(PIPELINE, home, str(tiny_static))
    assert _listing(home) == []
    assert _listing(real) == before


def test_haystack_with_telemetry_on_writes_its_config_into_the_home_folder(tmp_path, monkeypatch):
    """What the README warns of: with telemetry on, importing haystack makes a `Telemetry()`, which writes
    ~/.haystack/config.yaml (made here in this process, its path moved into `tmp_path`; no event is sent)."""
    from haystack.telemetry import _telemetry

    assert Path.home() / ".haystack" / "config.yaml" == _telemetry.CONFIG_PATH
    config = tmp_path / "home" / ".haystack" / "config.yaml"
    monkeypatch.setattr(_telemetry, "CONFIG_PATH", config)
    monkeypatch.setattr(_telemetry, "collect_system_specs", dict)
    _telemetry.Telemetry()
    assert config.is_file()


def test_these_tests_run_with_a_home_folder_of_their_own():
    from haystack.telemetry import _telemetry

    assert Path.home() != Path(REAL_HOME)
    assert os.environ["HAYSTACK_TELEMETRY_ENABLED"] == "False"
    assert _telemetry.telemetry is None
