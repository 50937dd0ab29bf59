"""Execute's limits watcher: the kernel's process tree as the watchdog sees it, from /proc's children lists or, where
those are missing, from psutil's scan of every process."""

from __future__ import annotations

import subprocess
import time

import psutil
import pytest

from grader.execute import limits
from grader.execute.limits import ProcessWatch

# A shell with a child, a grandchild under a subshell, and a process it orphans (which leaves the tree).
TREE_SCRIPT = "sleep 30 & (sleep 30 & wait) & (sleep 2 &) ; wait"


@pytest.fixture()
def shell_tree():
    shell = subprocess.Popen(["bash", "-c", TREE_SCRIPT])
    deadline = time.monotonic() + 10
    while len(psutil.Process(shell.pid).children(recursive=True)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    yield shell
    for process in [*psutil.Process(shell.pid).children(recursive=True), psutil.Process(shell.pid)]:
        process.kill()
    shell.wait()


def _tree_pids(watch: ProcessWatch) -> set[int]:
    return {process.pid for process in watch._tree()}


def _psutil_tree(pid: int) -> set[int]:
    return {pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))}


@pytest.mark.skipif(not limits.CHILDREN_FILES, reason="this Linux kernel has no /proc children lists")
def test_children_lists_find_the_same_tree_as_a_scan_of_every_process(shell_tree):
    assert {shell_tree.pid, *limits._descendant_pids(shell_tree.pid)} == _psutil_tree(shell_tree.pid)
    assert len(_psutil_tree(shell_tree.pid)) >= 4, "the shell, its child, the subshell and its grandchild"


@pytest.mark.parametrize("children_files", [True, False], ids=["proc-children-lists", "psutil-scan"])
def test_the_watch_sees_children_and_grandchildren_either_way(shell_tree, monkeypatch, children_files):
    if children_files and not limits.CHILDREN_FILES:
        pytest.skip("this Linux kernel has no /proc children lists")
    monkeypatch.setattr(limits, "CHILDREN_FILES", children_files)
    watch = ProcessWatch(None, lambda: None, "marker")
    watch.start(shell_tree)
    watch.stop()
    assert _tree_pids(watch) == _psutil_tree(shell_tree.pid)


def test_a_process_that_ended_is_no_tree():
    ended = subprocess.Popen(["true"])
    ended.wait()
    assert limits._descendant_pids(ended.pid) == []
