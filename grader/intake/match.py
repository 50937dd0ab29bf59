"""Which exercise a notebook is: by its file name, else by what its code defines (read with ast, never run)."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field

from grader.rubric import Rubric

TOKEN = re.compile(r"[a-z0-9]+")
VERSION = re.compile(r"(?:\((\d+)\)|[-_ ](\d+))$")  # "conv1d (1)" (browsers), "conv1d-1" (Canvas resubmissions)


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def _phrase_in(phrase: str, words: list[str]) -> bool:
    """The phrase's words appear together in `words` ("rnn_lm" in "Tugas RNN-LM"), or joined ("rnnlm")."""
    wanted = tokens(phrase)
    if not wanted:
        return False
    if "".join(wanted) in words:
        return True
    return any(words[i:i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1))


def exercises_named(file_name: str, rubrics: dict[str, Rubric]) -> list[str]:
    """The exercises a file's name names: its id or one of its rubric's `intake.names`, as whole words."""
    stem = file_name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    words = tokens(stem)
    return [exercise for exercise, rubric in rubrics.items()
            if any(_phrase_in(phrase, words) for phrase in [exercise, *rubric.intake.names])]


def version_of(file_name: str) -> int:
    """The copy number a browser or Canvas adds ("conv1d (2).ipynb" → 2); 0 for none."""
    stem = file_name.rsplit("/", 1)[-1].rsplit(".", 1)[0].strip()
    found = VERSION.search(stem)
    return int(found.group(1) or found.group(2)) if found else 0


@dataclass
class CodeNames:
    """Names a notebook's code defines (classes, functions, assigned globals) and refers to."""

    defined: set[str] = field(default_factory=set)
    used: set[str] = field(default_factory=set)
    readable: bool = True


def _cell_text(source: object) -> str:
    text = "".join(source) if isinstance(source, list) else str(source or "")
    # IPython's `!cmd` and `%magic` lines are not Python: blank them, keeping line numbers.
    return "\n".join("" if line.lstrip().startswith(("!", "%")) else line for line in text.splitlines())


def code_names(raw: bytes) -> CodeNames:
    """Every parseable code cell's definitions and references; a cell with a syntax error is skipped."""
    names = CodeNames()
    try:
        notebook = json.loads(raw)
        cells = notebook.get("cells") or [c for ws in notebook.get("worksheets", []) for c in ws.get("cells", [])]
    except (ValueError, AttributeError, TypeError):
        return CodeNames(readable=False)
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(_cell_text(cell.get("source", cell.get("input", ""))))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                names.defined.add(node.name)
            elif isinstance(node, ast.Name):
                (names.defined if isinstance(node.ctx, ast.Store) else names.used).add(node.id)
            elif isinstance(node, ast.Attribute):
                names.used.add(node.attr)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.used.update((alias.asname or alias.name).split(".")[-1] for alias in node.names)
                names.used.update(alias.name.split(".")[-1] for alias in node.names)
    return names


def exercises_defined(names: CodeNames, rubrics: dict[str, Rubric]) -> list[str]:
    """Exercises whose rubric's `intake.defines` are all defined and (if given) one of `intake.uses` is used."""
    found = []
    for exercise, rubric in rubrics.items():
        spec = rubric.intake
        if not spec.defines and not spec.uses:
            continue
        if all(name in names.defined for name in spec.defines) and (
                not spec.uses or any(name in names.used for name in spec.uses)):
            found.append(exercise)
    return found
