"""Sweep the contrastive and joint models (and the L2 / DeViSE baselines) over a small grid of params.

For each setting it prints the train time, the validation P@1 (full ranking among the mapped words,
what the grid is tuned on), the 100-candidate test P@1/5/10 both ways by dot and cos (image -> word:
negatives from the mapped words not linked to the image; word -> image: from the held-out val + test
images not linked to the word), and with ``--similarity`` the word-similarity benchmarks of the
model's vectors beside the pretrained ones.

    python bench/grounded_sweep.py --root /work/main --model contrastive --grid lr=1e-3,3e-3 anchor=0.1,1
    python bench/grounded_sweep.py --root /work/main --model joint --grid text_lr=0.001,0.0025 --similarity

``--grid`` takes ``field=v1,v2,...`` items (values parsed as YAML); every combination is trained.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import run_path, training_inputs  # noqa: E402

from gensim.models import KeyedVectors  # noqa: E402

from pipeline.artifacts.grounding import read_grounding  # noqa: E402
from pipeline.evaluation import protocol as matching  # noqa: E402
from pipeline.models import base  # noqa: E402
from pipeline.models.registry import REGISTRY  # noqa: E402
from pipeline.evaluation.similarity import evaluate_vectors  # noqa: E402

SWEPT = ("contrastive", "contrastive_frozen", "joint")


class Evaluator:
    """Test matching on shared candidate sets, and the similarity benchmarks."""

    def __init__(self, root: Path, vectors: KeyedVectors, seed: int = 0) -> None:
        grounding = read_grounding(run_path(root, "images"), run_path(root, "links"), run_path(root, "features"), vectors)
        self.md = matching.matching_data(grounding, vectors)
        self.sets = matching.draw_candidates(self.md, 100, seed, pool="heldout")
        self.vectors = vectors
        self.rows = np.array([vectors.key_to_index[w] for w in self.md.words])

    def matching(self, name: str, projection: base.Projection, word_vectors: np.ndarray | None) -> dict:
        words = self.vectors.vectors if word_vectors is None else word_vectors
        matcher = matching.Matcher(projection, np.asarray(words[self.rows], dtype=np.float32))
        metrics, _ = matching.evaluate_matching(self.md, {name: matcher}, self.sets, [1, 5, 10])
        return metrics[name]

    def similarity(self, word_vectors: np.ndarray | None) -> dict:
        kv = self.vectors
        if word_vectors is not None:
            kv = KeyedVectors(self.vectors.vector_size)
            kv.add_vectors(self.vectors.index_to_key, word_vectors)
        scores = evaluate_vectors(kv, 30000)
        return {name: entry.get("spearman", entry.get("accuracy")) for name, entry in scores.items()}


def fmt(metrics: dict) -> str:
    out = []
    for direction, short in (("image_to_word", "i2w"), ("word_to_image", "w2i")):
        for score in ("dot", "cos"):
            m = metrics[direction][score]
            out.append(f"{short} {score} {100 * m['p1']:.1f}/{100 * m['p5']:.1f}/{100 * m['p10']:.1f}")
    return " | ".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("."), help="checkout whose pipeline has run (its dvc.yaml paths)")
    parser.add_argument("--model", choices=[*SWEPT, "baselines"], default="contrastive")
    parser.add_argument("--grid", nargs="*", default=[], help="field=v1,v2 items (YAML values)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--similarity", action="store_true", help="score the model's word vectors too")
    parser.add_argument("--json", type=Path, help="append one JSON line per setting")
    args = parser.parse_args()
    torch.set_num_threads(1)

    started = time.perf_counter()
    inputs = training_inputs(args.root)
    evaluator = Evaluator(args.root, inputs.vectors)
    data = inputs.data
    print(f"loaded {args.root} in {time.perf_counter() - started:.1f} s: {len(data.features):,} images "
          f"({', '.join(f'{s} {int((data.split == s).sum()):,}' for s in ('train', 'val', 'test'))}), "
          f"{len(data.mapped_words())} mapped words, {len(inputs.counts):,} vocabulary, "
          f"{len(inputs.tokens):,} tokens; test pairs {len(evaluator.md.pair_image):,}", flush=True)
    if args.similarity:
        print(f"pretrained similarity: {evaluator.similarity(None)}", flush=True)

    if args.model == "baselines":
        for name in ("l2", "devise"):
            t = time.perf_counter()
            trained = REGISTRY[name].train(inputs, REGISTRY[name].read_params(
                {"normalize_features": True, "center_features": True} if name == "l2" else {}, name), args.seed)
            val = trained.log[trained.kept_epoch - 1].val_p1
            print(f"{name}: {time.perf_counter() - t:.1f} s, val P@1 {val:.3f} | "
                  f"{fmt(evaluator.matching(name, trained.projection, None))}", flush=True)
        return

    spec = REGISTRY[args.model]
    grid = {}
    for item in args.grid:
        key, _, values = item.partition("=")
        grid[key] = [yaml.safe_load(v) for v in values.split(",")]
    for combo in itertools.product(*grid.values()) if grid else [()]:
        setting = dict(zip(grid, combo))
        params = spec.read_params(setting, f"train.{args.model}")
        t = time.perf_counter()
        trained = spec.train(inputs, params, args.seed)
        secs = time.perf_counter() - t
        kept = trained.log[trained.kept_epoch - 1]
        metrics = evaluator.matching(args.model, trained.projection, trained.word_vectors)
        line = (f"{args.model} {setting}: {secs:.1f} s, {len(trained.log)} epochs, kept {trained.kept_epoch} "
                f"val P@1 {kept.val_p1:.3f} (per epoch {' '.join(f'{e.val_p1:.3f}' for e in trained.log)}) "
                f"| {fmt(metrics)}")
        extra = trained.summary
        sims = evaluator.similarity(trained.word_vectors) if args.similarity and trained.word_vectors is not None else None
        print(line + (f" | {extra}" if extra else "") + (f"\n    similarity {sims}" if sims else ""), flush=True)
        if args.json:
            with open(args.json, "a") as handle:
                handle.write(json.dumps({"model": args.model, "setting": setting, "seconds": round(secs, 1),
                                         "params": dataclasses.asdict(params), "kept_epoch": trained.kept_epoch,
                                         "val_p1": kept.val_p1, "log": [dataclasses.asdict(e) for e in trained.log],
                                         "test": metrics, "similarity": sims, "summary": trained.summary}) + "\n")


if __name__ == "__main__":
    main()
