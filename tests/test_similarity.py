"""Similarity: copied notebooks are flagged (renamed variables, reordered cells), honest ones and the course's own
code are not, the threshold is the rubric's, and grader similarity writes its CSV and HTML from stored results."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader import cli
from grader.course import SOURCE_ROOT, Course
from grader.report import load_results, write_result
from grader.results import GradeResult
from grader.rubric import RubricError, SimilaritySpec, parse_rubric
from grader.similarity import Source, class_similarity, compare, course_code, notebook_code

# The slides' code (course_code/slides_dl_nlp.py): every student pastes it.
SLIDES = '''\
import torch
import torch.nn as nn

class Linear(nn.Module):
    def __init__(self, n_inputs, n_outputs):
        super().__init__()
        self.n_inputs = n_inputs
        self.n_outputs = n_outputs
        self.W = nn.Parameter(torch.Tensor(self.n_inputs, self.n_outputs))
        self.init_weights()

    def init_weights(self):
        for param in self.parameters():
            nn.init.uniform_(param, -0.1, 0.1)

    def forward(self, x):
        return x @ self.W
'''

# One student's own solution, in three cells: a windowing helper, the layer, a check against torch.
ORIGINAL = (
    '''\
def sliding_windows(signal, width):
    """All windows of `width` positions of a zero-padded signal: [batch, length, channels * width]."""
    half = width // 2
    padded = torch.nn.functional.pad(signal, (half, half))
    pieces = [padded[:, :, start:start + width] for start in range(signal.shape[2])]
    stacked = torch.stack(pieces, dim=1)
    return stacked.reshape(signal.shape[0], signal.shape[2], -1)
''',
    '''\
class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.kernel_width = kernel_width
        self.weights = nn.Parameter(torch.empty(in_channels * kernel_width, out_channels))
        self.offsets = nn.Parameter(torch.zeros(out_channels))
        nn.init.kaiming_uniform_(self.weights, a=5 ** 0.5)

    def forward(self, signal):
        windows = sliding_windows(signal, self.kernel_width)
        scores = windows @ self.weights + self.offsets
        return scores.permute(0, 2, 1).contiguous()
''',
    '''\
layer = Conv1D(3, 8, 5)
batch = torch.randn(4, 3, 20)
expected = nn.functional.conv1d(batch, layer.weights.T.reshape(8, 5, 3).permute(0, 2, 1), layer.offsets, padding=2)
print("max difference", (layer(batch) - expected).abs().max().item())
assert layer(batch).shape == (4, 8, 20), layer(batch).shape
''',
)

# The same three cells with every name changed, comments added, and the cells in another order.
RENAMED = (
    '''\
# my test
conv = Conv1D(3, 8, 5)
xs = torch.randn(4, 3, 20)
target = nn.functional.conv1d(xs, conv.W_k.T.reshape(8, 5, 3).permute(0, 2, 1), conv.b_k, padding=2)
print("max difference", (conv(xs) - target).abs().max().item())
assert conv(xs).shape == (4, 8, 20), conv(xs).shape
''',
    '''\
class Conv1D(nn.Module):
    def __init__(self, cin, cout, k):
        super().__init__()
        self.k = k  # kernel size
        self.W_k = nn.Parameter(torch.empty(cin * k, cout))
        self.b_k = nn.Parameter(torch.zeros(cout))
        nn.init.kaiming_uniform_(self.W_k, a=5 ** 0.5)

    def forward(self, inp):
        win = make_patches(inp, self.k)
        out = win @ self.W_k + self.b_k
        return out.permute(0, 2, 1).contiguous()
''',
    '''\
def make_patches(seq, k):
    """patches"""
    p = k // 2
    seq_p = torch.nn.functional.pad(seq, (p, p))
    parts = [seq_p[:, :, s:s + k] for s in range(seq.shape[2])]
    st = torch.stack(parts, dim=1)
    return st.reshape(seq.shape[0], seq.shape[2], -1)
''',
)

# Two students who wrote their own, differently.
HONEST_EINSUM = (
    '''\
class Conv1D(nn.Module):
    """One einsum per kernel offset over shifted copies of the padded input, summed."""

    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.kernel_width = kernel_width
        self.weight = nn.Parameter(torch.randn(kernel_width, out_channels, in_channels) * 0.1)

    def forward(self, x):
        length = x.shape[-1]
        half = self.kernel_width // 2
        padded = nn.functional.pad(x, (half, half))
        out = 0
        for offset in range(self.kernel_width):
            out = out + torch.einsum("bcl,oc->bol", padded[:, :, offset:offset + length], self.weight[offset])
        return out
''',
    '''\
conv = Conv1D(2, 4, 3)
print(conv(torch.ones(1, 2, 7)).shape)
''',
)

HONEST_LOOPS = (
    '''\
class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.out_channels = out_channels
        self.kernel_width = kernel_width
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_width) * 0.1)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x):
        batch, channels, length = x.shape
        half = self.kernel_width // 2
        padded = torch.zeros(batch, channels, length + 2 * half)
        padded[:, :, half:half + length] = x
        columns = []
        for position in range(length):
            window = padded[:, :, position:position + self.kernel_width]
            values = [(window * self.weight[o]).sum(dim=(1, 2)) + self.bias[o] for o in range(self.out_channels)]
            columns.append(torch.stack(values, dim=1))
        return torch.stack(columns, dim=2)
''',
    '''\
for width in (1, 3, 5):
    model = Conv1D(3, 2, width)
    result = model(torch.randn(2, 3, 9))
    print(width, tuple(result.shape))
''',
)

HONEST_UNFOLD = (
    '''\
class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.k = kernel_width
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels * kernel_width) * 0.1)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x):
        half = self.k // 2
        windows = nn.functional.pad(x, (half, half)).unfold(2, self.k, 1)
        windows = windows.permute(0, 2, 1, 3).flatten(2)
        return (windows @ self.weight.T + self.bias).transpose(1, 2)
''',
)

CLASS = {"ana": ORIGINAL, "bima": RENAMED, "cici": HONEST_EINSUM, "dodi": HONEST_LOOPS, "eka": HONEST_UNFOLD}


def notebook_bytes(cells: tuple[str, ...], slides: bool = True) -> bytes:
    document = nbformat.v4.new_notebook()
    document.cells = [nbformat.v4.new_markdown_cell("# Conv1D from scratch")]
    document.cells += [nbformat.v4.new_code_cell(SLIDES)] if slides else []
    document.cells += [nbformat.v4.new_code_cell("!pip install torch")]
    document.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    return nbformat.writes(document).encode()


def compared(sources: dict[str, tuple[str, ...]], spec: SimilaritySpec = SimilaritySpec()):
    class_sources = [Source(student, notebook_code(notebook_bytes(cells))) for student, cells in sources.items()]
    return compare("conv1d", "Conv1D", class_sources, course_code(SOURCE_ROOT, "conv1d"), spec)


def test_copied_notebook_is_flagged_and_honest_ones_are_not():
    outcome = compared(CLASS)
    flagged = [(pair.student_a, pair.student_b) for pair in outcome.flagged]
    assert flagged == [("ana", "bima")]
    pair = outcome.flagged[0]
    assert pair.similarity >= 0.8 and "<mark>" in pair.code_a and "<mark>" in pair.code_b
    assert "make_patches" in pair.code_b  # the passages are shown as the student wrote them
    honest = [p.similarity for p in outcome.pairs if (p.student_a, p.student_b) != ("ana", "bima")]
    assert max(honest) < 0.5, outcome.pairs


def test_a_class_of_one_has_no_pair_and_is_not_fingerprinted():
    student, cells = next(iter(CLASS.items()))
    outcome = compared({student: cells})
    assert outcome.pairs == [] and outcome.compared == []
    assert outcome.skipped == [f"{student}: the only notebook of this exercise, so there is no pair to compare"]


def test_the_slides_code_everyone_pastes_is_not_flagged():
    only_slides = {"fina": (), "gani": (), "hadi": ("print('hello')",)}
    outcome = compared({**only_slides, "cici": HONEST_EINSUM, "dodi": HONEST_LOOPS})
    assert outcome.flagged == []
    assert {line.split(":")[0] for line in outcome.skipped} == set(only_slides)
    assert "too little code of their own" in outcome.skipped[0]


def test_the_rubric_threshold_decides_the_flag():
    strict = compared(CLASS, SimilaritySpec(threshold=0.1))
    assert len(strict.flagged) > 1
    lenient = compared(CLASS, SimilaritySpec(threshold=1.0))
    assert all(pair.similarity >= 1.0 for pair in lenient.flagged)


SCORES_OF_THIS_PROCESS = """
import json, sys
sys.path.insert(0, "tests")
from test_similarity import CLASS, compared
print(json.dumps([[pair.student_a, pair.student_b, pair.similarity] for pair in compared(CLASS).pairs]))
"""


def test_scores_are_the_same_in_every_process():
    """Python salts hash() per process (PYTHONHASHSEED): fingerprints built on it changed a class's scores, and which
    pairs were flagged, from one run to the next."""
    runs = []
    for seed in ("1", "4"):
        environment = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", SCORES_OF_THIS_PROCESS], capture_output=True, text=True,
                              env=environment, cwd=Path(__file__).parent.parent, check=True)
        runs.append(json.loads(done.stdout))
    assert runs[0] == runs[1]
    assert runs[0] == [[pair.student_a, pair.student_b, pair.similarity] for pair in compared(CLASS).pairs]


def test_similarity_settings_are_validated():
    rubric = {"exercise": "conv1d", "title": "t", "checks": [{"id": "a", "title": "a", "points": 1, "type": "x"}]}
    assert parse_rubric({**rubric, "similarity": {"threshold": 0.7}}, "r.yaml").similarity.threshold == 0.7
    with pytest.raises(RubricError) as error:
        parse_rubric({**rubric, "similarity": {"threshold": 1.5}}, "r.yaml")
    assert error.value.lines == ["r.yaml: similarity.threshold: Input should be less than or equal to 1"]
    with pytest.raises(RubricError, match="similarity.cutoff: unknown key"):
        parse_rubric({**rubric, "similarity": {"cutoff": 0.5}}, "r.yaml")


def stored_class(tmp_path: Path) -> Path:
    """Graded results of CLASS (written as JSON, nothing run), their notebooks under tmp_path/submissions."""
    out = tmp_path / "reports"
    for student, cells in {**CLASS, "fina": ()}.items():
        notebook = tmp_path / "submissions" / student / "conv1d.ipynb"
        notebook.parent.mkdir(parents=True)
        notebook.write_bytes(notebook_bytes(cells))
        write_result(out, GradeResult(student=student, exercise="conv1d", status="graded", score=80, max_score=100,
                                      notebook=str(notebook)))
    write_result(out, GradeResult(student="gani", exercise="conv1d", status="not_submitted", max_score=100))
    return out


def test_a_notebook_changed_since_grading_is_not_compared(tmp_path):
    out = stored_class(tmp_path)
    results, _ = load_results(out)
    ana = next(result for result in results if result.student == "ana")
    ana.notebook_sha256 = "0" * 64
    outcome = class_similarity([ana, *(r for r in results if r.student != "ana")], {"conv1d": Course.load(
        SOURCE_ROOT, check_types=False).rubrics["conv1d"]}, SOURCE_ROOT)[0]
    assert f"ana: {ana.notebook} changed since it was graded (grade it again)" in outcome.skipped
    assert outcome.flagged == []


def test_grader_similarity_writes_csv_html_and_flags_on_the_index(tmp_path):
    out = stored_class(tmp_path)
    assert cli.main(["--course", str(SOURCE_ROOT), "similarity", "--out", str(out)]) == 0
    with (out / "similarity.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 10  # 5 notebooks with code of their own compared pairwise; fina's and gani's are not
    flagged = [(row["student_a"], row["student_b"]) for row in rows if row["flagged"] == "1"]
    assert flagged == [("ana", "bima")]
    page = (out / "similarity.html").read_text()
    assert "ana ↔ bima" in page and "<mark>" in page and "fina: too little code of their own" in page
    assert 'href="ana/conv1d.html"' in page
    index = (out / "index.html").read_text()
    assert 'data-similar="bima' in index and 'href="similarity.html#conv1d' in index
