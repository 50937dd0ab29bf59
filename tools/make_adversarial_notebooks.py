"""Build the adversarial Conv1D notebooks: hostile or broken code the grader must survive.

Run from the repository root:

    python tools/make_adversarial_notebooks.py

Each notebook is a correct Conv1D (the slides' version) plus an attack, so its expected score is known (the fake
results one has a Conv1D that returns zeros, so forged results would show as a higher score); the
verdict each must get is pinned by tests/test_isolation.py and tests/test_faults.py. Every attack is bounded, so a
grader without protections would slow down, not take the machine with it.

    tests/fixtures/notebooks/adversarial_<attack>.ipynb
"""

from __future__ import annotations

import nbformat
from make_notebooks import FIXTURES, IMPORTS, SLIDES_CONV1D, ZEROS_CONV1D, code, notebook, write

# The tests look for this in process command lines and outputs; it must not occur anywhere else.
MARKER = "grader-adversarial-7f3a"
NETWORK_PORT = 47613
PWNED = f"/tmp/{MARKER}-pwned"
# A host folder the tests create: nothing the grader does for a replay may reach it through a link the notebook planted.
HOST_TARGET = f"/tmp/{MARKER}-host-target"

FORK_BOMB = """\
import os
import time

# Bounded: 2**9 = 512 sleeping processes at most, over the grader's process limit (256).
for _ in range(9):
    os.fork()
time.sleep(120)"""

MEMORY_HOG = """\
import torch

hog = []
for _ in range(32):  # 32 × 256 MiB, every page written: far over the memory limit
    hog.append(torch.ones(64, 2**20))
print("allocated", len(hog) * 256, "MiB")"""

INFINITE_OUTPUT = """\
line = "spam " * 200
while True:
    print(line)"""

HTML_OUTPUT = """\
from IPython.display import HTML, Javascript, display

print("<script>document.title = 'owned by stdout'</script>")
display(HTML("<script>document.title = 'owned by html'</script><b>bold</b>"))
display(Javascript("document.title = 'owned by js'"))
raise ValueError("<script>alert('owned by an error')</script>")"""

OS_EXIT = """\
import os

os._exit(1)"""

AFTER_EXIT = 'print("after exit: the rest still ran")'

SEGFAULT = """\
import ctypes

ctypes.string_at(0)  # reads address 0: the kernel process dies of SIGSEGV"""

PATCHES_GRADER = """\
import sys
import types

import torch

import grader.exercises.conv1d.kernel
import grader.kernel.runtime

# Everything of the grader's that the notebook can import, made to record nothing or hide what it sees.
grader.kernel.runtime.run = lambda *args, **kwargs: None
grader.kernel.runtime.trace_torch_calls = None
grader.exercises.conv1d.kernel.probe = lambda *args, **kwargs: None
sys.modules["grader.kernel.runtime"] = types.SimpleNamespace(run=lambda *args, **kwargs: None)
torch.allclose = lambda *args, **kwargs: True"""

IGNORES_SIGINT = """\
import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass"""

STDERR_CHATTER = """\
import logging
import sys
import warnings

warnings.warn("this API is deprecated", DeprecationWarning)
warnings.warn("something looks odd", UserWarning)
logging.getLogger("library").warning("library chatter")
for number in range(200):
    print(f"progress {number}", file=sys.stderr)"""

READS_SECRETS = f"""\
import os
from pathlib import Path

import grader

package = Path(grader.__file__).resolve().parent
candidates = [
    package.parent / "rubrics" / "conv1d.yaml",
    package.parent / "reference" / "conv1d.ipynb",
    package.parent / "tests" / "fixtures" / "notebooks" / "conv1d_correct_slides.ipynb",
    Path.cwd().parent,
    Path("/root/.ssh"),
    Path("/etc/shadow"),
]
for path in candidates:
    try:
        found = sorted(p.name for p in path.iterdir())[:5] if path.is_dir() else path.read_text()[:40]
        print("FOUND", path, found)
    except OSError as error:
        print("HIDDEN", path, type(error).__name__)
print("ENV", sorted(os.environ))
print("{MARKER}-done")"""

NETWORK = f"""\
import socket

for host, port in [("127.0.0.1", {NETWORK_PORT}), ("1.1.1.1", 53), ("pypi.org", 443)]:
    try:
        socket.create_connection((host, port), timeout=2).close()
        print("NETWORK-REACHED", host, port)
    except OSError as error:
        print("NETWORK-BLOCKED", host, port, type(error).__name__)"""

WRITES_OUTSIDE = f"""\
from pathlib import Path

import grader

targets = [
    Path.cwd().parent / "{MARKER}-escape.txt",
    Path("/tmp/{MARKER}-escape.txt"),
    Path.home().parent / "{MARKER}-escape.txt",
    Path(grader.__file__).resolve().parent / "{MARKER}-escape.txt",
    Path("/etc/{MARKER}-escape.txt"),
    Path("/usr/{MARKER}-escape.txt"),
]
for target in targets:
    try:
        target.write_text("escaped")
        print("WROTE", target)
    except OSError as error:
        print("REFUSED", target, type(error).__name__)"""

FAKE_RESULTS = f"""\
import json
import os
import pickle
import threading
import time
from pathlib import Path


class Payload:
    def __reduce__(self):
        return (os.system, ("touch {PWNED}",))


# Result-shaped files everywhere a careless grader might read them, one a pickle that runs code when loaded.
Path("results.json").write_text(json.dumps({{"score": 100, "max_score": 100, "status": "graded"}}))
Path("outputs.pt").write_bytes(pickle.dumps(Payload()))
Path("conv1d.json").write_text(json.dumps({{"student": "student", "exercise": "conv1d", "status": "graded",
                                            "score": 100, "max_score": 100}}))


def plant_in_probe_folders():
    # Forge the probe's output in every probe folder the grader creates, in case the grader reads it unchecked.
    planted = set()
    while True:
        for folder in Path(".").glob(".grader-probe-*"):
            if folder not in planted:
                planted.add(folder)
                (folder / "probe.json").write_text(json.dumps({{"values": {{"score": 100}}, "errors": {{}}}}))
                (folder / "outputs.safetensors").write_bytes(pickle.dumps(Payload()))
        time.sleep(0.001)


threading.Thread(target=plant_in_probe_folders, daemon=True).start()"""

BACKGROUND_PROCESS = f"""\
import subprocess
import sys

# A child in its own session, and a daemon orphaned at once by its shell: both would outlive a careless grader.
sleeper = [sys.executable, "-c", "import time; time.sleep(600)", "{MARKER}"]
child = subprocess.Popen(sleeper, start_new_session=True)
subprocess.run(["sh", "-c", " ".join(sleeper[:2]) + " 'import time; time.sleep(600)' {MARKER} &"], check=True)
print("started", child.pid)"""


REPLANTS_RUNTIME = f"""\
import os
from pathlib import Path

from ipykernel.connect import get_connection_file

# Links to a host folder wherever the grader (root, on a lab server) creates, chmods or binds something for the replay
# the next cell forces: the work dir's scratch (the sandbox's /tmp) and home folders, the old runtime folder's place,
# and inside the runtime folder.
target = "{HOST_TARGET}"
for name in [".tmp", ".home", ".kernel"]:
    try:
        if os.path.lexists(name):
            os.rename(name, name + "-moved")
        os.symlink(target, name)
        print("planted", name)
    except OSError as error:
        print("could not plant", name, type(error).__name__)
runtime = Path(get_connection_file()).parent
for name in ["1", "2", "kernel"]:
    try:
        os.symlink(target, runtime / name)
        print("planted", runtime.name, name)
    except OSError as error:
        print("could not plant", runtime.name, name, type(error).__name__)"""

CANARY = f"""\
import os

# In the replay: /tmp must be a fresh folder of the notebook's own, not the host folder a link pointed to.
open("/tmp/{MARKER}-canary", "w").write("escaped")
print("tmp holds", sorted(os.listdir("/tmp")))"""

DISK_HOG = """\
import tempfile
import time

# Bounded: 16 files of 16 MiB, every block written, half in the work dir and half in the temp folder (the sandbox's
# /tmp); then wait to be noticed.
block = b"x" * 2**20
for number in range(16):
    folder = "." if number % 2 else tempfile.gettempdir()
    with open(f"{folder}/hog-{number}.bin", "wb") as handle:
        for _ in range(16):
            handle.write(block)
print("wrote 256 MiB")
time.sleep(30)"""

HUGE_MESSAGES = """\
from IPython.display import display

# Bounded: 12 displays of 48 MiB each (576 MiB in all), each one message far over what the grader keeps of a cell.
blob = "x" * (48 * 2**20)
for _ in range(12):
    display({"text/plain": blob}, raw=True)
del blob
print("sent")"""

TERMINAL_ESCAPES = """\
# Text a student controls that reaches the TA's terminal: Rich markup, a hyperlink, OSC 52 (clipboard), OSC 0 (title).
raise ValueError("the output is [batch, length, channels], it needs transposing back [/] "
                 "[link=https://example.invalid]click[/link] \\x1b]52;c;b3duZWQ=\\x07\\x1b]0;owned\\x07\\x9b31m")"""


def correct_with(*attack: str, after: str = "") -> nbformat.NotebookNode:
    """Imports, the attack cell(s), the correct Conv1D, then an optional last cell."""
    cells = [code(IMPORTS), *(code(source) for source in attack), code(SLIDES_CONV1D)]
    return notebook(*cells, *([code(after)] if after else []))


ADVERSARIAL_BUILDERS = {
    "adversarial_fork_bomb": lambda: correct_with(FORK_BOMB),
    "adversarial_memory_hog": lambda: correct_with(MEMORY_HOG),
    "adversarial_infinite_output": lambda: correct_with(INFINITE_OUTPUT),
    "adversarial_html_output": lambda: correct_with(HTML_OUTPUT),
    "adversarial_os_exit": lambda: correct_with(OS_EXIT, after=AFTER_EXIT),
    "adversarial_segfault": lambda: correct_with(SEGFAULT, after=AFTER_EXIT),
    "adversarial_patches_grader": lambda: correct_with(PATCHES_GRADER),
    "adversarial_ignores_sigint": lambda: correct_with(IGNORES_SIGINT),
    "adversarial_stderr_chatter": lambda: correct_with(STDERR_CHATTER),
    "adversarial_reads_secrets": lambda: correct_with(READS_SECRETS),
    "adversarial_network": lambda: correct_with(NETWORK),
    "adversarial_writes_outside": lambda: correct_with(WRITES_OUTSIDE),
    "adversarial_fake_results": lambda: notebook(code(IMPORTS), code(ZEROS_CONV1D), code(FAKE_RESULTS)),
    "adversarial_background_process": lambda: correct_with(BACKGROUND_PROCESS),
    "adversarial_replants_runtime": lambda: correct_with(REPLANTS_RUNTIME, OS_EXIT, after=CANARY),
    "adversarial_disk_hog": lambda: correct_with(DISK_HOG),
    "adversarial_huge_messages": lambda: correct_with(HUGE_MESSAGES),
    "adversarial_terminal_escapes": lambda: correct_with(TERMINAL_ESCAPES),
}


def main() -> None:
    for name, build in ADVERSARIAL_BUILDERS.items():
        print(write(build(), FIXTURES / f"{name}.ipynb").relative_to(FIXTURES.parent.parent.parent))


if __name__ == "__main__":
    main()
