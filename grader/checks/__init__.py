"""Grader-side helpers shared between exercises' checks: they run in the grader's process, never in a kernel."""
