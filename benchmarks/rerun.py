"""A rerun over an unchanged class against its first grading: wall time, the ratio, and whether torch was imported.

Usage: python benchmarks/rerun.py [--students 20] [--exercise conv1d] [--notebook reference/conv1d.ipynb]

Builds a class of `--students` students each submitting the same notebook, grades it with `grader grade --workers 1`
(a fresh process), then runs the same command again over the unchanged class with `python -X importtime`: every
result must be reused, no kernel started and torch never imported. Prints both wall times, the ratio (target at
most 5%), the CPU seconds of each (the first: its notebooks' `cpu_s`, grader and kernels; the rerun: the
command's, which starts no kernel), less inflated than wall time by a loaded machine, the load average
before, between and after, and the modules of the rerun that took longest to import.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def build_class(root: Path, students: int, notebook: Path, exercise: str) -> Path:
    submissions = root / "submissions"
    for index in range(students):
        folder = submissions / f"student{index:02d}"
        folder.mkdir(parents=True)
        shutil.copy(notebook, folder / f"{exercise}.ipynb")
    return submissions


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def grade(submissions: Path, out: Path, exercise: str, importtime: bool) -> tuple[float, float, str]:
    """Wall and CPU seconds of one `grader grade` (its kernels included), and its stderr."""
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "grader.cli", "--course",
               str(ROOT), "grade", str(submissions), "--out", str(out), "--exercise", exercise, "--workers", "1"]
    cpu_before, started = children_cpu_s(), time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall_s, cpu_s = time.perf_counter() - started, children_cpu_s() - cpu_before
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}")
    return wall_s, cpu_s, completed.stderr


def slowest_imports(stderr: str, count: int = 8) -> list[tuple[str, float]]:
    """Top-level packages of the rerun by cumulative import time (ms)."""
    totals: dict[str, float] = {}
    for match in IMPORT_LINE.finditer(stderr):
        if len(match.group(3)) <= 1:  # a top-level import: its cumulative time includes its children
            totals[match.group(4)] = totals.get(match.group(4), 0.0) + int(match.group(2)) / 1000
    return sorted(totals.items(), key=lambda item: -item[1])[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--exercise", default="conv1d")
    parser.add_argument("--notebook", type=Path, default=ROOT / "reference" / "conv1d.ipynb")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="grader-rerun-") as scratch:
        submissions = build_class(Path(scratch), args.students, args.notebook, args.exercise)
        out = Path(scratch) / "out"
        load_before = os.getloadavg()
        first_s, _, _ = grade(submissions, out, args.exercise, importtime=False)
        first_cpu_s = sum(json.loads(path.read_text())["cpu_s"] for path in out.glob("*/*.json"))
        load_between = os.getloadavg()
        rerun_s, rerun_cpu_s, stderr = grade(submissions, out, args.exercise, importtime=True)
        load_after = os.getloadavg()
    imported = {match.group(4) for match in IMPORT_LINE.finditer(stderr)}
    summary = {"students": args.students, "exercise": args.exercise, "first_s": round(first_s, 2),
               "rerun_s": round(rerun_s, 2), "ratio": round(rerun_s / first_s, 4),
               "first_cpu_s": round(first_cpu_s, 2), "rerun_cpu_s": round(rerun_cpu_s, 2),
               "cpu_ratio": round(rerun_cpu_s / first_cpu_s, 4),
               "rerun_imported_torch": "torch" in imported,
               "rerun_imported_jupyter_client": "jupyter_client" in imported,
               "load_average_1min": [round(load[0], 2) for load in (load_before, load_between, load_after)],
               "rerun_slowest_imports_ms": slowest_imports(stderr)}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
