"""Which IESG settings learn? Trains IESG under several objectives on the same data and prints,
per setting, the share of active hinges and the validation P@1 per epoch next to the L2 baseline.

    python bench/iesg_sweep.py --data-root data --mapping data/mapping --features data/features/features.h5

The settings vary the knobs the paper leaves open (energy, lambda/margin, negatives, W_p init,
feature centring, frozen vs learnable words); each one changes a single thing from its neighbour.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch
from gensim.models import Word2Vec

from pipeline.dataset import encode_corpus, load_grounding_data
from pipeline.matching import read_vectors
from pipeline.model import PAPER_IESG, L2Params, train_iesg, train_l2, validation_p1

SETTINGS = {
    "paper (dot, lambda 5, 1 negative)": {},
    "paper + centred features": {"center_features": True},
    "paper + weight decay 0.01": {"weight_decay": 0.01},
    "dot, lambda 1, 5 negatives": {"lam": 1.0, "negatives": 5},
    "cos, lambda 5, 5 negatives": {"energy": "cos", "negatives": 5},
    "cos, lambda 1, 1 negative": {"energy": "cos", "lam": 1.0},
    "cos, lambda 1, 5 negatives": {"energy": "cos", "lam": 1.0, "negatives": 5},
    "cos, lambda 1, 5 negatives, W_p from L2": {"energy": "cos", "lam": 1.0, "negatives": 5, "init": "l2"},
    "cos, lambda 1, 5 negatives, W_p from L2, frozen words": {
        "energy": "cos", "lam": 1.0, "negatives": 5, "init": "l2", "update_words": False},
    "cos, lambda 1, 5 negatives, W_p from L2, output vectors as e_c": {
        "energy": "cos", "lam": 1.0, "negatives": 5, "init": "l2", "context_vectors": "output"},
    "dot, lambda 1, 5 negatives, W_p from L2, output vectors as e_c": {
        "lam": 1.0, "negatives": 5, "init": "l2", "context_vectors": "output"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="data", help="holds corpus/text.txt and word2vec/")
    parser.add_argument("--mapping", default="data/mapping")
    parser.add_argument("--features", default="data/features/features.h5")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--triples", type=int, default=100_000, help="triples per epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="run only the settings whose name contains this")
    args = parser.parse_args()
    torch.set_num_threads(1)

    vectors = read_vectors(f"{args.data_root}/word2vec/vectors.kv")
    output_vectors = Word2Vec.load(f"{args.data_root}/word2vec/model").syn1neg
    data, _, _ = load_grounding_data(f"{args.mapping}/images.csv", f"{args.mapping}/links.csv",
                                     args.features, vectors)
    tokens = encode_corpus(f"{args.data_root}/corpus/text.txt", vectors.key_to_index)
    counts = np.array([vectors.get_vecattr(w, "count") for w in vectors.index_to_key], dtype=np.int64)
    l2 = train_l2(data, vectors.vectors, L2Params())
    projected = l2.project(data.features)
    print(f"L2 baseline: val P@1 dot {validation_p1(projected, vectors.vectors, data, 'dot'):.3f} "
          f"cos {validation_p1(projected, vectors.vectors, data, 'cos'):.3f}")
    print(f"{'setting':58s} {'active hinges per epoch':28s} val P@1 per epoch   seconds")
    for name, change in SETTINGS.items():
        if args.only and args.only not in name:
            continue
        params = replace(PAPER_IESG, epochs=args.epochs, max_triples_per_epoch=args.triples, **change)
        started = time.perf_counter()
        _, _, log = train_iesg(data, tokens, counts, vectors.vectors, output_vectors, params, args.seed, init=l2)
        active = " ".join(f"{e.active_share:6.1%}" for e in log)
        val = " ".join(f"{e.val_p1:.3f}" for e in log)
        print(f"{name:58s} {active:28s} {val:19s} {time.perf_counter() - started:5.0f}", flush=True)


if __name__ == "__main__":
    main()
