"""Stage: a bad file is one clear sentence; a good one gets a private work dir holding only the notebook."""

import nbformat
import pytest

from grader.stage import InvalidNotebook, load_notebook, stage

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
