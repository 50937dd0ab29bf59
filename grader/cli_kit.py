"""`grader kit`: the student kit a TA publishes (see grader/kit.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from grader import kit
from grader.course import Course
from grader.terminal import safe

console = Console(emoji=False)


def cmd_kit(args: argparse.Namespace) -> int:
    course = Course.load(args.course)
    with console.status("Building the student kit (the grader's wheel included)…"):
        archive = kit.build_kit(course, args.out, args.name)
    summary = kit.json_summary(args.out)
    for exercise, entry in summary["exercises"].items():
        withheld = f", {entry['hidden_checks']} hidden withheld" if entry["hidden_checks"] else ""
        console.print(f"{safe(exercise)}: {entry['public_checks']} public checks, {entry['public_points']:g} "
                      f"points{withheld}", highlight=False)
    console.print(f"Kit: {safe(args.out)}   Archive: {safe(archive)}", highlight=False)
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """`grader kit --out DIR [--name NAME]`."""
    parser = commands.add_parser("kit", help="write a student kit: public rubrics, the grader's wheel, a README")
    parser.add_argument("--out", type=Path, required=True,
                        help="a new folder for the kit (DIR.zip is written beside it)")
    parser.add_argument("--course", type=Path, default=argparse.SUPPRESS, help="the course folder (default: here)")
    parser.add_argument("--name", help="the course's name in the kit (default: the course folder's name)")
    parser.set_defaults(run=cmd_kit)
