"""``iesg synsets WORD``: the WordNet noun synsets of a word, their hyponyms and the images they cover."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.api import run_files
from pipeline.api.queries import unknown
from pipeline.api.run_files import RunPaths
from pipeline.cli.common import Command, add_top, artifact_flags
from pipeline.cli.format import MARK, format_table
from pipeline.core.errors import PipelineError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("word", metavar="WORD", help="a word (looked up lower-cased)")
    add_top(parser, 10)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """A word's WordNet noun synsets (it is a lemma of), their hyponyms and the images they cover."""
    from pipeline.images.wordnet import hyponym_closure, synset_of, wnid_of  # nltk: seconds to import

    paths = RunPaths.at(args.root, **artifact_flags(args))
    wn = run_files.read_wordnet(paths)
    images, links = run_files.read_images(paths), run_files.read_links(paths)
    if "wnid" not in images.columns:
        raise PipelineError(f"{paths.images}: no wnid column; rerun map_images")
    word = args.word.strip().lower()
    synsets = [s for s in wn.synsets(word, pos="n") if word in (name.lower() for name in s.lemma_names())]
    if not synsets:
        lemmas = {name.lower() for name in wn.all_lemma_names(pos="n") if name.isalpha()}
        raise unknown(word, "not a noun (lemma) of WordNet 3.0", sorted(lemmas | set(links["word"])))
    linked = set(links.loc[links["word"] == word, "image_id"])
    image_wnids = set(images["wnid"])
    result = []
    for synset in synsets:
        covered = sorted(wnid_of(s) for s in hyponym_closure(synset) if wnid_of(s) in image_wnids)
        rows = images[images["wnid"].isin(covered)].sort_values("image_id")
        hyponyms = sorted(s.name() for s in synset.hyponyms() + synset.instance_hyponyms())
        result.append({
            "synset": synset.name(), "wnid": wnid_of(synset), "definition": synset.definition(),
            "hyponyms": len(hyponyms), "hyponym_names": hyponyms[:args.top],
            "image_synsets": len(covered), "images": len(rows),
            "image_list": [{"image_id": r.image_id, "synset": synset_of(wn, r.wnid).name(), "split": r.split,
                            "linked": r.image_id in linked} for r in rows.head(args.top).itertuples()],
        })
    return {"word": word, "linked_images": len(linked), "synsets": result}


def text(result: dict[str, Any]) -> str:
    """A synset table, each synset's first hyponyms, then a table of the images they cover."""
    count = len(result["synsets"])
    lines = [f"{result['word']!r}: {count} noun synset{'' if count == 1 else 's'} in WordNet 3.0; "
             f"{result['linked_images']} images linked in links.csv ({MARK} below)",
             format_table(["synset", "wnid", "hyponyms", "image synsets", "images", "definition"],
                          [[s["synset"], s["wnid"], s["hyponyms"], s["image_synsets"], s["images"], s["definition"]]
                           for s in result["synsets"]])]
    for s in result["synsets"]:
        if s["hyponyms"]:
            more = s["hyponyms"] - len(s["hyponym_names"])
            lines.append(f"hyponyms of {s['synset']}: {', '.join(s['hyponym_names'])}"
                         + (f" (+{more} more)" if more > 0 else ""))
    images = [[s["synset"], i["image_id"], i["synset"], i["split"], MARK if i["linked"] else ""]
              for s in result["synsets"] for i in s["image_list"]]
    if images:
        lines += ["images covered (first ones per synset):",
                  format_table(["via", "image_id", "image synset", "split", "linked"], images)]
    return "\n".join(lines)


COMMAND = Command("synsets", "WordNet synsets, hyponyms and images behind a word", ("images", "links", "params"),
                  add_arguments, run, text)
