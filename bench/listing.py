"""Listing and subsetting an ILSVRC-shaped ``imagenet_dir``: a generated tree of empty files.

Builds ``<synsets>/<wnid>/<wnid>_<k>.JPEG`` (default 1000 x 1280 = 1.28M files, the ILSVRC train
folder's shape, with real WordNet noun wnids) in a temporary directory, times
:func:`pipeline.images.sources.scan_imagenet_dir` and :func:`pipeline.images.subset.subset_images`
with ``max_images`` (target: under 60 s together), then removes the tree. The listing is timed with
the tree in the page cache, as it is right after it was written.

    nice -n 10 python3 bench/listing.py [--synsets 1000] [--per-synset 1280] [--max-images 16000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synsets", type=int, default=1000)
    parser.add_argument("--per-synset", type=int, default=1280)
    parser.add_argument("--max-images", type=int, default=16000)
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the tree is made (and removed)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()

    from pipeline.images.sources import scan_imagenet_dir
    from pipeline.images.subset import subset_images
    from pipeline.images.wordnet import load_wordnet

    root = tempfile.mkdtemp(prefix="ilsvrc-shaped-", dir=args.dir)
    try:
        wn = load_wordnet(None, os.path.join(root, ".nltk_data"))
        wnids = [f"n{s.offset():08d}" for s in wn.all_synsets("n")][:args.synsets]
        start = time.perf_counter()
        for wnid in wnids:
            folder = os.path.join(root, "train", wnid)
            os.makedirs(folder)
            for k in range(args.per_synset):
                os.close(os.open(os.path.join(folder, f"{wnid}_{k}.JPEG"), os.O_CREAT | os.O_WRONLY, 0o644))
        made = time.perf_counter() - start

        start = time.perf_counter()
        found = scan_imagenet_dir(os.path.join(root, "train"), wn)
        listed = time.perf_counter() - start
        start = time.perf_counter()
        kept, counts = subset_images(found, args.max_images, None, 0)
        subsetted = time.perf_counter() - start
    finally:
        shutil.rmtree(root)

    together = listed + subsetted
    figures = {"files": len(found), "make_s": round(made, 1), "list_s": round(listed, 1),
               "subset_s": round(subsetted, 1), "list_and_subset_s": round(together, 1), **counts,
               "machine": common.print_machine("listing")}
    print(common.table([(f"list {len(found):,} files", f"{listed:.1f}"),
                        (f"subset to {counts['images_kept']:,} images of {counts['synsets_kept']:,} synsets",
                         f"{subsetted:.1f}"),
                        ("together (target < 60 s)", f"{together:.1f} {common.verdict(together, 60, False)}"),
                        ("make the tree (not timed against the target)", f"{made:.1f}")], ["step", "s"]))
    common.write_json(args.json, figures)

if __name__ == "__main__":
    main()
