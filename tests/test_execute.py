"""Execute: every cell runs after one raised; timeouts are recorded and the run goes on; the kernel is seeded."""

import os

import nbformat
import pytest
from conftest import held_now, left_behind

from grader.execute import execute
from grader.rubric import Timeouts

pytestmark = pytest.mark.slow


def notebook(*sources):
    cells = [nbformat.v4.new_markdown_cell("# title")] + [nbformat.v4.new_code_cell(s) for s in sources]
    return nbformat.v4.new_notebook(cells=cells)


def test_goes_on_after_errors_and_records_where(tmp_path):
    nb = notebook("x = 1", "y = 2\nraise ValueError('oops')", "def f(:\n    pass", "print('after', x + y)")
    run = execute(nb, tmp_path, Timeouts(cell=20, notebook=60, probe=20), seed=0,
                  probe_source=lambda: "print('probe sees', x, y)")
    cells = run.record.cells
    assert [c.status for c in cells] == ["ok", "error", "error", "ok"]
    assert [c.number for c in cells] == [2, 3, 4, 5]
    assert (cells[1].error_name, cells[1].error_message, cells[1].error_line) == ("ValueError", "oops", 2)
    assert cells[1].error_source == "raise ValueError('oops')"
    assert cells[2].error_name == "SyntaxError" and cells[2].error_source == "def f(:"
    assert cells[3].stdout == "after 3\n"
    assert run.record.status == "completed" and run.record.probe.status == "ok"
    assert run.notebook.cells[0].cell_type == "markdown"


def test_cell_timeout_is_recorded_and_the_rest_still_runs(tmp_path):
    nb = notebook("x = 1", "import time\ntime.sleep(60)", "z = x + 1")
    run = execute(nb, tmp_path, Timeouts(cell=2, notebook=60, probe=20), seed=0, probe_source=lambda: "assert z == 2")
    assert [c.status for c in run.record.cells] == ["ok", "timeout", "ok"]
    assert "the cell time limit is 2s" in run.record.cells[1].error_message
    assert run.record.status == "timeout" and "cell 3" in run.record.message
    assert run.record.probe.status == "ok"


def test_cell_ignoring_interrupts_is_stopped_and_the_rest_replayed(tmp_path):
    nb = notebook("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass", "print('never')")
    # The notebook's limit spans the interrupt, its grace, the kill and a fresh kernel's boot: 30 s ran out on a
    # loaded machine before the replayed cell could run.
    run = execute(nb, tmp_path, Timeouts(cell=2, notebook=120, probe=5), seed=0)
    assert [c.status for c in run.record.cells] == ["timeout", "ok"]
    assert "ignored the interrupt" in run.record.cells[0].error_message
    assert run.record.replayed and run.record.cells[1].stdout == "never\n"


def test_notebook_time_limit_stops_later_cells(tmp_path):
    nb = notebook("import time\ntime.sleep(1.5)", "time.sleep(1.5)", "time.sleep(1.5)", "print('late')")
    run = execute(nb, tmp_path, Timeouts(cell=10, notebook=3, probe=5), seed=0)
    statuses = [c.status for c in run.record.cells]
    assert statuses[0] == "ok" and statuses[-1] == "not_run"
    assert run.record.status == "timeout"


def test_kernel_is_seeded_before_the_first_cell(tmp_path):
    """The first cell sees exactly the seeded generators: IPython 9 draws from `random` while it starts (its banner
    tip), as often as the client asks for kernel_info, so the grader seeds again right before the first cell."""
    import random

    import numpy
    import torch

    nb = notebook("import random, torch, numpy\nprint(random.random(), torch.rand(1).item(), numpy.random.rand())")
    first = execute(nb, tmp_path, Timeouts(cell=20, notebook=60, probe=5), seed=7).record.cells[0].stdout
    second = execute(nb, tmp_path, Timeouts(cell=20, notebook=60, probe=5), seed=7).record.cells[0].stdout
    assert first == second and first.strip()
    expected = (random.Random(7).random(), torch.rand(1, generator=torch.Generator().manual_seed(7)).item(),
                numpy.random.RandomState(7).rand())
    assert [float(value) for value in first.split()] == pytest.approx(list(expected))


def test_one_deadline_spans_the_replays(tmp_path):
    """Each replay re-runs the cells before the fatal one on what is left of the notebook's time, not a fresh limit:
    a notebook that dies twice cannot hold a worker three times its limit."""
    nb = notebook("import os, time\ntime.sleep(2.5)", "os._exit(1)", "time.sleep(2.5)", "os._exit(1)", "print('late')")
    run = execute(nb, tmp_path, Timeouts(cell=20, notebook=6, probe=5), seed=0)
    # Fresh limits per attempt would give: A, B dies; A, C, D dies; A, C, and 'late' printed (7.5 s of cells).
    assert run.record.cells[-1].status == "not_run", [c.status for c in run.record.cells]
    assert run.record.replayed


def test_cells_that_never_ran_are_one_record(tmp_path):
    nb = notebook("import time\ntime.sleep(3)", *["x = 1"] * 2000)
    run = execute(nb, tmp_path, Timeouts(cell=20, notebook=2, probe=5), seed=0)
    cells = run.record.cells
    assert [c.status for c in cells] == ["timeout", "not_run"]
    assert (cells[1].number, cells[1].last_number) == (3, 2002)
    assert run.record.record_of(1500) is cells[1] and run.record.record_of(2) is cells[0]
    assert "cell 2 hit the time limit" in run.record.message
    assert len(run.record.model_dump_json()) < 5_000


def test_killed_kernels_are_reaped(tmp_path):
    import psutil

    execute(notebook("x = 1"), tmp_path, Timeouts(cell=20, notebook=60, probe=5), seed=0)
    zombies = [p for p in psutil.Process(os.getpid()).children() if p.status() == psutil.STATUS_ZOMBIE]
    assert zombies == []


def test_finished_kernels_leave_no_thread_or_open_file_in_the_grader(tmp_path):
    """A pool worker grades hundreds of notebooks in one process: each kernel's channels (a heartbeat thread pinging
    it every second, sockets) used to outlive it, and a long batch burned cores on pings to dead kernels."""
    (tmp_path / "first").mkdir(), (tmp_path / "second").mkdir()
    # The first kernel of a process opens what every later one reuses (an event loop, its self-pipe).
    execute(notebook("x = 1"), tmp_path / "first", Timeouts(cell=20, notebook=60, probe=5), seed=0)
    before = held_now()
    run = execute(notebook("x = 1", "import os\nos._exit(1)", "print(x)"), tmp_path / "second",
                  Timeouts(cell=20, notebook=60, probe=5), seed=0)
    assert run.record.replayed  # two kernels, one killed mid-notebook
    threads, more_files = left_behind(before)
    assert threads == [] and more_files <= 0


def test_each_attempt_gets_a_fresh_runtime_folder_outside_the_work_dir_and_removes_it(tmp_path, monkeypatch):
    """Connection files and sockets live in a new mkdtemp folder per attempt (a replay included), never in the
    notebook's work dir, and none is left behind."""
    import tempfile

    runtime_root = tempfile.mkdtemp(prefix="rt-")  # short: a socket path must fit in 108 bytes
    monkeypatch.setattr(tempfile, "tempdir", runtime_root)
    try:
        nb = notebook("import ipykernel.connect\nprint(ipykernel.connect.get_connection_file())", "import os\nos._exit(1)",
                      "print(ipykernel.connect.get_connection_file())")
        run = execute(nb, tmp_path, Timeouts(cell=20, notebook=60, probe=5), seed=0)
        first, second = run.record.cells[0].stdout.strip(), run.record.cells[2].stdout.strip()
        assert run.record.replayed and first != second
        assert all(path.startswith(runtime_root + "/grader-kernel-") for path in (first, second))
        assert os.listdir(runtime_root) == [] and not (tmp_path / ".kernel").exists()
    finally:
        os.rmdir(runtime_root)
