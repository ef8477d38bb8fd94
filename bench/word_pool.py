"""Does the pool of negative words change the image -> word picture? The evaluate stage's P@k with the 99
negatives drawn from the mapped words (as the stage does) and from the whole vocabulary.

    python bench/word_pool.py --root .            # a checkout whose pipeline has run

The paper does not say where its 99 negative words come from. Drawn from the whole vocabulary, most
negatives are rare or abstract words that no image resembles, and a model can score well without
looking at the image: the ``image-blind`` row ranks every image's candidates by one fixed vector (the
mean vector of the words linked to training images), a prior for "a concrete noun that has images".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_trained, table  # noqa: E402

import numpy as np  # noqa: E402

from pipeline.evaluation.protocol import (  # noqa: E402
    MatchingData, candidate_scores, precision_at, random_projection, rank_candidates, sample_candidates,
)
from pipeline.models.base import energy_rows  # noqa: E402

KS = [1, 5, 10]


def candidate_sets(data: MatchingData, pool: list[str], candidates: int, seed: int):
    """Image -> word candidate sets whose negatives come from ``pool`` (word indices into ``pool``)."""
    index = {word: i for i, word in enumerate(pool)}
    true_sets = [np.sort([index[data.words[w]] for w in words]).astype(np.int64) for words in data.image_words]
    truths = np.array([index[data.words[w]] for w in data.pair_word], dtype=np.int64)
    return sample_candidates(data.pair_image, truths, true_sets, np.arange(len(pool)), candidates - 1,
                             np.random.default_rng(seed), desc="candidates")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=".", help="checkout whose pipeline has run (its dvc.yaml paths)")
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    root = Path(args.root)

    loaded = load_trained(root)
    data, pretrained = loaded.data, loaded.pretrained
    models = {name: (matcher.projection, loaded.vectors[name]) for name, matcher in loaded.matchers.items()}
    models["random"] = (random_projection(data.features, pretrained.vector_size, args.seed), pretrained)
    train_images = [i for i, split in enumerate(data.splits) if split == "train"]
    linked = sorted({data.words[w] for i in train_images for w in data.image_words[i]})
    blind = pretrained.vectors[[pretrained.key_to_index[w] for w in linked]].mean(0)

    pools = {"mapped words": data.words, "whole vocabulary": pretrained.index_to_key}
    rows = []
    for pool_name, pool in pools.items():
        sets = candidate_sets(data, pool, args.candidates, args.seed)
        for name in [*models, "image-blind"]:
            kv = models[name][1] if name in models else pretrained
            words = kv.vectors[[kv.key_to_index[w] for w in pool]].astype(np.float32)
            images = (models[name][0].project(data.features) if name in models
                      else np.tile(blind, (len(data.image_ids), 1)).astype(np.float32))
            cells = []
            for score in ("dot", "cos"):
                query, item = energy_rows(images, words, score)
                ranks = rank_candidates(candidate_scores(query, item, sets), sets.items).ranks
                p = precision_at(ranks, KS)
                cells.append(" / ".join(f"{100 * p[f'p{k}']:.1f}" for k in KS))
            rows.append([pool_name, name, *cells])
    print(f"image -> word, {len(data.pair_image):,} test pairs, {args.candidates} candidates; P@1 / P@5 / P@10 in %")
    print(table(rows, ["negatives from", "model", "dot", "cos"]))


if __name__ == "__main__":
    main()
