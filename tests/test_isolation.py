"""Isolation: a notebook sees only its work dir and its data, has no network, leaves no process behind, and cannot
forge its result. The bubblewrap-specific checks skip (saying why) on a machine without bubblewrap; the fallback
must then say NOT ISOLATED in every report.
"""

from __future__ import annotations

import ast
import csv
import os
import socket
import shutil
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
from conftest import FIXTURES, ROOT, repo_rubric

import grader
from grader import cli, sandbox
from grader.discover import Submission
from grader.grade import BatchPlan, Job, Options, grade_batch, grade_one
from grader.results import GradeResult

sys.path.insert(0, str(ROOT / "tools"))
from make_adversarial_notebooks import HOST_TARGET, MARKER, NETWORK_PORT, PWNED  # noqa: E402

pytestmark = pytest.mark.slow

ISOLATED = sandbox.availability().available
needs_bwrap = pytest.mark.skipif(not ISOLATED, reason=f"no sandbox here: {sandbox.availability().reason}")
SECRET_VARIABLE = "GRADER_TEST_TA_TOKEN"
BATCH = ["adversarial_reads_secrets", "adversarial_network", "adversarial_fake_results",
         "adversarial_background_process", "conv1d_correct_slides"]
# Writing outside the work dir and planting links to a host folder are only attempted inside a sandbox: unsandboxed,
# the notebook itself would really write there.
if ISOLATED:
    BATCH.insert(2, "adversarial_writes_outside")
    BATCH.insert(3, "adversarial_replants_runtime")
CANARY = Path("/tmp") / f"{MARKER}-canary"
# Another student's work dir, next to the ones the grader creates.
DECOY = Path(tempfile.gettempdir()) / f"grader-conv1d-{MARKER}-decoy"
ESCAPES = [Path("/tmp") / f"{MARKER}-escape.txt", Path.home() / f"{MARKER}-escape.txt",
           ROOT / "grader" / f"{MARKER}-escape.txt"]


def rubric():
    return repo_rubric("conv1d", timeouts={"cell": 10, "notebook": 60, "probe": 30})


def survivors() -> list[psutil.Process]:
    """Processes any notebook started with the corpus's marker in their command line."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(MARKER in part for part in process.info["cmdline"] or []):
            found.append(process)
    return found


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory):
    """Grade the corpus once, with a secret in the grader's environment and a listener on the host's loopback."""
    out = tmp_path_factory.mktemp("isolation")
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", NETWORK_PORT))
        listener.listen(8)
        listener.settimeout(0)
    except OSError:
        listener.close()
        listener = None
    jobs = [Job(Submission(name, "conv1d", FIXTURES / f"{name}.ipynb"), rubric()) for name in BATCH]
    DECOY.mkdir(exist_ok=True)
    host_target = Path(HOST_TARGET)
    host_target.mkdir(mode=0o755, exist_ok=True)
    host_target.chmod(0o755)
    (host_target / "keep.txt").write_text("the host's own")
    (DECOY / "conv1d.ipynb").write_text("another student's work")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_VARIABLE, "do-not-leak")
        results = grade_batch(BatchPlan(jobs=jobs), Options(out_dir=out, secret="s", quick=True, course_root=ROOT),
                              lambda result: None)
    connections = 0
    if listener is not None:
        try:
            while listener.accept():
                connections += 1
        except OSError:
            pass
        listener.close()
    yield out, {result.student: result for result in results}, connections, listener is not None
    shutil.rmtree(DECOY, ignore_errors=True)
    shutil.rmtree(HOST_TARGET, ignore_errors=True)
    for escape in [*ESCAPES, CANARY]:
        escape.unlink(missing_ok=True)


def stdout(result: GradeResult) -> str:
    return "".join(cell.stdout for cell in result.execution.cells)


def test_the_batch_went_on(batch) -> None:
    _, results, _, _ = batch
    assert sorted(results) == sorted(BATCH)
    assert results["conv1d_correct_slides"].score == 100
    assert results["adversarial_reads_secrets"].score == 100


def test_environment_is_scrubbed(batch) -> None:
    seen = stdout(batch[1]["adversarial_reads_secrets"])
    assert f"{MARKER}-done" in seen
    assert SECRET_VARIABLE not in seen and "'HOME'" in seen


def listed(line: str) -> list[str]:
    """The names in a 'FOUND <path> [names]' line."""
    return ast.literal_eval(line[line.index("["):])


@needs_bwrap
def test_rubrics_reference_and_neighbours_are_invisible(batch) -> None:
    result = batch[1]["adversarial_reads_secrets"]
    seen = stdout(result)
    assert seen.count("HIDDEN") == 5, seen
    # Only the work dir's parent is listable. It holds the notebook's own work dir and runtime folder, and (when the
    # checkout or the Python lives in the same folder, as in a clone under /tmp) the folders that lead to them, empty
    # but for the bound package: no neighbour, wherever the checkout lives.
    found = [line for line in seen.splitlines() if line.startswith("FOUND")]
    assert len(found) == 1 and found[0].startswith(f"FOUND {tempfile.gettempdir()} ["), found
    names = listed(found[0])
    parent = Path(tempfile.gettempdir())
    leading = {path.relative_to(parent).parts[0] for path in sandbox.python_paths([ROOT]) if parent in path.parents}
    assert len([name for name in names if name.startswith("grader-conv1d-")]) == 1, names
    assert len([name for name in names if name.startswith("grader-kernel-")]) <= 1, names
    assert not [name for name in names if not name.startswith(("grader-conv1d-", "grader-kernel-"))
                and name not in leading], names
    assert DECOY.name not in seen
    assert result.execution.isolated


@needs_bwrap
def test_no_network(batch) -> None:
    _, results, connections, listening = batch
    seen = stdout(results["adversarial_network"])
    assert "NETWORK-REACHED" not in seen and seen.count("NETWORK-BLOCKED") == 3
    if listening:
        assert connections == 0


@needs_bwrap
def test_nothing_written_outside_the_work_dir(batch) -> None:
    seen = stdout(batch[1]["adversarial_writes_outside"])
    # /tmp, the home folder and the work dir's parent are the work dir's own scratch space inside the sandbox; the
    # grader package (wherever the checkout lives), /etc and /usr are read-only.
    refused = {line.split()[1] for line in seen.splitlines() if line.startswith("REFUSED")}
    package = Path(grader.__file__).resolve().parent
    assert refused == {str(package / f"{MARKER}-escape.txt"), f"/etc/{MARKER}-escape.txt",
                       f"/usr/{MARKER}-escape.txt"}, seen
    assert seen.count("WROTE") == 3, seen
    assert not any(escape.exists() for escape in ESCAPES)
    assert batch[1]["adversarial_writes_outside"].score == 100


@needs_bwrap
def test_a_replay_never_follows_links_the_notebook_planted(batch) -> None:
    """The notebook replaces its scratch (/tmp), home and runtime folders with links to a host folder, then kills its
    kernel: the replay binds and creates nothing through them (a grader running as root would chmod the host folder
    to 0700 or bind it as the sandbox's /tmp), and still grades the Conv1D after the crash."""
    result = batch[1]["adversarial_replants_runtime"]
    planted = cell_of(result, 2).stdout
    assert "planted .tmp" in planted and "planted .kernel" in planted, planted
    host_target = Path(HOST_TARGET)
    assert sorted(p.name for p in host_target.iterdir()) == ["keep.txt"]
    assert oct(host_target.stat().st_mode & 0o7777) == oct(0o755)
    assert not CANARY.exists()
    assert result.execution.replayed and result.score == 100
    assert f"{MARKER}-canary" in cell_of(result, 5).stdout


def cell_of(result: GradeResult, number: int):
    return next(cell for cell in result.execution.cells if cell.number == number)


def test_fake_results_are_ignored_and_nothing_is_unpickled(batch) -> None:
    out, results, _, _ = batch
    forged = results["adversarial_fake_results"]
    assert forged.score <= 20, forged.score  # what a Conv1D returning zeros earns honestly
    assert not Path(PWNED).exists()
    assert sorted(p.name for p in (out / "adversarial_fake_results").iterdir()) == ["conv1d.html", "conv1d.json"]


def test_no_process_outlives_its_notebook(batch) -> None:
    assert batch[1]["adversarial_background_process"].score == 100
    assert survivors() == []


def test_reports_say_whether_the_run_was_isolated(batch) -> None:
    out, results, _, _ = batch
    page = (out / "conv1d_correct_slides" / "conv1d.html").read_text(encoding="utf-8")
    assert results["conv1d_correct_slides"].execution.isolated is ISOLATED
    assert ("NOT ISOLATED" in page) is not ISOLATED


def test_without_a_sandbox_it_runs_but_says_so_loudly(tmp_path: Path) -> None:
    options = Options(out_dir=tmp_path, secret="s", quick=True, isolate=False)
    result = grade_one(Submission("bg", "conv1d", FIXTURES / "adversarial_background_process.ipynb"), rubric(),
                       options)
    assert result.score == 100 and not result.execution.isolated
    assert "not isolated" in result.execution.isolation
    assert "NOT ISOLATED" in (tmp_path / "bg" / "conv1d.html").read_text(encoding="utf-8")
    assert survivors() == []


def test_require_sandbox_refuses_instead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(sandbox, "availability", lambda: sandbox.Availability(False, "bubblewrap is not installed"))
    options = Options(out_dir=tmp_path, secret="s", quick=True, require_sandbox=True)
    result = grade_one(Submission("s", "conv1d", FIXTURES / "conv1d_correct_slides.ipynb"), rubric(), options)
    assert result.status == "error" and "isolation is required" in result.message
    submissions = tmp_path / "submissions" / "s"
    submissions.mkdir(parents=True)
    (submissions / "conv1d.ipynb").write_bytes((FIXTURES / "conv1d_correct_slides.ipynb").read_bytes())
    os.chdir(ROOT)
    assert cli.main(["grade", str(tmp_path / "submissions"), "--out", str(tmp_path / "out"), "--quick",
                     "--exercise", "conv1d", "--require-sandbox"]) == 2
    assert "refused" in capsys.readouterr().err
    assert cli.main(["doctor", "--require-sandbox"]) == 1


@needs_bwrap
def test_doctor_checks_the_sandbox_for_real(capsys) -> None:
    assert cli.main(["doctor", "--require-sandbox"]) == 0
    assert "FAIL" not in capsys.readouterr().out


@pytest.mark.slow
@needs_bwrap
def test_a_dataset_cached_under_tmp_is_readable_but_not_writable(tmp_path: Path) -> None:
    import nbformat

    from grader.execute import KernelLaunch, execute
    from grader.rubric import Timeouts

    cache = Path(tempfile.mkdtemp(prefix="grader-cache-"))
    workdir = Path(tempfile.mkdtemp(prefix="grader-work-"))
    try:
        (cache / "reviews.txt").write_text("staged")
        (workdir / "data").mkdir()
        (workdir / "data" / "imdb").symlink_to(cache)
        layout = sandbox.Layout(workdir=workdir, readable=sandbox.python_paths([]) + sandbox.symlink_targets(workdir))
        launch = KernelLaunch(env=sandbox.kernel_env(dict(os.environ), workdir, {}), isolated=True,
                              sandbox=sandbox.Sandbox(sandbox.availability().bwrap, layout))
        source = ("print(open('data/imdb/reviews.txt').read())\n"
                  "try:\n    open('data/imdb/new.txt', 'w')\nexcept OSError as error:\n    print(type(error).__name__)")
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
        run = execute(notebook, workdir, Timeouts(cell=30, notebook=60, probe=10), 0, None, launch)
        assert run.record.cells[0].stdout == "staged\nOSError\n"
        assert not (cache / "new.txt").exists()
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)


def test_links_and_special_files_are_refused_and_the_batch_goes_on(tmp_path: Path, capsys) -> None:
    """Links (to the reference, to a classmate, to /dev/zero), a FIFO, a linked student folder, "alice\\n" and a file
    name carrying terminal escapes: refused or ignored at once, never read through; the honest student is graded."""
    submissions = tmp_path / "submissions"
    for student in ("honest", "ref", "copycat", "zero", "fifo", "alice\n"):
        (submissions / student).mkdir(parents=True)
    honest = submissions / "honest" / "conv1d.ipynb"
    honest.write_bytes((FIXTURES / "conv1d_correct_slides.ipynb").read_bytes())
    (submissions / "ref" / "conv1d.ipynb").symlink_to(ROOT / "reference" / "conv1d.ipynb")
    (submissions / "copycat" / "conv1d.ipynb").symlink_to(honest)
    (submissions / "zero" / "conv1d.ipynb").symlink_to("/dev/zero")
    os.mkfifo(submissions / "fifo" / "conv1d.ipynb")
    (submissions / "alice\n" / "conv1d.ipynb").write_bytes(honest.read_bytes())
    (submissions / "linked").symlink_to(submissions / "honest")
    (submissions / "notes\x1b]0;owned\x07.txt").write_text("")
    out = tmp_path / "out"
    os.chdir(ROOT)
    for _ in range(2):  # the second run reads the stored results' fingerprints: links must not be read there either
        assert cli.main(["grade", str(submissions), "--out", str(out), "--quick", "--exercise", "conv1d"]) == 0
    captured = capsys.readouterr()
    rows = {row["student"]: row for row in csv.DictReader((out / "grades.csv").open())}
    assert sorted(rows) == ["copycat", "fifo", "honest", "ref", "zero"]
    assert (rows["honest"]["status"], float(rows["honest"]["score"])) == ("graded", 100)
    for student in ("ref", "copycat", "zero"):
        assert rows[student]["status"] == "invalid_notebook" and "is a symbolic link" in rows[student]["message"]
    assert rows["fifo"]["status"] == "invalid_notebook" and "not a regular file" in rows["fifo"]["message"]
    assert "\x1b" not in captured.err + captured.out
    assert "notes\\x1b]0;owned\\x07.txt" in captured.err
    assert "alice\\n/: not a usable student id" in captured.err
    assert "linked: a symbolic link" in captured.err
