"""Rubric YAML: the schema, loading, and one-line error messages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from grader import data, registry
from grader.exercise import Exercise, ExerciseError

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


class Resources(Strict):
    """What one notebook reserves on a Ray cluster (`grader grade --cluster`); the local pool ignores it."""

    gpu: float = Field(0, ge=0, description="share of one GPU (0.25: four such notebooks on one GPU), or a whole "
                       "number of GPUs; 0: the kernel sees no GPU")
    cpus: float = Field(1, gt=0, description="CPU cores reserved")
    memory_mb: int | None = Field(None, gt=0, description="memory reserved on the node; default: memory_limit_mb")

    @field_validator("gpu")
    @classmethod
    def _share_or_whole(cls, value: float) -> float:
        if value > 1 and not float(value).is_integer():
            raise ValueError(f"{value:g} GPUs: a share of one GPU (at most 1) or a whole number of GPUs")
        return value


# The older `device` key, still read so that a course's rubrics keep loading: a notebook that may use a GPU reserves
# a whole one, as the local pool gives it.
LEGACY_DEVICE_GPU = {"cpu": 0.0, "cuda_optional": 1.0, "cuda": 1.0}


class CheckSpec(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    points: float = Field(ge=0)
    type: str
    params: dict[str, Any] = {}
    visibility: Literal["public", "hidden"] = "public"
    bonus: bool = Field(False, description="extra credit: its points are not part of the rubric's max score")
    gate: list[str] = Field([], description="check ids whose failure takes this check's credit away")

    @field_validator("gate", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class SimilaritySpec(Strict):
    """How `grader similarity` flags pairs of notebooks (it flags, never scores)."""

    threshold: float = Field(0.8, gt=0, le=1, description="a pair is flagged when the larger of its two shares of "
                             "matching code reaches this")
    noise_tokens: int = Field(25, ge=5, description="copydetect's noise threshold: matches shorter than this many "
                              "filtered characters are ignored")
    guarantee_tokens: int = Field(30, ge=5, description="copydetect's guarantee threshold: matches this long are "
                                  "always found (winnowing window = guarantee - noise + 1)")
    min_tokens: int = Field(60, ge=0, description="a notebook with less own code than this (filtered characters, "
                            "after the course's code is removed) is not compared")
    common_share: float = Field(0.5, gt=0, le=1, description="a passage found in at least this share of the class's "
                                "notebooks (and in 3 or more) is the class's common code, removed like the course's")

    @model_validator(mode="after")
    def _guarantee_at_least_noise(self) -> "SimilaritySpec":
        if self.guarantee_tokens < self.noise_tokens:
            raise ValueError("guarantee_tokens must be at least noise_tokens")
        return self


class LatePenalty(Strict):
    """Late submissions lose `per_day` percent of the max score per started day late, at most `cap` percent."""

    per_day: float = Field(ge=0, le=100)
    cap: float = Field(100, ge=0, le=100)
    grace_minutes: float = Field(0, ge=0, description="minutes after the due time that still count as on time")


class Intake(Strict):
    """How an LMS export's files are matched to this exercise when their names do not say."""

    names: list[str] = Field([], description="words in a file name that name this exercise besides its id")
    defines: list[str] = Field([], description="classes or functions a notebook of this exercise defines (all)")
    uses: list[str] = Field([], description="names a notebook of this exercise refers to (any one)")


class Rubric(Strict):
    exercise: str
    title: str
    module: str = Field("", description="package declaring the exercise's spec; default grader.exercises.<exercise>")
    timeouts: Timeouts = Timeouts()
    memory_limit_mb: int = Field(4096, gt=0)
    threads: int | None = Field(None, gt=0, description="at most this many CPU threads in the kernel (OMP_NUM_THREADS, "
                                "MKL_NUM_THREADS); default: the kernel's share of the cores")
    disk_limit_mb: int = Field(2048, gt=0, description="what the notebook may write into its work dir and /tmp")
    resources: Resources = Resources()
    probe: dict[str, Any] = Field({}, description="parameters for the exercise's probe plan (sizes, configurations)")
    data: list[str] = Field([], description="datasets (grader.datasets) staged read-only as data/<name> in the work dir")
    checks: list[CheckSpec] = Field(min_length=1)
    similarity: SimilaritySpec = SimilaritySpec()
    late_penalty: LatePenalty | None = None
    intake: Intake = Intake()

    @model_validator(mode="before")
    @classmethod
    def _legacy_device(cls, raw: Any) -> Any:
        if not isinstance(raw, dict) or "device" not in raw:
            return raw
        device = raw["device"]
        if device not in LEGACY_DEVICE_GPU:
            raise ValueError(f"device: {device!r} is not one of cpu, cuda_optional, cuda (write resources: {{gpu: …}})")
        if "resources" in raw:
            raise ValueError("device and resources both given: keep resources (device is its older form)")
        rest = {key: value for key, value in raw.items() if key != "device"}
        return {**rest, "resources": {"gpu": LEGACY_DEVICE_GPU[device]}}

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
    def reserved_memory_mb(self) -> int:
        """What a cluster reserves for one notebook: the kernel's own limit unless the rubric asks for more."""
        return self.resources.memory_mb or self.memory_limit_mb

    @property
    def max_score(self) -> float:
        return sum(check.points for check in self.checks if not check.bonus)


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
            lines.append(f"{source}: {_location(problem['loc'], raw)}: {_message(problem)}")
        raise RubricError(lines) from None
    return rubric


def _message(problem: Any) -> str:
    return "unknown key" if problem["type"] == "extra_forbidden" else problem["msg"].removeprefix("Value error, ")


def _params_problems(model: type[BaseModel], raw: dict[str, Any], source: str, key: str) -> list[str]:
    """One line per parameter the model refuses: unknown, missing, or of the wrong type."""
    try:
        model.model_validate(raw)
    except ValidationError as error:
        return [f"{source}: {key}.{_location(problem['loc'], raw)}: {_message(problem)}" for problem in error.errors()]
    return []


def _data_problems(rubric: Rubric, exercise: Exercise, source: str) -> list[str]:
    known = data.load_builtin_datasets()
    lines = [f"{source}: data: unknown dataset {name!r} (known: {', '.join(sorted(known))})"
             for name in rubric.data if name not in known]
    return lines + [f"{source}: data: the exercise's checks read the dataset {name!r}, so the rubric must stage it"
                    for name in exercise.datasets if name not in rubric.data]


def check_against_exercise(rubric: Rubric, source: str) -> None:
    """The rubric against its exercise's spec: every check type declared, every params and probe key of the declared
    type, every dataset the checks read staged. One line per problem."""
    try:
        exercise = registry.load_exercise(rubric.module_name)
    except ImportError as error:
        raise RubricError([f"{source}: module: cannot import {rubric.module_name!r} ({error})"]) from None
    except ExerciseError as error:
        raise RubricError([f"{source}: module: {line}" for line in error.lines]) from None
    lines = _params_problems(exercise.plan_params, rubric.probe, source, "probe")
    for index, check in enumerate(rubric.checks):
        key = f"checks[{index}] (id: {check.id})"
        check_type = exercise.checks.get(check.type) or registry.generic_checks().get(check.type)
        if check_type is None:
            lines.append(f"{source}: {key}.type: unknown check type {check.type!r}"
                         f" (known: {', '.join(sorted(exercise.checks)) or 'none'})")
        else:
            lines += _params_problems(check_type.params, check.params, source, f"{key}.params")
    lines += _data_problems(rubric, exercise, source)
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
        check_against_exercise(rubric, source)
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
