"""Build the IMDb exercise notebooks: the reference, example submissions and test fixtures.

Run from the repository root:

    python tools/make_imdb_notebooks.py

The reference follows bentrevett/pytorch-sentiment-analysis (legacy notebooks 1 and 2) with modern torch
only: a small tokenizer and vocabulary replace torchtext, and the data come from data/imdb and data/glove.
Every other notebook is the reference with one thing changed (see `Variant`). Fixtures use a smaller
hidden size so the test suite stays fast; the example submissions keep the tutorial's sizes.

    reference/imdb.ipynb
    submissions/<student_id>/imdb.ipynb
    tests/fixtures/notebooks/imdb_<scenario>.ipynb
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}

CORRECT_COUNT = "sum(p.numel() for p in model.parameters() if p.requires_grad)"
# A plausible slip: only weight matrices are counted, every bias vector is left out.
WEIGHTS_ONLY_COUNT = "sum(p.numel() for p in model.parameters() if p.requires_grad and p.dim() > 1)"


@dataclass(frozen=True)
class Variant:
    """What a notebook does differently from the reference."""

    title: str = "IMDb sentiment: a basic RNN vs a 2-layer bidirectional LSTM (reference)"
    hidden_dim: int = 256
    n_layers: int = 2
    n_epochs: int = 5
    count_parameters: str = CORRECT_COUNT
    rebuild_lstm_after_test: bool = False   # re-runs the constructor after testing: the trained model is gone
    compact_prints: bool = False            # 'epoch 1/5 - train_acc=0.61 - val_acc=0.66' instead of the tutorial's
    lstm_first: bool = False                # trains the BiLSTM before the RNN


# --------------------------------------------------------------------------- cells

SETUP = """\
import collections
import copy
import random
import re
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.optim as optim

SEED = 1234
random.seed(SEED)
torch.manual_seed(SEED)
torch.backends.cudnn.deterministic = True

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
DATA = Path("data")  # staged read-only by the grader: data/imdb/aclImdb and data/glove/glove.6B.100d.txt
print(f"device: {device}")"""

LOAD_DATA = """\
def read_split(split):
    \"\"\"(text, label) pairs from Stanford's layout aclImdb/<split>/{pos,neg}/<id>_<rating>.txt; label 1 = positive.\"\"\"
    examples = []
    for label, polarity in ((1, "pos"), (0, "neg")):
        for path in sorted((DATA / "imdb" / "aclImdb" / split / polarity).glob("*.txt")):
            examples.append((path.read_text(encoding="utf-8"), label))
    return examples


TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\\sa-z0-9]")


def tokenize(text):
    \"\"\"Lower-case words and punctuation marks; IMDb's <br /> line breaks are dropped.\"\"\"
    return TOKEN.findall(text.replace("<br />", " ").lower())


train_examples = read_split("train")
test_examples = read_split("test")
random.Random(SEED).shuffle(train_examples)
n_train = int(0.7 * len(train_examples))  # torchtext's default split_ratio, as in the tutorial
train_examples, valid_examples = train_examples[:n_train], train_examples[n_train:]
print(f"Number of training examples: {len(train_examples)}")
print(f"Number of validation examples: {len(valid_examples)}")
print(f"Number of testing examples: {len(test_examples)}")"""

VOCAB = """\
MAX_VOCAB_SIZE = 25_000
UNK, PAD = "<unk>", "<pad>"

counts = collections.Counter(token for text, _ in train_examples for token in tokenize(text))
# Like torchtext: most frequent first, ties alphabetically, then the two special tokens in front.
by_frequency = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_VOCAB_SIZE]
itos = [UNK, PAD] + [word for word, _ in by_frequency]
stoi = {word: index for index, word in enumerate(itos)}
UNK_IDX, PAD_IDX = stoi[UNK], stoi[PAD]
print(f"Unique tokens in TEXT vocabulary: {len(itos)}")
print(by_frequency[:10])"""

BATCHES = """\
BATCH_SIZE = 64


def numericalize(examples):
    return [(torch.tensor([stoi.get(token, UNK_IDX) for token in tokenize(text)] or [UNK_IDX]), label)
            for text, label in examples]


train_data, valid_data, test_data = (numericalize(e) for e in (train_examples, valid_examples, test_examples))


def batches(data, shuffle=False):
    \"\"\"(text [sent len, batch], lengths [batch], labels [batch]) batches. Like torchtext's BucketIterator, reviews
    are sorted by length within large chunks, so a batch holds similar lengths and little padding.\"\"\"
    indices = list(range(len(data)))
    if shuffle:
        random.shuffle(indices)
    groups = []
    for start in range(0, len(indices), 100 * BATCH_SIZE):
        chunk = sorted(indices[start:start + 100 * BATCH_SIZE], key=lambda i: len(data[i][0]))
        groups += [chunk[s:s + BATCH_SIZE] for s in range(0, len(chunk), BATCH_SIZE)]
    if shuffle:
        random.shuffle(groups)
    for group in groups:
        texts = [data[i][0] for i in group]
        lengths = torch.tensor([len(t) for t in texts])
        text = nn.utils.rnn.pad_sequence(texts, padding_value=PAD_IDX)
        labels = torch.tensor([data[i][1] for i in group], dtype=torch.float)
        yield text.to(device), lengths, labels.to(device)"""

TRAINING = """\
def count_parameters(model):
    return {count}


def binary_accuracy(preds, y):
    \"\"\"Fraction of the batch right: the sigmoid of each logit rounded to 0 or 1.\"\"\"
    rounded_preds = torch.round(torch.sigmoid(preds))
    return (rounded_preds == y).float().mean()


def train(model, data, optimizer, criterion):
    epoch_loss = epoch_acc = 0.0
    n_batches = 0
    model.train()
    for text, lengths, labels in batches(data, shuffle=True):
        optimizer.zero_grad()
        predictions = model(text, lengths).squeeze(1)
        loss = criterion(predictions, labels)
        acc = binary_accuracy(predictions, labels)
        loss.backward()
        optimizer.step()
        epoch_loss += loss.item()
        epoch_acc += acc.item()
        n_batches += 1
    return epoch_loss / n_batches, epoch_acc / n_batches


def evaluate(model, data, criterion):
    epoch_loss = epoch_acc = 0.0
    n_batches = 0
    model.eval()
    with torch.no_grad():
        for text, lengths, labels in batches(data):
            predictions = model(text, lengths).squeeze(1)
            epoch_loss += criterion(predictions, labels).item()
            epoch_acc += binary_accuracy(predictions, labels).item()
            n_batches += 1
    return epoch_loss / n_batches, epoch_acc / n_batches


def epoch_time(start_time, end_time):
    elapsed_time = end_time - start_time
    elapsed_mins = int(elapsed_time / 60)
    elapsed_secs = int(elapsed_time - (elapsed_mins * 60))
    return elapsed_mins, elapsed_secs


def fit(model, optimizer, criterion, n_epochs):
    \"\"\"Train for n_epochs printing the tutorial's lines; keep the weights with the best validation loss.\"\"\"
    best_valid_loss = float("inf")
    best_state = None
    history = []
    for epoch in range(n_epochs):
        start_time = time.time()
        train_loss, train_acc = train(model, train_data, optimizer, criterion)
        valid_loss, valid_acc = evaluate(model, valid_data, criterion)
        epoch_mins, epoch_secs = epoch_time(start_time, time.time())
        if valid_loss < best_valid_loss:
            best_valid_loss = valid_loss
            best_state = copy.deepcopy(model.state_dict())
        history.append((train_acc, valid_acc))
{epoch_prints}
    model.load_state_dict(best_state)
    return history"""

TUTORIAL_EPOCH_PRINTS = """\
        print(f"Epoch: {epoch+1:02} | Epoch Time: {epoch_mins}m {epoch_secs}s")
        print(f"\\tTrain Loss: {train_loss:.3f} | Train Acc: {train_acc*100:.2f}%")
        print(f"\\t Val. Loss: {valid_loss:.3f} |  Val. Acc: {valid_acc*100:.2f}%")"""

COMPACT_EPOCH_PRINTS = """\
        print(f"epoch {epoch + 1}/{n_epochs} - loss={train_loss:.4f} - train_acc={train_acc:.4f}"
              f" - val_loss={valid_loss:.4f} - val_acc={valid_acc:.4f}")"""

RNN_CLASS = """\
class RNN(nn.Module):
    def __init__(self, input_dim, embedding_dim, hidden_dim, output_dim):
        super().__init__()
        self.embedding = nn.Embedding(input_dim, embedding_dim)
        self.rnn = nn.RNN(embedding_dim, hidden_dim)
        self.fc = nn.Linear(hidden_dim, output_dim)

    def forward(self, text, text_lengths=None):
        # text = [sent len, batch size]. The lengths are not used: like the tutorial, the RNN reads the padding too.
        embedded = self.embedding(text)          # [sent len, batch size, emb dim]
        output, hidden = self.rnn(embedded)      # hidden = [1, batch size, hid dim]
        return self.fc(hidden.squeeze(0))"""

SIZES = """\
INPUT_DIM = len(itos)
EMBEDDING_DIM = 100
HIDDEN_DIM = {hidden_dim}
OUTPUT_DIM = 1
N_EPOCHS = {n_epochs}
criterion = nn.BCEWithLogitsLoss().to(device)"""

RNN_TRAIN = """\
rnn_model = RNN(INPUT_DIM, EMBEDDING_DIM, HIDDEN_DIM, OUTPUT_DIM)
print(f"The RNN model has {count_parameters(rnn_model):,} trainable parameters")
rnn_model = rnn_model.to(device)
rnn_optimizer = optim.SGD(rnn_model.parameters(), lr=1e-3)
rnn_history = fit(rnn_model, rnn_optimizer, criterion, N_EPOCHS)"""

LSTM_CLASS = """\
class BiLSTM(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_dim, output_dim, n_layers, bidirectional, dropout, pad_idx):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_idx)
        self.rnn = nn.LSTM(embedding_dim, hidden_dim, num_layers=n_layers, bidirectional=bidirectional,
                           dropout=dropout if n_layers > 1 else 0.0)
        self.fc = nn.Linear(hidden_dim * 2 if bidirectional else hidden_dim, output_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, text, text_lengths):
        embedded = self.dropout(self.embedding(text))                  # [sent len, batch size, emb dim]
        # pack so the LSTM stops at each review's last real token; lengths must be on the CPU
        packed_embedded = nn.utils.rnn.pack_padded_sequence(embedded, text_lengths.to("cpu"), enforce_sorted=False)
        packed_output, (hidden, cell) = self.rnn(packed_embedded)
        # hidden = [num layers * num directions, batch size, hid dim]: concat the last layer's two directions
        if self.rnn.bidirectional:
            hidden = torch.cat((hidden[-2, :, :], hidden[-1, :, :]), dim=1)
        else:
            hidden = hidden[-1, :, :]
        return self.fc(self.dropout(hidden))


def load_glove(path, dim):
    \"\"\"Vectors for our vocabulary from a GloVe text file; words it lacks get N(0, 1) like torchtext's unk_init.\"\"\"
    vectors = torch.empty(len(itos), dim).normal_()
    found = 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            word, rest = line.rstrip("\\n").split(" ", 1)
            index = stoi.get(word)
            if index is not None:
                vectors[index] = torch.tensor([float(value) for value in rest.split(" ")])
                found += 1
    return vectors, found"""

LSTM_TRAIN = """\
N_LAYERS = {n_layers}
BIDIRECTIONAL = True
DROPOUT = 0.5

lstm_model = BiLSTM(INPUT_DIM, EMBEDDING_DIM, HIDDEN_DIM, OUTPUT_DIM, N_LAYERS, BIDIRECTIONAL, DROPOUT, PAD_IDX)
print(f"The BiLSTM model has {{count_parameters(lstm_model):,}} trainable parameters")

glove, found = load_glove(DATA / "glove" / "glove.6B.100d.txt", EMBEDDING_DIM)
print(f"GloVe has vectors for {{found:,}} of our {{len(itos):,}} words")
lstm_model.embedding.weight.data.copy_(glove)
lstm_model.embedding.weight.data[UNK_IDX] = torch.zeros(EMBEDDING_DIM)
lstm_model.embedding.weight.data[PAD_IDX] = torch.zeros(EMBEDDING_DIM)

lstm_model = lstm_model.to(device)
lstm_optimizer = optim.Adam(lstm_model.parameters())
lstm_history = fit(lstm_model, lstm_optimizer, criterion, N_EPOCHS)"""

TUTORIAL_TEST = """\
{name}_test_loss, {name}_test_acc = evaluate({name}_model, test_data, criterion)
print(f"Test Loss: {{{name}_test_loss:.3f}} | Test Acc: {{{name}_test_acc*100:.2f}}%")"""

COMPACT_TEST = """\
{name}_test_loss, {name}_test_acc = evaluate({name}_model, test_data, criterion)
print(f"{label} test: loss={{{name}_test_loss:.4f}} - test_acc={{{name}_test_acc:.4f}}")"""

REBUILD = """\
# Re-run the model definition to try another dropout... and forget to train it again.
lstm_model = BiLSTM(INPUT_DIM, EMBEDDING_DIM, HIDDEN_DIM, OUTPUT_DIM, N_LAYERS, BIDIRECTIONAL, 0.3, PAD_IDX).to(device)"""

PREDICT = """\
def predict_sentiment(model, sentence):
    \"\"\"The probability that the review is positive, as in the tutorial.\"\"\"
    model.eval()
    indexed = [stoi.get(token, UNK_IDX) for token in tokenize(sentence)] or [UNK_IDX]
    tensor = torch.LongTensor(indexed).unsqueeze(1).to(device)   # [sent len, 1]
    length = torch.LongTensor([len(indexed)])
    with torch.no_grad():
        prediction = torch.sigmoid(model(tensor, length))
    return prediction.item()


for review in ("This film is terrible", "This film is great"):
    print(f"{review!r}: RNN {predict_sentiment(rnn_model, review):.3f}, BiLSTM {predict_sentiment(lstm_model, review):.3f}")"""

INTRO = """\
# {title}

Following [bentrevett/pytorch-sentiment-analysis](https://github.com/bentrevett/pytorch-sentiment-analysis)
(legacy notebooks 1 and 2) with plain PyTorch: a tiny tokenizer and vocabulary take torchtext's place.
The data are staged read-only by the grader: `data/imdb/aclImdb/{{train,test}}/{{pos,neg}}/*.txt` and
`data/glove/glove.6B.100d.txt`; nothing is downloaded.

1. A basic RNN (embedding → `nn.RNN` → linear), SGD, 5 epochs: train/valid accuracy per epoch, test accuracy.
2. A 2-layer bidirectional LSTM with dropout, packed padded sequences, GloVe 100d and Adam, 5 epochs.
3. The number of trainable parameters of each model."""


# --------------------------------------------------------------------------- notebooks

def build(variant: Variant) -> nbformat.NotebookNode:
    epoch_prints = COMPACT_EPOCH_PRINTS if variant.compact_prints else TUTORIAL_EPOCH_PRINTS
    test = COMPACT_TEST if variant.compact_prints else TUTORIAL_TEST
    rnn = [("md", "## 1. A basic RNN"), ("code", RNN_CLASS), ("code", RNN_TRAIN),
           ("code", test.format(name="rnn", label="RNN"))]
    lstm = [("md", "## 2. A 2-layer bidirectional LSTM"), ("code", LSTM_CLASS),
            ("code", LSTM_TRAIN.format(n_layers=variant.n_layers)), ("code", test.format(name="lstm", label="BiLSTM"))]
    if variant.rebuild_lstm_after_test:
        lstm.append(("code", REBUILD))
    cells = [
        ("md", INTRO.format(title=variant.title)),
        ("code", SETUP),
        ("md", "## Data, tokenizer and vocabulary"),
        ("code", LOAD_DATA),
        ("code", VOCAB),
        ("code", BATCHES),
        ("md", "## Training and evaluation"),
        ("code", TRAINING.replace("{count}", variant.count_parameters).replace("{epoch_prints}", epoch_prints)),
        ("code", SIZES.format(hidden_dim=variant.hidden_dim, n_epochs=variant.n_epochs)),
        *(lstm + rnn if variant.lstm_first else rnn + lstm),
        ("md", "## Predicting the sentiment of a review"),
        ("code", PREDICT),
    ]
    notebook = new_notebook()
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata["language_info"] = {"name": "python"}
    for number, (kind, source) in enumerate(cells, start=1):
        cell = new_markdown_cell(source) if kind == "md" else new_code_cell(source)
        cell["id"] = f"cell-{number:02d}"
        notebook.cells.append(cell)
    nbformat.validate(notebook)
    return notebook


REFERENCE = Variant()
FAST = replace(REFERENCE, hidden_dim=64)  # fixtures: the tutorial's recipe with a smaller hidden size

SUBMISSIONS = {
    "adi_slides": replace(REFERENCE, title="IMDb: RNN vs BiLSTM (Adi)"),
    "budi_vectorised": replace(REFERENCE, title="IMDb: RNN vs BiLSTM (Budi)", compact_prints=True, lstm_first=True),
    "indra_one_layer": replace(REFERENCE, title="IMDb: RNN vs BiLSTM (Indra)", n_layers=1),
    "joko_rebuilt_model": replace(REFERENCE, title="IMDb: RNN vs BiLSTM (Joko)", rebuild_lstm_after_test=True),
    "kiki_three_epochs": replace(REFERENCE, title="IMDb: RNN vs BiLSTM (Kiki)", n_epochs=3),
    "lina_param_count": replace(REFERENCE, title="IMDb: RNN vs BiLSTM (Lina)", count_parameters=WEIGHTS_ONLY_COUNT),
}

FIXTURES = {
    # The reference itself covers the tutorial's print format; this one prints fractions and trains the BiLSTM first.
    "imdb_correct": replace(FAST, compact_prints=True, lstm_first=True),
    "imdb_one_layer": replace(FAST, n_layers=1),
    "imdb_rebuilt_model": replace(FAST, rebuild_lstm_after_test=True),
    "imdb_three_epochs": replace(FAST, n_epochs=3),
    "imdb_weights_only_count": replace(FAST, count_parameters=WEIGHTS_ONLY_COUNT),
}


def write(notebook: nbformat.NotebookNode, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        nbformat.write(notebook, handle, version=4)
    return path


def main() -> None:
    written = [write(build(REFERENCE), ROOT / "reference" / "imdb.ipynb")]
    written += [write(build(variant), ROOT / "submissions" / student / "imdb.ipynb")
                for student, variant in SUBMISSIONS.items()]
    written += [write(build(variant), ROOT / "tests" / "fixtures" / "notebooks" / f"{name}.ipynb")
                for name, variant in FIXTURES.items()]
    for path in written:
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
