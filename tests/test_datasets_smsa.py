"""Staging SmSA and IndoBERT: checksummed, resumable downloads (against a local HTTP server), the shipped subset,
the model snapshot's checks and conversion, and the tiny stand-in loading offline for real."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.progress import Progress

from grader import data
from grader.datasets import indobert, smsa


class RangeHandler(SimpleHTTPRequestHandler):
    """Serves a folder, honouring `Range: bytes=N-` (http.server does not), and records the ranges asked for."""

    ranges: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        requested = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not requested or not path.is_file():
            return super().do_GET()
        type(self).ranges.append(requested)
        start = int(requested.removeprefix("bytes=").rstrip("-"))
        body = path.read_bytes()[start:]
        self.send_response(206)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def server(tmp_path: Path):
    """A local HTTP server over a folder holding copies of the shipped subset, as if it were IndoNLU's."""
    published = tmp_path / "published"
    published.mkdir()
    files = {}
    for name in smsa.FILES:
        body = (smsa.SUBSET / name).read_bytes()
        (published / name).write_bytes(body)
        files[name] = (len(body), hashlib.sha256(body).hexdigest())
    RangeHandler.ranges = []
    handler = lambda *args: RangeHandler(*args, directory=str(published))  # noqa: E731
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(smsa, "FILES", files)
        yield f"http://127.0.0.1:{httpd.server_address[1]}", published
    httpd.shutdown()


def test_fetch_downloads_every_file_with_its_checksum(server, tmp_path: Path):
    url, published = server
    target = tmp_path / "full"
    target.mkdir()
    smsa.fetch_from(url, target)
    for name in smsa.FILES:
        assert (target / name).read_bytes() == (published / name).read_bytes()
        assert not (target / f"{name}.part").exists()


def test_fetch_resumes_a_partial_download(server, tmp_path: Path):
    url, published = server
    name = "train_preprocess.tsv"
    body = (published / name).read_bytes()
    (tmp_path / f"{name}.part").write_bytes(body[:1000])
    size, sha256 = smsa.FILES[name]
    with Progress(disable=True) as progress:
        smsa.download(f"{url}/{name}", tmp_path / name, size, sha256, progress)
    assert RangeHandler.ranges == ["bytes=1000-"]
    assert (tmp_path / name).read_bytes() == body


def test_a_corrupt_download_is_removed_and_reported(server, tmp_path: Path):
    url, _ = server
    name = "valid_preprocess.tsv"
    size, _ = smsa.FILES[name]
    with Progress(disable=True) as progress, pytest.raises(data.DataMissing, match="corrupted or the file changed"):
        smsa.download(f"{url}/{name}", tmp_path / name, size, "0" * 64, progress)
    assert not (tmp_path / f"{name}.part").exists() and not (tmp_path / name).exists()


def test_an_unreachable_server_says_to_run_again(tmp_path: Path):
    with Progress(disable=True) as progress, pytest.raises(data.DataMissing, match="run the command again"):
        smsa.download("http://127.0.0.1:9/train_preprocess.tsv", tmp_path / "x.tsv", 10, "0" * 64, progress)


def test_grader_data_fetch_smsa_fills_the_cache(server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    url, _ = server
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(smsa, "BASE_URL", url)
    from grader.cli import main

    assert main(["data", "fetch", "smsa"]) == 0
    folder = data.require("smsa", quick=False)
    assert sorted(p.name for p in folder.glob("*.tsv")) == sorted(smsa.FILES)


def test_published_checksums_are_pinned():
    assert smsa.COMMIT in smsa.BASE_URL and len(smsa.COMMIT) == 40
    assert all(len(sha) == 64 for _, sha in smsa.FILES.values())


def test_the_shipped_subset_is_stratified_and_attributed():
    rows = {name: smsa.read_tsv(smsa.SUBSET / name) for name in smsa.FILES}
    assert [len(rows[name]) for name in smsa.FILES] == [600, 200, 100]
    for name in ("train_preprocess.tsv", "valid_preprocess.tsv"):
        labels = [label for _, label in rows[name]]
        assert set(labels) == set(smsa.LABELS) and labels.count("neutral") >= 20
    source = (smsa.SUBSET / "SOURCE.md").read_text()
    assert "indobenchmark/indonlu" in source and "MIT" in source and smsa.COMMIT in source
    assert "MIT License" in (smsa.SUBSET / "LICENSE").read_text()


def test_synth_smsa_copies_the_subset(tmp_path: Path):
    smsa.synth(tmp_path)
    for name in [*smsa.FILES, "SOURCE.md", "LICENSE"]:
        assert (tmp_path / name).read_bytes() == (smsa.SUBSET / name).read_bytes()


# --------------------------------------------------------------------------- indobert

def _fake_hub_snapshot(cache_dir: Path, corrupt: bool = False) -> Path:
    """What snapshot_download leaves: blobs named by their hash, snapshot symlinks, refs/main; a .bin checkpoint."""
    import torch
    from transformers import BertConfig, BertModel

    repo = cache_dir / indobert.REPO_FOLDER
    revision = "a" * 40
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    config = BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16)
    weights = repo / "weights.bin"
    torch.save(BertModel(config).state_dict(), weights)
    files = {"config.json": config.to_json_string().encode(), "pytorch_model.bin": weights.read_bytes()}
    weights.unlink()
    for name, body in files.items():
        lfs = name.endswith(".bin")
        digest = hashlib.sha256(body).hexdigest() if lfs else hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest()
        (repo / "blobs" / digest).write_bytes(body + (b"x" if corrupt and lfs else b""))
        (snapshot / name).symlink_to(Path("..") / ".." / "blobs" / digest)
    return snapshot


def test_fetch_indobert_asks_the_hub_for_the_model_and_converts_it_to_safetensors(tmp_path: Path):
    calls = []

    def snapshot_download(**kwargs):
        calls.append(kwargs)
        return str(_fake_hub_snapshot(Path(kwargs["cache_dir"])))

    indobert.fetch_with(tmp_path, snapshot_download)
    assert calls == [{"repo_id": "indobenchmark/indobert-base-p1", "revision": "main",
                      "cache_dir": str(tmp_path / "hub"), "allow_patterns": indobert.ALLOW_PATTERNS}]
    snapshot = indobert.snapshot_dir(tmp_path)
    assert (snapshot / "model.safetensors").is_file()
    record = indobert.manifest(tmp_path)
    assert record["standin"] is False and record["revision"] == "a" * 40
    assert set(record["files"]) == {"config.json", "pytorch_model.bin", "model.safetensors"}


def test_fetch_indobert_rejects_a_blob_that_does_not_match_its_hash(tmp_path: Path):
    with pytest.raises(data.DataMissing, match="does not match its checksum"):
        indobert.fetch_with(tmp_path, lambda **kwargs: str(_fake_hub_snapshot(Path(kwargs["cache_dir"]), corrupt=True)))


def test_fetch_indobert_offline_fails_with_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The real hub client, with no network allowed: a clear DataMissing, not a traceback."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code = ("import sys; from pathlib import Path; from grader.datasets import indobert; from grader.data import DataMissing\n"
            "try:\n    indobert.fetch(Path(sys.argv[1]))\nexcept DataMissing as e:\n    print('MISSING', e)\n")
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.stdout.startswith("MISSING could not download indobenchmark/indobert-base-p1"), run.stderr[-2000:]


LOAD_OFFLINE = """
import json
from transformers import AutoTokenizer, BertForSequenceClassification, BertTokenizer
model = BertForSequenceClassification.from_pretrained("indobenchmark/indobert-base-p1", num_labels=3)
tokenizer = BertTokenizer.from_pretrained("indobenchmark/indobert-base-p1")
auto = AutoTokenizer.from_pretrained("indobenchmark/indobert-base-p1")
print(json.dumps({"labels": model.config.num_labels, "hidden": model.config.hidden_size, "vocab": len(tokenizer),
                  "auto": len(auto), "ids": tokenizer("makanan nya enak")["input_ids"]}))
"""


@pytest.mark.slow
def test_synth_indobert_stand_in_loads_offline_under_the_real_model_id(tmp_path: Path):
    indobert.synth(tmp_path)
    assert indobert.manifest(tmp_path)["standin"] is True
    snapshot = indobert.snapshot_dir(tmp_path)
    assert snapshot.parent.parent.name == "models--indobenchmark--indobert-base-p1"
    env = {**os.environ, **indobert.kernel_env(tmp_path)}
    run = subprocess.run([sys.executable, "-c", LOAD_OFFLINE], capture_output=True, text=True, timeout=180, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    loaded = json.loads(run.stdout.strip().splitlines()[-1])
    assert loaded["labels"] == 3 and loaded["hidden"] == indobert.STANDIN_CONFIG["hidden_size"]
    vocab = (snapshot / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert loaded["vocab"] == loaded["auto"] == len(vocab) <= indobert.STANDIN_VOCAB_SIZE
    assert loaded["ids"][0] == 2 and loaded["ids"][-1] == 3  # [CLS] ... [SEP]
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file() and ".no_exist" in str(p)) == []
