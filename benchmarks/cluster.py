"""The local process pool vs a local Ray: throughput on the example class's light exercises, and Ray's overhead.

Usage (needs the cluster extra: pip install -e '.[cluster]'):

    python benchmarks/cluster.py [--runs 1] [--exercise conv1d gru rnn_lm] [--workers 2] [--tasks 20]

Each run grades `submissions/` (quick mode, the exercises named) twice, each a fresh `grader grade` process into a
fresh output folder: `--workers N` (the local pool) and `--cluster local` (a Ray started on this machine, each
notebook reserving its rubric's resources: one CPU for the light exercises, so as many at once as there are cores).
The order alternates between runs. Then, in this process, the scheduling overhead of one Ray task: the mean round
trip of `--tasks` empty tasks submitted one at a time, each carrying a notebook's bytes and a rubric as a real task
does, after Ray is up. Prints one JSON summary (wall times, notebooks per minute, the ratio, the overhead, the
machine's load average) and writes it to cluster.json in --out.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def grade(out: Path, exercises: list[str], engine: list[str]) -> dict:
    command = [sys.executable, "-m", "grader.cli", "grade", str(ROOT / "submissions"), "--out", str(out), "--quick",
               "--exercise", *exercises, *engine]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall_s = time.perf_counter() - started
    results = [json.loads(path.read_text()) for path in out.glob("*/*.json")]
    graded = [r for r in results if r["status"] != "not_submitted"]
    return {"engine": " ".join(engine), "wall_s": round(wall_s, 1), "returncode": completed.returncode,
            "notebooks": len(graded), "per_minute": round(60 * len(graded) / wall_s, 1),
            "scores": {f"{r['student']}/{r['exercise']}": [r["status"], r["score"]] for r in graded},
            "load_before": round(load, 1), "load_after": round(os.getloadavg()[0], 1),
            "stderr_tail": completed.stderr[-600:] if completed.returncode else ""}


def task_overhead(tasks: int) -> dict:
    """Ray's own cost per notebook: start-up once, then the round trip of an empty task carrying a real payload."""
    sys.path.insert(0, str(ROOT))
    import ray

    from grader.rubric import load_rubric

    rubric = load_rubric(ROOT / "rubrics" / "conv1d.yaml", check_types=False)
    payload = {"notebook": (ROOT / "submissions" / "adi_slides" / "conv1d.ipynb").read_bytes(),
               "rubric": rubric.model_dump(mode="json")}
    started = time.perf_counter()
    ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level="warning")
    init_s = time.perf_counter() - started

    @ray.remote(num_cpus=1, memory=rubric.reserved_memory_mb * 2**20, max_retries=0)
    def empty(task: dict) -> dict:
        return {"result": str(len(task["notebook"]))}

    ray.get(empty.remote(payload))  # the worker process starts here: once per worker, not per notebook
    rounds = []
    for _ in range(tasks):
        started = time.perf_counter()
        ray.get(empty.remote(payload))
        rounds.append(time.perf_counter() - started)
    ray.shutdown()
    return {"ray_start_s": round(init_s, 2), "task_round_trip_ms_median": round(1000 * statistics.median(rounds), 1),
            "task_round_trip_ms_max": round(1000 * max(rounds), 1), "payload_bytes": len(payload["notebook"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--exercise", nargs="+", default=["conv1d", "gru", "rnn_lm"])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    engines = [["--workers", str(args.workers)], ["--cluster", "local"]]
    runs = []
    with tempfile.TemporaryDirectory(prefix="grader-cluster-bench-") as scratch:
        for run in range(args.runs):
            for engine in engines if run % 2 == 0 else engines[::-1]:
                out = Path(scratch) / f"run{run}-{engine[0].strip('-')}"
                runs.append(grade(out, args.exercise, engine))
                print(json.dumps({k: v for k, v in runs[-1].items() if k != "scores"}), flush=True)
    pool = [r["wall_s"] for r in runs if r["engine"].startswith("--workers")]
    ray_runs = [r["wall_s"] for r in runs if r["engine"].startswith("--cluster")]
    notebooks = runs[0]["notebooks"]
    same_scores = all(r["scores"] == runs[0]["scores"] for r in runs)
    summary = {
        "cpus": os.cpu_count(), "notebooks": notebooks, "exercises": args.exercise,
        "pool_wall_s_median": statistics.median(pool), "ray_wall_s_median": statistics.median(ray_runs),
        "ray_vs_pool_throughput": round(statistics.median(pool) / statistics.median(ray_runs), 2),
        "extra_wall_per_notebook_s": round((statistics.median(ray_runs) - statistics.median(pool)) / notebooks, 2),
        "same_scores": same_scores, "overhead": task_overhead(args.tasks),
        "runs": [{k: v for k, v in r.items() if k != "scores"} for r in runs],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cluster.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
