"""DVC stage explore: the explorer page (data/explorer/index.html), a static folder to query the trained models by
hand, opened from file:// with no server: a word or phrase -> its top images, an image -> its top words."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pipeline.artifacts.layout import PARAMS, path
from pipeline.core.errors import run_stage
from pipeline.core.params import load_section
from pipeline.explorer.params import ExploreParams
from pipeline.models.registry import load_train_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", default=path("images"), help="images table")
    parser.add_argument("--links", default=path("links"), help="word-image links")
    parser.add_argument("--features", default=path("features"), help="image features")
    parser.add_argument("--vectors", default=path("vectors"), help="pretrained word vectors")
    parser.add_argument("--models", default=path("models"), help="directory with one train output per model")
    parser.add_argument("--image-root", default=".", help="where the relative image paths of the images table start")
    parser.add_argument("--out", default=path("explorer"), help="directory for index.html, its data and thumbnails")
    parser.add_argument("--params", default=PARAMS)
    args = parser.parse_args()
    started = time.perf_counter()

    params = load_section(ExploreParams, "explore", args.params)
    names, default_model = params.shown_models(load_train_config(args.params).models)

    # Imported once the params are valid: gensim takes seconds to import.
    from pipeline.artifacts.model_dir import read_train_summary
    from pipeline.evaluation.model_choice import chosen_by, model_label, resolve_model
    from pipeline.evaluation.protocol import load_trained_models
    from pipeline.explorer.build import folder_size, model_view, page_vocabulary, write_explorer

    val_p1 = {name: read_train_summary(Path(args.models) / name)["val_p1"] for name in names}
    requested, default_model = default_model, resolve_model(default_model, val_p1)
    opens_with = model_label(default_model, chosen_by(requested, default_model, val_p1))
    loaded = load_trained_models(args.images, args.links, args.features, args.vectors, args.models, names)
    data, pretrained = loaded.data, loaded.pretrained
    rows = page_vocabulary(pretrained, data.words, params.vocabulary_size)
    vocabulary = [pretrained.index_to_key[row] for row in rows]
    page_row = {word: i for i, word in enumerate(vocabulary)}
    mapped_rows = [page_row[word] for word in data.words]
    spaces, views = {"pretrained": pretrained}, {}
    for name, matcher in loaded.matchers.items():
        space = "pretrained" if matcher.projection.words == "pretrained" else name
        spaces[space] = loaded.vectors[name]
        views[name] = model_view(matcher, space, data.features, mapped_rows, params.top_words)
    index = write_explorer(args.out, data, vocabulary, spaces, views, params, default_model, args.image_root)
    print(f"explore: {index} with {len(names)} models ({', '.join(names)}), {len(data.image_ids):,} images, "
          f"opens with {opens_with}, {len(vocabulary):,} words ({len(data.words):,} mapped); {folder_size(args.out) / 1e6:.1f} MB in "
          f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    run_stage(main)
