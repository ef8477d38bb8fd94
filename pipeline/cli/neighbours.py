"""``iesg neighbours WORD``: the nearest words by the pretrained vectors and by those a model learnt."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from pipeline.cli.common import Command, add_model, add_top, run_of
from pipeline.cli.format import MARK, format_table, marked
from pipeline.evaluation.model_choice import model_label


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("word", metavar="WORD", help="a word, or a quoted phrase (the mean of its words' vectors)")
    add_top(parser, 10)
    add_model(parser, " that learns word vectors (best: of those)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Nearest words (cosine) of a word by the pretrained vectors and by those a model learnt."""
    result = run_of(args).model(args.model, word_vectors=True).neighbours(args.word, args.top)
    return {"word": result.word, "words": result.words, "model": result.model, "chosen": result.chosen,
            "linked_images": result.linked_images, "cosine_pretrained_grounded": result.cosine_pretrained_grounded,
            "neighbours": {"pretrained": [asdict(n) for n in result.pretrained],
                           result.model: [asdict(n) for n in result.grounded]}}


def text(result: dict[str, Any]) -> str:
    """A header line, then rank | pretrained word, cosine | the model's word, cosine (words in one list only marked)."""
    model = result["model"]
    pretrained, grounded = result["neighbours"]["pretrained"], result["neighbours"][model]
    shared = {n["word"] for n in pretrained} & {n["word"] for n in grounded}
    rows = [[a["rank"], marked(a["word"], a["word"] not in shared), a["cosine"],
             marked(b["word"], b["word"] not in shared), b["cosine"]] for a, b in zip(pretrained, grounded)]
    return "\n".join([
        f"{result['word']!r}: {result['linked_images']} linked images; cosine between its pretrained and "
        f"{model_label(model, result['chosen'])} vectors {result['cosine_pretrained_grounded']:.3f}; "
        f"{MARK} = only in one of the two lists",
        format_table(["rank", "pretrained", "cosine", model, "cosine"], rows),
    ])


COMMAND = Command("neighbours", "nearest words by the pretrained vectors and by those a model learnt",
                  ("vectors", "models", "links", "params"), add_arguments, run, text)
