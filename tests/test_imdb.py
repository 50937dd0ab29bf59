"""IMDb exercise: the training-log parser, the probe (in-process), each check on hand-made measurements, and the
reference and fixture notebooks graded end to end in quick mode."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import pytest
import torch
import torch.nn as nn
from nbformat.v4 import new_code_cell, new_notebook

from conftest import ROOT, grade_notebook, message, repo_rubric
from grader import data
from grader.check import CheckContext, Outcome, run_check
from grader.exercises.imdb import checks as imdb_checks, kernel as imdb_kernel, plan as imdb_plan, schema as imdb_schema
from grader.probe import ProbeData
from grader.kernel.runtime import Recorder
from grader.results import CellRecord, ExecutionRecord, GradeResult

RUBRIC = repo_rubric("imdb")

# --------------------------------------------------------------------------- helpers


def context(cells: list[tuple[str, ...]], models: list[dict[str, Any]] | None = None, labels: list[int] | None = None,
            function_status: str = "ok", quick: bool = True) -> CheckContext:
    """A check context from (source, stdout[, stderr[, html]]) cells and hand-made probe values."""
    notebook = new_notebook(cells=[new_code_cell(source) for source, *_ in cells])
    execution = ExecutionRecord(status="completed", cells=[
        CellRecord(number=index + 1, status="ok", **dict(zip(("stdout", "stderr", "html"), outputs)))
        for index, (_, *outputs) in enumerate(cells)])
    values = imdb_schema.ProbeValues.model_validate({"function_status": function_status, "models": models or []})
    plan = imdb_plan.HeldBackPlan(spec={"function": "predict_sentiment", "texts": []}, labels=labels or [])
    return CheckContext(rubric=RUBRIC, spec=RUBRIC.checks[0], plan=plan, probe=ProbeData(values, {}, {}),
                        probe_problem="", execution=execution, notebook=notebook, quick=quick)


def outcome(ctx: CheckContext, check_id: str) -> Outcome:
    spec = next(spec for spec in RUBRIC.checks if spec.id == check_id)
    run = run_check(replace(ctx, spec=spec))
    assert not run.crashed, run.outcome.message
    return run.outcome


def tutorial_epochs(accuracies: list[tuple[float, float]]) -> str:
    return "".join(f"Epoch: {n:02} | Epoch Time: 0m 4{n}s\n\tTrain Loss: 0.693 | Train Acc: {100 * t:.2f}%\n"
                   f"\t Val. Loss: 0.690 |  Val. Acc: {100 * v:.2f}%\n" for n, (t, v) in enumerate(accuracies, 1))


RNN_EPOCHS = [(0.50, 0.49), (0.51, 0.50), (0.50, 0.51), (0.52, 0.50), (0.52, 0.51)]
LSTM_EPOCHS = [(0.65, 0.78), (0.80, 0.84), (0.85, 0.86), (0.87, 0.87), (0.89, 0.88)]
TUTORIAL_CELLS = [
    ("rnn_model = RNN(INPUT_DIM, 100, 256, 1)\nprint(count_parameters(rnn_model))\nfit(rnn_model)",
     "The model has 2,592,105 trainable parameters\n" + tutorial_epochs(RNN_EPOCHS)),
    ("loss, acc = evaluate(rnn_model, test_data)\nprint(...)", "Test Loss: 0.693 | Test Acc: 47.92%\n"),
    ("lstm_model = BiLSTM(...)\nprint(count_parameters(lstm_model))\nfit(lstm_model)",
     "The model has 4,810,857 trainable parameters\n" + tutorial_epochs(LSTM_EPOCHS)),
    ("loss, acc = evaluate(lstm_model, test_data)\nprint(...)", "Test Loss: 0.340 | Test Acc: 85.30%\n"),
]


def rnn_module(vocab: int = 25_002, hidden: int = 256) -> nn.Module:
    module = nn.Module()
    module.embedding, module.rnn, module.fc = nn.Embedding(vocab, 100), nn.RNN(100, hidden), nn.Linear(hidden, 1)
    return module


def lstm_module(vocab: int = 25_002, hidden: int = 256, layers: int = 2) -> nn.Module:
    module = nn.Module()
    module.embedding = nn.Embedding(vocab, 100)
    module.rnn = nn.LSTM(100, hidden, num_layers=layers, bidirectional=True)
    module.fc = nn.Linear(2 * hidden, 1)
    return module


def model_record(module: nn.Module, kind: str, name: str, probabilities: list[float | None]) -> dict[str, Any]:
    return {"names": [name], "kind": kind, **imdb_kernel._structure(module), "probabilities": probabilities}


LABELS = [1, 0] * 200


def predictions(accuracy: float, labels: list[int] = LABELS) -> list[float]:
    """Probabilities that get the first `accuracy` share of the labels right."""
    right = round(accuracy * len(labels))
    return [(0.9 if label else 0.1) if index < right else (0.1 if label else 0.9) for index, label in enumerate(labels)]


# --------------------------------------------------------------------------- parsing the outputs


def test_tutorial_lines_parse_into_two_runs() -> None:
    log = imdb_checks.training_log(context(TUTORIAL_CELLS))
    rnn, lstm = log.runs["rnn"], log.runs["lstm"]
    assert [(e.number, e.train, e.valid) for e in rnn.epochs] == [(n, t, v) for n, (t, v) in enumerate(RNN_EPOCHS, 1)]
    assert [e.valid for e in lstm.epochs] == [v for _, v in LSTM_EPOCHS]
    assert (rnn.test, lstm.test) == (pytest.approx(0.4792), pytest.approx(0.853))
    assert [count for count, _ in log.counts] == [2_592_105, 4_810_857]


def test_fractions_other_separators_and_the_lstm_first() -> None:
    lines = lambda epochs: "".join(f"epoch {n}/5 - loss=0.5 - train_acc={t:.4f} - val_loss=0.4 - val_acc={v:.4f}\n"  # noqa: E731
                                   for n, (t, v) in enumerate(epochs, 1))
    cells = [("history = fit(model_b)", "Trainable parameters (BiLSTM): 4810857\n" + lines(LSTM_EPOCHS)),
             ("evaluate(model_b)", "BiLSTM test: loss=0.3 - test_acc=0.8530\n"),
             ("history = fit(model_a)", lines(RNN_EPOCHS)),
             ("evaluate(model_a)", "RNN test: loss=0.7 - test_acc=0.4792\n")]
    log = imdb_checks.training_log(context(cells))
    assert log.runs["lstm"].test == pytest.approx(0.853) and log.runs["rnn"].test == pytest.approx(0.4792)
    assert log.runs["lstm"].epochs[0].train == pytest.approx(0.65)
    assert log.counts == [(4_810_857, "lstm")]


def test_progress_bar_noise_and_repeated_epoch_lines() -> None:
    noise = "".join(f"Epoch 1/5:  {p}%|###| {p}/100 [00:01<00:00, train acc: 0.{p:02d}]\r" for p in (10, 50, 99))
    epochs = noise + "Epoch 1/5 done: train accuracy 0.61 | validation accuracy: 0.66\n" + "".join(
        f"Epoch {n}/5 done: train accuracy 0.7{n} | validation accuracy: 0.8{n}\n" for n in range(2, 6))
    cells = [("N_EPOCHS = 5\nprint('N_EPOCHS', N_EPOCHS)\nfit(rnn)", "N_EPOCHS 5\nepochs: 5\n" + epochs)]
    run = imdb_checks.training_log(context(cells)).runs["rnn"]
    assert [(e.number, e.train, e.valid) for e in run.epochs] == [
        (1, 0.61, 0.66), *((n, pytest.approx(0.7 + n / 100), pytest.approx(0.8 + n / 100)) for n in range(2, 6))]


def test_lines_without_epoch_numbers_and_tests_printed_together_at_the_end() -> None:
    plain = lambda epochs: "".join(f"train acc {100 * t:.1f} %, valid acc {100 * v:.1f} %\n" for t, v in epochs)  # noqa: E731
    cells = [("train(rnn_net)", plain(RNN_EPOCHS)), ("train(lstm_net)", plain(LSTM_EPOCHS[:3])),
             ("print(evaluate(rnn_net))", "Test Acc: 47.9%\n"), ("print(evaluate(lstm_net))", "Test Acc: 85.3%\n")]
    log = imdb_checks.training_log(context(cells))
    assert len(log.runs["rnn"].epochs) == 5 and len(log.runs["lstm"].epochs) == 3
    assert log.runs["rnn"].test == pytest.approx(0.479) and log.runs["lstm"].test == pytest.approx(0.853)


def test_unnamed_runs_are_taken_in_order() -> None:
    cells = [("fit(model)", tutorial_epochs(RNN_EPOCHS) + "Test Acc: 50.00%\n"),
             ("fit(model)", tutorial_epochs(LSTM_EPOCHS) + "Test Acc: 85.00%\n")]
    log = imdb_checks.training_log(context(cells))
    assert log.runs["rnn"].test == 0.5 and log.runs["lstm"].test == 0.85


# --------------------------------------------------------------------------- every channel a notebook reports to


def keras_lines(epochs: list[tuple[float, float]]) -> str:
    return "".join(f"Epoch {n}/5\n11/11 [==============================] - 2s - loss: 0.6931 - accuracy: {t:.4f} - "
                   f"val_loss: 0.6925 - val_accuracy: {v:.4f}\n" for n, (t, v) in enumerate(epochs, 1))


def test_keras_style_lines_and_bare_accuracy_only_on_training_lines() -> None:
    cells = [("rnn_history = fit(rnn_model)", keras_lines(RNN_EPOCHS) + "Accuracy: 0.99\n"),
             ("print(evaluate(rnn_model))", "test_loss: 0.6931 - test_accuracy: 0.4792\n"),
             ("lstm_history = fit(lstm_model)", keras_lines(LSTM_EPOCHS)),
             ("print(evaluate(lstm_model))", "test_loss: 0.3400 - test_accuracy: 0.8530\n")]
    log = imdb_checks.training_log(context(cells))
    assert [(e.number, e.train, e.valid) for e in log.runs["rnn"].epochs] == [
        (n, pytest.approx(t), pytest.approx(v)) for n, (t, v) in enumerate(RNN_EPOCHS, 1)]
    assert (log.runs["rnn"].test, log.runs["lstm"].test) == (pytest.approx(0.4792), pytest.approx(0.853))


def tqdm_bar(epochs: list[tuple[float, float]]) -> str:
    """What tqdm writes to stderr: refreshes separated by '\r', running postfixes, the validation numbers last."""
    text = ""
    for n, (t, v) in enumerate(epochs, 1):
        text += "".join(f"\rEpoch {n}/5:  {step * 9}%|#  | {step}/11 [00:00<00:01, 9.1it/s, acc=0.{step:02d}, loss=0.69]"
                        for step in range(1, 11))
        text += f"\rEpoch {n}/5: 100%|###| 11/11 [00:01<00:00, 9.8it/s, acc={t}, loss=0.69, val_acc={v}, val_loss=0.6]\n"
    return text


def test_progress_bar_postfixes_on_stderr() -> None:
    cells = [("rnn_history = fit(rnn_model)", "", tqdm_bar(RNN_EPOCHS)), ("evaluate(rnn_model)", "Test Acc: 47.92%\n"),
             ("lstm_history = fit(lstm_model)", "Training...\n", tqdm_bar(LSTM_EPOCHS)),
             ("evaluate(lstm_model)", "Test Acc: 85.30%\n")]
    log = imdb_checks.training_log(context(cells))
    assert [(e.train, e.valid) for e in log.runs["rnn"].epochs] == RNN_EPOCHS
    assert [(e.train, e.valid) for e in log.runs["lstm"].epochs] == LSTM_EPOCHS
    assert log.runs["lstm"].where() == "cell 3 (stderr (progress bars))" and log.runs["lstm"].test == 0.853


def test_an_epoch_bar_redrawn_with_the_same_postfix_counts_once() -> None:
    """`for epoch in (bar := trange(5))` with `bar.set_postfix(acc=…, val_acc=…)`: each epoch is drawn twice."""
    draw = lambda n, t, v: f"\r{20 * n}%|##  | {n}/5 [00:02<00:08, 1.9s/it, acc={t}, val_acc={v}]"  # noqa: E731
    text = "\r  0%|    | 0/5 [00:00<?, ?it/s]" + "".join(draw(n - 1, t, v) + draw(n, t, v)
                                                     for n, (t, v) in enumerate(LSTM_EPOCHS, 1))
    log = imdb_checks.training_log(context([("fit(lstm_model)", "", text + draw(5, *LSTM_EPOCHS[-1]) + "\n")]))
    assert [(e.train, e.valid) for e in log.runs["lstm"].epochs] == LSTM_EPOCHS


def history_frame(epochs: list[tuple[float, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(epochs, columns=["train_acc", "valid_acc"])
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
    return frame


def test_displayed_and_printed_dataframes() -> None:
    rnn, lstm = history_frame(RNN_EPOCHS), history_frame(LSTM_EPOCHS)
    cells = [("rnn_log = pd.DataFrame(rnn_history)\nrnn_log", rnn.to_string() + "\n", "", rnn.to_html()),
             ("evaluate(rnn_model)", "Test Acc: 47.92%\n"),
             ("print(pd.DataFrame(lstm_history))", lstm.to_string() + "\n"),
             ("evaluate(lstm_model)", "Test Acc: 85.30%\n")]
    log = imdb_checks.training_log(context(cells))
    assert [(e.number, e.train, e.valid) for e in log.runs["rnn"].epochs] == [
        (n, t, v) for n, (t, v) in enumerate(RNN_EPOCHS, 1)]
    assert log.runs["rnn"].where() == "cell 1 (a displayed table)"
    assert [e.valid for e in log.runs["lstm"].epochs] == [v for _, v in LSTM_EPOCHS]
    assert log.runs["lstm"].where() == "cell 3 (a printed table)"


def test_one_table_for_both_models() -> None:
    long = pd.DataFrame([("RNN", n, t, v) for n, (t, v) in enumerate(RNN_EPOCHS, 1)]
                        + [("BiLSTM", n, t, v) for n, (t, v) in enumerate(LSTM_EPOCHS, 1)],
                        columns=["model", "epoch", "train_acc", "valid_acc"])
    wide = pd.DataFrame({"rnn_train_acc": [t for t, _ in RNN_EPOCHS], "rnn_valid_acc": [v for _, v in RNN_EPOCHS],
                         "lstm_train_acc": [t for t, _ in LSTM_EPOCHS], "lstm_valid_acc": [v for _, v in LSTM_EPOCHS]})
    for frame in (long, wide):
        log = imdb_checks.training_log(context([("history", "", "", frame.to_html())]))
        assert [e.valid for e in log.runs["rnn"].epochs] == [v for _, v in RNN_EPOCHS]
        assert [e.train for e in log.runs["lstm"].epochs] == [t for t, _ in LSTM_EPOCHS]


def test_printed_history_dicts() -> None:
    history = lambda epochs: str({"loss": [0.69] * 5, "accuracy": [t for t, _ in epochs],  # noqa: E731
                                  "val_loss": [0.6] * 5, "val_accuracy": [v for _, v in epochs]})
    cells = [("print(rnn_history)", history(RNN_EPOCHS) + "\nTest Acc: 47.92%\n"),
             ("print(lstm_history)", history(LSTM_EPOCHS) + "\nTest Acc: 85.30%\n")]
    log = imdb_checks.training_log(context(cells))
    assert [(e.train, e.valid) for e in log.runs["rnn"].epochs] == RNN_EPOCHS
    assert log.runs["lstm"].where() == "cell 2 (a printed dict of lists)" and log.runs["lstm"].test == 0.853


def test_a_dict_printed_every_epoch() -> None:
    lines = "".join(f"{ {'epoch': n, 'train_loss': 0.6, 'train_acc': t, 'valid_acc': v} }\n"
                    for n, (t, v) in enumerate(RNN_EPOCHS, 1))
    log = imdb_checks.training_log(context([("fit(rnn_model)", lines + "{'test_acc': 0.4792}\n")]))
    assert [(e.number, e.train, e.valid) for e in log.runs["rnn"].epochs] == [
        (n, t, v) for n, (t, v) in enumerate(RNN_EPOCHS, 1)]
    assert log.runs["rnn"].test == 0.4792


def test_the_same_numbers_reported_twice_are_one_run() -> None:
    cells = [("fit(model)", tutorial_epochs(RNN_EPOCHS)), ("fit(model)", tutorial_epochs(LSTM_EPOCHS)),
             ("pd.DataFrame(history)", "", "", history_frame(RNN_EPOCHS).to_html())]
    log = imdb_checks.training_log(context(cells))
    assert len(log.all_runs) == 2 and log.runs["lstm"].epochs[0].valid == 0.78
    assert log.runs["rnn"].where() == "cells 1, 3 (printed output, a displayed table)"


# --------------------------------------------------------------------------- attribution by what the code does

LEGACY_CELLS = [
    ("import torch.nn as nn\nclass RNN(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "        self.rnn = nn.RNN(100, 256)", ""),
    ("model = RNN()\nmodel = model.to(device)", ""),
    ("for epoch in range(5):\n    train(model)", tutorial_epochs(RNN_EPOCHS)),
    ("print(evaluate(model))", "Test Loss: 0.693 | Test Acc: 47.92%\n"),
    ("import torch.nn as nn\nclass RNN(nn.Module):\n    def __init__(self, n_layers, bidirectional):\n        super().__init__()\n"
     "        self.rnn = nn.LSTM(100, 256, num_layers=n_layers, bidirectional=bidirectional)", ""),
    ("N_LAYERS = 2\nmodel = RNN(N_LAYERS, True)\nmodel.embedding.weight.data[0] = 0\nprint(count_parameters(model))",
     "The model has 4,810,857 trainable parameters\n"),
    ("for epoch in range(5):\n    train(model)", tutorial_epochs(LSTM_EPOCHS)),
    ("print(evaluate(model))", "Test Loss: 0.340 | Test Acc: 85.30%\n"),
]


def test_runs_are_attributed_by_the_class_each_cell_uses() -> None:
    # The LSTM is trained first here, so the order alone would get both wrong.
    cells = LEGACY_CELLS[4:6] + [LEGACY_CELLS[6], LEGACY_CELLS[7]] + LEGACY_CELLS[:4]
    log = imdb_checks.training_log(context(cells))
    assert log.runs["lstm"].test == 0.853 and log.runs["rnn"].test == pytest.approx(0.4792)
    assert log.reasons["rnn"] == ("by the code: cell 7 uses `model`, built in cell 6 from class `RNN` (cell 5, "
                                  "with an nn.RNN)")
    assert log.counts == [(4_810_857, "lstm")]


def test_an_overwritten_rnn_is_graded_from_what_is_left() -> None:
    ctx = context(LEGACY_CELLS, [model_record(lstm_module(), "bilstm", "model", predictions(0.86))], LABELS)
    lost = imdb_checks.training_log(ctx).source.lost("rnn")
    assert (lost.variable, lost.cell, lost.cls.cell) == ("model", 2, 1)
    assert lost.replaced == "`model` was given a model built from class `RNN` (cell 5, with an nn.LSTM) in cell 6"
    for check_id in ("rnn_trained", "rnn_report"):
        result = outcome(ctx, check_id)
        assert result.fraction == 1 and result.details["flag"] == "not re-measured: the model was overwritten"
    assert outcome(ctx, "rnn_trained").message.startswith(
        "`model`, built in cell 2 from class `RNN` (cell 1, with an nn.RNN), was trained for 5 epochs (cell 3")
    short = LEGACY_CELLS[:2] + [(LEGACY_CELLS[2][0], tutorial_epochs(RNN_EPOCHS[:4]))] + LEGACY_CELLS[3:]
    assert outcome(context(short, ctx.data().values.model_dump()["models"], LABELS), "rnn_report").fraction == 0


def test_an_overwritten_bilstm_is_read_from_its_code() -> None:
    cells = LEGACY_CELLS[4:] + LEGACY_CELLS[:4]
    ctx = context(cells, [model_record(rnn_module(), "rnn", "model", predictions(0.5))], LABELS)
    result = outcome(ctx, "bilstm_trained")
    assert result.fraction == 1 and "(2-layer bidirectional LSTM in the code)" in result.message
    assert "not re-measured: the model was overwritten" in result.message
    assert outcome(ctx, "param_count").message.startswith("`model`, built in cell 2 from class `RNN` (cell 1, "
                                                          "with an nn.LSTM), is gone")
    one_direction = [(cells[0][0].replace("bidirectional=bidirectional", "bidirectional=False"), "")] + cells[1:]
    assert "bidirectional=False" in outcome(context(one_direction, ctx.data().values.model_dump()["models"], LABELS),
                                            "bilstm_trained").message


def test_report_checks_count_the_epochs_they_report() -> None:
    cells = TUTORIAL_CELLS[:2] + [(TUTORIAL_CELLS[2][0], tutorial_epochs(LSTM_EPOCHS[:4]))] + TUTORIAL_CELLS[3:]
    result = outcome(context(cells, full_models(), LABELS), "bilstm_report")
    assert result.fraction == 0 and "shows 4 epochs (1–4)" in result.message and "asks for 5" in result.message


def gru_module(vocab: int = 25_002, hidden: int = 256) -> nn.Module:
    module = nn.Module()
    module.embedding, module.rnn = nn.Embedding(vocab, 100), nn.GRU(100, hidden, num_layers=2, bidirectional=True)
    module.fc = nn.Linear(2 * hidden, 1)
    return module


def test_a_gru_is_named_and_keeps_the_items_it_meets() -> None:
    gru = gru_module()
    count = sum(p.numel() for p in gru.parameters())
    cells = [(source, output.replace("4,810,857", f"{count:,}")) for source, output in TUTORIAL_CELLS]
    models = [full_models()[0], model_record(gru, "gru", "gru_model", predictions(0.86))]
    ctx = context(cells, models, LABELS)
    assert outcome(ctx, "bilstm_trained").message == (
        "`gru_model` holds a 2-layer bidirectional GRU, hidden size 256, not an LSTM: the item asks for a multi-layer "
        "bidirectional LSTM (its report and parameter count are graded as the advanced model's).")
    assert outcome(ctx, "bilstm_report").fraction == 1 and outcome(ctx, "param_count").fraction == 1
    assert "No advanced model" not in outcome(ctx, "bilstm_trained").message


# --------------------------------------------------------------------------- calling the tutorials' predict_sentiment


class Lengthless(nn.Module):
    """The legacy notebook 1 RNN: forward(text) only."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNN(4, 4)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        return text.float().mean()


def test_probe_calls_the_current_tutorial_signature_with_the_notebooks_objects() -> None:
    seen = []

    def predict_sentiment(text, model, tokenizer, vocab, device):
        seen.append((tokenizer, vocab, device))
        return (1, 0.8) if "good" in text else (0, 0.7)

    tokenizer, vocab = str.split, {"good": 2}
    namespace = {"m": rnn_module(20, 4), "predict_sentiment": predict_sentiment, "tokenizer": tokenizer,
                 "vocab": vocab, "device": torch.device("cpu"), "text": "This film is great!"}
    plan = {"function": "predict_sentiment", "texts": ["good", "bad"], "max_candidates": 3, "seconds_per_model": 60}
    for history in ([], ["text = 'a'\npredict_sentiment(text, model=m, tokenizer=tokenizer, vocab=vocab, device=device)"]):
        recorder = Recorder()
        imdb_kernel.probe({**namespace, "_ih": history}, plan, {}, recorder)
        model = imdb_schema.ProbeValues.model_validate(recorder.values).models[0]
        assert model.probabilities == [0.8, pytest.approx(0.3)] and model.failures == 0
        assert seen[-1] == (tokenizer, vocab, torch.device("cpu"))
    assert model.call == "predict_sentiment(review, model=model, tokenizer=tokenizer, vocab=vocab, device=device)"


def test_probe_leaves_out_the_lengths_a_basic_rnn_does_not_take() -> None:
    def predict_sentiment(model, sentence):
        return torch.sigmoid(model(torch.ones(3, 1), torch.tensor([3]))).item()

    recorder = Recorder()
    imdb_kernel.probe({"rnn": Lengthless(), "predict_sentiment": predict_sentiment,
                "_ih": ["predict_sentiment(rnn, 'This film is great')"]},
               {"function": "predict_sentiment", "texts": ["a", "b"], "max_candidates": 3, "seconds_per_model": 60},
               {}, recorder)
    model = imdb_schema.ProbeValues.model_validate(recorder.values).models[0]
    assert model.probabilities == [pytest.approx(0.731, abs=1e-3)] * 2 and model.failures == 0
    assert model.call == "predict_sentiment(model, review)" and "the lengths were left out" in model.adapted


@pytest.mark.parametrize(("returned", "expected"), [
    (0.25, 0.25), (torch.tensor([0.75]), 0.75), ((1, 0.9), 0.9), ((0, 0.9), pytest.approx(0.1)),
    ((torch.tensor(1), torch.tensor(0.6)), pytest.approx(0.6)), ([0.2, 0.8], 0.8), ("positive", 1.0)])
def test_what_predict_sentiment_may_return(returned: Any, expected: float) -> None:
    assert imdb_kernel.probability_of_positive(returned) == expected


def test_what_predict_sentiment_may_not_return() -> None:
    with pytest.raises(TypeError, match="not a probability or a \\(class, probability\\) pair"):
        imdb_kernel.probability_of_positive({"label": 1})


# --------------------------------------------------------------------------- the probe, in-process


def test_probe_finds_models_by_structure_and_scores_them() -> None:
    rnn, lstm, one_layer = rnn_module(50, 8), lstm_module(50, 8), lstm_module(50, 8, layers=1)
    calls = []

    def predict_sentiment(model: nn.Module, sentence: str) -> float:
        calls.append(sentence)
        return 0.9 if "good" in sentence else 0.1

    namespace = {"rnn_model": rnn, "best": lstm, "lstm_model": lstm, "small": one_layer, "layer": nn.LSTM(4, 4),
                 "_": lstm, "predict_sentiment": predict_sentiment, "text": "not a model"}
    recorder = Recorder()
    imdb_kernel.probe(namespace, {"function": "predict_sentiment", "texts": ["good", "bad", "good"],
                                  "max_candidates": 3, "seconds_per_model": 60}, {}, recorder)
    values = imdb_schema.ProbeValues.model_validate(recorder.values)
    assert [(m.kind, m.names) for m in values.models] == [
        ("rnn", ["rnn_model"]), ("bilstm", ["best", "lstm_model"]), ("lstm", ["small"])]
    assert values.models[1].probabilities == [0.9, 0.1, 0.9] and len([c for c in calls if isinstance(c, str)]) == 9
    assert values.models[1].recurrent[0].num_layers == 2 and not lstm.training


def test_probe_gives_up_on_a_predict_function_that_always_fails() -> None:
    def predict_sentiment(model: nn.Module, sentence: str) -> float:
        raise KeyError(sentence)

    recorder = Recorder()
    imdb_kernel.probe({"m": rnn_module(20, 4), "predict_sentiment": predict_sentiment},
               {"function": "predict_sentiment", "texts": [f"review {i}" for i in range(50)], "max_candidates": 3,
                "seconds_per_model": 60}, {}, recorder)
    model = imdb_schema.ProbeValues.model_validate(recorder.values).models[0]
    assert model.probabilities == [None] * 5 and model.failures == 5
    assert model.first_error.startswith("KeyError: 'review 0'") and "all failed" in model.stopped_early


# --------------------------------------------------------------------------- checks on hand-made measurements


def full_models(rnn_accuracy: float = 0.5, lstm_accuracy: float = 0.86) -> list[dict[str, Any]]:
    return [model_record(rnn_module(), "rnn", "rnn_model", predictions(rnn_accuracy)),
            model_record(lstm_module(), "bilstm", "lstm_model", predictions(lstm_accuracy))]


def test_every_check_passes_on_a_tutorial_run() -> None:
    ctx = context(TUTORIAL_CELLS, full_models(), LABELS, quick=False)
    for check_id in ("rnn_trained", "rnn_report", "bilstm_trained", "bilstm_report", "param_count", "summary"):
        assert outcome(ctx, check_id).fraction == 1.0, (check_id, outcome(ctx, check_id).message)
    assert "re-measured `lstm_model` at 86.0% on 400 held-back reviews" in outcome(ctx, "bilstm_report").message
    table = outcome(ctx, "summary").details["side_by_side"]
    assert table["Trainable parameters"] == "RNN 2,592,105  |  BiLSTM 4,810,857"
    assert table["Valid accuracy curve"] == "RNN ▂▂▂▂▂ 49.0% → 51.0%  |  BiLSTM ▅▆▆▆▇ 78.0% → 88.0%"
    assert table["Test accuracy, re-measured by the grader"] == "RNN 50.0% (n=400)  |  BiLSTM 86.0% (n=400)"


def test_full_mode_needs_80_percent() -> None:
    result = outcome(context(TUTORIAL_CELLS, full_models(lstm_accuracy=0.75), LABELS, quick=False), "bilstm_trained")
    assert result.fraction == 0 and result.message.endswith("scores 75.0% on 400 held-back reviews; it must reach 80.0%.")


def test_unreproduced_accuracy_is_flagged() -> None:
    cells = TUTORIAL_CELLS[:3] + [(TUTORIAL_CELLS[3][0], "Test Loss: 0.100 | Test Acc: 99.00%\n")]
    result = outcome(context(cells, full_models(), LABELS), "bilstm_report")
    assert result.fraction == 0 and result.details["flag"] == "printed test accuracy not reproduced"
    assert result.message.startswith("The printed test accuracy 99.0% is not reproduced: `lstm_model` scores 86.0%")


def test_missing_epoch_values_and_test_line_are_named() -> None:
    cells = [(TUTORIAL_CELLS[0][0], TUTORIAL_CELLS[0][1].replace("\t Val. Loss: 0.690 |  Val. Acc: 51.00%\n", "", 1))]
    result = outcome(context(cells, full_models(), LABELS), "rnn_report")
    assert result.message.startswith("The RNN's per-epoch report (cell 1 (printed output)) is incomplete: epoch 3 has no valid accuracy")
    result = outcome(context(TUTORIAL_CELLS[:1], full_models(), LABELS), "rnn_report")
    assert result.message.startswith("No test accuracy line")


def test_predict_sentiment_problems_are_explained() -> None:
    missing = outcome(context(TUTORIAL_CELLS, full_models(), LABELS, function_status="missing"), "bilstm_report")
    assert "the notebook does not define predict_sentiment" in missing.message
    logits = full_models()
    logits[1]["probabilities"] = [4.0 * (p - 0.5) for p in logits[1]["probabilities"]]
    result = outcome(context(TUTORIAL_CELLS, logits, LABELS), "bilstm_trained")
    assert "got 1.6, not a probability in [0, 1]: apply torch.sigmoid" in result.message


def test_models_that_are_missing_or_too_shallow() -> None:
    shallow = [model_record(lstm_module(layers=1), "lstm", "lstm_model", predictions(0.86))]
    result = outcome(context(TUTORIAL_CELLS, shallow, LABELS), "bilstm_trained")
    assert result.message == ("`lstm_model` holds an LSTM with num_layers=1 and bidirectional=True; the advanced model "
                              "needs a bidirectional LSTM with at least 2 layers.")
    assert outcome(context(TUTORIAL_CELLS, shallow, LABELS), "rnn_trained").message.startswith("No basic RNN was found")


def test_parameter_count_hints() -> None:
    frozen = full_models()
    for param in frozen[1]["params"]:
        param["trainable"] = not param["name"].startswith("embedding")
    result = outcome(context(TUTORIAL_CELLS, frozen, LABELS), "param_count")
    assert result.message == ("The notebook prints 4,810,857 trainable parameters, but `lstm_model` has 2,310,657: "
                              "the printed number includes 2,500,200 frozen (requires_grad=False) parameters.")
    no_count = [(source, output.replace("The model has 4,810,857 trainable parameters\n", ""))
                for source, output in TUTORIAL_CELLS]
    assert outcome(context(no_count[2:], full_models(), LABELS), "param_count").message.startswith(
        "No parameter count was found")


def test_counts_with_the_tutorial_sizes_layer_by_layer() -> None:
    assert imdb_checks.tutorial_count("rnn") == 2_592_105 and imdb_checks.tutorial_count("bilstm") == 4_810_857
    record = imdb_schema.ModelRecord.model_validate(model_record(lstm_module(), "bilstm", "m", []))
    assert imdb_checks.breakdown(record) == {
        "Embedding `embedding`": "25,002 × 100 = 2,500,200",
        "LSTM `rnn` layer 1, forward": "1,024 × 100 + 1,024 × 256 + 1,024 + 1,024 = 366,592",
        "LSTM `rnn` layer 1, backward": "1,024 × 100 + 1,024 × 256 + 1,024 + 1,024 = 366,592",
        "LSTM `rnn` layer 2, forward": "1,024 × 512 + 1,024 × 256 + 1,024 + 1,024 = 788,480",
        "LSTM `rnn` layer 2, backward": "1,024 × 512 + 1,024 × 256 + 1,024 + 1,024 = 788,480",
        "Linear `fc`": "1 × 512 + 1 = 513",
        "Total (trainable)": "4,810,857",
    }
    rnn = imdb_schema.ModelRecord.model_validate(model_record(rnn_module(), "rnn", "m", []))
    assert imdb_checks.breakdown(rnn)["RNN `rnn` layer 1, forward"] == "256 × 100 + 256 × 256 + 256 + 256 = 91,648"


def test_plan_draws_held_back_texts_and_keeps_the_labels(quick_cache: Path) -> None:
    params = imdb_plan.PlanParams.model_validate(RUBRIC.probe)
    plan = imdb_plan.make_plan(params, torch.Generator().manual_seed(1), quick=True)
    again = imdb_plan.make_plan(params, torch.Generator().manual_seed(1), quick=True)
    other = imdb_plan.make_plan(params, torch.Generator().manual_seed(2), quick=True)
    assert len(plan.spec["texts"]) == RUBRIC.probe["sample"]["quick"] == len(plan.labels)
    assert plan.spec["texts"] == again.spec["texts"] and plan.spec["texts"] != other.spec["texts"]
    assert "labels" not in plan.spec and set(plan.labels) == {0, 1}


# --------------------------------------------------------------------------- the reference, end to end (quick mode)
# Every fixture notebook's band and diagnosis is in tests/fixtures/verdicts/imdb.yaml (tests/test_verdicts.py).


@pytest.fixture(scope="module")
def quick_cache() -> Iterator[Path]:
    # Outside /tmp: the kernel sandbox mounts a private scratch folder over /tmp.
    cache = Path(tempfile.mkdtemp(prefix="grader-imdb-test-", dir="/var/tmp"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADER_CACHE", str(cache))
        data.prepare({"imdb", "glove"}, quick=True)
        yield cache
    shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture(scope="module")
def reference(quick_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> GradeResult:
    out = tmp_path_factory.mktemp("imdb-reports")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADER_CACHE", str(quick_cache))
        # One thread per kernel: on a shared 2-core runner, two OpenMP threads spin against other processes
        # and the same notebook takes anywhere from 15 s to several minutes.
        patch.setenv("OMP_NUM_THREADS", "1")
        return grade_notebook(ROOT / "reference" / "imdb.ipynb", RUBRIC, out, student="reference")


@pytest.mark.slow
def test_reference_scores_full_marks(reference: GradeResult) -> None:
    assert (reference.status, reference.score) == ("graded", 10), [(c.id, c.message) for c in reference.checks]
    verdict = message(reference, "bilstm_trained")
    assert "`lstm_model` (2-layer bidirectional LSTM, hidden size 256) scores" in verdict
    assert "the bar is 75.0% in quick mode (the reference notebook's 85.0%" in verdict


@pytest.mark.slow
def test_reference_is_near_its_recorded_quick_accuracy(reference: GradeResult) -> None:
    """The rubric's quick_reference_accuracy must stay what the reference actually scores on the quick data."""
    params = next(spec for spec in RUBRIC.checks if spec.id == "bilstm_trained").params
    details = next(c for c in reference.checks if c.id == "bilstm_report").details
    measured = float(details["re_measured"].split("%")[0]) / 100
    assert abs(measured - params["quick_reference_accuracy"]) <= 0.05
