"""Execute stage: run a notebook's code cells in a fresh kernel, then the probe cell, recording every cell.

The kernel is untrusted. It runs under limits: time per cell (interrupt, then go on), per notebook and for the whole
run, across replays (a kernel that ignores interrupts is killed); memory and process count over its whole process
tree plus what the grader holds of its output, and the size of what it writes, polled from here; the size of each
message it sends. When a run ends, every process the notebook started is killed.

`client` holds the kernel client, `limits` the watchers, `replay` the run over several kernels.
"""

from grader.execute.client import (MESSAGE_CAP_BYTES, OUTPUT_CAP_BYTES, STDOUT_CAP, KernelLaunch, NotebookRunner,
                                   cell_record, clip, seed_source)
from grader.execute.limits import DISK_POLL_EVERY, FILE_LIMIT, POLL_S, PROCESS_LIMIT, ProcessWatch
from grader.execute.replay import Execution, execute, start_kernel

__all__ = ["DISK_POLL_EVERY", "Execution", "FILE_LIMIT", "KernelLaunch", "MESSAGE_CAP_BYTES", "NotebookRunner",
           "OUTPUT_CAP_BYTES", "POLL_S", "PROCESS_LIMIT", "ProcessWatch", "STDOUT_CAP", "cell_record", "clip",
           "execute", "seed_source", "start_kernel"]
