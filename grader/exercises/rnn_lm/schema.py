"""RNN language model: what crosses from the kernel into the grader, validated before any check reads it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from grader.probe import ParamInfo


class CellRun(BaseModel):
    config: list[int]
    constructed: bool = False
    params: list[ParamInfo] = []
    output_kind: str = ""
    calls: list[str] = []


CellArgument = Literal["", "instance", "class"]


class RNNRun(BaseModel):
    config: list[int]
    constructed: bool = False
    cell_argument: CellArgument = ""     # what RNN(n_inputs, n_hiddens, cell) accepted as its cell
    cell_found: bool = False             # an instance of the student's cell class lives inside the RNN
    output_kind: str = ""
    outputs_shape: list[int] | None = None
    last_shape: list[int] | None = None
    calls: list[str] = []


class DatasetRun(BaseModel):
    constructed: bool = False
    length: int | None = None
    uniq_words: list[str] | None = None
    word_to_index: dict[str, int] | None = None
    index_to_word: list[tuple[int, str]] | None = None
    words: list[str] | None = None      # its own word list: an attribute holding the documents' words in order
    items: list[int] = []
    last_item_sizes: list[int] | None = None   # [len(x), len(y)] of dataset[len(dataset) - 1]


class ModelRun(BaseModel):
    constructed: bool = False
    vocab: dict[str, int] | None = None
    vocab_size: int | None = None
    state_kind: str = ""
    state_shape: list[int] | None = None
    output_kind: str = ""
    logits_shape: list[int] | None = None
    returned_state_shape: list[int] | None = None
    vocabulary: list[str] | None = None          # the learning Dataset's uniq_words
    dataset_length: int | None = None
    batch_size: int | None = None                # the batch size train() was called with
    trained: bool = False
    train_seconds: float | None = None
    parameter_count: int = 0
    parameters_with_gradient: int | None = None  # how many of the model's parameters a gradient reached in train()
    parameters_changed: bool | None = None
    partial_batch_size: int | None = None        # a batch size that leaves a smaller last batch, tried for 1 epoch
    partial_batch_ok: bool | None = None
    prediction: list[str] | None = None
    prediction_kind: str = ""


Status = Literal["missing", "not_a_class", "not_a_module", "ok"]


class ProbeValues(BaseModel):
    status: dict[str, Status | Literal["not_a_function", "function"]] = {}
    kinds: dict[str, str] = {}
    cells: list[CellRun] = []
    rnns: list[RNNRun] = []
    dataset: DatasetRun = DatasetRun()
    model: ModelRun = ModelRun()
