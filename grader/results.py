"""What grading one (student, exercise) produces: the JSON contract of OUT/<student>/<exercise>.json."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

CellStatus = Literal["ok", "error", "timeout", "kernel_died", "memory_limit", "disk_limit", "not_run"]
ExecutionStatus = Literal["completed", "timeout", "kernel_died", "memory_limit", "disk_limit", "not_run"]
GradeStatus = Literal["graded", "not_submitted", "invalid_notebook", "error", "timeout", "kernel_died", "memory_limit",
                      "disk_limit", "tampered"]


class CellRecord(BaseModel):
    """One code cell as it ran; `number` is its 1-based position in the notebook, as the student sees it."""

    number: int
    last_number: int | None = Field(None, description="a run of code cells that never ran is one record: "
                                                      "cells number to last_number")
    status: CellStatus
    duration_s: float = 0.0
    error_name: str = ""
    error_message: str = ""
    error_line: int | None = None
    error_source: str = ""
    traceback: str = ""
    stdout: str = Field("", description="stdout and the plain-text form of displayed values")
    stderr: str = ""
    html: str = Field("", description="the text/html form of displayed values (tables), never rendered")


class SkippedLine(BaseModel):
    """A line the grader did not run (a `!pip install`: kernels have no network), and why, in one sentence."""

    cell: int
    line: int
    source: str
    message: str


class ProbeRecord(BaseModel):
    status: Literal["ok", "error", "timeout", "not_run"] = "not_run"
    duration_s: float = 0.0
    message: str = ""


class MeasuringRecord(BaseModel):
    """Where the measuring kernel's time went (grader/measure.py), for the benchmarks and the TA's log."""

    launched_after_s: float = Field(0.0, description="from the notebook kernel's launch to the measuring kernel's")
    boot_s: float = Field(0.0, description="from its launch until it answered")
    cells_s: float = Field(0.0, description="seeding and the notebook's imports and definitions")
    probe_s: float = 0.0
    waited_s: float = Field(0.0, description="how long grading waited for it once the notebook's own run was done")


class ExecutionRecord(BaseModel):
    status: ExecutionStatus = "not_run"
    message: str = ""
    duration_s: float = 0.0
    cells: list[CellRecord] = []
    probe: ProbeRecord = ProbeRecord()
    isolated: bool = False
    isolation: str = Field("", description="how the kernel was isolated, or why it was not")
    memory_peak_mb: float = Field(0.0, description="peak memory of the kernel's process tree")
    disk_peak_mb: float = Field(0.0, description="peak size of what the notebook wrote (work dir and sandbox /tmp)")
    cpu_s: float = Field(0.0, description="CPU seconds of the kernels' process trees (replays included)")
    replayed: bool = Field(False, description="the kernel died and a fresh one re-ran the notebook around that cell")
    replay_message: str = ""
    skipped: list[SkippedLine] = Field([], description="`!pip install` lines skipped (no network while grading)")
    measuring: MeasuringRecord | None = Field(None, description="the measuring kernel's phases, where one ran")

    def record_of(self, number: int) -> CellRecord | None:
        """The record covering code cell `number` (a run of cells that never ran shares one record)."""
        for cell in self.cells:
            if cell.number <= number <= (cell.last_number or cell.number):
                return cell
        return None


class OverrideRecord(BaseModel):
    """Points a person set for a check (`grader override`, `grader review --apply`): who, when and why."""

    points: float
    original_points: float = Field(description="what the grader (or nobody, for a manual check) had given")
    reason: str
    by: str
    at: str = Field(description="ISO 8601, UTC")


class LateRecord(BaseModel):
    """How late the submission was and what it cost."""

    days_late: float
    penalty_points: float
    rule: str
    overridden: bool = False


class CheckRecord(BaseModel):
    id: str
    title: str
    type: str
    visibility: Literal["public", "hidden"]
    points: float
    max_points: float
    passed: bool
    fraction: float = Field(ge=0, le=1)
    message: str
    gated_by: list[str] = []
    details: dict[str, Any] = {}
    override: OverrideRecord | None = None
    awaiting_review: bool = Field(False, description="a manual check no person has given points for yet")


class Environment(BaseModel):
    python: str
    torch: str
    device: str
    grader_version: str
    quick: bool = False
    node: str = Field("", description="the cluster node that graded it (`grade --cluster`); empty on this machine")


class GradeResult(BaseModel):
    student: str
    student_name: str = ""
    submitted_at: str = ""
    late: LateRecord | None = None
    awaiting_review: int = 0
    exercise: str
    title: str = ""
    status: GradeStatus
    message: str = ""
    score: float = 0.0
    max_score: float = 0.0
    notebook: str = ""
    notebook_sha256: str = ""
    graded_at: str = ""
    duration_s: float = 0.0
    cpu_s: float = Field(0.0, description="CPU seconds of the grading: the grader's own and its kernels'")
    checks: list[CheckRecord] = []
    execution: ExecutionRecord = ExecutionRecord()
    evidence: list[str] = Field([], description="status tampered: each sign, in the kernel, that the notebook reached "
                                                "into the grader's measurement")
    environment: Environment | None = None
    student_name: str = Field("", description="the name the LMS export gives the student")
    submitted_at: str = Field("", description="ISO 8601: the LMS zip entry's or worksheet's submission time")
    late: LateRecord | None = None
    awaiting_review: int = Field(0, description="manual checks no person has given points for yet")
    intake: str = Field("", description="how the LMS intake matched this notebook to the exercise")
    intake_flagged: bool = Field(False, description="the match is a guess a TA should confirm (two candidates…)")
    retry: bool = Field(False, exclude=True, description="not stored: the grader failed on its side (a full disk), "
                                                         "so the batch grades this one again")

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0
