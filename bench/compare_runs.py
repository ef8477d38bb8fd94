"""Paired P@k difference of the same models between two runs on the same images (e.g. two encoders).

    python bench/compare_runs.py RUN_A RUN_B [--models contrastive,joint] [--score cos]

RUN_A and RUN_B are project roots whose pipeline ran up to train on the same images, links and vocabulary
(only what comes after map_images differs: the encoder, TTA, a training param); they are only read. Both
are scored on one set of candidate sets, drawn as the evaluate stage of RUN_A draws them (its
``evaluate.candidates``, ``seed`` and ``image_pool``), so each test pair is ranked by both runs against the
same negatives; the 95% interval of B - A resamples test images (``evaluate.bootstrap_resamples``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_trained, run_path  # noqa: E402

from pipeline.core.params import load_section  # noqa: E402
from pipeline.evaluation.params import EvaluateParams  # noqa: E402
from pipeline.evaluation.protocol import (  # noqa: E402
    DIRECTIONS, direction_scores, draw_candidates, rank_candidates,
)
from pipeline.evaluation.statistics import cluster_weights, clustered_means, interval  # noqa: E402

KS = (1, 5, 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--models", default="contrastive,joint")
    parser.add_argument("--score", choices=("dot", "cos"), default="cos")
    args = parser.parse_args()
    names = args.models.split(",")
    params = load_section(EvaluateParams, "evaluate", run_path(args.run_a, "params"))
    a, b = load_trained(args.run_a, names), load_trained(args.run_b, names)
    if (a.data.image_ids, a.data.words) != (b.data.image_ids, b.data.words) or not (
            np.array_equal(a.data.pair_image, b.data.pair_image) and np.array_equal(a.data.pair_word, b.data.pair_word)):
        sys.exit(f"error: {args.run_a} and {args.run_b} differ in their images, words or test links; "
                 "compare runs that share map_images' outputs")
    sets = draw_candidates(a.data, params.candidates, params.seed, params.image_pool)
    _, clusters = np.unique(a.data.pair_image, return_inverse=True)
    weights = cluster_weights(int(clusters.max()) + 1, params.bootstrap_resamples, params.seed)
    print(f"{len(a.data.pair_image):,} test pairs, {args.score}; P@1 / P@5 / P@10 of A, of B, "
          "and B - A in P@1 points with its 95% interval")
    for name in names:
        for direction in DIRECTIONS:
            hits = {}
            for label, run in (("A", a), ("B", b)):
                images, words = run.matchers[name].embeddings(run.data.features, args.score)
                hits[label] = rank_candidates(direction_scores(images, words, sets[direction], direction),
                                              sets[direction].items).ranks
            cells = {label: " / ".join(f"{100 * (r < k).mean():.1f}" for k in KS) for label, r in hits.items()}
            diff = clustered_means(hits["B"] < 1, clusters, weights) - clustered_means(hits["A"] < 1, clusters, weights)
            low, high = interval(diff)
            change = 100 * ((hits["B"] < 1).mean() - (hits["A"] < 1).mean())
            print(f"{name} {direction.replace('_to_', ' -> ')}: A {cells['A']}; B {cells['B']}; "
                  f"B - A {change:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]")


if __name__ == "__main__":
    main()
