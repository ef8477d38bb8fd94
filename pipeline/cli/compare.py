"""``iesg compare``: experiments as rows, each model's headline test P@1 both ways as columns, in 120 columns.

The rows are what ``dvc exp show`` lists (the workspace, the last commits, their experiments), or the
workspace alone with ``--workspace`` (read from the headline metrics, ``metrics/``, no DVC call).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from pipeline.api import run_files
from pipeline.api.run_files import RunPaths
from pipeline.artifacts.headline import matching_p1, validation_p1
from pipeline.cli.common import Command, artifact_flags, positive_int
from pipeline.cli.format import MARK, format_table
from pipeline.evaluation.model_choice import best_model
from pipeline.evaluation.params import EvaluateParams
from pipeline.evaluation.protocol import DIRECTIONS

WIDTH = 120
LABEL_WIDTH = 28


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--num", type=positive_int, default=1,
                        help="commits back from HEAD whose experiments are listed (dvc exp show -n; default 1)")
    parser.add_argument("-A", "--all-commits", action="store_true", help="every commit (dvc exp show -A)")
    parser.add_argument("--workspace", action="store_true",
                        help="only the workspace's metrics file, without calling dvc")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """One row per experiment: its test P@1 of each model both ways, its validation P@1 and best model."""
    paths = RunPaths.at(args.root, **artifact_flags(args))
    if args.workspace:
        metrics = run_files.read_headline(paths)
        score = run_files.read_evaluate_params(paths).headline_score
        return {"source": str(paths.headline),
                "rows": [row("workspace", "workspace", metrics, score, run_files.read_trained_names(paths))]}
    metrics_dir = Path(os.path.relpath(paths.headline, paths.root)).as_posix()  # as dvc.yaml names it
    rows = []
    for state in run_files.read_experiments(paths, args.num, args.all_commits):
        rev = state["rev"]
        rows.append(state_row(rev if rev == "workspace" else state.get("name") or rev[:7], state, metrics_dir))
        for experiment in state.get("experiments") or []:
            final = experiment["revs"][0]  # the experiment's last state (earlier ones are its checkpoints)
            name = experiment.get("name") or final.get("name") or final["rev"][:7]
            rows.append(state_row(f"  {name} ({final['rev'][:7]})", final, metrics_dir))
    return {"source": "dvc exp show", "rows": rows}


def state_row(label: str, state: dict[str, Any], metrics_dir: str) -> dict[str, Any]:
    """The row of one entry of ``dvc exp show --json`` (the files of its headline directory, its headline score)."""
    data = state.get("data") or {}
    metrics = {Path(key).stem: (entry or {}).get("data") or {} for key, entry in (data.get("metrics") or {}).items()
               if Path(key).parent.as_posix() == metrics_dir}
    params = ((data.get("params") or {}).get("params.yaml") or {}).get("data") or {}
    score = (params.get("evaluate") or {}).get("headline_score", EvaluateParams.headline_score)
    return row(label, state["rev"], metrics, score, (params.get("train") or {}).get("models") or [])


def row(label: str, rev: str, files: dict[str, dict[str, Any]], score: str, trained: list[str]) -> dict[str, Any]:
    """An experiment's headline numbers from its headline files (none: it has no readable metrics, e.g. a failed
    experiment), its models in ``train.models``' order (the files come sorted by name)."""
    test_p1 = matching_p1(files)
    scored = list(test_p1[DIRECTIONS[0]])
    if not scored:
        return {"experiment": label, "rev": rev, "score": score, "models": [], "test_p1": None, "val_p1": None,
                "best": None}
    models = [m for m in trained if m in scored] + [m for m in scored if m not in trained]
    val_p1 = {m: value for m, value in validation_p1(files).items() if m in models}
    return {"experiment": label, "rev": rev, "score": score, "models": models, "test_p1": test_p1,
            "val_p1": val_p1, "best": best_model(val_p1) if val_p1 else None}


def cell(entry: dict[str, Any], model: str) -> str:
    """``0.582 0.298*``: image->word and word->image test P@1; the mark for the row's best val P@1."""
    if entry["test_p1"] is None or model not in entry["test_p1"].get(DIRECTIONS[0], {}):
        return "-"
    values = " ".join(f"{entry['test_p1'][d][model]:.3f}" for d in DIRECTIONS)
    return values + (MARK if entry["best"] == model else "")


def text(result: dict[str, Any]) -> str:
    """A legend, then one table per group of models that fits :data:`WIDTH` columns."""
    rows = result["rows"]
    models = list(dict.fromkeys(m for r in rows for m in r["models"]))
    labels = [r["experiment"] if len(r["experiment"]) <= LABEL_WIDTH else r["experiment"][:LABEL_WIDTH - 1] + "~"
              for r in rows]
    width_of = {m: max(len(m), *(len(cell(r, m)) for r in rows)) for m in models}
    fixed = max([len("experiment"), *map(len, labels)]) + 2 + max([len("score"), *(len(r["score"]) for r in rows)])
    blocks: list[list[str]] = [[]]
    for model in models:
        if blocks[-1] and fixed + sum(2 + width_of[m] for m in [*blocks[-1], model]) > WIDTH:
            blocks.append([])
        blocks[-1].append(model)
    lines = ["test P@1 of each model, image->word then word->image, by the row's headline score;",
             f"{MARK} = the row's best validation P@1; from {result['source']}"]
    for block in blocks:
        lines.append(format_table(["experiment", "score", *block],
                                  [[label, r["score"], *(cell(r, m) for m in block)] for label, r in zip(labels, rows)]))
    return "\n".join(lines)


COMMAND = Command("compare", "experiments as rows, each model's headline test P@1 both ways (fits 120 columns)",
                  ("headline", "params"), add_arguments, run, text)
