"""RNN language model, grader side: the probe's inputs, chosen at grade time from the secret seed."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field

from grader.checks.recurrent import recurrent_inputs
from grader.exercise import Params
from grader.probe import ProbePlan


CORPUS_WORDS = ("apel", "buku", "cabai", "daun", "ember", "garam", "ikan", "jeruk", "kopi", "lampu")
CORPUS_COUNTS = (8, 6, 5, 4, 3, 2, 1)   # distinct, so 'sorted by frequency' has exactly one answer
DOCUMENTS = 3


def _corpus(generator: torch.Generator) -> list[str]:
    """A few documents over a small vocabulary whose word counts all differ, shuffled by the grader's seed."""
    order = torch.randperm(len(CORPUS_WORDS), generator=generator).tolist()
    tokens = [CORPUS_WORDS[order[i]] for i, count in enumerate(CORPUS_COUNTS) for _ in range(count)]
    tokens = [tokens[i] for i in torch.randperm(len(tokens), generator=generator).tolist()]
    cuts = sorted(torch.randperm(len(tokens) - 1, generator=generator)[:DOCUMENTS - 1].add(1).tolist())
    bounds = [0, *cuts, len(tokens)]
    return [" ".join(tokens[start:end]) for start, end in zip(bounds, bounds[1:])]


def text_words(text: str) -> list[str]:
    """The rubric's text as the Dataset contract sees it: its lines joined with spaces, split on ' '."""
    return " ".join(lines(text)).split(" ")


def lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


class Names(Params):
    """What the notebook calls each piece (the slides' names by default)."""

    cell: str = "RNNCell"
    rnn: str = "RNN"
    dataset: str = "Dataset"
    model: str = "Model"
    train: str = "train"
    predict: str = "predict"


class Learn(Params):
    """How the grader trains the student's Model with their own train(), and the text it learns."""

    sequence_length: int = Field(gt=0)
    batch_size: int = Field(gt=0)
    max_epochs: int = Field(gt=0)
    eval_windows: int = Field(gt=0)
    text: str = Field(min_length=1)


class Predict(Params):
    prompt: str
    next_words: int = Field(gt=0)


class PlanParams(Params):
    """The rubric's `probe:` section."""

    names: Names = Names()
    configs: list[Annotated[list[int], Field(min_length=4, max_length=4)]] = Field(
        min_length=1, description="batch, time, input, hidden")
    dataset_sequence_length: int = Field(gt=0)
    learn: Learn
    predict: Predict


def make_plan(params: PlanParams, generator: torch.Generator, quick: bool) -> ProbePlan:
    """Cell and RNN inputs, a corpus for the Dataset, and the windows of the rubric's text the loss is measured on."""
    learn = params.learn
    words = text_words(learn.text)
    windows = torch.randperm(len(words) - learn.sequence_length, generator=generator)[:learn.eval_windows]
    spec = {
        "names": params.names.model_dump(),
        "configs": params.configs,
        "dataset": {"sequence_length": params.dataset_sequence_length, "documents": _corpus(generator)},
        "learn": {**learn.model_dump(exclude={"text"}), "documents": lines(learn.text),
                  "starts": sorted(windows.tolist())},
        "predict": params.predict.model_dump(),
        "seed": int(torch.randint(0, 2**31 - 1, (1,), generator=generator)),
    }
    inputs: dict[str, torch.Tensor] = {}
    for index, (batch, time, size_in, hidden) in enumerate(spec["configs"]):
        inputs.update(recurrent_inputs(f"configs/{index}", batch, time, size_in, hidden, generator))
    return ProbePlan(spec=spec, inputs=inputs)
