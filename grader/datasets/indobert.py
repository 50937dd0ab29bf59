"""indobenchmark/indobert-base-p1, staged as an offline Hugging Face cache (HF_HOME) for the kernel.

Full: a snapshot of the model repository from the Hugging Face Hub, every file checked against the hash its
blob is named by. Quick: a tiny BERT stand-in built locally under the same model id — a WordPiece vocabulary
trained with `tokenizers` on the SmSA subset and a 2-layer, 64-wide `BertConfig` — so that a notebook's
unchanged `from_pretrained("indobenchmark/indobert-base-p1")` loads it. Its scores test a pipeline, not IndoBERT.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from pathlib import Path
from typing import Any, Callable

from grader.data import Dataset, DataMissing, register, sha256_of

MODEL_ID = "indobenchmark/indobert-base-p1"
REVISION = "main"
REPO_FOLDER = "models--" + MODEL_ID.replace("/", "--")
ALLOW_PATTERNS = ["config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                  "model.safetensors", "pytorch_model.bin"]
MANIFEST = "MANIFEST.json"
WEIGHTS = "model.safetensors"

# The stand-in: a fixed revision name, so the layout is the same on every machine that builds it; a new recipe
# gets a new name, and a cache built by an older recipe is rebuilt (`synth_version`).
STANDIN_RECIPE = "grader tiny indobert stand-in v2"
STANDIN_REVISION = hashlib.sha1(STANDIN_RECIPE.encode()).hexdigest()
STANDIN_VOCAB_SIZE = 4000
STANDIN_CONFIG = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128,
                  "max_position_embeddings": 512}
# A randomly initialised encoder this small does not move at a fine-tuning learning rate within a few epochs of
# 600 reviews; a short supervised warm-up on the training subset gives it features worth fine-tuning (encoder and
# pooler are kept, the warm-up's head is not saved). IndoBERT takes ~1,700 steps at the tutorial's lr 3e-6; the
# stand-in gets ~95, too few for a classifier head drawn at BERT's usual std 0.02 to outgrow its random start. So
# the stand-in's config draws new heads at std 1e-4: the head's first steps, not its draw, decide its predictions,
# and the IndoNLU example's own settings (Adam, lr 3e-6, 5 epochs) learn as clearly as lr 5e-5 does.
WARMUP = {"epochs": 8, "lr": 1e-3, "batch_size": 32, "seed": 0}
HEAD_INIT_STD = 1e-4
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def hub_dir(root: Path) -> Path:
    """The Hugging Face hub cache inside a staged folder (HF_HOME=root)."""
    return root / "hub"


def snapshot_dir(root: Path) -> Path:
    """The snapshot folder `refs/main` points at, in a staged folder."""
    repo = hub_dir(root) / REPO_FOLDER
    revision = (repo / "refs" / REVISION).read_text().strip()
    return repo / "snapshots" / revision


def manifest(root: Path) -> dict[str, Any]:
    """What was staged: model id, revision, whether it is the stand-in, and the sha256 of each file."""
    return json.loads((root / MANIFEST).read_text())


def kernel_env(staged: Path) -> dict[str, str]:
    """The kernel loads the model from the staged cache and never tries the network."""
    return {"HF_HOME": str(staged), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1"}


def _write_manifest(root: Path, snapshot: Path, standin: bool) -> None:
    files = {path.name: sha256_of(path) for path in sorted(snapshot.iterdir()) if path.is_file()}
    record = {"model_id": MODEL_ID, "revision": snapshot.name, "standin": standin, "files": files}
    (root / MANIFEST).write_text(json.dumps(record, indent=2) + "\n")


# --------------------------------------------------------------------------- fetch (full)

def _git_blob_sha1(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def verify_snapshot(snapshot: Path) -> None:
    """Every file must match the hash its blob is named by: sha256 for LFS files, the git blob sha1 for others."""
    for path in sorted(snapshot.iterdir()):
        if not path.is_symlink():
            continue
        blob = path.resolve().name
        actual = sha256_of(path) if len(blob) == 64 else _git_blob_sha1(path) if len(blob) == 40 else blob
        if actual != blob:
            raise DataMissing(f"{path.name} of {MODEL_ID} does not match its checksum ({actual[:12]}… instead of "
                              f"{blob[:12]}…): delete {path.parents[2]} and fetch again")


def ensure_safetensors(snapshot: Path) -> None:
    """Give a checkpoint published only as pytorch_model.bin a model.safetensors copy (loaded weights-only)."""
    if (snapshot / WEIGHTS).is_file() or not (snapshot / "pytorch_model.bin").is_file():
        return
    import torch
    from safetensors.torch import save_file

    state = torch.load(snapshot / "pytorch_model.bin", map_location="cpu", weights_only=True)
    # Tied weights share storage, which safetensors refuses: store each tensor on its own.
    save_file({name: tensor.clone().contiguous() for name, tensor in state.items()}, str(snapshot / WEIGHTS),
              metadata={"format": "pt"})


def fetch_with(target: Path, snapshot_download: Callable[..., str]) -> None:
    """Snapshot the model into `target`/hub with `snapshot_download` (huggingface_hub's, or a test's)."""
    try:
        path = Path(snapshot_download(repo_id=MODEL_ID, revision=REVISION, cache_dir=str(hub_dir(target)),
                                      allow_patterns=ALLOW_PATTERNS))
    except Exception as error:  # noqa: BLE001 - the hub client raises many types for network/auth problems
        raise DataMissing(f"could not download {MODEL_ID} from the Hugging Face Hub ({type(error).__name__}: "
                          f"{str(error).splitlines()[0] if str(error) else ''}); files already downloaded are kept, "
                          "run the command again") from None
    verify_snapshot(path)
    ensure_safetensors(path)
    if not (path / WEIGHTS).is_file() or not (path / "config.json").is_file():
        raise DataMissing(f"the {MODEL_ID} snapshot has no config.json and weights")
    _write_manifest(target, path, standin=False)


def fetch(target: Path) -> None:
    from huggingface_hub import snapshot_download

    fetch_with(target, snapshot_download)


# --------------------------------------------------------------------------- synth (quick)

def _train_vocab(texts: list[str]) -> list[str]:
    from tokenizers import BertWordPieceTokenizer

    trainer = BertWordPieceTokenizer(lowercase=True)
    trainer.train_from_iterator(texts, vocab_size=STANDIN_VOCAB_SIZE, min_frequency=2, special_tokens=SPECIAL_TOKENS,
                                show_progress=False)
    vocab = trainer.get_vocab()
    return sorted(vocab, key=vocab.__getitem__)


def _write_tokenizer(snapshot: Path, vocab: list[str]) -> None:
    """The files IndoBERT's repository has: vocab.txt, tokenizer_config.json, special_tokens_map.json."""
    (snapshot / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    config = {"do_lower_case": True, "tokenizer_class": "BertTokenizer",
              "model_max_length": STANDIN_CONFIG["max_position_embeddings"]}
    (snapshot / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    specials = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                "mask_token": "[MASK]"}
    (snapshot / "special_tokens_map.json").write_text(json.dumps(specials, indent=2) + "\n")


def _batches(rows: list[tuple[list[int], int]], size: int, rng: random.Random):
    import torch  # here, not at the top: registering the dataset (every `grader grade`) must not load torch

    order = list(range(len(rows)))
    rng.shuffle(order)
    for start in range(0, len(order), size):
        batch = [rows[index] for index in order[start:start + size]]
        width = max(len(ids) for ids, _ in batch)
        ids = torch.tensor([ids + [0] * (width - len(ids)) for ids, _ in batch])
        yield ids, (ids != 0).long(), torch.tensor([label for _, label in batch])


def _warm_up_encoder(snapshot: Path, vocab_size: int, rows: list[tuple[list[int], int]]) -> None:
    """Train encoder + a throwaway head on the training subset; save the encoder and pooler (a BertModel)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(WARMUP["seed"])
    config = BertConfig(vocab_size=vocab_size, num_labels=3, **STANDIN_CONFIG)
    model = BertForSequenceClassification(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=WARMUP["lr"])
    rng = random.Random(WARMUP["seed"])
    model.train()
    for _ in range(WARMUP["epochs"]):
        for ids, mask, labels in _batches(rows, WARMUP["batch_size"], rng):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.bert.config.initializer_range = HEAD_INIT_STD
    model.bert.save_pretrained(snapshot)


def synth(target: Path) -> None:
    """Build the tiny stand-in under the real model id, in the hub cache layout, from the shipped SmSA subset."""
    from transformers import BertTokenizer

    from grader.datasets.smsa import SUBSET, read_tsv

    repo = hub_dir(target) / REPO_FOLDER
    shutil.rmtree(repo, ignore_errors=True)  # a stand-in built by an older recipe
    snapshot = repo / "snapshots" / STANDIN_REVISION
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / REVISION).write_text(STANDIN_REVISION)
    texts = [text for path in sorted(SUBSET.glob("*.tsv")) for text, _ in read_tsv(path)]
    vocab = _train_vocab(texts)
    _write_tokenizer(snapshot, vocab)
    tokenizer = BertTokenizer.from_pretrained(str(snapshot))
    label_index = {"positive": 0, "neutral": 1, "negative": 2}
    rows = [(tokenizer(text, truncation=True, max_length=STANDIN_CONFIG["max_position_embeddings"])["input_ids"],
             label_index[label]) for text, label in read_tsv(SUBSET / "train_preprocess.tsv")]
    _warm_up_encoder(snapshot, len(vocab), rows)
    _write_manifest(target, snapshot, standin=True)


register(Dataset(
    name="indobert",
    description=f"{MODEL_ID} as an offline Hugging Face cache; quick: a tiny BERT stand-in under the same id",
    fetch=fetch,
    synth=synth,
    kernel_env=kernel_env,
    synth_version=STANDIN_REVISION,
))
