"""Stage: a bad file is one clear sentence; a good one gets a private work dir holding only the notebook."""

import os
import time

import nbformat
import pytest

from grader import stage as stage_module
from grader.stage import InvalidNotebook, load_notebook, read_submission, restore, snapshot, stage

from conftest import FIXTURES


@pytest.mark.parametrize("fixture, reason", [
    ("conv1d_invalid_json", "not valid notebook JSON (Expecting value at line 1, column 12)"),
    ("conv1d_wrong_file", "not text"),
    ("conv1d_no_cells", "the notebook has no cells"),
])
def test_bad_files_are_explained(fixture, reason):
    with pytest.raises(InvalidNotebook, match=reason.replace("(", r"\(").replace(")", r"\)")):
        load_notebook(FIXTURES / f"{fixture}.ipynb")


def test_json_that_is_not_a_notebook(tmp_path):
    path = tmp_path / "conv1d.ipynb"
    path.write_text('{"name": "not a notebook"}')
    with pytest.raises(InvalidNotebook, match="not a Jupyter notebook"):
        load_notebook(path)


def test_notebook_with_only_markdown(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# my answer")])
    path = tmp_path / "conv1d.ipynb"
    nbformat.write(notebook, path)
    with pytest.raises(InvalidNotebook, match="no code"):
        load_notebook(path)


def test_unreadable_file(tmp_path):
    with pytest.raises(InvalidNotebook, match="cannot be read"):
        load_notebook(tmp_path / "missing.ipynb")


def test_workdir_holds_only_the_notebook(tmp_path):
    staged = stage(FIXTURES / "conv1d_correct_slides.ipynb", "conv1d", work_root=tmp_path)
    assert [p.name for p in staged.workdir.iterdir()] == ["conv1d.ipynb"]
    assert staged.workdir.parent == tmp_path
    assert staged.notebook.cells


@pytest.mark.parametrize("make, reason", [
    (lambda path: path.symlink_to(FIXTURES / "conv1d_correct_slides.ipynb"), "is a symbolic link"),
    (lambda path: path.symlink_to("/dev/zero"), "is a symbolic link"),
    (lambda path: os.mkfifo(path), "is not a regular file"),
    (lambda path: path.mkdir(), "is not a regular file"),
])
def test_links_and_special_files_are_refused_before_reading(tmp_path, make, reason):
    """A link to a classmate's notebook or /dev/zero, or a FIFO, is refused at once: never read, never hashed."""
    path = tmp_path / "conv1d.ipynb"
    make(path)
    started = time.monotonic()
    with pytest.raises(InvalidNotebook, match=reason):
        read_submission(path)
    assert time.monotonic() - started < 1


def test_a_notebook_inside_a_linked_folder_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "conv1d.ipynb").write_bytes((FIXTURES / "conv1d_correct_slides.ipynb").read_bytes())
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(InvalidNotebook, match="inside a symbolic link"):
        read_submission(tmp_path / "link" / "conv1d.ipynb")


def test_the_size_cap_applies_while_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(stage_module, "NOTEBOOK_CAP_BYTES", 1000)
    path = tmp_path / "conv1d.ipynb"
    path.write_bytes(b" " * 1001)
    with pytest.raises(InvalidNotebook, match="over the 0 MiB limit"):
        read_submission(path)


def test_nbformat_3_is_converted(tmp_path):
    current = nbformat.read(FIXTURES / "conv1d_correct_slides.ipynb", as_version=4)
    path = tmp_path / "conv1d.ipynb"
    downgraded = nbformat.convert(nbformat.read(FIXTURES / "conv1d_correct_slides.ipynb", as_version=4), 3)
    path.write_text(nbformat.writes(downgraded, version=3))
    assert '"worksheets"' in path.read_text()
    converted = load_notebook(path)
    assert converted.nbformat == 4
    code = [cell.source for cell in current.cells if cell.cell_type == "code"]
    assert [cell.source for cell in converted.cells if cell.cell_type == "code"] == code


def test_restore_recreates_the_staged_work_dir_and_drops_planted_links(tmp_path):
    staged = stage(FIXTURES / "conv1d_correct_slides.ipynb", "conv1d", work_root=tmp_path)
    (staged.workdir / ".tmp").mkdir()
    (staged.workdir / "data").mkdir()
    (staged.workdir / "data" / "imdb").symlink_to("/nonexistent/cache")
    pristine = snapshot(staged.workdir)
    host = tmp_path / "host"
    host.mkdir()
    os.rename(staged.workdir / ".tmp", staged.workdir / "moved")
    (staged.workdir / ".tmp").symlink_to(host)
    (staged.workdir / "conv1d.ipynb").write_text("overwritten")
    restore(staged.workdir, pristine)
    assert sorted(p.name for p in staged.workdir.iterdir()) == [".tmp", "conv1d.ipynb", "data"]
    assert not (staged.workdir / ".tmp").is_symlink() and (staged.workdir / ".tmp").is_dir()
    assert os.readlink(staged.workdir / "data" / "imdb") == "/nonexistent/cache"
    assert (staged.workdir / "conv1d.ipynb").read_bytes() == staged.raw
    assert list(host.iterdir()) == []


def test_a_notebook_of_too_many_cells_is_refused_before_validation(tmp_path, monkeypatch):
    monkeypatch.setattr(stage_module, "CELL_CAP", 50)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1") for _ in range(51)])
    path = tmp_path / "conv1d.ipynb"
    nbformat.write(notebook, path)
    with pytest.raises(InvalidNotebook, match="has 51 cells, over the 50 cell limit"):
        load_notebook(path)
