"""Probe boundary: only size-capped, schema-valid JSON and safetensors cross from the work dir."""

import json

import pytest
import torch
from safetensors.torch import save_file

from grader import probe
from grader.exercises.conv1d import EXERCISE as conv1d
from grader.kernel.runtime import TENSORS_FILE, VALUES_FILE


def write_probe(folder, values, tensors=None):
    (folder / VALUES_FILE).write_text(json.dumps({"values": values, "errors": {"forward": "ValueError: x"}}))
    save_file(tensors or {"y": torch.zeros(2)}, str(folder / TENSORS_FILE))


def test_reads_valid_probe(tmp_path):
    write_probe(tmp_path, {"class_status": "ok"})
    data = probe.read(conv1d, tmp_path)
    assert data.values.class_status == "ok"
    assert data.errors == {"forward": "ValueError: x"}
    assert torch.equal(data.tensors["y"], torch.zeros(2))


def test_schema_violation_is_rejected(tmp_path):
    write_probe(tmp_path, {"class_status": "all tests passed"})
    with pytest.raises(probe.ProbeUnreadable, match="failed the schema at class_status"):
        probe.read(conv1d, tmp_path)


def test_oversized_json_is_rejected(tmp_path, monkeypatch):
    write_probe(tmp_path, {"class_status": "ok", "class_kind": "x" * 5000})
    monkeypatch.setattr(probe, "VALUES_CAP_BYTES", 1000)
    with pytest.raises(probe.ProbeUnreadable, match="over the"):
        probe.read(conv1d, tmp_path)


def test_pickle_instead_of_safetensors_is_rejected(tmp_path):
    write_probe(tmp_path, {"class_status": "ok"})
    torch.save({"y": torch.zeros(2)}, tmp_path / TENSORS_FILE)
    with pytest.raises(probe.ProbeUnreadable, match="tensors could not be read"):
        probe.read(conv1d, tmp_path)


def test_missing_output_is_rejected(tmp_path):
    with pytest.raises(probe.ProbeUnreadable, match="wrote no probe.json"):
        probe.read(conv1d, tmp_path)


def test_plan_goes_to_a_fresh_unguessable_folder(tmp_path):
    plan = probe.ProbePlan(spec={"a": 1}, inputs={"x": torch.ones(3)})
    first, second = probe.write_plan(plan, tmp_path), probe.write_plan(plan, tmp_path)
    assert first != second and first.name.startswith(".grader-probe-") and len(first.name) > 20


def test_plan_inputs_depend_on_the_seed():
    params = {"constructor_args": [[1, 1, 1]], "configs": [[2, 3, 4, 3, 11]]}
    one = probe.make_plan(conv1d, params, 1, quick=False)
    same = probe.make_plan(conv1d, params, 1, quick=False)
    other = probe.make_plan(conv1d, params, 2, quick=False)
    assert torch.equal(one.inputs["configs/0/x"], same.inputs["configs/0/x"])
    assert not torch.equal(one.inputs["configs/0/x"], other.inputs["configs/0/x"])


def test_tracing_catches_builtin_convolution_however_it_is_reached():
    from grader.kernel.runtime import autograd_ops, trace_torch_calls

    x = torch.randn(1, 2, 5, requires_grad=True)
    weight = torch.randn(3, 2, 3)
    routes = {
        "getattr": lambda: getattr(torch.nn.functional, "con" + "v1d")(x, weight, padding=1),
        "torch.ops": lambda: torch.ops.aten.convolution(x, weight, None, [1], [1], [1], False, [0], 1),
    }
    for route, call in routes.items():
        with trace_torch_calls() as calls:
            output = call()
        found = calls | autograd_ops(output)
        assert any("conv" in name.lower() for name in found), (route, found)
    with trace_torch_calls() as calls:
        output = (torch.nn.functional.pad(x, (1, 1)).unfold(2, 3, 1) * 2).sum(-1)
    assert not any("conv" in name.lower() for name in calls | autograd_ops(output))


def test_outputs_the_notebook_replaced_with_links_or_fifos_are_refused(tmp_path):
    """The work dir is the notebook's: a link to a host file, or a FIFO that would hang the read, is refused."""
    import os

    secret = tmp_path / "host-secret.json"
    secret.write_text(json.dumps({"values": {"class_status": "ok"}, "errors": {}}))
    folder = tmp_path / "probe"
    folder.mkdir()
    (folder / VALUES_FILE).symlink_to(secret)
    with pytest.raises(probe.ProbeUnreadable, match="wrote no probe.json"):
        probe.read(conv1d, folder)
    (folder / VALUES_FILE).unlink()
    os.mkfifo(folder / VALUES_FILE)
    with pytest.raises(probe.ProbeUnreadable, match="not a regular file"):
        probe.read(conv1d, folder)
    replaced = tmp_path / "replaced"
    replaced.symlink_to(tmp_path)
    with pytest.raises(probe.ProbeUnreadable, match="folder is gone or was replaced"):
        probe.read(conv1d, replaced)


def test_plan_is_never_written_through_a_planted_link(tmp_path, monkeypatch):
    """A notebook that guessed or raced the probe folder's name gets a probe failure, and the host file is untouched."""
    host = tmp_path / "host"
    host.mkdir()
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.setattr(probe.secrets, "token_hex", lambda size: "planted")
    (workdir / ".grader-probe-planted").symlink_to(host)
    plan = probe.ProbePlan(spec={"a": 1}, inputs={"x": torch.ones(3)})
    with pytest.raises(probe.ProbeUnreadable, match="the notebook changed it"):
        probe.write_plan(plan, workdir)
    assert list(host.iterdir()) == []
