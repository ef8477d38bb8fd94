"""Choose the contrastive image loss's recipe on validation: loss weighting x initialisation x learning rate.

Trains one model (``--model``, default contrastive) of the run at ``--root`` once per recipe, each from
that model's ``train.<model>`` section of ``--params`` with the recipe's fields replaced, and prints a
table of the validation P@1 (full ranking among the mapped words: the train summary's ``val_p1``, what
the recipe is chosen on), the epochs run and kept, and the train time. Only validation is read.

    nice -n 10 python bench/contrastive_recipe.py --root /tmp/paper
    nice -n 10 python bench/contrastive_recipe.py --root /tmp/paper --model joint --recipes before query_normal_1e-3_words_1e-3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, print_machine, table, training_inputs, write_json  # noqa: E402

from pipeline.models.registry import REGISTRY  # noqa: E402

BEFORE = {"multi_positive": "per_link", "init": "l2", "lr": 1e-2, "word_lr": 1e-2}
"""The recipe before issue 22; every other recipe changes some of its fields."""
RECIPES = {
    "before": BEFORE,
    "per_image": {**BEFORE, "multi_positive": "per_image"},
    "normal_1e-3": {**BEFORE, "init": "normal", "lr": 1e-3},
    "query_normal_1e-3": {**BEFORE, "multi_positive": "per_image", "init": "normal", "lr": 1e-3},
    "query_normal_3e-3": {**BEFORE, "multi_positive": "per_image", "init": "normal", "lr": 3e-3},
    "query_l2_1e-3": {**BEFORE, "multi_positive": "per_image", "lr": 1e-3},
    "query_normal_3e-4": {**BEFORE, "multi_positive": "per_image", "init": "normal", "lr": 3e-4},
    "query_normal_1e-3_words_1e-3": {"multi_positive": "per_image", "init": "normal", "lr": 1e-3, "word_lr": 1e-3},
    "query_normal_1e-3_patience_8": {**BEFORE, "multi_positive": "per_image", "init": "normal", "lr": 1e-3,
                                     "patience": 8},
}
"""Name -> the fields replaced in the model's params.yaml section."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, required=True, help="checkout whose pipeline has run (its dvc.yaml paths)")
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml",
                        help="params.yaml whose train.<model> section the recipes change")
    parser.add_argument("--model", choices=["contrastive", "contrastive_frozen", "joint"], default="contrastive")
    parser.add_argument("--recipes", nargs="*", choices=list(RECIPES), default=list(RECIPES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the rows as JSON here too")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the train stage
    print_machine("contrastive_recipe")

    spec = REGISTRY[args.model]
    section = yaml.safe_load(args.params.read_text())["train"][args.model]
    started = time.perf_counter()
    inputs = training_inputs(args.root, text=spec.reads_text)
    print(f"loaded {args.root} in {time.perf_counter() - started:.1f} s", flush=True)

    rows = []
    for name in args.recipes:
        params = spec.read_params({**section, **RECIPES[name]}, f"train.{args.model}")
        started = time.perf_counter()
        trained = spec.train(inputs, params, args.seed)
        seconds = time.perf_counter() - started
        kept = next(e for e in trained.log if e.epoch == trained.kept_epoch)
        row = {"recipe": name, "multi_positive": params.multi_positive, "init": params.init, "lr": params.lr,
               "word_lr": params.word_lr, "patience": params.patience,
               "val_p1": round(kept.val_p1, 4), "epochs_run": len(trained.log), "kept_epoch": trained.kept_epoch,
               "seconds": round(seconds, 1)}
        print(row, flush=True)
        rows.append(row)

    print(f"\n{args.model} on {args.root}, seed {args.seed}: validation P@1 (full ranking)")
    print(table([[r["recipe"], r["multi_positive"], r["init"], r["lr"], r["word_lr"], r["patience"],
                  f"{100 * r['val_p1']:.1f}", f"{r['kept_epoch']}/{r['epochs_run']}", r["seconds"]] for r in rows],
                ["recipe", "multi_positive", "init", "lr", "word_lr", "patience", "val P@1", "kept/run epochs",
                 "train s"]))
    write_json(args.json, {"model": args.model, "root": str(args.root), "seed": args.seed, "rows": rows})


if __name__ == "__main__":
    main()
