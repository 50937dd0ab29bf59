"""Grading on Ray (`grader grade --cluster`): packing and pinning on fake GPUs, two nodes, a node lost mid-run.

Runs only where Ray is installed (`pip install -e '.[cluster]'`; CI installs it). The notebooks are the Conv1D
reference with a first cell that sleeps (so that a node can be lost while a notebook runs) and a last cell that
prints what the kernel saw: its GPUs, its GPU share, whether Ray's ports answer.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from conftest import ROOT, SUBMISSIONS, repo_rubric  # noqa: E402
from grader import sandbox  # noqa: E402
from grader.course import course_secret  # noqa: E402
from grader.discover import Submission  # noqa: E402
from grader.grade import BatchPlan, Job, Options, grade_batch  # noqa: E402
from grader.results import GradeResult  # noqa: E402
from grader.rubric import Resources, Rubric  # noqa: E402

pytestmark = pytest.mark.slow

# Kernels keep LC_* variables: this marks every kernel these tests start, so they can be found (and must be gone).
MARKER_VARIABLE = "LC_GRADER_CLUSTER_TEST"
RAY_QUIET = {"include_dashboard": False, "log_to_driver": False, "logging_level": "warning"}


def _report_cell(ports: list[tuple[str, int]]) -> str:
    return (
        "import json as _j, os as _o, socket as _s\n"
        "_reached = []\n"
        f"for _host, _port in {ports!r}:\n"
        "    try:\n"
        "        _s.create_connection((_host, _port), timeout=2).close()\n"
        "        _reached.append(f'{_host}:{_port}')\n"
        "    except OSError:\n"
        "        pass\n"
        "print('SEEN ' + _j.dumps({'gpus': _o.environ.get('CUDA_VISIBLE_DEVICES'), "
        "'share': _o.environ.get('GRADER_GPU_MEMORY_FRACTION'), 'reached': _reached}))\n"
    )


def _notebook(folder: Path, student: str, sleep_s: float, ports: list[tuple[str, int]]) -> Submission:
    """The Conv1D reference, slowed by `sleep_s` and reporting what its kernel saw."""
    notebook = json.loads((ROOT / "reference" / "conv1d.ipynb").read_text())
    first = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
             "source": f"import time as _t\n_t.sleep({sleep_s})\n"}
    last = {**first, "source": _report_cell(ports)}
    notebook["cells"] = [first, *notebook["cells"], last]
    path = folder / student / "conv1d.ipynb"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(notebook))
    return Submission(student, "conv1d", path)


def _seen(result: GradeResult) -> dict:
    lines = [line for cell in result.execution.cells for line in cell.stdout.splitlines()]
    return json.loads(next(line for line in lines if line.startswith("SEEN ")).removeprefix("SEEN "))


def _options(out: Path) -> Options:
    return Options(out_dir=out, secret=course_secret(out), quick=True, course_root=ROOT)


def _grade(jobs: list[Job], out: Path, cluster: str | None) -> dict[str, GradeResult]:
    results = grade_batch(BatchPlan(jobs=jobs, cluster=cluster), _options(out), lambda result: None)
    return {result.student: result for result in results}


def _ray_ports() -> list[tuple[str, int]]:
    """Every port of this Ray: the GCS, each node's manager and object manager, on the node's address and loopback."""
    ports = {int(ray.get_runtime_context().gcs_address.rsplit(":", 1)[1])}
    hosts = {"127.0.0.1"}
    for node in ray.nodes():
        ports.update({node["NodeManagerPort"], node["ObjectManagerPort"]})
        hosts.add(node["NodeManagerAddress"])
    return [(host, port) for host in sorted(hosts) for port in sorted(ports)]


def _marked_kernels(marker: str, count_sandboxes: bool = False) -> list[psutil.Process]:
    """The kernels these tests started that are still running (with their bubblewrap parents when asked)."""
    found = []
    for process in psutil.process_iter():
        try:
            command = process.cmdline()
            if (process.environ().get(MARKER_VARIABLE) == marker and "ipykernel_launcher" in command
                    and (count_sandboxes or not command[0].endswith("bwrap"))):
                found.append(process)
        except psutil.Error:
            continue
    return found


def _grading_tasks(marker: str) -> set[int]:
    """The Ray worker processes whose kernels (a notebook's and its measuring kernel) are running."""
    tasks = set()
    for kernel in _marked_kernels(marker):
        try:
            tasks.update(parent.pid for parent in kernel.parents() if parent.name().startswith("ray::"))
        except psutil.Error:
            continue
    return tasks


@pytest.fixture()
def marker(monkeypatch: pytest.MonkeyPatch) -> str:
    """Set before Ray starts, so its workers and their kernels inherit it."""
    value = uuid.uuid4().hex
    monkeypatch.setenv(MARKER_VARIABLE, value)
    return value


@pytest.fixture()
def fake_gpus(marker: str):
    """A local Ray on this CPU machine that believes it has four GPUs (and five CPUs)."""
    # Five CPUs: the four quarter-GPU notebooks and the CPU-only one (one CPU each) all run at once. A local
    # cluster, never a stale one a crash left behind.
    ray.init(address="local", num_cpus=5, num_gpus=4, **RAY_QUIET)
    yield
    ray.shutdown()


@contextlib.contextmanager
def _least_free_gpu() -> Iterator[list[float]]:
    """The fewest GPUs Ray had free at any moment while the block ran (sampled every 50 ms)."""
    least = [float(ray.cluster_resources().get("GPU", 0))]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            least[0] = min(least[0], float(ray.available_resources().get("GPU", 0)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield least
    finally:
        done.set()
        sampler.join()


def _with(rubric: Rubric, **resources: float) -> Rubric:
    return rubric.model_copy(update={"resources": Resources(**resources)})


def test_quarter_gpus_pack_on_one_device_and_each_kernel_sees_only_its_own(fake_gpus, tmp_path):
    rubric = repo_rubric("conv1d")
    ports = _ray_ports()
    shared = [Job(_notebook(tmp_path / "in", f"gpu{index}", 2, ports), _with(rubric, gpu=0.25, cpus=1))
              for index in range(4)]
    cpu_only = [Job(_notebook(tmp_path / "in", "cpu0", 0, ports), _with(rubric, gpu=0, cpus=1))]
    with _least_free_gpu() as least_free:
        results = _grade(shared + cpu_only, tmp_path / "out", cluster="auto")

    assert {student: (r.status, r.score) for student, r in results.items()} == {
        student: ("graded", 100.0) for student in ("gpu0", "gpu1", "gpu2", "gpu3", "cpu0")}
    seen = {student: _seen(result) for student, result in results.items()}
    gpu_students = [job.submission.student for job in shared]
    devices = {results[student].environment.device for student in gpu_students}
    assert len(devices) == 1 and devices.pop().startswith("cuda:"), "four quarter-GPU notebooks share one GPU"
    device_id = results["gpu0"].environment.device.removeprefix("cuda:")
    assert all(seen[student]["gpus"] == device_id for student in gpu_students), "each kernel sees only its GPU"
    assert all(seen[student]["share"] == "0.25" for student in gpu_students)
    # Ray's own books, not the kernels' clocks: on a loaded machine one kernel may boot after another has finished.
    assert least_free[0] == pytest.approx(3.0), "the four held their quarter of one GPU at the same time"
    assert seen["cpu0"]["gpus"] == "" and seen["cpu0"]["share"] is None
    assert results["cpu0"].environment.device == "cpu"
    if sandbox.availability().available:
        assert all(not view["reached"] for view in seen.values()), "Ray's ports are unreachable from a sandbox"
    assert (tmp_path / "out" / "gpu0" / "conv1d.json").is_file() and (tmp_path / "out" / "gpu0" / "conv1d.html").is_file()


def test_a_notebook_no_node_can_hold_is_an_error_not_a_hang(fake_gpus, tmp_path):
    rubric = _with(repo_rubric("conv1d"), gpu=8, cpus=1)
    job = Job(_notebook(tmp_path / "in", "greedy", 0, []), rubric)
    result = _grade([job], tmp_path / "out", cluster="auto")["greedy"]
    assert result.status == "error" and "no node of the cluster" in result.message and "8 GPU" in result.message


def _start_cluster() -> Cluster:
    """A head and one more node on this machine; Ray notices a lost node within about ten seconds."""
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "_system_config": {"health_check_period_ms": 2000, "health_check_failure_threshold": 5}})
    cluster.add_node(num_cpus=1)
    return cluster


@pytest.fixture()
def two_nodes(marker: str):
    try:
        cluster = _start_cluster()
    except Exception as slow:  # noqa: BLE001 - Ray waits a fixed 30 s for a raylet, too short on a loaded runner
        if "timed out during startup" not in str(slow):
            raise
        ray.shutdown()
        cluster = _start_cluster()
    ray.init(address=cluster.address, **RAY_QUIET)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def test_two_nodes_grade_the_class_as_one_worker_does(two_nodes, tmp_path):
    rubric = repo_rubric("conv1d")
    students = ["adi_slides", "budi_vectorised", "citra_builtin", "dewi_no_padding"]
    jobs = [Job(Submission(student, "conv1d", SUBMISSIONS / student / "conv1d.ipynb"), rubric) for student in students]
    on_ray = _grade(jobs, tmp_path / "ray", cluster="auto")
    ray.shutdown()  # the local run below must not see the test's Ray
    local = _grade(jobs, tmp_path / "local", cluster=None)

    assert {s: (r.status, r.score) for s, r in on_ray.items()} == {s: (r.status, r.score) for s, r in local.items()}
    assert len({r.environment.node for r in on_ray.values()}) == 2, "both nodes graded"
    assert [c.id for c in on_ray["dewi_no_padding"].checks] == [c.id for c in local["dewi_no_padding"].checks]


def test_a_node_lost_mid_notebook_loses_nothing(two_nodes, marker, tmp_path):
    rubric = repo_rubric("conv1d")
    jobs = [Job(_notebook(tmp_path / "in", f"s{index}", 15, []), _with(rubric, gpu=0, cpus=1)) for index in range(2)]
    worker_node = two_nodes.list_all_nodes()[1]
    import threading

    outcome: dict[str, dict[str, GradeResult]] = {}
    run = threading.Thread(target=lambda: outcome.update(results=_grade(jobs, tmp_path / "out", cluster="auto")))
    run.start()
    deadline = time.monotonic() + 90
    while len(_grading_tasks(marker)) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(_grading_tasks(marker)) == 2, "both notebooks were running, one on each node"
    two_nodes.remove_node(worker_node, allow_graceful=False)
    run.join(timeout=240)
    assert not run.is_alive()

    results = outcome["results"]
    assert {s: (r.status, r.score) for s, r in results.items()} == {"s0": ("graded", 100.0), "s1": ("graded", 100.0)}
    again = [r for r in results.values() if "Graded again" in r.message]
    assert len(again) == 1 and "lost with its node or worker" in again[0].message
    assert not _marked_kernels(marker, count_sandboxes=True), "the lost node's kernel died with its task"
    stored = json.loads((tmp_path / "out" / again[0].student / "conv1d.json").read_text())
    assert "Graded again" in stored["message"]
