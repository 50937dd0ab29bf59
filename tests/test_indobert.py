"""IndoBERT on SmSA: the reference and example notebooks through the whole pipeline (quick mode: the tiny BERT
stand-in and the shipped SmSA subset), plus the grader-side helpers on hand-built inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import data, report
from grader.check import CheckContext
from grader.exercises import indobert
from grader.exercises.indobert import Evaluation, EvaluationProblem, ModelConfig
from grader.results import CellRecord, ExecutionRecord, GradeResult

from conftest import FIXTURES, ROOT, grade_notebook, message, points, repo_rubric

SCENARIOS = ["own_label_order", "no_optimizer_step", "wrong_label_mapping", "fabricated_f1", "crash_midway",
             "two_labels"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GradeResult]:
    """Every scenario graded once (and the reference), counting how often the grader loads exported weights."""
    data.prepare({"smsa", "indobert"}, quick=True)
    rubric = repo_rubric("indobert")
    out = tmp_path_factory.mktemp("indobert")
    measured = []
    original = indobert._measure

    def counting(ctx, probe_data):
        measured.append(ctx.plan.spec["eval_file"])
        return original(ctx, probe_data)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(indobert, "_measure", counting)
        results = {"reference": grade_notebook(ROOT / "reference" / "indobert.ipynb", rubric, out, "reference")}
        for name in SCENARIOS:
            results[name] = grade_notebook(FIXTURES / f"indobert_{name}.ipynb", rubric, out, name)
    results["_measured"] = measured  # type: ignore[assignment]
    return results


def details(result: GradeResult, check_id: str) -> dict:
    return next(check.details for check in result.checks if check.id == check_id)


@pytest.mark.slow
def test_reference_scores_full_marks_with_the_stand_in(graded):
    result = graded["reference"]
    assert result.status == "graded", result.message
    assert result.score == result.max_score == 100, points(result)
    assert "tiny BERT stand-in, not IndoBERT" in message(result, "macro_f1")
    assert "quick run scores 0.63" in message(result, "macro_f1")


@pytest.mark.slow
def test_own_label_order_is_read_from_id2label(graded):
    result = graded["own_label_order"]
    assert result.score == 100, points(result)
    assert details(result, "macro_f1")["label order"] == "model.config.id2label"


@pytest.mark.slow
def test_missing_optimizer_step_is_not_fine_tuned(graded):
    result = graded["no_optimizer_step"]
    assert points(result) == {"model": 10, "fine_tuned": 0, "macro_f1": 0, "accuracy": 0, "reported_metrics": 25}
    assert "optimizer.step()" in message(result, "fine_tuned")
    macro_f1 = next(check for check in result.checks if check.id == "macro_f1")
    assert macro_f1.gated_by == ["fine_tuned"]


@pytest.mark.slow
def test_wrong_label_mapping_fails_the_re_measurement(graded):
    result = graded["wrong_label_mapping"]
    scored = points(result)
    assert scored["fine_tuned"] == 15 and scored["reported_metrics"] == 0
    assert scored["macro_f1"] < 20 and scored["accuracy"] == 0
    assert "set model.config.id2label" in message(result, "reported_metrics")
    assert details(result, "macro_f1")["label order"] == "the tutorial's LABEL2INDEX"


@pytest.mark.slow
def test_fabricated_f1_loses_the_report_points_only(graded):
    result = graded["fabricated_f1"]
    assert points(result) == {"model": 10, "fine_tuned": 15, "macro_f1": 40, "accuracy": 10, "reported_metrics": 0}
    assert "printed final valid F1 0.97 is not reproduced" in message(result, "reported_metrics")


@pytest.mark.slow
def test_crash_mid_training_earns_partial_credit_for_what_ran(graded):
    result = graded["crash_midway"]
    assert result.status == "graded"
    assert any(cell.status == "error" and cell.error_name == "NameError" for cell in result.execution.cells)
    scored = points(result)
    assert scored["model"] == 10 and scored["fine_tuned"] == 15 and scored["reported_metrics"] == 0
    assert scored["macro_f1"] > 0  # measured on the model as the crash left it
    assert 25 < result.score < 100


@pytest.mark.slow
def test_two_label_model_is_not_the_classifier_asked_for(graded):
    result = graded["two_labels"]
    assert result.score == 0
    assert "num_labels=3" in message(result, "model") and "`model` (2 labels)" in message(result, "model")


@pytest.mark.slow
def test_weights_are_loaded_once_per_submission(graded):
    assert len(graded["_measured"]) == 1 + len(SCENARIOS)


@pytest.mark.slow
def test_report_shows_per_class_f1_confusion_matrix_and_curves(graded):
    result = graded["reference"]
    f1 = details(result, "macro_f1")
    assert set(f1["F1 per class"]) == {"positive", "neutral", "negative"}
    confusion = f1["confusion matrix (rows: true label)"]
    assert sum(int(part.split()[-1]) for row in confusion.values() for part in row.split(" · ")) == 200
    curve = details(result, "reported_metrics")["per-epoch F1 against the reference"]
    assert list(curve) == [f"epoch {n}" for n in range(1, 6)]
    assert "reference valid F1 0.59" in curve["epoch 1"] and "train F1" in curve["epoch 1"]
    html = report.student_html(result)
    assert "F1 per class" in html and "true neutral" in html and "reference valid F1" in html


# --------------------------------------------------------------------------- grader-side helpers, no kernel

def _context(stdout: list[str], quick: bool = True) -> CheckContext:
    rubric = repo_rubric("indobert")
    execution = ExecutionRecord(status="completed", cells=[CellRecord(number=i + 1, status="ok", stdout=text)
                                                           for i, text in enumerate(stdout)])
    plan = indobert.make_plan(rubric.probe, None, quick)
    return CheckContext(rubric=rubric, spec=rubric.checks[0], plan=plan, probe=None, probe_problem="no probe",
                        execution=execution, notebook=None, quick=quick)


def test_epoch_lines_follow_the_tutorial_format():
    ctx = _context(["loading\n(Epoch 1) TRAIN LOSS:0.5 ACC:0.80 F1:0.75 REC:0.7 PRE:0.8 LR:0.00005000\n"
                    "(Epoch 1) VALID LOSS:0.4 ACC:0.85 F1:0.81 REC:0.8 PRE:0.82\n",
                    "(Epoch 2) TRAIN LOSS:0.3 ACC:0.9 F1:0.88 REC:0.87 PRE:0.89\nVALID F1=0.84 ACC=0.88\n"])
    lines = indobert.epoch_lines(ctx)
    assert [(line.split, line.epoch, line.metrics["F1"]) for line in lines] == [
        ("TRAIN", 1, 0.75), ("VALID", 1, 0.81), ("TRAIN", 2, 0.88), ("VALID", 2, 0.84)]
    assert lines[0].metrics == {"LOSS": 0.5, "ACC": 0.8, "F1": 0.75, "REC": 0.7, "PRE": 0.8}


def test_no_metric_lines_fail_the_report_without_a_probe():
    outcome = indobert.reported_metrics(_context(["training done\n"]), tolerance=0.02,
                                        reference_curve={"quick": [0.5], "full": []})
    assert outcome.fraction == 0 and "No TRAIN and VALID metric lines" in outcome.message


@pytest.mark.parametrize("id2label, expected", [
    ({}, {0: "positive", 1: "neutral", 2: "negative"}),
    ({"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}, {0: "positive", 1: "neutral", 2: "negative"}),
    ({"0": "Negative", "1": "neutral", "2": "POSITIVE"}, {0: "negative", 1: "neutral", 2: "positive"}),
    ({"0": "negative", "1": "negative", "2": "positive"}, {0: "positive", 1: "neutral", 2: "negative"}),
])
def test_label_order_comes_from_id2label_only_when_it_names_the_three_labels(id2label, expected):
    order, _ = indobert._label_order(ModelConfig(num_labels=3, id2label=id2label))
    assert order == expected


def test_evaluation_metrics_match_hand_computation():
    result = Evaluation(confusion=[[8, 1, 1], [2, 2, 0], [0, 1, 5]], label_source="", eval_name="", standin=False)
    assert result.count == 20 and result.accuracy == pytest.approx(15 / 20)
    f1 = result.f1_per_class
    assert f1["positive"] == pytest.approx(2 * 0.8 * 0.8 / 1.6)
    assert f1["neutral"] == pytest.approx(2 * 0.5 * 0.5 / 1.0)
    assert f1["negative"] == pytest.approx(2 * (5 / 6) * (5 / 6) / (10 / 6))
    assert result.macro_f1 == pytest.approx(sum(f1.values()) / 3)
    assert result.model_note() == ""


@pytest.mark.parametrize("document", [None, {"model": {"type": "WordPiece"}}, {"model": {"vocab": {"a": 0}}, "x": 1}])
def test_unusable_tokenizer_json_is_one_sentence(document):
    with pytest.raises(EvaluationProblem):
        indobert._tokenizer(document, 512)
