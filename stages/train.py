"""DVC stage train@<model>: fit one registered model (``--model``) with its ``train.<model>`` params."""

from __future__ import annotations

import argparse
import math
import time

from pipeline.core.errors import PipelineError, run_stage
from pipeline.core.files import atomic_path, write_json
from pipeline.models.registry import get_model, load_train_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="a name of train.models in params.yaml")
    parser.add_argument("--corpus", default="data/corpus/text.txt")
    parser.add_argument("--word2vec", default="data/word2vec", help="pretrain output directory")
    parser.add_argument("--images", default="data/mapping/images.csv")
    parser.add_argument("--links", default="data/mapping/links.csv")
    parser.add_argument("--features", default="data/features/features.h5")
    parser.add_argument("--out", help="model directory (default data/models/MODEL)")
    parser.add_argument("--live-dir", help="dvclive directory of the per-epoch loss / active share / val P@1 "
                                             "(default dvclive/MODEL)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    out_dir = args.out or f"data/models/{args.model}"
    live_dir = args.live_dir or f"dvclive/{args.model}"

    spec = get_model(args.model)
    config = load_train_config(args.params, only=args.model)
    if args.model not in config.models:
        raise PipelineError(f"{args.params}: model {args.model!r} is not in train.models ({', '.join(config.models)})")
    params = config.sections[args.model]

    # Imported once the params are valid: torch and gensim take seconds to import.
    import torch
    from gensim.models import KeyedVectors

    from pipeline.models.inputs import load_training_inputs
    from pipeline.models.training_log import TrainingLog
    from pipeline.pretrain.word2vec import save_reproducibly

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
    with atomic_path(out_dir) as out:
        out.mkdir()
        trained.projection.save(out / "model.npz")
        if trained.word_vectors is not None:
            vectors = inputs.vectors
            grounded = KeyedVectors(vectors.vector_size)
            grounded.add_vectors(vectors.index_to_key, trained.word_vectors)
            for word in vectors.index_to_key:
                grounded.set_vecattr(word, "count", vectors.get_vecattr(word, "count"))
            save_reproducibly(grounded, out / "vectors.kv")
        write_json(out / "train.json", summary)
    val = "n/a" if math.isnan(kept.val_p1) else f"{kept.val_p1:.3f}"
    print(
        f"train: {args.model} on {summary['links_train']:,} training links in {seconds:.1f} s; "
        f"val P@1 (full ranking) {val} (epoch {trained.kept_epoch} of {len(trained.log)} kept); "
        f"words {trained.projection.words}; model in {out_dir}"
    )


if __name__ == "__main__":
    run_stage(main)
