"""DVC stage train@<model>: fit one registered model (``--model``) with its ``train.<model>`` params."""

from __future__ import annotations

import argparse
import math
import time

from pipeline.artifacts.layout import PARAMS, path
from pipeline.core.errors import PipelineError, run_stage
from pipeline.models.registry import get_model, load_train_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="a name of train.models in params.yaml")
    parser.add_argument("--corpus", default=path("corpus"))
    parser.add_argument("--word2vec", default=path("word2vec_dir"), help="pretrain output directory")
    parser.add_argument("--images", default=path("images"))
    parser.add_argument("--links", default=path("links"))
    parser.add_argument("--features", default=path("features"))
    parser.add_argument("--out", help=f"model directory (default {path('model')})")
    parser.add_argument("--live-dir", help="dvclive directory of the per-epoch loss / active share / val P@1 "
                                             f"(default {path('train_log')})")
    parser.add_argument("--params", default=PARAMS)
    args = parser.parse_args()
    out_dir = args.out or path("model", args.model)
    live_dir = args.live_dir or path("train_log", args.model)

    spec = get_model(args.model)
    config = load_train_config(args.params, only=args.model)
    if args.model not in config.models:
        raise PipelineError(f"{args.params}: model {args.model!r} is not in train.models ({', '.join(config.models)})")
    params = config.sections[args.model]

    # Imported once the params are valid: torch and gensim take seconds to import.
    import torch

    from pipeline.artifacts.model_dir import write_model
    from pipeline.artifacts.training_log import TrainingLog
    from pipeline.artifacts.vectors import with_vectors
    from pipeline.artifacts.training_inputs import load_training_inputs

    # Batches this small gain nothing from intra-op threads; one thread is also what keeps runs reproducible.
    torch.set_num_threads(1)
    inputs = load_training_inputs(args.corpus, args.word2vec, args.images, args.links, args.features,
                                  text=spec.reads_text)
    live = TrainingLog(live_dir)
    started = time.perf_counter()
    trained = spec.train(inputs, params, config.seed, live)
    seconds = time.perf_counter() - started

    kept = next(e for e in trained.log if e.epoch == trained.kept_epoch)
    live.finish(kept)
    summary = {
        "model": args.model,
        "val_p1": round(kept.val_p1, 4),
        "epochs_run": len(trained.log),
        "kept_epoch": trained.kept_epoch,
        "words": trained.projection.words,
        "links_train": int(len(inputs.data.links_in("train")[0])),
        **inputs.dropped,
        **trained.summary,
    }
    learnt = None if trained.word_vectors is None else with_vectors(inputs.vectors, trained.word_vectors)
    write_model(out_dir, trained.projection, learnt, summary)
    val = "n/a" if math.isnan(kept.val_p1) else f"{kept.val_p1:.3f}"
    print(
        f"train: {args.model} on {summary['links_train']:,} training links in {seconds:.1f} s; "
        f"val P@1 (full ranking) {val} (epoch {trained.kept_epoch} of {len(trained.log)} kept); "
        f"words {trained.projection.words}; model in {out_dir}"
    )


if __name__ == "__main__":
    run_stage(main)
