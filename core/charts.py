"""Small SVG charts drawn on the server: no JavaScript, nothing from a CDN,
nothing a Content Security Policy would block."""

from __future__ import annotations

WIDTH, HEIGHT, PAD = 560, 160, 28


def bar_chart(values: list[float], labels: list[str]) -> dict:
    top = max(values, default=0) or 1
    step = (WIDTH - 2 * PAD) / max(len(values), 1)
    bars = []
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        height = (HEIGHT - 2 * PAD) * value / top
        bars.append(
            {
                "x": round(PAD + i * step + step * 0.1, 1),
                "y": round(HEIGHT - PAD - height, 1),
                "width": round(step * 0.8, 1),
                "height": round(height, 1),
                "value": value,
                "label": label,
            }
        )
    return {"width": WIDTH, "height": HEIGHT, "bars": bars, "top": top, "baseline": HEIGHT - PAD}


def line_chart(series: dict[str, list[float | None]], labels: list[str]) -> dict:
    values = [v for points in series.values() for v in points if v is not None]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    step = (WIDTH - 2 * PAD) / max(len(labels) - 1, 1)

    def y(value: float) -> float:
        return round(HEIGHT - PAD - (HEIGHT - 2 * PAD) * (value - low) / (high - low), 1)

    lines = []
    for name, points in series.items():
        coords = [(round(PAD + i * step, 1), y(v)) for i, v in enumerate(points) if v is not None]
        lines.append(
            {
                "name": name,
                "points": " ".join(f"{x},{yy}" for x, yy in coords),
                "dots": coords,
                "last": points[-1] if points else None,
            }
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "lines": lines,
        "low": low,
        "high": high,
        "labels": labels,
        "baseline": HEIGHT - PAD,
    }
