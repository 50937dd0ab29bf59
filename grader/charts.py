"""Charts in the student report: a check's details may hold a chart spec, drawn here with matplotlib as an inline SVG
(an <img> with a data: URI, so the report stays one offline file and charts' ids never collide).

A spec is a dict with a "chart" key, built by the exercise from numbers it already holds:
- {"chart": "lines", "title", "x_label", "y_label", "x": [...], "series": [{"label", "values", "reference": bool}]}
  (a None value is a gap; reference series are drawn dashed and grey-toned);
- {"chart": "matrix", "title", "rows": [labels], "columns": [labels], "values": [[int]], "x_label", "y_label"};
- {"chart": "table", "columns": [...], "rows": [[...]]}: not drawn, rendered as an HTML table (shapes expected vs got).
"""

from __future__ import annotations

import base64
import io
from typing import Any

CHART_KINDS = ("lines", "matrix", "table")
FIGURE_SIZE = (5.6, 3.0)
MATRIX_SIZE = (3.6, 3.0)


def is_chart(value: Any) -> bool:
    return isinstance(value, dict) and value.get("chart") in CHART_KINDS


def _figure(size: tuple[float, float]):
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    figure = Figure(figsize=size, dpi=100)
    return figure, figure.add_subplot()


def _svg_uri(figure) -> str:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _lines(spec: dict[str, Any]) -> str:
    figure, axes = _figure(FIGURE_SIZE)
    for series in spec["series"]:
        values = [float("nan") if value is None else value for value in series["values"]]
        x = spec.get("x") or list(range(1, len(values) + 1))
        style = {"linestyle": "--", "alpha": 0.7} if series.get("reference") else {"linewidth": 2}
        axes.plot(x[: len(values)], values, marker="o", markersize=3, label=series["label"], **style)
    axes.set_title(spec.get("title", ""), fontsize=10)
    axes.set_xlabel(spec.get("x_label", ""))
    axes.set_ylabel(spec.get("y_label", ""))
    axes.grid(alpha=0.3)
    if spec.get("x"):
        axes.set_xticks(spec["x"])
    if spec["series"]:
        axes.legend(fontsize=7, loc="best")
    return _svg_uri(figure)


def _matrix(spec: dict[str, Any]) -> str:
    figure, axes = _figure(MATRIX_SIZE)
    values = spec["values"]
    axes.imshow(values, cmap="Blues")
    top = max((max(row) for row in values if row), default=0) or 1
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            axes.text(j, i, str(value), ha="center", va="center", fontsize=9,
                      color="white" if value > top / 2 else "black")
    axes.set_xticks(range(len(spec["columns"])), spec["columns"], fontsize=8)
    axes.set_yticks(range(len(spec["rows"])), spec["rows"], fontsize=8)
    axes.set_xlabel(spec.get("x_label", "predicted"))
    axes.set_ylabel(spec.get("y_label", "true"))
    axes.set_title(spec.get("title", ""), fontsize=10)
    return _svg_uri(figure)


def draw(spec: dict[str, Any]) -> str:
    """The chart as a data: URI for an <img>; raises ValueError (one sentence) when the spec cannot be drawn."""
    try:
        return _lines(spec) if spec["chart"] == "lines" else _matrix(spec)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise ValueError(f"the chart could not be drawn ({type(error).__name__}: {error})") from None
