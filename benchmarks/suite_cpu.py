"""CPU seconds per test of the suite, kernels and pools included: a pytest plugin, and the summary of what it wrote.

    python -m pytest -p benchmarks.suite_cpu                 # as root, on a machine with cgroup v1's cpuacct
    python benchmarks/suite_cpu.py [--top 30]                 # per file, per exercise's verdicts, the costliest tests

Each test process (each xdist worker) moves itself into a cpuacct cgroup of its own, so every process it starts
(sandboxed kernels, pool workers, Ray) is counted with it; a test's CPU is its worker's cgroup usage over the test.
Time a test leaves behind (a process or thread still running after it) is counted to the tests after it: that is
how leaked heartbeat threads showed up, as verdict fixtures costing three times what they cost alone. Readings go to
`$SUITE_CPU_DIR` (default /tmp/suite-cpu), one JSON line per test.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import time
from pathlib import Path

import pytest

CPUACCT = Path("/sys/fs/cgroup/cpuacct")
OUT = Path(os.environ.get("SUITE_CPU_DIR", "/tmp/suite-cpu"))

_group: Path | None = None
_log = None


def _usage_s() -> float:
    assert _group is not None
    return int((_group / "cpuacct.usage").read_text()) / 1e9


def _join_group() -> bool:
    global _group, _log
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    try:
        group = CPUACCT / f"suite-{worker}"
        group.mkdir(exist_ok=True)
        (group / "cgroup.procs").write_text(str(os.getpid()))
    except OSError:
        return False
    OUT.mkdir(parents=True, exist_ok=True)
    _group, _log = group, open(OUT / f"{worker}.jsonl", "a", encoding="utf-8")
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    if _group is None and not _join_group():
        yield
        return
    cpu, wall = _usage_s(), time.monotonic()
    yield
    _log.write(json.dumps({"test": item.nodeid, "cpu": round(_usage_s() - cpu, 2),
                           "wall": round(time.monotonic() - wall, 2)}) + "\n")
    _log.flush()


def _exercise_of_verdicts() -> dict[str, str]:
    import yaml

    manifests = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "verdicts"
    return {Path(entry["notebook"]).stem: manifest.stem for manifest in manifests.glob("*.yaml")
            for entry in yaml.safe_load(manifest.read_text(encoding="utf-8")) or []}


def summary(top: int) -> None:
    rows = [json.loads(line) for path in sorted(OUT.glob("*.jsonl")) for line in path.read_text().splitlines()]
    rows = [row for row in rows if "cpu" in row]
    per_file: collections.Counter[str] = collections.Counter()
    per_exercise: collections.defaultdict[str, list[float]] = collections.defaultdict(list)
    exercise_of = _exercise_of_verdicts()
    for row in rows:
        per_file[row["test"].split("::")[0]] += row["cpu"]
        if "test_verdicts.py" in row["test"]:
            per_exercise[exercise_of.get(row["test"].split("[")[-1].rstrip("]"), "?")].append(row["cpu"])
    print(f"{len(rows)} tests, {sum(per_file.values()):.0f} CPU-s, {sum(row['wall'] for row in rows):.0f} s of test time")
    for name, cpu in per_file.most_common():
        print(f"{cpu:8.0f}  {name}")
    print("verdict fixtures: CPU-s per exercise (notebooks, mean of those graded here)")
    for exercise, costs in sorted(per_exercise.items()):
        graded = [cost for cost in costs if cost > 0.5]
        print(f"{sum(costs):8.0f}  {exercise} ({len(costs)}, {sum(graded) / max(1, len(graded)):.1f})")
    for row in sorted(rows, key=lambda row: -row["cpu"])[:top]:
        print(f"{row['cpu']:8.1f} {row['wall']:8.1f}  {row['test']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--top", type=int, default=30)
    summary(parser.parse_args().top)
