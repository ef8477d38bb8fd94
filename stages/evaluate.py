"""DVC stage evaluate: P@k matching on the test split with bootstrap intervals, word similarity of every
word space, error analysis, HTML report."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import time
from pathlib import Path

from pipeline.artifacts.layout import DVC_YAML, PARAMS, path
from pipeline.core.errors import PipelineError, run_stage
from pipeline.core.files import atomic_path, write_json
from pipeline.core.params import load_section
from pipeline.evaluation.params import EvaluateParams
from pipeline.models.registry import load_train_config

# The evaluation modules import numpy, gensim and nltk (seconds): they are imported where used, once the
# params are valid.
CURVES = ("val_p1", "loss")  # dvclive metrics gathered into plots/<metric>_per_epoch.csv


def write_plots(out_dir: Path, frequency: dict, shares: dict, curves: dict[str, dict[str, list[dict]]]) -> None:
    """CSV files for ``dvc plots``: P@1 per frequency bucket of every model (one file per direction, a row
    per model and bucket; ``bucket_pairs`` labels the bucket with its test pairs, ``p1`` is empty for an
    empty bucket), the error shares, and every model's per-epoch curve of each metric in ``curves``
    (``<metric>_per_epoch.csv``, one column per model, so that the plot draws one line per model; a cell
    is empty where a model logged no value)."""
    from pipeline.evaluation.protocol import DIRECTIONS

    with atomic_path(out_dir) as staged:
        staged.mkdir()
        for direction in DIRECTIONS:
            with open(staged / f"p1_by_frequency_{direction}.csv", "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["model", "bucket", "pairs", "p1", "bucket_pairs"])
                writer.writerows([model, r["bucket"], r["pairs"], r["p1"] if r["p1"] is not None else "",
                                  f"{r['bucket']} (n={r['pairs']})"]
                                 for model, directions in frequency.items() for r in directions[direction])
        with open(staged / "errors.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["type", "share"])
            writer.writerows([k, v] for k, v in shares.items() if k != "errors")
        for metric, by_model in curves.items():
            epochs = sorted({row["epoch"] for rows in by_model.values() for row in rows})
            with open(staged / f"{metric}_per_epoch.csv", "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["epoch", *by_model])
                for epoch in epochs:
                    writer.writerow([epoch, *(next((r[metric] for r in rows if r["epoch"] == epoch), "")
                                              for rows in by_model.values())])


def headline(metrics: dict, params: EvaluateParams) -> dict[str, dict[str, float]]:
    """The few numbers compared across experiments, one file each (:mod:`pipeline.artifacts.headline`): per
    model its test P@1 both ways (``headline_score``), validation P@1, and word -> image full-ranking R@1 and top-1
    hub share by the default ``retrieval``; the main word-similarity scores of each of the ``headline_spaces``."""
    from pipeline.artifacts.headline import MATCHING_KEYS, RETRIEVAL_KEYS, SIMILARITY_KEYS, VALIDATION_KEY

    score = params.headline_score
    files: dict[str, dict[str, float]] = {}
    for model, validation in metrics["val_p1"].items():
        retrieved = metrics["retrieval"]["models"][model][score][params.retrieval.word_to_image]["word_to_image"]
        files[model] = {
            **{key: metrics["matching"][model][direction][score]["p1"] for direction, key in MATCHING_KEYS.items()},
            VALIDATION_KEY: validation,
            RETRIEVAL_KEYS["r1"]: retrieved["r1"], RETRIEVAL_KEYS["hub_share"]: retrieved["hub"]["share"],
        }
    for space in params.headline_spaces:
        if space in metrics["similarity"]:
            files.setdefault(space, {}).update(
                {short: metrics["similarity"][space][name]["spearman"] for name, short in SIMILARITY_KEYS.items()})
    return files


def retrieval_summary(metrics: dict, params: EvaluateParams) -> str:
    """One clause on the best model by validation P@1: its word -> image hub share and R@1, plain and by
    the default retrieval."""
    best = max(metrics["val_p1"], key=lambda name: metrics["val_p1"][name])
    by_retrieval = metrics["retrieval"]["models"][best][params.headline_score]
    default = params.retrieval.word_to_image
    plain, chosen = (by_retrieval[r]["word_to_image"] for r in ("plain", default))
    return (f"{best} ({params.headline_score}) word->image top-1 hub {plain['hub']['share']:.1%} of words plain, "
            f"{chosen['hub']['share']:.1%} by {default}, R@1 {plain['r1']:.3f} -> {chosen['r1']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", default=path("images"), help="images table")
    parser.add_argument("--links", default=path("links"), help="word-image links")
    parser.add_argument("--features", default=path("features"), help="image features")
    parser.add_argument("--vectors", default=path("vectors"), help="pretrained word vectors")
    parser.add_argument("--models", default=path("models"), help="directory with one train output per model")
    parser.add_argument("--metrics", default=path("headline"), help="headline metrics (dvc metrics)")
    parser.add_argument("--details", default=path("metrics"),
                        help="every number: P@k with intervals, counts, similarity, error shares")
    parser.add_argument("--plots", default=path("plots"), help="directory for plot CSVs")
    parser.add_argument("--train-logs", default=path("train_logs"), help="directory of the train stages' dvclive logs")
    parser.add_argument("--report", default=path("report"), help="directory for index.html and thumbnails")
    parser.add_argument("--dvc-yaml", default=DVC_YAML, help="whose top-level plots the report draws ('': none)")
    parser.add_argument("--wordnet-cache", default=path("wordnet_cache"), help="where an nltk copy of WordNet is built")
    parser.add_argument("--params", default=PARAMS)
    args = parser.parse_args()
    started = time.perf_counter()

    params = load_section(EvaluateParams, "evaluate", args.params)
    names = load_train_config(args.params).models
    params.check_models(names)

    import numpy as np

    from pipeline.artifacts.headline import write_headline
    from pipeline.artifacts.model_dir import read_train_summary
    from pipeline.artifacts.training_log import read_curve
    from pipeline.evaluation.analysis import classify_errors, error_shares, examples, p1_by_frequency
    from pipeline.evaluation.hubness import evaluate_retrieval
    from pipeline.evaluation.model_choice import chosen_by, model_label, resolve_model
    from pipeline.evaluation.plots import read_plot_specs
    from pipeline.evaluation.protocol import (
        DIRECTIONS, draw_candidates, evaluate_matching, image_pool, load_trained_models, random_matcher,
    )
    from pipeline.evaluation.report import write_report
    from pipeline.evaluation.summary import summary
    from pipeline.evaluation.similarity import PAIR_BENCHMARKS, evaluate_vectors, pair_scores
    from pipeline.evaluation.statistics import add_matching_intervals, add_similarity_intervals
    from pipeline.images.wordnet import load_wordnet

    loaded = load_trained_models(args.images, args.links, args.features, args.vectors, args.models, names)
    data, pretrained = loaded.data, loaded.pretrained
    if len(data.pair_image) == 0:
        raise PipelineError(
            f"{args.links}: no link to a test-split image with features; check map_images' split params"
        )
    matchers, spaces = {**loaded.matchers}, {"pretrained": pretrained}
    val_p1 = {name: read_train_summary(Path(args.models) / name)["val_p1"] for name in names}
    spaces.update((name, loaded.vectors[name]) for name in names if loaded.matchers[name].projection.words == "own")
    analysis_model = resolve_model(params.analysis_model, val_p1)
    analysed_as = model_label(analysis_model, chosen_by(params.analysis_model, analysis_model, val_p1))
    matchers["random"] = random_matcher(data, pretrained, params.seed)

    sets = draw_candidates(data, params.candidates, params.seed, params.image_pool)
    matching, rankings = evaluate_matching(data, matchers, sets, params.ks)
    add_matching_intervals(matching, rankings, data.pair_image, params.ks, params.reference_model,
                           params.bootstrap_resamples, params.seed)
    retrieval = {
        "settings": {"default": dataclasses.asdict(params.retrieval), "k": params.retrieval_k,
                     "temperature": params.retrieval_temperature, "k_occurrence": params.k_occurrence,
                     "image_pool": params.image_pool, "score": params.headline_score},
        "models": evaluate_retrieval(data, matchers, sets, image_pool(data, params.image_pool), params.ks,
                                     params.retrieval_k, params.retrieval_temperature, params.k_occurrence,
                                     params.bootstrap_resamples, params.seed),
    }
    similarity = {space: evaluate_vectors(vectors, params.analogy_restrict_vocab) for space, vectors in spaces.items()}
    add_similarity_intervals(
        similarity, {space: {b.name: pair_scores(vectors, b)[:2] for b in PAIR_BENCHMARKS}
                     for space, vectors in spaces.items()},
        "pretrained", params.bootstrap_resamples, params.seed,
    )

    counts = np.array([pretrained.get_vecattr(w, "count") for w in data.words], dtype=np.int64)
    pair_counts = {"image_to_word": counts[sets["image_to_word"].items[:, 0]],
                   "word_to_image": counts[sets["word_to_image"].queries]}
    frequency = {
        name: {
            d: p1_by_frequency(rankings[name, d, params.analysis_score].ranks, pair_counts[d], params.frequency_edges)
            for d in DIRECTIONS
        }
        for name in matchers
    }
    wordnet = load_wordnet(params.wordnet_dir, args.wordnet_cache)
    errors = classify_errors(
        data, sets["image_to_word"], rankings[analysis_model, "image_to_word", params.analysis_score], counts,
        lambda word: wordnet.synsets(word, pos="n"),
        params.sparsity_max_count, params.synonym_max_hops, params.synonym_min_path_similarity,
    )
    shares = error_shares(errors)
    image_matrix, word_matrix_ = matchers[analysis_model].embeddings(data.features, params.analysis_score)
    shown = examples(data, image_matrix, word_matrix_, params.n_examples, params.top_examples, params.seed)

    metrics = {
        "data": {"images": len(data.image_ids), "words": len(data.words), "test_pairs": int(len(data.pair_image)),
                 "dropped_links": data.dropped_links, "image_pool": params.image_pool},
        "matching": matching,
        "val_p1": val_p1,
        "similarity": similarity,
        "errors": shares,
        "retrieval": retrieval,
    }
    caption = (f"Model {analysed_as}, {params.analysis_score} score; sparsity: true word count < "
               f"{params.sparsity_max_count}; synonym: WordNet within {params.synonym_max_hops} hypernym links or "
               f"path similarity >= {params.synonym_min_path_similarity}; confusion: closer to the top-1 word's "
               "mean training-image feature.")
    write_plots(Path(args.plots), frequency, shares,
                {metric: {name: read_curve(Path(args.train_logs) / name, metric) for name in names}
                 for metric in CURVES})
    opening = summary(metrics, analysis_model, analysed_as, params.analysis_score, params.retrieval.word_to_image)
    write_report(args.report, metrics, frequency, errors, shown, params.ks, caption, params.thumbnail_px,
                 plots=read_plot_specs(args.dvc_yaml) if args.dvc_yaml else [], summary=opening)
    write_json(args.details, metrics)
    write_headline(args.metrics, headline(metrics, params))

    i2w, w2i = (matching[analysis_model][d][params.analysis_score] for d in DIRECTIONS)
    analysed = analysis_model if analysis_model in spaces else "pretrained"
    print(
        f"evaluate: {len(data.pair_image):,} test pairs, {len(data.words):,} words, {len(data.image_ids):,} images "
        f"(word->image negatives from {params.image_pool} images, at least {w2i['candidates']} candidates); "
        f"{analysed_as}, {params.analysis_score} score: P@1 image->word {i2w['p1']:.3f} word->image "
        f"{w2i['p1']:.3f} (random {matching['random']['image_to_word'][params.analysis_score]['p1']:.3f}); "
        f"WS353 sim pretrained {similarity['pretrained']['ws353_similarity']['spearman']}, {analysed} "
        f"{similarity[analysed]['ws353_similarity']['spearman']}; {shares['errors']:,} top-1 errors typed; "
        f"{retrieval_summary(metrics, params)}; "
        f"report {args.report}/index.html in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    run_stage(main)
