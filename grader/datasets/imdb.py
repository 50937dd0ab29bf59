"""IMDb movie reviews (Maas et al., 2011) in Stanford's on-disk layout, and a synthetic stand-in for quick mode.

Each cached variant holds two folders; only `public` is staged (read-only) as data/imdb in a work dir:

    public/aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt   what notebooks read
    heldback/{pos,neg}/<id>_<rating>.txt                       test reviews the grader keeps to re-measure accuracy

Full: Stanford's archive, minus every test review whose id is a multiple of 10 (1,250 per polarity), which
become the held-back split. Quick: short synthetic reviews whose sentiment lies in a few marked words mixed
into neutral filler (with some of the opposite polarity as noise), so a working BiLSTM learns it in minutes.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader import data
from grader.datasets.http_download import FetchError, Source, download, extract_tar

IMDB = Source(url="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz", filename="aclImdb_v1.tar.gz",
              size=84_125_825, md5="7c2ac02c03563afcf9b574c7e56c153a")
PUBLIC = "public"
HELDBACK = "heldback"
HELD_BACK_EVERY = 10
POLARITIES = ("pos", "neg")
REVIEW_PATH = re.compile(r"^aclImdb/(train|test)/(pos|neg)/\d+_\d+\.txt$")
EXTRA_FILES = {"aclImdb/README", "aclImdb/imdb.vocab"}


# --------------------------------------------------------------------------- full data

def _keep(path: PurePosixPath) -> bool:
    """Labelled reviews and the README; the 50,000 unlabelled reviews and the feature files are not needed."""
    text = str(path)
    return bool(REVIEW_PATH.match(text)) or text in EXTRA_FILES


def _reset(target: Path) -> None:
    for name in (PUBLIC, HELDBACK, ".extract"):
        shutil.rmtree(target / name, ignore_errors=True)


def _hold_back(target: Path) -> None:
    """Move every test review whose id is a multiple of HELD_BACK_EVERY out of the public tree."""
    for polarity in POLARITIES:
        destination = target / HELDBACK / polarity
        destination.mkdir(parents=True, exist_ok=True)
        for path in (target / PUBLIC / "aclImdb" / "test" / polarity).glob("*.txt"):
            if int(path.stem.split("_")[0]) % HELD_BACK_EVERY == 0:
                path.rename(destination / path.name)


def counts(target: Path) -> dict[str, int]:
    """Number of reviews per split and polarity, e.g. {'train/pos': 12500, ..., 'heldback/neg': 1250}."""
    found = {f"{split}/{polarity}": len(list((target / PUBLIC / "aclImdb" / split / polarity).glob("*.txt")))
             for split in ("train", "test") for polarity in POLARITIES}
    found.update({f"{HELDBACK}/{polarity}": len(list((target / HELDBACK / polarity).glob("*.txt")))
                  for polarity in POLARITIES})
    return found


def _write_manifest(target: Path, source: Source | None) -> None:
    manifest = {"counts": counts(target)}
    if source is not None:
        manifest["source"] = {"url": source.url, "size": source.size, "md5": source.md5}
    (target / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")


def fetch(target: Path, source: Source = IMDB, downloads: Path | None = None) -> None:
    """Download Stanford's archive (resumable, MD5-checked), extract the labelled reviews, split off the held-back set."""
    archive = download(source, downloads or data.cache_dir() / "downloads")
    _reset(target)
    scratch = target / ".extract"
    extract_tar(archive, scratch, _keep)
    if not (scratch / "aclImdb").is_dir():
        raise FetchError(f"{archive.name} holds no aclImdb/ folder of reviews")
    (target / PUBLIC).mkdir()
    (scratch / "aclImdb").rename(target / PUBLIC / "aclImdb")
    shutil.rmtree(scratch)
    _hold_back(target)
    found = counts(target)
    missing = [key for key, count in found.items() if count == 0]
    if missing:
        raise FetchError(f"{archive.name} has no reviews in {', '.join(missing)}")
    _write_manifest(target, source)
    archive.unlink()


# --------------------------------------------------------------------------- quick data

POSITIVE = ("great", "excellent", "wonderful", "brilliant", "superb", "amazing", "loved", "enjoyable", "masterpiece",
            "beautiful", "perfect", "fantastic", "moving", "delightful", "charming", "outstanding", "touching",
            "hilarious", "best", "favorite", "stunning", "gripping", "memorable", "clever", "heartwarming",
            "recommend", "fun", "magnificent", "powerful", "terrific")
NEGATIVE = ("terrible", "awful", "boring", "worst", "bad", "horrible", "waste", "dull", "poor", "stupid",
            "disappointing", "mess", "lame", "annoying", "ridiculous", "pointless", "weak", "painful", "predictable",
            "unwatchable", "tedious", "bland", "awkward", "forgettable", "cheap", "clumsy", "dreadful", "mediocre",
            "laughable", "avoid")
COMMON = ("the", "a", "and", "of", "to", "is", "it", "this", "in", "that", "was", "i", "with", "for", "but", "as",
          "on", "movie", "film", "his", "her", "they", "one", "story", "plot", "scene", "actor", "acting",
          "director", "character", "ending", "music", "time", "watch", "saw", "really", "very", "just", "about",
          "there", "from", "an", "be", "by", "who", "so", "at", "like", "what", "more", "when", "out", "some", "cast",
          "script", "camera", "role", "series", "night", "years", "people", "scenes", "minutes", "first")
SYLLABLES = tuple(c + v for c in "bdfgklmnprstvz" for v in "aeiou")
FILLER_WORDS = 600


@dataclass(frozen=True)
class Corpus:
    """The synthetic corpus's sizes and noise: reviews per split (half of them positive), tokens per review."""

    train: int = 1000
    test: int = 400
    heldback: int = 500
    min_tokens: int = 12
    max_tokens: int = 28
    own_rate: float = 0.16     # share of tokens that are sentiment words of the review's own polarity
    other_rate: float = 0.05   # share of tokens that are sentiment words of the opposite polarity (noise)
    seed: int = 2011


QUICK = Corpus()


def neutral_words() -> list[str]:
    """Common English words, then pronounceable made-up words (deterministic), most frequent first."""
    rng = random.Random(7)
    taken = set(COMMON) | set(POSITIVE) | set(NEGATIVE)
    words = list(COMMON)
    while len(words) < len(COMMON) + FILLER_WORDS:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
        if word not in taken:
            taken.add(word)
            words.append(word)
    return words


class _Writer:
    """Draws one synthetic review at a time; sentiment words are sprinkled over Zipf-distributed neutral ones."""

    def __init__(self, corpus: Corpus):
        self.corpus = corpus
        self.rng = random.Random(corpus.seed)
        self.neutral = neutral_words()
        weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(self.neutral))]
        self.cumulative = list(itertools.accumulate(weights))
        self.seen: set[str] = set()

    def _token(self, own: tuple[str, ...], other: tuple[str, ...]) -> str:
        draw = self.rng.random()
        if draw < self.corpus.own_rate:
            return self.rng.choice(own)
        if draw < self.corpus.own_rate + self.corpus.other_rate:
            return self.rng.choice(other)
        return self.rng.choices(self.neutral, cum_weights=self.cumulative)[0]

    def _draw(self, positive: bool) -> str:
        own, other = (POSITIVE, NEGATIVE) if positive else (NEGATIVE, POSITIVE)
        length = self.rng.randint(self.corpus.min_tokens, self.corpus.max_tokens)
        tokens = [self._token(own, other) for _ in range(length)]
        if not set(tokens) & set(own):
            tokens[self.rng.randrange(length)] = self.rng.choice(own)
        sentences, start = [], 0
        while start < length:
            end = min(length, start + self.rng.randint(5, 11))
            words = tokens[start:end]
            sentences.append(" ".join([words[0].capitalize(), *words[1:]]) + self.rng.choice(".!."))
            start = end
        text = sentences[0]
        for sentence in sentences[1:]:
            text += self.rng.choice(("  ", " ", " <br /><br />")) + sentence
        return text

    def review(self, positive: bool) -> str:
        """A review no other split already holds."""
        while True:
            text = self._draw(positive)
            if text not in self.seen:
                self.seen.add(text)
                return text


def _write_reviews(folder: Path, writer: _Writer, positive: bool, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        rating = writer.rng.randint(7, 10) if positive else writer.rng.randint(1, 4)
        (folder / f"{index}_{rating}.txt").write_text(writer.review(positive), encoding="utf-8")


def synth(target: Path, corpus: Corpus = QUICK) -> None:
    """Write the synthetic corpus into `target` in the cache layout described at the top of this module."""
    _reset(target)
    writer = _Writer(corpus)
    for positive, polarity in ((True, "pos"), (False, "neg")):
        for split in ("train", "test"):
            _write_reviews(target / PUBLIC / "aclImdb" / split / polarity, writer, positive, getattr(corpus, split) // 2)
        _write_reviews(target / HELDBACK / polarity, writer, positive, corpus.heldback // 2)
    _write_manifest(target, None)


# --------------------------------------------------------------------------- the grader's view

def held_back(quick: bool) -> list[tuple[str, int]]:
    """(text, label) of every held-back review of the staged variant, in a fixed order; label 1 is positive."""
    folder = data.require("imdb", quick) / HELDBACK
    reviews = []
    for label, polarity in ((1, "pos"), (0, "neg")):
        for path in sorted((folder / polarity).glob("*.txt"), key=lambda p: int(p.stem.split("_")[0])):
            reviews.append((path.read_text(encoding="utf-8"), label))
    return reviews


data.register(data.Dataset(
    name="imdb",
    description="IMDb movie reviews (Stanford aclImdb v1), labelled train/test; a held-back test split stays with "
                "the grader",
    fetch=fetch,
    synth=synth,
    staged_subdir=PUBLIC,
))
