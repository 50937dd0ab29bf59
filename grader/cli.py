"""The `grader` command: grade a class, check one notebook, run the references, validate rubrics."""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import Callable, NoReturn

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from grader import (cli_env, cli_kit, cli_lms, dashboard, data, disk, execute, kit, report, sandbox,
                    student_view)
from grader.course import Course, course_secret
from grader.discover import Submission, discover
from grader.grade import (BatchPlan, Job, Options, SandboxRequired, Launched, WorkerPool, first_to_grade, grade_batch, grade_one,
                          isolation_problem, start_first)
from grader.grade.budget import BadWorkers, available_cores, thread_share, workers_for
from grader.grade.progress import Tracker, gradebook_priors
from grader.grade.cluster import ClusterError
from grader.results import GradeResult
from grader.rubric import RubricError, load_rubric, load_rubrics
from grader.terminal import safe

# Text from notebooks and folders goes through `safe` (markup escaped, control characters shown), emoji codes stay text.
console = Console(emoji=False)
errors = Console(stderr=True, emoji=False)
PROBLEM_STATUSES = {"invalid_notebook", "error", "timeout", "kernel_died", "memory_limit", "disk_limit"}


def _visible_gpus() -> list[str]:
    """GPU indices this process may use: $CUDA_VISIBLE_DEVICES when set, else every NVIDIA GPU the driver lists.

    Read without importing torch, which would cost a second before the first kernel could start.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [index.strip() for index in visible.split(",") if index.strip() and not index.strip().startswith("-")]
    driver = Path("/proc/driver/nvidia/gpus")
    if driver.is_dir():
        return [str(index) for index in range(len(list(driver.iterdir())))]
    return _nvidia_smi_gpus()


def _nvidia_smi_gpus() -> list[str]:
    """GPU indices `nvidia-smi -L` lists, where the driver has no /proc entry (Windows); none without the tool."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return []
    try:
        listing = subprocess.run([tool, "-L"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [str(index) for index, line in enumerate(line for line in listing.splitlines() if line.startswith("GPU "))]


def _devices(gpus: str | None) -> list[str]:
    """--gpus 0,1 → ['cuda:0', 'cuda:1']; default: every visible GPU, else the CPU."""
    chosen = [index.strip() for index in gpus.split(",") if index.strip()] if gpus else _visible_gpus()
    return [f"cuda:{index}" for index in chosen] or ["cpu"]


class _TrackerColumn(ProgressColumn):
    """A column drawn from the batch's tracker at every refresh, so running times and the estimate keep moving."""

    def __init__(self, text: Callable[[], str], style: str = ""):
        super().__init__()
        self._text, self._style = text, style

    def render(self, task: Task) -> Text:
        return Text(safe(self._text(), one_line=True), style=self._style)


def _progress(tracker: Tracker) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[failures]} failed"),
        TimeElapsedColumn(),
        _TrackerColumn(tracker.left_text),
        _TrackerColumn(tracker.running_text, style="dim"),
        console=console,
    )


def _class_table(results: list[GradeResult]) -> Table:
    table = Table(title="Class summary")
    for column in ("exercise", "submitted", "graded", "mean %", "problems"):
        table.add_column(column, justify="left" if column == "exercise" else "right")
    for exercise in sorted({r.exercise for r in results}):
        rows = [r for r in results if r.exercise == exercise]
        submitted = [r for r in rows if r.status != "not_submitted"]
        mean = sum(r.percent for r in submitted) / len(submitted) if submitted else 0.0
        problems = sum(dashboard.failed(r) for r in rows)  # replayed to full marks is no problem
        table.add_row(exercise, str(len(submitted)), str(sum(r.status == "graded" for r in rows)), f"{mean:.1f}",
                      str(problems))
    return table


def _start_while_validating(course: Course, plan: BatchPlan, options: Options) -> Launched | WorkerPool | None:
    """Launch the first notebook's kernel (or spawn the pool's workers), then finish validating the rubrics while it
    boots.

    The check types live in the exercise modules, which load torch: a second or more that the kernel's own start-up
    (which loads torch too) now hides. A broken rubric still stops everything before any student code runs. When
    every notebook's stored result is reused, nothing runs: neither a kernel nor torch is started.
    """
    if first_to_grade(plan, options) is None:
        return None
    first = start_first(plan, options)
    try:
        course.check_types()
        importlib.import_module("grader.summary")  # pandas, needed at the end: loaded now, while the kernel boots
    except BaseException:
        if first is not None:
            first.close()
        raise
    return first


def _write_similarity(out_dir: Path, course: Course) -> int:
    """OUT/similarity.csv and .html from the stored results; the number of flagged pairs."""
    from grader import similarity  # copydetect loads matplotlib: not on the way to the first kernel

    stored, _ = report.load_results(out_dir)
    outcomes = similarity.class_similarity(stored, course.rubrics, course.root)
    similarity.write_similarity(out_dir, outcomes)
    return sum(len(outcome.flagged) for outcome in outcomes)


def _write_summary(out_dir: Path, course: Course) -> tuple[list[GradeResult], list[str]]:
    """Rebuild grades.csv and index.html from every stored result."""
    from grader import summary  # pandas: not on the way to the first kernel (see _start_while_validating)

    stored, problems = report.load_results(out_dir)
    summary.write_summary(out_dir, stored, course.rubrics, problems)
    return stored, problems


def cmd_grade(args: argparse.Namespace) -> int:
    devices = _devices(args.gpus)
    cores = available_cores()
    workers = workers_for(args.workers, devices, cores)
    course = Course.load(args.course, check_types=False)
    rubrics = course.select(args.exercise)
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    source = cli_lms.prepare_source(args, rubrics, out_dir)
    found = discover(source, list(rubrics), args.student)
    cli_lms.add_roster_students(found, args, list(rubrics))
    for line in data.prepare({name for rubric in rubrics.values() for name in rubric.data}, args.quick):
        errors.print(f"[yellow]missing data[/] {line}; notebooks that need it are reported as errors", highlight=False)
    for line in found.ignored:
        errors.print(f"[yellow]ignored[/] {safe(line, one_line=True)}")
    cli_env.warn_not_built(course.root)
    # --student regrades the students named even when their stored results are still valid.
    options = Options(out_dir=out_dir, secret=course_secret(out_dir), quick=args.quick,
                      keep_workdirs=args.keep_workdirs, require_sandbox=args.require_sandbox,
                      memory_limit_mb=args.memory_limit_mb, disk_limit_mb=args.disk_limit_mb,
                      force=args.force or bool(args.student),
                      course_root=course.root, threads=thread_share(cores, workers))
    not_isolated = isolation_problem(options)
    if not_isolated:
        errors.print(f"[bold red]NOT ISOLATED[/]: {safe(not_isolated)}. Student notebooks will run with your user's full "
                     "access to files and network; use --require-sandbox to refuse instead.", highlight=False)
    jobs = [Job(submission, rubrics[submission.exercise]) for submission in found.submissions]
    plan = BatchPlan(jobs=jobs, devices=devices, workers=workers, cluster=args.cluster)
    first = _start_while_validating(course, plan, options)
    where = (f"on the Ray cluster {args.cluster!r}, as each rubric's resources allow" if args.cluster
             else f"on {', '.join(devices)} with {workers} worker(s), at most {options.threads} CPU thread(s) each")
    console.print(f"Grading {len(jobs)} notebooks ({len({j.submission.student for j in jobs})} students) "
                  f"{where}{' in quick mode' if args.quick else ''}.")
    tracker = Tracker([job.submission for job in jobs], workers, gradebook_priors(out_dir, set(rubrics)))
    with _progress(tracker) as progress:
        task = progress.add_task("grading", total=len(jobs), failures=0)

        def on_result(result: GradeResult) -> None:
            tracker.finished(result)
            failed = result.status in PROBLEM_STATUSES
            progress.update(task, advance=1, failures=progress.tasks[task].fields["failures"] + failed)

        try:
            grade_batch(plan, options, on_result, first, on_start=tracker.started)
            flagged = _write_similarity(out_dir, course)
        finally:
            # Rebuilt from the stored results, so an interrupted batch still leaves a consistent grades.csv.
            cli_lms.after_grading(out_dir, course)
            stored, problems = _write_summary(out_dir, course)
    for line in problems:
        errors.print(f"[yellow]skipped[/] {safe(line, one_line=True)}")
    cli_env.print_lacking_packages(stored, course.root)
    console.print(_class_table(stored))
    console.print(f"Grades: {out_dir / 'grades.csv'}   Class report: {out_dir / 'index.html'}   "
                  f"Similarity: {out_dir / 'similarity.html'} ({flagged} flagged pair{'s' if flagged != 1 else ''})")
    return 0


def cmd_similarity(args: argparse.Namespace) -> int:
    """Compare the stored results' notebooks again (after a rubric's threshold changed, or a partial grade)."""
    course = Course.load(args.course, check_types=False)
    if not report.load_results(args.out)[0]:
        raise FileNotFoundError(f"{args.out}: no graded results here (run grader grade first)")
    flagged = _write_similarity(args.out, course)
    _write_summary(args.out, course)
    console.print(f"{flagged} flagged pair{'s' if flagged != 1 else ''}: {args.out / 'similarity.html'}, "
                  f"{args.out / 'similarity.csv'}")
    return 0


def _exercise_of(notebook: Path, explicit: str | None, course: Course) -> str:
    exercise = explicit or notebook.stem.lower()
    if exercise not in course.rubrics:
        raise RubricError([f"cannot tell which exercise {notebook.name} is: name it <exercise>.ipynb or pass "
                           f"--exercise (known: {', '.join(sorted(course.rubrics))})"])
    return exercise


def _check_table(result: GradeResult) -> Table:
    """The public checks, failing ones first: the first row is the first thing to fix."""
    table = Table(title=f"{safe(result.title)}: {safe(result.notebook, one_line=True)}", show_lines=True)
    table.add_column("check")
    table.add_column("points", justify="right")
    table.add_column("result")
    table.add_column("reason", overflow="fold")
    colours = {"pass": "green", "partial": "yellow", "fail": "red", student_view.REVIEW: "yellow"}
    for check in student_view.public_checks(result):
        verdict = student_view.verdict(check)
        table.add_row(safe(check.title), f"{check.points:g}/{check.max_points:g}", f"[{colours[verdict]}]{verdict}",
                      safe(check.message))
    return table


def _print_cell_problems(result: GradeResult) -> None:
    cli_env.print_skipped(result)
    for cell in student_view.problem_cells(result):
        console.print(f"[red]{safe(student_view.cell_line(cell))}[/]")


def cmd_check(args: argparse.Namespace) -> int:
    course = Course.load(args.course, check_types=False)
    exercise = _exercise_of(args.notebook, args.exercise, course)
    rubric = course.rubrics[exercise]
    missing = data.prepare(set(rubric.data), not args.full)
    if missing:
        raise data.DataMissing(missing[0])
    cli_env.warn_not_built(course.root)
    device = _devices(None)[0]  # the student's GPU when there is one
    with tempfile.TemporaryDirectory(prefix="grader-check-") as scratch:
        out_dir = Path(scratch)
        options = Options(out_dir=out_dir, secret=course_secret(out_dir), quick=not args.full, course_root=course.root)
        unsandboxed = isolation_problem(options)
        if unsandboxed:
            errors.print(f"[yellow]unsandboxed[/]: {safe(unsandboxed)}; your notebook runs with your own permissions "
                         "(it is your code).", highlight=False)
        submission = Submission("you", exercise, args.notebook)
        first = _start_while_validating(course, BatchPlan(jobs=[Job(submission, rubric)], devices=[device]), options)
        with console.status(f"Running {safe(args.notebook.name, one_line=True)} and checking it against the "
                            f"{exercise} rubric on {device}…"):
            result = grade_one(submission, rubric, replace(options, device=device, check_device=device), first)
    if args.report is not None:
        report.write_atomic(args.report, student_view.public_result(result).model_dump_json(indent=2))
    if result.status in ("invalid_notebook", "error"):
        errors.print(f"[red]{result.status}[/]: {safe(result.message)}")
        return 1
    _print_cell_problems(result)
    first_fix = student_view.first_to_fix(result)
    if first_fix:
        console.print(f"[bold red]{safe(first_fix)}[/]")
    console.print(_check_table(result))
    # Written answers (manual checks) are read by a TA after the deadline: neither counted nor failed here.
    public = [c for c in result.checks if c.visibility == "public" and c.type != "manual"]
    earned = sum(c.points for c in public)
    hidden = student_view.hidden_sentence(student_view.withheld_of(result, kit.withheld_in(course.root, exercise)))
    console.print(f"Public checks: {earned:g} / {sum(c.max_points for c in public):g} points."
                  + (f"  {safe(hidden)}" if hidden else ""))
    if result.message:
        console.print(f"[yellow]Note:[/] {safe(result.message)}")
    return 0 if all(c.passed for c in public) else 1


def cmd_reference(args: argparse.Namespace) -> int:
    course = Course.load(args.course)
    rubrics = course.select(args.exercise)
    for line in data.prepare({name for rubric in rubrics.values() for name in rubric.data}, args.quick):
        errors.print(f"[yellow]missing data[/] {line}", highlight=False)
    cli_env.warn_not_built(course.root)
    failures = 0
    table = Table(title="Reference notebooks")
    for column in ("exercise", "score", "status", "time"):
        table.add_column(column)
    with tempfile.TemporaryDirectory(prefix="grader-reference-") as scratch:
        out_dir = Path(scratch)
        options = Options(out_dir=out_dir, secret=course_secret(out_dir), quick=args.quick, course_root=course.root)
        for exercise, rubric in rubrics.items():
            notebook = course.reference_notebook(exercise)
            submission = Submission("reference", exercise, notebook if notebook.is_file() else None)
            with console.status(f"Running reference/{exercise}.ipynb…"):
                result = grade_one(submission, rubric, options)
            perfect = result.status == "graded" and result.score == result.max_score
            failures += not perfect
            table.add_row(exercise, f"{result.score:g}/{result.max_score:g}",
                          "[green]ok" if perfect else f"[red]{result.status}", f"{result.duration_s:.1f}s")
            if not perfect:
                for check in result.checks:
                    if not check.passed:
                        errors.print(f"[red]{exercise}.{check.id}[/]: {safe(check.message)}")
                if result.message:
                    errors.print(f"[red]{exercise}[/]: {safe(result.message)}")
    console.print(table)
    return 1 if failures else 0


def cmd_rubric_validate(args: argparse.Namespace) -> int:
    path: Path | None = args.path
    try:
        if path is not None and path.is_file():
            rubrics = {"": load_rubric(path)}
        else:
            rubrics = load_rubrics(path if path is not None else Course.load(args.course).root / "rubrics")
    except RubricError as error:
        for line in error.lines:
            print(line, file=sys.stderr)
        return 1
    for rubric in rubrics.values():
        bonus = sum(check.points for check in rubric.checks if check.bonus)
        console.print(f"ok: {rubric.exercise} ({len(rubric.checks)} checks, {rubric.max_score:g} points"
                      + (f" + {bonus:g} bonus)" if bonus else ")"))
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    if args.cache is not None:
        os.environ["GRADER_CACHE"] = str(args.cache.resolve())
    if args.data_command == "status":
        table = Table(title=f"Staged data in {data.cache_dir()}")
        columns = ("dataset", "variant", "staged", "size_mb", "checksums", "path")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in data.status():
            table.add_row(*(row[column] for column in columns))
        console.print(table)
        return 0
    names = sorted(data.load_builtin_datasets()) if args.name == ["all"] else args.name
    for name in names:
        folder = data.build(name, quick=args.data_command == "synth")
        console.print(f"[green]staged[/] {name} → {folder}")
    return 0


def _limit_lines(course: Course) -> list[tuple[bool, str]]:
    """The limits every notebook runs under, per exercise and for all, and whether the disk can hold one notebook."""
    lines = []
    for exercise, rubric in sorted(course.rubrics.items()):
        timeouts = rubric.timeouts
        lines.append((True, f"{exercise}: memory {rubric.memory_limit_mb} MiB, disk {rubric.disk_limit_mb} MiB, "
                            f"{timeouts.cell:g} s a cell, {timeouts.notebook:g} s the notebook (replays included), "
                            f"{timeouts.probe:g} s the probe"))
    lines.append((True, f"every notebook: at most {execute.PROCESS_LIMIT} processes; /dev/shm capped at its memory "
                        f"limit; the grader's own memory holding its output counts in that limit; messages from the "
                        f"kernel up to {execute.MESSAGE_CAP_BYTES // 2**20} MiB, {execute.OUTPUT_CAP_BYTES // 2**20} "
                        f"MiB of output kept per cell; at most {execute.FILE_LIMIT} files"))
    work_root = Path(tempfile.gettempdir())
    free_mb = disk.free_bytes(work_root) // 2**20
    largest = max((rubric.disk_limit_mb for rubric in course.rubrics.values()), default=0)
    lines.append((free_mb >= largest, f"disk quota: each notebook's work dir, /tmp and runtime folder in {work_root} "
                                      f"({free_mb / 1024:.1f} GiB free) are measured every "
                                      f"{execute.DISK_POLL_EVERY * execute.POLL_S:.1f} s; over the rubric's disk "
                                      "limit the kernel is stopped (status disk_limit)"
                                      + ("" if free_mb >= largest else
                                         f": less free space than one notebook may write ({largest} MiB)")))
    return lines


def cmd_doctor(args: argparse.Namespace) -> int:
    """Whether kernels will be isolated here, and why not, and the limits they run under; with --require-sandbox,
    fail when they will not be isolated."""
    report_lines = sandbox.doctor()
    for ok, line in report_lines:
        console.print(f"[green]ok[/]   {safe(line)}" if ok else f"[red]FAIL[/] {safe(line)}", highlight=False)
    isolated = all(ok for ok, _ in report_lines)
    for ok, line in _limit_lines(Course.load(args.course, check_types=False)):
        console.print(f"[green]limit[/] {safe(line)}" if ok else f"[yellow]WARN[/] {safe(line)}", highlight=False)
    console.print(safe(sandbox.describe()), highlight=False)
    cli_env.print_doctor(args.course)
    return 0 if isolated or not args.require_sandbox else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description=__doc__)
    parser.add_argument("--course", type=Path, help="folder holding rubrics/ and reference/ (default: here, else the grader's checkout)")
    commands = parser.add_subparsers(dest="command", required=True)

    grade = commands.add_parser("grade", help="grade every (student, exercise) in a submissions folder")
    grade.add_argument("submissions", type=Path, help="a folder of student folders, or an LMS export (zip or folder)")
    grade.add_argument("--out", type=Path, default=Path("reports"))
    grade.add_argument("--exercise", nargs="+", help="only these exercises")
    grade.add_argument("--student", nargs="+", help="only these students")
    grade.add_argument("--workers", type=int,
                       help="notebooks graded at once (default: one per GPU, else one per CPU core)")
    grade.add_argument("--gpus", help="comma-separated GPU indices, e.g. 0,1 (default: all visible)")
    grade.add_argument("--cluster", metavar="ADDRESS",
                       help="grade on Ray (pip install -e '.[cluster]'): 'local' starts one here, 'auto' or "
                            "ray://HOST:PORT joins a running cluster; --workers and --gpus are then unused")
    grade.add_argument("--quick", action="store_true", help="small data, for a fast pass")
    grade.add_argument("--keep-workdirs", action="store_true", help="keep each work dir for debugging")
    grade.add_argument("--force", action="store_true", help="regrade even when a stored result is still valid")
    grade.add_argument("--require-sandbox", action="store_true",
                       help="refuse to run notebooks when they cannot be isolated (no bubblewrap)")
    grade.add_argument("--memory-limit-mb", type=int, help="memory limit per notebook (default: the rubric's)")
    grade.add_argument("--disk-limit-mb", type=int,
                       help="what a notebook may write into its work dir and /tmp (default: the rubric's)")
    cli_lms.add_grade_options(grade)
    grade.set_defaults(run=cmd_grade)

    similar = commands.add_parser("similarity", help="flag pairs of students whose code is unusually alike")
    similar.add_argument("--out", type=Path, default=Path("reports"), help="the folder grader grade wrote")
    similar.set_defaults(run=cmd_similarity)

    doctor = commands.add_parser("doctor", help="check whether student notebooks will run isolated here")
    doctor.add_argument("--require-sandbox", action="store_true", help="exit 1 when they will not")
    doctor.set_defaults(run=cmd_doctor)

    check = commands.add_parser("check", help="self-check one notebook before submitting")
    check.add_argument("notebook", type=Path)
    check.add_argument("--exercise")
    check.add_argument("--full", action="store_true", help="full data instead of quick mode")
    check.add_argument("--report", type=Path, help="write the result's JSON (public checks only) to this file")
    # SUPPRESS: a --course given before `check` is not overwritten by this one's default.
    check.add_argument("--course", type=Path, default=argparse.SUPPRESS,
                       help="the course folder or a student kit (default: here, else $GRADER_COURSE)")
    check.set_defaults(run=cmd_check)

    reference = commands.add_parser("reference", help="run the reference notebooks; each must score 100%%")
    reference.add_argument("--exercise", nargs="+")
    reference.add_argument("--quick", action="store_true")
    reference.set_defaults(run=cmd_reference)

    data_parser = commands.add_parser("data", help="stage datasets and models for offline grading")
    data_commands = data_parser.add_subparsers(dest="data_command", required=True)
    for verb, text in (("fetch", "download from the official source (checksummed, resumable)"),
                       ("synth", "build the small quick-mode stand-in locally, no network")):
        command = data_commands.add_parser(verb, help=text)
        command.add_argument("name", nargs="+", help="dataset name, or 'all'")
        command.add_argument("--cache", type=Path, help="cache folder (default: $GRADER_CACHE, else ~/.cache/grader)")
        command.set_defaults(run=cmd_data)
    status = data_commands.add_parser("status", help="what is staged, with sizes and checksums")
    status.add_argument("--cache", type=Path, help="cache folder (default: $GRADER_CACHE, else ~/.cache/grader)")
    status.set_defaults(run=cmd_data)

    cli_env.add_commands(commands)
    cli_kit.add_commands(commands)
    cli_lms.add_commands(commands)

    rubric = commands.add_parser("rubric", help="rubric tools")
    rubric_commands = rubric.add_subparsers(dest="rubric_command", required=True)
    validate = rubric_commands.add_parser("validate", help="check rubric files against the schema")
    validate.add_argument("path", type=Path, nargs="?")
    validate.set_defaults(run=cmd_rubric_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except RubricError as error:
        for line in error.lines:
            print(line, file=sys.stderr)
        return 2
    except data.DataMissing as error:
        print(error, file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    except (SandboxRequired, BadWorkers) as error:
        errors.print(f"refused: {error}", highlight=False, markup=False)
        return 2
    except ClusterError as error:
        errors.print(str(error), highlight=False, markup=False)
        return 2
    except KeyboardInterrupt:
        errors.print("interrupted: results graded so far are kept in the output folder")
        return 130


def exit_now(code: int) -> NoReturn:
    """Exit without the interpreter's teardown of torch's modules (about a second, on the critical path of every
    grading command). Every non-daemon thread is joined and every atexit handler runs first, as in a normal exit
    (kernels stopped, logs flushed, temporary folders removed); what is skipped is freeing memory that the operating
    system takes back anyway."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run() -> NoReturn:
    """The `grader` command."""
    exit_now(main())


if __name__ == "__main__":
    run()
