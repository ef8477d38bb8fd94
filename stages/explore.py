"""DVC stage explore: the explorer page (data/explorer/index.html), a static folder to query the trained models by
hand, opened from file:// with no server: a word or phrase -> its top images, an image -> its top words."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pipeline.core.errors import PipelineError, run_stage
from pipeline.core.params import load_section
from pipeline.explorer.params import ExploreParams
from pipeline.models.registry import load_train_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", default="data/mapping/images.csv", help="images table")
    parser.add_argument("--links", default="data/mapping/links.csv", help="word-image links")
    parser.add_argument("--features", default="data/features/features.h5", help="image features")
    parser.add_argument("--vectors", default="data/word2vec/vectors.kv", help="pretrained word vectors")
    parser.add_argument("--models", default="data/models", help="directory with one train output per model")
    parser.add_argument("--image-root", default=".", help="where the relative image paths of the images table start")
    parser.add_argument("--out", default="data/explorer", help="directory for index.html, its data and thumbnails")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    started = time.perf_counter()

    params = load_section(ExploreParams, "explore", args.params)
    names, default_model = params.shown_models(load_train_config(args.params).models)

    # Imported once the params are valid: gensim takes seconds to import.
    from pipeline.evaluation.protocol import (
        Matcher, build_data, read_features, read_images, read_links, read_trained, read_vectors, word_matrix,
    )
    from pipeline.explorer.build import folder_size, model_view, page_vocabulary, write_explorer

    feature_ids, features = read_features(args.features)
    pretrained = read_vectors(args.vectors)
    data = build_data(read_images(args.images), read_links(args.links), feature_ids, features, pretrained, args.links)
    if not data.words:
        raise PipelineError(f"{args.links}: no link to an image with features; rerun map_images")
    rows = page_vocabulary(pretrained, data.words, params.vocabulary_size)
    vocabulary = [pretrained.index_to_key[row] for row in rows]
    page_row = {word: i for i, word in enumerate(vocabulary)}
    mapped_rows = [page_row[word] for word in data.words]
    spaces, views = {"pretrained": pretrained}, {}
    for name in names:
        projection, vectors = read_trained(Path(args.models) / name, data.features.shape[1], pretrained)
        space = "pretrained" if projection.words == "pretrained" else name
        spaces[space] = vectors
        views[name] = model_view(Matcher(projection, word_matrix(vectors, data.words)), space, data.features,
                                 mapped_rows, params.top_words)
    index = write_explorer(args.out, data, vocabulary, spaces, views, params, default_model, args.image_root)
    print(f"explore: {index} with {len(names)} models ({', '.join(names)}), {len(data.image_ids):,} images, "
          f"{len(vocabulary):,} words ({len(data.words):,} mapped); {folder_size(args.out) / 1e6:.1f} MB in "
          f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    run_stage(main)
