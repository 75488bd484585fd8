"""The README's RAG snippet runs as written, with the hub model swapped for the local distilled one."""

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"


@pytest.mark.slow
def test_readme_rag_snippet_runs(distilled, capsys):
    snippet = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)[0]
    hub_line = 'MODEL, DIMS = "sentence-transformers/static-retrieval-mrl-en-v1", 256'
    assert hub_line in snippet
    exec(snippet.replace(hub_line, f"MODEL, DIMS = {str(distilled)!r}, 128"), {})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("Giant pandas eat bamboo for most of the day.")
    assert float(lines[0].split()[0]) > float(lines[1].split()[0])
