"""Kernel-side code shared between exercises: it runs inside the student's kernel, beside the student's code.

The probe cell loads every module of this package, and the exercise's kernel module, afresh from their files
(grader.probe.cell_source). Modules here import only each other (grader.kernel.*), torch and the standard library:
nothing of the grader's own side (schemas, checks) ever enters the kernel.
"""

# The MIME type of the measuring stream's messages (grader.kernel.measure); here, so that the grader's kernel client
# reads it without importing torch.
MEASURE_MIME = "application/vnd.grader.measure+json"
