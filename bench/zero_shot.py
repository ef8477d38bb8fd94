"""Zero-shot on a ``split.mode: unseen`` run: where P@1 comes from, and what ConSE and calibrated stacking do.

    python bench/zero_shot.py RUN_DIR [--models contrastive_frozen,contrastive,joint] [--score cos]
                              [--json results/zero_shot.json]

RUN_DIR is a project root whose pipeline ran up to train with ``map_images.split.mode: unseen`` (data/ and
params.yaml at their dvc.yaml paths); it is only read. On the evaluate stage's own candidate sets (the
run's ``evaluate.candidates``, ``seed`` and ``image_pool``), per model and direction:

* plain P@1/5/10 with its 95% interval (bootstrap over test images, as evaluate), split by whether the
  pair's word is *seen* (linked to a training image: a hypernym such as ``fish``) or *unseen* (the test
  synset's own words), with the words' median corpus count;
* ConSE (:func:`pipeline.evaluation.zero_shot.conse_embeddings`, both directions) and, image -> word,
  calibrated stacking (:func:`pipeline.evaluation.zero_shot.calibrated_scores`), each with its setting
  chosen by P@1 on the validation synsets (unseen too, never the test ones) and its paired P@1 difference to
  plain on test with the interval.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_trained, run_path, split_pairs  # noqa: E402

from pipeline.core.params import load_section  # noqa: E402
from pipeline.evaluation.params import EvaluateParams  # noqa: E402
from pipeline.evaluation.protocol import (  # noqa: E402
    DIRECTIONS, MatchingData, direction_scores, draw_candidates, rank_candidates,
)
from pipeline.evaluation.statistics import cluster_weights, clustered_means, interval  # noqa: E402
from pipeline.evaluation.zero_shot import ConSEMatcher, calibrated_scores, seen_words  # noqa: E402

CONSE_TOPS = (1, 3, 5, 10, 20, 50)
CONSE_TEMPERATURES = (0.02, 0.05, 0.1, 1.0)
GAMMAS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)
KS = (1, 5, 10)


def ranks(matcher, data: MatchingData, sets: dict, direction: str, score: str, seen: np.ndarray | None = None,
          gamma: float = 0.0) -> np.ndarray:
    images, words = matcher.embeddings(data.features, score)
    chosen = sets[direction]
    scores = direction_scores(images, words, chosen, direction)
    if gamma:
        scores = calibrated_scores(scores, chosen.items, seen, gamma)
    return rank_candidates(scores, chosen.items).ranks


def pair_words(sets: dict, direction: str) -> np.ndarray:
    chosen = sets[direction]
    return chosen.items[:, 0] if direction == "image_to_word" else chosen.queries


def figures(rank: np.ndarray, base: np.ndarray | None, clusters: np.ndarray, weights: np.ndarray) -> dict:
    out = {f"p{k}": round(float((rank < k).mean()), 4) for k in KS}
    hits = clustered_means(rank < 1, clusters, weights)
    out["p1_ci"] = interval(hits)
    if base is not None:
        out["p1_vs_plain"] = {"diff": round(float((rank < 1).mean() - (base < 1).mean()), 4),
                              "ci": interval(hits - clustered_means(base < 1, clusters, weights))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="project root of an unseen-split run (read only)")
    parser.add_argument("--models", default="contrastive_frozen,contrastive,joint")
    parser.add_argument("--score", choices=("dot", "cos"), default="cos")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    params = load_section(EvaluateParams, "evaluate", run_path(args.run, "params"))
    names = args.models.split(",")
    loaded = load_trained(args.run, names)
    test = loaded.data
    seen = seen_words(test)
    if seen.all():
        sys.exit(f"error: {args.run}: every mapped word is linked to a training image; "
                 "run it with map_images.split.mode: unseen")
    val = split_pairs(test, "val")
    sets = {split: draw_candidates(data, params.candidates, params.seed, params.image_pool)
            for split, data in (("val", val), ("test", test))}
    counts = np.array([loaded.pretrained.get_vecattr(word, "count") for word in test.words])
    _, clusters = np.unique(test.pair_image, return_inverse=True)  # rows of both directions are the test pairs
    weights = cluster_weights(int(clusters.max()) + 1, params.bootstrap_resamples, params.seed)
    report: dict = {"seen_words": int(seen.sum()), "unseen_words": int((~seen).sum()),
                    "median_count": {"seen": float(np.median(counts[seen])),
                                     "unseen": float(np.median(counts[~seen]))}, "models": {}}
    for name in names:
        base = loaded.matchers[name]
        conse = {(top, t): ConSEMatcher(base.projection, base.word_vectors, seen, top, t)
                 for top in CONSE_TOPS for t in CONSE_TEMPERATURES}
        for direction in DIRECTIONS:
            plain = ranks(base, test, sets["test"], direction, args.score)
            words = pair_words(sets["test"], direction)
            entry = {"plain": figures(plain, None, clusters, weights),
                     "plain_by_word": {kind: {"pairs": int(mask.sum()), "p1": round(float((plain[mask] < 1).mean()), 4)}
                                       for kind, mask in (("seen", seen[words]), ("unseen", ~seen[words]))}}
            val_p1 = {key: float((ranks(m, val, sets["val"], direction, args.score) < 1).mean())
                      for key, m in conse.items()}
            top, t = max(val_p1, key=val_p1.get)
            entry["conse"] = {"top": top, "temperature": t, "val_p1": round(val_p1[top, t], 4),
                              **figures(ranks(conse[top, t], test, sets["test"], direction, args.score), plain,
                                        clusters, weights)}
            if direction == "image_to_word":
                val_gamma = {g: float((ranks(base, val, sets["val"], direction, args.score, seen, g) < 1).mean())
                             for g in GAMMAS}
                gamma = max(val_gamma, key=val_gamma.get)
                calibrated = ranks(base, test, sets["test"], direction, args.score, seen, gamma)
                entry["calibrated"] = {"gamma": gamma, "val_p1": round(val_gamma[gamma], 4),
                                       **figures(calibrated, plain, clusters, weights)}
            report["models"].setdefault(name, {})[direction] = entry
            line = (f"{name} {direction}: plain P@1 {100 * entry['plain']['p1']:.1f} "
                    f"(seen words {100 * entry['plain_by_word']['seen']['p1']:.1f}, "
                    f"unseen {100 * entry['plain_by_word']['unseen']['p1']:.1f}); "
                    f"ConSE T={top} tau={t}: {100 * entry['conse']['p1']:.1f} "
                    f"({100 * entry['conse']['p1_vs_plain']['diff']:+.1f})")
            if "calibrated" in entry:
                line += (f"; calibrated gamma={entry['calibrated']['gamma']}: {100 * entry['calibrated']['p1']:.1f} "
                         f"({100 * entry['calibrated']['p1_vs_plain']['diff']:+.1f})")
            print(line, flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
