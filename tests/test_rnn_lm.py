"""RNN language model: the cell search and the corpus (in process), and every fixture through the whole pipeline."""

import pytest
import torch
import torch.nn as nn

from conftest import ROOT, grade_fixtures, grade_notebook, message, points, repo_rubric
from grader.exercises import rnn_lm

I, H = 4, 6


def cell_search(module: nn.Module, forward) -> tuple:
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
        x, h = torch.randn(12, I, generator=generator), torch.rand(12, H, generator=generator) * 2 - 1
        output = forward(x, h)
    return rnn_lm.rnn_cell_search([(n, p.detach()) for n, p in module.named_parameters()], I, H, x, h, output)


def test_cell_search_reads_the_slides_layout():
    params = nn.ParameterDict({"W_xh": nn.Parameter(torch.zeros(I, H)), "W_hh": nn.Parameter(torch.zeros(H, H)),
                               "b_h": nn.Parameter(torch.zeros(H))})
    activation, why, roles = cell_search(params, lambda x, h: torch.tanh(h @ params["W_hh"] + x @ params["W_xh"]
                                                                         + params["b_h"]))
    assert (activation, why) == ("tanh", "") and roles["W_hh"] == "W_hh"


def test_cell_search_reads_nn_rnncell_and_a_concatenated_linear():
    builtin = nn.RNNCell(I, H)
    assert cell_search(builtin, builtin)[0] == "tanh"
    linear = nn.Linear(H + I, H)
    assert cell_search(linear, lambda x, h: torch.tanh(linear(torch.cat([h, x], 1))))[0] == "tanh"


def test_cell_search_names_the_wrong_activation_and_wrong_cells():
    builtin = nn.RNNCell(I, H, nonlinearity="relu")
    assert cell_search(builtin, builtin)[0] == "relu"
    activation, why, _ = cell_search(nn.RNNCell(I, H), lambda x, h: torch.tanh(x.sum(1, keepdim=True) + h))
    assert activation is None and "not tanh(W_xh·input + W_hh·hidden + b)" in why


def test_corpus_has_one_frequency_order_and_follows_the_seed():
    documents = rnn_lm._corpus(torch.Generator().manual_seed(1))
    words = " ".join(documents).split(" ")
    assert len(documents) == rnn_lm.DOCUMENTS and all(doc and "  " not in doc for doc in documents)
    assert sorted(words.count(w) for w in set(words)) == sorted(rnn_lm.CORPUS_COUNTS)
    assert documents == rnn_lm._corpus(torch.Generator().manual_seed(1))
    assert documents != rnn_lm._corpus(torch.Generator().manual_seed(2))


def test_rubric_text_is_a_few_hundred_words():
    rubric = repo_rubric("rnn_lm")
    words = rnn_lm.text_words(rubric.probe["learn"]["text"])
    assert 250 <= len(words) <= 400 and "" not in words


# --------------------------------------------------------------------------- every fixture, through the pipeline

FULL = {"from_scratch": 10, "cell": 20, "rnn": 15, "dataset": 15, "model": 10, "learns": 20, "predict": 10}
EXPECTED = {
    "rnn_lm_correct_slides": FULL,
    "rnn_lm_concat_cell": FULL,
    "rnn_lm_linear_cell": FULL,
    "rnn_lm_off_by_one": {**FULL, "dataset": 11.25},
    "rnn_lm_no_step": {**FULL, "learns": 0},
    "rnn_lm_sloppy": {**FULL, "cell": 0, "rnn": 0, "model": 5, "predict": 3.33},
    "rnn_lm_builtin_cell": {**FULL, "from_scratch": 0, "cell": 0, "rnn": 0},
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return grade_fixtures(list(EXPECTED), repo_rubric("rnn_lm"), tmp_path_factory.mktemp("rnn_lm"))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPECTED))
def test_fixture_scores(graded, name):
    result = graded[name]
    assert result.status == "graded", result.message
    assert points(result) == EXPECTED[name]


@pytest.mark.slow
def test_reference_scores_full_and_drops_the_loss_well_past_the_margin(tmp_path):
    result = grade_notebook(ROOT / "reference" / "rnn_lm.ipynb", repo_rubric("rnn_lm"), tmp_path)
    assert (result.status, result.score) == ("graded", 100)
    learns = next(check for check in result.checks if check.id == "learns")
    assert learns.details["loss_before"] - learns.details["loss_after"] > 2.5


@pytest.mark.slow
def test_mistakes_are_named(graded):
    assert "The Dataset has 25 items, expected 26" in message(graded["rnn_lm_off_by_one"], "dataset")
    assert "does train() call optimizer.step()?" in message(graded["rnn_lm_no_step"], "learns")
    sloppy = graded["rnn_lm_sloppy"]
    assert "computes sigmoid(W_xh·input + W_hh·hidden + b)" in message(sloppy, "cell")
    assert "last_hidden is not outputs[:, -1]" in message(sloppy, "rnn")
    assert "it must return (logits, state)" in message(sloppy, "model")
    assert "does not start with the prompt's words" in message(sloppy, "predict")
    assert "nn.RNNCell(n_inputs, n_hidden" in message(graded["rnn_lm_builtin_cell"], "from_scratch")
