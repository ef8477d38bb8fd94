"""Word -> image P@k of every trained model with negatives from each image pool, side by side.

    python bench/image_pool.py --root <checkout>            # after dvc repro there

The evaluate stage ranks each test link's true image among 99 negatives from ``evaluate.image_pool``
(default ``heldout``: validation + test images). This script re-scores the same trained models with
negatives from the test images only, the held-out images, and every mapped image (training images
included, the pipeline's earlier protocol), each pool drawn with the evaluate seed, and prints
P@1 / P@5 / P@10 per model and score with the change from ``all`` to ``heldout``: how much training
images among the candidates flatter each model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_trained, run_path, table, write_json  # noqa: E402

from pipeline.evaluation.params import EvaluateParams  # noqa: E402
from pipeline.evaluation.protocol import IMAGE_POOLS, draw_candidates, evaluate_matching, random_matcher  # noqa: E402
from pipeline.core.params import load_section  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=".", help="checkout with data/ and params.yaml after dvc repro")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    root = Path(args.root)
    params = load_section(EvaluateParams, "evaluate", run_path(root, "params"))
    loaded = load_trained(root)
    data = loaded.data
    matchers = {**loaded.matchers, "random": random_matcher(data, loaded.pretrained, params.seed)}
    results = {}
    for pool in IMAGE_POOLS:
        sets = draw_candidates(data, params.candidates, params.seed, pool)
        results[pool], _ = evaluate_matching(data, matchers, sets, params.ks)
    rows = []
    for name in matchers:
        for score in ("dot", "cos"):
            cells = [" / ".join(f"{100 * results[pool][name]['word_to_image'][score][f'p{k}']:.1f}" for k in params.ks)
                     for pool in IMAGE_POOLS]
            change = 100 * (results["heldout"][name]["word_to_image"][score]["p1"]
                            - results["all"][name]["word_to_image"][score]["p1"])
            rows.append([name, score, *cells, f"{change:+.1f}"])
    pairs = results["heldout"]["l2"]["word_to_image"]["dot"]["pairs"]
    smallest = {pool: results[pool]["l2"]["word_to_image"]["dot"]["candidates"] for pool in IMAGE_POOLS}
    print(f"word -> image, {pairs:,} test pairs; P@{'/'.join(map(str, params.ks))} in % with negatives from each "
          f"pool (smallest candidate set: {', '.join(f'{p} {n}' for p, n in smallest.items())})")
    print(table(rows, ["model", "score", *(f"{pool} images" for pool in IMAGE_POOLS), "P@1 heldout - all"]))
    write_json(args.json, {pool: {name: result[name]["word_to_image"] for name in result}
                           for pool, result in results.items()})


if __name__ == "__main__":
    main()
