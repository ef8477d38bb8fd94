"""DVC stage train: the L2 baseline, a DeViSE-style baseline and IESG."""

from __future__ import annotations

import argparse
import dataclasses
import time

import pandas as pd
import torch
from gensim.models import KeyedVectors

from pipeline.dataset import load_training_inputs
from pipeline.errors import run_stage
from pipeline.io import atomic_path, write_json
from pipeline.model import TrainParams, train_devise, train_iesg, train_l2, validation_p1
from pipeline.params import load_section
from pipeline.word2vec import save_reproducibly


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", default="data/corpus/text.txt")
    parser.add_argument("--word2vec", default="data/word2vec", help="pretrain output directory")
    parser.add_argument("--images", default="data/mapping/images.csv")
    parser.add_argument("--links", default="data/mapping/links.csv")
    parser.add_argument("--features", default="data/features/features.h5")
    parser.add_argument("--out", default="data/models")
    parser.add_argument("--log", default="plots/train.csv", help="per-epoch loss / active share / val P@1")
    parser.add_argument("--metrics", default="metrics/train.json")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()

    params = load_section(TrainParams, "train", args.params)
    # Batches of 16 are far too small to gain from intra-op threads; more threads only add overhead.
    torch.set_num_threads(1)
    iesg_params = params.effective_iesg()
    inputs = load_training_inputs(args.corpus, args.word2vec, args.images, args.links, args.features)
    vectors, data = inputs.vectors, inputs.data
    started = time.perf_counter()

    l2 = train_l2(data, vectors.vectors, params.l2)
    l2_val = validation_p1(l2.project(data.features), vectors.vectors, data, "dot")
    devise, devise_log = train_devise(data, vectors.vectors, params.devise, params.seed)
    iesg, iesg_vectors, iesg_log = train_iesg(
        data, inputs.tokens, inputs.counts, vectors.vectors, inputs.output_vectors, iesg_params, params.seed,
        l2_ridge=params.l2.ridge,
    )

    with atomic_path(args.out) as out:
        out.mkdir()
        l2.save(out / "l2.npz", words="pretrained")
        devise.save(out / "devise.npz", words="pretrained")
        iesg.save(out / "iesg.npz", words="iesg")
        grounded = KeyedVectors(vectors.vector_size)
        grounded.add_vectors(vectors.index_to_key, iesg_vectors)
        for word in vectors.index_to_key:
            grounded.set_vecattr(word, "count", vectors.get_vecattr(word, "count"))
        save_reproducibly(grounded, out / "iesg_vectors.kv")
    log = pd.DataFrame([dataclasses.asdict(e) for e in devise_log + iesg_log]).round(4)
    with atomic_path(args.log) as tmp:
        log.to_csv(tmp, index=False)
    last = iesg_log[-1]
    kept = max(iesg_log, key=lambda e: e.val_p1) if iesg_params.patience else last
    write_json(args.metrics, {
        "setting": params.setting,
        "links_train": int(len(data.links_in("train")[0])),
        "dropped_links": inputs.dropped["dropped_links"],
        "dropped_images": inputs.dropped["dropped_images"],
        "val_p1": {"l2": round(l2_val, 4), "devise": round(devise_log[-1].val_p1, 4),
                   "iesg": round(kept.val_p1, 4)},
        "iesg_epochs_run": len(iesg_log),
        "iesg_final_active_share": round(last.active_share, 4),
    })
    print(
        f"train: L2, DeViSE and IESG ({params.setting}) on {len(data.links_in('train')[0]):,} training links "
        f"in {time.perf_counter() - started:.1f} s; val P@1 (full ranking) L2 {l2_val:.3f}, "
        f"DeViSE {devise_log[-1].val_p1:.3f}, IESG {kept.val_p1:.3f} (epoch {kept.epoch} of {len(iesg_log)} kept, "
        f"active hinges {kept.active_share:.1%}); models in {args.out}"
    )


if __name__ == "__main__":
    run_stage(main)
