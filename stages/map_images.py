"""DVC stage map_images: labelled images -> WordNet 3.0 noun synsets -> vocabulary words; train/val/test split."""

from __future__ import annotations

import argparse
import time

from pipeline.artifacts.layout import PARAMS, path
from pipeline.core.errors import run_stage
from pipeline.core.files import write_json
from pipeline.core.params import load_section
from pipeline.images.params import MapImagesParams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vectors", default=path("vectors"), help="pretrained KeyedVectors (vocabulary)")
    parser.add_argument("--downloads", default=path("downloads"), help="downloads and unpacked .debs (not a dvc out)")
    parser.add_argument("--wordnet-cache", default=path("wordnet_cache"),
                        help="where an nltk-readable copy of the system WordNet is built")
    parser.add_argument("--images-dir", default=path("image_files"), help="where packaged images are extracted")
    parser.add_argument("--images", default=path("images"), help="images table to write")
    parser.add_argument("--links", default=path("links"), help="word-image links to write")
    parser.add_argument("--unmapped", default=path("unmapped"), help="images left out, with the reason")
    parser.add_argument("--metrics", default=path("mapping_stats"))
    parser.add_argument("--params", default=PARAMS)
    args = parser.parse_args()

    start = time.perf_counter()
    params = load_section(MapImagesParams, "map_images", args.params)

    # Imported once the params are valid: nltk and gensim take seconds to import.
    from pipeline.artifacts.vectors import read_vectors
    from pipeline.images.mapping import build_mapping, write_outputs
    from pipeline.images.sources import collect_images
    from pipeline.images.wordnet import load_wordnet

    vocabulary = set(read_vectors(args.vectors).key_to_index)
    wn = load_wordnet(params.wordnet_dir, args.wordnet_cache)
    found = collect_images(params, wn, args.images_dir, args.downloads)
    mapping = build_mapping(params, wn, vocabulary, found)
    write_outputs(mapping, args.images_dir, args.images, args.links, args.unmapped)
    write_json(args.metrics, mapping.metrics)
    m = mapping.metrics
    per_split = " / ".join(f"{s} {m['images'][s]:,}" for s in ("train", "val", "test"))
    print(
        f"map_images: {m['images']['total']:,} images ({per_split}) of {m['synsets']['total']:,} synsets, "
        f"{m['words']['total']:,} words, {m['links']['total']:,} links; {m['unmapped']:,} unmapped, "
        f"{m['words_too_general']:,} words over the generality bound; {time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    run_stage(main)
