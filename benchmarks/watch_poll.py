"""CPU cost of one poll of a kernel's process tree, as the machine holds more processes: /proc's children lists (what
the watchdog reads on Linux) against psutil's `children(recursive=True)` (its fallback, which reads every process's
stat file). Every kernel is polled every 0.1 s.

Usage:
    python benchmarks/watch_poll.py                     # 0, 200 and 800 extra idle processes on the machine
    python benchmarks/watch_poll.py --others 0 2000 --polls 300

The watched tree is a shell with a child and a grandchild; the other processes are idle `sleep`s outside it. Prints
one JSON object: per count of other processes, the milliseconds of CPU per poll of each method and their ratio.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time

import psutil

from grader.execute import limits


def _cpu_ms_per_poll(poll, polls: int) -> float:
    started = time.process_time()
    for _ in range(polls):
        poll()
    return (time.process_time() - started) / polls * 1000


def measure(others: int, polls: int) -> dict:
    idle = [subprocess.Popen(["sleep", "600"]) for _ in range(others)]
    tree = subprocess.Popen(["bash", "-c", "sleep 600 & (sleep 600 & wait) & wait"])
    try:
        time.sleep(0.5)
        root = psutil.Process(tree.pid)
        children_lists = _cpu_ms_per_poll(
            lambda: [psutil.Process(pid) for pid in limits._descendant_pids(tree.pid) or []], polls)
        psutil_scan = _cpu_ms_per_poll(lambda: root.children(recursive=True), polls)
        return {"processes_on_machine": len(psutil.pids()), "tree": 1 + len(root.children(recursive=True)),
                "children_lists_ms": round(children_lists, 3), "psutil_scan_ms": round(psutil_scan, 3),
                "ratio": round(psutil_scan / children_lists, 1)}
    finally:
        for process in [*psutil.Process(tree.pid).children(recursive=True), tree, *idle]:
            process.kill()
        for process in [tree, *idle]:
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--others", type=int, nargs="+", default=[0, 200, 800])
    parser.add_argument("--polls", type=int, default=200)
    args = parser.parse_args()
    if not limits.CHILDREN_FILES:
        raise SystemExit("this machine has no /proc children lists: the watchdog uses psutil's scan here")
    print(json.dumps([measure(count, args.polls) for count in args.others], indent=2))


if __name__ == "__main__":
    main()
