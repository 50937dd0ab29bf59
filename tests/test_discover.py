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


def test_a_name_with_a_trailing_newline_is_no_student_id(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice\n").mkdir()
    (tmp_path / "alice\n" / "conv1d.ipynb").write_text("{}")
    found = discover(tmp_path, ["conv1d"])
    assert [s.student for s in found.submissions] == ["alice"]
    assert "alice\n/: not a usable student id (letters, digits, '.', '_', '-')" in found.ignored


def test_a_student_folder_that_is_a_link_is_not_followed(tmp_path):
    (tmp_path / "ana").mkdir()
    (tmp_path / "ana" / "conv1d.ipynb").write_text("{}")
    (tmp_path / "mallory").symlink_to(tmp_path / "ana")
    found = discover(tmp_path, ["conv1d"])
    assert [s.student for s in found.submissions] == ["ana"]
    assert any(line.startswith("mallory: a symbolic link") for line in found.ignored)


def test_a_notebook_that_is_a_link_is_found_as_the_link(tmp_path):
    """Discovery names the link (even a dangling one); staging refuses it, so the report says why."""
    (tmp_path / "ana").mkdir()
    (tmp_path / "ana" / "conv1d.ipynb").symlink_to("/dev/zero")
    (tmp_path / "ana" / "gru.ipynb").symlink_to(tmp_path / "missing.ipynb")
    found = discover(tmp_path, ["conv1d", "gru"])
    assert [s.notebook.name if s.notebook else None for s in found.submissions] == ["conv1d.ipynb", "gru.ipynb"]
    assert all(s.notebook.is_symlink() for s in found.submissions)
