"""Which of a notebook's statements the measuring kernel runs: imports, definitions and simple constants.

Cells are read as IPython reads them (magics and `!` lines become calls, so they hide nothing), then parsed; at the
top level a statement is kept when running it cannot run the student's own code or change the kernel:

- imports, and `def`/`class` statements whose decorators, defaults, bases and keywords are library objects or
  constants (a class body keeps its methods, nested classes, docstring and constant assignments; a hook Python runs
  while defining a class, such as `__init_subclass__`, is left out);
- assignments to plain names whose value is built from constants, names and calls of library objects (`torch`,
  `numpy`, `math`, …; never `torch.jit`, `torch.utils.cpp_extension`, `ctypes`, a hook registration) or of pure
  builtins (`len`, `range`, `dict`, …), with none of the student's functions or classes passed along.

Everything else (calls of the student's code, loops, `with` blocks, attribute assignments) never runs there. Lines
keep their numbers: a statement left out becomes blank lines (`pass` where a body would be empty).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from grader.checks.analysis import BUILTIN_NAMES, _import_paths, ipython_source, resolve

PURE_LIBRARIES = frozenset({"torch", "numpy", "math", "collections", "string", "random", "itertools", "functools",
                            "typing", "dataclasses", "enum", "re", "operator", "pandas", "scipy", "statistics",
                            "fractions", "decimal", "copy"})
# Parts of a library path that compile, load native code, hook or trace: never called by a kept assignment.
DENIED_PARTS = frozenset({"jit", "cpp_extension", "library", "ops", "_C", "compile", "_dynamo", "_inductor",
                          "overrides", "_python_dispatch", "ctypes", "load", "load_library", "settrace",
                          "setprofile", "Thread", "system", "popen", "exec", "eval"})
DENIED_WORDS = ("register", "hook", "patch", "setattr")
PURE_BUILTINS = frozenset({"abs", "all", "any", "bool", "dict", "divmod", "enumerate", "float", "frozenset", "int",
                           "len", "list", "max", "min", "pow", "range", "reversed", "round", "set", "slice",
                           "sorted", "str", "sum", "tuple", "zip", "isinstance", "issubclass", "complex", "bytes",
                           "hash", "ord", "chr", "repr", "format", "bin", "hex", "oct", "staticmethod",
                           "classmethod", "property"})
# Python runs these while it defines a class (or a subclass of it): code that would run at definition time.
DEFINITION_HOOKS = frozenset({"__init_subclass__", "__set_name__", "__class_getitem__", "__mro_entries__",
                              "__prepare__"})
ACCESSOR_DECORATORS = ("setter", "getter", "deleter")


@dataclass
class Selection:
    """The measuring kernel's cells (one per notebook cell, line numbers kept) and what was left out of them."""

    sources: dict[int, str] = field(default_factory=dict)  # notebook cell index → the source the measuring kernel runs
    left_out: list[str] = field(default_factory=list)  # "cell 3, line 7: dataset = Dataset(…)"


class _Selector:
    def __init__(self, student_names: set[str]) -> None:
        self.student_names = student_names
        self.bound: dict[str, str | None] = {}

    def lookup(self, name: str) -> str | None:
        if name in self.bound:
            return self.bound[name]
        return f"builtins.{name}" if name in BUILTIN_NAMES else None

    def library_call(self, func: ast.expr) -> bool:
        path = resolve(func, self.lookup)
        if path is None:
            return False
        parts = path.split(".")
        if parts[0] == "builtins":
            return len(parts) == 2 and parts[1] in PURE_BUILTINS
        if parts[0] not in PURE_LIBRARIES or any(part in DENIED_PARTS for part in parts):
            return False
        return not any(word in part.lower() for part in parts for word in DENIED_WORDS)

    def pure(self, node: ast.AST | None, as_argument: bool = False) -> bool:
        """Evaluating `node` calls no student code and nothing that changes the kernel."""
        if node is None or isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Name):
            return not (as_argument and node.id in self.student_names)
        if isinstance(node, ast.Lambda):
            return not as_argument
        if isinstance(node, ast.Call):
            return (self.library_call(node.func) and self.pure(node.func)
                    and all(self.pure(arg, as_argument=True) for arg in node.args)
                    and all(self.pure(keyword.value, as_argument=True) for keyword in node.keywords))
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.BinOp,
                             ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.JoinedStr, ast.FormattedValue,
                             ast.Starred, ast.Slice, ast.keyword, ast.ListComp, ast.SetComp, ast.DictComp,
                             ast.GeneratorExp, ast.comprehension, ast.expr_context, ast.operator, ast.unaryop,
                             ast.boolop, ast.cmpop)):
            return all(self.pure(child, as_argument) for child in ast.iter_child_nodes(node))
        return False

    def decorator_ok(self, decorator: ast.expr) -> bool:
        if isinstance(decorator, ast.Attribute) and decorator.attr in ACCESSOR_DECORATORS:
            return True
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        path = resolve(target, self.lookup)
        return path is not None and self.pure(decorator) and (not isinstance(decorator, ast.Call)
                                                              or self.library_call(decorator.func))

    def signature_ok(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        arguments = node.args
        annotations = [arg.annotation for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                                                  arguments.vararg, arguments.kwarg] if arg is not None]
        return (all(self.decorator_ok(d) for d in node.decorator_list)
                and all(self.pure(d) for d in [*arguments.defaults, *arguments.kw_defaults, node.returns,
                                               *annotations]))

    def assignment_ok(self, node: ast.stmt) -> bool:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            return False
        plain = all(isinstance(name, ast.Name) for target in targets
                    for name in (target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]))
        return plain and self.pure(node.value) and self.pure(getattr(node, "annotation", None))

    def class_ok(self, node: ast.ClassDef) -> bool:
        return (all(self.decorator_ok(d) for d in node.decorator_list) and all(self.pure(b) for b in node.bases)
                and all(self.library_call(k.value) or isinstance(k.value, ast.Constant) for k in node.keywords))

    def class_body_left_out(self, node: ast.ClassDef) -> list[ast.stmt]:
        """The statements of a class body that would run code while the class is defined."""
        left_out: list[ast.stmt] = []
        for statement in node.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if statement.name in DEFINITION_HOOKS or not self.signature_ok(statement):
                    left_out.append(statement)
            elif isinstance(statement, ast.ClassDef):
                if self.class_ok(statement):
                    left_out += self.class_body_left_out(statement)
                else:
                    left_out.append(statement)
            elif isinstance(statement, ast.Pass) or (isinstance(statement, ast.Expr)
                                                     and isinstance(statement.value, ast.Constant)):
                continue
            elif not self.assignment_ok(statement):
                left_out.append(statement)
        return left_out

    def bind(self, node: ast.stmt) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for name, path in _import_paths(node):
                self.bound[name] = path
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.bound[node.name] = None
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            single = len(targets) == 1 and isinstance(targets[0], ast.Name)
            path = resolve(node.value, self.lookup) if single and node.value is not None else None
            for target in targets:
                for child in ast.walk(target):
                    if isinstance(child, ast.Name):
                        self.bound[child.id] = path

    def statement_left_out(self, node: ast.stmt) -> list[ast.stmt] | None:
        """None when the whole statement is left out, else the statements inside it that are."""
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            return []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return [] if self.signature_ok(node) else None
        if isinstance(node, ast.ClassDef):
            return self.class_body_left_out(node) if self.class_ok(node) else None
        if self.assignment_ok(node):
            return []
        return None


def _student_names(trees: list[ast.Module]) -> set[str]:
    """Every name the notebook binds to its own function, class or lambda, anywhere."""
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _blank(lines: list[str], node: ast.stmt, keep_body: bool) -> None:
    """Blank a statement's lines; `keep_body`: a `pass` on its first line keeps the enclosing body valid."""
    decorators = getattr(node, "decorator_list", [])
    first = min([node.lineno, *(decorator.lineno for decorator in decorators)]) - 1
    last = (node.end_lineno or node.lineno) - 1
    indent = re.match(r"\s*", lines[first]).group(0)
    for index in range(first, last + 1):
        lines[index] = ""
    if keep_body:
        lines[first] = f"{indent}pass"


def _describe(lines: list[str], node: ast.stmt, cell_number: int) -> str:
    text = lines[node.lineno - 1].strip()
    return f"cell {cell_number}, line {node.lineno}: {text[:80]}"


def select(cells: list[tuple[int, str]]) -> Selection:
    """The measuring kernel's source for each code cell (`(index, source)` pairs, in notebook order)."""
    transformed = [(index, ipython_source(source)) for index, source in cells]
    trees: dict[int, ast.Module | None] = {}
    for index, source in transformed:
        try:
            trees[index] = ast.parse(source)
        except (SyntaxError, ValueError):
            trees[index] = None
    selector = _Selector(_student_names([tree for tree in trees.values() if tree is not None]))
    selection = Selection()
    for index, source in transformed:
        tree = trees[index]
        if tree is None:
            selection.sources[index] = ""
            selection.left_out.append(f"cell {index + 1}: the whole cell (it is not valid Python)")
            continue
        lines = source.split("\n")
        original = list(lines)
        for node in tree.body:
            inner = selector.statement_left_out(node)
            if inner is None:
                selection.left_out.append(_describe(original, node, index + 1))
                _blank(lines, node, keep_body=False)
                continue
            for statement in inner:
                selection.left_out.append(_describe(original, statement, index + 1))
                _blank(lines, statement, keep_body=True)
            selector.bind(node)
        selection.sources[index] = "\n".join(lines)
    return selection
