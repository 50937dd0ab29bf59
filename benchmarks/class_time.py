"""Time a whole class: wall and CPU seconds of `grader grade --quick`, per exercise and per notebook, for 1 or more
workers, with the machine's load alongside.

Usage:
    python benchmarks/class_time.py                                   # the example class, --workers 1
    python benchmarks/class_time.py --exercise conv1d gru rnn_lm --copies 2 --workers 1 2 --rounds 2

Each run is a fresh `grader grade` process into a fresh output folder. CPU seconds come from each result's `cpu_s`
(the grading worker's own CPU plus its kernels' process trees, polled), so other jobs on a shared machine inflate
them far less than wall time; `reaped_cpu_s` is getrusage's count for the command, which misses kernel processes
that end inside their sandbox's PID namespace without a parent waiting for them; `machine_busy_cpu_s` and
`cores_busy` come from /proc/stat: the whole machine's CPU over the run (other jobs included: run it on an idle
machine), which says how many cores one worker already keeps busy. `--copies N` grades
N copies of the class (students renamed) so that light exercises give the pool enough notebooks; `--rounds R`
alternates the worker counts R times. Prints one JSON object: every run, and per worker count the median wall time,
the speed-up over the first worker count, and what the CPU seconds imply for 2 idle cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def copy_class(source: Path, target: Path, copies: int, exercises: list[str] | None) -> Path:
    for copy in range(copies):
        for student in sorted(p for p in source.iterdir() if p.is_dir()):
            folder = target / (student.name if copies == 1 else f"{student.name}-{copy}")
            for notebook in student.glob("*.ipynb"):
                if exercises is None or notebook.stem.lower() in exercises:
                    folder.mkdir(parents=True, exist_ok=True)
                    shutil.copy(notebook, folder / notebook.name)
    return target


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_cpu_s() -> tuple[float, float]:
    """The whole machine's busy and idle CPU seconds so far (/proc/stat): what every process used, kernels in their
    sandboxes included, whatever polling misses."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / ticks, idle / ticks


def per_exercise(out: Path) -> dict[str, dict[str, float]]:
    """Count, total and largest wall and CPU seconds of the notebooks that ran, per exercise."""
    rows: dict[str, list[tuple[float, float]]] = {}
    for path in out.glob("*/*.json"):
        result = json.loads(path.read_text())
        if result["execution"]["cells"]:
            rows.setdefault(result["exercise"], []).append((result["duration_s"], result.get("cpu_s", 0.0)))
    return {exercise: {"notebooks": len(values), "wall_s": round(sum(w for w, _ in values), 1),
                       "cpu_s": round(sum(c for _, c in values), 1), "max_wall_s": round(max(w for w, _ in values), 1),
                       "max_cpu_s": round(max(c for _, c in values), 1)}
            for exercise, values in sorted(rows.items())}


def grade(submissions: Path, out: Path, workers: int, exercises: list[str] | None) -> dict:
    command = [sys.executable, "-m", "grader.cli", "--course", str(ROOT), "grade", str(submissions), "--out", str(out),
               "--quick", "--workers", str(workers), *(["--exercise", *exercises] if exercises else [])]
    load_before = os.getloadavg()[0]
    (busy_before, idle_before), cpu_before, started = machine_cpu_s(), children_cpu_s(), time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall_s, cpu_s = time.perf_counter() - started, children_cpu_s() - cpu_before
    busy_after, idle_after = machine_cpu_s()
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}")
    return {"workers": workers, "wall_s": round(wall_s, 1), "reaped_cpu_s": round(cpu_s, 1),
            "machine_busy_cpu_s": round(busy_after - busy_before, 1),
            "cores_busy": round((busy_after - busy_before) / wall_s, 2),
            "machine_idle_cpu_s": round(idle_after - idle_before, 1),
            "notebooks_cpu_s": round(sum(row["cpu_s"] for row in per_exercise(out).values()), 1),
            "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)], "per_exercise": per_exercise(out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=Path, default=ROOT / "submissions")
    parser.add_argument("--exercise", nargs="+", help="only these exercises (default: all)")
    parser.add_argument("--workers", nargs="+", type=int, default=[1])
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep each run's output folder here (default: removed)")
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="grader-class-") as scratch:
        submissions = copy_class(args.submissions, Path(scratch) / "submissions", args.copies, args.exercise)
        for round_number in range(args.rounds):
            for workers in args.workers:
                out = (args.keep or Path(scratch)) / f"out-{round_number}-{workers}"
                runs.append({"round": round_number, **grade(submissions, out, workers, args.exercise)})
                if args.keep is None:
                    shutil.rmtree(out)
    by_workers = {workers: [run for run in runs if run["workers"] == workers] for workers in args.workers}
    base = statistics.median(run["wall_s"] for run in by_workers[args.workers[0]])
    summary = {workers: {"median_wall_s": statistics.median(run["wall_s"] for run in group),
                         "median_cpu_s": statistics.median(run["notebooks_cpu_s"] for run in group),
                         "speed_up": round(base / statistics.median(run["wall_s"] for run in group), 2),
                         "median_cores_busy": statistics.median(run["cores_busy"] for run in group),
                         "two_idle_cores_s_at_least": round(statistics.median(run["notebooks_cpu_s"] for run in group) / 2,
                                                            1)}
               for workers, group in by_workers.items()}
    print(json.dumps({"runs": runs, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
