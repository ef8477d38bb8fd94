"""Sweep the contrastive and joint models (and the L2 / DeViSE baselines) over a small grid of params.

Each setting starts from the model's section of ``--params`` (the checkout's params.yaml) with the grid's
fields replaced, and is trained once per ``--seeds`` seed. For each it prints the train time, the
validation P@1 the trainer stops on (full ranking among the mapped words), the validation-pair P@1 both
ways (the evaluate protocol, 100 candidates, on the links of the val images: what a setting is chosen
on), the 100-candidate test P@1/5/10 both ways by dot and cos (image -> word: negatives from the mapped
words not linked to the image; word -> image: from the held-out val + test images not linked to the
word), and with ``--similarity`` the word-similarity benchmarks of the model's vectors beside the
pretrained ones. With more than one seed it ends with each setting's mean ± std over the seeds.

    python bench/grounded_sweep.py --root /work/main --model contrastive --grid lr=1e-3,3e-3 anchor=0.1,1
    python bench/grounded_sweep.py --root /work/main --model joint --grid anchor=0.3,1 --seeds 0 1 2 --similarity

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
from common import REPO, run_path, split_pairs, training_inputs  # noqa: E402

from gensim.models import KeyedVectors  # noqa: E402

from pipeline.artifacts.grounding import read_grounding  # noqa: E402
from pipeline.core.params import read_params  # noqa: E402
from pipeline.evaluation import protocol as matching  # noqa: E402
from pipeline.models import base  # noqa: E402
from pipeline.models.registry import REGISTRY  # noqa: E402
from pipeline.evaluation.similarity import evaluate_vectors  # noqa: E402

SWEPT = ("contrastive", "contrastive_frozen", "joint")


class Evaluator:
    """Validation-pair and test matching on shared candidate sets, and the similarity benchmarks."""

    def __init__(self, root: Path, vectors: KeyedVectors, seed: int = 0) -> None:
        grounding = read_grounding(run_path(root, "images"), run_path(root, "links"), run_path(root, "features"), vectors)
        self.md = matching.matching_data(grounding, vectors)
        self.sets = matching.draw_candidates(self.md, 100, seed, pool="heldout")
        self.val_md = split_pairs(self.md, "val")
        self.val_sets = matching.draw_candidates(self.val_md, 100, seed, pool="heldout")
        self.vectors = vectors
        self.rows = np.array([vectors.key_to_index[w] for w in self.md.words])

    def matching(self, name: str, projection: base.Projection, word_vectors: np.ndarray | None,
                 split: str = "test") -> dict:
        words = self.vectors.vectors if word_vectors is None else word_vectors
        matcher = matching.Matcher(projection, np.asarray(words[self.rows], dtype=np.float32))
        data, sets = (self.md, self.sets) if split == "test" else (self.val_md, self.val_sets)
        metrics, _ = matching.evaluate_matching(data, {name: matcher}, sets, [1, 5, 10])
        return metrics[name]

    def similarity(self, word_vectors: np.ndarray | None) -> dict:
        kv = self.vectors
        if word_vectors is not None:
            kv = KeyedVectors(self.vectors.vector_size)
            kv.add_vectors(self.vectors.index_to_key, word_vectors)
        scores = evaluate_vectors(kv, 30000)
        return {name: entry.get("spearman", entry.get("accuracy")) for name, entry in scores.items()}


def fmt(metrics: dict, scores: tuple[str, ...] = ("dot", "cos"), ks: tuple[int, ...] = (1, 5, 10)) -> str:
    out = []
    for direction, short in (("image_to_word", "i2w"), ("word_to_image", "w2i")):
        for score in scores:
            m = metrics[direction][score]
            cells = "/".join(f"{100 * m['p' + str(k)]:.1f}" for k in ks)
            out.append(f"{short} {score} {cells}")
    return " | ".join(out)


def summary(rows: list[dict], score: str) -> str:
    """Each setting's mean ± std over its seeds: validation-pair and test P@1 both ways by ``score``, and
    WS353 similarity / relatedness when measured."""
    columns = {"val i2w": ("val", "image_to_word"), "val w2i": ("val", "word_to_image"),
               "test i2w": ("test", "image_to_word"), "test w2i": ("test", "word_to_image")}
    lines = [f"mean ± std over seeds ({score}, P@1 in points; WS353 Spearman):"]
    for setting in dict.fromkeys(json.dumps(r["setting"], sort_keys=True) for r in rows):
        group = [r for r in rows if json.dumps(r["setting"], sort_keys=True) == setting]
        cells = []
        for label, (split, direction) in columns.items():
            values = 100 * np.array([r[split][direction][score]["p1"] for r in group])
            cells.append(f"{label} {values.mean():.1f} ± {values.std(ddof=1) if len(values) > 1 else 0:.1f}")
        for name in ("ws353_similarity", "ws353_relatedness"):
            values = np.array([r["similarity"][name] for r in group if r["similarity"]])
            if len(values):
                cells.append(f"{name.split('_')[1][:3]} {values.mean():.3f}")
        lines.append(f"  {setting} ({len(group)} seeds): " + " | ".join(cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("."), help="checkout whose pipeline has run (its dvc.yaml paths)")
    parser.add_argument("--model", choices=[*SWEPT, "baselines"], default="contrastive")
    parser.add_argument("--grid", nargs="*", default=[], help="field=v1,v2 items (YAML values)")
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml",
                        help="params.yaml whose train.<model> section the grid changes")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="train.seed values, each setting trained once per seed")
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
                read_params(args.params)["train"][name], f"train.{name}"), args.seeds[0])
            val = trained.log[trained.kept_epoch - 1].val_p1
            print(f"{name}: {time.perf_counter() - t:.1f} s, val P@1 {val:.3f} | "
                  f"{fmt(evaluator.matching(name, trained.projection, None))}", flush=True)
        return

    spec = REGISTRY[args.model]
    section = read_params(args.params)["train"][args.model]
    grid = {}
    for item in args.grid:
        key, _, values = item.partition("=")
        grid[key] = [yaml.safe_load(v) for v in values.split(",")]
    rows = []
    for combo, seed in itertools.product(itertools.product(*grid.values()) if grid else [()], args.seeds):
        setting = dict(zip(grid, combo))
        params = spec.read_params({**section, **setting}, f"train.{args.model}")
        t = time.perf_counter()
        trained = spec.train(inputs, params, seed)
        secs = time.perf_counter() - t
        kept = trained.log[trained.kept_epoch - 1]
        metrics = evaluator.matching(args.model, trained.projection, trained.word_vectors)
        val = evaluator.matching(args.model, trained.projection, trained.word_vectors, split="val")
        line = (f"{args.model} {setting} seed {seed}: {secs:.1f} s, {len(trained.log)} epochs, kept {trained.kept_epoch} "
                f"val P@1 {kept.val_p1:.3f} (per epoch {' '.join(f'{e.val_p1:.3f}' for e in trained.log)}) "
                f"| val pairs {fmt(val, ('cos',), (1,))} | test {fmt(metrics)}")
        extra = trained.summary
        sims = evaluator.similarity(trained.word_vectors) if args.similarity and trained.word_vectors is not None else None
        print(line + (f" | {extra}" if extra else "") + (f"\n    similarity {sims}" if sims else ""), flush=True)
        row = {"model": args.model, "setting": setting, "seed": seed, "seconds": round(secs, 1),
               "params": dataclasses.asdict(params), "kept_epoch": trained.kept_epoch, "val_p1": kept.val_p1,
               "log": [dataclasses.asdict(e) for e in trained.log], "val": val, "test": metrics,
               "similarity": sims, "summary": trained.summary}
        rows.append(row)
        if args.json:
            with open(args.json, "a") as handle:
                handle.write(json.dumps(row) + "\n")
    if len(args.seeds) > 1:
        print(summary(rows, "cos"))


if __name__ == "__main__":
    main()
