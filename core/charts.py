"""Small SVG charts drawn on the server: no JavaScript, nothing from a CDN,
nothing a Content Security Policy would block."""

from __future__ import annotations

import math
from itertools import pairwise

WIDTH, HEIGHT, PAD = 560, 160, 28


MARKERS = ("circle", "square", "diamond", "triangle")  # told apart by shape, not only colour
LEFT = 48  # room for the y axis' tick labels


CHAR_WIDTH = 6.2  # the tick labels' average glyph width at 11px, in viewBox units


def nice_ticks(low: float, high: float, count: int = 4) -> tuple[list[float], int]:
    """About ``count`` round tick values (1, 2, 2.5 or 5 times a power of
    ten) from at or below ``low`` to at or above ``high``, and the decimals
    that tell every one of them apart."""
    if not math.isfinite(low) or not math.isfinite(high):
        low, high = 0.0, 1.0
    if high - low < 1e-12:
        high = low + 1.0
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(f * power for f in (1, 2, 2.5, 5, 10) if f * power >= raw - 1e-12)
    first = math.floor(low / step + 1e-9) * step
    ticks = []
    value = first
    while value < high + step * 0.5 and len(ticks) < 12:
        ticks.append(round(value, 12))
        value = first + step * len(ticks)
    if ticks[-1] < high - 1e-12:
        ticks.append(round(value, 12))
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    if step * 10**decimals % 1 > 1e-9:  # 2.5 x 10^k needs one more
        decimals += 1
    return ticks, decimals


def _x_labels(positions: list[float], labels: list[str]) -> list[dict]:
    """Every ``every``-th label, the smallest step at which at most six fit
    side by side without touching, each kept inside the chart (the last one
    is not cut at the right edge)."""
    for every in range(max(1, -(-len(labels) // 6)), len(labels) + 1):
        ticks = []
        for i in range(0, len(labels), every):
            half = len(labels[i]) * CHAR_WIDTH / 2
            x = min(max(positions[i], half + 1), WIDTH - half - 1)
            ticks.append({"x": round(x, 1), "label": labels[i], "half": half})
        if all(b["x"] - b["half"] - (a["x"] + a["half"]) >= 4 for a, b in pairwise(ticks)):
            break
    return [{"x": tick["x"], "label": tick["label"]} for tick in ticks] if labels else []


def _frame() -> dict:
    """The plot's box, the same for every chart."""
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - PAD,
        "top": PAD,
        "baseline": HEIGHT - PAD,
    }


def bar_chart(values: list[float], labels: list[str]) -> dict:
    """Bars over labels, with y ticks from 0 to the top, up to six x labels,
    and the figures as table rows for readers who cannot see the bars."""
    ticks, decimals = nice_ticks(0.0, float(max(values, default=0) or 1))
    top = ticks[-1]
    bottom = HEIGHT - PAD
    step = (WIDTH - LEFT - PAD) / max(len(values), 1)
    bars = []
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        height = (HEIGHT - 2 * PAD) * value / top
        bars.append(
            {
                "x": round(LEFT + i * step + step * 0.1, 1),
                "y": round(bottom - height, 1),
                "width": round(step * 0.8, 1),
                "height": round(height, 1),
                "value": value,
                "label": label,
            }
        )
    x_ticks = _x_labels([LEFT + i * step + step / 2 for i in range(len(labels))], labels)
    y_ticks = [
        {"y": round(bottom - (HEIGHT - 2 * PAD) * v / top, 1), "label": f"{v:.{decimals}f}"}
        for v in ticks
    ]
    return {
        **_frame(),
        "bars": bars,
        "max": top,
        "x_ticks": x_ticks,
        "y_ticks": y_ticks,
        "rows": [{"label": b["label"], "value": b["value"]} for b in bars],
    }


def line_chart(series: dict[str, list[float | None]], labels: list[str]) -> dict:
    """Lines over shared x labels, with what an accessible chart needs: y
    ticks, up to six x ticks, a dash pattern and a marker per series, and the
    figures as table rows (label, one value per series)."""
    values = [v for points in series.values() for v in points if v is not None]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if high - low < 1e-9:  # one value: a band around it, not around zero
        pad = max(abs(low) * 0.1, 0.01)
        low, high = low - pad, high + pad
    ticks, tick_decimals = nice_ticks(low, high)
    low, high = ticks[0], ticks[-1]
    bottom = HEIGHT - PAD
    step = (WIDTH - LEFT - PAD) / max(len(labels) - 1, 1)

    def x(i: int) -> float:
        if len(labels) == 1:  # a single point in the middle, not on the axis
            return round(LEFT + (WIDTH - LEFT - PAD) / 2, 1)
        return round(LEFT + i * step, 1)

    def y(value: float) -> float:
        return round(bottom - (HEIGHT - 2 * PAD) * (value - low) / (high - low), 1)

    lines = []
    for index, (name, points) in enumerate(series.items()):
        coords = [(x(i), y(v)) for i, v in enumerate(points) if v is not None]
        lines.append(
            {
                "name": name,
                "number": index % 4 + 1,
                "marker": MARKERS[index % len(MARKERS)],
                "points": " ".join(f"{px},{py}" for px, py in coords),
                "dots": coords,
                "last": next((v for v in reversed(points) if v is not None), None),
            }
        )
    x_ticks = _x_labels([x(i) for i in range(len(labels))], labels)
    y_ticks = [{"y": y(v), "label": f"{v:.{tick_decimals}f}"} for v in ticks]
    rows = [
        {
            "label": label,
            "values": [points[i] if i < len(points) else None for points in series.values()],
        }
        for i, label in enumerate(labels)
    ]
    return {
        **_frame(),
        "lines": lines,
        "low": low,
        "high": high,
        "labels": labels,
        "x_ticks": x_ticks,
        "y_ticks": y_ticks,
        "names": list(series),
        "rows": rows,
    }
