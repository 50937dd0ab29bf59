"""Devices: which GPUs are used, and how a worker and its kernels are pinned to one (no GPU needed)."""

import multiprocessing
import os
from pathlib import Path

from grader import grade
from grader.grade import batch
from grader.cli import _devices
from grader.discover import Submission


def test_gpus_option_picks_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert _devices("0, 1") == ["cuda:0", "cuda:1"]


def test_default_is_every_visible_gpu_else_the_cpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    assert _devices(None) == ["cuda:2", "cuda:5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert _devices(None) == ["cpu"]


def test_a_worker_is_pinned_to_the_device_it_draws(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(batch, "_worker_device", "cpu")  # restored after the test
    slots = multiprocessing.get_context("spawn").Queue()
    slots.put("cuda:1")
    batch._init_worker(slots, multiprocessing.get_context("spawn").Queue(), None)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1" and batch._worker_device == "cuda:1"


def test_the_kernel_sees_only_its_device(tmp_path, monkeypatch):
    options = grade.Options(out_dir=tmp_path, secret="s", device="cuda:1", isolate=False)
    submission = Submission("ana", "conv1d", Path("ana/conv1d.ipynb"))
    env = grade.kernel_launch(options, tmp_path, {}, submission, 1024).env
    assert env["CUDA_VISIBLE_DEVICES"] == "1"
    cpu = grade.Options(out_dir=tmp_path, secret="s", device="cpu", isolate=False)
    assert grade.kernel_launch(cpu, tmp_path, {}, submission, 1024).env["CUDA_VISIBLE_DEVICES"] == ""
