"""The static2d command line: `python -m static2d tradeoff MODEL --data FILE`.

Example:
    python -m static2d tradeoff path/to/model --data pairs.csv --layers 6 3 1 --dims 384 128 32 --png grid.png
"""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path
from typing import Literal, Union, get_args, get_origin

from static2d._options import Option
from static2d._peers import unknown_option_message
from static2d._tradeoff.plot import import_pyplot, plot
from static2d._tradeoff.run import TRADEOFF_OPTIONS, check_output, tradeoff

PROG = "python -m static2d"


def flag(name: str) -> str:
    """An option's command-line flag: `batch_size` is `--batch-size`."""
    return f"--{name.replace('_', '-')}"


def _types(annotation: object) -> tuple[object, ...]:
    """The members of a union (`int | None` is (int, NoneType)); anything else is itself."""
    if isinstance(annotation, types.UnionType) or get_origin(annotation) is Union:
        return tuple(a for member in get_args(annotation) for a in _types(member))
    return (annotation,)


def add_option(parser: argparse.ArgumentParser, option: Option) -> None:
    """Add one option of the registry to `parser`: its flag, type, choices (a Literal's values), default and doc.

    A flag (bool, default False) is a switch; a Literal takes one of its values; an int or str option (None: not
    given) takes one value. Its help is the option's own doc, so no help text can say other than the option does.
    """
    members = [m for m in _types(option.annotation) if m is not type(None)]
    helptext = option.doc.replace("%", "%%")
    if option.default is not None and option.default is not False:
        helptext += f" Default: {option.default}."
    if members == [bool] and option.default is False:
        parser.add_argument(flag(option.name), action="store_true", help=helptext)
        return
    choices = [value for m in members if get_origin(m) is Literal for value in get_args(m)]
    if choices:
        parser.add_argument(flag(option.name), choices=choices, default=option.default, help=helptext)
    elif int in members:
        parser.add_argument(flag(option.name), type=int, default=option.default, metavar="N", help=helptext)
    elif str in members:
        parser.add_argument(flag(option.name), default=option.default, help=helptext)
    else:  # a new kind of option: refused here, so that the registry and the command line never differ unseen
        msg = f"the command line cannot take option {option.name!r} of type {option.type}"
        raise TypeError(msg)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="static2d tools")
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
    sub.add_argument("--limit", type=int, help="use only the first N pairs (quicker, rougher)")
    sub.add_argument("--csv", type=Path, help="write one row per setting to this .csv")
    sub.add_argument("--json", type=Path, help="write everything (and the cheapest settings) to this .json")
    sub.add_argument("--png", type=Path, help="draw the heatmap to this .png (needs static2d-core[plot])")
    sub.add_argument("--quiet", action="store_true", help="no progress bars")
    # Every option of static2d.load that tradeoff takes, from the registry (static2d.OPTIONS).
    options = sub.add_argument_group(
        "options of static2d.load",
        'Each is the option of static2d.load of that name, as its doc says ("None": the flag left out).',
    )
    for option in TRADEOFF_OPTIONS:
        add_option(options, option)  # type: ignore[arg-type]  # an argument group takes arguments as a parser does
    return parser


def _parse(argv: list[str] | None) -> argparse.Namespace:
    """The arguments; an unknown flag is refused with the subcommand's usage and the closest flag it takes."""
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        sub: argparse.ArgumentParser = commands.choices[args.command]
        message = f"unrecognized arguments: {' '.join(unknown)}"
        flags = [a.dest for a in sub._actions if a.option_strings and a.dest != "help"]
        given = next((u.split("=", 1)[0] for u in unknown if u.startswith("--")), None)
        if given is not None:
            message += ". " + unknown_option_message(f"{PROG} {args.command}", given, flags, as_flags=True)
        sub.error(message)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad input, with the reason on stderr).

    Example:
        >>> from static2d.__main__ import main
        >>> main(["tradeoff", "path/to/model", "--data", "pairs.csv", "--png", "grid.png"])  # doctest: +SKIP
        0
    """
    args = _parse(argv)
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
            limit=args.limit,
            show_progress_bar=not args.quiet,
            **{option.name: getattr(args, option.name) for option in TRADEOFF_OPTIONS},
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
