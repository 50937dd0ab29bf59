"""Grader-side helpers for checks: static reading of notebook source and numeric comparison of tensors."""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal

import torch

from grader.check import Outcome
from grader.results import ExecutionRecord

if TYPE_CHECKING:
    import nbformat  # only the type: the probe imports this module inside the student's kernel

MAGIC = re.compile(r"^\s*[%!]")
BUILTIN_NAMES = frozenset(dir(builtins))


@dataclass(frozen=True)
class Finding:
    """A forbidden name found in the source: the library object it resolves to, where it is and its line."""

    name: str
    resolved: str
    cell: int
    line: int
    source: str

    def sentence(self) -> str:
        return f"'{self.name}' in cell {self.cell}, line {self.line}: {self.source.strip()} ({self.resolved})"

    @property
    def library(self) -> str:
        """The library the name resolves into: torch, numpy or scipy."""
        return self.resolved.split(".")[0]


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


LIBRARIES = frozenset({"torch", "numpy", "scipy"})
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try)


@dataclass
class Binding:
    """What a name is bound to: a library object's dotted path ('torch.nn.GRU'), or None for the student's own."""

    path: str | None
    kind: Literal["definition", "assignment", "import"]
    cell: CodeCell | None = None
    node: ast.AST | None = None


Lookup = Callable[[str], "str | None"]


def resolve(node: ast.AST, lookup: Lookup) -> str | None:
    """The library object an expression names ('F.conv1d' → 'torch.nn.functional.conv1d'), or None.

    A call resolves to what it calls (`nn.GRU(3, 4)` is a torch.nn.GRU); `getattr(F, "conv1d")` and
    `F.__dict__["conv1d"]` with a literal name resolve like the attribute.
    """
    if isinstance(node, ast.Name):
        return lookup(node.id)
    if isinstance(node, ast.Attribute):
        base = resolve(node.value, lookup)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
        base = resolve(node.value, lookup)
        return f"{base.removesuffix('.__dict__')}.{node.slice.value}" if base else None
    if isinstance(node, ast.Call):
        literal = node.args[1] if len(node.args) >= 2 else None
        if (isinstance(node.func, ast.Name) and node.func.id == "getattr" and isinstance(literal, ast.Constant)
                and isinstance(literal.value, str)):
            base = resolve(node.args[0], lookup)
            return f"{base}.{literal.value}" if base else None
        return resolve(node.func, lookup)
    return None


def _import_paths(node: ast.Import | ast.ImportFrom) -> Iterator[tuple[str, str | None]]:
    """(bound name, dotted path) for each alias of an import; a relative import binds the student's own modules."""
    for alias in node.names:
        if isinstance(node, ast.Import):
            yield (alias.asname, alias.name) if alias.asname else (alias.name.split(".")[0], alias.name.split(".")[0])
        elif alias.name != "*":
            path = f"{node.module}.{alias.name}" if node.module and not node.level else None
            yield alias.asname or alias.name, path


def _stored_names(node: ast.AST) -> Iterator[str]:
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            yield child.id


def _scope_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements of one scope, compound statements' bodies included, nested functions and classes not."""
    for node in body:
        yield node
        if isinstance(node, COMPOUND):
            for field_name in ("body", "orelse", "finalbody"):
                yield from _scope_statements(getattr(node, field_name, []))
            for handler in getattr(node, "handlers", []):
                yield from _scope_statements(handler.body)


def _bind_statement(node: ast.stmt, names: dict[str, Any], lookup: Lookup,
                    make: Callable[[str | None, str], Any]) -> None:
    """Record the names one statement binds: definitions, imports, assignments (a single-name assignment keeps the
    library object its value resolves to), loop and with targets."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        names[node.name] = make(None, "definition")
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        for name, path in _import_paths(node):
            names[name] = make(path, "import")
    elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        single = len(targets) == 1 and isinstance(targets[0], ast.Name)
        path = resolve(node.value, lookup) if single else None
        for target in targets:
            for name in _stored_names(target):
                names[name] = make(path, "assignment")
    elif isinstance(node, (ast.For, ast.AsyncFor)):
        for name in _stored_names(node.target):
            names[name] = make(None, "assignment")
    elif isinstance(node, (ast.With, ast.AsyncWith)):
        for item in node.items:
            for name in _stored_names(item.optional_vars) if item.optional_vars else ():
                names[name] = make(None, "assignment")
    elif not isinstance(node, COMPOUND):
        for name in _stored_names(node):
            names[name] = make(None, "assignment")


class _Scan:
    """Finds forbidden library names reachable from some classes, resolving every name as Python would."""

    def __init__(self, cells: list[CodeCell], forbidden: set[str]) -> None:
        self.forbidden = forbidden
        self.module: dict[str, Binding] = {}
        self.stars: list[str] = []
        self.findings: dict[tuple[int, int], Finding] = {}
        self.followed: set[str] = set()
        for cell in cells:
            for node in _scope_statements(cell.tree.body):
                if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names) and node.module \
                        and not node.level:
                    self.stars.append(node.module)
                _bind_statement(node, self.module, self.module_path,
                                lambda path, kind, cell=cell, node=node: Binding(path, kind, cell, node))

    def module_path(self, name: str) -> str | None:
        binding = self.module.get(name)
        if binding is not None:
            return binding.path
        if name in BUILTIN_NAMES or not self.stars:
            return None
        return f"{self.stars[-1]}.{name}"

    def lookup(self, scopes: list[tuple[dict[str, str | None], bool]]) -> Lookup:
        """Name resolution from the innermost scope out; a class body's names are invisible to its methods."""
        def find(name: str) -> str | None:
            for depth, (names, is_class) in enumerate(reversed(scopes)):
                if is_class and depth > 0:
                    continue
                if name in names:
                    return names[name]
            return self.module_path(name)
        return find

    def is_local(self, name: str, scopes: list[tuple[dict[str, str | None], bool]]) -> bool:
        return any(name in names for depth, (names, is_class) in enumerate(reversed(scopes))
                   if not (is_class and depth > 0))

    def follow(self, name: str, called: bool = True) -> None:
        """Scan a module-level name the scanned code uses: the student's classes and functions always, an
        assignment only when it is called (a demo instance such as `gru = GRU(10, 20)` is not a helper)."""
        binding = self.module.get(name)
        if binding is None or name in self.followed or binding.cell is None or binding.node is None:
            return
        if binding.kind == "assignment" and not called:
            return
        self.followed.add(name)
        if binding.kind == "import":
            if binding.path:
                self.flag(binding.path, binding.node, binding.cell)
            return
        self.visit(binding.node, binding.cell, [])

    def flag(self, path: str, node: ast.AST, cell: CodeCell) -> None:
        parts = path.split(".")
        hits = [part for part in parts[1:] if part in self.forbidden]
        if parts[0] not in LIBRARIES or not hits:
            return
        line = getattr(node, "lineno", 1)
        lines = cell.source.splitlines()
        self.findings.setdefault((cell.number, line), Finding(hits[-1], path, cell.number, line,
                                                              lines[line - 1] if line <= len(lines) else ""))

    def local_scope(self, node: ast.AST, scopes: list) -> dict[str, str | None]:
        """The names a function, lambda or class body binds (a library object's path, or None), as Python scopes
        them: parameters, assignments, imports, nested definitions, comprehension and walrus targets, minus globals."""
        names: dict[str, str | None] = {}
        if not isinstance(node, ast.ClassDef):
            arguments = node.args
            for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg,
                        arguments.kwarg]:
                if arg is not None:
                    names[arg.arg] = None
        body = [ast.Expr(node.body)] if isinstance(node, ast.Lambda) else node.body
        lookup = self.lookup([*scopes, (names, False)])
        declared_global: set[str] = set()
        for statement in _scope_statements(body):
            if isinstance(statement, ast.Global):
                declared_global.update(statement.names)
            _bind_statement(statement, names, lookup, lambda path, kind: path)
        for statement in body:
            for child in ast.walk(statement):
                if isinstance(child, (ast.NamedExpr, ast.comprehension)):
                    names.update(dict.fromkeys(_stored_names(child.target), None))
        for name in declared_global:
            names.pop(name, None)
        return names

    def visit(self, node: ast.AST, cell: CodeCell, scopes: list) -> None:
        if isinstance(node, SCOPES):
            outer = [*getattr(node, "decorator_list", []), *getattr(node, "bases", []),
                     *[keyword.value for keyword in getattr(node, "keywords", [])]]
            if not isinstance(node, ast.ClassDef):
                outer += [*node.args.defaults, *[d for d in node.args.kw_defaults if d is not None]]
            for child in outer:
                self.visit(child, cell, scopes)
            inner = [*scopes, (self.local_scope(node, scopes), isinstance(node, ast.ClassDef))]
            for child in ([node.body] if isinstance(node, ast.Lambda) else node.body):
                self.visit(child, cell, inner)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for _, path in _import_paths(node):
                if path:
                    self.flag(path, node, cell)
            return
        lookup = self.lookup(scopes)
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)) or (
                isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)):
            path = resolve(node, lookup)
            if path:
                self.flag(path, node, cell)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and not self.is_local(node.id, scopes):
            self.follow(node.id, called=False)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not self.is_local(node.func.id, scopes):
            self.follow(node.func.id, called=True)
        for child in ast.iter_child_nodes(node):
            self.visit(child, cell, scopes)


def forbidden_references(notebook: nbformat.NotebookNode, class_names: list[str], forbidden: set[str]) -> list[Finding]:
    """Forbidden torch/numpy/scipy objects used by the given classes or by the student's helpers they reach.

    Only names that resolve to a library object count (through imports, aliases, attribute chains on `torch`,
    `nn`, `F`, `np`, `scipy`, …): the student's own classes, functions and variables never do, whatever they are
    called (`self.gru_cell = GRUCell(…)`, `conv1d = Conv1D(…)`). A top-level assignment is followed only when the
    classes call it.
    """
    scan = _Scan(parsed_cells(notebook), forbidden)
    for name in class_names:
        scan.follow(name)
    return sorted(scan.findings.values(), key=lambda finding: (finding.cell, finding.line))

TENSOR_HANDOFFS = (".numpy", ".__array__", ".tolist")   # traced calls that hand a tensor's values to numpy


def from_scratch_outcome(subject: str, what: str, static: list[Finding], traced: list[list[str]],
                         forbidden_call_substrings: list[str]) -> Outcome:
    """The from-scratch verdict: the run-time trace decides, the static findings say where in the source.

    `traced` holds the torch calls of every successful run. A call whose name contains a forbidden substring fails;
    a numpy/scipy finding fails when the trace shows tensors handed to numpy (the torch trace cannot see inside
    numpy); any other static finding is a warning that costs nothing, since the trace saw it never run.
    """
    found = [finding.sentence() for finding in static]
    where = f" In the source: {static[0].sentence()}." if static else ""
    if not traced:
        if static:
            return Outcome.failed(f"{subject}: a built-in {what} in the source, {static[0].sentence()} (the code never"
                                  " ran successfully, so the call could not be traced).", found=found)
        return Outcome.failed(f"Not verified: {subject} never ran successfully, so their calls could not be traced.")
    names = sorted({name for calls in traced for name in calls})
    called = [name for name in names if any(part in name.lower() for part in forbidden_call_substrings)]
    if called:
        return Outcome.failed(f"A built-in {what} ran inside {subject} at run time: {', '.join(called)}.{where}",
                              found=called + found)
    outside = [finding for finding in static if finding.library != "torch"]
    handoffs = [name for name in names if name.endswith(TENSOR_HANDOFFS)]
    if outside and handoffs:
        return Outcome.failed(f"Tensors go to {outside[0].library} at run time inside {subject} ({handoffs[0]}),"
                              f" and the source calls a built-in {what} there: {outside[0].sentence()}.",
                              found=[*handoffs, *found])
    if static:
        return Outcome.passed(f"No built-in {what} ran in {plural(len(traced), 'traced call')} of {subject}."
                              f" Warning (no points lost): the source names one, {static[0].sentence()}, but it"
                              " never ran while the grader called the code.", warnings=found)
    return Outcome.passed(f"No built-in {what} in the source of {subject} or in {plural(len(traced), 'traced call')}.")


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
