"""Rubric YAML: the schema, loading, and one-line error messages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from grader import registry

EXERCISE_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class RubricError(Exception):
    """A rubric that cannot be used; each line names the file, the key and what is wrong."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Timeouts(Strict):
    cell: float = Field(60, gt=0, description="seconds one cell may run before it is interrupted")
    notebook: float = Field(600, gt=0, description="seconds all the student's cells may run together")
    probe: float = Field(120, gt=0, description="seconds the grader's probe cell may run")


class CheckSpec(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    points: float = Field(ge=0)
    type: str
    params: dict[str, Any] = {}
    visibility: Literal["public", "hidden"] = "public"
    gate: list[str] = Field([], description="check ids whose failure takes this check's credit away")

    @field_validator("gate", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Rubric(Strict):
    exercise: str
    title: str
    module: str = Field("", description="module registering the check types; default grader.exercises.<exercise>")
    timeouts: Timeouts = Timeouts()
    memory_limit_mb: int = Field(4096, gt=0)
    threads: int | None = Field(None, gt=0, description="at most this many CPU threads in the kernel (OMP_NUM_THREADS, "
                                "MKL_NUM_THREADS); default: the kernel's share of the cores")
    disk_limit_mb: int = Field(2048, gt=0, description="what the notebook may write into its work dir and /tmp")
    device: Literal["cpu", "cuda_optional", "cuda"] = "cuda_optional"
    probe: dict[str, Any] = Field({}, description="parameters for the exercise's probe plan (sizes, configurations)")
    data: list[str] = Field([], description="datasets (grader.datasets) staged read-only as data/<name> in the work dir")
    checks: list[CheckSpec] = Field(min_length=1)

    @field_validator("exercise")
    @classmethod
    def _exercise_id(cls, value: str) -> str:
        if not EXERCISE_ID.fullmatch(value):
            raise ValueError(f"{value!r} is not an exercise id (lower case letters, digits, _)")
        return value

    @model_validator(mode="after")
    def _checks_consistent(self) -> "Rubric":
        ids = [check.id for check in self.checks]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate check ids: {', '.join(duplicates)}")
        for check in self.checks:
            unknown = [g for g in check.gate if g not in ids or g == check.id]
            if unknown:
                raise ValueError(f"check {check.id!r} gates on unknown or own id(s): {', '.join(unknown)}")
        return self

    @property
    def module_name(self) -> str:
        return self.module or f"grader.exercises.{self.exercise}"

    @property
    def max_score(self) -> float:
        return sum(check.points for check in self.checks)


def _location(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    """Turn a pydantic location like ('checks', 2, 'type') into 'checks[2] (id: shapes).type'."""
    parts: list[str] = []
    node: Any = raw
    for key in loc:
        if isinstance(key, int):
            label = f"[{key}]"
            if isinstance(node, list) and key < len(node) and isinstance(node[key], dict) and "id" in node[key]:
                label += f" (id: {node[key]['id']})"
            parts.append(label)
            node = node[key] if isinstance(node, list) and key < len(node) else None
        else:
            parts.append(("." if parts else "") + str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def parse_rubric(raw: Any, source: str) -> Rubric:
    """Validate parsed YAML; raise RubricError with one line per problem."""
    if not isinstance(raw, dict):
        raise RubricError([f"{source}: (top level): expected a mapping of rubric keys, got {type(raw).__name__}"])
    try:
        rubric = Rubric.model_validate(raw)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            message = problem["msg"].removeprefix("Value error, ")
            if problem["type"] == "extra_forbidden":
                message = "unknown key"
            lines.append(f"{source}: {_location(problem['loc'], raw)}: {message}")
        raise RubricError(lines) from None
    return rubric


def check_types_known(rubric: Rubric, source: str) -> None:
    """Every check type must be registered by the exercise's module."""
    try:
        registry.load_module(rubric.module_name)
    except ImportError as error:
        raise RubricError([f"{source}: module: cannot import {rubric.module_name!r} ({error})"]) from None
    lines = [
        f"{source}: checks[{index}] (id: {check.id}).type: unknown check type {check.type!r}"
        f" (known: {', '.join(registry.check_names(prefix=rubric.exercise)) or 'none'})"
        for index, check in enumerate(rubric.checks)
        if not registry.has_check(check.type)
    ]
    if lines:
        raise RubricError(lines)


def load_rubric(path: Path, check_types: bool = True) -> Rubric:
    """Read, parse and validate one rubric file; `check_types=False` skips importing its exercise module."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RubricError([f"{source}: cannot read the file ({error.strerror})"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(top level)"
        raise RubricError([f"{source}: {where}: not valid YAML ({getattr(error, 'problem', error)})"]) from None
    rubric = parse_rubric(raw, source)
    if path.stem != rubric.exercise:
        raise RubricError([f"{source}: exercise: {rubric.exercise!r} does not match the file name {path.stem!r}"])
    if check_types:
        check_types_known(rubric, source)
    return rubric


def load_rubrics(directory: Path, check_types: bool = True) -> dict[str, Rubric]:
    """All rubrics in a directory, keyed by exercise id; every file's errors are reported together."""
    if not directory.is_dir():
        raise RubricError([f"{directory}: no rubric directory here"])
    rubrics: dict[str, Rubric] = {}
    errors: list[str] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            rubric = load_rubric(path, check_types)
        except RubricError as error:
            errors.extend(error.lines)
        else:
            rubrics[rubric.exercise] = rubric
    if errors:
        raise RubricError(errors)
    if not rubrics:
        raise RubricError([f"{directory}: no *.yaml rubric files"])
    return rubrics
