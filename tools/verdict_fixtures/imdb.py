"""IMDb verdict fixtures: bentrevett/pytorch-sentiment-analysis as students copy it (the current notebook 2, the
legacy notebooks 1 and 2 apart and in one notebook), and the reference recipe reporting its epochs the ways
students do (Keras-style lines, a DataFrame, progress-bar postfixes), with a GRU, or with 4 epochs.

Tutorial code is adapted minimally: torchtext, Hugging Face `datasets` and spaCy are not available, so one cell
stands in for the calls the tutorial makes, over the staged `data/imdb` and `data/glove`; sizes are cut to the
quick data (hidden size 32, batches of 64) so each notebook trains in seconds. Everything else is the tutorial's.
"""

from __future__ import annotations

import re

from make_imdb_notebooks import (BATCHES, CORRECT_COUNT, LOAD_DATA, LSTM_CLASS, LSTM_TRAIN, PREDICT, RNN_CLASS,
                                 RNN_TRAIN, SETUP, SIZES, TRAINING, TUTORIAL_EPOCH_PRINTS, TUTORIAL_TEST, VOCAB)
from make_notebooks import code, md
from verdict_fixtures import Fixture

CURRENT = "bentrevett/pytorch-sentiment-analysis, '2 - Recurrent Neural Networks.ipynb'"
LEGACY_1 = "bentrevett/pytorch-sentiment-analysis, 'legacy/1 - Simple Sentiment Analysis.ipynb'"
LEGACY_2 = "bentrevett/pytorch-sentiment-analysis, 'legacy/2 - Upgraded Sentiment Analysis.ipynb'"
RECIPE = "reference recipe (tools/make_imdb_notebooks.py: legacy notebooks 1 and 2 in plain PyTorch), hidden size 32"
HIDDEN = 32


def replaced(text: str, *pairs: tuple[str, str]) -> str:
    """`text` with each (old, new) replaced; an old string that is not there is a bug in the fixture."""
    for old, new in pairs:
        if old not in text:
            raise ValueError(f"fixture edit does not apply: {old!r}")
        text = text.replace(old, new)
    return text


# --------------------------------------------------------------------------- the current tutorial (notebook 2)

CURRENT_IMPORTS = """\
import collections

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
import tqdm"""

CURRENT_STANDIN = """\
# Hugging Face `datasets` and torchtext are not installed here: these stand in for the calls the tutorial makes,
# over the course's copy of IMDb (data/imdb) and GloVe (data/glove).
import re
from pathlib import Path


def load_imdb_split(split):
    \"\"\"Like datasets.load_dataset("imdb", split=split): rows of {"text", "label"}, label 1 = positive.\"\"\"
    return [{"text": path.read_text(encoding="utf-8"), "label": label}
            for label, polarity in ((1, "pos"), (0, "neg"))
            for path in sorted(Path("data/imdb/aclImdb", split, polarity).glob("*.txt"))]


BASIC_ENGLISH = [(re.compile(pattern), replacement) for pattern, replacement in (
    (r"\\'", " '  "), (r'\\"', ""), (r"\\.", " . "), (r"<br \\/>", " "), (r",", " , "), (r"\\(", " ( "),
    (r"\\)", " ) "), (r"\\!", " ! "), (r"\\?", " ? "), (r"\\;", " "), (r"\\:", " "), (r"\\s+", " "))]


def get_tokenizer(name):
    \"\"\"torchtext.data.utils.get_tokenizer("basic_english").\"\"\"
    def basic_english(line):
        line = line.lower()
        for pattern, replacement in BASIC_ENGLISH:
            line = pattern.sub(replacement, line)
        return line.split()
    return basic_english


class Vocab:
    \"\"\"What torchtext.vocab.build_vocab_from_iterator returns, with the methods the tutorial calls.\"\"\"

    def __init__(self, iterator, min_freq, specials):
        counts = collections.Counter(token for tokens in iterator for token in tokens)
        frequent = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
        self.itos = list(specials) + frequent
        self.stoi = {word: index for index, word in enumerate(self.itos)}
        self.default_index = None

    def __len__(self):
        return len(self.itos)

    def __getitem__(self, token):
        return self.stoi.get(token, self.default_index)

    def set_default_index(self, index):
        self.default_index = index

    def lookup_indices(self, tokens):
        return [self[token] for token in tokens]

    def get_itos(self):
        return list(self.itos)


def build_vocab_from_iterator(iterator, min_freq, specials):
    return Vocab(iterator, min_freq, specials)


class GloVe:
    \"\"\"torchtext.vocab.GloVe(name, dim) from data/glove; words it lacks get zeros, as in get_vecs_by_tokens.\"\"\"

    def __init__(self, name="6B", dim=100):
        self.dim, self.vectors = dim, {}
        with open(f"data/glove/glove.{name}.{dim}d.txt", encoding="utf-8") as handle:
            for line in handle:
                word, rest = line.rstrip("\\n").split(" ", 1)
                self.vectors[word] = rest

    def get_vecs_by_tokens(self, tokens):
        return torch.stack([torch.tensor([float(v) for v in self.vectors[t].split()]) if t in self.vectors
                            else torch.zeros(self.dim) for t in tokens])"""

CURRENT_SEED = """\
seed = 1234

np.random.seed(seed)
torch.manual_seed(seed)
torch.cuda.manual_seed(seed)
torch.backends.cudnn.deterministic = True"""

CURRENT_DATA = """\
train_data, test_data = load_imdb_split("train"), load_imdb_split("test")

tokenizer = get_tokenizer("basic_english")


def tokenize_example(example, tokenizer, max_length):
    tokens = tokenizer(example["text"])[:max_length]
    length = len(tokens)
    return {"tokens": tokens, "length": length}


max_length = 256

train_data = [{**example, **tokenize_example(example, tokenizer, max_length)} for example in train_data]
test_data = [{**example, **tokenize_example(example, tokenizer, max_length)} for example in test_data]

test_size = 0.25

order = np.random.permutation(len(train_data))  # train_test_split shuffles
n_valid = int(test_size * len(train_data))
valid_data = [train_data[i] for i in order[:n_valid]]
train_data = [train_data[i] for i in order[n_valid:]]"""

CURRENT_VOCAB = """\
min_freq = 5
special_tokens = ["<unk>", "<pad>"]

vocab = build_vocab_from_iterator(
    (example["tokens"] for example in train_data),
    min_freq=min_freq,
    specials=special_tokens,
)
unk_index = vocab["<unk>"]
pad_index = vocab["<pad>"]
vocab.set_default_index(unk_index)


def numericalize_example(example, vocab):
    ids = vocab.lookup_indices(example["tokens"])
    return {"ids": ids}


def with_torch_format(data):
    \"\"\"What .with_format(type="torch", columns=["ids", "label", "length"]) gives.\"\"\"
    return [{"ids": torch.tensor(e["ids"]), "label": torch.tensor(e["label"]), "length": torch.tensor(e["length"])}
            for e in data]


train_data = with_torch_format([{**e, **numericalize_example(e, vocab)} for e in train_data])
valid_data = with_torch_format([{**e, **numericalize_example(e, vocab)} for e in valid_data])
test_data = with_torch_format([{**e, **numericalize_example(e, vocab)} for e in test_data])"""

CURRENT_LOADERS = """\
def get_collate_fn(pad_index):
    def collate_fn(batch):
        batch_ids = [i["ids"] for i in batch]
        batch_ids = nn.utils.rnn.pad_sequence(
            batch_ids, padding_value=pad_index, batch_first=True
        )
        batch_length = [i["length"] for i in batch]
        batch_length = torch.stack(batch_length)
        batch_label = [i["label"] for i in batch]
        batch_label = torch.stack(batch_label)
        batch = {"ids": batch_ids, "length": batch_length, "label": batch_label}
        return batch

    return collate_fn


def get_data_loader(dataset, batch_size, pad_index, shuffle=False):
    collate_fn = get_collate_fn(pad_index)
    data_loader = torch.utils.data.DataLoader(
        dataset=dataset,
        batch_size=batch_size,
        collate_fn=collate_fn,
        shuffle=shuffle,
    )
    return data_loader


batch_size = 32  # the tutorial's 512 is most of the quick data's training set: 32 gives 18 steps an epoch

train_data_loader = get_data_loader(train_data, batch_size, pad_index, shuffle=True)
valid_data_loader = get_data_loader(valid_data, batch_size, pad_index)
test_data_loader = get_data_loader(test_data, batch_size, pad_index)"""

CURRENT_FUNCTIONS = """\
def count_parameters(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def train(dataloader, model, criterion, optimizer, device):
    model.train()
    epoch_losses = []
    epoch_accs = []
    for batch in tqdm.tqdm(dataloader, desc="training..."):
        ids = batch["ids"].to(device)
        length = batch["length"]
        label = batch["label"].to(device)
        prediction = model(ids, length)
        loss = criterion(prediction, label)
        accuracy = get_accuracy(prediction, label)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        epoch_losses.append(loss.item())
        epoch_accs.append(accuracy.item())
    return np.mean(epoch_losses), np.mean(epoch_accs)


def evaluate(dataloader, model, criterion, device):
    model.eval()
    epoch_losses = []
    epoch_accs = []
    with torch.no_grad():
        for batch in tqdm.tqdm(dataloader, desc="evaluating..."):
            ids = batch["ids"].to(device)
            length = batch["length"]
            label = batch["label"].to(device)
            prediction = model(ids, length)
            loss = criterion(prediction, label)
            accuracy = get_accuracy(prediction, label)
            epoch_losses.append(loss.item())
            epoch_accs.append(accuracy.item())
    return np.mean(epoch_losses), np.mean(epoch_accs)


def get_accuracy(prediction, label):
    batch_size, _ = prediction.shape
    predicted_classes = prediction.argmax(dim=-1)
    correct_predictions = predicted_classes.eq(label).sum()
    accuracy = correct_predictions / batch_size
    return accuracy


criterion = nn.CrossEntropyLoss()
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
criterion = criterion.to(device)
device"""

# The student's basic RNN: the tutorial's LSTM class with nn.RNN, one layer, one direction, no dropout.
CURRENT_RNN = """\
class RNN(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_dim, output_dim, pad_index):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_index)
        self.rnn = nn.RNN(embedding_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, output_dim)

    def forward(self, ids, length):
        # ids = [batch size, seq len]
        embedded = self.embedding(ids)
        packed_embedded = nn.utils.rnn.pack_padded_sequence(
            embedded, length, batch_first=True, enforce_sorted=False
        )
        packed_output, hidden = self.rnn(packed_embedded)
        # hidden = [1, batch size, hidden dim]
        prediction = self.fc(hidden[-1])
        return prediction


vocab_size = len(vocab)
embedding_dim = 100  # GloVe 6B 100d, the course's copy
hidden_dim = {hidden}
output_dim = 2

rnn_model = RNN(vocab_size, embedding_dim, hidden_dim, output_dim, pad_index).to(device)
print(f"The RNN has {{count_parameters(rnn_model):,}} trainable parameters")
rnn_optimizer = optim.Adam(rnn_model.parameters(), lr=5e-4)""".format(hidden=HIDDEN)

CURRENT_LOOP = """\
n_epochs = 5
best_valid_loss = float("inf")

{metrics} = collections.defaultdict(list)

for epoch in range(n_epochs):
    train_loss, train_acc = train(
        train_data_loader, {model}, criterion, {optimizer}, device
    )
    valid_loss, valid_acc = evaluate(valid_data_loader, {model}, criterion, device)
    {metrics}["train_losses"].append(train_loss)
    {metrics}["train_accs"].append(train_acc)
    {metrics}["valid_losses"].append(valid_loss)
    {metrics}["valid_accs"].append(valid_acc)
    if valid_loss < best_valid_loss:
        best_valid_loss = valid_loss
        torch.save({model}.state_dict(), "{file}")
    print(f"epoch: {{epoch}}")
    print(f"train_loss: {{train_loss:.3f}}, train_acc: {{train_acc:.3f}}")
    print(f"valid_loss: {{valid_loss:.3f}}, valid_acc: {{valid_acc:.3f}}")"""

CURRENT_PLOT = """\
fig = plt.figure(figsize=(10, 6))
ax = fig.add_subplot(1, 1, 1)
ax.plot({metrics}["train_accs"], label="train accuracy")
ax.plot({metrics}["valid_accs"], label="valid accuracy")
ax.set_xlabel("epoch")
ax.set_ylabel("loss")
ax.set_xticks(range(n_epochs))
ax.legend()
ax.grid()"""

CURRENT_TEST = """\
{model}.load_state_dict(torch.load("{file}"))

test_loss, test_acc = evaluate(test_data_loader, {model}, criterion, device)
print(f"test_loss: {{test_loss:.3f}}, test_acc: {{test_acc:.3f}}")"""

CURRENT_LSTM = """\
class LSTM(nn.Module):
    def __init__(
        self,
        vocab_size,
        embedding_dim,
        hidden_dim,
        output_dim,
        n_layers,
        bidirectional,
        dropout_rate,
        pad_index,
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_index)
        self.lstm = nn.LSTM(
            embedding_dim,
            hidden_dim,
            n_layers,
            bidirectional=bidirectional,
            dropout=dropout_rate,
            batch_first=True,
        )
        self.fc = nn.Linear(hidden_dim * 2 if bidirectional else hidden_dim, output_dim)
        self.dropout = nn.Dropout(dropout_rate)

    def forward(self, ids, length):
        # ids = [batch size, seq len]
        # length = [batch size]
        embedded = self.dropout(self.embedding(ids))
        # embedded = [batch size, seq len, embedding dim]
        packed_embedded = nn.utils.rnn.pack_padded_sequence(
            embedded, length, batch_first=True, enforce_sorted=False
        )
        packed_output, (hidden, cell) = self.lstm(packed_embedded)
        # hidden = [n layers * n directions, batch size, hidden dim]
        # cell = [n layers * n directions, batch size, hidden dim]
        output, output_length = nn.utils.rnn.pad_packed_sequence(packed_output)
        # output = [batch size, seq len, hidden dim * n directions]
        if self.lstm.bidirectional:
            hidden = self.dropout(torch.cat([hidden[-1], hidden[-2]], dim=-1))
            # hidden = [batch size, hidden dim * 2]
        else:
            hidden = self.dropout(hidden[-1])
            # hidden = [batch size, hidden dim]
        prediction = self.fc(hidden)
        # prediction = [batch size, output dim]
        return prediction


n_layers = 2
bidirectional = True
dropout_rate = 0.5

model = LSTM(
    vocab_size,
    embedding_dim,
    hidden_dim,
    output_dim,
    n_layers,
    bidirectional,
    dropout_rate,
    pad_index,
)
print(f"The model has {count_parameters(model):,} trainable parameters")


def initialize_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_normal_(m.weight)
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LSTM):
        for name, param in m.named_parameters():
            if "bias" in name:
                nn.init.zeros_(param)
            elif "weight" in name:
                nn.init.orthogonal_(param)


model.apply(initialize_weights)"""

CURRENT_GLOVE = """\
vectors = GloVe(name="6B", dim=100)
pretrained_embedding = vectors.get_vecs_by_tokens(vocab.get_itos())
model.embedding.weight.data = pretrained_embedding

lr = 5e-4

optimizer = optim.Adam(model.parameters(), lr=lr)
model = model.to(device)"""

CURRENT_PREDICT = """\
def predict_sentiment(text, model, tokenizer, vocab, device):
    tokens = tokenizer(text)
    ids = vocab.lookup_indices(tokens)
    length = torch.LongTensor([len(ids)])
    tensor = torch.LongTensor(ids).unsqueeze(dim=0).to(device)
    prediction = model(tensor, length).squeeze(dim=0)
    probability = torch.softmax(prediction, dim=-1)
    predicted_class = prediction.argmax(dim=-1).item()
    predicted_probability = probability[predicted_class].item()
    return predicted_class, predicted_probability"""

CURRENT_CALLS = """\
text = "This film is terrible!"

predict_sentiment(text, model, tokenizer, vocab, device)"""


def current_tutorial() -> tuple[tuple[str, str], ...]:
    rnn = {"model": "rnn_model", "optimizer": "rnn_optimizer", "metrics": "rnn_metrics", "file": "rnn.pt"}
    lstm = {"model": "model", "optimizer": "optimizer", "metrics": "metrics", "file": "lstm.pt"}
    return (
        md("# IMDb: RNN vs bidirectional LSTM\n\nFollowing bentrevett's current notebook 2, with an RNN copied from "
           "its LSTM for part 1."),
        code(CURRENT_IMPORTS), code(CURRENT_STANDIN), code(CURRENT_SEED), code(CURRENT_DATA), code(CURRENT_VOCAB),
        code(CURRENT_LOADERS), code(CURRENT_FUNCTIONS),
        md("## 1. Basic RNN"),
        code(CURRENT_RNN), code(CURRENT_LOOP.format(**rnn)), code(CURRENT_PLOT.format(**rnn)),
        code(CURRENT_TEST.format(**rnn)),
        md("## 2. Bidirectional LSTM (the tutorial)"),
        code(CURRENT_LSTM), code(CURRENT_GLOVE), code(CURRENT_LOOP.format(**lstm)), code(CURRENT_PLOT.format(**lstm)),
        code(CURRENT_TEST.format(**lstm)),
        md("## Predictions"),
        code(CURRENT_PREDICT), code(CURRENT_CALLS),
    )


# --------------------------------------------------------------------------- the legacy tutorials (notebooks 1, 2)

LEGACY_STANDIN = """\
# torchtext.legacy (Field, datasets.IMDB, BucketIterator) and spaCy are not part of current PyTorch: these stand in
# for them under the same names, over the course's copy of IMDb (data/imdb) and GloVe (data/glove).
import collections
import math
import random
import re
from pathlib import Path
from types import SimpleNamespace

import torch

TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\\sa-z0-9]")


def tokenize(text):
    return TOKEN.findall(text.replace("<br />", " ").lower())


nlp = SimpleNamespace(tokenizer=lambda sentence: [SimpleNamespace(text=token) for token in tokenize(sentence)])


class Vocab:
    def __init__(self, freqs, specials, max_size):
        self.freqs = freqs
        by_frequency = sorted(freqs.items(), key=lambda item: (-item[1], item[0]))[:max_size]
        self.itos = specials + [word for word, _ in by_frequency]
        self.stoi = collections.defaultdict(int, {word: index for index, word in enumerate(self.itos)})
        self.vectors = None

    def __len__(self):
        return len(self.itos)


class Field:
    def __init__(self, tokenize=None, tokenizer_language=None, include_lengths=False):
        self.include_lengths = include_lengths
        self.unk_token, self.pad_token = "<unk>", "<pad>"

    def build_vocab(self, dataset, max_size=None, vectors=None, unk_init=None):
        freqs = collections.Counter(token for example in dataset.examples for token in example.text)
        self.vocab = Vocab(freqs, [self.unk_token, self.pad_token], max_size)
        if vectors:  # "glove.6B.100d"
            self.vocab.vectors = unk_init(torch.empty(len(self.vocab), int(vectors.split(".")[-1][:-1])))
            with open(f"data/glove/{vectors}.txt", encoding="utf-8") as handle:
                for line in handle:
                    word, rest = line.rstrip("\\n").split(" ", 1)
                    if word in self.vocab.stoi:
                        self.vocab.vectors[self.vocab.stoi[word]] = torch.tensor([float(v) for v in rest.split()])

    def process(self, texts, device):
        lengths = torch.tensor([len(text) for text in texts])
        padded = torch.full((int(lengths.max()), len(texts)), self.vocab.stoi[self.pad_token])
        for column, text in enumerate(texts):
            padded[:len(text), column] = torch.tensor([self.vocab.stoi[token] for token in text])
        return (padded.to(device), lengths) if self.include_lengths else padded.to(device)


class LabelField:
    def __init__(self, dtype=torch.float):
        self.dtype = dtype

    def build_vocab(self, dataset):
        self.vocab = SimpleNamespace(stoi={"neg": 0, "pos": 1})

    def process(self, labels, device):
        return torch.tensor([self.vocab.stoi[label] for label in labels], dtype=self.dtype, device=device)


class Dataset:
    def __init__(self, examples, fields):
        self.examples, self.fields = examples, fields

    def __len__(self):
        return len(self.examples)

    def split(self, split_ratio=0.7, random_state=None):
        examples = self.examples[:]
        random.shuffle(examples)
        cut = round(split_ratio * len(examples))
        return Dataset(examples[:cut], self.fields), Dataset(examples[cut:], self.fields)


class IMDB:
    @staticmethod
    def splits(text_field, label_field):
        def read(split):
            return Dataset([SimpleNamespace(text=tokenize(path.read_text(encoding="utf-8")), label=polarity)
                            for polarity in ("pos", "neg")
                            for path in sorted(Path("data/imdb/aclImdb", split, polarity).glob("*.txt"))],
                           (text_field, label_field))
        return read("train"), read("test")


class BucketIterator:
    def __init__(self, dataset, batch_size, device, sort_within_batch=False, shuffle=False):
        self.dataset, self.batch_size, self.device = dataset, batch_size, device
        self.sort_within_batch, self.shuffle = sort_within_batch, shuffle

    @classmethod
    def splits(cls, datasets, batch_size, device, sort_within_batch=False):
        return tuple(cls(dataset, batch_size, device, sort_within_batch, shuffle=index == 0)
                     for index, dataset in enumerate(datasets))

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        by_length = sorted(self.dataset.examples, key=lambda example: len(example.text))
        batches = [by_length[start:start + self.batch_size] for start in range(0, len(by_length), self.batch_size)]
        if self.shuffle:
            random.shuffle(batches)
        text_field, label_field = self.dataset.fields
        for batch in batches:
            if self.sort_within_batch:
                batch = sorted(batch, key=lambda example: len(example.text), reverse=True)
            yield SimpleNamespace(text=text_field.process([example.text for example in batch], self.device),
                                  label=label_field.process([example.label for example in batch], self.device))


data = SimpleNamespace(Field=Field, LabelField=LabelField, BucketIterator=BucketIterator)
datasets = SimpleNamespace(IMDB=IMDB)"""

LEGACY_1 = [
    """\
SEED = 1234

torch.manual_seed(SEED)
torch.backends.cudnn.deterministic = True

TEXT = data.Field(tokenize = 'spacy',
                  tokenizer_language = 'en_core_web_sm')
LABEL = data.LabelField(dtype = torch.float)""",
    """\
train_data, test_data = datasets.IMDB.splits(TEXT, LABEL)

train_data, valid_data = train_data.split(random_state = random.seed(SEED))

print(f'Number of training examples: {len(train_data)}')
print(f'Number of validation examples: {len(valid_data)}')
print(f'Number of testing examples: {len(test_data)}')""",
    """\
MAX_VOCAB_SIZE = 25_000

TEXT.build_vocab(train_data, max_size = MAX_VOCAB_SIZE)
LABEL.build_vocab(train_data)

print(f"Unique tokens in TEXT vocabulary: {len(TEXT.vocab)}")
print(TEXT.vocab.freqs.most_common(20))""",
    """\
BATCH_SIZE = 64

device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')

train_iterator, valid_iterator, test_iterator = data.BucketIterator.splits(
    (train_data, valid_data, test_data), 
    batch_size = BATCH_SIZE,
    device = device)""",
    """\
import torch.nn as nn

class RNN(nn.Module):
    def __init__(self, input_dim, embedding_dim, hidden_dim, output_dim):
        
        super().__init__()
        
        self.embedding = nn.Embedding(input_dim, embedding_dim)
        
        self.rnn = nn.RNN(embedding_dim, hidden_dim)
        
        self.fc = nn.Linear(hidden_dim, output_dim)
        
    def forward(self, text):

        #text = [sent len, batch size]
        
        embedded = self.embedding(text)
        
        #embedded = [sent len, batch size, emb dim]
        
        output, hidden = self.rnn(embedded)
        
        #output = [sent len, batch size, hid dim]
        #hidden = [1, batch size, hid dim]
        
        assert torch.equal(output[-1,:,:], hidden.squeeze(0))
        
        return self.fc(hidden.squeeze(0))""",
    """\
INPUT_DIM = len(TEXT.vocab)
EMBEDDING_DIM = 100
HIDDEN_DIM = {hidden}
OUTPUT_DIM = 1

model = RNN(INPUT_DIM, EMBEDDING_DIM, HIDDEN_DIM, OUTPUT_DIM)""".format(hidden=HIDDEN),
    """\
def count_parameters(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

print(f'The model has {count_parameters(model):,} trainable parameters')""",
    """\
import torch.optim as optim

optimizer = optim.SGD(model.parameters(), lr=1e-3)

criterion = nn.BCEWithLogitsLoss()

model = model.to(device)
criterion = criterion.to(device)""",
    """\
def binary_accuracy(preds, y):
    \"\"\"
    Returns accuracy per batch, i.e. if you get 8/10 right, this returns 0.8, NOT 8
    \"\"\"

    #round predictions to the closest integer
    rounded_preds = torch.round(torch.sigmoid(preds))
    correct = (rounded_preds == y).float() #convert into float for division 
    acc = correct.sum() / len(correct)
    return acc""",
    """\
def train(model, iterator, optimizer, criterion):
    
    epoch_loss = 0
    epoch_acc = 0
    
    model.train()
    
    for batch in iterator:
        
        optimizer.zero_grad()
                
        predictions = model(batch.text).squeeze(1)
        
        loss = criterion(predictions, batch.label)
        
        acc = binary_accuracy(predictions, batch.label)
        
        loss.backward()
        
        optimizer.step()
        
        epoch_loss += loss.item()
        epoch_acc += acc.item()
        
    return epoch_loss / len(iterator), epoch_acc / len(iterator)""",
    """\
def evaluate(model, iterator, criterion):
    
    epoch_loss = 0
    epoch_acc = 0
    
    model.eval()
    
    with torch.no_grad():
    
        for batch in iterator:

            predictions = model(batch.text).squeeze(1)
            
            loss = criterion(predictions, batch.label)
            
            acc = binary_accuracy(predictions, batch.label)

            epoch_loss += loss.item()
            epoch_acc += acc.item()
        
    return epoch_loss / len(iterator), epoch_acc / len(iterator)""",
    """\
import time

def epoch_time(start_time, end_time):
    elapsed_time = end_time - start_time
    elapsed_mins = int(elapsed_time / 60)
    elapsed_secs = int(elapsed_time - (elapsed_mins * 60))
    return elapsed_mins, elapsed_secs""",
    """\
N_EPOCHS = 5

best_valid_loss = float('inf')

for epoch in range(N_EPOCHS):

    start_time = time.time()
    
    train_loss, train_acc = train(model, train_iterator, optimizer, criterion)
    valid_loss, valid_acc = evaluate(model, valid_iterator, criterion)
    
    end_time = time.time()

    epoch_mins, epoch_secs = epoch_time(start_time, end_time)
    
    if valid_loss < best_valid_loss:
        best_valid_loss = valid_loss
        torch.save(model.state_dict(), 'tut1-model.pt')
    
    print(f'Epoch: {epoch+1:02} | Epoch Time: {epoch_mins}m {epoch_secs}s')
    print(f'\\tTrain Loss: {train_loss:.3f} | Train Acc: {train_acc*100:.2f}%')
    print(f'\\t Val. Loss: {valid_loss:.3f} |  Val. Acc: {valid_acc*100:.2f}%')""",
    """\
model.load_state_dict(torch.load('tut1-model.pt'))

test_loss, test_acc = evaluate(model, test_iterator, criterion)

print(f'Test Loss: {test_loss:.3f} | Test Acc: {test_acc*100:.2f}%')""",
]

LEGACY_2 = [
    """\
SEED = 1234

torch.manual_seed(SEED)
torch.backends.cudnn.deterministic = True

TEXT = data.Field(tokenize = 'spacy',
                  tokenizer_language = 'en_core_web_sm',
                  include_lengths = True)

LABEL = data.LabelField(dtype = torch.float)""",
    """\
train_data, test_data = datasets.IMDB.splits(TEXT, LABEL)

train_data, valid_data = train_data.split(random_state = random.seed(SEED))""",
    """\
MAX_VOCAB_SIZE = 25_000

TEXT.build_vocab(train_data, 
                 max_size = MAX_VOCAB_SIZE, 
                 vectors = "glove.6B.100d", 
                 unk_init = torch.Tensor.normal_)

LABEL.build_vocab(train_data)""",
    """\
BATCH_SIZE = 64

device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')

train_iterator, valid_iterator, test_iterator = data.BucketIterator.splits(
    (train_data, valid_data, test_data), 
    batch_size = BATCH_SIZE,
    sort_within_batch = True,
    device = device)""",
    """\
import torch.nn as nn

class RNN(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_dim, output_dim, n_layers, 
                 bidirectional, dropout, pad_idx):
        
        super().__init__()
        
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx = pad_idx)
        
        self.rnn = nn.LSTM(embedding_dim, 
                           hidden_dim, 
                           num_layers=n_layers, 
                           bidirectional=bidirectional, 
                           dropout=dropout)
        
        self.fc = nn.Linear(hidden_dim * 2, output_dim)
        
        self.dropout = nn.Dropout(dropout)
        
    def forward(self, text, text_lengths):
        
        #text = [sent len, batch size]
        
        embedded = self.dropout(self.embedding(text))
        
        #embedded = [sent len, batch size, emb dim]
        
        #pack sequence
        # lengths need to be on CPU!
        packed_embedded = nn.utils.rnn.pack_padded_sequence(embedded, text_lengths.to('cpu'))
        
        packed_output, (hidden, cell) = self.rnn(packed_embedded)
        
        #unpack sequence
        output, output_lengths = nn.utils.rnn.pad_packed_sequence(packed_output)

        #output = [sent len, batch size, hid dim * num directions]
        #output over padding tokens are zero tensors
        
        #hidden = [num layers * num directions, batch size, hid dim]
        #cell = [num layers * num directions, batch size, hid dim]
        
        #concat the final forward (hidden[-2,:,:]) and backward (hidden[-1,:,:]) hidden layers
        #and apply dropout
        
        hidden = self.dropout(torch.cat((hidden[-2,:,:], hidden[-1,:,:]), dim = 1))
                
        #hidden = [batch size, hid dim * num directions]
            
        return self.fc(hidden)""",
    """\
INPUT_DIM = len(TEXT.vocab)
EMBEDDING_DIM = 100
HIDDEN_DIM = {hidden}
OUTPUT_DIM = 1
N_LAYERS = 2
BIDIRECTIONAL = True
DROPOUT = 0.5
PAD_IDX = TEXT.vocab.stoi[TEXT.pad_token]

model = RNN(INPUT_DIM, 
            EMBEDDING_DIM, 
            HIDDEN_DIM, 
            OUTPUT_DIM, 
            N_LAYERS, 
            BIDIRECTIONAL, 
            DROPOUT, 
            PAD_IDX)""".format(hidden=HIDDEN),
    """\
def count_parameters(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

print(f'The model has {count_parameters(model):,} trainable parameters')""",
    """\
pretrained_embeddings = TEXT.vocab.vectors

print(pretrained_embeddings.shape)

model.embedding.weight.data.copy_(pretrained_embeddings)

UNK_IDX = TEXT.vocab.stoi[TEXT.unk_token]

model.embedding.weight.data[UNK_IDX] = torch.zeros(EMBEDDING_DIM)
model.embedding.weight.data[PAD_IDX] = torch.zeros(EMBEDDING_DIM)""",
    """\
import torch.optim as optim

optimizer = optim.Adam(model.parameters())

criterion = nn.BCEWithLogitsLoss()

model = model.to(device)
criterion = criterion.to(device)""",
    """\
def binary_accuracy(preds, y):
    \"\"\"
    Returns accuracy per batch, i.e. if you get 8/10 right, this returns 0.8, NOT 8
    \"\"\"

    #round predictions to the closest integer
    rounded_preds = torch.round(torch.sigmoid(preds))
    correct = (rounded_preds == y).float() #convert into float for division 
    acc = correct.sum() / len(correct)
    return acc""",
    """\
def train(model, iterator, optimizer, criterion):
    
    epoch_loss = 0
    epoch_acc = 0
    
    model.train()
    
    for batch in iterator:
        
        optimizer.zero_grad()
        
        text, text_lengths = batch.text
        
        predictions = model(text, text_lengths).squeeze(1)
        
        loss = criterion(predictions, batch.label)
        
        acc = binary_accuracy(predictions, batch.label)
        
        loss.backward()
        
        optimizer.step()
        
        epoch_loss += loss.item()
        epoch_acc += acc.item()
        
    return epoch_loss / len(iterator), epoch_acc / len(iterator)""",
    """\
def evaluate(model, iterator, criterion):
    
    epoch_loss = 0
    epoch_acc = 0
    
    model.eval()
    
    with torch.no_grad():
    
        for batch in iterator:

            text, text_lengths = batch.text
            
            predictions = model(text, text_lengths).squeeze(1)
            
            loss = criterion(predictions, batch.label)
            
            acc = binary_accuracy(predictions, batch.label)

            epoch_loss += loss.item()
            epoch_acc += acc.item()
        
    return epoch_loss / len(iterator), epoch_acc / len(iterator)""",
    """\
import time

def epoch_time(start_time, end_time):
    elapsed_time = end_time - start_time
    elapsed_mins = int(elapsed_time / 60)
    elapsed_secs = int(elapsed_time - (elapsed_mins * 60))
    return elapsed_mins, elapsed_secs""",
    """\
N_EPOCHS = 5

best_valid_loss = float('inf')

for epoch in range(N_EPOCHS):

    start_time = time.time()
    
    train_loss, train_acc = train(model, train_iterator, optimizer, criterion)
    valid_loss, valid_acc = evaluate(model, valid_iterator, criterion)
    
    end_time = time.time()

    epoch_mins, epoch_secs = epoch_time(start_time, end_time)
    
    if valid_loss < best_valid_loss:
        best_valid_loss = valid_loss
        torch.save(model.state_dict(), 'tut2-model.pt')
    
    print(f'Epoch: {epoch+1:02} | Epoch Time: {epoch_mins}m {epoch_secs}s')
    print(f'\\tTrain Loss: {train_loss:.3f} | Train Acc: {train_acc*100:.2f}%')
    print(f'\\t Val. Loss: {valid_loss:.3f} |  Val. Acc: {valid_acc*100:.2f}%')""",
    """\
model.load_state_dict(torch.load('tut2-model.pt'))

test_loss, test_acc = evaluate(model, test_iterator, criterion)

print(f'Test Loss: {test_loss:.3f} | Test Acc: {test_acc*100:.2f}%')""",
    """\
# spaCy is not installed: `nlp` comes from the stand-in cell at the top
def predict_sentiment(model, sentence):
    model.eval()
    tokenized = [tok.text for tok in nlp.tokenizer(sentence)]
    indexed = [TEXT.vocab.stoi[t] for t in tokenized]
    length = [len(indexed)]
    tensor = torch.LongTensor(indexed).to(device)
    tensor = tensor.unsqueeze(1)
    length_tensor = torch.LongTensor(length)
    prediction = torch.sigmoid(model(tensor, length_tensor))
    return prediction.item()""",
    """\
predict_sentiment(model, "This film is terrible")""",
    """\
predict_sentiment(model, "This film is great")""",
]


def renamed_model(source: str, name: str) -> str:
    """A cell with the variable `model` renamed, outside function bodies (their `model` is a parameter)."""
    lines, in_function = [], False
    for line in source.splitlines():
        in_function = line.startswith("def ") or (in_function and (not line or line[0].isspace()))
        lines.append(line if in_function else re.sub(r"(?<![\w.'-])model(?=\.|,|\)| = )", name, line))
    return "\n".join(lines)


def legacy_tutorials(rnn_name: str) -> tuple[tuple[str, str], ...]:
    """Notebook 1 then notebook 2 in one notebook, notebook 1's `model` renamed to `rnn_name` (or kept)."""
    return (
        md("# IMDb sentiment: bentrevett's legacy notebooks 1 and 2\n\n1. Simple Sentiment Analysis (basic RNN)\n"
           "2. Upgraded Sentiment Analysis (2-layer bidirectional LSTM)"),
        code(LEGACY_STANDIN),
        md("## 1 - Simple Sentiment Analysis"),
        *(code(renamed_model(source, rnn_name)) for source in LEGACY_1),
        md("## 2 - Upgraded Sentiment Analysis"),
        *(code(source) for source in LEGACY_2),
    )


# --------------------------------------------------------------------------- the reference recipe, reported otherwise

KERAS_EPOCH_PRINTS = """\
        steps = -(-len(train_data) // BATCH_SIZE)
        print(f"Epoch {epoch + 1}/{n_epochs}")
        print(f"{steps}/{steps} [==============================] - {time.time() - start_time:.0f}s"
              f" - loss: {train_loss:.4f} - accuracy: {train_acc:.4f}"
              f" - val_loss: {valid_loss:.4f} - val_accuracy: {valid_acc:.4f}")"""

KERAS_TEST = """\
{name}_test_loss, {name}_test_acc = evaluate({name}_model, test_data, criterion)
print(f"test_loss: {{{name}_test_loss:.4f}} - test_accuracy: {{{name}_test_acc:.4f}}")"""

DATAFRAME = """\
import pandas as pd

{name}_log = pd.DataFrame({name}_history, columns=["train_acc", "valid_acc"])
{name}_log.index = pd.RangeIndex(1, len({name}_log) + 1, name="epoch")
{name}_log"""

# train() advances a progress bar and shows running loss/accuracy in its postfix; fit() adds the validation numbers.
TQDM_TRAINING = replaced(
    TRAINING,
    ("def train(model, data, optimizer, criterion):", "def train(model, data, optimizer, criterion, bar):"),
    ("""        n_batches += 1
    return epoch_loss / n_batches, epoch_acc / n_batches


def evaluate""", """        n_batches += 1
        bar.update()
        bar.set_postfix(loss=epoch_loss / n_batches, acc=epoch_acc / n_batches)
    return epoch_loss / n_batches, epoch_acc / n_batches


def evaluate"""),
    ("""        train_loss, train_acc = train(model, train_data, optimizer, criterion)
        valid_loss, valid_acc = evaluate(model, valid_data, criterion)""",
     """        with tqdm(total=-(-len(train_data) // BATCH_SIZE), desc=f"Epoch {epoch + 1}/{n_epochs}") as bar:
            train_loss, train_acc = train(model, train_data, optimizer, criterion, bar)
            valid_loss, valid_acc = evaluate(model, valid_data, criterion)
            bar.set_postfix(loss=train_loss, acc=train_acc, val_loss=valid_loss, val_acc=valid_acc)"""),
    ("def count_parameters(model):", "from tqdm import tqdm\n\n\ndef count_parameters(model):"),
)

GRU_CLASS = replaced(
    LSTM_CLASS,
    ("class BiLSTM(nn.Module):", "class BiGRU(nn.Module):"),
    ("self.rnn = nn.LSTM(", "self.rnn = nn.GRU("),
    ("packed_output, (hidden, cell) = self.rnn(packed_embedded)", "packed_output, hidden = self.rnn(packed_embedded)"),
    ("# pack so the LSTM stops", "# pack so the GRU stops"),
)
GRU_TRAIN = replaced(
    LSTM_TRAIN,
    ("lstm_model = BiLSTM(", "gru_model = BiGRU("),
    ("The BiLSTM model has {{count_parameters(lstm_model):,}}", "The BiGRU model has {{count_parameters(gru_model):,}}"),
    ("lstm_model.embedding", "gru_model.embedding"),
    ("lstm_model = lstm_model.to(device)", "gru_model = gru_model.to(device)"),
    ("lstm_optimizer = optim.Adam(lstm_model.parameters())", "gru_optimizer = optim.Adam(gru_model.parameters())"),
    ("lstm_history = fit(lstm_model, lstm_optimizer, criterion, N_EPOCHS)",
     "gru_history = fit(gru_model, gru_optimizer, criterion, N_EPOCHS)"),
)
FOUR_EPOCHS_TRAIN = replaced(
    LSTM_TRAIN,
    ("lstm_history = fit(lstm_model, lstm_optimizer, criterion, N_EPOCHS)",
     "LSTM_EPOCHS = 4  # the BiLSTM is slow on my laptop\nlstm_history = fit(lstm_model, lstm_optimizer, criterion, LSTM_EPOCHS)"),
)


def recipe(title: str, training: str = TRAINING, epoch_prints: str = TUTORIAL_EPOCH_PRINTS, test: str = TUTORIAL_TEST,
           after_rnn: tuple[tuple[str, str], ...] = (), after_lstm: tuple[tuple[str, str], ...] = (),
           lstm_class: str = LSTM_CLASS, lstm_train: str = LSTM_TRAIN, advanced: str = "lstm",
           predict: str = PREDICT) -> tuple[tuple[str, str], ...]:
    """The reference notebook's cells (hidden size 32) with the parts a scenario changes."""
    return (
        md(f"# {title}"),
        code(SETUP), code(LOAD_DATA), code(VOCAB), code(BATCHES),
        code(training.replace("{count}", CORRECT_COUNT).replace("{epoch_prints}", epoch_prints)),
        code(SIZES.format(hidden_dim=HIDDEN, n_epochs=5)),
        md("## 1. A basic RNN"),
        code(RNN_CLASS), code(RNN_TRAIN), *after_rnn, code(test.format(name="rnn", label="RNN")),
        md("## 2. The advanced model"),
        code(lstm_class), code(lstm_train.format(n_layers=2)), *after_lstm,
        code(test.format(name=advanced, label="BiLSTM")),
        code(predict),
    )


FIXTURES = [
    # ------------------------------------------------------------------ the tutorials as students copy them
    Fixture(
        name="imdb_tutorial_current",
        exercise="imdb",
        source=f"{CURRENT} (its LSTM, predict_sentiment(text, model, tokenizer, vocab, device) -> (class, "
               "probability), tqdm bars, matplotlib plots; a basic RNN copied from its LSTM class); HF datasets and "
               "torchtext replaced by stand-ins over data/imdb, hidden 32, batch 32, 5 epochs",
        band=(10, 10),
        why="Both models trained 5 epochs with every epoch's accuracies and the test accuracy printed; the tutorial's "
            "own predict_sentiment signature must be accepted. Needs matplotlib in the kernel (the course environment).",
        cells=current_tutorial(),
        report_contains=("predict_sentiment(review, model, tokenizer, vocab, device)",),
    ),
    Fixture(
        name="imdb_tutorial_legacy_two_models",
        exercise="imdb",
        source=f"{LEGACY_1} then {LEGACY_2} in one notebook, notebook 1's model named `rnn_model`; torchtext.legacy "
               "and spaCy replaced by a stand-in cell over data/imdb, hidden 32",
        band=(10, 10),
        why="Everything asked is done; notebook 2's predict_sentiment(model, sentence) passes lengths that notebook "
            "1's RNN.forward(text) does not take, which is the tutorial's design, not the student's mistake.",
        cells=legacy_tutorials("rnn_model"),
        report_contains=("the lengths were left out",),
    ),
    Fixture(
        name="imdb_tutorial_legacy_model_overwritten",
        exercise="imdb",
        source=f"{LEGACY_1} then {LEGACY_2} in one notebook, verbatim: both classes are `RNN`, both models `model`; "
               "torchtext.legacy and spaCy replaced by a stand-in cell over data/imdb, hidden 32",
        band=(10, 10),
        why="A TA reading the outputs sees all five items done; the basic RNN object is gone, so what is left (its "
            "class, its 5 printed epochs, its printed test accuracy) is graded and flagged, not failed.",
        cells=legacy_tutorials("model"),
        report_contains=("not re-measured: the model was overwritten",),
    ),
    # ------------------------------------------------------------------ the recipe, reported in other formats
    Fixture(
        name="imdb_keras_style_log",
        exercise="imdb",
        source=f"student variant: {RECIPE}, epochs logged like Keras' model.fit",
        band=(10, 10),
        why="'Epoch 1/5' then '- accuracy: … - val_accuracy: …' is a complete per-epoch report.",
        cells=recipe("IMDb, Keras-style log", epoch_prints=KERAS_EPOCH_PRINTS, test=KERAS_TEST),
    ),
    Fixture(
        name="imdb_dataframe_log",
        exercise="imdb",
        source=f"student variant: {RECIPE}, per-epoch accuracies shown only in a displayed pandas DataFrame",
        band=(10, 10),
        why="A displayed table with an epoch index and train/valid accuracy columns reports every epoch.",
        cells=recipe("IMDb, DataFrame log", epoch_prints="",
                     after_rnn=(code(DATAFRAME.format(name="rnn")),), after_lstm=(code(DATAFRAME.format(name="lstm")),)),
        report_contains=("a displayed table",),
    ),
    Fixture(
        name="imdb_tqdm_postfix_log",
        exercise="imdb",
        source=f"student variant: {RECIPE}, per-epoch accuracies only in tqdm progress-bar postfixes (stderr)",
        band=(10, 10),
        why="The bars' final postfixes (acc=…, val_acc=…) report every epoch; stderr is where tqdm writes.",
        cells=recipe("IMDb, tqdm log", training=TQDM_TRAINING, epoch_prints=""),
        report_contains=("stderr (progress bars)",),
    ),
    # ------------------------------------------------------------------ what the assignment does not accept
    Fixture(
        name="imdb_bidirectional_gru",
        exercise="imdb",
        source=f"student variant: {RECIPE}, the advanced model a 2-layer bidirectional nn.GRU",
        band=(8, 8),
        why="Item 3 asks for a multi-layer bidirectional LSTM; the GRU's per-epoch report, test accuracy and "
            "parameter count are still right, so only item 3 is lost.",
        cells=recipe("IMDb, a bidirectional GRU", lstm_class=GRU_CLASS, lstm_train=GRU_TRAIN, advanced="gru",
                     predict=PREDICT.replace("lstm_model", "gru_model")),
        report_contains=("2-layer bidirectional gru", "not an lstm"),
    ),
    Fixture(
        name="imdb_four_epochs_reported",
        exercise="imdb",
        source=f"student variant: {RECIPE}, the BiLSTM trained and reported for 4 epochs",
        band=(6, 6),
        why="Items 3 and 4 ask for 5 epochs trained and every one of them reported; 4 meet neither.",
        cells=recipe("IMDb, 4 BiLSTM epochs", lstm_train=FOUR_EPOCHS_TRAIN),
        report_contains=("shows 4 epochs", "the exercise asks for 5"),
    ),
    # ------------------------------------------------------------------ the older fixtures (tools/make_imdb_notebooks.py)
    Fixture(
        name="imdb_correct",
        exercise="imdb",
        source="reference recipe, hidden 64, BiLSTM trained first, fractions printed (tools/make_imdb_notebooks.py)",
        band=(10, 10),
        why="Everything asked, in another order and print format.",
        report_contains=("epoch 5 train / valid accuracy",),
    ),
    Fixture(
        name="imdb_one_layer",
        exercise="imdb",
        source="reference recipe, hidden 64, num_layers=1 (tools/make_imdb_notebooks.py)",
        band=(8, 8),
        why="A one-layer BiLSTM is not the multi-layer LSTM item 3 asks for; the rest is right.",
        report_contains=("holds an lstm with num_layers=1",),
    ),
    Fixture(
        name="imdb_rebuilt_model",
        exercise="imdb",
        source="reference recipe, hidden 64, the BiLSTM re-created untrained after testing (tools/make_imdb_notebooks.py)",
        band=(6, 6),
        why="The BiLSTM left in the notebook is untrained: its accuracy misses the bar and the printed 85% is not "
            "reproduced.",
        report_contains=("the printed test accuracy", "is not reproduced: `lstm_model` scores"),
    ),
    Fixture(
        name="imdb_three_epochs",
        exercise="imdb",
        source="reference recipe, hidden 64, N_EPOCHS = 3 (tools/make_imdb_notebooks.py)",
        band=(2, 2),
        why="Both models trained and reported for 3 of the 5 epochs asked: items 1–4 are not met, the parameter "
            "count is.",
        report_contains=("shows 3 epochs", "the exercise asks for 5"),
    ),
    Fixture(
        name="imdb_weights_only_count",
        exercise="imdb",
        source="reference recipe, hidden 64, parameters counted without biases (tools/make_imdb_notebooks.py)",
        band=(8, 8),
        why="The printed count leaves out the bias vectors.",
        report_contains=("leaves out the 2,049 bias values",),
    ),
]
