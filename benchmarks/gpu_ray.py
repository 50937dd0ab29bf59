"""Several light notebooks packed on one GPU by Ray: one at a time vs eight at once, through `grader grade --cluster local`.

Usage (on a machine with an NVIDIA GPU, the cluster extra installed: pip install -e '.[cluster]'):

    python benchmarks/gpu_ray.py [--copies 2] [--share 0.125] [--exercise conv1d gru rnn_lm imdb] [--out DIR]

Builds a class of `--copies` students, each submitting the reference notebook of every exercise named (2 × 4 = 8
notebooks), and a copy of the course whose rubrics give each of those exercises `resources: {gpu: G, cpus: 1}`.
Grades the class with `--cluster local` (only GPU 0 visible, so Ray sees one GPU) twice, each into a fresh output
folder: with `gpu: 1` (one notebook on the GPU at a time) and with `gpu: --share` (1/share of them at once). NVML is
read every 0.1 s for every compute process's GPU memory. Prints the wall times, the throughput ratio, the peak GPU
memory per kernel process, the device and node each report names and the memory cap each kernel was given; writes
gpu_ray.json into --out.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MiB = 2**20


class NvmlPoller:
    """Peak GPU memory per compute process (MiB) and the GPU index it ran on, read through NVML while a run lasts."""

    def __init__(self) -> None:
        import pynvml  # nvidia-ml-py, in the cluster extra

        pynvml.nvmlInit()
        self.nvml = pynvml
        self.peak: dict[int, float] = {}
        self.device_of: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        nvml = self.nvml
        while not self._stop.wait(0.1):
            for index in range(nvml.nvmlDeviceGetCount()):
                for process in nvml.nvmlDeviceGetComputeRunningProcesses(nvml.nvmlDeviceGetHandleByIndex(index)):
                    used = (process.usedGpuMemory or 0) / MiB
                    self.peak[process.pid] = max(self.peak.get(process.pid, 0.0), used)
                    self.device_of[process.pid] = index

    def __enter__(self) -> "NvmlPoller":
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


def build_course(root: Path, exercises: list[str], gpu: float) -> Path:
    """This checkout's course, with each named exercise reserving `gpu` of a GPU and one CPU."""
    course = root / f"course-gpu{gpu:g}"
    shutil.copytree(ROOT / "rubrics", course / "rubrics")
    shutil.copytree(ROOT / "reference", course / "reference")
    shutil.copy(ROOT / "requirements-kernel.txt", course / "requirements-kernel.txt")
    for exercise in exercises:
        path = course / "rubrics" / f"{exercise}.yaml"
        raw = yaml.safe_load(path.read_text())
        raw["resources"] = {"gpu": gpu, "cpus": 1}
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return course


def grade(course: Path, submissions: Path, out: Path, exercises: list[str], gpu: float) -> dict:
    command = [sys.executable, "-m", "grader.cli", "--course", str(course), "grade", str(submissions), "--out",
               str(out), "--quick", "--cluster", "local", "--exercise", *exercises]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0"}  # Ray sees one GPU
    with NvmlPoller() as poller:
        started = time.perf_counter()
        completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        wall_s = time.perf_counter() - started
    rows = list(csv.DictReader((out / "grades.csv").open())) if (out / "grades.csv").exists() else []
    reports = [json.loads(path.read_text()) for path in out.glob("*/*.json")]
    placed = sorted({f"{r['environment']['device']} on {r['environment'].get('node', '')}"
                     for r in reports if r.get("environment")})
    return {"gpu_per_notebook": gpu, "wall_s": round(wall_s, 1), "returncode": completed.returncode,
            "notebooks": len(rows), "devices_in_reports": placed,
            "scores": sorted({f"{row['exercise']} {row['score']}/{row['max_score']} {row['status']}" for row in rows}),
            "gpu_processes_seen": len(poller.peak),
            "peak_gpu_mib_per_kernel": sorted((round(v) for v in poller.peak.values()), reverse=True),
            "gpu_index_of_kernels": sorted(set(poller.device_of.values())),
            "stderr_tail": completed.stderr[-1500:] if completed.returncode else ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--share", type=float, default=0.125)
    parser.add_argument("--exercise", nargs="+", default=["conv1d", "gru", "rnn_lm", "imdb"])
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="grader-gpu-ray-") as scratch:
        root = Path(scratch)
        submissions = build_class(root, args.copies, args.exercise)
        runs = [grade(build_course(root, args.exercise, gpu), submissions, root / f"out-gpu{gpu:g}", args.exercise,
                      gpu) for gpu in (1.0, args.share)]
    one, packed = runs
    summary = {"runs": runs, "throughput_ratio": round(one["wall_s"] / packed["wall_s"], 2),
               "same_scores": one["scores"] == packed["scores"]}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_ray.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
