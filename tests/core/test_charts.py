"""Server-drawn charts carry what a reader without colour or sight needs."""

from core.charts import line_chart


def test_a_line_chart_has_ticks_distinct_markers_and_its_figures_as_rows():
    chart = line_chart(
        {"a": [0.1, 0.2, None, 0.4], "b": [0.3, 0.3, 0.2, 0.1]}, ["1", "2", "3", "4"]
    )
    assert [t["label"] for t in chart["y_ticks"]] == ["0.100", "0.200", "0.300", "0.400"]
    # Higher values sit higher (smaller y) and every tick is inside the plot.
    ys = [t["y"] for t in chart["y_ticks"]]
    assert (
        ys == sorted(ys, reverse=True) and chart["top"] <= min(ys) <= max(ys) <= chart["baseline"]
    )
    assert [t["label"] for t in chart["x_ticks"]] == ["1", "2", "3", "4"]
    first, second = chart["lines"]
    assert first["marker"] != second["marker"] and first["number"] != second["number"]
    assert len(first["dots"]) == 3  # a missing point is left out, not drawn at 0
    assert chart["rows"][2] == {"label": "3", "values": [None, 0.2]}
    assert first["last"] == 0.4


def test_many_points_keep_at_most_six_x_labels():
    chart = line_chart({"a": list(range(40))}, [str(i) for i in range(40)])
    assert 1 < len(chart["x_ticks"]) <= 6 and chart["x_ticks"][0]["label"] == "0"
    assert len(chart["rows"]) == 40


def test_a_bar_chart_has_ticks_from_zero_and_its_figures_as_rows():
    from core.charts import bar_chart

    chart = bar_chart([3, 0, 12], ["a", "b", "c"])
    assert [t["label"] for t in chart["y_ticks"]] == ["0", "4", "8", "12"]
    assert chart["y_ticks"][0]["y"] == chart["baseline"]
    assert chart["rows"] == [
        {"label": "a", "value": 3},
        {"label": "b", "value": 0},
        {"label": "c", "value": 12},
    ]
    tallest = max(chart["bars"], key=lambda b: b["height"])
    assert tallest["label"] == "c" and tallest["y"] == chart["top"]
