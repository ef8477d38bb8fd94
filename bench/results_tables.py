"""The README's results tables from an evaluate stage's details (``results/evaluate.json``).

    python bench/results_tables.py --details results/evaluate.json

Matching, both directions: P@1 / P@5 / P@10 by dot and by cosine with the 95% bootstrap interval of
P@1, the paper's numbers, and each model's paired P@1 difference to the reference model (bold where
its interval excludes zero). With ``--seeds`` (``bench/seeds.py``'s output) each P@1 gets its mean ± std over
``train.seed`` and a difference is bold ("better") only when its interval excludes zero AND it exceeds twice
the seed std of that difference. Word similarity: each word space's Spearman with its interval and, for
the grounded spaces, the paired difference to the pretrained vectors.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import run_path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipeline.models.registry import BASELINE_MODEL, REGISTRY, paper_matching  # noqa: E402

LABELS = {**{name: spec.label for name, spec in REGISTRY.items()}, "random": "random projection"}
BENCHMARKS = ("ws353_similarity", "ws353_relatedness", "ws353", "simlex999", "men", "analogy")


def precision(entry: dict) -> str:
    text = " / ".join(f"{100 * entry[f'p{k}']:.1f}" for k in (1, 5, 10))
    if "ci" in entry:
        low, high = entry["ci"]["p1"]
        text += f" [{100 * low:.1f}, {100 * high:.1f}]"
    return text


def is_better(entry: dict, seed_std: float | None = None) -> bool:
    """A paired difference counts as real when its bootstrap interval excludes 0 and, given the seed std of
    that difference, when it is also larger than twice it."""
    low, high = entry["ci"]
    excludes_zero = low > 0 or high < 0
    return excludes_zero and (seed_std is None or abs(entry["diff"]) > 2 * seed_std)


def seed_cell(seeds: dict | None, key: str) -> str:
    if not seeds or key not in seeds:
        return ""
    return f" ({100 * seeds[key]['mean']:.1f} ± {100 * seeds[key]['std']:.1f} over seeds)"


def difference(entry: dict | None, scale: float, digits: int, seed_std: float | None = None) -> str:
    if not entry:
        return "-"
    low, high = entry["ci"]
    bold = "**" if is_better(entry, seed_std) else ""
    return f"{bold}{scale * entry['diff']:+.{digits}f} [{scale * low:+.{digits}f}, {scale * high:+.{digits}f}]{bold}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--details", default=str(run_path(".", "metrics")), help="the evaluate stage's details JSON")
    parser.add_argument("--reference", default=BASELINE_MODEL, help="evaluate.reference_model of that run")
    parser.add_argument("--seeds", help="bench/seeds.py's output: seed mean ± std, and the 2x seed std rule")
    args = parser.parse_args()
    details = json.loads(Path(args.details).read_text())
    seeds = json.loads(Path(args.seeds).read_text())["matching"] if args.seeds else {}
    matching = details["matching"]
    names = [*(n for n in LABELS if n in matching), *(n for n in matching if n not in LABELS)]
    for direction in ("image_to_word", "word_to_image"):
        entry = matching[names[0]][direction]["dot"]
        print(f"\n{direction.replace('_to_', ' -> ')}: {entry['pairs']:,} test pairs, smallest candidate set "
              f"{entry['candidates']}\n")
        print(f"| model | paper | dot | cos | P@1 - {args.reference}, dot | P@1 - {args.reference}, cos |")
        print("|---|---|---|---|---|---|")
        for name in names:
            scores = matching[name][direction]
            spreads = {s: seeds.get(name, {}).get(direction, {}).get(s) for s in ("dot", "cos")}
            cells = [precision(scores[s]) + seed_cell(spreads[s], "p1") for s in ("dot", "cos")]
            cells += [difference(scores[s].get(f"vs_{args.reference}", {}).get("p1"), 100, 1,
                                 (spreads[s] or {}).get("diff_p1", {}).get("std")) for s in ("dot", "cos")]
            paper = paper_matching(name, direction)
            paper_cell = " / ".join(map(str, paper)) if paper else "-"
            print(f"| {LABELS.get(name, name)} | {paper_cell} | {' | '.join(cells)} |")
    print("\n| word space | " + " | ".join(BENCHMARKS) + " |\n|---|" + "---|" * len(BENCHMARKS))
    for space, benchmarks in details["similarity"].items():
        cells = []
        for name in BENCHMARKS:
            entry = benchmarks[name]
            value = entry.get("spearman", entry.get("accuracy"))
            text = "-" if value is None else f"{value:.3f}"
            if entry.get("ci"):
                text += f" [{entry['ci'][0]:.3f}, {entry['ci'][1]:.3f}]"
            if "vs_pretrained" in entry:
                text += f"; {difference(entry['vs_pretrained'], 1, 3)}"
            cells.append(text)
        print(f"| {space} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
