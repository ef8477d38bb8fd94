"""DVC stage featurize: images.csv -> data/features/features.h5 (pooled CNN vectors per image)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline.artifacts.layout import PARAMS, path
from pipeline.core.errors import run_stage
from pipeline.core.files import write_json
from pipeline.core.params import load_section
from pipeline.features.params import FeaturesParams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", default=path("images"), help="images table")
    parser.add_argument("--output", default=path("features"), help="HDF5 to write")
    parser.add_argument("--report", default=path("featurize_report"), help="skipped images")
    parser.add_argument("--metrics", default=path("features_stats"), help="statistics JSON (counts, timing)")
    parser.add_argument("--params", default=PARAMS, help="params file")
    args = parser.parse_args()

    params = load_section(FeaturesParams, "features", args.params)

    # Imported once the params are valid: torch takes seconds to import.
    if params.procs > 1 and "WORLD_SIZE" not in os.environ:  # relaunch under PyTorch's launcher, one node
        from torch.distributed.run import main as torchrun

        torchrun(["--standalone", "--nproc_per_node", str(params.procs), __file__, *sys.argv[1:]])
        return
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # started by torchrun with several processes
        from pipeline.features.sharded import featurize_sharded

        result = featurize_sharded(args.images, args.output, params, base_dir=Path.cwd())
        if result is None:  # not rank 0: rank 0 merged the shards and writes the report
            return
    else:
        from pipeline.features.featurize import featurize

        result = featurize(args.images, args.output, params, base_dir=Path.cwd())
    write_json(args.report, {"images": result.images, "skipped": result.skipped})
    for item in result.skipped[:10]:
        print(f"warning: skipped {item['path']} ({item['image_id']}): {item['error']}", file=sys.stderr)
    if len(result.skipped) > 10:
        print(f"warning: ... and {len(result.skipped) - 10} more skipped, listed in {args.report}", file=sys.stderr)
    write_json(
        args.metrics,
        {
            "images": result.images,
            "skipped": len(result.skipped),
            "dim": result.dim,
            "encoder": params.encoder,
        },
    )
    tta = "" if params.tta == "none" else f", {params.tta} TTA"
    print(
        f"featurize: {result.images} images encoded, {len(result.skipped)} skipped -> {args.output} "
        f"({params.encoder}, {params.weights} weights{tta}, {result.dim}-d, on {result.device}) "
        f"in {result.seconds:.1f} s, "
        f"{result.images / max(result.seconds, 1e-9):.1f} images/s"
    )


if __name__ == "__main__":
    run_stage(main)
