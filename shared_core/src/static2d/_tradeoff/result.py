"""The trade-off tool's result: one `Setting` per (layers, dims) cell, the `Tradeoff` grid, its table and files."""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from static2d._model.hub import display_name
from static2d._tradeoff.data import METRIC_NAMES, Metric
from static2d._tradeoff.plot import fmt, plot

_TOLERANCES = (0.01, 0.05, 0.10)
SPREAD_TRUSTED = 0.15  # timed samples further apart than this (median vs best): the machine was busy


def machine() -> str:
    """The CPU's name, its vector extensions and the cores this process may use: `AMD EPYC (AVX2), 2 cores`."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
            if name and flags:
                break
    except OSError:
        pass
    extensions = (("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_vnni", "VNNI"), ("amx_tile", "AMX"))
    found = ", ".join(label for flag, label in extensions if flag in flags)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{name}{f' ({found})' if found else ''}, {cores} cores"


@dataclass(frozen=True)
class Setting:
    """One cell of the grid: a (layers, dims) setting and what it gives.

    Example:
        >>> s = Setting(layers=3, dims=128, quality=80.1, relative=0.95, speed=690.0)
        >>> s.bytes, s.label
        (512, 'layers=3, dims=128')
    """

    layers: int | None  # None: a static model
    dims: int
    quality: float  # x100 (Spearman or MRR@10)
    relative: float  # quality / full-size quality
    speed: float  # sentences/s at this depth

    @property
    def bytes(self) -> int:
        """Bytes of one stored float32 vector."""
        return 4 * self.dims

    @property
    def label(self) -> str:
        """`layers=3, dims=128` (or `dims=128` for a static model)."""
        return f"dims={self.dims}" if self.layers is None else f"layers={self.layers}, dims={self.dims}"


@dataclass(frozen=True)
class Tradeoff:
    """Quality, speed and size of one model over a layers x dims grid. Made by `static2d.tradeoff`.

    Example:
        >>> import static2d
        >>> result = static2d.tradeoff("path/to/model", "pairs.csv", layers=[6, 3], dims=[384, 64])  # doctest: +SKIP
        >>> print(result.table())  # doctest: +SKIP
        >>> result.cheapest(0.05)  # the cheapest settings within 5% of full quality  # doctest: +SKIP
        [Setting(layers=3, dims=384, ...), Setting(layers=6, dims=64, ...)]
    """

    model: str
    kind: Literal["static", "transformer"]
    backend: str
    data: str
    metric: Metric
    n_pairs: int
    n_texts: int
    layers: list[int | None]  # deepest first; [None] for a static model
    dims: list[int]  # largest first
    quality: dict[tuple[int | None, int], float]
    speed: dict[int | None, float]  # sentences/s per depth: the best of interleaved timed calls
    machine: str = field(default_factory=machine)
    speed_rounds: int = 1  # timed samples per depth, at least
    speed_spread: float = 0.0  # the largest (median / best - 1) of a depth's timed samples: near 0 when quiet

    @property
    def name(self) -> str:
        """The model's name: a hub id, a cached snapshot's repo id, or a local folder's model-card name."""
        return display_name(self.model)

    @property
    def speeds_trusted(self) -> bool:
        """Whether the speeds can be trusted: timed samples within 15% of each other, and fewer layers never slower."""
        ordered = [self.speed[n] for n in sorted(n for n in self.layers if n is not None)]
        inverted = any(fast < 0.97 * slow for fast, slow in itertools.pairwise(ordered))  # 3%: timing noise
        return self.speed_spread <= SPREAD_TRUSTED and not inverted

    def speed_note(self) -> str:
        """How the speeds were timed, and whether the machine was too busy to trust them."""
        note = (
            f"sentences/s: best of {self.speed_rounds}+ timed samples per depth, in interleaved rounds; samples "
            f"spread up to {self.speed_spread:.0%}"
        )
        if self.speeds_trusted:
            return note
        return (
            f"{note}. The machine was too busy to trust the speeds (samples more than {SPREAD_TRUSTED:.0%} apart, "
            "or fewer layers timed slower than more): compare them only on a quiet machine."
        )

    @property
    def full(self) -> Setting:
        """The full-size setting (most layers, most dims): the reference for `relative`."""
        return self.setting(self.layers[0], self.dims[0])

    def setting(self, layers: int | None, dims: int) -> Setting:
        """The grid cell at (layers, dims)."""
        reference = self.quality[self.layers[0], self.dims[0]]
        quality = self.quality[layers, dims]
        relative = quality / reference if reference > 0 else math.nan
        return Setting(layers, dims, quality, relative, self.speed[layers])

    @property
    def settings(self) -> list[Setting]:
        """Every cell, deepest first, then largest dims first."""
        return [self.setting(n, d) for n in self.layers for d in self.dims]

    def cheapest(self, within: float) -> list[Setting]:
        """The Pareto front of the settings within `within` (0.05 = 5%) of full quality.

        A setting is on the front when no other good-enough setting is as cheap in both compute (layers) and
        storage (dims) and cheaper in one. Sorted by layers, fewest first.
        """
        if not 0 <= within < 1:
            msg = f"within is a fraction of full quality in [0, 1), e.g. 0.05 for 5%; got {within!r}."
            raise ValueError(msg)
        reference = self.full.quality
        good = [s for s in self.settings if s.quality >= reference - within * abs(reference)]

        def cost(s: Setting) -> tuple[int, int]:
            return (0 if s.layers is None else s.layers, s.dims)

        front = [s for s in good if not any(_dominates(cost(o), cost(s)) for o in good)]
        return sorted(front, key=cost)

    def table(self) -> str:
        """The grid as text: quality per cell, sentences/s per depth, bytes per vector, and the cheapest settings."""
        width = max(8, *(len(f"{d}") + 2 for d in self.dims))
        head = "layers \\ dims" if self.kind == "transformer" else "dims"
        lines = [
            f"{self.name} on {Path(self.data).name}: {METRIC_NAMES[self.metric]}",
            f"{self.n_pairs:,} pairs, {self.n_texts:,} texts; {self.kind} model, {self.backend} backend; "
            f"{self.machine}",
            "",
            f"{head:<14}" + "".join(f"{d:>{width}}" for d in self.dims) + f"{'sentences/s':>14}",
        ]
        for n in self.layers:
            cells = "".join(f"{fmt(self.quality[n, d]):>{width}}" for d in self.dims)
            lines.append(f"{'static' if n is None else n:<14}" + cells + f"{self.speed[n]:>14,.0f}")
        lines.append(f"{'bytes/vector':<14}" + "".join(f"{4 * d:>{width},}" for d in self.dims))
        lines.append(self.speed_note())
        lines.append("")
        full = self.full
        lines.append(f"full size: {full.label}: {fmt(full.quality)}, {full.speed:,.0f} sentences/s, {full.bytes:,} B")
        for within in _TOLERANCES:
            found = "; ".join(
                f"{s.label} ({fmt(s.quality)}, {s.relative:.1%}, {s.speed:,.0f}/s, {s.bytes:,} B)"
                for s in self.cheapest(within)
            )
            lines.append(f"cheapest within {within:.0%}: {found}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-ready data: the run's description, every cell, and the cheapest settings."""
        return {
            "model": self.model,
            "kind": self.kind,
            "backend": self.backend,
            "data": self.data,
            "metric": self.metric,
            "pairs": self.n_pairs,
            "texts": self.n_texts,
            "machine": self.machine,
            "speed_rounds": self.speed_rounds,
            "speed_spread": round(self.speed_spread, 4),
            "speeds_trusted": self.speeds_trusted,
            "settings": [_setting_dict(s) for s in self.settings],
            "cheapest": {f"{w:.0%}": [_setting_dict(s) for s in self.cheapest(w)] for w in _TOLERANCES},
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the result as CSV (one row per setting) or JSON (`to_dict`), by the file's extension."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".json":
            out.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        elif out.suffix.lower() == ".csv":
            with out.open("w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(
                    ["model", "metric", "layers", "dims", "quality", "relative", "sentences_per_s", "bytes"]
                )
                for s in self.settings:
                    row = [self.model, self.metric, "" if s.layers is None else s.layers, s.dims]
                    writer.writerow([*row, f"{s.quality:.4f}", f"{s.relative:.4f}", f"{s.speed:.1f}", s.bytes])
        else:
            msg = f"save() writes .csv or .json, got {str(out)!r}. Use plot() for a .png."
            raise ValueError(msg)
        return out

    def plot(self, path: str | os.PathLike[str], *, title: str | None = None, name: str | None = None) -> Path:
        """Draw the heatmap (quality per cell, speed per depth) to a PNG; needs `static2d-core[plot]`.

        `name` titles the panel (default: `self.name`).
        """
        return plot([self], path, title=title, names=None if name is None else [name])


def _dominates(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] <= b[0] and a[1] <= b[1] and a != b


def _setting_dict(s: Setting) -> dict[str, Any]:
    return {
        "layers": s.layers,
        "dims": s.dims,
        "quality": None if math.isnan(s.quality) else round(s.quality, 4),
        "relative": None if math.isnan(s.relative) else round(s.relative, 4),
        "sentences_per_s": round(s.speed, 1),
        "bytes": s.bytes,
    }
