"""``iesg status``: every stage's artifacts with their sizes and key counts, read from the files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline.api import run_files
from pipeline.api.run_files import RunPaths
from pipeline.artifacts.status import SHOWN, directory_counts, file_counts
from pipeline.cli.common import Command, artifact_flags
from pipeline.cli.format import cell, format_table, human_size


def artifact_row(stage: str, name: str, path: Path) -> dict[str, Any]:
    """Path, existence, size in bytes and key counts of one artifact (or what is wrong with it)."""
    row: dict[str, Any] = {"stage": stage, "artifact": name, "path": str(path), "exists": path.exists()}
    if not path.exists():
        row.update(bytes=None, counts={}, problem=f"missing; run: dvc repro {stage}")
        return row
    row["bytes"] = sum(p.stat().st_size for p in run_files.artifact_files(path))
    try:
        row["counts"] = directory_counts(name, path) if path.is_dir() else file_counts(name, path)
        row["problem"] = None
    except Exception as exc:  # a corrupt artifact is reported in its row (pickle/HDF5/CSV readers raise many types)
        row.update(counts={}, problem=f"unreadable: {exc}")
    return row


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Each stage's artifacts, each model directory's files after the models row."""
    paths = RunPaths.at(args.root, **artifact_flags(args))
    rows = []
    for stage, names in SHOWN:
        for name in names:
            path = getattr(paths, name)
            rows.append(artifact_row(stage, name, path))
            if name == "models" and path.is_dir():
                for model in sorted(p.name for p in path.iterdir() if p.is_dir()):
                    rows += [artifact_row(stage, f"{model}_{file.stem}", file)
                             for file in sorted((path / model).iterdir()) if file.is_file()]
    return {"root": str(Path(args.root)), "artifacts": rows}


def text(result: dict[str, Any]) -> str:
    """The status as a table: stage, path, size, counts or the problem."""
    rows = []
    for row in result["artifacts"]:
        size = human_size(row["bytes"]) if row["bytes"] is not None else "-"
        counts = row["problem"] or ", ".join(f"{k} {cell(v)}" for k, v in row["counts"].items())
        rows.append([row["stage"], row["path"], size, counts])
    return format_table(["stage", "artifact", "size", "counts"], rows)


COMMAND = Command("status", "each stage's artifacts, their sizes and key counts",
                  tuple(name for _, names in SHOWN for name in names), lambda parser: None, run, text)
