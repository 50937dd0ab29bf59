"""RNN language model: the cell search, the corpus and the probe's kernel side (in process), and the reference through
the whole pipeline; every other notebook's verdict is in tests/fixtures/verdicts/rnn_lm.yaml (test_verdicts.py)."""

from collections import Counter

import nbformat
import pytest
import torch
import torch.nn as nn

from conftest import ROOT, grade_notebook, repo_rubric
from grader.exercises.rnn_lm import (checks as rnn_lm_checks, kernel as rnn_lm_kernel,
                                     plan as rnn_lm_plan, schema as rnn_lm_schema)
from grader.probe import ProbeData
from grader.kernel.runtime import Recorder

I, H = 4, 6


def cell_search(module: nn.Module, forward) -> tuple:
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
        x, h = torch.randn(12, I, generator=generator), torch.rand(12, H, generator=generator) * 2 - 1
        output = forward(x, h)
    return rnn_lm_checks.rnn_cell_search([(n, p.detach()) for n, p in module.named_parameters()], I, H, x, h, output)


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
    documents = rnn_lm_plan._corpus(torch.Generator().manual_seed(1))
    words = " ".join(documents).split(" ")
    assert len(documents) == rnn_lm_plan.DOCUMENTS and all(doc and "  " not in doc for doc in documents)
    assert sorted(words.count(w) for w in set(words)) == sorted(rnn_lm_plan.CORPUS_COUNTS)
    assert documents == rnn_lm_plan._corpus(torch.Generator().manual_seed(1))
    assert documents != rnn_lm_plan._corpus(torch.Generator().manual_seed(2))


def test_rubric_text_is_a_few_hundred_words():
    rubric = repo_rubric("rnn_lm")
    words = rnn_lm_plan.text_words(rubric.probe["learn"]["text"])
    assert 250 <= len(words) <= 400 and "" not in words


# --------------------------------------------------------------------------- the probe's kernel side, in process

class SlidesDataset(torch.utils.data.Dataset):
    """The slides' Dataset: `text += doc + " "` leaves a trailing '' among its words."""

    def __init__(self, sequence_length, documents):
        self.sequence_length = sequence_length
        text = ""
        for doc in documents:
            text += doc + " "
        self.words = text.split(" ")
        counts = Counter(self.words)
        self.uniq_words = sorted(counts, key=counts.get, reverse=True)
        self.index_to_word = dict(enumerate(self.uniq_words))
        self.word_to_index = {word: index for index, word in enumerate(self.uniq_words)}
        self.words_indexes = [self.word_to_index[w] for w in self.words]

    def __len__(self):
        return len(self.words_indexes) - self.sequence_length

    def __getitem__(self, index):
        return (torch.tensor(self.words_indexes[index:index + self.sequence_length]),
                torch.tensor(self.words_indexes[index + 1:index + self.sequence_length + 1]))


class LongDataset(SlidesDataset):
    def __len__(self):
        return len(self.words_indexes) - self.sequence_length + 1


def dataset_findings(cls: type) -> tuple[dict, rnn_lm_schema.DatasetRun]:
    spec = {"sequence_length": 3, "documents": rnn_lm_plan._corpus(torch.Generator().manual_seed(4))}
    recorder = Recorder()
    run = rnn_lm_schema.DatasetRun(**rnn_lm_kernel._probe_dataset(cls, spec, recorder))
    data = ProbeData(values=None, errors=recorder.errors, tensors=recorder.tensors)
    return rnn_lm_checks._dataset_findings(spec, run, data), run


def test_the_slides_dataset_is_judged_against_its_own_words_trailing_empty_word_included():
    found, run = dataset_findings(SlidesDataset)
    assert found == {"length": None, "vocabulary": None, "indices": None, "items": None}
    assert run.words[-1] == "" and run.words.count("") == 1


def test_a_dataset_one_window_too_long_names_its_short_last_item():
    found, _ = dataset_findings(LongDataset)
    assert "has 28 items, expected 27 = 30 words" in found["length"]
    assert "holds 3 input and 2 target words instead of 3" in found["length"]
    assert [key for key, why in found.items() if why] == ["length"]


class Cell(nn.Module):
    def __init__(self, n_inputs, n_hidden):
        super().__init__()
        self.x, self.h = nn.Linear(n_inputs, n_hidden), nn.Linear(n_hidden, n_hidden, bias=False)

    def forward(self, input, hidden):
        return torch.tanh(self.x(input) + self.h(hidden))


class RNNFromClass(nn.Module):
    """The slides' RNN: it builds its cell from the class it is given."""

    def __init__(self, n_inputs, n_hiddens, cell):
        super().__init__()
        self.cell = cell(n_inputs, n_hiddens)

    def forward(self, inputs, hidden):
        outputs = []
        for step in range(inputs.shape[1]):
            hidden = self.cell(inputs[:, step], hidden)
            outputs.append(hidden)
        return torch.stack(outputs, dim=1), hidden


class RNNFromInstance(RNNFromClass):
    def __init__(self, n_inputs, n_hiddens, cell):
        nn.Module.__init__(self)
        self.cell = cell


@pytest.mark.parametrize(("rnn_class", "taken"), [(RNNFromClass, "class"), (RNNFromInstance, "instance")])
def test_rnn_takes_a_cell_class_or_instance_and_is_compared_with_the_cell_inside_it(rnn_class, taken):
    inputs = rnn_lm_plan.recurrent_inputs("k", 3, 5, 4, 6, torch.Generator().manual_seed(0))
    recorder = Recorder()
    run = rnn_lm_schema.RNNRun(**rnn_lm_kernel._probe_rnn(Cell, rnn_class, "k", [3, 5, 4, 6], 7, inputs, recorder))
    assert (run.cell_argument, run.cell_found) == (taken, True)
    data = ProbeData(values=None, errors=recorder.errors, tensors=recorder.tensors)
    assert rnn_lm_checks._rnn_problem(data, run, "k/rnn", "RNNCell") is None


def test_an_rnn_that_takes_neither_says_what_each_attempt_raised():
    class Broken(nn.Module):
        def __init__(self, n_inputs, n_hiddens, cell):
            raise TypeError("no cell for me")

    inputs = rnn_lm_plan.recurrent_inputs("k", 3, 5, 4, 6, torch.Generator().manual_seed(0))
    recorder = Recorder()
    run = rnn_lm_schema.RNNRun(**rnn_lm_kernel._probe_rnn(Cell, Broken, "k", [3, 5, 4, 6], 7, inputs, recorder))
    data = ProbeData(values=None, errors=recorder.errors, tensors=recorder.tensors)
    why = rnn_lm_checks._rnn_problem(data, run, "k/rnn", "RNNCell")
    assert "when given an instance of RNNCell as its cell (TypeError: no cell for me" in why
    assert "nor when given the class RNNCell itself (TypeError: no cell for me" in why


def test_training_batch_splits_the_dataset_evenly_and_the_partial_one_does_not():
    assert rnn_lm_kernel.training_batch(320, 16) == 16
    assert rnn_lm_kernel.training_batch(319, 16) == 11
    assert rnn_lm_kernel.training_batch(317, 16) == 16          # a prime: no even split, the rubric's batch
    assert rnn_lm_kernel.training_batch(None, 16) == 16
    assert 320 % rnn_lm_kernel.partial_batch(320, 16) and rnn_lm_kernel.partial_batch(None, 16) is None


def test_the_learning_text_fits_the_slides_loop():
    """The slides' Dataset adds a trailing '' word; its items then fill every batch of the rubric's size."""
    learn = repo_rubric("rnn_lm").probe["learn"]
    items = len(SlidesDataset(learn["sequence_length"], rnn_lm_plan.lines(learn["text"])))
    assert items % learn["batch_size"] == 0


@pytest.mark.slow
def test_reference_scores_full_and_drops_the_loss_well_past_the_margin(tmp_path):
    result = grade_notebook(ROOT / "reference" / "rnn_lm.ipynb", repo_rubric("rnn_lm"), tmp_path)
    assert (result.status, result.score) == ("graded", 100)
    learns = next(check for check in result.checks if check.id == "learns")
    assert learns.details["loss_before"] - learns.details["loss_after"] > 2.5


@pytest.mark.slow
def test_the_kernel_runs_torch_on_the_rubrics_thread_count(tmp_path):
    """threads: 1 in the rubric; a tiny model on two threads of a busy 2-core machine spins (383 s instead of 13 s)."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import torch\nprint(torch.get_num_threads())")])
    path = tmp_path / "rnn_lm.ipynb"
    nbformat.write(notebook, path)
    result = grade_notebook(path, repo_rubric("rnn_lm"), tmp_path / "out")
    assert repo_rubric("rnn_lm").threads == 1
    assert result.execution.cells[0].stdout.strip() == "1"
