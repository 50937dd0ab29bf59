"""IndoBERT on SmSA: the reference and example notebooks through the whole pipeline (quick mode: the tiny BERT
stand-in and the shipped SmSA subset), plus the grader-side helpers on hand-built inputs."""

from __future__ import annotations

import pytest

from grader import data, report
from grader.check import CheckContext
from grader.exercises.indobert import checks as indobert_checks, plan as indobert_plan, schema as indobert_schema
from grader.exercises.indobert.checks import Evaluation, EvaluationProblem
from grader.exercises.indobert.schema import ModelConfig
from grader.results import CellRecord, ExecutionRecord, GradeResult

from conftest import FIXTURES, ROOT, grade_notebook, message, points, repo_rubric

# Scores of these and of the other scenarios are asserted by their verdict manifest
# (tests/fixtures/verdicts/indobert.yaml); these tests check details a manifest cannot.
SCENARIOS = ["wrong_label_mapping", "no_optimizer_step", "crash_midway"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GradeResult]:
    """The reference and a few scenarios graded once, counting how often the grader loads exported weights."""
    data.prepare({"smsa", "indobert"}, quick=True)
    rubric = repo_rubric("indobert")
    out = tmp_path_factory.mktemp("indobert")
    measured = []
    original = indobert_checks._measure

    def counting(ctx, probe_data):
        measured.append(ctx.plan.spec["eval_file"])
        return original(ctx, probe_data)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(indobert_checks, "_measure", counting)
        results = {"reference": grade_notebook(ROOT / "reference" / "indobert.ipynb", rubric, out, "reference")}
        for name in SCENARIOS:
            results[name] = grade_notebook(FIXTURES / f"indobert_{name}.ipynb", rubric, out, name)
    results["_measured"] = measured  # type: ignore[assignment]
    return results


def details(result: GradeResult, check_id: str) -> dict:
    return next(check.details for check in result.checks if check.id == check_id)


@pytest.mark.slow
def test_reference_scores_full_marks_with_the_stand_in_and_says_quick_mode_decided(graded):
    result = graded["reference"]
    assert result.status == "graded", result.message
    assert result.score == result.max_score == 100, points(result)
    assert "tiny BERT stand-in, not IndoBERT" in message(result, "macro_f1")
    assert "decided in quick mode: beat the majority class" in message(result, "macro_f1")
    assert details(result, "macro_f1")["majority-class level"] == "0.215"


@pytest.mark.slow
def test_wrong_label_mapping_reads_the_tutorial_order_and_names_the_permutation(graded):
    result = graded["wrong_label_mapping"]
    assert details(result, "macro_f1")["label order"] == "the tutorial's LABEL2INDEX"
    assert "only with the labels in another order" in message(result, "reported_metrics")


@pytest.mark.slow
def test_missing_optimizer_step_gates_the_measured_scores(graded):
    result = graded["no_optimizer_step"]
    macro_f1 = next(check for check in result.checks if check.id == "macro_f1")
    assert macro_f1.gated_by == ["fine_tuned"]
    assert "the classifier head are exactly as from_pretrained left them" in message(result, "fine_tuned")


@pytest.mark.slow
def test_crash_mid_training_is_measured_as_the_crash_left_it(graded):
    result = graded["crash_midway"]
    assert any(cell.status == "error" and cell.error_name == "NameError" for cell in result.execution.cells)
    assert points(result)["fine_tuned"] == 15 and points(result)["macro_f1"] > 0


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
    reported = details(result, "reported_metrics")
    curve = reported["per-epoch figures against the reference"]
    assert list(curve) == [f"epoch {n}" for n in range(1, 6)]
    assert "reference valid F1" in curve["epoch 1"] and "train F1" in curve["epoch 1"] and "valid F1" in curve["epoch 1"]
    assert reported["where the figures were read"] == {"train": "cell 8, output", "valid": "cell 8, output"}
    html = report.student_html(result)
    assert "F1 per class" in html and "true neutral" in html and "reference valid F1" in html


# --------------------------------------------------------------------------- grader-side helpers, no kernel

def _context(printed: list[str], quick: bool = True, **outputs: str) -> CheckContext:
    """Cells that printed `printed`, then one cell with `outputs` (stdout, stderr, html)."""
    rubric = repo_rubric("indobert")
    cells = [CellRecord(number=i + 1, status="ok", stdout=text) for i, text in enumerate(printed)]
    if outputs:
        cells.append(CellRecord(number=len(cells) + 1, status="ok", **outputs))
    plan = indobert_plan.make_plan(indobert_plan.PlanParams.model_validate(rubric.probe), None, quick)
    return CheckContext(rubric=rubric, spec=rubric.checks[0], plan=plan, probe=None, probe_problem="no probe",
                        execution=ExecutionRecord(status="completed", cells=cells), notebook=None, quick=quick)


def _read(*printed: str, **outputs: str) -> list[tuple[str, int | None, dict[str, float]]]:
    return [(report.split, report.epoch, report.metrics)
            for report in indobert_checks.notebook_reports(_context(list(printed), **outputs))]


def test_tutorial_lines_give_each_split_its_metrics():
    assert _read("loading\n(Epoch 1) TRAIN LOSS:0.5 ACC:0.80 F1:0.75 REC:0.7 PRE:0.8 LR:0.00005000\n"
                 "(Epoch 1) VALID LOSS:0.4 ACC:0.85 F1:0.81 REC:0.8 PRE:0.82\n",
                 "(Epoch 2) TRAIN LOSS:0.3 F1:0.88\nVALID F1=0.84 ACC=88.0%\n") == [
        ("TRAIN", 1, {"LOSS": 0.5, "ACC": 0.8, "F1": 0.75, "REC": 0.7, "PRE": 0.8}),
        ("VALID", 1, {"LOSS": 0.4, "ACC": 0.85, "F1": 0.81, "REC": 0.8, "PRE": 0.82}),
        ("TRAIN", 2, {"LOSS": 0.3, "F1": 0.88}), ("VALID", 2, {"F1": 0.84, "ACC": 0.88})]


def test_trainer_logs_are_read_from_their_dicts():
    logs = ("{'loss': 0.9123, 'grad_norm': 3.2, 'learning_rate': 4e-05, 'epoch': 1.0}\n"
            "{'eval_loss': 0.61, 'eval_accuracy': 0.7, 'eval_f1': 0.64, 'eval_runtime': 1.2, 'epoch': 1.0}\n"
            "TrainOutput(global_step=95, training_loss=0.78, metrics={'train_runtime': 30.1, 'epoch': 5.0})\n")
    assert _read(logs) == [("TRAIN", 1, {"LOSS": 0.9123}), ("VALID", 1, {"LOSS": 0.61, "ACC": 0.7, "F1": 0.64}),
                           ("TRAIN", 5, {"LOSS": 0.78})]


def test_progress_bars_give_their_last_complete_state():
    stderr = ("\r(Epoch 1) TRAIN LOSS:0.40 LR:0.00000300:   5%|5 | 1/19 [00:00<00:01]"
              "\r(Epoch 1) TRAIN LOSS:0.32 LR:0.00000300: 100%|##| 19/19 [01:38<00:00,  3.49it/s]\n"
              "VALID LOSS:0.21 ACC:0.90 F1:0.80:  14%|#  | 1/7 [00:04<00:29]/x/sklearn/metrics.py:1879: "
              "UndefinedMetricWarning: Precision is ill-defined and being set to 0.0\n"
              "VALID LOSS:0.19 ACC:0.93 F1:0.89: 100%|##| 7/7 [00:04<00:00,  9.56it/s]\n"
              "Epoch 2: 100%|##| 19/19 [00:01<00:00, 12.1it/s, loss=0.5, f1=0.6]\n")
    assert _read(stderr=stderr) == [("TRAIN", 1, {"LOSS": 0.32}), ("VALID", 1, {"LOSS": 0.19, "ACC": 0.93, "F1": 0.89}),
                                    ("", 2, {"LOSS": 0.5, "F1": 0.6})]


def test_progress_bars_repeating_printed_lines_are_not_read_twice():
    assert _read(stdout="(Epoch 1) VALID LOSS:0.19 F1:0.89\n",
                 stderr="VALID LOSS:0.19 F1:0.89: 100%|##| 7/7 [00:04<00:00]\n") == [("VALID", 1, {"LOSS": 0.19, "F1": 0.89})]


def test_headings_name_the_split_and_epoch_of_the_lines_below():
    assert _read("======== Epoch 1 / 4 ========\nTraining...\n  Average training loss: 0.50\n"
                 "  Training epcoh took: 0:00:03\n600 training reviews, 200 validation reviews\n"
                 "Running Validation...\n  Accuracy: 0.80\n  Validation Loss: 0.45\n") == [
        ("TRAIN", 1, {"LOSS": 0.5}), ("VALID", 1, {"ACC": 0.8}), ("VALID", 1, {"LOSS": 0.45})]


TRAINER_TABLE = ("<div><progress value='95' max='95'></progress> [95/95 00:30, Epoch 5/5]</div>"
                 "<table border='1' class='dataframe'><thead><tr><th>Epoch</th><th>Training Loss</th>"
                 "<th>Validation Loss</th><th>F1</th><th>Accuracy</th></tr></thead><tbody>"
                 "<tr><td>1</td><td>1.0234</td><td>0.9123</td><td>0.412</td><td>0.6</td></tr>"
                 "<tr><td>2</td><td>No log</td><td>0.8</td><td>0.55</td><td>0.65</td></tr></tbody></table>")


def test_trainer_table_metrics_beside_a_validation_loss_are_validation_metrics():
    assert _read(html=TRAINER_TABLE, stdout="<IPython.core.display.HTML object>\n") == [
        ("TRAIN", 1, {"LOSS": 1.0234}), ("VALID", 1, {"LOSS": 0.9123, "F1": 0.412, "ACC": 0.6}),
        ("VALID", 2, {"LOSS": 0.8, "F1": 0.55, "ACC": 0.65})]


DATAFRAME_TEXT = ("       Training Loss  Valid. Loss  Valid. Accur.  Valid. F1 Training Time\n"  # pandas' own layout
                  "epoch                                                                    \n"
                  "1               0.91         0.80           0.65       0.52       0:00:03\n"
                  "2               0.70         0.72           0.69       0.60       0:00:03\n")
DATAFRAME_HTML = ("<table class='dataframe'><thead><tr><th></th><th>Training Loss</th><th>Valid. F1</th></tr>"
                  "<tr><th>epoch</th><th></th><th></th></tr></thead><tbody><tr><th>1</th><td>0.91</td><td>0.52</td>"
                  "</tr><tr><th>2</th><td>0.70</td><td>0.60</td></tr></tbody></table>")


def test_dataframes_are_read_as_html_or_as_text():
    assert _read(html=DATAFRAME_HTML, stdout=DATAFRAME_TEXT) == [
        ("TRAIN", 1, {"LOSS": 0.91}), ("VALID", 1, {"F1": 0.52}), ("TRAIN", 2, {"LOSS": 0.7}), ("VALID", 2, {"F1": 0.6})]
    assert _read(DATAFRAME_TEXT) == [
        ("TRAIN", 1, {"LOSS": 0.91}), ("VALID", 1, {"LOSS": 0.8, "ACC": 0.65, "F1": 0.52}),
        ("TRAIN", 2, {"LOSS": 0.7}), ("VALID", 2, {"LOSS": 0.72, "ACC": 0.69, "F1": 0.6})]


def test_one_line_may_report_both_splits():
    assert _read("epoch 3/5: train_loss=0.91 train_f1=0.7 val_loss=0.80 val_acc=65.5% val_f1=0.52\n") == [
        ("TRAIN", 3, {"LOSS": 0.91, "F1": 0.7}), ("VALID", 3, {"LOSS": 0.8, "ACC": 0.655, "F1": 0.52})]


def test_no_validation_f1_fails_the_report_without_a_probe():
    outcome = indobert_checks.reported_metrics(_context(["training done\n(Epoch 1) TRAIN LOSS:0.5\n"]), tolerance=0.02,
                                               reference_curve=indobert_checks.ReferenceCurve(quick=[0.5]))
    assert outcome.fraction == 0 and "No validation F1 was reported" in outcome.message
    assert outcome.details["where the figures were read"] == {"train": "cell 1, output"}


VALID = [[40, 10, 5], [8, 10, 2], [4, 6, 15]]  # rows: true positive, neutral, negative


def _evaluation(masked: list[list[int]] | None = None) -> Evaluation:
    return Evaluation(confusion=VALID, label_source="model.config.id2label", eval_name="valid_preprocess.tsv",
                      standin=True, masked=masked, masked_name="test_preprocess_masked_label.tsv")


def _mismatch(value: float, earlier: float = 0.0, masked: list[list[int]] | None = None) -> str:
    reports = [indobert_checks.Reported("VALID", n, {"F1": f1}, f"cell {n}, output")
               for n, f1 in ((1, earlier), (2, value))]
    return indobert_checks._mismatch(reports[-1], reports, _evaluation(masked), 0.02)


def test_mismatch_names_metrics_computed_on_the_masked_test_file():
    masked = [[0, 0, 0], [30, 50, 20], [0, 0, 0]]  # every test label masked as neutral
    readings = indobert_checks.f1_readings(masked)
    assert readings["macro"] == pytest.approx((2 * 0.5 / 1.5) / 3)
    assert readings["macro over the labels present"] == pytest.approx((2 * 0.5 / 1.5) / 3)
    text = _mismatch(round(readings["macro"], 2), masked=masked)
    assert "masked labels of test_preprocess_masked_label.tsv" in text and "cell 2" in text


def test_mismatch_names_another_label_order_only_when_one_matches():
    swapped = sum(indobert_checks.f1_per_class(indobert_checks.permuted(VALID, (2, 1, 0)))) / 3
    text = _mismatch(round(swapped, 2))
    assert "labels in another order (0: negative, 1: neutral, 2: positive" in text and "id2label" in text
    assert "is not reproduced" in _mismatch(0.97) and "another order" not in _mismatch(0.97)


def test_mismatch_names_an_earlier_epoch_and_a_weighted_f1():
    measured = _evaluation().macro_f1
    assert "an earlier epoch's line matches" in _mismatch(0.97, earlier=round(measured, 3))
    weighted = indobert_checks.f1_readings(VALID)["weighted"]
    assert "weighted F1" in _mismatch(round(weighted, 3))


def test_quick_mode_needs_the_majority_class_beaten_and_says_so():
    label, accuracy, macro_f1 = indobert_checks.majority_baseline(VALID)
    assert (label, accuracy, macro_f1) == ("positive", 0.55, pytest.approx((2 * 0.55 / 1.55) / 3))
    quick = indobert_checks._bar(_context([]), _evaluation(), "macro_f1",
                                 indobert_checks.FullBar(reference=0.91, within=0.03),
                                 indobert_checks.QuickBar(margin=0.15))
    assert quick.needed == pytest.approx(macro_f1 + 0.15) and "decided in quick mode" in quick.why
    full = indobert_checks._bar(_context([], quick=False), _evaluation(), "accuracy",
                                indobert_checks.FullBar(minimum=0.85, reference=0.91, within=0.03),
                                indobert_checks.QuickBar(margin=0.1))
    assert full.needed == pytest.approx(0.88) and full.baseline == 0.55 and "decided in full mode" in full.why


def test_an_unchanged_encoder_is_explained_by_what_the_grader_saw():
    frozen = indobert_schema.ProbeValues(frozen=["bert.embeddings.word_embeddings.weight", "bert.pooler.dense.bias"],
                                  encoder_parameters=39)
    assert indobert_checks._unchanged_encoder(frozen, 39, True).startswith(
        "The encoder was frozen (requires_grad=False on 2 of its 39 tensors")
    head_only = indobert_checks._unchanged_encoder(indobert_schema.ProbeValues(), 39, True)
    assert "only the classifier head was trained" in head_only and "optimizer.step()" not in head_only
    assert "is optimizer.step() called" in indobert_checks._unchanged_encoder(indobert_schema.ProbeValues(), 39, False)


@pytest.mark.parametrize("id2label, expected", [
    ({}, {0: "positive", 1: "neutral", 2: "negative"}),
    ({"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}, {0: "positive", 1: "neutral", 2: "negative"}),
    ({"0": "Negative", "1": "neutral", "2": "POSITIVE"}, {0: "negative", 1: "neutral", 2: "positive"}),
    ({"0": "negative", "1": "negative", "2": "positive"}, {0: "positive", 1: "neutral", 2: "negative"}),
])
def test_label_order_comes_from_id2label_only_when_it_names_the_three_labels(id2label, expected):
    order, _ = indobert_checks._label_order(ModelConfig(num_labels=3, id2label=id2label))
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
        indobert_checks._tokenizer(document, 512)
