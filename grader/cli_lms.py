"""The TA's week around `grader grade`: LMS intake (zip, roster, due time), and the `export`, `feedback`,
`override` and `review` commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from grader import finalize, late, overrides, report
from grader.course import Course
from grader.discover import Discovery, Submission
from grader.intake import ExportError, is_lms_export, run_intake
from grader.intake.roster import read_roster
from grader.rubric import Rubric, RubricError
from grader.terminal import safe

console = Console(emoji=False)
errors = Console(stderr=True, emoji=False)


# ---------------------------------------------------------------- grade: before and after


def add_grade_options(grade: argparse.ArgumentParser) -> None:
    grade.add_argument("--roster", type=Path, help="CSV of the students expected: those with nothing get not_submitted rows")
    grade.add_argument("--due", help="due time with its zone, e.g. 2026-12-01T23:59+07:00 (late penalty: the rubric's)")
    grade.add_argument("--worksheet", type=Path,
                       help="Moodle grading worksheet: submission times from 'Last modified (submission)'")


def prepare_source(args: argparse.Namespace, rubrics: dict[str, Rubric], out_dir: Path) -> Path:
    """The folder to grade: an LMS export is unpacked and matched into OUT (intake.csv); a plain folder as it is."""
    due = None
    if args.due:
        try:
            due = late.parse_due(args.due)
        except ValueError as error:
            raise RubricError([str(error)]) from None
        late.save_due(out_dir, due)
    roster = read_roster(args.roster) if args.roster else []
    intake_json = out_dir / ".grader" / "intake.json"
    if not is_lms_export(args.submissions):
        intake_json.unlink(missing_ok=True)
        return args.submissions
    zone = due.tzinfo if due else None
    try:
        run = run_intake(args.submissions, rubrics, out_dir, zone, roster)
    except ExportError as error:
        raise FileNotFoundError(f"{args.submissions}: {error}") from None
    if args.worksheet:
        _times_from_worksheet(run, args.worksheet, zone, out_dir)
    graded = sum(len(by) for by in run.chosen.values())
    flagged = sum(c.flagged for by in run.chosen.values() for c in by.values())
    console.print(f"Intake: {len(run.names)} students, {graded} notebooks matched"
                  + (f", {flagged} flagged (ambiguous or guessed)" if flagged else "")
                  + f"; every file and how it was matched: {out_dir / 'intake.csv'}")
    return run.folder


def _times_from_worksheet(run, worksheet: Path, zone, out_dir: Path) -> None:
    from grader.exports.moodle import WorksheetError, read_worksheet, submission_times
    from grader.report import write_atomic

    try:
        times = submission_times(read_worksheet(worksheet), zone)
    except (WorksheetError, OSError) as error:
        errors.print(f"[yellow]--worksheet ignored[/] {safe(str(error))}: submission times come from the export")
        return
    for student, by_exercise in run.chosen.items():
        for chosen in by_exercise.values():
            chosen.submitted_at = times.get(student, chosen.submitted_at)
    write_atomic(out_dir / ".grader" / "intake.json", run.to_json())


def add_roster_students(found: Discovery, args: argparse.Namespace, exercises: list[str]) -> None:
    """A plain folder with --roster: roster students without a folder get not_submitted rows."""
    if not args.roster or is_lms_export(args.submissions):
        return
    present = {s.student for s in found.submissions}
    for entry in read_roster(args.roster):
        if entry.student and entry.student not in present:
            found.submissions.extend(Submission(entry.student, exercise, None) for exercise in exercises)
            present.add(entry.student)


def after_grading(out_dir: Path, course: Course) -> None:
    """Overrides, reviews, lateness and the LMS's names applied to every stored result (idempotent)."""
    finalize.finalize_stored(out_dir, course.rubrics)


def _rebuild(out_dir: Path, course: Course, only: set[tuple[str, str]] | None = None) -> None:
    from grader import summary

    finalize.finalize_stored(out_dir, course.rubrics, only)
    stored, problems = report.load_results(out_dir)
    summary.write_summary(out_dir, stored, course.rubrics, problems)


def _results(out_dir: Path, exercises: list[str] | None = None):
    results, _ = report.load_results(out_dir)
    if not results:
        raise FileNotFoundError(f"{out_dir}: no graded results here (run `grader grade ... --out {out_dir}` first)")
    return [r for r in results if not exercises or r.exercise in exercises]


# ---------------------------------------------------------------- override


def cmd_override(args: argparse.Namespace) -> int:
    if args.list:
        return _list_overrides(args.out)
    if not all((args.student, args.exercise, args.check, args.points is not None)):
        errors.print("usage: grader override STUDENT EXERCISE CHECK POINTS --reason \"...\" (or --list)")
        return 2
    if not args.reason:
        errors.print("an override needs --reason: students and other TAs read it")
        return 2
    course = Course.load(args.course, check_types=False)
    results = {(r.student, r.exercise): r for r in _results(args.out)}
    result = results.get((args.student, args.exercise))
    if result is None:
        errors.print(f"no graded result for {safe(args.student)}/{safe(args.exercise)} in {args.out}")
        return 2
    if args.check == overrides.LATE:
        original, top = (result.late.penalty_points if result.late else 0.0), result.max_score
    else:
        check = next((c for c in result.checks if c.id == args.check), None)
        if check is None:
            errors.print(f"{safe(args.exercise)} has no check {safe(args.check)} (its checks: "
                         f"{', '.join(c.id for c in result.checks)}, and 'late' for the late penalty)")
            return 2
        original, top = (check.override.original_points if check.override else check.points), check.max_points
    if not 0 <= args.points <= top:
        errors.print(f"{args.points:g} points is outside 0–{top:g}")
        return 2
    record = overrides.add(args.out, (args.student, args.exercise, args.check), args.points, original, args.reason,
                           args.by)
    _rebuild(args.out, course, {(args.student, args.exercise)})
    updated = {(r.student, r.exercise): r for r in _results(args.out)}[(args.student, args.exercise)]
    console.print(f"{safe(args.student)}/{safe(args.exercise)}/{safe(args.check)}: {original:g} → {record.points:g} "
                  f"by {safe(record.by)} ({safe(record.reason)}); total now {updated.score:g}/{updated.max_score:g}")
    return 0


def _list_overrides(out_dir: Path) -> int:
    """One line per override ever stored, oldest first; a later one for the same check supersedes it."""
    rows = overrides.history(out_dir)
    current = overrides.current(out_dir)
    for row in rows:
        key = (str(row["student"]), str(row["exercise"]), str(row["check_id"]))
        superseded = current[key].at != row["at"] or current[key].points != row["points"]
        console.print(f"{safe('/'.join(key))}: {row['points']:g} (was {row['original_points']:g}) by "
                      f"{safe(str(row['by']))} at {row['at']}: {safe(str(row['reason']))}"
                      + (" [superseded]" if superseded else ""), soft_wrap=True, highlight=False)
    if not rows:
        console.print("No overrides.")
    return 0


# ---------------------------------------------------------------- review


def cmd_review(args: argparse.Namespace) -> int:
    from grader import review

    course = Course.load(args.course, check_types=False)
    if args.apply:
        entries, problems = review.read_filled(args.apply)
        stored, more = review.apply(args.out, entries, _results(args.out), args.by)
        for line in problems + more:
            errors.print(f"[yellow]skipped[/] {safe(line)}")
        _rebuild(args.out, course, {(e.student, e.exercise) for e in entries})
        console.print(f"{stored} review points stored as overrides ({args.apply}).")
        return 0 if not problems + more else 1
    if not args.exercise:
        errors.print("usage: grader review EXERCISE [--out DIR], or grader review --apply FILE")
        return 2
    rubric = course.select([args.exercise])[args.exercise]
    path = review.write_review(args.out, rubric, _results(args.out, [args.exercise]))
    console.print(f"Review page: {path}")
    return 0


# ---------------------------------------------------------------- export, feedback


def _exercises(args: argparse.Namespace, results) -> list[str]:
    graded = sorted({r.exercise for r in results})
    return args.exercise or graded


def cmd_export(args: argparse.Namespace) -> int:
    results = _results(args.out, args.exercise)
    if args.format == "gradescope":
        from grader.exports import gradescope

        written = gradescope.export(results, args.out)
        console.print(f"{len(written)} results.json files under {args.out / 'gradescope'}")
        return 0
    from grader.exports import moodle

    if args.worksheet is None:
        errors.print("grader export moodle needs --worksheet: the grading worksheet downloaded from the assignment")
        return 2
    exercises = _exercises(args, results)
    if len(exercises) > 1 and not args.exercise:
        console.print(f"[yellow]note[/] one Moodle grade from {', '.join(exercises)} together (their points summed); "
                      "pass --exercise to export one")
    try:
        sheet = moodle.read_worksheet(args.worksheet)
    except moodle.WorksheetError as error:
        errors.print(f"{args.worksheet}: {error}")
        return 2
    filled = moodle.fill(sheet, [r for r in results if r.exercise in exercises], args.out / "moodle_worksheet.csv")
    for line in filled.notes:
        errors.print(f"[yellow]note[/] {safe(line)}")
    console.print(f"{filled.filled} rows filled, {len(filled.unmatched)} left as they were (no graded notebook): "
                  f"{filled.path}")
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    from grader.feedback import write_feedback

    bundle, folders = write_feedback(_results(args.out, args.exercise), args.out)
    console.print(f"{len(folders)} feedback folders in {args.out / 'feedback'}; upload {bundle} to Moodle "
                  "(View all submissions → Upload multiple feedback files in a zip)")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    out_help = "the grading output folder (default: reports/)"
    export = commands.add_parser("export", help="grades into an LMS: Moodle's worksheet, Gradescope's results.json")
    export.add_argument("format", choices=["moodle", "gradescope"])
    export.add_argument("--worksheet", type=Path, help="(moodle) the grading worksheet downloaded from Moodle")
    export.add_argument("--exercise", nargs="+", help="only these exercises (moodle: their points summed)")
    export.add_argument("--out", type=Path, default=Path("reports"), help=out_help)
    export.set_defaults(run=cmd_export)

    feedback = commands.add_parser("feedback", help="per-student feedback folders and zips for Moodle's bulk upload")
    feedback.add_argument("--exercise", nargs="+")
    feedback.add_argument("--out", type=Path, default=Path("reports"), help=out_help)
    feedback.set_defaults(run=cmd_feedback)

    override = commands.add_parser("override", help="set a check's points (or the late penalty) by hand, with a reason")
    override.add_argument("student", nargs="?")
    override.add_argument("exercise", nargs="?")
    override.add_argument("check", nargs="?", help="a check id, or 'late' for the late penalty")
    override.add_argument("points", nargs="?", type=float)
    override.add_argument("--reason")
    override.add_argument("--by", help="who (default: $GRADER_TA, else the login name)")
    override.add_argument("--list", action="store_true", help="list every override")
    override.add_argument("--out", type=Path, default=Path("reports"), help=out_help)
    override.set_defaults(run=cmd_override)

    review = commands.add_parser("review", help="written answers side by side (manual checks); --apply stores points")
    review.add_argument("exercise", nargs="?")
    review.add_argument("--apply", type=Path, help="the CSV or JSON the review page saved")
    review.add_argument("--by", help="who (default: $GRADER_TA, else the login name)")
    review.add_argument("--out", type=Path, default=Path("reports"), help=out_help)
    review.set_defaults(run=cmd_review)
