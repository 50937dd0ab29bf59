"""Similarity: pairs of students whose code is unusually alike, after the course's own code is removed.

copydetect (winnowing over tokenised code: names become V/F/O, comments and layout are dropped) fingerprints each
notebook's code cells, with a k-gram hash of our own that is the same in every process; fingerprints found in the
course's own code (the reference notebook, the slides' and tutorials' code in `course_code/`) are removed first, so
what everyone copied from the course matches nobody. It flags pairs for a person to read; it never changes a score.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader.dashboard import SIMILARITY_CSV as CSV_NAME, SIMILARITY_HTML as HTML_NAME
from grader.report import TEMPLATES, write_atomic
from grader.results import GradeResult
from grader.rubric import Rubric, SimilaritySpec
from grader.stage import InvalidNotebook, parse_notebook, read_submission

COURSE_CODE_DIR = "course_code"
CSV_COLUMNS = ["exercise", "student_a", "student_b", "similarity", "share_a", "share_b", "matched", "flagged"]
CONTEXT_LINES = 3  # unmatched lines kept around each matching passage in the side-by-side view
HISTOGRAM_BINS = 10
LANGUAGE = "python"
COMMON_FLOOR = 3
# splitmix64's multipliers: every bit of a window's polynomial sum reaches every bit of its hash.
MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))
KGRAM_BASE = np.uint64(0x100000001B3)

# copydetect logs a warning for every file it cannot tokenise; a notebook's problems are listed in the report instead.
logging.getLogger("copydetect").setLevel(logging.ERROR)


@dataclass
class Source:
    """One student's code for one exercise: the code cells joined, shell and magic lines left out."""

    student: str
    code: str


@dataclass
class Pair:
    exercise: str
    student_a: str
    student_b: str
    share_a: float  # the part of a's own code that matches b's
    share_b: float
    matched: int    # matching filtered characters, in a's code
    flagged: bool
    code_a: str = ""  # HTML, matching passages marked; only kept for flagged pairs
    code_b: str = ""

    @property
    def similarity(self) -> float:
        """The larger share: a short notebook copied into a long one is still a copy."""
        return max(self.share_a, self.share_b)


@dataclass
class ExerciseSimilarity:
    exercise: str
    title: str
    spec: SimilaritySpec
    compared: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one sentence per notebook not compared
    pairs: list[Pair] = field(default_factory=list)

    @property
    def flagged(self) -> list[Pair]:
        return [pair for pair in self.pairs if pair.flagged]


# ---------------------------------------------------------------- code


def notebook_code(raw: bytes) -> str:
    """The code cells of a notebook, in order; `!shell` and `%magic` lines are not Python and are dropped."""
    cells = [cell for cell in parse_notebook(raw).cells if cell.get("cell_type") == "code"]
    lines = [line for cell in cells for line in [*str(cell.get("source", "")).splitlines(), ""]
             if not line.lstrip().startswith(("!", "%"))]
    return "\n".join(lines)


def course_code(course_root: Path, exercise: str) -> list[str]:
    """The course's own code for an exercise: its reference notebook and every file in `course_code/`."""
    texts = []
    reference = course_root / "reference" / f"{exercise}.ipynb"
    if reference.is_file():
        texts.append(notebook_code(reference.read_bytes()))
    shared = course_root / COURSE_CODE_DIR
    if shared.is_dir():
        texts.extend(path.read_text(encoding="utf-8") for path in sorted(shared.rglob("*.py")) if path.is_file())
    return texts


@dataclass
class Fingerprint:
    """One text's winnowed k-gram hashes, with the attributes copydetect's compare_files reads."""

    raw_code: str
    filtered_code: str
    offsets: np.ndarray
    k: int
    hashes: set[int]
    hash_idx: dict[int, list[int]]
    token_coverage: float


def _kgram_hashes(text: str, k: int) -> np.ndarray:
    """A 64-bit hash of every k characters of text, the same in every process. copydetect hashes with Python's
    hash(), which PYTHONHASHSEED salts per process: the same class scored differently from one run to the next."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    if len(codes) < k:
        return np.array([], dtype=np.int64)
    powers = np.cumprod(np.full(k, KGRAM_BASE, dtype=np.uint64))[::-1]
    with np.errstate(over="ignore"):
        mixed = np.lib.stride_tricks.sliding_window_view(codes, k) @ powers
        for shift, multiplier in zip((30, 27), MIX):
            mixed = (mixed ^ (mixed >> np.uint64(shift))) * multiplier
        mixed ^= mixed >> np.uint64(31)
    return mixed.view(np.int64)


def _fingerprint(code: str, spec: SimilaritySpec, boilerplate: np.ndarray | None = None,
                 window: int | None = None) -> Fingerprint:
    """copydetect's fingerprint of code (its tokeniser, its winnowing), hashed with _kgram_hashes."""
    from copydetect.utils import filter_code, get_token_coverage, winnow

    k = spec.noise_tokens
    window = window or spec.guarantee_tokens - k + 1
    filtered, offsets = filter_code(code, "cells.py", LANGUAGE)
    hashes, positions = winnow(_kgram_hashes(filtered, k), window_size=window, remove_duplicates=False)
    if boilerplate is not None and len(boilerplate) and len(hashes):
        kept = ~np.isin(hashes, boilerplate)
        hashes, positions = hashes[kept], positions[kept]
    hash_idx: dict[int, list[int]] = {}
    for value, position in zip(hashes.tolist(), positions.tolist()):
        hash_idx.setdefault(value, []).append(position)
    return Fingerprint(code, filtered, offsets, k, set(hash_idx), hash_idx,
                       get_token_coverage(hash_idx, k, len(filtered)))


def _boilerplate(texts: list[str], spec: SimilaritySpec) -> np.ndarray:
    """Every k-gram hash of the course's code (window 1, as copydetect does for boilerplate)."""
    hashes = [h for text in texts for h in _fingerprint(text, spec, window=1).hashes]
    return np.unique(np.array(hashes, dtype=np.int64))


def sources_of(results: list[GradeResult]) -> tuple[list[Source], list[str]]:
    """The submitted notebooks of results, read again from where they were graded; one sentence per one unread."""
    sources, skipped = [], []
    for result in results:
        if result.status in ("not_submitted", "invalid_notebook") or not result.notebook:
            continue
        try:
            raw = read_submission(Path(result.notebook))
            code = notebook_code(raw)
        except InvalidNotebook as problem:
            skipped.append(f"{result.student}: {result.notebook}: {problem}")
            continue
        if result.notebook_sha256 and hashlib.sha256(raw).hexdigest() != result.notebook_sha256:
            skipped.append(f"{result.student}: {result.notebook} changed since it was graded (grade it again)")
            continue
        sources.append(Source(result.student, code))
    return sources, skipped


# ---------------------------------------------------------------- comparison


def _marked(fingerprint: Fingerprint, slices: np.ndarray) -> str:
    from copydetect.utils import highlight_overlap

    html, _ = highlight_overlap(fingerprint.raw_code, slices, "<mark>", "</mark>", truncate=CONTEXT_LINES,
                                escape_html=True)
    return html


def _common(sources: list[Source], boilerplate: np.ndarray, spec: SimilaritySpec) -> np.ndarray:
    """Hashes of passages that most of the class shares (scaffolding, an example every tutorial prints): as MOSS's
    -m option, code in that many notebooks says nothing about any pair. Never fewer than 3, so one pair stays a pair."""
    counts: Counter[int] = Counter()
    for source in sources:
        counts.update(_fingerprint(source.code, spec, boilerplate).hashes)
    floor = max(COMMON_FLOOR, math.ceil(spec.common_share * len(sources)))
    return np.array(sorted(h for h, count in counts.items() if count >= floor), dtype=np.int64)


def compare(exercise: str, title: str, sources: list[Source], course: list[str],
            spec: SimilaritySpec) -> ExerciseSimilarity:
    """Every pair of sources compared, the course's code and the class's common code removed from both."""
    outcome = ExerciseSimilarity(exercise, title, spec)
    if len(sources) < 2:
        outcome.skipped = [f"{source.student}: the only notebook of this exercise, so there is no pair to compare"
                           for source in sources]
        return outcome
    from copydetect import compare_files

    boilerplate = _boilerplate(course, spec)
    boilerplate = np.union1d(boilerplate, _common(sources, boilerplate, spec))
    prints: dict[str, Fingerprint] = {}
    for source in sources:
        fingerprint = _fingerprint(source.code, spec, boilerplate)
        if fingerprint.token_coverage < spec.min_tokens:
            outcome.skipped.append(f"{source.student}: too little code of their own to compare "
                                   f"({int(fingerprint.token_coverage)} characters once the course's code is removed, "
                                   f"under {spec.min_tokens})")
            continue
        prints[source.student] = fingerprint
    outcome.compared = sorted(prints)
    for student_a, student_b in itertools.combinations(outcome.compared, 2):
        first, second = prints[student_a], prints[student_b]
        matched, (share_a, share_b), (slices_a, slices_b) = compare_files(first, second)
        pair = Pair(exercise, student_a, student_b, float(share_a), float(share_b), int(matched), False)
        pair.flagged = pair.similarity >= spec.threshold
        if pair.flagged:
            pair.code_a, pair.code_b = _marked(first, slices_a), _marked(second, slices_b)
        outcome.pairs.append(pair)
    outcome.pairs.sort(key=lambda pair: (-pair.similarity, pair.student_a, pair.student_b))
    return outcome


def class_similarity(results: list[GradeResult], rubrics: dict[str, Rubric],
                     course_root: Path) -> list[ExerciseSimilarity]:
    """One comparison per exercise that has stored results."""
    outcomes = []
    for exercise in sorted({result.exercise for result in results} & set(rubrics)):
        rubric = rubrics[exercise]
        sources, unread = sources_of([result for result in results if result.exercise == exercise])
        outcome = compare(exercise, rubric.title, sources, course_code(course_root, exercise), rubric.similarity)
        outcome.skipped[:0] = unread
        outcomes.append(outcome)
    return outcomes


# ---------------------------------------------------------------- output


@dataclass
class Bin:
    label: str
    count: int
    x: float
    y: float
    height: float


def _histogram(values: list[float], height: float = 80.0, top: float = 12.0, bar: float = 28.0,
               gap: float = 4.0) -> list[Bin]:
    """Pairs per tenth of similarity (an SVG's bars); 100 % falls in the last bin."""
    counts = [0] * HISTOGRAM_BINS
    for value in values:
        counts[min(HISTOGRAM_BINS - 1, int(value * HISTOGRAM_BINS))] += 1
    tallest = max(counts) or 1
    bins = []
    for index, count in enumerate(counts):
        scaled = round(height * count / tallest, 1)
        bins.append(Bin(f"{index * 10}–{(index + 1) * 10}%", count, index * (bar + gap), top + height - scaled, scaled))
    return bins


def similarity_html(outcomes: list[ExerciseSimilarity]) -> str:
    return TEMPLATES.get_template("similarity.html.j2").render(
        outcomes=outcomes, histograms={o.exercise: _histogram([p.similarity for p in o.pairs]) for o in outcomes},
        chart={"width": HISTOGRAM_BINS * 32, "bar": 28, "axis": 92, "height": 108}, context_lines=CONTEXT_LINES,
    )


def _csv_rows(outcomes: list[ExerciseSimilarity]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for outcome in outcomes:
        for pair in outcome.pairs:
            writer.writerow([pair.exercise, pair.student_a, pair.student_b, f"{pair.similarity:.3f}",
                             f"{pair.share_a:.3f}", f"{pair.share_b:.3f}", pair.matched, int(pair.flagged)])
    return buffer.getvalue()


def write_similarity(out_dir: Path, outcomes: list[ExerciseSimilarity]) -> None:
    """OUT/similarity.csv (every compared pair) and OUT/similarity.html (histograms, flagged pairs side by side)."""
    write_atomic(Path(out_dir) / CSV_NAME, _csv_rows(outcomes))
    write_atomic(Path(out_dir) / HTML_NAME, similarity_html(outcomes))
