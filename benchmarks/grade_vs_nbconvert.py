"""Wall time of `grader grade` on one submission against `jupyter nbconvert --execute` on the same notebook.

Usage: python benchmarks/grade_vs_nbconvert.py [--runs 7] [--notebook submissions/adi_slides/conv1d.ipynb]

Both commands run as fresh processes, alternating, so that caches and background load affect them alike.
Prints each run, the medians, and the ratio grade/nbconvert (target: at most 1.10).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{completed.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--notebook", type=Path, default=ROOT / "submissions" / "adi_slides" / "conv1d.ipynb")
    args = parser.parse_args()
    exercise = args.notebook.stem
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as scratch:
        scratch_dir = Path(scratch)
        submissions = scratch_dir / "submissions" / "student"
        submissions.mkdir(parents=True)
        shutil.copy(args.notebook, submissions / f"{exercise}.ipynb")
        grade = [sys.executable, "-m", "grader.cli", "--course", str(ROOT), "grade", str(submissions.parent),
                 "--exercise", exercise, "--out"]
        nbconvert = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                     str(submissions / f"{exercise}.ipynb"), "--output-dir", str(scratch_dir / "nbconvert")]
        timed(nbconvert, scratch_dir)  # warm the file cache for both
        grade_times, nbconvert_times = [], []
        for run in range(1, args.runs + 1):
            nbconvert_times.append(timed(nbconvert, scratch_dir))
            # A fresh output folder per run, so no earlier result is reused.
            grade_times.append(timed([*grade, str(scratch_dir / f"reports-{run}")], scratch_dir))
            print(f"run {run}: nbconvert {nbconvert_times[-1]:.2f}s  grader {grade_times[-1]:.2f}s", flush=True)
    grade_median, nbconvert_median = statistics.median(grade_times), statistics.median(nbconvert_times)
    print(f"median nbconvert --execute: {nbconvert_median:.2f}s")
    print(f"median grader grade:        {grade_median:.2f}s")
    print(f"ratio grade/nbconvert:      {grade_median / nbconvert_median:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
