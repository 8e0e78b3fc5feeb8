"""The metrics of a version as rows for people: the model page, the admin
and the commands all show the same table."""

from __future__ import annotations

FLOORS = (
    ("popularity", "Popularity"),
    ("bias", "User + item bias"),
    ("group_popularity", "Popularity in demographic group"),
    ("ease", "EASE"),
)

PROTOCOLS = (
    ("warm", "members in training"),
    ("cold", "new members (profile only)"),
    ("first_5", "new members after their 5 first ratings"),
    ("random_5", "new members after 5 random ratings"),
)

# (metric, label, lower_is_better, protocols it is shown for)
METRICS = (
    ("rmse", "Rating error (RMSE)", True, ("warm", "first_5", "random_5")),
    ("precision_at_10", "Precision@10", False, None),
    ("recall_at_10", "Recall@10", False, ("warm",)),
    ("ndcg_at_10", "NDCG@10", False, None),
    ("coverage_at_10", "Coverage@10 (share of the catalogue)", False, None),
    ("mean_popularity_rank", "Mean popularity rank (1 = most rated)", False, None),
    ("personalisation", "Personalisation (1 − overlap of two lists)", False, None),
)

# (protocol, metric, label, lower_is_better), protocol by protocol
ROWS = tuple(
    (protocol, metric, f"{label}, {who}", lower)
    for protocol, who in PROTOCOLS
    for metric, label, lower, only in METRICS
    if only is None or protocol in only
)


def _fmt(block: dict, metric: str) -> str | None:
    value = block.get(metric)
    if not isinstance(value, int | float):
        return None
    text = f"{value:.1f}" if metric == "mean_popularity_rank" else f"{value:.3f}"
    spread = block.get(f"{metric}_sd")
    return f"{text} ± {spread:.3f}" if isinstance(spread, int | float) and spread else text


def metric_rows(metrics: dict) -> list[dict]:
    rows = []
    for protocol, metric, label, lower in ROWS:
        block = metrics.get(protocol)
        if not block or _fmt(block.get("model", {}), metric) is None:
            continue
        rows.append(
            {
                "label": label,
                "model": _fmt(block.get("model", {}), metric),
                "floors": [_fmt(block.get(floor, {}), metric) for floor, _ in FLOORS],
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


def paired_text(metrics: dict) -> str:
    """Model minus each floor, NDCG@10, run by run (holdouts or seeds)."""
    lines = []
    for protocol, who in PROTOCOLS:
        paired = (metrics.get(protocol) or {}).get("paired")
        if not paired:
            continue
        gaps = ", ".join(
            f"{label} {gap['ndcg_at_10_mean']:+.3f} ± {gap['ndcg_at_10_sd']:.3f}"
            for floor, label in FLOORS
            if (gap := paired.get(floor))
        )
        lines.append(f"model − floor, NDCG@10, {who}: {gaps}")
    return "\n".join(lines)


def onboarding_text(result: dict) -> str:
    """The onboarding measure as plain text: NDCG@10 on the test half, pages
    and ratings per method, and each against the popular panel, paired."""
    names = [n for n in result if isinstance(result[n], dict) and "ndcg_at_10" in result[n]]
    lines = ["method                      NDCG@10          pages          ratings  reached 5"]
    for name in names:
        r = result[name]
        lines.append(
            f"{name:<26}  {r['ndcg_at_10']:.4f} ± {r['ndcg_at_10_sd']:.4f}  "
            f"{r['pages']:5.2f} ± {r['pages_sd']:.2f}  {r['ratings']:7.2f}  {r['reached_5']:8.1%}"
        )
    for name, gap in result.get("paired", {}).items():
        lines.append(
            f"{name} − popular panel: NDCG@10 {gap['ndcg_at_10_mean']:+.4f} ± "
            f"{gap['ndcg_at_10_sd']:.4f}, pages {gap['pages_mean']:+.2f} ± {gap['pages_sd']:.2f}"
        )
    return "\n".join(lines)


def curve_charts(history: list[dict] | None) -> dict | None:
    """A training's validation checks as two line charts (NDCG@10 and RMSE
    against the step), or None when it has none."""
    from core.charts import line_chart

    checks = [h for h in history or [] if isinstance(h, dict) and "step" in h]
    if not checks:
        return None
    steps = [str(h["step"]) for h in checks]
    return {
        "ndcg": line_chart({"validation NDCG@10": [h.get("ndcg_at_10") for h in checks]}, steps),
        "rmse": line_chart({"validation RMSE": [h.get("rmse") for h in checks]}, steps),
    }
