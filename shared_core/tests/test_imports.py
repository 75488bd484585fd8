"""The public API is the documented one (docs/api.md), and importing it pulls in no heavy dependency."""

from __future__ import annotations

import subprocess
import sys

import static2d
import static2d.adapters
from static2d_testkit.api import check_public_api


def test_all_is_the_documented_api() -> None:
    check_public_api(static2d, "static2d")


def test_the_adapter_plumbing_is_its_own_documented_namespace() -> None:
    check_public_api(static2d.adapters, "static2d.adapters")


def test_import_pulls_no_torch_onnxruntime_or_transformers() -> None:
    heavy = "('torch', 'onnxruntime', 'transformers', 'sentence_transformers')"
    code = f"import sys, static2d, static2d.adapters; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
