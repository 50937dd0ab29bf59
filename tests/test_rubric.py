"""Rubric schema: a broken rubric stops everything with one line per problem naming the file and the key."""

from pathlib import Path

import pytest
import yaml

from grader.cli import main
from grader.rubric import RubricError, load_rubric, load_rubrics

from conftest import ROOT

GOOD = (ROOT / "rubrics" / "conv1d.yaml").read_text()


def write(folder: Path, text: str, name: str = "conv1d.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def edited(**changes) -> str:
    raw = yaml.safe_load(GOOD)
    raw.update(changes)
    return yaml.safe_dump(raw)


def problems(path: Path) -> list[str]:
    with pytest.raises(RubricError) as caught:
        load_rubric(path)
    return caught.value.lines


def test_shipped_rubric_is_valid():
    rubric = load_rubric(ROOT / "rubrics" / "conv1d.yaml")
    assert rubric.max_score == 100
    assert [c.id for c in rubric.checks if c.visibility == "hidden"] == ["edge_cases"]
    assert rubric.checks[2].gate == ["from_scratch"]


def test_unknown_top_level_key_names_file_and_key(tmp_path):
    path = write(tmp_path, GOOD + "\ncolour: blue\n")
    assert problems(path) == [f"{path}: colour: unknown key"]


def test_unknown_check_key_names_the_check(tmp_path):
    raw = yaml.safe_load(GOOD)
    raw["checks"][1]["pointz"] = 3
    path = write(tmp_path, yaml.safe_dump(raw))
    assert problems(path) == [f"{path}: checks[1] (id: from_scratch).pointz: unknown key"]


def test_unknown_check_type(tmp_path):
    raw = yaml.safe_load(GOOD)
    raw["checks"][0]["type"] = "conv1d.no_such_check"
    path = write(tmp_path, yaml.safe_dump(raw))
    [line] = problems(path)
    assert line.startswith(f"{path}: checks[0] (id: constructible).type: unknown check type 'conv1d.no_such_check'")
    assert "conv1d.shapes" in line


def test_gate_on_unknown_check(tmp_path):
    raw = yaml.safe_load(GOOD)
    raw["checks"][2]["gate"] = "from_scatch"
    [line] = problems(write(tmp_path, yaml.safe_dump(raw)))
    assert "gates on unknown or own id(s): from_scatch" in line


def test_several_problems_reported_together(tmp_path):
    raw = yaml.safe_load(GOOD)
    raw["checks"][0]["points"] = -1
    raw["timeouts"]["cell"] = "soon"
    lines = problems(write(tmp_path, yaml.safe_dump(raw)))
    assert len(lines) == 2
    assert any("timeouts.cell" in line for line in lines)
    assert any("checks[0] (id: constructible).points" in line for line in lines)


def test_yaml_syntax_error_names_the_line(tmp_path):
    [line] = problems(write(tmp_path, "exercise: conv1d\nchecks: [\n"))
    assert "not valid YAML" in line and "line" in line


def test_exercise_must_match_file_name(tmp_path):
    [line] = problems(write(tmp_path, GOOD, name="gru.yaml"))
    assert "does not match the file name 'gru'" in line


def test_duplicate_check_ids(tmp_path):
    raw = yaml.safe_load(GOOD)
    raw["checks"][1]["id"] = "constructible"
    [line] = problems(write(tmp_path, yaml.safe_dump(raw)))
    assert "duplicate check ids: constructible" in line


def test_load_rubrics_collects_every_file(tmp_path):
    write(tmp_path, GOOD + "\nextra: 1\n")
    write(tmp_path, "exercise: gru\n", name="gru.yaml")
    with pytest.raises(RubricError) as caught:
        load_rubrics(tmp_path)
    assert any("conv1d.yaml: extra" in line for line in caught.value.lines)
    assert any("gru.yaml: title: Field required" in line for line in caught.value.lines)


def test_validate_command(tmp_path, capsys):
    assert main(["rubric", "validate", str(ROOT / "rubrics" / "conv1d.yaml")]) == 0
    assert "ok: conv1d (8 checks, 100 points + 10 bonus)" in capsys.readouterr().out
    broken = write(tmp_path, GOOD + "\ncolour: blue\n")
    assert main(["rubric", "validate", str(broken)]) == 1
    assert f"{broken}: colour: unknown key" in capsys.readouterr().err


def test_threads_must_be_a_positive_count(tmp_path):
    assert load_rubric(write(tmp_path, edited(threads=1))).threads == 1
    path = write(tmp_path, edited(threads=0))
    [line] = problems(path)
    assert line.startswith(f"{path}: threads:")


# --------------------------------------------------------------------------- the rubric against its exercise's spec

def with_check(index: int, **changes) -> str:
    raw = yaml.safe_load(GOOD)
    raw["checks"][index].update(changes)
    return yaml.safe_dump(raw)


def test_check_params_of_the_declared_types_pass(tmp_path):
    rubric = load_rubric(write(tmp_path, with_check(1, params={"forbidden_names": ["conv1d"],
                                                               "forbidden_call_substrings": []})))
    assert rubric.checks[1].params["forbidden_names"] == ["conv1d"]


def test_check_param_of_the_wrong_type(tmp_path):
    path = write(tmp_path, with_check(1, params={"forbidden_names": "conv1d", "forbidden_call_substrings": ["conv"]}))
    assert problems(path) == [f"{path}: checks[1] (id: from_scratch).params.forbidden_names: Input should be a valid "
                              "list"]


def test_check_param_unknown_or_missing(tmp_path):
    path = write(tmp_path, with_check(1, params={"forbidden_names": [], "forbidden_substrings": ["conv"]}))
    assert problems(path) == [f"{path}: checks[1] (id: from_scratch).params.forbidden_call_substrings: Field required",
                              f"{path}: checks[1] (id: from_scratch).params.forbidden_substrings: unknown key"]


def test_params_for_a_check_type_that_takes_none(tmp_path):
    path = write(tmp_path, with_check(0, params={"strict": True}))
    assert problems(path) == [f"{path}: checks[0] (id: constructible).params.strict: unknown key"]


def test_strict_params_refuse_a_number_written_as_text(tmp_path):
    raw = yaml.safe_load((ROOT / "rubrics" / "rnn_lm.yaml").read_text())
    next(check for check in raw["checks"] if check["type"] == "rnn_lm.learns")["params"]["min_drop"] = "0.75"
    path = write(tmp_path, yaml.safe_dump(raw), name="rnn_lm.yaml")
    [line] = problems(path)
    assert line.startswith(f"{path}: checks[") and line.endswith("(id: learns).params.min_drop: Input should be a "
                                                                  "valid number")


def test_probe_section_is_typed_by_the_exercise(tmp_path):
    assert load_rubric(write(tmp_path, edited(probe={"constructor_args": [[1, 1, 1]],
                                                      "configs": [[2, 3, 4, 3, 11]]}))).probe["configs"]
    path = write(tmp_path, edited(probe={"class_name": 5, "constructor_args": [[1, 1, 1]],
                                         "configs": [[2, 3, 4, 3]], "colour": "blue"}))
    assert problems(path) == [f"{path}: probe.class_name: Input should be a valid string",
                              f"{path}: probe.configs[0]: List should have at least 5 items after validation, not 4",
                              f"{path}: probe.colour: unknown key"]


def test_missing_exercise_package_is_one_line(tmp_path):
    path = write(tmp_path, edited(module="grader.exercises.no_such_exercise"))
    [line] = problems(path)
    assert line.startswith(f"{path}: module: cannot import 'grader.exercises.no_such_exercise'")


def test_datasets_the_checks_read_must_be_staged(tmp_path):
    raw = yaml.safe_load((ROOT / "rubrics" / "indobert.yaml").read_text())
    assert load_rubric(write(tmp_path, yaml.safe_dump(raw), name="indobert.yaml")).data == ["smsa", "indobert"]
    raw["data"] = ["smsa", "mnist"]
    path = write(tmp_path, yaml.safe_dump(raw), name="indobert.yaml")
    lines = problems(path)
    assert lines[0].startswith(f"{path}: data: unknown dataset 'mnist'")
    assert lines[1] == (f"{path}: data: the exercise's checks read the dataset 'indobert', so the rubric must "
                        "stage it")


def test_validate_command_names_a_wrong_param(tmp_path, capsys):
    broken = write(tmp_path, with_check(1, params={"forbidden_names": 3, "forbidden_call_substrings": []}))
    assert main(["rubric", "validate", str(broken)]) == 1
    assert f"{broken}: checks[1] (id: from_scratch).params.forbidden_names: Input should be a valid list" in \
        capsys.readouterr().err
