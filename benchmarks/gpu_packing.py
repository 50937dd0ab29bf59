"""Several light notebooks on one GPU: a class of reference notebooks graded one at a time, then K at once.

Usage (on a machine with an NVIDIA GPU):

    python benchmarks/gpu_packing.py [--copies 4] [--workers 8] [--exercise conv1d gru rnn_lm imdb] [--out DIR]

Builds a class of `--copies` students, each submitting the reference notebook of every exercise named, grades it
with `grader grade --quick --gpus 0 --workers 1`, then again into a fresh output folder with `--workers K` (all K
workers pinned to GPU 0). While each run lasts, `nvidia-smi` is polled every 0.2 s for every compute process's GPU
memory. Prints wall times, the throughput ratio, the peak GPU memory of the largest kernel, the scores, and the
device each report names; writes `gpu_packing.json` into `--out`.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class GpuMemoryPoller:
    """Peak GPU memory per compute process (MiB), read from nvidia-smi while a run lasts."""

    def __init__(self) -> None:
        self.peak_by_pid: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        query = ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"]
        while not self._stop.wait(0.2):
            listing = subprocess.run(query, capture_output=True, text=True).stdout
            for line in listing.splitlines():
                pid, _, used = line.partition(",")
                if used.strip().isdigit():
                    self.peak_by_pid[pid.strip()] = max(self.peak_by_pid.get(pid.strip(), 0.0), float(used))

    def __enter__(self) -> "GpuMemoryPoller":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def build_class(root: Path, copies: int, exercises: list[str]) -> Path:
    submissions = root / "submissions"
    for index in range(copies):
        student = submissions / f"student{index:02d}"
        student.mkdir(parents=True)
        for exercise in exercises:
            shutil.copy(ROOT / "reference" / f"{exercise}.ipynb", student / f"{exercise}.ipynb")
    return submissions


def grade(submissions: Path, out: Path, workers: int, exercises: list[str]) -> dict:
    command = [sys.executable, "-m", "grader.cli", "grade", str(submissions), "--out", str(out), "--quick",
               "--gpus", "0", "--workers", str(workers), "--exercise", *exercises]
    with GpuMemoryPoller() as poller:
        started = time.perf_counter()
        completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        wall_s = time.perf_counter() - started
    rows = list(csv.DictReader((out / "grades.csv").open())) if (out / "grades.csv").exists() else []
    devices = sorted({json.loads(path.read_text())["environment"]["device"]
                      for path in out.glob("*/*.json") if json.loads(path.read_text()).get("environment")})
    return {"workers": workers, "wall_s": round(wall_s, 1), "returncode": completed.returncode,
            "notebooks": len(rows), "devices": devices,
            "scores": sorted({f"{row['exercise']} {row['score']}/{row['max_score']} {row['status']}" for row in rows}),
            "peak_gpu_mib_per_kernel": max(poller.peak_by_pid.values(), default=0.0),
            "gpu_processes_seen": len(poller.peak_by_pid), "stderr_tail": completed.stderr[-1500:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--exercise", nargs="+", default=["conv1d", "gru", "rnn_lm", "imdb"])
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="grader-gpu-") as scratch:
        submissions = build_class(Path(scratch), args.copies, args.exercise)
        runs = [grade(submissions, Path(scratch) / f"out{workers}", workers, args.exercise)
                for workers in (1, args.workers)]
    one, packed = runs
    summary = {"runs": runs, "throughput_ratio": round(one["wall_s"] / packed["wall_s"], 2)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_packing.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
