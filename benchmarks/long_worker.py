"""What a long-lived grading process (a pool worker, a Ray actor, `grader grade --workers 1`) keeps after each
notebook: threads, open files, and the CPU it burns while idle between notebooks.

Usage:
    python benchmarks/long_worker.py                 # 20 gradings of the slides' Conv1D, a reading every 5
    python benchmarks/long_worker.py --notebooks 40 --every 10 --idle 10

Prints one JSON line per reading: gradings so far, Python threads, OS threads, open file descriptors, and the
process's CPU seconds over `--idle` seconds of doing nothing. A process that closes each kernel's channels stays
flat; before that fix every notebook added two heartbeat threads and about 40 descriptors, and `ulimit -n 256`
(macOS's default) stopped a worker within 8 notebooks.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path

from grader import data
from grader.course import SOURCE_ROOT
from grader.discover import Submission
from grader.grade import Options, grade_one
from grader.rubric import load_rubric

NOTEBOOK = SOURCE_ROOT / "tests" / "fixtures" / "notebooks" / "conv1d_slides_verbatim.ipynb"


def reading(graded: int, idle_s: float) -> dict:
    started = time.process_time()
    time.sleep(idle_s)
    return {"graded": graded, "python_threads": threading.active_count(),
            "os_threads": len(os.listdir("/proc/self/task")), "open_files": len(os.listdir("/proc/self/fd")),
            "idle_cpu_s": round(time.process_time() - started, 3), "idle_s": idle_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", type=int, default=20)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--idle", type=float, default=5.0)
    args = parser.parse_args()
    rubric = load_rubric(SOURCE_ROOT / "rubrics" / "conv1d.yaml")
    data.prepare(set(rubric.data), quick=True)
    out = Path(tempfile.mkdtemp(prefix="long-worker-"))
    print(json.dumps(reading(0, args.idle)), flush=True)
    for graded in range(1, args.notebooks + 1):
        options = Options(out_dir=out / str(graded), secret="benchmark", quick=True)
        result = grade_one(Submission(f"s{graded}", "conv1d", NOTEBOOK), rubric, options)
        assert result.score == 100, result.message
        if graded % args.every == 0:
            print(json.dumps(reading(graded, args.idle)), flush=True)


if __name__ == "__main__":
    main()
