"""A kernel's share of a GPU: the rubric's resources, the watchdog's decision on fake NVML readings, the boot cap."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from conftest import repo_rubric
from grader import gpu_share
from grader.execute.limits import ProcessWatch
from grader.grade.cluster import Request, fits
from grader.results import CellRecord
from grader.rubric import RubricError, parse_rubric

GiB = 2**30


def _raw(**extra: object) -> dict:
    return {"exercise": "toy", "title": "Toy", "checks": [{"id": "a", "title": "A", "points": 1, "type": "x"}],
            **extra}


def test_resources_default_to_one_cpu_no_gpu_and_the_memory_limit():
    rubric = parse_rubric(_raw(memory_limit_mb=3000), "toy.yaml")
    assert (rubric.resources.gpu, rubric.resources.cpus, rubric.reserved_memory_mb) == (0, 1, 3000)
    asked = parse_rubric(_raw(resources={"gpu": 0.25, "cpus": 2, "memory_mb": 12288}), "toy.yaml")
    assert Request.of(asked) == Request(cpus=2, gpus=0.25, memory_mb=12288)


@pytest.mark.parametrize("resources, words", [
    ({"gpu": 1.5}, "a share of one GPU"),
    ({"gpu": -1}, "greater than or equal to 0"),
    ({"cpus": 0}, "greater than 0"),
    ({"gpus": 1}, "unknown key"),
])
def test_wrong_resources_are_refused_with_the_key(resources, words):
    with pytest.raises(RubricError) as refused:
        parse_rubric(_raw(resources=resources), "toy.yaml")
    assert "toy.yaml: resources" in str(refused.value) and words in str(refused.value)


def test_the_older_device_key_still_loads():
    assert parse_rubric(_raw(device="cpu"), "toy.yaml").resources.gpu == 0
    assert parse_rubric(_raw(device="cuda_optional"), "toy.yaml").resources.gpu == 1
    with pytest.raises(RubricError, match="device and resources both given"):
        parse_rubric(_raw(device="cpu", resources={"gpu": 0}), "toy.yaml")


def test_shipped_rubrics_keep_light_exercises_off_the_gpu():
    assert all(repo_rubric(name).resources.gpu == 0 for name in ("conv1d", "gru", "rnn_lm"))
    assert 0 < repo_rubric("imdb").resources.gpu < 1 and 0 < repo_rubric("indobert").resources.gpu < 1


def test_a_task_fits_only_a_node_that_has_all_it_reserves():
    nodes = [{"CPU": 16, "GPU": 1, "memory": 64 * GiB}, {"CPU": 2, "memory": 8 * GiB}]
    assert fits(Request(cpus=2, gpus=0.25, memory_mb=12288), nodes)
    assert not fits(Request(cpus=2, gpus=2, memory_mb=1024), nodes)
    assert not fits(Request(cpus=32, gpus=0, memory_mb=1024), nodes)
    assert not fits(Request(cpus=1, gpus=0, memory_mb=128 * 1024), nodes)


def test_only_the_kernels_own_processes_count():
    readings = [[(100, 3 * GiB), (200, 9 * GiB)], [(101, 1 * GiB), (300, None)]]
    assert gpu_share.used_by(readings, {100, 101, 300}) == 4 * GiB
    assert gpu_share.used_by(readings, {999}) == 0


class FakeNvml:
    """What pynvml answers for two 80 GiB GPUs; `processes` per device is what the test says is running."""

    def __init__(self, processes: dict[int, list[tuple[int, int | None]]]):
        self.processes = processes

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(total=80 * GiB)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list[SimpleNamespace]:
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in self.processes.get(handle, [])]


def test_guard_takes_its_share_of_the_assigned_device():
    guard = gpu_share.guard("cuda:1", 0.25, FakeNvml({}))
    assert guard is not None and guard.limit_bytes == 20 * GiB
    assert gpu_share.guard("cpu", 0.25, FakeNvml({})) is None
    assert gpu_share.guard("cuda:0", 0.0, FakeNvml({})) is None


def test_without_nvml_there_is_no_watchdog(monkeypatch):
    monkeypatch.setattr(gpu_share, "_nvml", lambda: None)
    assert gpu_share.guard("cuda:0", 0.25) is None


def _watch(kills: list[str]) -> ProcessWatch:
    watch = ProcessWatch(None, lambda: kills.append("killed"), "marker")
    watch.seen = {4242: 0.0, 4243: 0.0}  # the kernel and a DataLoader worker it started
    return watch


def test_a_kernel_over_its_share_is_stopped_and_a_neighbour_is_not():
    nvml = FakeNvml({1: [(4242, 12 * GiB), (4243, 9 * GiB), (7777, 50 * GiB)]})
    kills: list[str] = []
    watch = _watch(kills)
    watch.poll_gpu(gpu_share.guard("cuda:1", 0.25, nvml))
    assert kills == ["killed"] and watch.tripped == "gpu_memory_limit" and watch.tripped_bytes == 21 * GiB

    nvml.processes = {1: [(4242, 12 * GiB), (4243, 7 * GiB), (7777, 50 * GiB)]}  # the neighbour's 50 GiB is its own
    kills.clear()
    calm = _watch(kills)
    calm.poll_gpu(gpu_share.guard("cuda:1", 0.25, nvml))
    assert kills == [] and calm.tripped == "" and calm.gpu_peak_bytes == 19 * GiB


def test_a_driver_error_is_no_verdict():
    def broken() -> list:
        raise RuntimeError("NVML_ERROR_GPU_IS_LOST")

    kills: list[str] = []
    watch = _watch(kills)
    watch.poll_gpu(gpu_share.GpuGuard(limit_bytes=GiB, fraction=0.25, read=broken))
    assert kills == [] and not watch.tripped


def test_the_stopped_cell_says_memory_limit_with_the_share(tmp_path):
    from grader.execute import KernelLaunch, NotebookRunner
    from grader.rubric import Timeouts
    import nbformat

    guard = gpu_share.GpuGuard(limit_bytes=20 * GiB, fraction=0.25, read=lambda: [])
    runner = NotebookRunner(nbformat.v4.new_notebook(), tmp_path, Timeouts(), KernelLaunch(gpu=guard), seed=0)
    runner.watch.tripped, runner.watch.tripped_bytes = "gpu_memory_limit", 21 * GiB
    record: CellRecord = runner._died(3, 1.0)
    assert record.status == "memory_limit" and record.error_name == "GpuMemoryLimit"
    assert "21504 MiB of GPU memory" in record.error_message and "0.25 of it: 20480 MiB" in record.error_message


def test_the_boot_cap_is_set_only_for_a_kernel_given_a_share(tmp_path, monkeypatch):
    from grader.grade import Options, kernel_launch
    from grader.discover import Submission

    monkeypatch.setattr(gpu_share, "_nvml", lambda: None)
    shared = kernel_launch(Options(out_dir=tmp_path, secret="s", device="cuda:2", gpu_share=0.25, isolate=False),
                           tmp_path, {}, Submission("s", "conv1d", None), 2048)
    assert shared.env[gpu_share.FRACTION_VARIABLE] == "0.25" and shared.env["CUDA_VISIBLE_DEVICES"] == "2"
    alone = kernel_launch(Options(out_dir=tmp_path, secret="s", device="cuda:2", isolate=False), tmp_path, {},
                          Submission("s", "conv1d", None), 2048)
    assert gpu_share.FRACTION_VARIABLE not in alone.env
    namespace: dict = {}
    exec(compile(gpu_share.BOOT_SOURCE, "<boot>", "exec"), namespace)  # no share here: nothing imported, no names left
    assert not [name for name in namespace if not name.startswith("__")]
