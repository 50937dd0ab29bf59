"""Discover: every student folder × every exercise; a missing notebook is a not_submitted slot, not an error."""

import pytest

from grader.discover import discover


def make_class(root):
    for path in ["ana/conv1d.ipynb", "ana/gru.ipynb", "ben/Conv1D.ipynb", "ben/notes.txt", "cy/.hidden", "stray.ipynb",
                 "index.html/conv1d.ipynb", "bad name/conv1d.ipynb"]:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("{}")


def test_every_student_times_every_exercise(tmp_path):
    make_class(tmp_path)
    found = discover(tmp_path, ["conv1d", "gru"])
    slots = {(s.student, s.exercise): s.notebook.name if s.notebook else None for s in found.submissions}
    assert slots == {
        ("ana", "conv1d"): "conv1d.ipynb", ("ana", "gru"): "gru.ipynb",
        ("ben", "conv1d"): "Conv1D.ipynb", ("ben", "gru"): None,
        ("cy", "conv1d"): None, ("cy", "gru"): None,
    }


def test_unexpected_files_are_listed_not_graded(tmp_path):
    make_class(tmp_path)
    ignored = discover(tmp_path, ["conv1d"]).ignored
    assert "stray.ipynb: not inside a student folder" in ignored
    assert "ben/notes.txt: not a notebook named after an exercise" in ignored
    assert any(line.startswith("index.html/") for line in ignored)
    assert any(line.startswith("bad name/") for line in ignored)


def test_student_filter(tmp_path):
    make_class(tmp_path)
    found = discover(tmp_path, ["conv1d"], students=["ben", "zed"])
    assert [s.student for s in found.submissions] == ["ben"]
    assert "zed: no such student folder" in found.ignored


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        discover(tmp_path / "nope", ["conv1d"])
