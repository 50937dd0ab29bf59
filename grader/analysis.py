"""Grader-side helpers for checks: static reading of notebook source and numeric comparison of tensors."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from typing import TYPE_CHECKING

import torch

from grader.results import ExecutionRecord

if TYPE_CHECKING:
    import nbformat  # only the type: the probe imports this module inside the student's kernel

MAGIC = re.compile(r"^\s*[%!]")


@dataclass(frozen=True)
class Finding:
    """A forbidden name found in the source: where it is and the line that holds it."""

    name: str
    cell: int
    line: int
    source: str

    def sentence(self) -> str:
        return f"'{self.name}' in cell {self.cell}, line {self.line}: {self.source.strip()}"


@dataclass
class CodeCell:
    number: int
    source: str
    tree: ast.Module


def parsed_cells(notebook: nbformat.NotebookNode) -> list[CodeCell]:
    """Code cells that parse as Python once IPython magics and shell lines are blanked."""
    cells = []
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", ""))
        cleaned = "\n".join("" if MAGIC.match(line) else line for line in source.splitlines())
        try:
            tree = ast.parse(cleaned)
        except (SyntaxError, ValueError):
            continue
        cells.append(CodeCell(index + 1, source, tree))
    return cells


def _top_level_definitions(cells: list[CodeCell]) -> dict[str, tuple[CodeCell, ast.AST]]:
    """The last top-level definition (class, function, assignment) of each name, as execution would leave it."""
    definitions: dict[str, tuple[CodeCell, ast.AST]] = {}
    for cell in cells:
        for node in cell.tree.body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                definitions[node.name] = (cell, node)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            definitions[name.id] = (cell, node)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    definitions[(alias.asname or alias.name).split(".")[0]] = (cell, node)
    return definitions


def _names_used(node: ast.AST) -> set[str]:
    return {child.id for child in ast.walk(node) if isinstance(child, ast.Name)}


def missing_definition(notebook: nbformat.NotebookNode, execution: ExecutionRecord, name: str) -> str:
    """Why `name` does not exist after running the notebook: the failing cell that tried to define it, or absence."""
    pattern = re.compile(rf"^\s*(class|def)\s+{re.escape(name)}\b|^\s*{re.escape(name)}\s*=", re.MULTILINE)
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code" or not pattern.search("".join(cell.get("source", ""))):
            continue
        record = execution.record_of(index + 1)
        if record is not None and record.status != "ok":
            line = f" at line {record.error_line}" if record.error_line else ""
            what = f"{record.error_name}: {record.error_message}" if record.error_name else record.status.replace("_", " ")
            return f"{name} is defined in cell {index + 1}, but that cell failed{line} ({what}), so {name} does not exist"
    return f"the notebook does not define {name}"


def class_problem(notebook: nbformat.NotebookNode, execution: ExecutionRecord, name: str, status: str,
                  kind: str) -> str | None:
    """Why there is no usable nn.Module class `name` (status from probe_runtime.class_status), or None."""
    if status == "missing":
        return missing_definition(notebook, execution, name)
    if status == "not_a_class":
        return f"{name} is a {kind or 'value'}, not a class"
    if status == "not_a_module":
        return f"{name} is a class but not a torch.nn.Module subclass"
    return None


def forbidden_references(notebook: nbformat.NotebookNode, class_names: list[str], forbidden: set[str],
                         attributes_only: frozenset[str] = frozenset()) -> list[Finding]:
    """Forbidden names used by the given classes or by the top-level helpers they reach (imports included).

    Names in `attributes_only` count only as an attribute or an import (`nn.GRU`), never as a plain name, since a
    student's own class may carry the same name (`GRU`).
    """
    forbidden = forbidden | attributes_only
    definitions = _top_level_definitions(parsed_cells(notebook))
    pending = [name for name in class_names if name in definitions]
    seen: set[str] = set()
    findings: list[Finding] = []
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        cell, node = definitions[name]
        lines = cell.source.splitlines()
        for child in ast.walk(node):
            hit = None
            if isinstance(child, ast.Attribute) and child.attr in forbidden:
                hit = child.attr
            elif isinstance(child, ast.Name) and child.id in forbidden - attributes_only:
                hit = child.id
            elif isinstance(child, ast.alias) and child.name.split(".")[-1] in forbidden:
                hit = child.name
            if hit:
                line = getattr(child, "lineno", getattr(node, "lineno", 1))
                findings.append(Finding(hit, cell.number, line, lines[line - 1] if line <= len(lines) else ""))
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            pending.extend(used for used in _names_used(node) if used in definitions and used not in seen)
    unique = {(f.cell, f.line, f.name): f for f in findings}
    return sorted(unique.values(), key=lambda f: (f.cell, f.line))


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def shape_text(shape: list[int] | tuple[int, ...] | torch.Size | None) -> str:
    return "none" if shape is None else "[" + ", ".join(str(int(size)) for size in shape) + "]"


def first_difference(actual: torch.Tensor, expected: torch.Tensor, atol: float, rtol: float) -> str | None:
    """None when the tensors agree to tolerance, else a sentence naming the worst index and both values."""
    if tuple(actual.shape) != tuple(expected.shape):
        return f"shape {shape_text(actual.shape)} where {shape_text(expected.shape)} was expected"
    actual64, expected64 = actual.double(), expected.double()
    if not torch.isfinite(actual64).all():
        index = tuple(int(i) for i in (~torch.isfinite(actual64)).nonzero()[0])
        return f"output{list(index)} is {actual64[index].item()} (not finite)"
    excess = (actual64 - expected64).abs() - (atol + rtol * expected64.abs())
    if (excess <= 0).all():
        return None
    index = tuple(int(i) for i in (excess > 0).nonzero()[0])
    worst = (actual64 - expected64).abs().max().item()
    return (
        f"output{list(index)} = {actual64[index].item():.6g}, expected {expected64[index].item():.6g}"
        f" (largest difference {worst:.3g}, tolerance {atol:g} + {rtol:g}·|expected|)"
    )
