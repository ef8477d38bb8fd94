"""Seed spread of the matching results: ``train.seed`` (or word2vec's seed) swept, each model's P@1 mean and std.

    python bench/seeds.py --seeds 0 1 2 3 4 --out results/seeds.json [-S key=value ...]
    python bench/seeds.py --param pretrain.seed --seeds 0 1 2 --out results/seeds_word2vec.json   # the text side
    python bench/seeds.py -S 'train.models=[l2,contrastive,joint]' --keep-from results/seeds.json --out results/seeds.json

A direct loop of ``dvc exp run -S <param>=N`` (a DVC queue would run its workers side by side, which 2
shared cores cannot afford), each followed by reading that experiment's ``results/evaluate.json``. With
``train.seed`` (the default) only the train and evaluate stages rerun; with ``pretrain.seed`` (word2vec's
seed: the text side) pretrain reruns too, and map_images, whose outputs stay the same, so featurize does not.
Writes, per model, direction and score, the mean and the sample std of P@1 and of its paired difference to
the reference model, which ``bench/results_tables.py --seeds`` shows beside the bootstrap interval.
``--keep-from`` re-sweeps only the models a change touched: every model of that earlier file (the same
seeds and param) that this sweep did not train keeps its entry, and the output says which were kept.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, run_path  # noqa: E402

from pipeline.models.registry import BASELINE_MODEL  # noqa: E402


def spread(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values}


def summarise(runs: list[dict], reference: str) -> dict:
    """Per model / direction / score: the spread of P@1 and of ``vs_<reference>`` P@1 over ``runs`` (evaluate
    details, one per seed)."""
    out: dict = {}
    for model, directions in runs[0]["matching"].items():
        for direction, scores in directions.items():
            for score in scores:
                entries = [run["matching"][model][direction][score] for run in runs]
                cell = {"p1": spread([e["p1"] for e in entries])}
                diffs = [e[f"vs_{reference}"]["p1"]["diff"] for e in entries if f"vs_{reference}" in e]
                if len(diffs) == len(entries):
                    cell["diff_p1"] = spread(diffs)
                out.setdefault(model, {}).setdefault(direction, {})[score] = cell
    return out


def with_kept_models(summary: dict, earlier: dict, source: str) -> dict:
    """``summary`` plus every model of ``earlier`` (read from ``source``) that it lacks, and which those were."""
    kept = {model: entry for model, entry in earlier["matching"].items() if model not in summary["matching"]}
    return {**summary, "matching": {**summary["matching"], **kept},
            "kept_from": {"file": source, "models": sorted(kept), "overrides": earlier["overrides"]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--param", default="train.seed", help="the seed swept (train.seed or pretrain.seed)")
    parser.add_argument("--reference", default=BASELINE_MODEL, help="evaluate.reference_model of the runs")
    parser.add_argument("--out", default="results/seeds.json")
    parser.add_argument("-S", dest="overrides", action="append", default=[], help="extra dvc exp run -S params")
    parser.add_argument("--keep-from", type=Path,
                        help="an earlier output of this script: its models that this sweep does not train are kept")
    args = parser.parse_args()
    if len(args.seeds) < 2:
        parser.error("a spread needs at least 2 seeds")
    earlier = json.loads(args.keep_from.read_text()) if args.keep_from else None
    if earlier and (earlier["seeds"] != args.seeds or earlier.get("param", "train.seed") != args.param
                    or earlier["reference"] != args.reference):
        parser.error(f"--keep-from {args.keep_from}: swept {earlier.get('param', 'train.seed')} over {earlier['seeds']} "
                     f"against {earlier['reference']}, not {args.param} over {args.seeds} against {args.reference}")
    details = run_path(REPO, "metrics")
    runs = []
    for seed in args.seeds:
        extra = [flag for override in args.overrides for flag in ("-S", override)]
        subprocess.run(["dvc", "exp", "run", "-S", f"{args.param}={seed}", *extra], cwd=REPO, check=True)
        runs.append(json.loads(details.read_text()))
        print(f"seed {seed}: done", flush=True)
    summary = {"param": args.param, "seeds": args.seeds, "overrides": args.overrides, "reference": args.reference,
               "matching": summarise(runs, args.reference)}
    if earlier:
        summary = with_kept_models(summary, earlier, str(args.keep_from))
    Path(args.out).write_text(json.dumps(summary, indent=1))
    for model, directions in summary["matching"].items():
        cells = [f"{d} {s} {100 * c['p1']['mean']:.1f}±{100 * c['p1']['std']:.1f}"
                 for d, scores in directions.items() for s, c in scores.items()]
        print(f"{model}: " + "; ".join(cells))


if __name__ == "__main__":
    main()
