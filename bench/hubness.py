"""Hubness of a run's full rankings, plain and corrected (CSLS, inverted softmax), side by side.

    python bench/hubness.py RUN_DIR [--models contrastive,joint] [--score cos] [--k 10] [--temperature 0.05]
    python bench/hubness.py RUN_DIR --tune        # choose k and the temperature on the validation split

RUN_DIR is a project root whose pipeline ran up to train (data/ and params.yaml at their dvc.yaml paths); it is
only read. Per model and direction: full-ranking R@1/5/10 (test words over the held-out images, test images
over the mapped words), the candidate-set P@1 of the evaluate stage under the same retrieval, and the hub
figures (the most frequent top-1 item: queries and share; distinct top-1 items; N_k skewness). ``--tune``
ranks the validation images only (test images are never looked at) and prints, per k or temperature, the
R@1 of the validation words and images and the word -> image hub share, to choose evaluate.retrieval_k and
evaluate.retrieval_temperature.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_trained, run_path  # noqa: E402

from pipeline.core.errors import PipelineError  # noqa: E402
from pipeline.core.params import load_section, read_params  # noqa: E402
from pipeline.evaluation.hubness import (  # noqa: E402
    direction_figures, direction_matrices, evaluate_retrieval, linked_columns, population,
)
from pipeline.evaluation.params import EvaluateParams  # noqa: E402
from pipeline.evaluation.protocol import (  # noqa: E402
    DIRECTIONS, draw_candidates, image_pool, random_matcher,
)
from pipeline.evaluation.retrieval import RETRIEVALS  # noqa: E402

ARROWS = {"word_to_image": "word->image", "image_to_word": "image->word"}
TUNE_K = (1, 3, 5, 10, 20, 50, 100)
TUNE_TEMPERATURES = (0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5)


def load_run(root: Path, names: list[str] | None):
    params_file = run_path(root, "params")
    params = load_section(EvaluateParams, "evaluate", params_file)
    trained = read_params(params_file)["train"]["models"]
    names = names or [*trained, "random"]
    for name in names:
        if name != "random" and name not in trained:
            raise PipelineError(f"--models: {name!r} is not in train.models of {params_file} "
                                f"({', '.join(trained)}) nor 'random'")
    loaded = load_trained(root, [name for name in names if name != "random"])
    matchers = {name: random_matcher(loaded.data, loaded.pretrained, params.seed) if name == "random"
                else loaded.matchers[name] for name in names}
    return params, loaded.data, matchers


def side_by_side(params: EvaluateParams, data, matchers: dict, score: str, k: int, temperature: float) -> list[dict]:
    sets = draw_candidates(data, params.candidates, params.seed, params.image_pool)
    results = evaluate_retrieval(data, matchers, sets, image_pool(data, params.image_pool), [1, 5, 10], k,
                                 temperature, params.k_occurrence, 0, params.seed)
    return [{"model": model, "direction": direction, "retrieval": retrieval, **scores[score][retrieval][direction]}
            for model, scores in results.items() for direction in ("word_to_image", "image_to_word")
            for retrieval in RETRIEVALS]


def tune(params: EvaluateParams, data, matchers: dict, score: str) -> list[dict]:
    """R@1 on the validation split and the word -> image hub share for each k and temperature."""
    val = np.array([i for i, split in enumerate(data.splits) if split == "val"], dtype=np.int64)
    people = population(data, val, "val")
    linked = linked_columns(data, people)
    measured = {"word_to_image": people.measured_words, "image_to_word": people.measured_images}
    names = {"word_to_image": [data.image_ids[i] for i in val], "image_to_word": data.words}
    settings = [("plain", None), *(("csls", k) for k in TUNE_K),
                *(("inverted_softmax", t) for t in TUNE_TEMPERATURES)]
    rows = []
    for model, matcher in matchers.items():
        for retrieval, value in settings:
            k = value if retrieval == "csls" else params.retrieval_k
            temperature = value if retrieval == "inverted_softmax" else params.retrieval_temperature
            matrices = direction_matrices(matcher, data, val, score, retrieval, k, temperature)
            row = {"model": model, "retrieval": retrieval, "setting": value}
            for direction in DIRECTIONS:
                entry, _ = direction_figures(matrices[direction], linked[direction], measured[direction], [1],
                                             params.k_occurrence, names[direction])
                row[direction] = {"r1": entry["r1"], "hub_share": entry["hub"]["share"],
                                  "queries": entry["recall_queries"]}
            rows.append(row)
    return rows


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(w) if i else str(c).ljust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="project root of the run (read only)")
    parser.add_argument("--models", help="comma-separated models (default: train.models and random)")
    parser.add_argument("--score", choices=("dot", "cos"), default="cos")
    parser.add_argument("--k", type=int, help="CSLS k (default: the run's evaluate.retrieval_k)")
    parser.add_argument("--temperature", type=float, help="inverted-softmax temperature (default: the run's)")
    parser.add_argument("--tune", action="store_true", help="sweep k and the temperature on the validation split")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    try:
        params, data, matchers = load_run(args.run, args.models.split(",") if args.models else None)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.run}: {len(data.words):,} mapped words, {len(data.image_ids):,} images; score {args.score}")
    if args.tune:
        rows = tune(params, data, matchers, args.score)
        print(table(["model", "retrieval", "k / T", "w->i R@1", "w->i hub share", "i->w R@1", "i->w hub share"],
                    [[r["model"], r["retrieval"], "" if r["setting"] is None else r["setting"],
                      f"{r['word_to_image']['r1']:.3f}", f"{r['word_to_image']['hub_share']:.3f}",
                      f"{r['image_to_word']['r1']:.3f}", f"{r['image_to_word']['hub_share']:.3f}"] for r in rows]))
    else:
        k = args.k or params.retrieval_k
        temperature = args.temperature or params.retrieval_temperature
        rows = side_by_side(params, data, matchers, args.score, k, temperature)
        print(f"full ranking over the {params.image_pool} images; CSLS k={k}, inverted softmax T={temperature}; "
              f"P@1 over {params.candidates} candidates")
        print(table(["model", "direction", "retrieval", "R@1", "R@5", "R@10", "P@1", "top-1 hub (share)",
                     "distinct top-1", f"N{params.k_occurrence} skew", "hub"],
                    [[r["model"], ARROWS[r["direction"]], r["retrieval"], f"{r['r1']:.3f}", f"{r['r5']:.3f}",
                      f"{r['r10']:.3f}", f"{r['p1']:.3f}",
                      f"{r['hub']['count']}/{r['hub']['queries']} ({r['hub']['share']:.1%})",
                      f"{r['hub']['distinct']} ({r['hub']['distinct_share']:.1%})",
                      f"{r['hub']['k_occurrence_skewness']:.2f}", r["hub"]["hub"]] for r in rows]))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
