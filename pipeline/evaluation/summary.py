"""The report's opening summary: a few sentences a reader takes in before the tables, read off the evaluate
metrics (so that a rebuilt report says the same)."""

from __future__ import annotations

from typing import Any

from pipeline.models.registry import PAPER_MODEL, paper_matching

ARROWS = {"image_to_word": "image → word", "word_to_image": "word → image"}


def _interval(entry: dict[str, Any], key: str = "p1") -> str:
    low, high = entry["ci"][key]
    return f"{100 * entry[key]:.1f}% [{100 * low:.1f}, {100 * high:.1f}]"


def _spearman(value: float | None) -> str:
    return "n/a (too few pairs in the vocabulary)" if value is None else f"{value:.3f}"


def _difference(entry: dict[str, Any]) -> str:
    low, high = entry["ci"]
    return f"{100 * entry['diff']:+.1f} points [{100 * low:+.1f}, {100 * high:+.1f}]"


def summary(metrics: dict[str, Any], model: str, model_label: str, score: str, word_to_image_retrieval: str) -> list[str]:
    """Sentences on ``model`` (the analysed one, described by ``model_label``) by ``score``: its test P@1 both
    ways beside the paper's IESG and the random baseline, its difference to the reference model, its word
    vectors' WS353 similarity, and the word -> image hub share plain and by ``word_to_image_retrieval``."""
    data, matching = metrics["data"], metrics["matching"]
    entries = {direction: matching[model][direction][score] for direction in ARROWS}
    paper = {direction: paper_matching(PAPER_MODEL, direction) for direction in ARROWS}
    lines = [
        f"{data['test_pairs']:,} test pairs of {data['words']:,} mapped words and {data['images']:,} images; word → "
        f"image negatives from the {data['image_pool']} images; model {model_label}, {score} score.",
        "Test P@1: " + "; ".join(
            f"{ARROWS[d]} {_interval(entries[d])}"
            + (f" (the paper's {PAPER_MODEL}: {paper[d][0]}%)" if paper[d] else "")
            + f", random {100 * matching['random'][d][score]['p1']:.1f}%" for d in ARROWS) + ".",
    ]
    versus = next((key for key in entries["image_to_word"] if key.startswith("vs_")), None)
    if versus:
        lines.append(f"Against {versus[3:]} (paired, same candidates): " + "; ".join(
            f"{ARROWS[d]} {_difference(entries[d][versus]['p1'])}" for d in ARROWS) + ".")
    similarity = metrics["similarity"]
    space = model if model in similarity else "pretrained"
    ws353 = {name: similarity[name]["ws353_similarity"]["spearman"] for name in ("pretrained", space)}
    lines.append(f"WS353 similarity (Spearman): pretrained vectors {_spearman(ws353['pretrained'])}"
                 + (f", {model}'s {_spearman(ws353[model])}." if space == model else f"; {model} keeps them."))
    if "retrieval" in metrics:
        by = metrics["retrieval"]["models"][model][score]
        plain, chosen = (by[name]["word_to_image"] for name in ("plain", word_to_image_retrieval))
        lines.append(
            f"Word → image over every held-out image: the most frequent top-1 image answers for "
            f"{plain['hub']['share']:.1%} of the words by plain {score}"
            + ("" if word_to_image_retrieval == "plain" else
               f", {chosen['hub']['share']:.1%} by {word_to_image_retrieval} (the default)")
            + f"; R@1 {plain['r1']:.3f}" + ("" if word_to_image_retrieval == "plain" else f" → {chosen['r1']:.3f}")
            + ".")
    return lines
