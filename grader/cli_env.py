"""The `grader env` commands and the kernel environment's lines in the other commands (see grader/kernel_env.py)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader import kernel_env
from grader.course import find_course_root
from grader.results import GradeResult

console = Console()
errors = Console(stderr=True)
LEVELS = {"ok": "[green]ok[/]  ", "warn": "[yellow]warn[/]", "FAIL": "[red]FAIL[/]"}


def warn_not_built(course_root: Path) -> None:
    """Say once, before grading, that the course's kernel environment is not built; grading goes on without it."""
    env = kernel_env.current(course_root)
    if env.missing:
        errors.print(f"[yellow]{escape(env.not_built_sentence())}[/]", highlight=False)


def print_skipped(result: GradeResult) -> None:
    """The `!pip install` lines the grader did not run, for `grader check`."""
    for skipped in result.execution.skipped:
        console.print(f"[yellow]cell {skipped.cell}, line {skipped.line}[/]: {escape(skipped.message)}", highlight=False)


def print_lacking_packages(results: list[GradeResult], course_root: Path) -> None:
    """One line for the TA per package the class's notebooks imported but the grading environment lacks."""
    from grader import installs

    env = kernel_env.current(course_root)
    counts = installs.lacking_packages(results, env)
    for listed, advice in ((False, f"add them to {kernel_env.REQUIREMENTS_FILE} and run `{kernel_env.BUILD_COMMAND}`"),
                           (True, f"they are in {kernel_env.REQUIREMENTS_FILE}: run `{kernel_env.BUILD_COMMAND}`")):
        packages = [f"{package} ({count} notebook{'s' if count > 1 else ''})"
                    for package, count in counts.items() if env.listed(package) == listed]
        if packages:
            errors.print(f"[yellow]packages the grading environment lacks[/]: {escape(', '.join(packages))}; "
                         f"{advice}, then grade again with --force", highlight=False)


def print_doctor(course: Path | None) -> None:
    """`grader doctor`'s lines about the kernel environment."""
    for level, line in kernel_env.doctor(find_course_root(course)):
        console.print(f"{LEVELS[level]} {escape(line)}", highlight=False)


def cmd_env(args: argparse.Namespace) -> int:
    """Build the course's kernel environment, or say what it holds; exit 1 when the list's environment is not built."""
    if args.cache is not None:
        os.environ["GRADER_CACHE"] = str(args.cache.resolve())
    course_root = find_course_root(args.course)
    if args.env_command == "build":
        try:
            kernel_env.build(course_root, force=args.force)
        except kernel_env.EnvError as error:
            errors.print(f"[red]failed[/]: {escape(str(error))}", highlight=False)
            return 1
        console.print("[green]built[/]")
    env = kernel_env.current(course_root)
    console.print(escape(kernel_env.summary(env)), highlight=False)
    table = Table()
    for column in ("package", "version", "from"):
        table.add_column(column)
    for row in kernel_env.rows(env):
        table.add_row(row["package"], row["version"], row["from"])
    console.print(table)
    return 0 if env.layer is not None or env.requirements is None else 1


def add_commands(commands: argparse._SubParsersAction) -> None:
    """`grader env build|status`."""
    parser = commands.add_parser("env", help="the packages student notebooks import (the kernel environment)")
    verbs = parser.add_subparsers(dest="env_command", required=True)
    for verb, text in (("build", f"install the course's {kernel_env.REQUIREMENTS_FILE} for kernels (from PyPI)"),
                       ("status", "whether it is built, where, and each listed package's version")):
        command = verbs.add_parser(verb, help=text)
        # SUPPRESS: a --course given before `env` is not overwritten by this one's default.
        command.add_argument("--course", type=Path, default=argparse.SUPPRESS,
                             help=f"folder holding rubrics/ and {kernel_env.REQUIREMENTS_FILE}")
        command.add_argument("--cache", type=Path, help="cache folder (default: $GRADER_CACHE, else ~/.cache/grader)")
        if verb == "build":
            command.add_argument("--force", action="store_true", help="rebuild even when it is already built")
        command.set_defaults(run=cmd_env)
