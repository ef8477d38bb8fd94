"""DVC stage evaluate: P@k matching on the test split, word similarity, error analysis, HTML report."""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from pipeline.analysis import classify_errors, error_shares, examples, p1_by_frequency
from pipeline.errors import PipelineError, run_stage
from pipeline.io import atomic_path, write_json
from pipeline.matching import (
    DIRECTIONS, MODEL_NAMES, EvaluateParams, build_data, draw_candidates, embeddings, evaluate_matching,
    random_model, read_features, read_images, read_links, read_model, read_vectors, word_matrix,
)
from pipeline.params import load_section
from pipeline.plots import read_plot_specs
from pipeline.report import write_report
from pipeline.similarity import evaluate_vectors
from pipeline.wordnet import load_wordnet


def write_plots(out_dir: Path, frequency: dict, shares: dict) -> None:
    """CSV files for ``dvc plots``: P@1 per frequency bucket per direction and model; error shares."""
    with atomic_path(out_dir) as staged:
        for model, directions in frequency.items():
            for direction, rows in directions.items():
                path = staged / "p1_by_frequency" / direction / f"{model}.csv"
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "w", newline="") as handle:
                    writer = csv.writer(handle)
                    writer.writerow(["bucket", "p1", "pairs"])
                    # The order prefix keeps the buckets in order on the plot's nominal axis.
                    writer.writerows([f"{i + 1}. {r['bucket']}", r["p1"] if r["p1"] is not None else "", r["pairs"]]
                                     for i, r in enumerate(rows))
        with open(staged / "errors.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["type", "share"])
            writer.writerows([k, v] for k, v in shares.items() if k != "errors")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", default="data/mapping/images.csv", help="images table")
    parser.add_argument("--links", default="data/mapping/links.csv", help="word-image links")
    parser.add_argument("--features", default="data/features/features.h5", help="image features")
    parser.add_argument("--vectors", default="data/word2vec/vectors.kv", help="pretrained word vectors")
    parser.add_argument("--models", default="data/models", help="directory with {l2,iesg,devise}.npz")
    parser.add_argument("--iesg-vectors", default="data/models/iesg_vectors.kv", help="IESG word vectors")
    parser.add_argument("--metrics", default="metrics/evaluate.json")
    parser.add_argument("--plots", default="plots/evaluate", help="directory for plot CSVs")
    parser.add_argument("--report", default="data/report", help="directory for index.html and thumbnails")
    parser.add_argument("--dvc-yaml", default="dvc.yaml", help="whose top-level plots the report draws ('': none)")
    parser.add_argument("--wordnet-cache", default="data/downloads/nltk_data", help="where an nltk copy of WordNet is built")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    started = time.perf_counter()

    params = load_section(EvaluateParams, "evaluate", args.params)
    images, links = read_images(args.images), read_links(args.links)
    feature_ids, features = read_features(args.features)
    kv = {"pretrained": read_vectors(args.vectors), "iesg": read_vectors(args.iesg_vectors)}
    data = build_data(images, links, feature_ids, features, kv["pretrained"], args.links)
    if len(data.pair_image) == 0:
        raise PipelineError(
            f"{args.links}: no link to a test-split image with features; check map_images' split params"
        )
    missing = [w for w in data.words if w not in kv["iesg"].key_to_index]
    if missing:
        raise PipelineError(
            f"{args.iesg_vectors}: {len(missing)} mapped word(s) missing (e.g. {missing[0]!r}); rerun train"
        )
    word_dims = {side: vectors.vector_size for side, vectors in kv.items()}
    models = {
        name: read_model(Path(args.models) / f"{name}.npz", name, data.features.shape[1], word_dims)
        for name in MODEL_NAMES
    }
    models["random"] = random_model(data.features, word_dims["pretrained"], params.seed)
    word_vectors = {side: word_matrix(vectors, data.words) for side, vectors in kv.items()}

    sets = draw_candidates(data, params.candidates, params.seed)
    matching, rankings = evaluate_matching(data, models, word_vectors, sets, params.ks)
    similarity = {side: evaluate_vectors(vectors, params.analogy_restrict_vocab) for side, vectors in kv.items()}

    counts = np.array([kv["pretrained"].get_vecattr(w, "count") for w in data.words], dtype=np.int64)
    pair_counts = {"image_to_word": counts[sets["image_to_word"].items[:, 0]],
                   "word_to_image": counts[sets["word_to_image"].queries]}
    frequency = {
        name: {
            d: p1_by_frequency(rankings[name, d, params.analysis_score].ranks, pair_counts[d], params.frequency_edges)
            for d in DIRECTIONS
        }
        for name in models
    }
    wordnet = load_wordnet(params.wordnet_dir, args.wordnet_cache)
    errors = classify_errors(
        data, sets["image_to_word"], rankings[params.analysis_model, "image_to_word", params.analysis_score], counts,
        lambda word: wordnet.synsets(word, pos="n"),
        params.sparsity_max_count, params.synonym_max_hops, params.synonym_min_path_similarity,
    )
    shares = error_shares(errors)
    image_matrix, word_matrix_ = embeddings(models[params.analysis_model], data, word_vectors, params.analysis_score)
    shown = examples(data, image_matrix, word_matrix_, params.n_examples, params.top_examples, params.seed)

    metrics = {
        "data": {"images": len(data.image_ids), "words": len(data.words), "test_pairs": int(len(data.pair_image)),
                 "dropped_links": data.dropped_links},
        "matching": matching,
        "similarity": similarity,
        "errors": shares,
    }
    caption = (f"Model {params.analysis_model}, {params.analysis_score} score; sparsity: true word count < "
               f"{params.sparsity_max_count}; synonym: WordNet within {params.synonym_max_hops} hypernym links or "
               f"path similarity >= {params.synonym_min_path_similarity}; confusion: closer to the top-1 word's "
               "mean training-image feature.")
    write_plots(Path(args.plots), frequency, shares)
    write_report(args.report, metrics, frequency, errors, shown, params.ks, caption, params.thumbnail_px,
                 plots=read_plot_specs(args.dvc_yaml) if args.dvc_yaml else [])
    write_json(args.metrics, metrics)

    i2w, w2i = (matching[params.analysis_model][d][params.analysis_score] for d in DIRECTIONS)
    print(
        f"evaluate: {len(data.pair_image):,} test pairs, {len(data.words):,} words, {len(data.image_ids):,} images; "
        f"{params.analysis_model} ({params.analysis_score}) P@1 image->word {i2w['p1']:.3f} word->image {w2i['p1']:.3f} "
        f"(random {matching['random']['image_to_word'][params.analysis_score]['p1']:.3f}); "
        f"WS353 sim {similarity['pretrained']['ws353_similarity']['spearman']} -> "
        f"{similarity['iesg']['ws353_similarity']['spearman']}; {shares['errors']:,} top-1 errors typed; "
        f"report {args.report}/index.html in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    run_stage(main)
