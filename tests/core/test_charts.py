"""Server-drawn charts carry what a reader without colour or sight needs."""

import itertools

import pytest

from core.charts import CHAR_WIDTH, bar_chart, line_chart


def test_a_line_chart_has_ticks_distinct_markers_and_its_figures_as_rows():
    chart = line_chart(
        {"a": [0.1, 0.2, None, 0.4], "b": [0.3, 0.3, 0.2, 0.1]}, ["1", "2", "3", "4"]
    )
    assert [t["label"] for t in chart["y_ticks"]] == ["0.1", "0.2", "0.3", "0.4"]
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
    assert [t["label"] for t in chart["y_ticks"]] == ["0", "5", "10", "15"]
    assert chart["y_ticks"][0]["y"] == chart["baseline"]
    assert chart["rows"] == [
        {"label": "a", "value": 3},
        {"label": "b", "value": 0},
        {"label": "c", "value": 12},
    ]
    tallest = max(chart["bars"], key=lambda b: b["height"])
    assert tallest["label"] == "c" and tallest["y"] > chart["top"]  # 12 of an axis up to 15


@pytest.mark.parametrize(
    ("low", "high"),
    [(1.05, 1.14), (0.0, 1.0), (0.4812, 0.4907), (0.9, 1.3), (3.0, 3.0), (0.0, 12.0),
     (1e-4, 3e-4), (120.0, 4800.0), (-0.02, 0.03), (0.2, 0.2001)],
)  # fmt: skip
def test_y_ticks_are_round_cover_the_values_and_never_repeat_a_label(low, high):
    chart = line_chart({"a": [low, high]}, ["x", "y"])
    labels = [t["label"] for t in chart["y_ticks"]]
    assert len(labels) == len(set(labels)) >= 2  # never "1.1" twice
    values = [float(label) for label in labels]
    assert values[0] <= low + 1e-9 and values[-1] >= high - 1e-9
    ys = [t["y"] for t in chart["y_ticks"]]
    assert chart["top"] - 0.1 <= min(ys) and max(ys) <= chart["baseline"] + 0.1
    for y in (dot[1] for dot in chart["lines"][0]["dots"]):
        assert chart["top"] - 0.1 <= y <= chart["baseline"] + 0.1


@pytest.mark.parametrize("count", [1, 2, 7, 15, 40])
def test_x_labels_fit_side_by_side_inside_the_chart(count):
    labels = [f"20261207-{i:02d}4512-v" for i in range(count)]  # long, like version stamps
    for chart in (
        line_chart({"a": list(range(count))}, labels),
        bar_chart(list(range(count)), labels),
    ):
        ticks = chart["x_ticks"]
        assert ticks and ticks[0]["label"] == labels[0]
        for tick in ticks:
            half = len(tick["label"]) * CHAR_WIDTH / 2
            assert tick["x"] - half >= 0 and tick["x"] + half <= chart["width"]
        for left, right in itertools.pairwise(ticks):
            assert right["x"] - left["x"] >= len(left["label"]) * CHAR_WIDTH  # no overlap


def test_a_single_point_sits_in_the_middle_not_on_the_axis():
    chart = line_chart({"a": [0.42]}, ["only"])
    ((x, _),) = chart["lines"][0]["dots"]
    assert abs(x - (chart["left"] + chart["right"]) / 2) < 1
