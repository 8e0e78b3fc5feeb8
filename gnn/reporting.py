"""The metrics of a version as rows for people: the model page, the admin
and the commands all show the same table."""

from __future__ import annotations

FLOORS = (
    ("popularity", "Popularity"),
    ("bias", "User + item bias"),
    ("group_popularity", "Popularity in demographic group"),
)

# (protocol, metric, label, lower_is_better)
ROWS = (
    ("warm", "rmse", "Rating error (RMSE), members in training", True),
    ("warm", "precision_at_10", "Precision@10, members in training", False),
    ("warm", "recall_at_10", "Recall@10, members in training", False),
    ("warm", "ndcg_at_10", "NDCG@10, members in training", False),
    ("cold", "precision_at_10", "Precision@10, new members (profile only)", False),
    ("cold", "ndcg_at_10", "NDCG@10, new members (profile only)", False),
    ("first_5", "precision_at_10", "Precision@10, new members after 5 ratings", False),
    ("first_5", "ndcg_at_10", "NDCG@10, new members after 5 ratings", False),
    ("first_5", "rmse", "Rating error (RMSE), new members after 5 ratings", True),
)


def _fmt(value) -> str | None:
    return f"{value:.3f}" if isinstance(value, int | float) else None


def metric_rows(metrics: dict) -> list[dict]:
    rows = []
    for protocol, metric, label, lower in ROWS:
        block = metrics.get(protocol)
        if not block:
            continue
        rows.append(
            {
                "label": label,
                "model": _fmt(block.get("model", {}).get(metric)),
                "floors": [_fmt(block.get(floor, {}).get(metric)) for floor, _ in FLOORS],
                "lower_is_better": lower,
            }
        )
    return rows


def floor_names() -> list[str]:
    return [label for _, label in FLOORS]


def metric_table_text(metrics: dict) -> str:
    """The same table as plain text, for commands."""
    rows = metric_rows(metrics)
    header = ["measure", "model", *floor_names()]
    body = [[r["label"], r["model"] or "-", *[v or "-" for v in r["floors"]]] for r in rows]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(
            str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i])
            for i, c in enumerate(line)
        )
        for line in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
