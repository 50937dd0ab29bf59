"""LMS intake: Moodle and Canvas layouts, safe extraction, matching by name or by what a notebook defines, roster."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

from grader.intake import extract, is_lms_export, load_intake, run_intake
from grader.intake.layouts import owner_of
from grader.intake.match import code_names, exercises_defined, exercises_named, version_of
from grader.intake.roster import read_roster
from grader.rubric import Rubric, load_rubric

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rubrics() -> dict[str, Rubric]:
    return {name: load_rubric(ROOT / "rubrics" / f"{name}.yaml", check_types=False)
            for name in ("conv1d", "gru", "rnn_lm", "imdb", "indobert")}


def notebook(*code: str, markdown: str = "") -> bytes:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": markdown}] if markdown else []
    cells += [{"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None}
              for source in code]
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}).encode()


CONV = notebook("import torch\nclass Conv1D(torch.nn.Module):\n    pass")
GRU = notebook("%matplotlib inline\nclass GRUCell: pass\nclass GRU: pass")


def make_zip(path: Path, entries: dict[str, bytes], times: dict[str, tuple] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name, (times or {}).get(name, (2026, 12, 1, 12, 0, 0))), data)
    return path


def rows(out: Path) -> list[dict[str, str]]:
    with open(out / "intake.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("path, student, name, layout, inner", [
    ("Budi Santoso_1234567_assignsubmission_file/conv1d.ipynb", "1234567", "Budi Santoso", "moodle", "conv1d.ipynb"),
    ("Budi Santoso_1234567_assignsubmission_file_/sub/x.ipynb", "1234567", "Budi Santoso", "moodle", "sub/x.ipynb"),
    ("Budi Santoso_1234567_assignsubmission_file_conv1d.ipynb", "1234567", "Budi Santoso", "moodle-flat",
     "conv1d.ipynb"),
    ("Participant_88_assignsubmission_file/gru.ipynb", "88", "", "moodle-blind", "gru.ipynb"),
    ("Group A-Budi Santoso_12_assignsubmission_file/gru.ipynb", "12", "Group A-Budi Santoso", "moodle-team",
     "gru.ipynb"),
    ("Group B_7_assignsubmission_file/gru.ipynb", "7", "Group B", "moodle-team", "gru.ipynb"),
    ("santosobudi_LATE_4411_99001_Conv1D-1.ipynb", "4411", "santosobudi", "canvas", "Conv1D-1.ipynb"),
    ("santosobudi_4411_99001_conv1d.ipynb", "4411", "santosobudi", "canvas", "conv1d.ipynb"),
])
def test_layouts_name_the_student(path, student, name, layout, inner) -> None:
    owner = owner_of(path)
    assert owner is not None
    assert (owner.student, owner.name, owner.layout, owner.path) == (student, name, layout, inner)
    assert owner.late_flag == ("LATE" in path)


def test_a_plain_file_name_is_no_lms_layout() -> None:
    assert owner_of("conv1d.ipynb") is None
    assert owner_of("alice/conv1d.ipynb") is None


@pytest.mark.parametrize("file_name, expected", [
    ("Conv1D.ipynb", ["conv1d"]), ("conv1d (1).ipynb", ["conv1d"]), ("conv1d_final.ipynb", ["conv1d"]),
    ("Tugas_GRU_NPM.ipynb", ["gru"]), ("Tugas RNN-LM 2206.ipynb", ["rnn_lm"]), ("rnnlm.ipynb", ["rnn_lm"]),
    ("IMDB_sentiment.ipynb", ["imdb"]), ("finetune_smsa.ipynb", ["indobert"]), ("Untitled3.ipynb", []),
    ("grupo.ipynb", []),
])
def test_file_names_as_students_send_them(rubrics, file_name, expected) -> None:
    assert exercises_named(file_name, rubrics) == expected


def test_copy_numbers() -> None:
    assert [version_of(n) for n in ("conv1d.ipynb", "conv1d (2).ipynb", "Conv1D-3.ipynb")] == [0, 2, 3]


def test_what_a_notebook_defines_names_its_exercise(rubrics) -> None:
    assert exercises_defined(code_names(CONV), rubrics) == ["conv1d"]
    assert exercises_defined(code_names(GRU), rubrics) == ["gru"]
    bert = notebook("from transformers import BertForSequenceClassification as B\nmodel = B.from_pretrained('x')")
    assert exercises_defined(code_names(bert), rubrics) == ["indobert"]
    # a name only mentioned (called, imported) is not defined; a cell with a syntax error is skipped, not fatal
    mentioned = notebook("from mylib import Conv1D\nConv1D(1, 2, 3)", "def broken(:\n  pass")
    assert exercises_defined(code_names(mentioned), rubrics) == []
    assert exercises_defined(code_names(b"not json"), rubrics) == []


def test_intake_matches_and_lists_every_file(tmp_path, rubrics) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as nested:
        nested.writestr("work/my_notebook.ipynb", CONV)
    export = make_zip(tmp_path / "moodle.zip", {
        "Adi Pratama_1001_assignsubmission_file/Conv1D.ipynb": CONV,
        "Adi Pratama_1001_assignsubmission_file/Tugas_GRU_NPM.ipynb": GRU,
        "Budi Santoso_1002_assignsubmission_file/conv1d.ipynb": CONV,
        "Budi Santoso_1002_assignsubmission_file/conv1d (1).ipynb": CONV + b" ",
        "Citra_1003_assignsubmission_file_tugas.zip": inner.getvalue(),
        "Citra_1003_assignsubmission_file_notes.pdf": b"%PDF",
        "Dewi_1004_assignsubmission_file/Untitled.ipynb": notebook("print(1)"),
    }, {"Budi Santoso_1002_assignsubmission_file/conv1d.ipynb": (2026, 12, 1, 9, 0, 0),
        "Citra_1003_assignsubmission_file_tugas.zip": (2026, 12, 2, 8, 30, 0)})
    run = run_intake(export, {k: rubrics[k] for k in ("conv1d", "gru")}, tmp_path / "out")
    table = rows(tmp_path / "out")
    graded = {(r["student"], r["exercise"]): r for r in table if r["status"] == "graded"}
    assert graded[("1001", "conv1d")]["how"] == "by name"
    assert graded[("1001", "gru")]["file"] == "Tugas_GRU_NPM.ipynb"
    # two candidates: the newest is graded, flagged, and the other is listed, never dropped
    assert graded[("1002", "conv1d")]["file"] == "conv1d (1).ipynb"
    assert "ambiguous: 2 candidates" in graded[("1002", "conv1d")]["note"]
    assert run.chosen["1002"]["conv1d"].flagged
    assert [r["file"] for r in table if r["status"] == "not_graded"] == ["conv1d.ipynb"]
    # a notebook inside a nested zip, matched by what it defines, with the time of the zip the student uploaded
    assert graded[("1003", "conv1d")]["how"] == "by what it defines"
    assert graded[("1003", "conv1d")]["submitted_at"] == "2026-12-02T08:30"
    assert {r["status"] for r in table if r["student"] == "1003" and r["exercise"] == ""} == {"ignored"}
    assert [r["status"] for r in table if r["student"] == "1004"] == ["unmatched"]
    assert (run.folder / "1002" / "conv1d.ipynb").read_bytes() == CONV + b" "
    assert (run.folder / "1004").is_dir() and not list((run.folder / "1004").iterdir())
    assert load_intake(tmp_path / "out").names["1001"] == "Adi Pratama"


def test_the_only_notebook_is_a_flagged_guess_when_one_exercise_is_graded(tmp_path, rubrics) -> None:
    export = make_zip(tmp_path / "e.zip", {"Eko_1005_assignsubmission_file/Untitled.ipynb": notebook("x = (")})
    run = run_intake(export, {"conv1d": rubrics["conv1d"]}, tmp_path / "out")
    chosen = run.chosen["1005"]["conv1d"]
    assert (chosen.how, chosen.flagged) == ("only", True)


def test_canvas_export(tmp_path, rubrics) -> None:
    export = make_zip(tmp_path / "canvas.zip", {"santosobudi_LATE_4411_99001_Conv1D-1.ipynb": CONV})
    run = run_intake(export, {"conv1d": rubrics["conv1d"]}, tmp_path / "out")
    assert run.names == {"4411": "santosobudi"}
    assert run.chosen["4411"]["conv1d"].late_flag


def symlink_entry(archive: zipfile.ZipFile, name: str, target: str) -> None:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive.writestr(info, target)


def test_unsafe_entries_are_never_extracted(tmp_path, rubrics) -> None:
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("/etc/evil.ipynb", CONV)
        archive.writestr("Adi_1001_assignsubmission_file/../../evil.ipynb", CONV)
        archive.writestr("C:\\evil.ipynb", CONV)
        symlink_entry(archive, "Adi_1001_assignsubmission_file/conv1d.ipynb", "/etc/passwd")
    out = tmp_path / "out"
    run_intake(path, {"conv1d": rubrics["conv1d"]}, out)
    rejected = {r["file"]: r["note"] for r in rows(out) if r["status"] == "rejected"}
    assert rejected == {"/etc/evil.ipynb": "not extracted: an absolute path",
                        "Adi_1001_assignsubmission_file/../../evil.ipynb": "not extracted: a path with '..'",
                        "C:\\evil.ipynb": "not extracted: an absolute path",
                        "Adi_1001_assignsubmission_file/conv1d.ipynb": "not extracted: a symbolic link"}
    assert not (tmp_path / "evil.ipynb").exists() and not list(out.rglob("evil.ipynb"))


def test_size_cap(tmp_path, rubrics, monkeypatch) -> None:
    monkeypatch.setattr(extract, "MAX_MEMBER_BYTES", 1000)
    export = make_zip(tmp_path / "big.zip", {"Adi_1001_assignsubmission_file/conv1d.ipynb": CONV + b" " * 2000})
    run_intake(export, {"conv1d": rubrics["conv1d"]}, tmp_path / "out")
    assert "over the 0 MiB cap" in next(r["note"] for r in rows(tmp_path / "out") if r["status"] == "rejected")
    monkeypatch.setattr(extract, "MAX_TOTAL_BYTES", 100)
    with pytest.raises(extract.ExportError, match="more than the size cap"):
        make_zip(tmp_path / "small.zip", {"Adi_1001_assignsubmission_file/conv1d.ipynb": CONV})
        extract.extract_zip(tmp_path / "small.zip", tmp_path / "x")


def test_unpacked_folder_export_skips_links(tmp_path, rubrics) -> None:
    root = tmp_path / "export"
    (root / "Adi_1001_assignsubmission_file").mkdir(parents=True)
    (root / "Adi_1001_assignsubmission_file" / "conv1d.ipynb").write_bytes(CONV)
    os.symlink("/etc/passwd", root / "Adi_1001_assignsubmission_file" / "gru.ipynb")
    assert is_lms_export(root) and not is_lms_export(ROOT / "submissions")
    run = run_intake(root, {"conv1d": rubrics["conv1d"], "gru": rubrics["gru"]}, tmp_path / "out")
    assert list(run.chosen["1001"]) == ["conv1d"]
    assert any(r["status"] == "rejected" and r["file"].endswith("gru.ipynb") for r in rows(tmp_path / "out"))


def test_roster_adds_the_students_with_nothing(tmp_path, rubrics) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("\ufeffIdentifier;Full name\nParticipant 1001;Adi Pratama\nPeserta 1009;Gita Absent\n"
                      ";Budi Santoso\n", encoding="utf-8")
    entries = read_roster(roster)
    assert [(e.student, e.name) for e in entries] == [("1001", "Adi Pratama"), ("1009", "Gita Absent"),
                                                       ("", "Budi Santoso")]
    export = make_zip(tmp_path / "m.zip", {"Adi Pratama_1001_assignsubmission_file/conv1d.ipynb": CONV,
                                           "Budi Santoso_1002_assignsubmission_file/conv1d.ipynb": CONV})
    run = run_intake(export, {"conv1d": rubrics["conv1d"]}, tmp_path / "out", roster=entries)
    assert run.expected == ["1009"]  # Budi is matched by name, Adi by id
    assert [(r["student"], r["status"]) for r in rows(tmp_path / "out") if r["how"] == "roster"] == [
        ("1009", "not_submitted")]


def test_a_zip_of_the_graders_own_layout(tmp_path, rubrics) -> None:
    export = make_zip(tmp_path / "plain.zip", {"alice/conv1d.ipynb": CONV, "README.txt": b"hi"})
    run = run_intake(export, {"conv1d": rubrics["conv1d"]}, tmp_path / "out")
    assert run.chosen["alice"]["conv1d"].how == "name"
    assert [r["status"] for r in rows(tmp_path / "out") if r["file"] == "README.txt"] == ["ignored"]


def test_canvas_late_mark_is_noted(tmp_path, rubrics) -> None:
    export = make_zip(tmp_path / "c.zip", {"doejane_LATE_77_123_conv1d.ipynb": CONV})
    run = run_intake(export, {"conv1d": rubrics["conv1d"]}, tmp_path / "out")
    assert "Canvas marks it LATE" in run.chosen["77"]["conv1d"].note
