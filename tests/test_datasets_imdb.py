"""IMDb and GloVe data: fetch against a local HTTP server (resume, checksum, unsafe archives), the quick-mode
synthetic corpus, and read-only staging that keeps the held-back reviews out of the work dir."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from grader import data
from grader.datasets import glove, imdb
from grader.datasets.http_download import FetchError, Source, download, extract_tar

# --------------------------------------------------------------------------- a local server with Range support


@dataclass
class Served:
    """What the test server holds, how it misbehaves, and the requests it saw."""

    files: dict[str, bytes] = field(default_factory=dict)
    cut_after: int | None = None    # close the first full-body response after this many bytes
    honour_range: bool = True
    ranges: list[str | None] = field(default_factory=list)


def _handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            body = served.files.get(self.path)
            requested = self.headers.get("Range")
            served.ranges.append(requested)
            if body is None:
                self.send_error(404)
                return
            start = int(requested.removeprefix("bytes=").split("-")[0]) if requested and served.honour_range else 0
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            if served.cut_after is not None and not start:
                self.wfile.write(body[: served.cut_after])
                served.cut_after = None
                self.close_connection = True
                return
            self.wfile.write(body[start:])

    return Handler


@pytest.fixture()
def server() -> Iterator[tuple[str, Served]]:
    served = Served()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    httpd.shutdown()
    httpd.server_close()


def _source(url: str, name: str, body: bytes, md5: str | None = None) -> Source:
    return Source(url=f"{url}/{name}", filename=name, size=len(body), md5=md5 or hashlib.md5(body).hexdigest())


# --------------------------------------------------------------------------- small archives


def _tar(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buffer.getvalue()


def stanford_tarball() -> bytes:
    """Stanford's layout in miniature: 12 test reviews per polarity (ids 0 and 10 are held back), unsup, extras."""
    members = {"aclImdb/README": b"Large Movie Review Dataset v1.0", "aclImdb/imdb.vocab": b"the\nmovie\n",
               "aclImdb/train/labeledBow.feat": b"0:9", "aclImdb/train/unsup/0_0.txt": b"unlabelled"}
    for split, count in (("train", 3), ("test", 12)):
        for polarity, rating in (("pos", 9), ("neg", 2)):
            for index in range(count):
                members[f"aclImdb/{split}/{polarity}/{index}_{rating}.txt"] = \
                    f"{split} {polarity} review {index}, padded {'x' * 200}".encode()
    return _tar(members)


# --------------------------------------------------------------------------- fetch


def test_download_resumes_after_the_connection_drops(tmp_path: Path, server: tuple[str, Served]) -> None:
    url, served = server
    body = bytes(range(256)) * 400
    served.files["/blob.bin"] = body
    served.cut_after = 30_000
    path = download(_source(url, "blob.bin", body), tmp_path, attempts=3, backoff_s=0)
    assert path.read_bytes() == body
    assert served.ranges == [None, "bytes=30000-"]
    assert not (tmp_path / "blob.bin.part").exists()


def test_download_resumes_a_partial_file_from_an_earlier_run(tmp_path: Path, server: tuple[str, Served]) -> None:
    url, served = server
    body = b"0123456789" * 5_000
    served.files["/blob.bin"] = body
    (tmp_path / "blob.bin.part").write_bytes(body[:12_345])
    download(_source(url, "blob.bin", body), tmp_path, attempts=1)
    assert (tmp_path / "blob.bin").read_bytes() == body
    assert served.ranges == ["bytes=12345-"]


def test_download_restarts_when_the_server_ignores_the_range(tmp_path: Path, server: tuple[str, Served]) -> None:
    url, served = server
    body = b"abcdefghij" * 3_000
    served.files["/blob.bin"] = body
    served.honour_range = False
    (tmp_path / "blob.bin.part").write_bytes(body[:1_000])
    download(_source(url, "blob.bin", body), tmp_path, attempts=1)
    assert (tmp_path / "blob.bin").read_bytes() == body


def test_checksum_mismatch_is_refused_and_the_partial_file_removed(tmp_path: Path, server: tuple[str, Served]) -> None:
    url, served = server
    body = b"not the archive you are looking for" * 100
    served.files["/blob.bin"] = body
    with pytest.raises(FetchError, match="MD5 .* expected 0+1: the download is corrupt"):
        download(_source(url, "blob.bin", body, md5="0" * 31 + "1"), tmp_path, attempts=1)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_file_fails_after_the_retries(tmp_path: Path, server: tuple[str, Served]) -> None:
    url, served = server
    with pytest.raises(FetchError, match="failed 2 times .*404"):
        download(Source(f"{url}/nothing", "nothing", 10, "0" * 32), tmp_path, attempts=2, backoff_s=0)
    assert served.ranges == [None, None]


def test_fetch_imdb_extracts_stanford_layout_and_holds_back_test_reviews(tmp_path: Path,
                                                                         server: tuple[str, Served]) -> None:
    url, served = server
    body = stanford_tarball()
    served.files["/aclImdb_v1.tar.gz"] = body
    target = tmp_path / "imdb" / "full"
    target.mkdir(parents=True)
    imdb.fetch(target, _source(url, "aclImdb_v1.tar.gz", body), downloads=tmp_path / "downloads")
    public = target / "public" / "aclImdb"
    assert imdb.counts(target) == {"train/pos": 3, "train/neg": 3, "test/pos": 10, "test/neg": 10,
                                   "heldback/pos": 2, "heldback/neg": 2}
    assert sorted(p.name for p in (target / "heldback" / "pos").iterdir()) == ["0_9.txt", "10_9.txt"]
    assert (public / "README").is_file() and not (public / "train" / "unsup").exists()
    assert not (public / "train" / "labeledBow.feat").exists()
    assert '"md5"' in (target / "MANIFEST.json").read_text()
    assert not (tmp_path / "downloads" / "aclImdb_v1.tar.gz").exists()


def test_unsafe_archive_members_are_refused(tmp_path: Path) -> None:
    for members, links in (({"../evil.txt": b"x"}, None), ({"/tmp/evil.txt": b"x"}, None),
                           ({"aclImdb/a/../../evil.txt": b"x"}, None), ({}, {"aclImdb/link": "/etc/passwd"})):
        archive = tmp_path / "bad.tar.gz"
        archive.write_bytes(_tar(members, links))
        destination = tmp_path / "out"
        with pytest.raises(FetchError, match="refusing"):
            extract_tar(archive, destination, lambda path: True)
        assert not (tmp_path / "evil.txt").exists() and not destination.exists()


def test_fetch_glove_keeps_only_the_100d_file(tmp_path: Path, server: tuple[str, Served]) -> None:
    url, served = server
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("glove.6B.50d.txt", "the 0.1 0.2\n")
        bundle.writestr("glove.6B.100d.txt", "the " + " ".join(["0.5"] * 100) + "\n")
    body = buffer.getvalue()
    served.files["/glove.6B.zip"] = body
    target = tmp_path / "glove" / "full"
    target.mkdir(parents=True)
    glove.fetch(target, _source(url, "glove.6B.zip", body), downloads=tmp_path / "downloads")
    assert sorted(p.name for p in target.iterdir()) == ["MANIFEST.json", "glove.6B.100d.txt"]
    assert (target / "glove.6B.100d.txt").read_text().startswith("the 0.5 ")


def test_official_sources_are_stanfords() -> None:
    assert imdb.IMDB == Source("https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz", "aclImdb_v1.tar.gz",
                               84_125_825, "7c2ac02c03563afcf9b574c7e56c153a")
    assert glove.GLOVE.size == 862_182_613 and glove.GLOVE.md5 == "056ea991adb4740ac6bf1b6d9b50408b"


# --------------------------------------------------------------------------- quick data and staging


@pytest.fixture(scope="module")
def quick_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADER_CACHE", str(cache))
        data.build("imdb", quick=True)
        data.build("glove", quick=True)
        yield cache


def _texts(folder: Path) -> set[str]:
    return {path.read_text() for path in folder.rglob("*.txt")}


def test_synthetic_corpus_has_stanfords_layout_and_sizes(quick_cache: Path) -> None:
    variant = quick_cache / "imdb" / "quick"
    corpus = imdb.QUICK
    assert imdb.counts(variant) == {"train/pos": corpus.train // 2, "train/neg": corpus.train // 2,
                                    "test/pos": corpus.test // 2, "test/neg": corpus.test // 2,
                                    "heldback/pos": corpus.heldback // 2, "heldback/neg": corpus.heldback // 2}
    names = [p.name for p in (variant / "public" / "aclImdb" / "train" / "neg").iterdir()]
    assert all(int(name.split("_")[1].removesuffix(".txt")) <= 4 for name in names)
    held_back = _texts(variant / "heldback")
    assert not held_back & _texts(variant / "public")


def test_synthetic_corpus_is_deterministic(quick_cache: Path, tmp_path: Path) -> None:
    imdb.synth(tmp_path)
    again = tmp_path / "public" / "aclImdb" / "test" / "pos" / "7_8.txt"
    first = quick_cache / "imdb" / "quick" / "public" / "aclImdb" / "test" / "pos" / again.name
    assert again.is_file() and again.read_text() == first.read_text()


def test_synthetic_sentiment_is_learnable_but_noisy(quick_cache: Path) -> None:
    """Counting the marked words gets most held-back reviews right, but not all: the noise is real."""
    positive, negative = set(imdb.POSITIVE), set(imdb.NEGATIVE)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADER_CACHE", str(quick_cache))
        reviews = imdb.held_back(quick=True)
    right = 0
    for text, label in reviews:
        words = text.lower().replace("!", " ").replace(".", " ").split()
        score = sum(word in positive for word in words) - sum(word in negative for word in words)
        right += (score > 0) == bool(label) if score else 0.5
    assert len(reviews) == imdb.QUICK.heldback and sum(label for _, label in reviews) == len(reviews) // 2
    assert 0.85 < right / len(reviews) < 0.99


def test_synthetic_glove_clusters_the_sentiment_words(quick_cache: Path) -> None:
    import torch

    vectors = {}
    for line in (quick_cache / "glove" / "quick" / "glove.6B.100d.txt").read_text().splitlines():
        word, *values = line.split(" ")
        assert len(values) == 100
        vectors[word] = torch.tensor([float(v) for v in values])
    positive = torch.stack([vectors[w] for w in imdb.POSITIVE])
    negative = torch.stack([vectors[w] for w in imdb.NEGATIVE])
    cosine = torch.nn.functional.cosine_similarity(positive.mean(0), negative.mean(0), dim=0)
    assert cosine < -0.9
    assert "the" in vectors and sum(word not in vectors for word in imdb.neutral_words()) > 10


def test_staging_exposes_only_the_public_reviews(quick_cache: Path, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADER_CACHE", str(quick_cache))
        data.stage_into(tmp_path, ["imdb", "glove"], quick=True)
        rows = {(row["dataset"], row["variant"]): row for row in data.status()}
    staged = tmp_path / "data" / "imdb"
    assert staged.is_symlink() and staged.resolve() == (quick_cache / "imdb" / "quick" / "public").resolve()
    assert sorted(p.name for p in (staged / "aclImdb").iterdir()) == ["test", "train"]
    assert not any("heldback" in str(p) for p in staged.rglob("*"))
    assert (tmp_path / "data" / "glove" / "glove.6B.100d.txt").is_file()
    assert rows[("imdb", "quick")]["staged"] == "yes" and rows[("imdb", "full")]["staged"] == "no"
