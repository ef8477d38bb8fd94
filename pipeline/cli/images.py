"""``iesg images WORD``: the top-k mapped images of a word or phrase by one model."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from pipeline.api.run import SPLITS
from pipeline.cli.common import Command, add_model, add_scoring, add_top, retrieval_note, run_of
from pipeline.cli.format import MARK, format_table
from pipeline.evaluation.model_choice import model_label


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("word", metavar="WORD", help="a word, or a quoted phrase (the mean of its words' vectors)")
    add_top(parser, 5)
    add_scoring(parser)
    add_model(parser)
    parser.add_argument("--split", choices=SPLITS, default="all", help="candidate images (default all mapped images)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Top-k mapped images (of one split or all) for a word or phrase by one model."""
    run_ = run_of(args)
    model = run_.model(args.model, args.score)
    retrieval = args.retrieval or run_.default_retrieval("word_to_image")
    return asdict(model.images_for_word(args.word, args.top, args.split, retrieval=retrieval))


def text(result: dict[str, Any]) -> str:
    """A header line, then rank | image id | split | score | linked | path."""
    rows = [[t["rank"], t["image_id"], t["split"], t["score"], MARK if t["linked"] else "", t["path"]]
            for t in result["top"]]
    return "\n".join([
        f"{result['word']!r}: top {len(rows)} of {result['candidates']:,} {split_name(result['split'])} by "
        f"{model_label(result['model'], result['chosen'])}, {result['score']} score{retrieval_note(result['retrieval'])}; "
        f"{result['linked_images']} {'images' if result['split'] == 'all' else split_name(result['split'])} linked "
        f"({MARK} in the table)",
        format_table(["rank", "image_id", "split", "score", "linked", "path"], rows),
    ])


def split_name(split: str) -> str:
    return "images (all splits)" if split == "all" else f"{split}-split images"


COMMAND = Command("images", "top-k images for a word or phrase",
                  ("images", "links", "features", "vectors", "models", "params"), add_arguments, run, text)
