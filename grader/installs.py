"""What a notebook asks of its environment: `!pip install` lines and imports of packages the kernel lacks.

Kernels have no network, so `!pip install …` lines (and `%pip`, `python -m pip`, `uv pip`, in `%%bash` cells too)
are replaced before the notebook runs by a line that prints why they were skipped and whether each package is in
the grading environment; the grader records each one for the report. The decision is made here, from the
notebook's text and the grader's own view of the environment: nothing the notebook runs takes part in it, and the
printed line is a string literal (`repr`) or a quoted shell word, never the student's text as code.

A cell that fails with `ModuleNotFoundError` gets a sentence saying which package the grading environment lacks
and how the TA adds it.
"""

from __future__ import annotations

import copy
import importlib.machinery
import re
import shlex
import sys
import sysconfig
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.kernel_env import BUILD_COMMAND, REQUIREMENTS_FILE, KernelEnv, grader_site_dirs, normalize
from grader.results import CellRecord, ExecutionRecord, GradeResult, SkippedLine

PIP = r"(?:sudo\s+)?(?:uv\s+)?(?:(?:\{[^}]*\}|\S*python[\d.]*)\s+-m\s+)?pip[\d.]*(?:\s+-{1,2}[\w-]+)*\s+install\b"
PYTHON_PIP_LINE = re.compile(rf"^(?P<indent>[ \t]*)[!%]\s*{PIP}(?P<args>.*)$")
SHELL_PIP_LINE = re.compile(rf"^(?P<indent>[ \t]*){PIP}(?P<args>.*)$")
SHELL_CELLS = re.compile(r"^%%(?:bash|sh|script\s+(?:ba)?sh)\b")
PYTHON_CELLS = re.compile(r"^%%(?:capture|time|timeit)\b")
# pip options that take a value: the value is no package.
VALUED_OPTIONS = {"-r", "--requirement", "-c", "--constraint", "-i", "--index-url", "--extra-index-url", "-f",
                  "--find-links", "-t", "--target", "--prefix", "--root", "--upgrade-strategy", "--platform",
                  "--python-version", "--only-binary", "--no-binary", "--progress-bar", "--trusted-host",
                  "--cache-dir", "--src", "--log", "--timeout", "--retries", "-C", "--config-settings", "--abi",
                  "--implementation", "-e", "--editable"}
SHELL_OPERATORS = re.compile(r"^(?:&&|\|\||;|\||&|\d?>.*|&>.*|>.*|<.*)$")
COMMAND_CAP = 160
MISSING_MODULE = re.compile(r"No module named '([^']+)'")
# Import names that differ from the name to install (PyPI names).
MODULE_PACKAGES = {
    "sklearn": "scikit-learn", "cv2": "opencv-python", "PIL": "pillow", "skimage": "scikit-image", "yaml": "pyyaml",
    "bs4": "beautifulsoup4", "dateutil": "python-dateutil", "dotenv": "python-dotenv", "attr": "attrs",
    "Crypto": "pycryptodome", "docx": "python-docx", "fitz": "pymupdf", "umap": "umap-learn", "jwt": "pyjwt",
    "Levenshtein": "levenshtein", "Sastrawi": "PySastrawi", "mpl_toolkits": "matplotlib", "IPython": "ipython",
    "serial": "pyserial", "sentence_transformers": "sentence-transformers", "huggingface_hub": "huggingface-hub",
    "pytorch_lightning": "pytorch-lightning", "lightning_fabric": "lightning-fabric", "google.protobuf": "protobuf",
}
# Import names that are PyPI names too: a missing one is surely a package (another name may be the student's own file).
KNOWN_PACKAGES = {
    "numpy", "pandas", "scipy", "matplotlib", "seaborn", "nltk", "tqdm", "ipywidgets", "transformers", "accelerate",
    "datasets", "evaluate", "tokenizers", "sentencepiece", "safetensors", "peft", "einops", "timm", "torchmetrics",
    "tensorflow", "keras", "jax", "gensim", "spacy", "wandb", "emoji", "wordcloud", "plotly", "xgboost", "lightgbm",
    "statsmodels", "sympy", "networkx", "requests", "openpyxl", "seqeval", "jieba", "lightning", "kaggle", "gdown",
}
# Built for one torch release: they belong in the grader's own environment, installed the way torch was.
TORCH_COMPANIONS = {"torchvision", "torchaudio", "torchtext", "torchdata"}


@dataclass(frozen=True)
class _Request:
    """One thing a pip line asks for: a package name with what it asks of the version, or something else."""

    text: str
    name: str = ""
    specifier: str = ""


def _tokens(args: str) -> list[str]:
    try:
        return shlex.split(args, comments=True)
    except ValueError:
        return args.split()


def requests_of(args: str) -> list[_Request]:
    """What a pip install command line asks for, up to the first shell operator."""
    found: list[_Request] = []
    tokens = iter(_tokens(args))
    for token in tokens:
        if SHELL_OPERATORS.match(token):
            break
        if token in ("-r", "--requirement"):
            found.append(_Request(f"the requirements in {next(tokens, '?')}"))
        elif token in ("-e", "--editable"):
            found.append(_Request(next(tokens, "?")))
        elif token in VALUED_OPTIONS:
            next(tokens, None)
        elif not token.startswith("-"):
            found.append(_parse_request(token))
    return found


def _parse_request(token: str) -> _Request:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        requirement = Requirement(token)
    except InvalidRequirement:
        return _Request(token)
    if requirement.url:
        return _Request(token)
    return _Request(token, requirement.name, str(requirement.specifier))


def _request_sentence(request: _Request, env: KernelEnv) -> str:
    if not request.name:
        return f"{request.text} cannot be installed while grading"
    found = env.version(request.name)
    if found is None:
        if env.listed(request.name):
            return (f"{request.name} is listed in {REQUIREMENTS_FILE} but the kernel environment is not built "
                    f"(`{BUILD_COMMAND}`)")
        return f"{request.name} is not (the TA adds it to {REQUIREMENTS_FILE} and runs `{BUILD_COMMAND}`)"
    version = found[0]
    asked = request.specifier
    mismatch = asked and not _satisfies(version, asked)
    return f"{request.name} {version} is in the grading environment" + (
        f" (the notebook asks for {asked})" if mismatch else "")


def _satisfies(version: str, specifier: str) -> bool:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version) in SpecifierSet(specifier)
    except (InvalidSpecifier, InvalidVersion):
        return False


def skip_message(command: str, args: str, env: KernelEnv) -> str:
    """One sentence: the line was skipped, and whether each package it asks for is in the grading environment."""
    shown = command.strip()
    if len(shown) > COMMAND_CAP:
        shown = shown[:COMMAND_CAP] + "…"
    parts = [_request_sentence(request, env) for request in requests_of(args)]
    return f"[grader] skipped `{shown}`: no network while grading" + (f"; {'; '.join(parts)}" if parts else "")


def _statement_lines(lines: list[str], start: int) -> int:
    """How many lines the shell command starting at `start` spans (a trailing backslash continues it)."""
    end = start
    while lines[end].rstrip().endswith("\\") and end + 1 < len(lines):
        end += 1
    return end - start + 1


def _cell_mode(source: str) -> str:
    """'python', 'shell' (a %%bash cell) or '' (another cell magic, e.g. %%writefile: its text is left alone)."""
    first = source.lstrip("\n").split("\n", 1)[0].strip()
    if not first.startswith("%%") or PYTHON_CELLS.match(first):
        return "python"
    return "shell" if SHELL_CELLS.match(first) else ""


def _rewrite_cell(source: str, number: int, env: KernelEnv) -> tuple[str, list[SkippedLine]]:
    """The cell's source with every pip install line replaced (same line count), and what was skipped."""
    mode = _cell_mode(source)
    if not mode:
        return source, []
    pattern = PYTHON_PIP_LINE if mode == "python" else SHELL_PIP_LINE
    lines = source.split("\n")
    skipped: list[SkippedLine] = []
    index = 0
    while index < len(lines):
        found = pattern.match(lines[index])
        if not found:
            index += 1
            continue
        span = _statement_lines(lines, index)
        command = " ".join(line.rstrip().removesuffix("\\").strip() for line in lines[index:index + span])
        args = " ".join([found.group("args").rstrip().removesuffix("\\"),
                         *(line.rstrip().removesuffix("\\") for line in lines[index + 1:index + span])])
        message = skip_message(command, args, env)
        skipped.append(SkippedLine(cell=number, line=index + 1, source=command[:COMMAND_CAP], message=message))
        indent = found.group("indent")
        if mode == "python":
            # A string literal: the student's text never becomes code.
            lines[index] = f"{indent}print({message!r}, file=__import__('sys').stderr)"
        else:
            lines[index] = f"{indent}echo {shlex.quote(message)} >&2"
        for follower in range(index + 1, index + span):
            lines[follower] = ""
        index += span
    return "\n".join(lines), skipped


def skip_installs(notebook: nbformat.NotebookNode, env: KernelEnv) -> tuple[nbformat.NotebookNode, list[SkippedLine]]:
    """A copy of the notebook to run, with pip install lines skipped; the original is left as the student wrote it."""
    rewritten = copy.deepcopy(notebook)
    skipped: list[SkippedLine] = []
    for index, cell in enumerate(rewritten.cells):
        if cell.cell_type != "code":
            continue
        cell.source, found = _rewrite_cell(cell.source, index + 1, env)
        skipped.extend(found)
    return rewritten, skipped


# --------------------------------------------------------------------------- ModuleNotFoundError


def _importable(top: str, env: KernelEnv) -> bool:
    """Whether a kernel finds a top-level module (the standard library, the grader's packages, the layer).

    Only searched for, never imported: the name comes from the notebook."""
    if top in sys.builtin_module_names:
        return True
    paths = sysconfig.get_paths()
    folders = [paths["stdlib"], paths["platstdlib"], str(Path(paths["stdlib"]) / "lib-dynload"),
               *map(str, grader_site_dirs()), *map(str, env.site_dirs)]
    return importlib.machinery.PathFinder.find_spec(top, folders) is not None


def package_for(module: str) -> str:
    """The PyPI name to install for an import name (the import name itself unless known to differ)."""
    return MODULE_PACKAGES.get(module, MODULE_PACKAGES.get(module.split(".")[0], module.split(".")[0]))


def lacking_package(module: str, env: KernelEnv) -> str | None:
    """The package the grading environment lacks for `import module`; None when the cause is elsewhere."""
    top = module.split(".")[0]
    if not top.isidentifier() or module.startswith("google.colab") or _importable(top, env):
        return None
    return package_for(module)


def missing_module_sentence(module: str, env: KernelEnv) -> str:
    """Why `import module` failed while grading, and what the TA does about it."""
    top = module.split(".")[0]
    if module == "google.colab" or module.startswith("google.colab."):
        return "google.colab exists only on Colab; grading runs outside Colab, so this import fails here"
    package = lacking_package(module, env)
    if package is None:
        if top.isidentifier() and module != top:
            return (f"the grading environment has {top}, but no module {module} in it (the notebook may have been "
                    f"written for another version of {top})")
        return ""
    if top in TORCH_COMPANIONS:
        return (f"the grading environment lacks the package {top}; it must match the grader's torch, so the TA "
                "installs it into the grader's own environment the way torch was installed")
    if env.listed(package):
        package = normalize(package)
        return (f"the grading environment lacks the package {package} (listed in {REQUIREMENTS_FILE}, but the "
                f"kernel environment is not built; the TA runs `{BUILD_COMMAND}`)")
    if top not in MODULE_PACKAGES and top not in KNOWN_PACKAGES:
        return (f"the grading environment has no module {top}; if it comes from a PyPI package, the TA adds that "
                f"package to {REQUIREMENTS_FILE} and runs `{BUILD_COMMAND}` (a file of the student's own is not "
                "part of the submission)")
    return (f"the grading environment lacks the package {package}; the TA adds it to {REQUIREMENTS_FILE} and "
            f"runs `{BUILD_COMMAND}`")


def missing_module(cell: CellRecord) -> str | None:
    """The module a cell failed to import, if it failed with ModuleNotFoundError."""
    if cell.error_name != "ModuleNotFoundError":
        return None
    found = MISSING_MODULE.search(cell.error_message)
    return found.group(1) if found else None


def explain_missing_modules(record: ExecutionRecord, env: KernelEnv) -> None:
    """Add to each ModuleNotFoundError cell the sentence saying which package the grading environment lacks."""
    for cell in record.cells:
        module = missing_module(cell)
        if module is None:
            continue
        sentence = missing_module_sentence(module, env)
        if sentence:
            cell.error_message = f"{cell.error_message.rstrip('.')}: {sentence}"


def lacking_packages(results: list[GradeResult], env: KernelEnv) -> dict[str, int]:
    """Per package the grading environment lacks, how many notebooks failed to import it (most first)."""
    counts: Counter[str] = Counter()
    for result in results:
        modules = {missing_module(cell) for cell in result.execution.cells} - {None}
        counts.update({package for module in modules if (package := lacking_package(module, env))})
    return dict(counts.most_common())
