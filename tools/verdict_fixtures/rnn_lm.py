"""RNN language model verdict fixtures: the slides' code verbatim, d2l's RNN adapted, and the ways students write."""

from __future__ import annotations

from make_notebooks import code, md

from verdict_fixtures import Fixture
from verdict_fixtures.conv1d import SLIDES_LINEAR

SLIDES = "lecture slides 001_9b0944bad4020cdf.txt"

# The slides' import cell; the Linear layer they define for Conv1D (no bias), which RNNCell and Model use, is
# the conv1d fixtures' SLIDES_LINEAR.
SLIDES_IMPORTS = """\
import torch
import pandas as pd
import numpy as np

from collections import Counter
from torch import nn, optim
from torch.utils.data import DataLoader"""

SLIDES_CELL = """\
class RNNCell(nn.Module):
    def __init__(self, n_inputs, n_hidden):
        super().__init__()
        self.h = Linear(n_hidden, n_hidden)
        self.x = Linear(n_inputs, n_hidden)

    def forward(self, input, hidden):
        return torch.tanh(self.h(hidden) + self.x(input))"""

SLIDES_RNN = '''\
class RNN(nn.Module):
    def __init__(self, n_inputs, n_hiddens, cell):
        super().__init__()
        self.n_inputs = n_inputs
        self.n_hiddens = n_hiddens
        self.cell = cell(n_inputs, n_hiddens)

    def forward(self, inputs, prev_hidden_state):
        """ inputs: [batch_size, sequence_length, embedding_size] """
        outputs = []
        hidden_state = prev_hidden_state
        n_steps = inputs.shape[1]
        for i in range(n_steps):
            hidden_state = self.cell(inputs[:, i], hidden_state)
            outputs.append(hidden_state)

        return torch.stack(outputs, dim=1), hidden_state'''

SLIDES_DATASET = """\
class Dataset(torch.utils.data.Dataset):
    def __init__(
        self,
        sequence_length,
        documents, # list of strings
    ):
        self.sequence_length = sequence_length
        self.words = self.load_words(documents)
        self.uniq_words = self.get_uniq_words()

        self.index_to_word = {index: word for index, word in enumerate(self.uniq_words)}
        self.word_to_index = {word: index for index, word in enumerate(self.uniq_words)}

        self.words_indexes = [self.word_to_index[w] for w in self.words]

    def load_words(self, documents):
        text = ""
        for doc in documents:
            text += doc + " "
        return text.split(' ')

    def get_uniq_words(self):
        word_counts = Counter(self.words)
        return sorted(word_counts, key=word_counts.get, reverse=True)

    def __len__(self):
        return len(self.words_indexes) - self.sequence_length

    def __getitem__(self, index):
        return (
            torch.tensor(self.words_indexes[index:index+self.sequence_length]),
            torch.tensor(self.words_indexes[index+1:index+self.sequence_length+1]),
        )"""

SLIDES_MODEL = """\
class Model(nn.Module):
    def __init__(self, dataset):
        super(Model, self).__init__()
        self.rnn_size = 16
        self.embedding_dim = 16
        self.n_vocab = len(dataset.uniq_words)

        self.embedding = nn.Embedding(
            num_embeddings=self.n_vocab,
            embedding_dim=self.embedding_dim
        )
        self.rnn = RNN(
            n_inputs=self.embedding_dim,
            n_hiddens=self.rnn_size,
            cell=RNNCell
        )
        self.fc = Linear(self.rnn_size, self.n_vocab)

    def forward(self, x, prev_state):
        embed = self.embedding(x)
        output, state = self.rnn(embed, prev_state)
        logits = self.fc(output)
        return logits, state

    def init_state(self, batch_size):
        return torch.zeros(batch_size, self.rnn_size)"""

SLIDES_TRAIN = """\
def train(dataset, model, batch_size, max_epochs=400):
    model.train()

    dataloader = DataLoader(dataset, batch_size=batch_size)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.001)

    for epoch in range(max_epochs):
        h_state = model.init_state(batch_size) #hidden state awal, NOL

        for batch, (x, y) in enumerate(dataloader):
            y_pred, h_state = model(x, h_state)
            loss = criterion(y_pred.transpose(1, 2), y)

            loss.backward()
            optimizer.step()

            #h_state detached from current graph; tapi isi tetap sama agar berlanjut
            #graph batch sekarang jangan nyambung dengan batch berikutnya; tetapi nilai
            #h_state harus berlanjut dari satu batch ke batch berikutnya. Caranya adalah
            #dengan detach() ini. ---> keberlanjutan state ini disebut "statefull"
            h_state = h_state.detach()

        optimizer.zero_grad()"""

SLIDES_PREDICT = """\
def predict(dataset, model, text, next_words=20):
    model.eval()

    words = text.split(' ')
    h_state = model.init_state(len(words))

    for i in range(0, next_words):
        x = torch.tensor([[dataset.word_to_index[w] for w in words[i:]]])
        y_pred, h_state = model(x, h_state)

        last_word_logits = y_pred[0][-1]
        p = torch.nn.functional.softmax(last_word_logits, dim=0).detach().numpy()

        # random choice
        #word_index = np.random.choice(len(last_word_logits), p=p)

        # the best one
        word_index = np.argmax(p)

        words.append(dataset.index_to_word[word_index])

    return words"""

SLIDES_RUN = """\
documents = ["saya pergi ke depok",
             "di depok makan sayuran",
             "dan buah nangka yang segar",
             "angin bertiup kencang",
             "tanda hujan akan turun di jalan margonda"]

# make a dataset
dataset = Dataset(2, documents)

# the model
model = Model(dataset)

# train
train(dataset, model, 2)

# try prompt the model with "saya pergi"
print(predict(dataset, model, "saya pergi", next_words=20))"""


# The slides' closing cell with fewer epochs: what a student runs while working on one part.
STUDENT_RUN = SLIDES_RUN.replace("train(dataset, model, 2)", "train(dataset, model, 2, 20)")


def slides_notebook(title: str, **replace: str) -> tuple[tuple[str, str], ...]:
    """The slides' cells in their order, some replaced by a student's version; the run cell trains 20 epochs unless
    replaced."""
    parts = {"imports": SLIDES_IMPORTS, "linear": SLIDES_LINEAR, "cell": SLIDES_CELL, "rnn": SLIDES_RNN,
             "dataset": SLIDES_DATASET, "model": SLIDES_MODEL, "train": SLIDES_TRAIN, "predict": SLIDES_PREDICT,
             "run": STUDENT_RUN, **replace}
    return (md(f"# RNN language model\n\n{title}"), *(code(source) for source in parts.values() if source))


# --------------------------------------------------------------------------- d2l, adapted minimally

# d2l-ai/d2l-en, chapter_recurrent-neural-networks/rnn-scratch.md (PyTorch tab): RNNScratch's parameters and the
# body of its time loop become the cell; the loop becomes RNN (batch-first, outputs stacked on dim 1);
# RNNLMScratch becomes Model (one-hot inputs, W_hq/b_q output layer) returning (logits, state);
# d2l's Trainer (SGD lr=1, clip_gradients at 1, cross-entropy over the flattened steps) becomes train(); its predict
# (warm-up over the prefix, then argmax) works on words. The Dataset is the slides'.
D2L_IMPORTS = """\
from collections import Counter

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader"""

D2L_CELL = """\
class RNNCell(nn.Module):
    \"\"\"The RNN model implemented from scratch.\"\"\"
    def __init__(self, num_inputs, num_hiddens, sigma=0.01):
        super().__init__()
        self.num_inputs, self.num_hiddens, self.sigma = num_inputs, num_hiddens, sigma
        self.W_xh = nn.Parameter(
            torch.randn(num_inputs, num_hiddens) * sigma)
        self.W_hh = nn.Parameter(
            torch.randn(num_hiddens, num_hiddens) * sigma)
        self.b_h = nn.Parameter(torch.zeros(num_hiddens))

    def forward(self, X, state):
        return torch.tanh(torch.matmul(X, self.W_xh) +
                          torch.matmul(state, self.W_hh) + self.b_h)"""

D2L_RNN = """\
class RNN(nn.Module):
    def __init__(self, num_inputs, num_hiddens, cell):
        super().__init__()
        self.num_inputs, self.num_hiddens = num_inputs, num_hiddens
        self.cell = cell

    def forward(self, inputs, state):
        outputs = []
        for X in inputs.transpose(0, 1):  # Shape of inputs: (batch_size, num_steps, num_inputs)
            state = self.cell(X, state)
            outputs.append(state)
        return torch.stack(outputs, 1), state"""

D2L_MODEL = """\
class Model(nn.Module):
    def __init__(self, dataset, num_hiddens=32, sigma=0.01):
        super().__init__()
        self.vocab_size = len(dataset.uniq_words)
        self.rnn = RNN(self.vocab_size, num_hiddens, RNNCell(self.vocab_size, num_hiddens, sigma))
        self.W_hq = nn.Parameter(
            torch.randn(self.rnn.num_hiddens, self.vocab_size) * sigma)
        self.b_q = nn.Parameter(torch.zeros(self.vocab_size))

    def one_hot(self, X):
        # Output shape: (batch_size, num_steps, vocab_size)
        return F.one_hot(X, self.vocab_size).type(torch.float32)

    def output_layer(self, rnn_outputs):
        outputs = [torch.matmul(H, self.W_hq) + self.b_q for H in rnn_outputs.unbind(1)]
        return torch.stack(outputs, 1)

    def forward(self, X, state):
        embs = self.one_hot(X)
        rnn_outputs, state = self.rnn(embs, state)
        return self.output_layer(rnn_outputs), state

    def init_state(self, batch_size):
        return torch.zeros(batch_size, self.rnn.num_hiddens)"""

D2L_TRAIN = """\
def clip_gradients(grad_clip_val, model):
    params = [p for p in model.parameters() if p.requires_grad]
    norm = torch.sqrt(sum(torch.sum((p.grad ** 2)) for p in params))
    if norm > grad_clip_val:
        for param in params:
            param.grad[:] *= grad_clip_val / norm

def train(dataset, model, batch_size, max_epochs, lr=1, gradient_clip_val=1):
    optim = torch.optim.SGD(model.parameters(), lr=lr)
    train_dataloader = DataLoader(dataset, batch_size=batch_size, shuffle=True)
    for epoch in range(max_epochs):
        model.train()
        for X, Y in train_dataloader:
            Y_hat, _ = model(X, model.init_state(X.shape[0]))
            loss = F.cross_entropy(Y_hat.reshape(-1, Y_hat.shape[-1]), Y.reshape(-1))
            optim.zero_grad()
            with torch.no_grad():
                loss.backward()
                if gradient_clip_val > 0:
                    clip_gradients(gradient_clip_val, model)
                optim.step()"""

D2L_PREDICT = """\
def predict(dataset, model, text, next_words=20):
    prefix = text.split(' ')
    state, outputs = model.init_state(1), [dataset.word_to_index[prefix[0]]]
    for i in range(len(prefix) + next_words - 1):
        X = torch.tensor([[outputs[-1]]])
        Y, state = model(X, state)
        if i < len(prefix) - 1:  # Warm-up period
            outputs.append(dataset.word_to_index[prefix[i + 1]])
        else:  # Predict `next_words` steps
            outputs.append(int(Y.argmax(axis=2).reshape(1)))
    return [dataset.index_to_word[i] for i in outputs]"""

D2L_RUN = """\
documents = ["saya pergi ke depok",
             "di depok makan sayuran",
             "dan buah nangka yang segar",
             "angin bertiup kencang",
             "tanda hujan akan turun di jalan margonda"]
dataset = Dataset(2, documents)
model = Model(dataset)
train(dataset, model, 2, 50)
print(predict(dataset, model, "saya pergi", 10))"""

# --------------------------------------------------------------------------- student variants

# RNN.forward(inputs, h0=None): zeros when no state is given; the student's train and predict rely on it.
H0_NONE_RNN = """\
class RNN(nn.Module):
    def __init__(self, n_inputs, n_hiddens, cell):
        super().__init__()
        self.n_hiddens = n_hiddens
        self.cell = cell(n_inputs, n_hiddens)

    def forward(self, inputs, h0=None):
        batch, steps, _ = inputs.shape
        h = torch.zeros(batch, self.n_hiddens) if h0 is None else h0
        outputs = []
        for t in range(steps):
            h = self.cell(inputs[:, t, :], h)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h"""

H0_NONE_MODEL = SLIDES_MODEL.replace("def forward(self, x, prev_state):", "def forward(self, x, prev_state=None):")

H0_NONE_TRAIN = """\
def train(dataset, model, batch_size, max_epochs=400):
    model.train()
    dataloader = DataLoader(dataset, batch_size=batch_size, shuffle=True)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(max_epochs):
        for x, y in dataloader:
            optimizer.zero_grad()
            y_pred, _ = model(x)          # the RNN starts from zeros by itself
            loss = criterion(y_pred.transpose(1, 2), y)
            loss.backward()
            optimizer.step()"""

H0_NONE_PREDICT = """\
def predict(dataset, model, text, next_words=20):
    model.eval()
    words = text.split(' ')
    with torch.no_grad():
        for _ in range(next_words):
            x = torch.tensor([[dataset.word_to_index[w] for w in words]])
            y_pred, _ = model(x)
            words.append(dataset.index_to_word[int(y_pred[0, -1].argmax())])
    return words"""

# nn.RNNCell's own layout ([out, in] weights, two biases), computed with einsum.
EINSUM_CELL = """\
import math

class RNNCell(nn.Module):
    def __init__(self, n_inputs, n_hidden):
        super().__init__()
        self.weight_ih = nn.Parameter(torch.empty(n_hidden, n_inputs))
        self.weight_hh = nn.Parameter(torch.empty(n_hidden, n_hidden))
        self.bias_ih = nn.Parameter(torch.zeros(n_hidden))
        self.bias_hh = nn.Parameter(torch.zeros(n_hidden))
        bound = 1 / math.sqrt(n_hidden)
        for weight in (self.weight_ih, self.weight_hh):
            nn.init.uniform_(weight, -bound, bound)

    def forward(self, input, hidden):
        pre = torch.einsum("bi,hi->bh", input, self.weight_ih) + torch.einsum("bj,hj->bh", hidden, self.weight_hh)
        return torch.tanh(pre + self.bias_ih + self.bias_hh)"""

# The slides' RNN, given a factory instead of the class.
FACTORY_MODEL = SLIDES_MODEL.replace("cell=RNNCell", "cell=lambda n_in, n_out: RNNCell(n_in, n_out)")

# A stateful loop like the slides', made safe with drop_last (and shuffled).
DROP_LAST_TRAIN = SLIDES_TRAIN.replace(
    "dataloader = DataLoader(dataset, batch_size=batch_size)",
    "dataloader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True)")

# len() counts one window too many: the last item is cut short.
LEN_TOO_LONG_DATASET = SLIDES_DATASET.replace(
    "return len(self.words_indexes) - self.sequence_length",
    "return len(self.words_indexes) - self.sequence_length + 1")

# forward returns the logits only; the student's train and predict follow suit.
LOGITS_ONLY_MODEL = SLIDES_MODEL.replace("""        logits = self.fc(output)
        return logits, state""", """        logits = self.fc(output)
        return logits""")
LOGITS_ONLY_TRAIN = SLIDES_TRAIN.replace("""            y_pred, h_state = model(x, h_state)""", """            y_pred = model(x, h_state)""").replace(
    """            h_state = h_state.detach()
""", "")
LOGITS_ONLY_PREDICT = SLIDES_PREDICT.replace("y_pred, h_state = model(x, h_state)", "y_pred = model(x, h_state)")

SIGMOID_CELL = SLIDES_CELL.replace("torch.tanh(", "torch.sigmoid(")

NO_PROMPT_PREDICT = """\
def predict(dataset, model, text, next_words=20):
    model.eval()

    words = text.split(' ')
    h_state = model.init_state(len(words))
    generated = []

    for i in range(0, next_words):
        x = torch.tensor([[dataset.word_to_index[w] for w in (words + generated)[i:]]])
        y_pred, h_state = model(x, h_state)

        last_word_logits = y_pred[0][-1]
        p = torch.nn.functional.softmax(last_word_logits, dim=0).detach().numpy()
        word_index = np.argmax(p)
        generated.append(dataset.index_to_word[word_index])

    return generated"""

NO_STEP_TRAIN = SLIDES_TRAIN.replace("            optimizer.step()\n", "")

GENERATED = "student variant (tools/make_rnn_notebooks.py)"

FIXTURES: list[Fixture] = [
    Fixture(
        name="rnn_lm_slides_verbatim", exercise="rnn_lm", source=f"{SLIDES}, verbatim", band=(100, 100),
        why="The slides' own code (cell class passed to RNN, trailing '' token, one state per epoch, 400 epochs) is"
            " the contract.",
        cells=slides_notebook("The slides' code, cell by cell, closing cell included.", run=SLIDES_RUN),
        report_contains=("builds its cell from the class", "empty word", "note (no points)")),
    Fixture(
        name="rnn_lm_d2l_scratch", exercise="rnn_lm",
        source="d2l-ai/d2l-en chapter_recurrent-neural-networks/rnn-scratch.md (PyTorch), adapted minimally"
               " (batch-first, cell split from the loop, (logits, state)); the slides' Dataset",
        band=(100, 100), why="d2l's from-scratch RNN language model is a correct tanh RNN trained with clipped SGD.",
        cells=(md("# RNN language model\n\nAfter d2l's RNN from scratch."), code(D2L_IMPORTS), code(D2L_CELL),
               code(D2L_RNN), code(SLIDES_DATASET), code(D2L_MODEL), code(D2L_TRAIN), code(D2L_PREDICT),
               code(D2L_RUN))),
    Fixture(
        name="rnn_lm_h0_none_default", exercise="rnn_lm", source="student variant", band=(100, 100),
        why="An RNN that starts from zeros when no state is given still takes the state it is given.",
        cells=slides_notebook("RNN.forward(inputs, h0=None).", rnn=H0_NONE_RNN, model=H0_NONE_MODEL,
                              train=H0_NONE_TRAIN, predict=H0_NONE_PREDICT)),
    Fixture(
        name="rnn_lm_einsum_cell", exercise="rnn_lm", source="student variant", band=(100, 100),
        why="nn.RNNCell's layout computed with einsum is the same cell.",
        cells=slides_notebook("An einsum cell.", cell=EINSUM_CELL)),
    Fixture(
        name="rnn_lm_cell_factory", exercise="rnn_lm", source="student variant", band=(100, 100),
        why="Handing RNN a factory instead of the class builds the same cell.",
        cells=slides_notebook("The cell is passed as a lambda.", model=FACTORY_MODEL)),
    Fixture(
        name="rnn_lm_drop_last_loop", exercise="rnn_lm", source="student variant", band=(100, 100),
        why="The slides' stateful loop with shuffle and drop_last trains on any batch size.",
        cells=slides_notebook("drop_last in the training loop.", train=DROP_LAST_TRAIN)),
    Fixture(
        name="rnn_lm_len_one_too_many", exercise="rnn_lm", source="student variant", band=(70, 80),
        why="len() counts one window too many, so the last item is short and the student's own training crashes.",
        cells=slides_notebook("__len__ + 1.", dataset=LEN_TOO_LONG_DATASET),
        report_contains=("items, expected", "instead of", "end in a batch of 1")),
    Fixture(
        name="rnn_lm_logits_only_model", exercise="rnn_lm", source="student variant", band=(90, 95),
        why="Model.forward drops the state the slides return; everything else works.",
        cells=slides_notebook("forward returns the logits only.", model=LOGITS_ONLY_MODEL, train=LOGITS_ONLY_TRAIN,
                              predict=LOGITS_ONLY_PREDICT),
        report_contains=("it must return (logits, state)",)),
    Fixture(
        name="rnn_lm_sigmoid_cell", exercise="rnn_lm", source=f"{SLIDES}, with a sigmoid cell", band=(75, 85),
        why="A sigmoid cell is not the slides' tanh RNN; the rest is right and still learns.",
        cells=slides_notebook("Sigmoid instead of tanh.", cell=SIGMOID_CELL),
        report_contains=("computes sigmoid",)),
    Fixture(
        name="rnn_lm_predict_drops_prompt", exercise="rnn_lm", source=f"{SLIDES}, predict rewritten",
        band=(90, 95), why="predict returns only the generated words, not the prompt followed by them.",
        cells=slides_notebook("predict returns the new words only.", predict=NO_PROMPT_PREDICT),
        report_contains=("does not start with the prompt's words",)),
    Fixture(
        name="rnn_lm_no_optimizer_step", exercise="rnn_lm", source=f"{SLIDES}, optimizer.step() left out",
        band=(75, 80), why="Without optimizer.step() the model never changes: no learning.",
        cells=slides_notebook("optimizer.step() forgotten.", train=NO_STEP_TRAIN),
        report_contains=("never calls optimizer.step()", "loss.backward() ran")),
    # The example class's notebooks (tools/make_rnn_notebooks.py).
    Fixture(name="rnn_lm_correct_slides", exercise="rnn_lm", source=GENERATED, band=(100, 100),
            why="The slides' design with its own cell instance, Dataset without the trailing ''."),
    Fixture(name="rnn_lm_concat_cell", exercise="rnn_lm", source=GENERATED, band=(100, 100),
            why="One Linear over [input, hidden] is the same cell."),
    Fixture(name="rnn_lm_linear_cell", exercise="rnn_lm", source=GENERATED, band=(100, 100),
            why="Two nn.Linear layers, the recurrent one without a bias, are the same cell."),
    Fixture(name="rnn_lm_off_by_one", exercise="rnn_lm", source=GENERATED, band=(96.25, 96.25),
            why="__len__ one short: a quarter of the Dataset's points.",
            report_contains=("The Dataset has 25 items, expected 26",)),
    Fixture(name="rnn_lm_no_step", exercise="rnn_lm", source=GENERATED, band=(80, 80),
            why="No optimizer.step(): the model does not learn.",
            report_contains=("never calls optimizer.step()",)),
    Fixture(name="rnn_lm_sloppy", exercise="rnn_lm", source=GENERATED, band=(53.33, 53.33),
            why="Sigmoid cell, the initial state returned, logits only, prompt dropped.",
            report_contains=("computes sigmoid(W_xh·input + W_hh·hidden + b)", "last_hidden is not outputs[:, -1]",
                             "it must return (logits, state)", "does not start with the prompt's words")),
    Fixture(name="rnn_lm_builtin_cell", exercise="rnn_lm", source=GENERATED, band=(55, 55),
            why="nn.RNNCell inside RNNCell: from_scratch fails and gates the cell and RNN points.",
            report_contains=("nn.RNNCell(n_inputs, n_hidden",)),
]
