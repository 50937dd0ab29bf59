"""Pictures in the reports: chart specs in a check's details are drawn inline (SVG data URIs, nothing fetched),
shape tables keep both columns, and the class histograms give full marks a bin of their own."""

from __future__ import annotations

import base64

from grader import report, summary
from grader.results import CheckRecord, ExecutionRecord, GradeResult

LINES = {"chart": "lines", "title": "Accuracy per epoch", "x_label": "epoch", "y_label": "accuracy (%)",
         "x": [1, 2, 3], "series": [{"label": "RNN valid", "values": [55.0, None, 71.5]},
                                    {"label": "reference RNN valid", "values": [60.0, 70.0, 75.0], "reference": True}]}
MATRIX = {"chart": "matrix", "title": "Confusion matrix", "rows": ["positive", "neutral", "negative"],
          "columns": ["positive", "neutral", "negative"], "values": [[50, 2, 3], [4, 20, 1], [6, 0, 40]]}
SHAPES = {"chart": "table", "title": "Shapes, expected and got", "columns": ["call", "expected", "got", ""],
          "rows": [["Conv1D(3, 8, 5) on [4, 3, 20]", "[4, 8, 20]", "[4, 8, 16]", "wrong"],
                   ["Conv1D(1, 2, 3) on [1, 1, 9]", "[1, 2, 9]", "[1, 2, 9]", "ok"]]}


def _result(details: dict) -> GradeResult:
    check = CheckRecord(id="summary", title="Summary", type="x.summary", visibility="public", points=0, max_points=0,
                        passed=True, fraction=1.0, message="ok", details=details)
    return GradeResult(student="ana", exercise="imdb", status="graded", checks=[check],
                       execution=ExecutionRecord(status="completed"))


def _images(html: str) -> list[bytes]:
    marker = 'src="data:image/svg+xml;base64,'
    return [base64.b64decode(part.split('"', 1)[0]) for part in html.split(marker)[1:]]


def test_charts_are_drawn_inline_as_svg():
    html = report.student_html(_result({"accuracy": LINES, "confusion": MATRIX}))
    images = _images(html)
    assert len(images) == 2 and all(b"<svg" in image for image in images)
    assert b"reference RNN valid" in images[0] and b"neutral" in images[1]
    assert "http" not in html.replace(
        "http-equiv", "")  # nothing outside the page (the SVGs' namespace is inside their base64)


def test_shape_table_has_expected_and_got_columns():
    html = report.student_html(_result({"shapes": SHAPES}))
    assert "<th>expected</th><th>got</th>" in html
    assert '<tr class="wrong"><td>Conv1D(3, 8, 5) on [4, 3, 20]</td><td>[4, 8, 20]</td><td>[4, 8, 16]</td>' in html


def test_a_chart_that_cannot_be_drawn_is_one_sentence():
    html = report.student_html(_result({"accuracy": {"chart": "lines", "series": [{"label": "x"}]}}))
    assert "the chart could not be drawn (KeyError: &#39;values&#39;)" in html


def test_full_marks_have_their_own_histogram_bin():
    bins = summary._histogram([100.0, 100.0, 95.0, 90.0, 0.0, 99.99])
    assert [b.count for b in bins] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 3, 2]
    assert bins[-1].label == "100" and bins[-2].label == "90–<100"
