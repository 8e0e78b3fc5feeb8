"""Small SVG charts drawn on the server: no JavaScript, nothing from a CDN,
nothing a Content Security Policy would block."""

from __future__ import annotations

WIDTH, HEIGHT, PAD = 560, 160, 28


MARKERS = ("circle", "square", "diamond", "triangle")  # told apart by shape, not only colour
LEFT = 48  # room for the y axis' tick labels


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    return [low + (high - low) * i / (count - 1) for i in range(count)]


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
    top = max(values, default=0) or 1
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
    every = max(1, -(-len(labels) // 6))
    x_ticks = [
        {"x": round(LEFT + i * step + step / 2, 1), "label": label}
        for i, label in enumerate(labels)
        if i % every == 0
    ]
    y_ticks = [
        {"y": round(bottom - (HEIGHT - 2 * PAD) * v / top, 1), "label": f"{v:g}"}
        for v in _ticks(0.0, float(top))
    ]
    return {
        **_frame(),
        "bars": bars,
        "max": top,
        "x_ticks": x_ticks,
        "y_ticks": y_ticks,
        "rows": [{"label": b["label"], "value": b["value"]} for b in bars],
    }


def line_chart(
    series: dict[str, list[float | None]], labels: list[str], *, decimals: int = 3
) -> dict:
    """Lines over shared x labels, with what an accessible chart needs: y
    ticks, up to six x ticks, a dash pattern and a marker per series, and the
    figures as table rows (label, one value per series)."""
    values = [v for points in series.values() for v in points if v is not None]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if high - low < 1e-9:  # one value: a band around it, not around zero
        pad = max(abs(low) * 0.1, 0.01)
        low, high = low - pad, high + pad
    bottom = HEIGHT - PAD
    step = (WIDTH - LEFT - PAD) / max(len(labels) - 1, 1)

    def x(i: int) -> float:
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
    every = max(1, -(-len(labels) // 6))
    x_ticks = [{"x": x(i), "label": label} for i, label in enumerate(labels) if i % every == 0]
    y_ticks = [{"y": y(v), "label": f"{v:.{decimals}f}"} for v in _ticks(low, high)]
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
