"""Wall time of `grader grade` on one submission against `jupyter nbconvert --execute` on the same notebook, and what
the measuring kernel costs against the old probe step.

Usage: python benchmarks/grade_vs_nbconvert.py [--runs 7] [--notebook submissions/adi_slides/conv1d.ipynb]

Every command runs as a fresh process, in turn, so that caches and background load affect them alike:
`jupyter nbconvert --execute`, `grader grade`, and `grader grade` with the old probe step (the probe cell in the
notebook's own kernel: the exercise's spec with `measured_apart=False`, in this script's own `--old-step` process).
Prints each run, the medians, the ratio grade/nbconvert (target: at most 1.20 since the measuring kernel, 1.10
before), the measuring kernel's phases read from each result's `execution.measuring`, and the old step's probe time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("launched_after_s", "boot_s", "cells_s", "probe_s", "waited_s")


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{completed.stderr[-2000:]}")
    return elapsed


def grade_with_old_step(arguments: list[str]) -> int:
    """`grader grade` with the exercise probed in the notebook's own kernel, as before the measuring kernel."""
    from grader import cli, registry
    from grader.rubric import load_rubric

    exercise_id = arguments[arguments.index("--exercise") + 1]
    package = load_rubric(ROOT / "rubrics" / f"{exercise_id}.yaml").module_name
    exercise = registry.load_exercise(package)
    registry._exercises[package] = replace(exercise, measured_apart=False)
    registry.declares_measured_apart = lambda name: False
    return cli.main(arguments)


def result_of(reports: Path, exercise: str) -> dict:
    return json.loads(next(reports.glob(f"*/{exercise}.json")).read_text(encoding="utf-8"))


def median_line(label: str, values: list[float]) -> str:
    return f"{label}: median {statistics.median(values):.2f}s ({', '.join(f'{value:.2f}' for value in values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--notebook", type=Path, default=ROOT / "submissions" / "adi_slides" / "conv1d.ipynb")
    parser.add_argument("--old-step", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.old_step is not None:
        from grader import cli

        cli.exit_now(grade_with_old_step(args.old_step))  # the same exit as `grader grade`
    exercise = args.notebook.stem
    print(f"load before: {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as scratch:
        scratch_dir = Path(scratch)
        submissions = scratch_dir / "submissions" / "student"
        submissions.mkdir(parents=True)
        shutil.copy(args.notebook, submissions / f"{exercise}.ipynb")
        grade_arguments = ["--course", str(ROOT), "grade", str(submissions.parent), "--exercise", exercise, "--out"]
        grade = [sys.executable, "-m", "grader.cli", *grade_arguments]
        old_step = [sys.executable, str(Path(__file__).resolve()), "--old-step", *grade_arguments]
        nbconvert = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                     str(submissions / f"{exercise}.ipynb"), "--output-dir", str(scratch_dir / "nbconvert")]
        timed(nbconvert, scratch_dir)  # warm the file cache for both
        grade_times, nbconvert_times, old_times = [], [], []
        phases: dict[str, list[float]] = {phase: [] for phase in PHASES}
        old_probe: list[float] = []
        for run in range(1, args.runs + 1):
            nbconvert_times.append(timed(nbconvert, scratch_dir))
            # A fresh output folder per run, so no earlier result is reused.
            reports, old_reports = scratch_dir / f"reports-{run}", scratch_dir / f"old-{run}"
            grade_times.append(timed([*grade, str(reports)], scratch_dir))
            old_times.append(timed([*old_step, str(old_reports)], scratch_dir))
            measuring = result_of(reports, exercise)["execution"].get("measuring") or {}
            for phase in PHASES:
                phases[phase].append(float(measuring.get(phase, 0.0)))
            old_probe.append(float(result_of(old_reports, exercise)["execution"]["probe"]["duration_s"]))
            print(f"run {run}: nbconvert {nbconvert_times[-1]:.2f}s  grader {grade_times[-1]:.2f}s  "
                  f"grader with the old step {old_times[-1]:.2f}s  measuring "
                  + " ".join(f"{phase} {phases[phase][-1]:.2f}" for phase in PHASES), flush=True)
    grade_median, nbconvert_median = statistics.median(grade_times), statistics.median(nbconvert_times)
    old_median = statistics.median(old_times)
    print(f"load after: {os.getloadavg()[0]:.1f}")
    print(f"median nbconvert --execute: {nbconvert_median:.2f}s")
    print(f"median grader grade:        {grade_median:.2f}s")
    print(f"median grader, old step:    {old_median:.2f}s")
    for phase in PHASES:
        print(median_line(f"measuring kernel {phase}", phases[phase]))
    print(median_line("old step's probe cell (in the notebook's kernel)", old_probe))
    print(f"measuring step's cost per notebook (grade - old step, medians): {grade_median - old_median:+.2f}s")
    print(f"ratio grade/nbconvert:      {grade_median / nbconvert_median:.3f} (target <= 1.20)")
    print(f"ratio old step/nbconvert:   {old_median / nbconvert_median:.3f}")


if __name__ == "__main__":
    main()
