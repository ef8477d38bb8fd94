"""Rewrite the generated blocks of the README and docs/ from the committed files they describe.

    python docs/generate.py           # rewrite the blocks
    python docs/generate.py --check   # exit 1 naming each block that differs (tests/docs runs this)

A block is the text between ``<!-- generated: NAME -->`` and ``<!-- end generated -->``:
- ``params``: every key of params.yaml, its default and its comment (docs/stages-and-parameters.md);
- ``headline``: the README's results table, from the paper-scale run's evaluate details
  (docs/results/paper_scale.json) and the default run's (results/evaluate.json);
- ``hubness_default`` / ``hubness_paper_scale``: the full-ranking retrieval of contrastive and joint, plain and
  corrected, from the retrieval section of results/evaluate.json / docs/results/paper_scale.json;
- ``paper_scale_tables`` (with the seed spread of docs/results/seeds_paper.json) / ``default_tables`` / ``zero_shot_tables``: bench/results_tables.py's output on those files
  and on the unseen-split run (docs/results/zero_shot.json), ``zero_shot_corrections``: bench/zero_shot.py's
  figures on that run (docs/results/zero_shot_corrections.json) (docs/results.md).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from pipeline.models.registry import REGISTRY, paper_matching  # noqa: E402

PARAMS = REPO / "params.yaml"
PAPER_SCALE = REPO / "docs/results/paper_scale.json"
SEEDS = REPO / "docs/results/seeds_paper.json"
ZERO_SHOT = REPO / "docs/results/zero_shot.json"
ZERO_SHOT_CORRECTIONS = REPO / "docs/results/zero_shot_corrections.json"
DEFAULT_RUN = REPO / "results/evaluate.json"
BLOCK = re.compile(r"(<!-- generated: (\w+) -->\n)(.*?)(<!-- end generated -->)", re.S)
HEADLINE_MODELS = ("l2", "iesg", "contrastive", "joint")
DIRECTIONS = ("image_to_word", "word_to_image")


def params_comments(path: Path = PARAMS) -> dict[str, str]:
    """``section.key...`` -> the comment on its line in params.yaml (keys without one map to "")."""
    comments, stack = {}, []
    for line in path.read_text().splitlines():
        match = re.match(r"^( *)([A-Za-z_]\w*):(.*)$", line)
        if not match:
            continue
        indent, key, rest = len(match[1]), match[2], match[3]
        stack = [(i, k) for i, k in stack if i < indent] + [(indent, key)]
        comment = rest.split(" # ", 1)[1].strip() if " # " in rest else ""
        comments[".".join(k for _, k in stack)] = comment
    return comments


def leaf_keys(document: dict, prefix: str = "") -> dict[str, object]:
    """Every key whose value is not a mapping of further keys, dotted, with its value."""
    keys = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and not all(k in ("name", "version", "sha256") for k in value):
            keys.update(leaf_keys(value, name + "."))
        else:
            keys[name] = value
    return keys


def described(key: str, comments: dict[str, str]) -> str:
    """A key's comment, or that of the same key in the sibling section whose name it extends
    (train.contrastive_frozen.lr says what train.contrastive.lr says)."""
    if comments.get(key):
        return comments[key]
    parent, _, last = key.rpartition(".")
    grand, _, section = parent.rpartition(".")
    for other, text in comments.items():
        other_parent = other.rpartition(".")[0]
        if (text and other == f"{other_parent}.{last}" and other_parent.rpartition(".")[0] == grand and grand
                and section.startswith(other_parent.rpartition(".")[2] + "_")):
            return text
    return ""


def shown(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."


def params_block() -> str:
    document = yaml.safe_load(PARAMS.read_text())
    comments = params_comments()
    out = []
    for section, body in document.items():
        out.append(f"### `{section}`\n\n| key | default | what it does, and why this default |\n|---|---|---|")
        for key, value in leaf_keys(body, section + ".").items():
            text = described(key, comments).replace("|", "\\|")
            out.append(f"| `{key}` | `{shown(value)}` | {text} |")
        out.append("")
    return "\n".join(out)


def _cell(entry: dict) -> str:
    low, high = entry["ci"]["p1"]
    return (" / ".join(f"{100 * entry[f'p{k}']:.1f}" for k in (1, 5, 10))
            + f" [{100 * low:.1f}, {100 * high:.1f}]")


def headline_block() -> str:
    runs = {"this project, paper scale": json.loads(PAPER_SCALE.read_text()),
            "this project, default run": json.loads(DEFAULT_RUN.read_text())}
    out = ["| model | from | image -> word | word -> image |", "|---|---|---|---|"]
    for name in HEADLINE_MODELS:
        label = REGISTRY[name].label
        paper = [paper_matching(name, direction) for direction in DIRECTIONS]
        if all(paper):
            out.append(f"| {label} | the paper | " + " | ".join(" / ".join(map(str, p)) for p in paper) + " |")
            label = ""
        for run_name, run in runs.items():
            scores = [run["matching"].get(name, {}).get(direction) for direction in DIRECTIONS]
            out.append(f"| {label} | {run_name} | " + " | ".join(_cell(s["cos"]) if s else "-" for s in scores) + " |")
            label = ""
    return "\n".join(out) + "\n"


def results_tables(details: Path, seeds: Path | None = None) -> str:
    command = [sys.executable, str(REPO / "bench/results_tables.py"), "--details", str(details)]
    command += ["--seeds", str(seeds)] if seeds else []
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip() + "\n"


def zero_shot_corrections_block(path: Path = ZERO_SHOT_CORRECTIONS) -> str:
    """bench/zero_shot.py's figures: P@1 by seen / unseen word, and ConSE and calibrated stacking against plain."""
    report = json.loads(path.read_text())
    out = [f"{report['seen_words']} seen and {report['unseen_words']} unseen mapped words (median corpus count "
           f"{report['median_count']['seen']:.0f} and {report['median_count']['unseen']:.0f}); P@1, cos:", "",
           "| model | direction | plain [95%] | seen words | unseen words | ConSE (T, tau) - plain | "
           "calibrated (gamma) - plain |", "|---|---|---|---|---|---|---|"]
    pct = lambda value: f"{100 * value:.1f}"  # noqa: E731
    diff = lambda entry: (f"{100 * entry['p1_vs_plain']['diff']:+.1f} "  # noqa: E731
                          f"[{100 * entry['p1_vs_plain']['ci'][0]:+.1f}, {100 * entry['p1_vs_plain']['ci'][1]:+.1f}]")
    for model, directions in report["models"].items():
        for direction, entry in directions.items():
            plain, by_word, conse = entry["plain"], entry["plain_by_word"], entry["conse"]
            calibrated = entry.get("calibrated")
            out.append(
                f"| {model} | {direction.replace('_to_', ' -> ')} | {pct(plain['p1'])} [{pct(plain['p1_ci'][0])}, "
                f"{pct(plain['p1_ci'][1])}] | {pct(by_word['seen']['p1'])} ({by_word['seen']['pairs']:,}) | "
                f"{pct(by_word['unseen']['p1'])} ({by_word['unseen']['pairs']:,}) | {diff(conse)} "
                f"({conse['top']}, {conse['temperature']}) | "
                + (f"{diff(calibrated)} ({calibrated['gamma']})" if calibrated else "-") + " |")
    return "\n".join(out) + "\n"


RETRIEVAL_LABELS = {"plain": "plain", "csls": "CSLS (k {k})", "inverted_softmax": "inverted softmax (T {temperature})"}


def hubness_block(details: Path, models: tuple[str, ...] = ("joint", "contrastive")) -> str:
    """Per model and direction, each retrieval's R@1 and 100-candidate P@1 with their paired difference to plain,
    and the hub figures (evaluate's retrieval section)."""
    retrieval = json.loads(details.read_text())["retrieval"]
    settings = retrieval["settings"]
    pct = lambda value: f"{100 * value:.1f}"  # noqa: E731

    def versus(entry: dict, key: str) -> str:
        change = entry.get("vs_plain", {}).get(key)
        if not change:
            return "-"
        text = f"{100 * change['diff']:+.1f} [{100 * change['ci'][0]:+.1f}, {100 * change['ci'][1]:+.1f}]"
        return f"**{text}**" if change["ci"][0] > 0 or change["ci"][1] < 0 else text

    out = ["| model | direction | retrieval | R@1 | R@1 - plain | P@1 | P@1 - plain | top-1 hub | distinct top-1 | "
           "N10 skew |", "|---|---|---|---|---|---|---|---|---|---|"]
    for model in models:
        for direction in ("word_to_image", "image_to_word"):
            for name, label in RETRIEVAL_LABELS.items():
                entry = retrieval["models"][model][settings["score"]][name][direction]
                hub = entry["hub"]
                default = ", default" if settings["default"][direction] == name else ""
                out.append(f"| {model} | {direction.replace('_to_', ' -> ')} | {label.format(**settings)}{default} | "
                           f"{pct(entry['r1'])} | {versus(entry, 'r1')} | {pct(entry['p1'])} | {versus(entry, 'p1')} | "
                           f"{hub['count']} / {hub['queries']:,} ({pct(hub['share'])}%) | {hub['distinct']} | "
                           f"{hub['k_occurrence_skewness']:.2f} |")
    return "\n".join(out) + "\n"


GENERATORS = {"params": params_block, "headline": headline_block,
              "paper_scale_tables": lambda: results_tables(PAPER_SCALE, SEEDS),
              "default_tables": lambda: results_tables(DEFAULT_RUN),
              "zero_shot_tables": lambda: results_tables(ZERO_SHOT),
              "zero_shot_corrections": zero_shot_corrections_block,
              "hubness_default": lambda: hubness_block(DEFAULT_RUN),
              "hubness_paper_scale": lambda: hubness_block(PAPER_SCALE)}
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def regenerate(text: str, made: dict[str, str]) -> str:
    def fill(match: re.Match) -> str:
        name = match[2]
        if name not in made:
            made[name] = GENERATORS[name]()
        return match[1] + made[name] + match[4]
    return BLOCK.sub(fill, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report the blocks that differ")
    args = parser.parse_args()
    made: dict[str, str] = {}
    stale = []
    for document in DOCUMENTS:
        text = document.read_text()
        new = regenerate(text, made)
        if new != text:
            stale.append(document.relative_to(REPO))
            if not args.check:
                document.write_text(new)
    if args.check and stale:
        print(f"generated blocks out of date in {', '.join(map(str, stale))}: run python docs/generate.py",
              file=sys.stderr)
        return 1
    print(f"docs/generate.py: {len(made)} blocks {'checked' if args.check else 'written'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
