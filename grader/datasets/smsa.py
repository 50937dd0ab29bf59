"""SmSA (IndoNLU): Indonesian review sentiment, `text<TAB>label` TSVs, labels positive / neutral / negative.

Full: the three files as published in the IndoNLU repository at a pinned commit, downloaded with sha256
checks. Quick: a stratified subset shipped with the grader (grader/datasets/smsa_subset/, MIT, see SOURCE.md).
"""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from grader.data import Dataset, DataMissing, register, sha256_of

COMMIT = "56e8bcdd17f6309a310ed221365416c08662c6b5"
BASE_URL = f"https://raw.githubusercontent.com/indobenchmark/indonlu/{COMMIT}/dataset/smsa_doc-sentiment-prosa"
SUBSET = Path(__file__).parent / "smsa_subset"
CHUNK = 2**16
TIMEOUT_S = 60

# name → (size in bytes, sha256) of the published files
FILES: dict[str, tuple[int, str]] = {
    "train_preprocess.tsv": (2186718, "50f38ceed9b31521bf1581e126620532cc9b790712938159a2cdcf6906977a9b"),
    "valid_preprocess.tsv": (246974, "6ab41ddc9d58a35086f05ebd2e209c74cb03d87d4f51d6abdfba674eafbefa74"),
    "test_preprocess_masked_label.tsv": (75537, "ecc239ad7a069774954843da50eba266398bab70d0370f74684bf1c107b64e70"),
}
LABELS = ("positive", "neutral", "negative")


def read_tsv(path: Path) -> list[tuple[str, str]]:
    """(text, label) rows of an SmSA file; the label is after the last tab."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            text, _, label = line.rpartition("\t")
            rows.append((text, label.strip()))
    return rows


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeRemainingColumn())


def download(url: str, target: Path, size: int, sha256: str, progress: Progress) -> None:
    """Download `url` to `target`, resuming a partial `<target>.part`; the finished file must match `sha256`."""
    if target.is_file() and sha256_of(target) == sha256:
        return
    part = target.with_name(target.name + ".part")
    start = part.stat().st_size if part.is_file() else 0
    if start >= size:
        start = 0 if sha256_of(part) != sha256 else start
    task = progress.add_task(target.name, total=size, completed=start)
    if start < size:
        request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                resumed = start > 0 and response.status == 206
                progress.update(task, completed=start if resumed else 0)
                with part.open("ab" if resumed else "wb") as handle:
                    while block := response.read(CHUNK):
                        handle.write(block)
                        progress.advance(task, len(block))
        except (urllib.error.URLError, OSError) as error:
            raise DataMissing(f"could not download {url} ({getattr(error, 'reason', error)}); run the command again "
                              f"to resume from the {part.stat().st_size if part.is_file() else 0} bytes already saved") from None
    actual = sha256_of(part)
    if actual != sha256:
        part.unlink()
        raise DataMissing(f"{url} downloaded with sha256 {actual[:12]}…, expected {sha256[:12]}…: the download was "
                          "corrupted or the file changed upstream; the partial file was removed, run the command again")
    part.replace(target)


def fetch_from(base_url: str, target: Path) -> None:
    """Download the three SmSA files from `base_url` into `target`, checksummed and resumable."""
    with _progress() as progress:
        for name, (size, sha256) in FILES.items():
            download(f"{base_url}/{name}", target / name, size, sha256, progress)


def fetch(target: Path) -> None:
    fetch_from(BASE_URL, target)


def synth(target: Path) -> None:
    """Copy the shipped subset (same file names as the full data) and its attribution."""
    for path in sorted(SUBSET.iterdir()):
        if path.is_file():
            shutil.copyfile(path, target / path.name)


register(Dataset(
    name="smsa",
    description="SmSA sentiment (IndoNLU, MIT): train/valid/test TSVs; quick: a 600/200/100 stratified subset",
    fetch=fetch,
    synth=synth,
))
