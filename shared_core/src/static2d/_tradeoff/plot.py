"""The trade-off tool's picture: one heatmap per model (quality per cell) beside its speed per depth (matplotlib)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from static2d._extras import install_hint
from static2d._tradeoff.data import METRIC_SHORT

FLOOR_SHARE = 0.5
"""The colour scale starts at this share of the best full-size quality among the panels (cells below it take the
floor's colour): a cell at 93% of full quality must not look like a collapse because the scale spans 65-70."""


def fmt(value: float) -> str:
    """A quality x100 with two decimals ("n/a" for NaN)."""
    return "n/a" if math.isnan(value) else f"{value:.2f}"


class _Cell(Protocol):
    @property
    def quality(self) -> float: ...


@runtime_checkable
class Grid(Protocol):
    """What the picture reads of a `static2d.Tradeoff` (read-only)."""

    @property
    def model(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def data(self) -> str: ...
    @property
    def metric(self) -> str: ...
    @property
    def layers(self) -> list[int | None]: ...
    @property
    def dims(self) -> list[int]: ...
    @property
    def quality(self) -> dict[tuple[int | None, int], float]: ...
    @property
    def speed(self) -> dict[int | None, float]: ...
    @property
    def machine(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def full(self) -> _Cell: ...


def import_pyplot() -> Any:  # noqa: ANN401 - the matplotlib.pyplot module
    try:
        import matplotlib as mpl
    except ImportError:
        msg = f"Drawing the trade-off heatmap needs matplotlib, which is not installed: {install_hint('plot')}."
        raise ImportError(msg) from None
    mpl.use("Agg")  # files only, no window
    import matplotlib.pyplot as plt

    return plt


def _count(value: float) -> str:
    """A tick label: 300, 10k, 2M."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:,.0f}M"
    return f"{value / 1000:,.0f}k" if value >= 10_000 else f"{value:,.0f}"


@dataclass(frozen=True)
class _SpeedScale:
    """One speed axis for every panel, so bar lengths compare across models: linear, or log over a wide range."""

    low: float
    high: float
    log: bool

    @classmethod
    def of(cls, results: Sequence[Grid]) -> _SpeedScale:
        speeds = [v for r in results for v in r.speed.values() if v > 0] or [1.0]
        if max(speeds) / min(speeds) > 30:  # e.g. a transformer beside a static model: 100 vs 200,000 / s
            return cls(10 ** math.floor(math.log10(min(speeds) / 2)), max(speeds) * 8, log=True)
        return cls(0.0, max(speeds) * 1.6, log=False)


def _panel(
    ax: Any,  # noqa: ANN401
    bars: Any,  # noqa: ANN401
    result: Grid,
    name: str,
    *,
    columns: list[int],
    cmap: Any,  # noqa: ANN401
    norm: Any,  # noqa: ANN401
    speed: _SpeedScale,
) -> Any:  # noqa: ANN401
    """One model's heatmap (quality per cell, "n/a" where it has no such dims) and its speed-per-depth bars."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator

    grid = np.full((len(result.layers), len(columns)), np.nan)
    for i, n in enumerate(result.layers):
        for j, d in enumerate(columns):
            grid[i, j] = result.quality.get((n, d), math.nan)
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, aspect="auto")
    ax.set_facecolor("#d9d9d9")  # n/a cells
    reference = result.full.quality
    for (i, j), value in np.ndenumerate(grid):
        if math.isnan(value):
            ax.text(j, i, "n/a", ha="center", va="center", color="#444444", fontsize=9)
            continue
        red, green, blue, _ = cmap(norm(value))
        ink = "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"  # readable on any colour
        share = f"\n{value / reference:.0%}" if reference > 0 else ""
        ax.text(j, i, f"{value:.1f}{share}", ha="center", va="center", color=ink, fontsize=8.5, fontweight="bold")
    ax.set_xticks(range(len(columns)), [f"{d}\n{4 * d:,} B" for d in columns], fontsize=8)
    ax.set_yticks(range(len(result.layers)), ["static" if n is None else str(n) for n in result.layers])
    ax.set_xlabel("dims (bytes per float32 vector)")
    ax.set_ylabel("layers" if result.kind == "transformer" else "")
    metric = METRIC_SHORT[result.metric]
    ax.set_title(f"{name}\n{metric}; % = share of full-size quality ({fmt(reference)})", fontsize=9)

    speeds = [result.speed[n] for n in result.layers]
    bars.barh(range(len(speeds)), [v - speed.low for v in speeds], left=speed.low, color="#8c8c8c", height=0.6)
    bars.set_ylim(len(speeds) - 0.5, -0.5)  # rows line up with the heatmap's
    bars.set_yticks([])
    if speed.log:
        bars.set_xscale("log")
        bars.xaxis.set_major_locator(LogLocator(base=10, numticks=4))
    else:
        bars.xaxis.set_major_locator(MaxNLocator(3))
    bars.set_xlim(speed.low, speed.high)  # the same for every model
    for i, v in enumerate(speeds):
        bars.text(v, i, f" {v:,.0f}", va="center", ha="left", fontsize=8)
    bars.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _count(v)))
    bars.set_xlabel("sentences/s" + (" (log scale)" if speed.log else ""))
    bars.set_title("speed per depth" if getattr(result, "speeds_trusted", True) else "speed (machine busy)", fontsize=9)
    bars.tick_params(axis="x", labelsize=7)
    return image


def plot(
    results: Sequence[Grid],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    names: Sequence[str] | None = None,
) -> Path:
    """Draw one or more trade-off grids side by side to a PNG: quality per cell, sentences/s per depth.

    Every panel shares one colour scale (from a stated floor, half the best full-size quality, to the best cell:
    see `colour_scale`), one dims axis and one speed axis, so models compare at a glance: a dims
    a model does not have is "n/a", and a bar's length means the same speed in every panel (on a log scale when
    the speeds span more than 30x). Each cell shows its quality and its share of that model's full-size
    quality; beside each grid, a bar per depth gives the speed in sentences/s. Each panel is titled with
    `names` (one per result), else the model's name (`Tradeoff.name`). Needs `static2d-core[plot]` (matplotlib).

    Example:
        >>> import static2d
        >>> plain = static2d.tradeoff("all-MiniLM-L6-v2", "pairs.csv")  # doctest: +SKIP
        >>> trained = static2d.tradeoff("my-2d-minilm", "pairs.csv")  # doctest: +SKIP
        >>> static2d.plot_tradeoff([plain, trained], "out/tradeoff.png", title="2D training")  # doctest: +SKIP
    """
    if isinstance(results, Grid) or not results or not all(isinstance(r, Grid) for r in results):
        msg = f"plot() takes a non-empty list of Tradeoff results (from static2d.tradeoff), got {results!r:.80}."
        raise TypeError(msg)
    if names is not None and (isinstance(names, str) or len(names) != len(results)):
        msg = f"names gives one title per result: {len(results)} expected, got {names!r:.80}."
        raise ValueError(msg)
    out = Path(path)
    if out.suffix.lower() != ".png":
        msg = f"plot() writes a .png file, got {str(out)!r}. Use Tradeoff.save() for .csv or .json."
        raise ValueError(msg)
    plt = import_pyplot()
    fig = figure(results, title=title, names=names)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def figure(results: Sequence[Grid], *, title: str | None = None, names: Sequence[str] | None = None) -> Any:  # noqa: ANN401
    """The matplotlib figure `plot` saves (checked arguments): one heatmap and speed panel per result."""
    plt = import_pyplot()
    columns = sorted({d for r in results for d in r.dims}, reverse=True)
    norm, scale = colour_scale(results)
    cmap = plt.get_cmap("viridis")
    rows = max(len(r.layers) for r in results)
    fig, axes = plt.subplots(
        1,
        2 * len(results) + 1,
        figsize=(0.9 + len(results) * (2.6 + 1.05 * len(columns)), 1.9 + 0.55 * rows),
        gridspec_kw={"width_ratios": [*([len(columns), 1.4] * len(results)), 0.12]},
        squeeze=False,
        layout="constrained",
    )
    image = None
    speed = _SpeedScale.of(results)
    titles = list(names) if names is not None else [r.name for r in results]
    for k, (result, name) in enumerate(zip(results, titles, strict=True)):
        axes_k = (axes[0, 2 * k], axes[0, 2 * k + 1])
        image = _panel(*axes_k, result, name, columns=columns, cmap=cmap, norm=norm, speed=speed)
    data = Path(results[0].data).name
    heading = title or f"Quality, speed and size per (layers, dims) on {data}"
    fig.suptitle(f"{heading}\n{results[0].machine}\n{scale}", fontsize=10)
    below = any(v < norm.vmin for r in results for v in r.quality.values() if not math.isnan(v))
    label = f"quality x100 (from {fmt(norm.vmin)})"
    fig.colorbar(image, cax=axes[0, -1], label=label, extend="min" if below else "neither")
    return fig


def colour_scale(results: Sequence[Grid]) -> tuple[Any, str]:
    """The one colour scale of every panel, and how the figure's title states it.

    It runs from a stated floor, `FLOOR_SHARE` of the best full-size quality among the results (0 where that is not
    positive), to the best quality of any cell: a cell's colour shows its distance from full quality on a scale
    that starts well below it, not the spread of one grid's values.
    """
    from matplotlib.colors import Normalize

    values = [v for r in results for v in r.quality.values() if not math.isnan(v)]
    fulls = [r.full.quality for r in results if not math.isnan(r.full.quality)]
    best = max(fulls, default=0.0)
    floor = FLOOR_SHARE * best if best > 0 else min([0.0, *values])
    top = max([*values, floor + 1.0])
    share = f" ({FLOOR_SHARE:.0%} of the best full-size quality)" if best > 0 else ""
    every = ", the same in every panel" if len(results) > 1 else ""
    text = f"colour scale from {fmt(floor)}{share} to {fmt(top)}{every}"
    return Normalize(vmin=floor, vmax=top + 1e-9), text
