"""The layers x dims trade-off of all-MiniLM-L6-v2 (and of its 2D-trained copy, once built), and of the static model.

    python examples/tradeoff.py                      # STS-B dev, every depth x dims 384..32 -> out/tradeoff.png
    python examples/tradeoff.py --layers 6 3 1 --dims 384 64 --out my.png
    python examples/tradeoff.py --model path/to/your-model --model minilm   # your models instead, side by side

A thin call of the trade-off tool, `static2d.tradeoff` (also `python -m static2d tradeoff MODEL --data FILE`):
quality is the Spearman x100 of cosine similarity against the gold scores of STS-B dev (data/sts-dev.csv), every
text embedded once for the whole grid; speed is sentences/s, the best of interleaved timed calls per depth (the
table says when the machine was too busy to trust it); size is bytes per stored float32 vector. The 2D-trained
model (examples/make_2d_model.py) is drawn beside the plain one when it is built.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import make_2d_model
import static2d
from models import minilm, model_path, static_model

DATA = Path(__file__).resolve().parents[1] / "data"
STATIC_DIMS = 256  # the distilled static model's full size


def default_models(layers: list[int] | None) -> list[tuple[str, str | Path, list[int] | None]]:
    """MiniLM, its 2D-trained copy (if built), and the static model (dims only)."""
    models: list[tuple[str, str | Path, list[int] | None]] = [("all-MiniLM-L6-v2", minilm(), layers)]
    trained = make_2d_model.model_dir()
    if (trained / "modules.json").is_file():
        models.append(("all-MiniLM-L6-v2, 2D-trained", trained, layers))
    else:
        print(f"(no 2D-trained model at {trained}: `nox -s demo -- --train-2d` builds it once, see docs/usage.md)")
    models.append(("static (distilled)", static_model(), None))
    return models


def run(
    layers: list[int] | None,
    dims: list[int] | None,
    limit: int | None,
    backend: str,
    models: list[str] | None = None,
) -> list[tuple[str, static2d.Tradeoff]]:
    """The grid of each model: `models` (names or paths, as `--model` takes them), else the default three."""
    if models:  # your own: each at its own depths and dims unless --layers / --dims say otherwise
        chosen = [(name, model_path(name), None if name == "static" else layers) for name in models]
    else:
        chosen = default_models(layers)
    results = []
    for name, path, depths in chosen:
        began = time.perf_counter()
        print(f"\n--- {name}: every text once for the whole grid, then the depths timed, interleaved", flush=True)
        sizes = dims if dims is None or depths is not None else [min(d, STATIC_DIMS) for d in dims]
        result = static2d.tradeoff(path, DATA / "sts-dev.csv", layers=depths, dims=sizes, limit=limit, backend=backend)
        print(result.table())
        print(f"({name}: {time.perf_counter() - began:.0f} s)")
        results.append((name, result))
    return results


def main(argv: list[str] | None = None) -> list[static2d.Tradeoff]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        action="append",
        help='a model to draw (repeat for several): "static", "minilm", or a model folder / hub id (default: MiniLM, '
        "its 2D-trained copy once built, and the static model)",
    )
    parser.add_argument("--layers", type=int, nargs="+", help="transformer depths (default: all; MiniLM has six)")
    parser.add_argument("--dims", type=int, nargs="+", help="dims kept (default: 384 256 128 64 32)")
    parser.add_argument("--backend", choices=["auto", "torch", "onnx"], default="auto", help="MiniLM runtime")
    parser.add_argument("--out", type=Path, help="heatmap path (default out/tradeoff.png; --smoke: -smoke.png)")
    parser.add_argument("--smoke", action="store_true", help="quick run: layers 6 and 1, dims 384 and 32, 100 pairs")
    args = parser.parse_args(argv)
    layers, dims, limit = ([6, 1], [384, 32], 100) if args.smoke else (args.layers, args.dims, None)
    if args.model:  # models of your own: the grid they have, unless you chose one
        layers, dims = args.layers, args.dims
    results = run(layers, dims, limit, args.backend, args.model)
    out = args.out or Path("out/tradeoff-smoke.png" if args.smoke else "out/tradeoff.png")
    title = "STS-B dev: quality (Spearman x100, and % of full-size quality), speed and size per (layers, dims)"
    names, grids = [name for name, _ in results], [grid for _, grid in results]
    print(f"\nheatmap written to {static2d.plot_tradeoff(grids, out, title=title, names=names)}")
    return grids


if __name__ == "__main__":
    main()
