"""IMDb sentiment, grader side: the checks, run in the grader's own process on what the probe measured."""

from __future__ import annotations

import ast
import html.parser
import math
import re
from dataclasses import dataclass, field
from typing import Any

from grader.check import CheckContext, Outcome
from grader.checks.analysis import missing_definition, parsed_cells, plural
from grader.exercise import CheckParams
from grader.exercises.imdb.kernel import KINDS
from grader.exercises.imdb.schema import ModelRecord, ParamInfo
from grader.probe import ProbeData


ADVANCED = ("bilstm", "lstm", "gru")
MIN_MEASURED = 20
SPARKS = "▁▂▃▄▅▆▇█"
TORCH_LAYERS = {"torch.nn.RNN": "rnn", "torch.nn.LSTM": "lstm", "torch.nn.GRU": "gru",
                "torch.nn.modules.rnn.RNN": "rnn", "torch.nn.modules.rnn.LSTM": "lstm", "torch.nn.modules.rnn.GRU": "gru"}
LAYER_NAMES = {"rnn": "an nn.RNN", "lstm": "an nn.LSTM", "gru": "an nn.GRU"}
LSTM_POSITIONS = {"num_layers": 2, "bidirectional": 6}   # nn.LSTM(input, hidden, num_layers, bias, batch_first, dropout, bidirectional)
UNKNOWN = object()


def label_of(kind: str) -> str:
    """'rnn' for the basic model, 'lstm' for the advanced one (an LSTM or a GRU of any shape)."""
    return "rnn" if kind == "rnn" else "lstm"


@dataclass
class SourceClass:
    """A class in the notebook whose body builds a torch recurrent layer (or another such class)."""

    name: str
    cell: int
    kind: str                 # 'rnn' | 'lstm' | 'gru'
    node: ast.ClassDef
    layer: ast.Call | None    # the nn.RNN/LSTM/GRU call that decided the kind

    def described(self) -> str:
        return f"class `{self.name}` (cell {self.cell}, with {LAYER_NAMES[self.kind]})"


@dataclass
class Binding:
    """A variable built from one of those classes: `model = RNN(...)` in some cell."""

    variable: str
    cell: int
    cls: SourceClass
    call: ast.Call
    constants: dict[str, Any]   # the notebook's top-level constants at that point
    replaced: str = ""          # where the variable was given something else, if it was

    def origin(self) -> str:
        return f"built in cell {self.cell} from {self.cls.described()}"


@dataclass
class SourceModels:
    """The notebook's model classes and the variables built from them, as running it top to bottom leaves them."""

    bindings: list[Binding]
    held: list[Binding]                           # the bindings some variable still holds at the end
    cell_labels: dict[int, tuple[str, str]]       # cell → ('rnn' | 'lstm', why), when its code uses one kind only

    def lost(self, label: str) -> Binding | None:
        """The last model of this label that no variable holds any more (overwritten), if any."""
        gone = [b for b in self.bindings if label_of(b.cls.kind) == label and all(b is not h for h in self.held)]
        return gone[-1] if gone else None


def _statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements run at the top level, also inside if/for/while/with/try blocks, not inside functions."""
    found = []
    for statement in body:
        found.append(statement)
        if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for name in ("body", "orelse", "finalbody"):
                found += _statements(getattr(statement, name, []) or [])
            for handler in getattr(statement, "handlers", []) or []:
                found += _statements(handler.body)
    return found


class _SourceReader:
    """Reads the notebook's cells in order, tracking imports of torch, model classes and the models built."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}
        self.classes: dict[str, SourceClass | None] = {}
        self.current: dict[str, Binding] = {}
        self.constants: dict[str, Any] = {}
        self.bindings: list[Binding] = []
        self.cell_labels: dict[int, tuple[str, str]] = {}

    def _dotted(self, node: ast.AST) -> str:
        """'nn.LSTM' → 'torch.nn.LSTM' through the notebook's imports; '' for anything else."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, "")
        if isinstance(node, ast.Attribute):
            inner = self._dotted(node.value)
            return f"{inner}.{node.attr}" if inner else ""
        return ""

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if isinstance(node, ast.ImportFrom):
                if node.module and node.module.split(".")[0] == "torch":
                    self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif alias.name.split(".")[0] == "torch":
                self.aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else "torch"

    def _class(self, node: ast.ClassDef, cell: int) -> None:
        found: dict[str, ast.Call | None] = {}
        for base in node.bases:
            known = self.classes.get(base.id) if isinstance(base, ast.Name) else None
            if known is not None:
                found.setdefault(known.kind, known.layer)
        for child in ast.walk(node):
            if not isinstance(child, ast.Call):
                continue
            kind = TORCH_LAYERS.get(self._dotted(child.func), "")
            known = self.classes.get(child.func.id) if isinstance(child.func, ast.Name) else None
            if kind:
                found.setdefault(kind, child)
            elif known is not None:
                found.setdefault(known.kind, known.layer)
        kind = next((k for k in ("lstm", "gru", "rnn") if k in found), "")
        self.classes[node.name] = SourceClass(node.name, cell, kind, node, found[kind]) if kind else None

    def _built(self, value: ast.AST, variable: str, cell: int) -> Binding | None:
        """The model an assigned value holds: a new one (`RNN(...)`, `RNN(...).to(device)`), or the one another
        variable holds (`best = model`, `model = model.to(device)`)."""
        node = value
        while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func.value
        if isinstance(node, ast.Name):
            return self.current.get(node.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            cls = self.classes.get(node.func.id)
            if cls is not None:
                return Binding(variable, cell, cls, node, dict(self.constants))
        return None

    def _assign(self, target: ast.AST, value: ast.AST | None, cell: int) -> None:
        if isinstance(target, (ast.Tuple, ast.List, ast.Starred)):
            for element in target.elts if not isinstance(target, ast.Starred) else [target.value]:
                self._assign(element, None, cell)
            return
        if not isinstance(target, ast.Name):
            return  # `model.embedding.weight.data[0] = …` changes the model, not what `model` holds
        if isinstance(value, ast.Constant):
            self.constants[target.id] = value.value
        else:
            self.constants.pop(target.id, None)
        self._rebind(target.id, self._built(value, target.id, cell) if value is not None else None, cell)

    def _rebind(self, variable: str, binding: Binding | None, cell: int) -> None:
        previous = self.current.get(variable)
        if previous is binding:
            return
        if previous is not None and not previous.replaced:
            what = f"a model built from {binding.cls.described()}" if binding else "something else"
            previous.replaced = f"`{variable}` was given {what} in cell {cell}"
        if binding is None:
            self.current.pop(variable, None)
            return
        self.current[variable] = binding
        if all(binding is not known for known in self.bindings):
            self.bindings.append(binding)

    def _label_cell(self, tree: ast.Module, cell: int) -> None:
        """The one model kind this cell's code works with, and why, when there is exactly one."""
        reasons: dict[str, str] = {}
        for name in sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}):
            binding = self.current.get(name)
            if binding is not None:
                reasons.setdefault(label_of(binding.cls.kind), f"{BY_CODE}cell {cell} uses `{name}`, "
                                                                f"{binding.origin()}")
            elif self.classes.get(name) is not None:
                cls = self.classes[name]
                reasons.setdefault(label_of(cls.kind), f"{BY_CODE}cell {cell} uses {cls.described()}")
        if len(reasons) == 1:
            self.cell_labels[cell] = next(iter(reasons.items()))

    def read(self, notebook: Any) -> SourceModels:
        for cell in parsed_cells(notebook):
            for statement in _statements(cell.tree.body):
                if isinstance(statement, (ast.Import, ast.ImportFrom)):
                    self._import(statement)
                elif isinstance(statement, ast.ClassDef):
                    self._class(statement, cell.number)
                elif isinstance(statement, ast.Assign):
                    for target in statement.targets:
                        self._assign(target, statement.value, cell.number)
                elif isinstance(statement, ast.AnnAssign):
                    self._assign(statement.target, statement.value, cell.number)
            self._label_cell(cell.tree, cell.number)
        held = list({id(b): b for b in self.current.values()}.values())
        return SourceModels(self.bindings, held, self.cell_labels)


def source_models(notebook: Any) -> SourceModels:
    return _SourceReader().read(notebook)


def _static_value(node: ast.AST | None, arguments: dict[str, ast.AST], constants: dict[str, Any]) -> Any:
    """A constant, a constructor argument, or a top-level constant; UNKNOWN when it cannot be read statically."""
    if node is None:
        return UNKNOWN
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in arguments:
        return _static_value(arguments[node.id], {}, constants)
    if isinstance(node, ast.Name):
        return constants.get(node.id, UNKNOWN)
    return UNKNOWN


def static_settings(binding: Binding) -> tuple[int, bool] | None:
    """(num_layers, bidirectional) of an overwritten model's LSTM, read from the code; None when not readable."""
    layer, init = binding.cls.layer, next((n for n in binding.cls.node.body if isinstance(n, ast.FunctionDef)
                                           and n.name == "__init__"), None)
    if layer is None or init is None:
        return None
    names = [a.arg for a in init.args.args][1:]
    defaults = dict(zip(names[len(names) - len(init.args.defaults):], init.args.defaults))
    arguments = {**defaults, **dict(zip(names, binding.call.args)),
                 **{k.arg: k.value for k in binding.call.keywords if k.arg}}
    keywords = {k.arg: k.value for k in layer.keywords if k.arg}
    values = {}
    for setting, position in LSTM_POSITIONS.items():
        node = keywords.get(setting, layer.args[position] if len(layer.args) > position else None)
        values[setting] = _static_value(node, arguments, binding.constants) if node is not None else \
            (1 if setting == "num_layers" else False)
    if UNKNOWN in values.values():
        return None
    return int(values["num_layers"]), bool(values["bidirectional"])


NUMBER = r"(?:tensor\()?(?P<value>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
ACCURACY_NAME = (r"(?P<split>train(?:ing)?|val(?:id(?:ation)?)?|test)?\.?[\s_\-]*(?:(?:set|data(?:set)?)[\s_\-]*)?"
                 r"(?:binary_|categorical_)?acc(?:uracy)?s?\.?")
EVENT = re.compile(
    r"(?P<epoch>(?<![a-z_])epoch(?![a-z])['\"]?\s*(?:[:#=]\s*)?\[?\s*(?P<epoch_number>\d+)(?:\s*(?:/|of)\s*\d+)?)"
    r"|(?<![a-z0-9_])" + ACCURACY_NAME + r"['\"]?\s*(?:[:=]\s*)?" + NUMBER + r"\s*(?P<percent>%)?",
    re.IGNORECASE,
)
ACCURACY_COLUMN = re.compile(r"(?<![a-z0-9])" + ACCURACY_NAME + r"(?![a-z])", re.IGNORECASE)
EPOCH_COLUMN = re.compile(r"\W*epochs?\W*", re.IGNORECASE)
LISTED = re.compile(r"['\"]?(?P<key>[A-Za-z][\w .]*?)['\"]?\s*[:=]\s*\[(?P<values>[\d\s.,eE+\-%]*)\]")
PARAM_COUNT = re.compile(
    r"(\d{1,3}(?:[,_ ]\d{3})+|\d+)\s+(?:trainable\s+)?param"
    r"|param(?:eter)?s?\b[^\n\d]{0,30}?[:=]\s*(\d{1,3}(?:[,_]\d{3})+|\d+)",
    re.IGNORECASE,
)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BY_CODE, BY_OUTPUT, BY_NAMES = "by the code: ", "by its output, which names it ", "by the names in its code "
STDOUT, STDERR, HTML_TABLE, TEXT_TABLE, LISTS = ("printed output", "stderr (progress bars)", "a displayed table",
                                                 "a printed table", "a printed dict of lists")


def _accuracy(value: str, percent: str | None) -> float | None:
    """A printed accuracy as a fraction: '50.25%' and '0.5025' are both 0.5025; '50.25' (no %) is a percent."""
    number = float(value)
    fraction = number / 100 if percent or number > 1 else number
    return fraction if 0 <= fraction <= 1 else None


def _by_output(cell: int, channel: str) -> str:
    return f"{BY_OUTPUT}(cell {cell}, {channel})"


def _rank(why: str) -> int:
    """How telling a reason is: what the code does, then what the output says, then what the code is named."""
    return next((rank for rank, prefix in ((3, BY_CODE), (2, BY_OUTPUT), (1, BY_NAMES)) if why.startswith(prefix)), 0)


def _number(text: str) -> float | None:
    match = re.fullmatch(r"\s*(?:tensor\()?(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\)?\s*(%?)\s*", text)
    return None if match is None else float(match.group(1)) / (100 if match.group(2) else 1)


def _hint(text: str) -> str:
    """'lstm' when the text names only the advanced model (LSTM, GRU, 'advanced'), 'rnn' when only the basic
    one (RNN, 'basic', 'base'), else ''."""
    parts = [part for word in IDENTIFIER.findall(text.lower()) for part in re.split(r"[_\d]+", word) if part]
    advanced = any("lstm" in part or part.startswith(("gru", "bigru")) or part.endswith("gru") or part == "advanced"
                   for part in parts)
    basic = any(("rnn" in part and "lstm" not in part) or part in ("basic", "base", "baseline", "vanilla")
                for part in parts)
    return "lstm" if advanced and not basic else "rnn" if basic and not advanced else ""


def _split_kind(split: str | None) -> str:
    split = (split or "").lower()
    return "test" if split == "test" else "valid" if split.startswith("val") else "train"


@dataclass
class Epoch:
    number: int
    explicit: bool
    train: float | None = None
    valid: float | None = None


@dataclass
class _Event:
    kind: str        # 'epoch', 'train', 'valid', 'test', or 'hint' (a line naming a model)
    value: float
    cell: int
    hint: str
    channel: str
    why: str = ""    # how the hint was found


@dataclass
class Run:
    """One model's training as reported: its epochs, then (maybe) a test accuracy, and where they were read."""

    cell: int
    epochs: list[Epoch] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    places: list[tuple[int, str]] = field(default_factory=list)
    test: float | None = None
    test_place: tuple[int, str] | None = None

    @property
    def hint(self) -> str:
        named = {hint for hint in self.hints if hint}
        return named.pop() if len(named) == 1 else ""

    def note(self, event: _Event, place: bool = True) -> None:
        """Keep the event's model hint and why; `place`: its cell and channel hold this run's epochs."""
        self.hints.append(event.hint)
        known = self.reasons.get(event.hint, "")
        if event.hint and event.why and (not known or _rank(event.why) > _rank(known)):
            self.reasons[event.hint] = event.why
        if place and (event.cell, event.channel) not in self.places:
            self.places.append((event.cell, event.channel))

    def where(self) -> str:
        """'cell 14 (printed output)' or 'cells 14, 15 (stderr (progress bars), printed output)'."""
        cells = sorted({cell for cell, _ in self.places})
        channels = list(dict.fromkeys(channel for _, channel in self.places))
        return f"{'cell' if len(cells) == 1 else 'cells'} {', '.join(map(str, cells))} ({', '.join(channels)})"

    def span(self) -> str:
        numbers = [e.number for e in self.epochs]
        return f"{plural(len(numbers), 'epoch')}" + (f" ({numbers[0]}–{numbers[-1]})" if numbers else "")

    def absorb(self, other: "Run") -> None:
        """The same training reported a second time (another channel, a table after the prints): fill the gaps."""
        for mine, theirs in zip(self.epochs, other.epochs):
            mine.train = mine.train if mine.train is not None else theirs.train
            mine.valid = mine.valid if mine.valid is not None else theirs.valid
        self.hints += other.hints
        for hint, why in other.reasons.items():
            self.reasons.setdefault(hint, why)
        self.places += [place for place in other.places if place not in self.places]
        if self.test is None:
            self.test, self.test_place = other.test, other.test_place


def _same_training(first: Run, second: Run) -> bool:
    """Two runs are one training reported twice: same epochs and the same accuracies (to print precision), or
    the same cell and epochs read from two channels; never when they name different models."""
    if len(first.epochs) != len(second.epochs) or (first.hint and second.hint and first.hint != second.hint):
        return False
    if {c for c, _ in first.places} == {c for c, _ in second.places} and \
            {ch for _, ch in first.places}.isdisjoint({ch for _, ch in second.places}):
        return [e.number for e in first.epochs] == [e.number for e in second.epochs]
    pairs = [(getattr(a, split), getattr(b, split)) for a, b in zip(first.epochs, second.epochs)
             for split in ("train", "valid")]
    compared = [(a, b) for a, b in pairs if a is not None and b is not None]
    return bool(compared) and all(abs(a - b) <= 0.006 for a, b in compared)


def _segment_events(segment: str, cell: int, channel: str, cell_hint: str, why: str) -> list[_Event]:
    """Epoch markers and accuracies in one printed line or one progress-bar refresh."""
    printed = _hint(segment)
    hint, reason = (printed, _by_output(cell, channel)) if printed else (cell_hint, why)
    matches = list(EVENT.finditer(segment))
    if printed and not matches:
        return [_Event("hint", 0, cell, printed, channel, reason)]  # 'Training the BiLSTM…'
    # A bare 'accuracy' is the training accuracy only on a training line (Keras: '- accuracy: … - val_accuracy: …')
    training_line = any(m.group("epoch") or _split_kind(m.group("split")) == "valid" and m.group("split")
                        for m in matches)
    events = []
    for match in matches:
        if match.group("epoch"):
            events.append(_Event("epoch", int(match.group("epoch_number")), cell, hint, channel, reason))
            continue
        accuracy = _accuracy(match.group("value"), match.group("percent"))
        if accuracy is not None and (match.group("split") or training_line):
            events.append(_Event(_split_kind(match.group("split")), accuracy, cell, hint, channel, reason))
    return events


def _line_events(text: str, cell: int, channel: str, cell_hint: str, why: str) -> list[_Event]:
    """Events of each line of a text channel. A progress bar rewrites its line ('\\r'): a refresh that shows the
    same accuracies as the one before and no epoch number (a `trange` over epochs redrawn) adds nothing."""
    events = []
    for line in text.split("\n"):
        previous: list[tuple[str, float]] = []
        for segment in line.split("\r"):
            found = _segment_events(segment, cell, channel, cell_hint, why)
            shown = [(e.kind, e.value) for e in found if e.kind in ("train", "valid", "test")]
            if shown and shown == previous and not any(e.kind == "epoch" for e in found):
                continue
            previous = shown or previous
            events += found
    return events


class _TableParser(html.parser.HTMLParser):
    """Every <table> of a displayed HTML output as rows of (text, is_header) cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[tuple[str, bool]]]] = []
        self.row: list[tuple[str, bool]] | None = None
        self.cell: list[str] | None = None
        self.header = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.row = []
            self.tables[-1].append(self.row)
        elif tag in ("td", "th") and self.row is not None:
            self.cell, self.header = [], tag == "th"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append(("".join(self.cell).strip(), self.header))
            self.cell = None
        elif tag == "tr":
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def html_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """(column names, rows) of each HTML table; pandas' index column comes first (named by its index name)."""
    parser = _TableParser()
    try:
        parser.feed(text)
    except Exception:  # noqa: BLE001 - malformed markup is simply not a table
        return []
    tables = []
    for rows in parser.tables:
        headers = [row for row in rows if row and all(is_header for _, is_header in row)]
        body = [[text for text, _ in row] for row in rows if row and not all(is_header for _, is_header in row)]
        if not headers or not body:
            continue
        columns = [text for text, _ in headers[0]]
        if len(headers) > 1 and headers[1][0][0]:
            columns[0] = headers[1][0][0]   # pandas writes a named index on a second header row
        tables.append((columns, [row for row in body if len(row) == len(columns)]))
    return tables


def text_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """(column names, rows) of each table a printed DataFrame shows: a header naming an accuracy column, then rows
    of an index and one value per column."""
    lines, tables, index = text.splitlines(), [], 0
    while index < len(lines):
        columns = lines[index].split()
        if len(columns) < 2 or any(_number(c) is not None for c in columns) or \
                not any(ACCURACY_COLUMN.search(c) for c in columns):
            index += 1
            continue
        following, index_name = index + 1, ""
        if following < len(lines) and len(lines[following].split()) == 1 and _number(lines[following]) is None:
            index_name, following = lines[following].strip(), following + 1
        rows = []
        while following < len(lines) and len(lines[following].split()) == len(columns) + 1:
            rows.append(lines[following].split())
            following += 1
        if rows:
            tables.append(([index_name, *columns], rows))
        index = max(following, index + 1)
    return tables


def _table_events(columns: list[str], rows: list[list[str]], cell: int, channel: str, cell_hint: str,
                  why: str) -> list[_Event]:
    """One epoch per row (numbered by an 'epoch' column, else by position) with the accuracies of its columns;
    columns named after a model (`rnn_valid_acc`) make a run each, so do rows naming one (a 'model' column)."""
    epoch_column = next((i for i, name in enumerate(columns) if EPOCH_COLUMN.fullmatch(name)), None)
    roles = {}
    for position, name in enumerate(columns):
        match = ACCURACY_COLUMN.search(name)
        if match and position != epoch_column:
            roles[position] = (_split_kind(match.group("split")), _hint(name))
    per_epoch = any(kind != "test" for kind, _ in roles.values())
    events = []
    for group in dict.fromkeys(hint for _, hint in roles.values()):
        for position, row in enumerate(rows):
            labels = " ".join(value for i, value in enumerate(row) if i not in roles and _number(value) is None)
            printed = group or _hint(labels)
            hint, reason = (printed, _by_output(cell, channel)) if printed else (cell_hint, why)
            if per_epoch:
                number = _number(row[epoch_column]) if epoch_column is not None else None
                events.append(_Event("epoch", int(number) if number is not None else position + 1, cell, hint,
                                     channel, reason))
            for column, (kind, column_hint) in roles.items():
                value = _number(row[column])
                if column_hint == group and value is not None and _accuracy(str(value), None) is not None:
                    events.append(_Event(kind, _accuracy(str(value), None), cell, hint, channel, reason))
    return events


def _list_events(text: str, cell: int, cell_hint: str, why: str) -> list[_Event]:
    """Histories printed as lists (`{'train_acc': [0.61, …], 'val_acc': […]}`, Keras' `history.history`)."""
    groups: list[dict[str, tuple[list[float], str]]] = [{}]
    for match in LISTED.finditer(text):
        name = ACCURACY_COLUMN.search(match.group("key"))
        values = [_number(v) for v in match.group("values").split(",") if v.strip()]
        if name is None or not values or None in values:
            continue
        kind = _split_kind(name.group("split"))
        if kind in groups[-1]:
            groups.append({})
        groups[-1][kind] = ([v for v in values if v is not None], _hint(match.group("key")))
    events = []
    for group in groups:
        printed = next((hint for _, hint in group.values() if hint), "")
        hint, reason = (printed, _by_output(cell, LISTS)) if printed else (cell_hint, why)
        length = max((len(values) for kind, (values, _) in group.items() if kind != "test"), default=0)
        for position in range(length):
            events.append(_Event("epoch", position + 1, cell, hint, LISTS, reason))
            for kind, (values, _) in group.items():
                value = _accuracy(str(values[position]), None) if kind != "test" and position < len(values) else None
                if value is not None:
                    events.append(_Event(kind, value, cell, hint, LISTS, reason))
        for value in group.get("test", ([], ""))[0]:
            if _accuracy(str(value), None) is not None:
                events.append(_Event("test", _accuracy(str(value), None), cell, hint, LISTS, reason))
    return events


class _LogBuilder:
    """Turns the events, in output order, into runs: an epoch number that does not go up starts a new run."""

    def __init__(self) -> None:
        self.runs: list[Run] = []
        self.current: Run | None = None
        self.pending: _Event | None = None

    def _open(self, event: _Event) -> Run:
        self.current = Run(cell=event.cell)
        if self.pending is not None:
            self.current.note(self.pending, place=False)
            self.pending = None
        self.runs.append(self.current)
        return self.current

    def hint(self, event: _Event) -> None:
        self.pending = event

    def epoch(self, event: _Event) -> None:
        number = int(event.value)
        last = self.current.epochs[-1] if self.current is not None and self.current.epochs else None
        if last is not None and number == last.number:
            last.explicit = True  # the same epoch announced twice ('Epoch 1/5' … 'Epoch 1/5 done', a bar's refreshes)
            self.current.note(event)
            return
        run = self.current
        if run is None or (last is not None and number < last.number) or \
                (event.hint and run.hint and event.hint != run.hint):
            run = self._open(event)
        run.epochs.append(Epoch(number, explicit=True))
        run.note(event)

    def accuracy(self, event: _Event) -> None:
        run = self.current
        if run is None or (event.hint and run.hint and event.hint != run.hint):
            run = self._open(event)  # without epoch numbers, only a change of model name shows a new run
        if not run.epochs:
            run.epochs.append(Epoch(1, explicit=False))
        epoch = run.epochs[-1]
        if not epoch.explicit and epoch.valid is not None:
            epoch = Epoch(epoch.number + 1, explicit=False)  # no epoch lines: a completed epoch ends at its valid value
            run.epochs.append(epoch)
        setattr(epoch, event.kind, event.value)
        run.note(event)

    def test(self, event: _Event) -> None:
        named = [run for run in self.runs if event.hint and run.hint == event.hint and run.test is None]
        open_run = self.current if self.current is not None and self.current.test is None else None
        target = named[-1] if named else open_run
        if target is None:
            untested = [run for run in self.runs if run.test is None]
            if not untested:
                return  # a test line with no training before it belongs to no run
            target = untested[-1]
        target.test, target.test_place = event.value, (event.cell, event.channel)
        if event.hint and not target.hint:
            target.note(event, place=False)  # 'BiLSTM test: …' right after an unnamed run names it
        if target is self.current:
            self.current = None

    def feed(self, event: _Event) -> None:
        {"epoch": self.epoch, "test": self.test, "hint": self.hint}.get(event.kind, self.accuracy)(event)


def _merge_repeats(runs: list[Run]) -> list[Run]:
    kept: list[Run] = []
    for run in runs:
        twin = next((known for known in kept if _same_training(known, run)), None)
        if twin is None:
            kept.append(run)
        else:
            twin.absorb(run)
    return kept


def _assign(runs: list[Run]) -> tuple[dict[str, Run], dict[str, str]]:
    """Which run is the RNN's and which the advanced model's: by what the code and the output say, else in order
    (RNN first); with the reason for each."""
    runs = [run for run in runs if run.epochs]
    assigned, reasons = {}, {}
    for label in ("rnn", "lstm"):
        named = [run for run in runs if run.hint == label]
        if named:
            assigned[label], reasons[label] = named[-1], named[-1].reasons.get(label, "")
    unnamed = [run for run in runs if not run.hint]
    order = iter(enumerate(unnamed, 1))
    for label in ("rnn", "lstm"):
        position, run = next(order, (0, None)) if label not in assigned else (0, None)
        if run is not None:
            assigned[label] = run
            reasons[label] = (f"by order: training log {position} of the {len(unnamed)} that name no model "
                              "(the RNN is taken to come first)")
    return assigned, reasons


@dataclass
class TrainingLog:
    runs: dict[str, Run]             # 'rnn' and 'lstm' → the run reported for that model
    reasons: dict[str, str]          # 'rnn' and 'lstm' → why that run was attributed to it
    all_runs: list[Run]
    counts: list[tuple[int, str]]    # (printed parameter count, 'rnn' | 'lstm' | '')
    source: SourceModels

    def described(self, label: str) -> str:
        run = self.runs.get(label)
        if run is None:
            return "none found"
        test = f", test accuracy {_pct(run.test)} from cell {run.test_place[0]}" if run.test_place else ", no test accuracy"
        return f"{run.span()} read from {run.where()}{test}; attributed to it {self.reasons.get(label, '')}"

    def details(self) -> dict[str, Any]:
        """Where each model's numbers were read, and every other training log found, for the report."""
        found = {"RNN": self.described("rnn"), "Advanced model": self.described("lstm")}
        others = [run for run in self.all_runs if run.epochs and all(run is not r for r in self.runs.values())]
        if others:
            found["Other training logs"] = "; ".join(f"{run.span()} in {run.where()}" for run in others)
        return found


def _spelled(source: str, cell: int, classes: set[str]) -> tuple[str, str]:
    """The model a cell's code names (`rnn_model`), when its variables' classes say nothing; class names are
    left out (the tutorials call the BiLSTM's class RNN)."""
    names = [name for name in IDENTIFIER.findall(source) if name not in classes]
    hint = _hint(" ".join(names))
    named = next((name for name in names if _hint(name) == hint), "") if hint else ""
    return hint, f"{BY_NAMES}(`{named}` in cell {cell})" if hint else ""


def _cell_events(record: Any, hint: str, why: str) -> list[_Event]:
    """Every channel of one cell, in the order its training most likely printed: lines naming a model, then the
    epochs (lines, dicts of lists, tables, progress bars), then the test lines printed after them."""
    printed = _line_events(record.stdout, record.number, STDOUT, hint, why)
    tables = [(columns, rows, HTML_TABLE) for columns, rows in html_tables(record.html)] or \
             [(columns, rows, TEXT_TABLE) for columns, rows in text_tables(record.stdout)]
    training = _list_events(record.stdout, record.number, hint, why)
    for columns, rows, channel in tables:
        training += _table_events(columns, rows, record.number, channel, hint, why)
    training += _line_events(record.stderr, record.number, STDERR, hint, why)
    if any(event.kind in ("epoch", "train", "valid") for event in printed):
        return printed + training
    first_test = next((i for i, event in enumerate(printed) if event.kind == "test"), len(printed))
    return printed[:first_test] + training + printed[first_test:]


def training_log(ctx: CheckContext) -> TrainingLog:
    """Read every cell's outputs into the two models' runs and the printed parameter counts."""
    models = source_models(ctx.notebook)
    classes = {node.name for cell in parsed_cells(ctx.notebook) for node in ast.walk(cell.tree)
               if isinstance(node, ast.ClassDef)}
    builder = _LogBuilder()
    counts: list[tuple[int, str]] = []
    cells = ctx.notebook.get("cells", [])
    for record in ctx.execution.cells:
        source = "".join(cells[record.number - 1].get("source", "")) if record.number <= len(cells) else ""
        hint, why = models.cell_labels.get(record.number) or _spelled(source, record.number, classes)
        for event in _cell_events(record, hint, why):
            builder.feed(event)
        for line in record.stdout.splitlines():
            for match in PARAM_COUNT.finditer(line):
                digits = re.sub(r"[,_ ]", "", match.group(1) or match.group(2))
                counts.append((int(digits), _hint(line) or hint))
    runs = _merge_repeats(builder.runs)
    assigned, reasons = _assign(runs)
    return TrainingLog(assigned, reasons, runs, counts, models)


@dataclass
class Measured:
    """One model as the grader sees it: its record, and its accuracy on the held-back reviews."""

    model: ModelRecord
    correct: int
    measured: int
    out_of_range: float | None

    @property
    def accuracy(self) -> float:
        return self.correct / self.measured if self.measured else 0.0

    @property
    def name(self) -> str:
        return f"`{self.model.names[0]}`"

    def shape(self) -> str:
        """'2-layer bidirectional LSTM, hidden size 64' for its main recurrent layer."""
        layer = next((layer for layer in self.model.recurrent if layer.bidirectional and layer.num_layers >= 2),
                     self.model.recurrent[0] if self.model.recurrent else None)
        if layer is None:
            return self.model.class_name
        direction = "bidirectional " if layer.bidirectional else ""
        return f"{layer.num_layers}-layer {direction}{layer.type}, hidden size {layer.hidden_size}"


def _measured(model: ModelRecord, labels: list[int]) -> Measured:
    values = model.probabilities
    outside = next((v for v in values if v is not None and not 0.0 <= v <= 1.0), None)
    correct = sum(v is not None and (v > 0.5) == bool(label) for v, label in zip(values, labels))
    return Measured(model, correct, len(values), outside)


def _models(ctx: CheckContext, kind: str) -> list[Measured]:
    data: ProbeData = ctx.data()
    labels = getattr(ctx.plan, "labels", [])
    return [_measured(m, labels) for m in data.values.models if m.kind == kind]


def _best(ctx: CheckContext, *kinds: str) -> Measured | None:
    """The model of the first kind that has one; among several, the one that scores best."""
    for kind in kinds:
        found = _models(ctx, kind)
        if found:
            return max(found, key=lambda m: m.accuracy)
    return None


def trainable_count(model: ModelRecord) -> int:
    return sum(math.prod(p.shape) for p in model.params if p.trainable)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _measurement_problem(ctx: CheckContext, model: Measured) -> str | None:
    """Why the model's re-measured accuracy cannot be trusted, or None."""
    data = ctx.data()
    name = ctx.plan.spec["function"]
    status = data.values.function_status
    call = model.model.call or f"{name}(…, {model.model.names[0]}, …)"
    if status == "missing":
        problem = missing_definition(ctx.notebook, ctx.execution, name)
        return (f"The grader cannot re-measure the accuracy: {problem} (define it as either tutorial does: "
                f"{name}(model, sentence) -> probability, or {name}(text, model, tokenizer, vocab, device) -> "
                "(class, probability))")
    if status == "not_callable":
        return f"{name} is not a function, so the grader cannot re-measure the accuracy"
    if model.model.failures and model.model.failures == model.measured:
        return (f"the grader called {call} with {model.name} as the model and every call failed, so it cannot "
                f"re-measure the accuracy: {model.model.first_error}")
    if model.out_of_range is not None:
        return (f"the grader called {call} with {model.name} as the model and got {model.out_of_range:.4g}, not a "
                "probability in [0, 1]: apply torch.sigmoid to the model's output")
    if model.measured < MIN_MEASURED:
        return (f"only {model.measured} reviews could be scored through {name} ({model.model.stopped_early or 'too slow'}),"
                " too few to measure the accuracy")
    return None


def _tolerance(params: dict[str, Any], model: Measured) -> float:
    """Allowed gap, as a fraction, between the printed test accuracy and the re-measured one: a fixed margin plus
    z standard errors of the re-measurement (a sample of held-back reviews, not the notebook's test set)."""
    p = min(max(model.accuracy, 0.05), 0.95)
    return params["tolerance_points"] / 100 + params["tolerance_z"] * math.sqrt(p * (1 - p) / max(model.measured, 1))


def _failures_note(model: Measured) -> str:
    note = f" ({model.model.adapted})" if model.model.adapted else ""
    if not model.model.failures:
        return note
    return f"{note} ({plural(model.model.failures, 'call')} failed and count as wrong; first: {model.model.first_error})"


OVERWRITTEN = "not re-measured: the model was overwritten"


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _found_models(ctx: CheckContext) -> str:
    """'; the notebook's models: `model` (2-layer bidirectional GRU, hidden size 64)' or ''."""
    found = [m for kind in KINDS for m in _models(ctx, kind)]
    return ("; the notebook's models: " + ", ".join(f"{m.name} ({m.shape()})" for m in found)) if found else ""


def _failed_cells(ctx: CheckContext) -> str:
    """'; 3 cells failed, the first cell 2 (ModuleNotFoundError: …)' or '': often why a model is missing."""
    failed = [cell for cell in ctx.execution.cells if cell.status != "ok"]
    if not failed:
        return ""
    first = failed[0]
    what = f"{first.error_name}: {first.error_message}" if first.error_name else first.status.replace("_", " ")
    return f"; {plural(len(failed), 'cell')} failed, the first cell {first.number} ({what})"


def _missing_model(ctx: CheckContext, kind: str) -> str:
    built = [b for b in source_models(ctx.notebook).bindings if (label_of(b.cls.kind) == "rnn") == (kind == "rnn")]
    if kind == "rnn":
        where = (f"the code builds one (`{built[-1].variable}`, {built[-1].origin()}), but after running no variable "
                 "holds it" if built else "no class in the code builds one (embedding → nn.RNN → linear)")
        return ("No basic RNN was found: no variable holds an nn.Module containing an nn.RNN; " + where
                + _found_models(ctx) + _failed_cells(ctx))
    other = _best(ctx, "lstm", "gru")
    if other is not None and other.model.kind == "gru":
        return (f"{other.name} holds a {other.shape()}, not an LSTM: the item asks for a multi-layer bidirectional "
                "LSTM (its report and parameter count are graded as the advanced model's)")
    if other is not None:
        layer = next((layer for layer in other.model.recurrent if "LSTM" in layer.type), other.model.recurrent[0])
        return (f"{other.name} holds an LSTM with num_layers={layer.num_layers} and bidirectional={layer.bidirectional};"
                " the advanced model needs a bidirectional LSTM with at least 2 layers")
    where = (f"; the code builds one (`{built[-1].variable}`, {built[-1].origin()}), but after running no variable "
             "holds it" if built else "")
    return ("No advanced model was found: no variable holds an nn.Module containing an nn.LSTM or nn.GRU" + where
            + _found_models(ctx) + _failed_cells(ctx))


def _epochs_problem(log: TrainingLog, label: str, key: str, epochs: int, exact: bool) -> str | None:
    """Why the run reported for this model does not show `epochs` epochs (exactly, or at least), or None."""
    run = log.runs.get(key)
    if run is None:
        others = [f"{r.span()} in {r.where()}" for r in log.all_runs if r.epochs]
        seen = f"; training logs found: {'; '.join(others)}" if others else ""
        return (f"No per-epoch training log of the {label} was found in any output (printed lines, stderr, tables); "
                f"print e.g. 'Epoch: 01 | Train Acc: 50.25% | Val. Acc: 49.80%' for every epoch{seen}")
    count = len(run.epochs)
    if count == epochs or (count > epochs and not exact):
        return None
    return (f"The {label}'s log shows {run.span()}, read from {run.where()} and attributed to it "
            f"{log.reasons.get(key, '')}; the exercise asks for {epochs}")


def _overwritten_note(lost: Binding) -> str:
    return f"{OVERWRITTEN} ({lost.replaced})" if lost.replaced else OVERWRITTEN


class RnnTrainedParams(CheckParams):
    epochs: int


def rnn_trained(ctx: CheckContext, epochs: int) -> Outcome:
    """An nn.Module holding an nn.RNN exists (or its class was built and then overwritten), trained `epochs` epochs."""
    log = training_log(ctx)
    model = _best(ctx, "rnn")
    lost = log.source.lost("rnn") if model is None else None
    if model is None and lost is None:
        return Outcome.failed(_sentence(_missing_model(ctx, "rnn")), read_from=log.described("rnn"))
    problem = _epochs_problem(log, "RNN", "rnn", epochs, exact=True)
    if problem:
        return Outcome.failed(_sentence(problem), read_from=log.described("rnn"))
    run = log.runs["rnn"]
    if lost is not None:
        return Outcome.passed(f"`{lost.variable}`, {lost.origin()}, was trained for {epochs} epochs ({run.where()}); "
                              f"{_overwritten_note(lost)}.", flag=OVERWRITTEN, read_from=log.described("rnn"))
    return Outcome.passed(f"{model.name} ({model.model.class_name}, with an nn.RNN) trained for {epochs} epochs "
                          f"({run.where()}).", read_from=log.described("rnn"))


def _report(ctx: CheckContext, kinds: tuple[str, ...], label: str, params: dict[str, Any]) -> Outcome:
    """Every epoch's train and valid accuracy and a test accuracy are reported, and the test accuracy is reproduced."""
    key = "rnn" if kinds[0] == "rnn" else "lstm"
    log = training_log(ctx)
    model = _best(ctx, *kinds)
    lost = log.source.lost(key) if model is None else None
    where = {"read_from": log.described(key)}
    if model is None and lost is None:
        return Outcome.failed(_sentence(_missing_model(ctx, kinds[0])) + " Nothing to compare the printed accuracies "
                              "with.", **where)
    problem = _epochs_problem(log, label, key, params["epochs"], exact=False)
    if problem:
        return Outcome.failed(_sentence(problem) + " Every epoch's train and valid accuracy must be reported.", **where)
    run = log.runs[key]
    gaps = [f"epoch {e.number} has no {split} accuracy" for e in run.epochs
            for split, value in (("train", e.train), ("valid", e.valid)) if value is None]
    if gaps:
        return Outcome.failed(f"The {label}'s per-epoch report ({run.where()}) is incomplete: {gaps[0]} "
                              f"({plural(len(gaps), 'gap')} in all); report train and valid accuracy every epoch.",
                              **where)
    if run.test is None:
        return Outcome.failed(f"No test accuracy line (e.g. 'Test Loss: 0.340 | Test Acc: 85.30%') was found after "
                              f"the {label}'s training ({run.where()}).", **where)
    reported = (f"Train and valid accuracy reported for all {len(run.epochs)} epochs ({run.where()}) and test accuracy "
                f"{_pct(run.test)} (cell {run.test_place[0]})")
    if lost is not None:
        return Outcome.passed(f"{reported}; {_overwritten_note(lost)}.", flag=OVERWRITTEN,
                              printed_test_accuracy=_pct(run.test), **where)
    problem = _measurement_problem(ctx, model)
    if problem:
        return Outcome.failed(_sentence(problem), **where)
    tolerance = _tolerance(params, model)
    gap = abs(run.test - model.accuracy)
    details = {"printed_test_accuracy": _pct(run.test), "re_measured": f"{_pct(model.accuracy)} on "
               f"{model.measured} held-back reviews", "tolerance": f"±{100 * tolerance:.1f} points",
               "called_as": model.model.call, **where}
    if gap > tolerance:
        details["flag"] = "printed test accuracy not reproduced"
        return Outcome.failed(
            f"The printed test accuracy {_pct(run.test)} is not reproduced: {model.name} scores "
            f"{_pct(model.accuracy)} on {model.measured} held-back reviews the grader chose (allowed gap "
            f"±{100 * tolerance:.1f} points){_failures_note(model)}. Print the accuracy of the model you keep.",
            **details)
    return Outcome.passed(
        f"{reported}; the grader re-measured {model.name} at {_pct(model.accuracy)} on {model.measured} held-back "
        f"reviews (within ±{100 * tolerance:.1f} points){_failures_note(model)}.", **details)


class RnnReportParams(CheckParams):
    epochs: int
    tolerance_points: float
    tolerance_z: float


def rnn_report(ctx: CheckContext, epochs: int, tolerance_points: float, tolerance_z: float) -> Outcome:
    """The RNN's per-epoch train/valid accuracy and test accuracy are reported; the test accuracy is reproduced."""
    return _report(ctx, ("rnn",), "RNN", {"epochs": epochs, "tolerance_points": tolerance_points,
                                          "tolerance_z": tolerance_z})


def _threshold(ctx: CheckContext, min_accuracy: float, quick_reference_accuracy: float, quick_margin: float) -> tuple[float, str]:
    if not ctx.quick:
        return min_accuracy, f"{_pct(min_accuracy)}"
    threshold = quick_reference_accuracy - quick_margin
    return threshold, (f"{_pct(threshold)} in quick mode (the reference notebook's {_pct(quick_reference_accuracy)} "
                       f"on the same data, minus {100 * quick_margin:.0f} points)")


def _overwritten_bilstm(ctx: CheckContext, log: TrainingLog, lost: Binding, epochs: int, threshold: float,
                        bar: str) -> Outcome:
    """The advanced model was overwritten: its class's LSTM settings (read from the code), its printed epochs and
    its printed test accuracy are what is left to grade."""
    settings = static_settings(lost) if lost.cls.kind == "lstm" else None
    where = {"flag": OVERWRITTEN, "read_from": log.described("lstm")}
    if settings is None:
        return Outcome.failed(f"`{lost.variable}`, {lost.origin()}, is gone ({lost.replaced}) and its layer settings "
                              "cannot be read from the code, so nothing shows a bidirectional LSTM with at least 2 "
                              "layers; keep the trained model in its own variable.", **where)
    layers, bidirectional = settings
    if layers < 2 or not bidirectional:
        return Outcome.failed(f"`{lost.variable}`, {lost.origin()}, builds an LSTM with num_layers={layers} and "
                              f"bidirectional={bidirectional}; the advanced model needs a bidirectional LSTM with at "
                              "least 2 layers.", **where)
    problem = _epochs_problem(log, "BiLSTM", "lstm", epochs, exact=True)
    if problem:
        return Outcome.failed(_sentence(problem), **where)
    printed = log.runs["lstm"].test
    if printed is not None and printed < threshold:
        return Outcome.failed(f"`{lost.variable}` printed a test accuracy of {_pct(printed)}, below the bar of {bar}; "
                              f"{_overwritten_note(lost)}.", **where)
    return Outcome.passed(f"`{lost.variable}`, {lost.origin()} ({layers}-layer bidirectional LSTM in the code), was "
                          f"trained for {epochs} epochs and printed a test accuracy of {_pct(printed)}; "
                          f"{_overwritten_note(lost)}.", **where)


class BilstmTrainedParams(CheckParams):
    epochs: int
    min_accuracy: float
    quick_reference_accuracy: float
    quick_margin: float


def bilstm_trained(ctx: CheckContext, epochs: int, min_accuracy: float, quick_reference_accuracy: float,
                   quick_margin: float) -> Outcome:
    """A bidirectional LSTM with ≥ 2 layers exists, trained `epochs` epochs, and reaches the accuracy bar."""
    log = training_log(ctx)
    threshold, bar = _threshold(ctx, min_accuracy, quick_reference_accuracy, quick_margin)
    model = _best(ctx, "bilstm")
    if model is None:
        lost = log.source.lost("lstm") if _best(ctx, *ADVANCED) is None else None
        if lost is not None:
            return _overwritten_bilstm(ctx, log, lost, epochs, threshold, bar)
        return Outcome.failed(_sentence(_missing_model(ctx, "bilstm")), read_from=log.described("lstm"))
    problem = _epochs_problem(log, "BiLSTM", "lstm", epochs, exact=True) or _measurement_problem(ctx, model)
    if problem:
        return Outcome.failed(_sentence(problem), read_from=log.described("lstm"))
    verdict = f"{model.name} ({model.shape()}) scores {_pct(model.accuracy)} on {model.measured} held-back reviews"
    if model.accuracy < threshold:
        return Outcome.failed(f"{verdict}{_failures_note(model)}; it must reach {bar}.", read_from=log.described("lstm"))
    return Outcome.passed(f"{verdict}, trained for {epochs} epochs; the bar is {bar}.", called_as=model.model.call,
                          read_from=log.described("lstm"))


class BilstmReportParams(CheckParams):
    epochs: int
    tolerance_points: float
    tolerance_z: float


def bilstm_report(ctx: CheckContext, epochs: int, tolerance_points: float, tolerance_z: float) -> Outcome:
    """The advanced model's per-epoch accuracies and test accuracy are reported; the test accuracy is reproduced."""
    model = _best(ctx, *ADVANCED)
    label = "BiLSTM" if model is None or model.model.kind == "bilstm" else f"advanced model ({model.shape()})"
    return _report(ctx, ADVANCED, label, {"epochs": epochs, "tolerance_points": tolerance_points,
                                          "tolerance_z": tolerance_z})


def _layer_direction(name: str) -> tuple[str, int, bool]:
    """'rnn.weight_hh_l1_reverse' → ('rnn', 1, True)."""
    owner, _, leaf = name.rpartition(".")
    match = re.search(r"_l(\d+)(_reverse)?$", leaf)
    return owner, int(match.group(1)) if match else 0, bool(match and match.group(2))


def breakdown(model: ModelRecord) -> dict[str, str]:
    """Trainable parameters layer by layer (each recurrent layer and direction apart), with the arithmetic."""
    recurrent = {layer.path for layer in model.recurrent}
    rows: dict[str, list[ParamInfo]] = {}
    for param in (p for p in model.params if p.trainable):
        owner, layer, reverse = _layer_direction(param.name)
        if owner in recurrent:
            kind = model.module_types.get(owner, "RNN")
            label = f"{kind} `{owner}` layer {layer + 1}, {'backward' if reverse else 'forward'}"
        else:
            label = f"{model.module_types.get(owner, 'module')} `{owner or model.class_name}`"
        rows.setdefault(label, []).append(param)
    table = {}
    for label, params in rows.items():
        terms = [" × ".join(f"{size:,}" for size in p.shape) or "1" for p in params]
        total = sum(math.prod(p.shape) for p in params)
        table[label] = f"{' + '.join(terms)} = {total:,}" if len(terms) > 1 or "×" in terms[0] else f"{total:,}"
    table["Total (trainable)"] = f"{trainable_count(model):,}"
    return table


def tutorial_count(kind: str, vocab: int = 25_002, embedding: int = 100, hidden: int = 256, output: int = 1,
                   layers: int = 2) -> int:
    """The tutorial's count: embedding, then 4 gates (LSTM) or 1 (RNN) per layer and direction, then the linear."""
    if kind == "rnn":
        return vocab * embedding + hidden * (embedding + hidden) + 2 * hidden + hidden * output + output
    total = vocab * embedding
    for layer in range(layers):
        inputs = embedding if layer == 0 else 2 * hidden
        total += 2 * (4 * hidden * (inputs + hidden) + 2 * 4 * hidden)
    return total + 2 * hidden * output + output


def _count_hint(printed: int, model: ModelRecord) -> str:
    biases = sum(math.prod(p.shape) for p in model.params if p.trainable and "bias" in p.name.rpartition(".")[2])
    frozen = sum(math.prod(p.shape) for p in model.params if not p.trainable)
    real = trainable_count(model)
    if biases and real - printed == biases:
        return f": the printed number leaves out the {biases:,} bias values"
    if frozen and printed - real == frozen:
        return f": the printed number includes {frozen:,} frozen (requires_grad=False) parameters"
    if printed == tutorial_count("bilstm"):
        return ": that is the tutorial's number, but this model's sizes (vocabulary, layers) differ"
    return ""


def param_count(ctx: CheckContext) -> Outcome:
    """The printed trainable-parameter count equals the advanced model's real count; the report explains it."""
    model = _best(ctx, *ADVANCED)
    if model is None:
        lost = training_log(ctx).source.lost("lstm")
        if lost is not None:
            return Outcome.failed(f"`{lost.variable}`, {lost.origin()}, is gone ({lost.replaced}), so no printed count "
                                  "can be checked against its real one; keep the trained model in its own variable.",
                                  flag=OVERWRITTEN)
        return Outcome.failed(_sentence(_missing_model(ctx, "bilstm")) + " There is no count to check.")
    real = trainable_count(model.model)
    details = {"layer_by_layer": breakdown(model.model),
               "with_the_tutorial_sizes": f"{tutorial_count('bilstm'):,} (2-layer BiLSTM), {tutorial_count('rnn'):,} "
                                          "(RNN): vocabulary 25,002, embedding 100, hidden 256, output 1"}
    rnn = _best(ctx, "rnn")
    if rnn is not None:
        details["rnn_layer_by_layer"] = breakdown(rnn.model)
    counts = training_log(ctx).counts
    if real in [count for count, _ in counts]:
        return Outcome.passed(f"The notebook prints {real:,} trainable parameters, the real count of {model.name}.",
                              **details)
    if not counts:
        return Outcome.failed(f"No parameter count was found in the outputs; print it, e.g. 'The model has {real:,} "
                              "trainable parameters'.", **details)
    named = [count for count, hint in counts if hint == "lstm"]
    printed = named[-1] if named else min((count for count, _ in counts), key=lambda count: abs(count - real))
    return Outcome.failed(f"The notebook prints {printed:,} trainable parameters, but {model.name} has {real:,}"
                          f"{_count_hint(printed, model.model)}.", **details)


def _spark(values: list[float | None]) -> str:
    """A tiny accuracy curve on a fixed 40–100% scale, so the two models' curves compare."""
    marks = []
    for value in values:
        level = 0 if value is None else round((min(max(value, 0.4), 1.0) - 0.4) / 0.6 * (len(SPARKS) - 1))
        marks.append("·" if value is None else SPARKS[level])
    return "".join(marks)


def _column(run: Run | None, model: Measured | None, ctx: CheckContext) -> dict[str, str]:
    column = {"model": f"{model.name} ({model.model.class_name})" if model else "not found",
              "params": f"{trainable_count(model.model):,}" if model else "—"}
    epochs = run.epochs if run else []
    for epoch in epochs:
        column[f"Epoch {epoch.number} train / valid accuracy"] = f"{_pct(epoch.train)} / {_pct(epoch.valid)}"
    column["printed"] = _pct(run.test if run else None)
    usable = model is not None and _measurement_problem(ctx, model) is None
    column["measured"] = f"{_pct(model.accuracy)} (n={model.measured})" if usable else "—"
    curve = lambda split: _spark([getattr(e, split) for e in epochs]) if epochs else "—"  # noqa: E731
    column["train_curve"] = f"{curve('train')} {_pct(epochs[0].train)} → {_pct(epochs[-1].train)}" if epochs else "—"
    column["valid_curve"] = f"{curve('valid')} {_pct(epochs[0].valid)} → {_pct(epochs[-1].valid)}" if epochs else "—"
    return column


def summary(ctx: CheckContext) -> Outcome:
    """RNN vs BiLSTM side by side: parameters, per-epoch accuracy, printed and re-measured test accuracy, curves."""
    log = training_log(ctx)
    rnn = _column(log.runs.get("rnn"), _best(ctx, "rnn"), ctx)
    lstm = _column(log.runs.get("lstm"), _best(ctx, *ADVANCED), ctx)
    labels = {"model": "Model", "params": "Trainable parameters", "printed": "Test accuracy, printed",
              "measured": "Test accuracy, re-measured by the grader", "train_curve": "Train accuracy curve",
              "valid_curve": "Valid accuracy curve"}
    keys = list(dict.fromkeys([*rnn, *lstm]))
    order = [k for k in ("model", "params") if k in keys] + [k for k in keys if k.startswith("Epoch")] + \
            [k for k in ("printed", "measured", "train_curve", "valid_curve") if k in keys]
    table = {labels.get(key, key): f"RNN {rnn.get(key, '—')}  |  BiLSTM {lstm.get(key, '—')}" for key in order}
    return Outcome.passed("Side by side below: RNN | BiLSTM, and where each model's numbers were read.",
                          side_by_side=table, training_logs=log.details())
