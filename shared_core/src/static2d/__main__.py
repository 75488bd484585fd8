"""The static2d command line: `python -m static2d tradeoff MODEL --data FILE`.

Example:
    python -m static2d tradeoff path/to/model --data pairs.csv --layers 6 3 1 --dims 384 128 32 --png grid.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from static2d._tradeoff.plot import import_pyplot, plot
from static2d._tradeoff.run import check_output, tradeoff


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m static2d", description="static2d tools")
    commands = parser.add_subparsers(dest="command", required=True)
    sub = commands.add_parser(
        "tradeoff",
        help="quality, speed and size of a model over a layers x dims grid, on your own pairs",
        description=(
            "Measure every (layers, dims) setting of MODEL on your own data: quality (Spearman of scored pairs, "
            "or MRR@10 of retrieval pairs), sentences/s per depth, bytes per stored vector, and the cheapest "
            "settings within 1%, 5% and 10% of full quality."
        ),
    )
    sub.add_argument("model", help="a local model directory or a hub id, as for static2d.load")
    sub.add_argument(
        "--data",
        required=True,
        type=Path,
        help="a .csv/.tsv/.jsonl/.json file: sentence1,sentence2,score (or text1,text2,score) scored pairs, "
        "or query,answer (or question,answer_id with --corpus) retrieval pairs",
    )
    sub.add_argument("--corpus", type=Path, help="retrieval: more documents (records with text, and id)")
    sub.add_argument("--layers", type=int, nargs="+", help="depths to measure (default: every depth up to 12)")
    sub.add_argument("--dims", type=int, nargs="+", help="sizes to measure (default: full, and powers of 2 from 32)")
    sub.add_argument(
        "--backend",
        choices=["auto", "torch", "onnx"],
        default="auto",
        help="what runs a transformer, as for static2d.load (default: auto, ONNX Runtime where it can)",
    )
    sub.add_argument("--batch-size", type=int, help="texts per batch (default: static2d.load's, 32 for transformers)")
    sub.add_argument("--device", help="torch device for a transformer (default cpu)")
    sub.add_argument("--limit", type=int, help="use only the first N pairs (quicker, rougher)")
    sub.add_argument("--csv", type=Path, help="write one row per setting to this .csv")
    sub.add_argument("--json", type=Path, help="write everything (and the cheapest settings) to this .json")
    sub.add_argument("--png", type=Path, help="draw the heatmap to this .png (needs static2d-core[plot])")
    sub.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad input, with the reason on stderr).

    Example:
        >>> from static2d.__main__ import main
        >>> main(["tradeoff", "path/to/model", "--data", "pairs.csv", "--png", "grid.png"])  # doctest: +SKIP
        0
    """
    args = _parser().parse_args(argv)
    try:
        # Wrong output paths fail now, not after the measurements.
        for path, suffix in ((args.csv, ".csv"), (args.json, ".json"), (args.png, ".png")):
            if path is not None and path.suffix.lower() != suffix:
                msg = f"--{suffix[1:]} takes a path ending in {suffix}, got {str(path)!r}."
                raise ValueError(msg)
            if path is not None:
                check_output(path, f"--{suffix[1:]}")
        if args.png is not None:
            import_pyplot()
        result = tradeoff(
            args.model,
            args.data,
            layers=args.layers,
            dims=args.dims,
            corpus=args.corpus,
            backend=args.backend,
            batch_size=args.batch_size,
            device=args.device,
            limit=args.limit,
            show_progress_bar=not args.quiet,
        )
        print(result.table())
        for path in (args.csv, args.json):
            if path is not None:
                print(f"written: {result.save(path)}")
        if args.png is not None:
            print(f"written: {plot([result], args.png)}")
    except (TypeError, ValueError, OSError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
