"""``iesg words IMAGE``: the top-k mapped words of an image by each model of ``--compare``."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from pipeline.cli.common import Command, add_scoring, add_top, comma_list, retrieval_note, run_of
from pipeline.cli.format import MARK, format_table, marked
from pipeline.evaluation.model_choice import BEST


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", metavar="IMAGE", help="an image id of images.csv, a mapped image's file (a path "
                                                       "`iesg images` prints), or any image file")
    add_top(parser, 5)
    add_scoring(parser)
    parser.add_argument("--compare", type=comma_list, default=None, metavar="MODEL,MODEL",
                        help=f"models of train.models (or {BEST}) side by side (default: {BEST} and "
                             "evaluate.reference_model)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Top-k mapped words of an image by each compared model, with the words linked to it marked."""
    run_ = run_of(args)
    names = args.compare or [BEST, *([run_.reference_model] if run_.reference_model in run_.trained_models else [])]
    models = {}
    for name in names:
        model = run_.model(name, args.score)
        models.setdefault(model.name, model)
    retrieval = args.retrieval or run_.default_retrieval("image_to_word")
    results = [model.words_for_image(args.image, args.top, retrieval=retrieval) for model in models.values()]
    first = results[0]
    return {"query": asdict(first.query), "score": first.score, "retrieval": first.retrieval,
            "candidates": first.candidates, "chosen": {r.model: r.chosen for r in results},
            "top": {r.model: [asdict(hit) for hit in r.top] for r in results}}


def text(result: dict[str, Any]) -> str:
    """Header lines, then rank | word, score of each model."""
    query = result["query"]
    if query["image_id"] is None:
        head = f"image file {query['path']} (featurized now)"
    else:
        head = (f"image {query['image_id']} ({query['split']} split, {query['path']}); "
                f"linked words: {', '.join(query['linked_words'])}")
    names = list(result["top"])
    rows = [[i + 1, *(cell for entry in entries for cell in (marked(entry["word"], entry["linked"]), entry["score"]))]
            for i, entries in enumerate(zip(*(result["top"][name] for name in names)))]
    why = "".join(f"; {name}: {reason}" for name, reason in result["chosen"].items() if reason != "named")
    return "\n".join([
        head,
        f"top {len(rows)} of {result['candidates']:,} mapped words by {result['score']} score"
        f"{retrieval_note(result['retrieval'])}; "
        f"{MARK} = linked to the image in links.csv{why}",
        format_table(["rank", *(cell for name in names for cell in (name, "score"))], rows),
    ])


COMMAND = Command("words", "top-k words for an image (id or file) by each model of --compare "
                           f"(default {BEST} and the reference model)",
                  ("images", "links", "features", "vectors", "models", "params"), add_arguments, run, text)
