"""Build the IndoBERT exercise notebooks: the reference, example submissions and test fixtures.

Run from the repository root:

    python tools/make_indobert_notebooks.py
    python tools/make_indobert_notebooks.py --subset ../shared/data/smsa   # rebuild the shipped SmSA subset

Every notebook is written without outputs (the grader executes them); re-running rewrites identical files.

    reference/indobert.ipynb
    submissions/<student_id>/indobert.ipynb
    tests/fixtures/notebooks/indobert_<scenario>.ipynb
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "reference"
SUBMISSIONS = ROOT / "submissions"
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
SUBSET = ROOT / "grader" / "datasets" / "smsa_subset"
SUBSET_SIZES = {"train_preprocess.tsv": 600, "valid_preprocess.tsv": 200, "test_preprocess_masked_label.tsv": 100}
SUBSET_MAX_WORDS = 40  # two thirds of SmSA's reviews; shorter sequences keep quick mode quick

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}

INTRO = """\
# Fine-tuning IndoBERT for sentiment analysis (SmSA)

Following the IndoNLU tutorial: fine-tune `indobenchmark/indobert-base-p1` to classify Indonesian reviews
as positive, neutral or negative. The data is in `data/smsa/` (`text<TAB>label`, no header)."""

IMPORTS = """\
import random

import numpy as np
import torch
from torch import optim
from torch.utils.data import DataLoader, Dataset
from transformers import BertForSequenceClassification, BertTokenizer


def set_seed(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


set_seed(19072021)
device = "cuda" if torch.cuda.is_available() else "cpu"
"""

DATASET = """\
class DocumentSentimentDataset(Dataset):
    # Static constant variable
    LABEL2INDEX = {'positive': 0, 'neutral': 1, 'negative': 2}
    INDEX2LABEL = {0: 'positive', 1: 'neutral', 2: 'negative'}
    NUM_LABELS = 3

    def load_dataset(self, path):
        rows = []
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    text, label = line.rstrip("\\n").rsplit("\\t", 1)
                    rows.append((text, self.LABEL2INDEX[label]))
        return rows

    def __init__(self, dataset_path, tokenizer, no_special_token=False):
        self.data = self.load_dataset(dataset_path)
        self.tokenizer = tokenizer
        self.no_special_token = no_special_token

    def __getitem__(self, index):
        text, sentiment = self.data[index]
        subwords = self.tokenizer.encode(text, add_special_tokens=not self.no_special_token)
        return np.array(subwords), np.array(sentiment), text

    def __len__(self):
        return len(self.data)


class DocumentSentimentDataLoader(DataLoader):
    def __init__(self, max_seq_len=512, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.collate_fn = self._collate_fn
        self.max_seq_len = max_seq_len

    def _collate_fn(self, batch):
        batch_size = len(batch)
        max_seq_len = min(self.max_seq_len, max(len(subwords) for subwords, _, _ in batch))
        subword_batch = np.zeros((batch_size, max_seq_len), dtype=np.int64)
        mask_batch = np.zeros((batch_size, max_seq_len), dtype=np.float32)
        sentiment_batch = np.zeros((batch_size, 1), dtype=np.int64)
        seq_list = []
        for i, (subwords, sentiment, raw_seq) in enumerate(batch):
            subwords = subwords[:max_seq_len]
            subword_batch[i, :len(subwords)] = subwords
            mask_batch[i, :len(subwords)] = 1
            sentiment_batch[i, 0] = sentiment
            seq_list.append(raw_seq)
        return subword_batch, mask_batch, sentiment_batch, seq_list
"""

METRICS = """\
def document_sentiment_metrics_fn(list_hyp, list_label):
    \"\"\"Accuracy and macro F1 / recall / precision over the three labels (as scikit-learn's average='macro').\"\"\"
    hyp, label = np.array(list_hyp), np.array(list_label)
    f1s, recalls, precisions = [], [], []
    for c in range(DocumentSentimentDataset.NUM_LABELS):
        hits = np.sum((hyp == c) & (label == c))
        precision = hits / np.sum(hyp == c) if np.sum(hyp == c) else 0.0
        recall = hits / np.sum(label == c) if np.sum(label == c) else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
        recalls.append(recall)
        precisions.append(precision)
    return {"ACC": float(np.mean(hyp == label)), "F1": float(np.mean(f1s)),
            "REC": float(np.mean(recalls)), "PRE": float(np.mean(precisions))}


def metrics_to_string(metric_dict):
    return " ".join(f"{key}:{value:.2f}" for key, value in metric_dict.items())
"""

MODEL = """\
tokenizer = BertTokenizer.from_pretrained("indobenchmark/indobert-base-p1")
model = BertForSequenceClassification.from_pretrained("indobenchmark/indobert-base-p1",
                                                      num_labels=DocumentSentimentDataset.NUM_LABELS)
model = model.to(device)
print(f"{sum(p.numel() for p in model.parameters()):,} parameters")
"""

LOADERS = """\
train_dataset = DocumentSentimentDataset("data/smsa/train_preprocess.tsv", tokenizer)
valid_dataset = DocumentSentimentDataset("data/smsa/valid_preprocess.tsv", tokenizer)
train_loader = DocumentSentimentDataLoader(dataset=train_dataset, max_seq_len=512, batch_size=32, shuffle=True)
valid_loader = DocumentSentimentDataLoader(dataset=valid_dataset, max_seq_len=512, batch_size=32, shuffle=False)
print(len(train_dataset), "training reviews,", len(valid_dataset), "validation reviews")
"""

FORWARD = """\
def forward_sequence_classification(model, batch_data, device):
    \"\"\"Loss, predicted and true label indices for one batch.\"\"\"
    subword_batch, mask_batch, label_batch, _ = batch_data
    subword_batch = torch.as_tensor(subword_batch, device=device)
    mask_batch = torch.as_tensor(mask_batch, device=device)
    label_batch = torch.as_tensor(label_batch, device=device)
    outputs = model(subword_batch, attention_mask=mask_batch, labels=label_batch)
    loss, logits = outputs[:2]
    hyp = torch.argmax(logits, dim=-1).tolist()
    return loss, hyp, label_batch[:, 0].tolist()
"""

TRAIN = """\
optimizer = optim.Adam(model.parameters(), lr=5e-5)
n_epochs = 5

for epoch in range(n_epochs):
    model.train()
    total_train_loss = 0
    list_hyp, list_label = [], []
    for i, batch_data in enumerate(train_loader):
        loss, batch_hyp, batch_label = forward_sequence_classification(model, batch_data, device)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_train_loss += loss.item()
        list_hyp += batch_hyp
        list_label += batch_label
    metrics = document_sentiment_metrics_fn(list_hyp, list_label)
    print("(Epoch {}) TRAIN LOSS:{:.4f} {} LR:{:.8f}".format(epoch + 1, total_train_loss / (i + 1),
                                                           metrics_to_string(metrics), optimizer.param_groups[0]["lr"]))

    model.eval()
    total_loss = 0
    list_hyp, list_label = [], []
    with torch.no_grad():
        for i, batch_data in enumerate(valid_loader):
            loss, batch_hyp, batch_label = forward_sequence_classification(model, batch_data, device)
            total_loss += loss.item()
            list_hyp += batch_hyp
            list_label += batch_label
    metrics = document_sentiment_metrics_fn(list_hyp, list_label)
    print("(Epoch {}) VALID LOSS:{:.4f} {}".format(epoch + 1, total_loss / (i + 1), metrics_to_string(metrics)))
"""

EXAMPLES = """\
model.eval()
for text in ["Bahagia hatiku melihat pernikahan putri sulungku yang cantik jelita",
             "Budi pergi ke pondok indah mall membeli cakwe",
             "Dasar anak sialan!! Kurang ajar!!"]:
    subwords = torch.as_tensor(tokenizer.encode(text), device=device).view(1, -1)
    with torch.no_grad():
        label = torch.argmax(model(subwords).logits, dim=-1).item()
    print(f"{text} | {DocumentSentimentDataset.INDEX2LABEL[label]}")
"""


def notebook(*cells: str) -> nbformat.NotebookNode:
    """A notebook: the introduction, then one code cell per snippet."""
    book = new_notebook(cells=[new_markdown_cell(INTRO)] + [new_code_cell(source.rstrip("\n")) for source in cells])
    book.metadata["kernelspec"] = KERNELSPEC
    return book


def replaced(source: str, old: str, new: str) -> str:
    """`source` with `old` (which must occur) replaced by `new`."""
    if old not in source:
        raise ValueError(f"snippet does not contain {old!r}")
    return source.replace(old, new)


def reference() -> nbformat.NotebookNode:
    return notebook(IMPORTS, DATASET, METRICS, MODEL, LOADERS, FORWARD, TRAIN, EXAMPLES)


def auto_classes() -> nbformat.NotebookNode:
    """Correct: AutoTokenizer / AutoModelForSequenceClassification, tokenizer(...) with truncation in the dataset."""
    imports = replaced(IMPORTS, "from transformers import BertForSequenceClassification, BertTokenizer",
                       "from transformers import AutoModelForSequenceClassification, AutoTokenizer")
    dataset = replaced(DATASET, "subwords = self.tokenizer.encode(text, add_special_tokens=not self.no_special_token)",
                       "subwords = self.tokenizer(text, truncation=True, max_length=512)[\"input_ids\"]")
    model = replaced(replaced(MODEL, "BertTokenizer.from_pretrained", "AutoTokenizer.from_pretrained"),
                     "model = BertForSequenceClassification.from_pretrained(\"indobenchmark/indobert-base-p1\",\n"
                     "                                                      num_labels",
                     "model = AutoModelForSequenceClassification.from_pretrained(\"indobenchmark/indobert-base-p1\",\n"
                     "                                                           num_labels")
    return notebook(imports, dataset, METRICS, model, LOADERS, FORWARD, TRAIN)


ALPHABETICAL = ("LABEL2INDEX = {'negative': 0, 'neutral': 1, 'positive': 2}",
                "INDEX2LABEL = {0: 'negative', 1: 'neutral', 2: 'positive'}")


def _alphabetical_dataset() -> str:
    dataset = replaced(DATASET, "LABEL2INDEX = {'positive': 0, 'neutral': 1, 'negative': 2}", ALPHABETICAL[0])
    return replaced(dataset, "INDEX2LABEL = {0: 'positive', 1: 'neutral', 2: 'negative'}", ALPHABETICAL[1])


def own_label_order() -> nbformat.NotebookNode:
    """Correct: alphabetical label indices, declared in the model's config (id2label / label2id)."""
    model = replaced(MODEL, "num_labels=DocumentSentimentDataset.NUM_LABELS)",
                     "num_labels=DocumentSentimentDataset.NUM_LABELS,\n"
                     "                                                      id2label=DocumentSentimentDataset.INDEX2LABEL,\n"
                     "                                                      label2id=DocumentSentimentDataset.LABEL2INDEX)")
    return notebook(IMPORTS, _alphabetical_dataset(), METRICS, model, LOADERS, FORWARD, TRAIN)


def wrong_label_mapping() -> nbformat.NotebookNode:
    """Wrong: alphabetical label indices, but the config keeps the default LABEL_0.. names."""
    return notebook(IMPORTS, _alphabetical_dataset(), METRICS, MODEL, LOADERS, FORWARD, TRAIN)


def no_optimizer_step() -> nbformat.NotebookNode:
    """Wrong: computes gradients every batch but never calls optimizer.step(); prints its (unchanged) metrics."""
    train = replaced(TRAIN, "        loss.backward()\n        optimizer.step()\n", "        loss.backward()\n")
    return notebook(IMPORTS, DATASET, METRICS, MODEL, LOADERS, FORWARD, train)


def fabricated_f1() -> nbformat.NotebookNode:
    """Trains correctly but prints a made-up validation F1."""
    train = replaced(TRAIN, 'print("(Epoch {}) VALID LOSS:{:.4f} {}".format(',
                     'metrics["F1"] = 0.97\n'
                     '    print("(Epoch {}) VALID LOSS:{:.4f} {}".format(')
    return notebook(IMPORTS, DATASET, METRICS, MODEL, LOADERS, FORWARD, train)


def crash_midway() -> nbformat.NotebookNode:
    """Crashes at the 11th batch of epoch 1 (a log line uses an undefined scheduler): partial credit for what ran."""
    train = replaced(TRAIN, "        total_train_loss += loss.item()\n",
                     "        total_train_loss += loss.item()\n"
                     "        if i == 10:\n"
                     "            print(f\"batch {i}: loss {loss.item():.4f}, lr {scheduler.get_last_lr()[0]:.2e}\")\n")
    return notebook(IMPORTS, DATASET, METRICS, MODEL, LOADERS, FORWARD, train)


def two_labels() -> nbformat.NotebookNode:
    """Wrong: num_labels=2 (no room for three labels); training crashes on the first batch holding label 2."""
    model = replaced(MODEL, "num_labels=DocumentSentimentDataset.NUM_LABELS", "num_labels=2")
    return notebook(IMPORTS, DATASET, METRICS, model, LOADERS, FORWARD, TRAIN)


SUBMISSION_NOTEBOOKS = {
    "adi_slides": auto_classes,
    "budi_vectorised": own_label_order,
    "wati_no_step": no_optimizer_step,
    "yoga_label_order": wrong_label_mapping,
}

# The correct case is reference/indobert.ipynb itself (tests grade it directly).
FIXTURE_NOTEBOOKS = {
    "own_label_order": own_label_order,
    "no_optimizer_step": no_optimizer_step,
    "wrong_label_mapping": wrong_label_mapping,
    "fabricated_f1": fabricated_f1,
    "crash_midway": crash_midway,
    "two_labels": two_labels,
}


def stratified_lines(lines: list[str], count: int, seed: int) -> list[str]:
    """`count` lines keeping each label's share of `lines`, in their original order."""
    by_label: dict[str, list[int]] = {}
    for index, line in enumerate(lines):
        by_label.setdefault(line.rpartition("\t")[2], []).append(index)
    shares = {label: round(count * len(indices) / len(lines)) for label, indices in by_label.items()}
    largest = max(by_label, key=lambda label: len(by_label[label]))
    shares[largest] += count - sum(shares.values())
    rng = random.Random(seed)
    chosen = [index for label in sorted(by_label) for index in rng.sample(by_label[label], shares[label])]
    return [lines[index] for index in sorted(chosen)]


def make_subset(source: Path) -> None:
    """Write the quick-mode SmSA subset from the full files in `source` (run once; the result is committed)."""
    for seed, (name, count) in enumerate(SUBSET_SIZES.items()):
        lines = [line for line in (source / name).read_text(encoding="utf-8").splitlines()
                 if line.strip() and len(line.rpartition("\t")[0].split()) <= SUBSET_MAX_WORDS]
        (SUBSET / name).write_text("\n".join(stratified_lines(lines, count, seed)) + "\n", encoding="utf-8")


def write(book: nbformat.NotebookNode, path: Path) -> None:
    """Validate and write a notebook; cell ids are made deterministic so re-runs give identical files."""
    for number, cell in enumerate(book.cells, start=1):
        cell["id"] = f"cell-{number:02d}"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(book)
    nbformat.write(book, str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", type=Path, help="folder with the full SmSA files: rebuild the shipped subset")
    args = parser.parse_args()
    if args.subset:
        make_subset(args.subset)
        return
    write(reference(), REFERENCE / "indobert.ipynb")
    for student, build in SUBMISSION_NOTEBOOKS.items():
        write(build(), SUBMISSIONS / student / "indobert.ipynb")
    for scenario, build in FIXTURE_NOTEBOOKS.items():
        write(build(), FIXTURES / f"indobert_{scenario}.ipynb")


if __name__ == "__main__":
    main()
