"""The `manual` check type: a written answer a person reads. The grader finds it; a TA gives its points.

The answer is the text under a markdown heading that resembles the rubric's `heading` (case, punctuation, accents,
word order, small misspellings and joined words do not matter), up to the next heading of the same or a higher level.
Until a TA gives points (`grader review`, `grader override`) the check earns nothing and shows "awaiting review".
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

from grader.check import CheckContext, Outcome
from grader.exercise import CheckParams

ANSWER_CAP = 20_000
MATCH_BAR = 0.75      # share of the heading's words that must be found
WORD_BAR = 0.8        # difflib ratio at which two words count as the same word
STOP_WORDS = {"a", "an", "the", "of", "and", "or", "vs", "versus", "between", "is", "are", "what", "to", "in", "on",
              "with", "for", "how", "why", "q", "question", "dan", "atau", "yang", "antara", "apa", "dengan", "soal",
              "pertanyaan", "jawaban", "answer"}
ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
BOLD = re.compile(r"^\s*(?:\*\*|__)(.+?)(?:\*\*|__)\s*:?\s*$")
SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-case words without accents or punctuation."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return WORD.findall(plain)


def _same_word(wanted: str, candidates: list[str]) -> bool:
    pool = candidates + [a + b for a, b in zip(candidates, candidates[1:])]  # "cross correlation" = "crosscorrelation"
    if len(wanted) >= 4 and any(wanted in word for word in pool):  # "cross" and "correlation" in "crosscorrelation"
        return True
    return any(difflib.SequenceMatcher(None, wanted, word).ratio() >= WORD_BAR for word in pool)


def heading_match(wanted: str, heading: str) -> float:
    """Share of the wanted heading's significant words found in `heading`."""
    significant = [w for w in words(wanted) if w not in STOP_WORDS] or words(wanted)
    found = words(heading)
    if not significant or not found:
        return 0.0
    return sum(_same_word(word, found) for word in significant) / len(significant)


@dataclass
class Heading:
    cell: int
    line: int
    level: int
    text: str


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(line index, level, text) of each heading line: `# ATX`, setext (`===`/`---` underline), a bold-only line."""
    found = []
    for index, line in enumerate(lines):
        atx = ATX.match(line)
        if atx:
            found.append((index, len(atx.group(1)), atx.group(2)))
        elif index + 1 < len(lines) and line.strip() and SETEXT.match(lines[index + 1]):
            found.append((index, 1 if lines[index + 1].strip().startswith("=") else 2, line.strip()))
        elif BOLD.match(line):
            found.append((index, 7, BOLD.match(line).group(1)))
    return found


def _markdown_cells(notebook) -> list[tuple[int, str, str]]:
    cells = []
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        source = cell.get("source", "")
        cells.append((number, cell.get("cell_type", ""), "".join(source) if isinstance(source, list) else source))
    return cells


def find_heading(notebook, wanted: list[str]) -> tuple[Heading | None, float]:
    """The markdown heading most like one of `wanted`, if it clears the bar."""
    best, best_score = None, 0.0
    for number, kind, text in _markdown_cells(notebook):
        if kind != "markdown":
            continue
        for line, level, heading in _headings(text.splitlines()):
            score = max(heading_match(w, heading) for w in wanted)
            if score > best_score:
                best, best_score = Heading(number, line, level, heading), score
    return (best, best_score) if best_score >= MATCH_BAR else (None, best_score)


def answer_after(notebook, heading: Heading) -> str:
    """The text under the heading: the rest of its cell and the markdown cells after it, up to the next heading of
    the same or a higher level, or the first code cell once some text was found."""
    parts: list[str] = []
    for number, kind, text in _markdown_cells(notebook):
        if number < heading.cell:
            continue
        if kind != "markdown":
            if number > heading.cell and any(p.strip() for p in parts):
                break
            continue
        lines = text.splitlines()
        start = heading.line + 1 if number == heading.cell else 0
        if number == heading.cell and start < len(lines) and SETEXT.match(lines[start]):
            start += 1
        for index in range(start, len(lines)):
            stop = next((level for line, level, _ in _headings(lines) if line == index), None)
            if stop is not None and stop <= heading.level:
                return "\n".join(parts).strip()
            parts.append(lines[index])
    return "\n".join(parts).strip()


class ManualParams(CheckParams):
    heading: str | list[str]


def manual(ctx: CheckContext, heading: str | list[str]) -> Outcome:
    """Find the written answer; its points come from a person."""
    wanted = [heading] if isinstance(heading, str) else list(heading)
    found, score = find_heading(ctx.notebook, wanted)
    if found is None:
        return Outcome.failed(f"No written answer found: no heading like \"{wanted[0]}\" in the notebook's text cells.",
                              heading_sought=wanted)
    answer = answer_after(ctx.notebook, found)
    if not answer:
        return Outcome.failed(f"The heading \"{found.text}\" (cell {found.cell}) has no answer under it.",
                              heading=found.text, cell=found.cell)
    clipped = answer[:ANSWER_CAP] + ("…" if len(answer) > ANSWER_CAP else "")
    return Outcome(0.0, f"Awaiting review: a TA reads the answer under \"{found.text}\" (cell {found.cell}) and "
                        "gives its points.", {"heading": found.text, "cell": found.cell, "answer": clipped})
