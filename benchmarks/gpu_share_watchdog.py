"""Notebooks sharing one GPU, on a real GPU: the kernel's memory cap and the NVML watchdog (issue 13), without Ray.

Usage (on a machine with an NVIDIA GPU and nvidia-ml-py):

    python benchmarks/gpu_share_watchdog.py [--share 0.02] [--out DIR]

Grades three notebooks at once on cuda:0, each in its own `grade_batch` process with `gpu_share` set as a Ray task
sets it: the Conv1D reference with one more cell first.
- `neighbour`: holds 256 MiB on the GPU for 20 s, under its share; must be graded 100 on cuda:0.
- `over_in_kernel`: allocates twice its share inside the kernel; torch's per-process cap (set at the kernel's boot)
  must refuse it (OutOfMemoryError in that cell) and the rest be graded.
- `over_in_child`: starts a Python child that allocates twice the share (the kernel's own cap does not reach a
  child); the NVML watchdog must stop the kernel, status `memory_limit`.
Prints one JSON object: each notebook's status, score, message, the first cell's status and error, its device, how
long the grading took, and the GPU's total memory and the share in MiB; writes gpu_share_watchdog.json into --out.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MiB = 2**20

FIRST_CELLS = {
    "neighbour": "import time, torch\n_held = torch.empty({within}, dtype=torch.uint8, device='cuda')\ntime.sleep(20)\n",
    "over_in_kernel": "import torch\n_big = torch.empty({over}, dtype=torch.uint8, device='cuda')\n",
    "over_in_child": (
        "import subprocess, sys\n"
        "subprocess.run([sys.executable, '-c', 'import torch, time; "
        "x = torch.empty({over}, dtype=torch.uint8, device=\"cuda\"); time.sleep(120)'])\n"),
}


def _notebook(folder: Path, name: str, within: int, over: int) -> Path:
    notebook = json.loads((ROOT / "reference" / "conv1d.ipynb").read_text())
    first = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
             "source": FIRST_CELLS[name].format(within=within, over=over)}
    notebook["cells"] = [first, *notebook["cells"]]
    path = folder / name / "conv1d.ipynb"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(notebook))
    return path


def grade_one(name: str, share: float, out: Path) -> dict:
    """Grade one of the three notebooks as a task holding `share` of GPU 0 would be graded."""
    from grader.course import course_secret
    from grader.discover import Submission
    from grader.gpu_share import _nvml
    from grader.grade import BatchPlan, Job, Options, grade_batch
    from grader.rubric import load_rubric

    nvml = _nvml()
    total = nvml.nvmlDeviceGetMemoryInfo(nvml.nvmlDeviceGetHandleByIndex(0)).total
    limit = int(total * share)
    path = _notebook(out / "in", name, 256 * MiB, 2 * limit)
    options = Options(out_dir=out / "out" / name, secret=course_secret(out / "out" / name), quick=True,
                      course_root=ROOT, gpu_share=share)
    job = Job(Submission(name, "conv1d", path), load_rubric(ROOT / "rubrics" / "conv1d.yaml"))
    started = time.monotonic()
    [result] = grade_batch(BatchPlan(jobs=[job], devices=["cuda:0"]), options, lambda result: None)
    first = result.execution.cells[0] if result.execution.cells else None
    return {"notebook": name, "status": result.status, "score": result.score, "message": result.message,
            "first_cell": {"status": first.status, "error": f"{first.error_name}: {first.error_message}"[:300]}
            if first else None, "device": result.environment.device, "isolation": result.execution.isolation,
            "seconds": round(time.monotonic() - started, 1), "gpu_total_mib": total // MiB,
            "share_mib": limit // MiB}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--share", type=float, default=0.02)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--one", choices=sorted(FIRST_CELLS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="gpu-share-"))
    if args.one:
        print(json.dumps(grade_one(args.one, args.share, out / "work")))
        return
    out.mkdir(parents=True, exist_ok=True)
    runs = [subprocess.Popen([sys.executable, __file__, "--one", name, "--share", str(args.share), "--out", str(out)],
                             stdout=subprocess.PIPE, text=True) for name in FIRST_CELLS]
    results = [json.loads(run.communicate()[0].strip().splitlines()[-1]) for run in runs]
    report = {"share": args.share, "results": results}
    (out / "gpu_share_watchdog.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
