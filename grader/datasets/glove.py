"""GloVe 6B word vectors (Pennington et al., 2014), 100 dimensions, and a small stand-in for quick mode.

Both variants hold one file, glove.6B.100d.txt in GloVe's text format (`word v1 … v100` per line), staged
read-only as data/glove/glove.6B.100d.txt. The quick file covers the synthetic IMDb corpus's words: neutral
words get random vectors, and the positive and negative sentiment words sit in two clusters on either side
of one direction, as sentiment words roughly do in real GloVe.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from grader import data
from grader.datasets import imdb
from grader.datasets.http_download import Source, download, extract_zip_member

if TYPE_CHECKING:  # torch is imported only to build the stand-in: a rerun that grades nothing never loads it
    import torch

GLOVE = Source(url="https://downloads.cs.stanford.edu/nlp/data/glove.6B.zip", filename="glove.6B.zip",
               size=862_182_613, md5="056ea991adb4740ac6bf1b6d9b50408b")
FILE = "glove.6B.100d.txt"
DIMENSIONS = 100
PUNCTUATION = (".", ",", "!", "?", "'", '"', "(", ")", "-", ":", ";")
UNRELATED_WORDS = 400   # words the corpus never uses, as a real vector file has many
MISSING_EVERY = 20      # every 20th neutral corpus word has no vector, so notebooks meet out-of-vocabulary words


def fetch(target: Path, source: Source = GLOVE, member: str = FILE, downloads: Path | None = None) -> None:
    """Download glove.6B.zip (resumable, MD5-checked) and keep only the 100-dimensional file."""
    archive = download(source, downloads or data.cache_dir() / "downloads")
    extract_zip_member(archive, member, target / FILE)
    manifest = {"source": {"url": source.url, "size": source.size, "md5": source.md5},
                "file": FILE, "sha256": data.sha256_of(target / FILE)}
    (target / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    archive.unlink()


def _line(word: str, vector: torch.Tensor) -> str:
    return word + " " + " ".join(f"{value:.5f}" for value in vector.tolist()) + "\n"


def synth(target: Path) -> None:
    """Write a GloVe-format file for the synthetic corpus's vocabulary (and some unrelated words)."""
    import torch

    generator = torch.Generator().manual_seed(100)
    direction = torch.randn(DIMENSIONS, generator=generator)
    direction = 3.0 * direction / direction.norm()
    neutral = [word for index, word in enumerate(imdb.neutral_words()) if index % MISSING_EVERY != MISSING_EVERY - 1]
    unrelated = [f"{word}x" for word in imdb.neutral_words()[-UNRELATED_WORDS:]]
    lines = []
    for word in [*neutral, *PUNCTUATION, *unrelated]:
        lines.append(_line(word, 0.4 * torch.randn(DIMENSIONS, generator=generator)))
    for sign, words in ((1.0, imdb.POSITIVE), (-1.0, imdb.NEGATIVE)):
        for word in words:
            lines.append(_line(word, sign * direction + 0.4 * torch.randn(DIMENSIONS, generator=generator)))
    order = torch.randperm(len(lines), generator=generator).tolist()
    (target / FILE).write_text("".join(lines[index] for index in order), encoding="utf-8")


data.register(data.Dataset(
    name="glove",
    description="GloVe 6B word vectors, 100 dimensions (Stanford NLP), as glove.6B.100d.txt",
    fetch=fetch,
    synth=synth,
))
