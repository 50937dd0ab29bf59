"""RNN language model, grader side: the probe's inputs, chosen at grade time from the secret seed."""

from __future__ import annotations

from typing import Any

import torch

from grader.checks.recurrent import recurrent_inputs
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


def make_plan(params: dict[str, Any], generator: torch.Generator, quick: bool) -> ProbePlan:
    """Cell and RNN inputs, a corpus for the Dataset, and the windows of the rubric's text the loss is measured on."""
    learn = params["learn"]
    words = text_words(learn["text"])
    windows = torch.randperm(len(words) - learn["sequence_length"], generator=generator)[:learn["eval_windows"]]
    spec = {
        "names": params["names"],
        "configs": params["configs"],
        "dataset": {"sequence_length": params["dataset_sequence_length"], "documents": _corpus(generator)},
        "learn": {**{k: v for k, v in learn.items() if k != "text"}, "documents": lines(learn["text"]),
                  "starts": sorted(windows.tolist())},
        "predict": params["predict"],
        "seed": int(torch.randint(0, 2**31 - 1, (1,), generator=generator)),
    }
    inputs: dict[str, torch.Tensor] = {}
    for index, (batch, time, size_in, hidden) in enumerate(spec["configs"]):
        inputs.update(recurrent_inputs(f"configs/{index}", batch, time, size_in, hidden, generator))
    return ProbePlan(spec=spec, inputs=inputs)
