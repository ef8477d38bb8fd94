"""``iesg report``: redraw the evaluate stage's HTML report (e.g. into another directory)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline.api import run_files
from pipeline.api.run_files import RunPaths
from pipeline.cli.common import Command, artifact_flags


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="directory to write (default: the --report directory itself)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Redraw the evaluate stage's HTML report from the data saved beside it and the DVC plots."""
    paths = RunPaths.at(args.root, **artifact_flags(args))
    index = run_files.redraw_report(paths, Path(args.out) if args.out else paths.report)
    return {"index": str(index), "url": index.resolve().as_uri()}


def text(result: dict[str, Any]) -> str:
    """Where the report is and how to open it."""
    return f"report written: {result['index']}\nopen it in a browser (works offline): {result['url']}"


COMMAND = Command("report", "redraw the evaluate stage's HTML report", ("report", "dvc_yaml"), add_arguments, run,
                  text)
