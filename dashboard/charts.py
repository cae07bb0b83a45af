"""Geometry of the dashboard's server-side SVG charts (no chart library, no CDN).

Functions here turn figures into coordinates; the templates only draw them, so the page needs
no JavaScript to show a chart and tests can read the numbers from the SVG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

HEIGHT = 240  # px; the width follows the page (x positions are percentages)
TOP, BOTTOM = 12, 30
AXIS_WIDTH = 48  # px column for the y-axis labels, drawn beside the plot


def nice_step(peak: int, ticks: int = 4) -> int:
    """A round tick step (1, 2 or 5 × 10^n) so that `ticks` steps reach at least `peak`."""
    raw = max(1.0, peak / ticks)
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if multiple * magnitude >= raw:
            return int(multiple * magnitude)
    return int(10 * magnitude)


@dataclass
class Bar:
    x: float  # percent of the plot width
    width: float  # percent of the plot width
    completed_y: float
    completed_height: float
    failed_y: float
    failed_height: float
    label: str
    total: int
    completed: int
    failed: int


@dataclass
class TrendChart:
    height: int = HEIGHT
    axis_width: int = AXIS_WIDTH
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM
    plot_height: int = HEIGHT - BOTTOM - TOP
    center_y: float = (TOP + HEIGHT - BOTTOM) / 2
    label_y: int = HEIGHT - BOTTOM + 18
    bars: list[Bar] = field(default_factory=list)
    y_ticks: list[dict[str, Any]] = field(default_factory=list)
    x_labels: list[dict[str, Any]] = field(default_factory=list)
    empty: bool = True


def trend_chart(series: list[dict[str, Any]]) -> TrendChart:
    """Stacked bars per day: completed (bottom) and failed (top), with round y-axis ticks.

    Vertical positions are pixels and horizontal ones percentages, so the chart stretches to
    any width while its text keeps its size (a scaled viewBox would shrink it on phones).
    """
    chart = TrendChart()
    if not series:
        return chart
    peak = max(day["totalExecutions"] for day in series)
    chart.empty = peak == 0
    step = nice_step(peak)
    scale = chart.plot_height / (step * 4)
    for tick in range(5):
        value = step * tick
        chart.y_ticks.append({"y": round(chart.plot_bottom - value * scale, 1), "label": f"{value:,}"})

    slot = 100 / len(series)
    bar_width = slot * 0.7
    label_every = max(1, math.ceil(len(series) / 8))
    for index, day in enumerate(series):
        x = index * slot + (slot - bar_width) / 2
        completed_height = day["completed"] * scale
        failed_height = day["failed"] * scale
        completed_y = chart.plot_bottom - completed_height
        chart.bars.append(
            Bar(
                x=round(x, 3),
                width=round(bar_width, 3),
                completed_y=round(completed_y, 2),
                completed_height=round(completed_height, 2),
                failed_y=round(completed_y - failed_height, 2),
                failed_height=round(failed_height, 2),
                label=day["date"],
                total=day["totalExecutions"],
                completed=day["completed"],
                failed=day["failed"],
            )
        )
        # Label every n-th day, counted back from today so the latest day is always labelled;
        # every other label is "minor" and hidden on narrow screens.
        back = len(series) - 1 - index
        if back % label_every == 0:
            chart.x_labels.append(
                {
                    "x": round(x + bar_width / 2, 3),
                    "label": date.fromisoformat(day["date"]).strftime("%m-%d"),
                    "minor": (back // label_every) % 2 == 1,
                }
            )
    return chart


def donut(percent: float, radius: float = 42) -> dict[str, float]:
    """Stroke lengths for a ring showing `percent` (0..100) of its circumference."""
    circumference = 2 * math.pi * radius
    filled = circumference * max(0.0, min(percent, 100.0)) / 100
    return {"radius": radius, "circumference": round(circumference, 2), "filled": round(filled, 2)}


def share_bars(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Each item with `share`: its `key` as a percentage of the largest one (for CSS bar widths)."""
    peak = max((float(item[key]) for item in items), default=0.0)
    return [{**item, "share": round(float(item[key]) * 100 / peak, 1) if peak else 0.0} for item in items]
