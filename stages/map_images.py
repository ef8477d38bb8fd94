"""DVC stage map_images: labelled images -> WordNet 3.0 noun synsets -> vocabulary words; train/val/test split."""

from __future__ import annotations

import argparse
import time

from pipeline.core.errors import run_stage
from pipeline.core.files import write_json
from pipeline.core.params import load_section
from pipeline.images.params import MapImagesParams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vectors", default="data/word2vec/vectors.kv", help="pretrained KeyedVectors (vocabulary)")
    parser.add_argument("--images-dir", default="data/images", help="where packaged images are extracted")
    parser.add_argument("--mapping-dir", default="data/mapping", help="images.csv, links.csv, unmapped.csv")
    parser.add_argument("--metrics", default="results/mapping.json")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()

    start = time.perf_counter()
    params = load_section(MapImagesParams, "map_images", args.params)

    # Imported once the params are valid: nltk takes seconds to import.
    from pipeline.images.mapping import build_mapping, read_vocabulary, write_outputs
    from pipeline.images.sources import collect_images
    from pipeline.images.wordnet import load_wordnet

    vocabulary = read_vocabulary(args.vectors)
    wn = load_wordnet(params.wordnet_dir, params.wordnet_cache)
    found = collect_images(params, wn, args.images_dir)
    mapping = build_mapping(params, wn, vocabulary, found)
    write_outputs(mapping, args.images_dir, args.mapping_dir)
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
