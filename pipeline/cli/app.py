"""``iesg``: look inside the pipeline's artifacts from the console.

Sub-commands (``iesg COMMAND --help`` for their options):

* ``status``: every stage's artifacts with their sizes and key counts, read from the files.
* ``words IMAGE``: the top-k mapped words for an image (an image id of images.csv, or any image
  file, featurized with the encoder of params.yaml), by IESG and by the L2 baseline.
* ``images WORD``: the top-k mapped images for a word, by one model.
* ``neighbours WORD``: the nearest words by the pretrained and by the IESG vectors.
* ``synsets WORD``: the WordNet noun synsets of a word, their hyponyms and the images they cover.
* ``report``: redraw the evaluate stage's HTML report (e.g. into another directory).

Artifacts are read at the paths ``dvc.yaml`` writes, relative to ``--root`` (default: the current
directory); each has a flag to read it from elsewhere. Output is aligned text, or JSON with
``--json``. Bad input prints one ``error:`` line and exits with code 2.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from gensim.models import KeyedVectors

from pipeline.artifacts.features import read_encoder
from pipeline.artifacts.layout import ARTIFACTS
from pipeline.artifacts.model_dir import learnt_vectors_path
from pipeline.artifacts.status import SHOWN, directory_counts, file_counts
from pipeline.artifacts.tables import read_images, read_links
from pipeline.artifacts.vectors import read_vectors
from pipeline.core.errors import PipelineError
from pipeline.models.base import unit_rows
from pipeline.evaluation.protocol import TrainedModels, load_trained_models
from pipeline.core.params import load_section, read_params
from pipeline.evaluation.plots import read_plot_specs
from pipeline.evaluation.report import rebuild_report

# torch (pipeline.features.encoders / pipeline.features.featurize) and nltk (pipeline.images.wordnet / pipeline.images.mapping) are
# imported inside the only commands that need them: they take seconds to import.

MARK = "*"


# ----------------------------------------------------------------------------- shared helpers

def artifact(args: argparse.Namespace, name: str) -> Path:
    """The path of artifact ``name``: its flag's value, relative to ``--root`` unless absolute."""
    return Path(args.root) / getattr(args, name)


def model_path(args: argparse.Namespace, model: str) -> Path:
    """The directory of trained model ``model`` (in the ``--models`` directory)."""
    return artifact(args, "models") / model


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows as aligned text columns: numbers right-aligned, everything else left-aligned.

    Parameters
    ----------
    header : sequence of str
        Column titles.
    rows : sequence of sequences
        Cells; ints and floats (floats shown with 3 decimals) are right-aligned.

    Returns
    -------
    str
        The header, a rule and one line per row, without trailing spaces.
    """
    cells = [[_cell(v) for v in row] for row in rows]
    numeric = [bool(rows) and all(isinstance(r[i], (int, float)) for r in rows) for i in range(len(header))]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(header)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return str(value)


def human_size(size: int) -> str:
    """Bytes as a short human-readable size: ``512 B``, ``1.5 MB``."""
    units = ("B", "kB", "MB", "GB", "TB")
    exponent = min(int(math.log10(size)) // 3, len(units) - 1) if size >= 1000 else 0
    return f"{size} B" if exponent == 0 else f"{size / 1000 ** exponent:.1f} {units[exponent]}"


def unknown(value: str, problem: str, choices: Sequence[str]) -> PipelineError:
    """The error for an unknown ``value``: what is wrong with it, and its close matches (difflib)."""
    close = difflib.get_close_matches(value, choices, n=5, cutoff=0.6)
    hint = f"close matches: {', '.join(close)}" if close else "no close match; check the spelling"
    return PipelineError(f"{value!r}: {problem}; {hint}")


def top_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first (ties by index)."""
    return np.argsort(-scores, kind="stable")[:k]


def comma_list(value: str) -> list[str]:
    """``a,b`` as ``["a", "b"]`` (argparse type)."""
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected one or more comma-separated names")
    return names


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


# ----------------------------------------------------------------------------- loading

def model_names(args: argparse.Namespace) -> list[str]:
    """``train.models`` of the params file: the models the train stages wrote."""
    path = artifact(args, "params")
    names = read_params(path).get("train", {}).get("models")
    if not isinstance(names, list) or not names:
        raise PipelineError(f"{path}: train.models is missing or empty; list the trained models there")
    return [str(name) for name in names]


def chosen_model(args: argparse.Namespace, name: str) -> str:
    """``name`` if it is one of ``train.models``, else the error listing them."""
    names = model_names(args)
    if name not in names:
        raise unknown(name, f"not a model of train.models in {artifact(args, 'params')} ({', '.join(names)})", names)
    return name


def load_model_vectors(args: argparse.Namespace, name: str) -> tuple[KeyedVectors, KeyedVectors]:
    """The pretrained vectors and the word vectors model ``name`` learnt (refused if it learnt none)."""
    pretrained = read_vectors(artifact(args, "vectors"))
    path = learnt_vectors_path(model_path(args, chosen_model(args, name)))
    if not path.is_file():
        learners = [m for m in model_names(args) if learnt_vectors_path(model_path(args, m)).is_file()]
        raise PipelineError(f"{path}: model {name!r} learns no word vectors; models that do: "
                            f"{', '.join(learners) or 'none (run train)'}")
    return pretrained, read_vectors(path)


def load_matching(args: argparse.Namespace, names: Sequence[str]) -> TrainedModels:
    """Read images, links, features, the pretrained vectors and models ``names``, as evaluate does."""
    return load_trained_models(artifact(args, "images"), artifact(args, "links"), artifact(args, "features"),
                               artifact(args, "vectors"), artifact(args, "models"),
                               [chosen_model(args, name) for name in names])


def scores_against(query: np.ndarray, items: np.ndarray, score: str) -> np.ndarray:
    """Scores of one query vector against item rows: inner product, or cosine for ``cos``."""
    if score == "cos":
        query, items = unit_rows(query[None])[0], unit_rows(items)
    return items @ query


def normalized_word(word: str) -> str:
    """Words are looked up lower-cased, as the text8-style corpus has them."""
    return word.strip().lower()


# ----------------------------------------------------------------------------- status

def _artifact_row(stage: str, name: str, path: Path) -> dict[str, Any]:
    row: dict[str, Any] = {"stage": stage, "artifact": name, "path": str(path), "exists": path.exists()}
    if not path.exists():
        row.update(bytes=None, counts={}, problem=f"missing; run: dvc repro {stage}")
        return row
    is_dir = path.is_dir()
    files = [p for p in path.rglob("*") if p.is_file()] if is_dir else [path]
    row["bytes"] = sum(p.stat().st_size for p in files)
    try:
        row["counts"] = directory_counts(name, path) if is_dir else file_counts(name, path)
        row["problem"] = None
    except Exception as exc:  # a corrupt artifact is reported in its row (pickle/HDF5/CSV readers raise many types)
        row.update(counts={}, problem=f"unreadable: {exc}")
    return row


def run_status(args: argparse.Namespace) -> dict[str, Any]:
    """Each stage's artifacts: path, existence, size in bytes, key counts (or what is wrong)."""
    rows = []
    for stage, names in SHOWN:
        for name in names:
            path = artifact(args, name)
            rows.append(_artifact_row(stage, name, path))
            if name == "models" and path.is_dir():
                for model in sorted(p.name for p in path.iterdir() if p.is_dir()):
                    rows += [_artifact_row(stage, f"{model}_{file.stem}", file)
                             for file in sorted((path / model).iterdir()) if file.is_file()]
    return {"root": str(Path(args.root)), "artifacts": rows}


def status_text(result: dict[str, Any]) -> str:
    """The status as a table: stage, path, size, counts or the problem."""
    rows = []
    for row in result["artifacts"]:
        size = human_size(row["bytes"]) if row["bytes"] is not None else "-"
        counts = row["problem"] or ", ".join(f"{k} {_cell(v)}" for k, v in row["counts"].items())
        rows.append([row["stage"], row["path"], size, counts])
    return format_table(["stage", "artifact", "size", "counts"], rows)


# ----------------------------------------------------------------------------- words

def _image_features(args: argparse.Namespace, loaded: TrainedModels, image: str) -> tuple[dict[str, Any], np.ndarray]:
    """Describe ``image`` (an image id, else an image file) and return its CNN feature vector."""
    data = loaded.data
    if image in data.image_ids:
        row = data.image_ids.index(image)
        return ({"image_id": image, "path": data.paths[row], "split": data.splits[row],
                 "linked_words": [data.words[w] for w in data.image_words[row]]}, data.features[row])
    if Path(image).is_file():
        return {"image_id": None, "path": image, "split": None, "linked_words": []}, featurize_file(args, Path(image))
    raise unknown(image, f"neither an image id in {artifact(args, 'features')} nor an image file", data.image_ids)


def featurize_file(args: argparse.Namespace, path: Path) -> np.ndarray:
    """The feature vector of an image file, by the encoder of params.yaml's ``features`` section.

    The encoder must be the one that made features.h5, or the models' projections do not apply.
    """
    from pipeline.features.encoders import load_encoder
    from pipeline.features.featurize import FeaturesParams, encode_batches

    params = load_section(FeaturesParams, "features", artifact(args, "params"))
    made_by = read_encoder(artifact(args, "features"))
    if made_by != (params.encoder, params.weights):
        raise PipelineError(
            f"{artifact(args, 'params')}: features.encoder/weights are {params.encoder}/{params.weights} but "
            f"{artifact(args, 'features')} was made with {made_by[0]}/{made_by[1]}; rerun featurize and train"
        )
    encoder = load_encoder(params.encoder, params.weights, params.seed)
    ((_, features, failed),) = list(encode_batches(encoder, [str(path)], batch_size=1, num_workers=0))
    if failed:
        raise PipelineError(f"{path}: cannot read it as an image ({failed[0][1]}); give a PNG/JPEG/WebP file")
    return features[0]


def run_words(args: argparse.Namespace) -> dict[str, Any]:
    """Top-k mapped words of an image by each model of ``--models``, with the words linked to it marked."""
    loaded = load_matching(args, args.compare)
    query, feature = _image_features(args, loaded, args.image)
    linked = set(query["linked_words"])
    ranked = {}
    for name, matcher in loaded.matchers.items():
        scores = scores_against(matcher.projection.project(feature[None])[0], matcher.word_vectors, args.score)
        ranked[name] = [{"rank": r + 1, "word": loaded.data.words[w], "score": round(float(scores[w]), 4),
                         "linked": loaded.data.words[w] in linked}
                        for r, w in enumerate(top_indices(scores, args.top))]
    return {"query": query, "score": args.score, "candidates": len(loaded.data.words), "top": ranked}


def words_text(result: dict[str, Any]) -> str:
    """Header lines, then rank | word, score of each model."""
    query = result["query"]
    if query["image_id"] is None:
        head = f"image file {query['path']} (featurized now)"
    else:
        head = (f"image {query['image_id']} ({query['split']} split, {query['path']}); "
                f"linked words: {', '.join(query['linked_words'])}")
    names = list(result["top"])
    rows = [[i + 1, *(cell for entry in entries for cell in (_marked(entry), entry["score"]))]
            for i, entries in enumerate(zip(*(result["top"][name] for name in names)))]
    return "\n".join([
        head,
        f"top {len(rows)} of {result['candidates']:,} mapped words by {result['score']} score; "
        f"{MARK} = linked to the image in links.csv",
        format_table(["rank", *(cell for name in names for cell in (name, "score"))], rows),
    ])


def _marked(entry: dict[str, Any]) -> str:
    return entry["word"] + (f" {MARK}" if entry["linked"] else "")


# ----------------------------------------------------------------------------- images

def run_images(args: argparse.Namespace) -> dict[str, Any]:
    """Top-k mapped images (of one split or all) for a word by one model."""
    loaded = load_matching(args, [args.model])
    data, matcher = loaded.data, loaded.matchers[args.model]
    word = normalized_word(args.word)
    vectors = loaded.vectors[args.model]
    if word not in vectors.key_to_index:
        where = (learnt_vectors_path(model_path(args, args.model)) if matcher.projection.words == "own"
                 else artifact(args, "vectors"))
        raise unknown(word, f"not in the vocabulary of {where}", data.words)
    rows = np.array([i for i, split in enumerate(data.splits) if args.split in ("all", split)], dtype=np.int64)
    scores = scores_against(vectors[word], matcher.projection.project(data.features[rows]), args.score)
    linked = set(data.word_images[data.words.index(word)].tolist()) if word in data.words else set()
    top = [{"rank": r + 1, "image_id": data.image_ids[rows[i]], "split": data.splits[rows[i]],
            "score": round(float(scores[i]), 4), "linked": int(rows[i]) in linked, "path": data.paths[rows[i]]}
           for r, i in enumerate(top_indices(scores, args.top))]
    return {"word": word, "model": args.model, "score": args.score, "split": args.split,
            "candidates": len(rows), "linked_images": len(linked), "top": top}


def images_text(result: dict[str, Any]) -> str:
    """A header line, then rank | image id | split | score | linked | path."""
    rows = [[t["rank"], t["image_id"], t["split"], t["score"], MARK if t["linked"] else "", t["path"]]
            for t in result["top"]]
    return "\n".join([
        f"{result['word']!r}: top {len(rows)} of {result['candidates']:,} {_split_name(result['split'])} by "
        f"{result['model']}, {result['score']} score; {result['linked_images']} images linked "
        f"({MARK} in the table)",
        format_table(["rank", "image_id", "split", "score", "linked", "path"], rows),
    ])


def _split_name(split: str) -> str:
    return "images (all splits)" if split == "all" else f"{split}-split images"


# ----------------------------------------------------------------------------- neighbours

def run_neighbours(args: argparse.Namespace) -> dict[str, Any]:
    """Nearest words (cosine) of a word by the pretrained vectors and by those a model learnt."""
    pretrained, grounded = load_model_vectors(args, args.model)
    word = normalized_word(args.word)
    if word not in pretrained.key_to_index:
        raise unknown(word, f"not in the vocabulary of {artifact(args, 'vectors')}", pretrained.index_to_key)
    links = read_links(artifact(args, "links"))
    before, after = pretrained[word], grounded[word]
    moved = float(before @ after / max(float(np.linalg.norm(before) * np.linalg.norm(after)), 1e-12))
    return {
        "word": word,
        "model": args.model,
        "linked_images": int((links["word"] == word).sum()),
        "cosine_pretrained_grounded": round(moved, 4),
        "neighbours": {side: [{"rank": r + 1, "word": w, "cosine": round(float(c), 4)}
                              for r, (w, c) in enumerate(kv.most_similar(word, topn=args.top))]
                       for side, kv in (("pretrained", pretrained), (args.model, grounded))},
    }


def neighbours_text(result: dict[str, Any]) -> str:
    """A header line, then rank | pretrained word, cosine | the model's word, cosine (words in one list only marked)."""
    model = result["model"]
    pretrained, iesg = result["neighbours"]["pretrained"], result["neighbours"][model]
    shared = {n["word"] for n in pretrained} & {n["word"] for n in iesg}

    def name(entry: dict[str, Any]) -> str:
        return entry["word"] + ("" if entry["word"] in shared else f" {MARK}")

    rows = [[a["rank"], name(a), a["cosine"], name(b), b["cosine"]] for a, b in zip(pretrained, iesg)]
    return "\n".join([
        f"{result['word']!r}: {result['linked_images']} linked images; cosine between its pretrained and {model} "
        f"vectors {result['cosine_pretrained_grounded']:.3f}; {MARK} = only in one of the two lists",
        format_table(["rank", "pretrained", "cosine", model, "cosine"], rows),
    ])


# ----------------------------------------------------------------------------- synsets

def run_synsets(args: argparse.Namespace) -> dict[str, Any]:
    """A word's WordNet noun synsets (it is a lemma of), their hyponyms and the images they cover."""
    from pipeline.images.mapping import MapImagesParams
    from pipeline.images.wordnet import hyponym_closure, load_wordnet, synset_of, wnid_of

    params = load_section(MapImagesParams, "map_images", artifact(args, "params"))
    wordnet_dir = None if params.wordnet_dir is None else Path(args.root) / params.wordnet_dir
    wn = load_wordnet(wordnet_dir, ARTIFACTS["wordnet_cache"].at(args.root))
    images, links = read_images(artifact(args, "images")), read_links(artifact(args, "links"))
    if "wnid" not in images.columns:
        raise PipelineError(f"{artifact(args, 'images')}: no wnid column; rerun map_images")
    word = normalized_word(args.word)
    synsets = [s for s in wn.synsets(word, pos="n") if word in (name.lower() for name in s.lemma_names())]
    if not synsets:
        lemmas = {name.lower() for name in wn.all_lemma_names(pos="n") if name.isalpha()}
        raise unknown(word, "not a noun (lemma) of WordNet 3.0", sorted(lemmas | set(links["word"])))
    linked = set(links.loc[links["word"] == word, "image_id"])
    image_wnids = set(images["wnid"])
    result = []
    for synset in synsets:
        covered = sorted(wnid_of(s) for s in hyponym_closure(synset) if wnid_of(s) in image_wnids)
        rows = images[images["wnid"].isin(covered)].sort_values("image_id")
        hyponyms = sorted(s.name() for s in synset.hyponyms() + synset.instance_hyponyms())
        result.append({
            "synset": synset.name(), "wnid": wnid_of(synset), "definition": synset.definition(),
            "hyponyms": len(hyponyms), "hyponym_names": hyponyms[:args.top],
            "image_synsets": len(covered), "images": len(rows),
            "image_list": [{"image_id": r.image_id, "synset": synset_of(wn, r.wnid).name(), "split": r.split,
                            "linked": r.image_id in linked} for r in rows.head(args.top).itertuples()],
        })
    return {"word": word, "linked_images": len(linked), "synsets": result}


def synsets_text(result: dict[str, Any]) -> str:
    """A synset table, each synset's first hyponyms, then a table of the images they cover."""
    count = len(result["synsets"])
    lines = [f"{result['word']!r}: {count} noun synset{'' if count == 1 else 's'} in WordNet 3.0; "
             f"{result['linked_images']} images linked in links.csv ({MARK} below)",
             format_table(["synset", "wnid", "hyponyms", "image synsets", "images", "definition"],
                          [[s["synset"], s["wnid"], s["hyponyms"], s["image_synsets"], s["images"], s["definition"]]
                           for s in result["synsets"]])]
    for s in result["synsets"]:
        if s["hyponyms"]:
            more = s["hyponyms"] - len(s["hyponym_names"])
            lines.append(f"hyponyms of {s['synset']}: {', '.join(s['hyponym_names'])}"
                         + (f" (+{more} more)" if more > 0 else ""))
    images = [[s["synset"], i["image_id"], i["synset"], i["split"], MARK if i["linked"] else ""]
              for s in result["synsets"] for i in s["image_list"]]
    if images:
        lines += ["images covered (first ones per synset):",
                  format_table(["via", "image_id", "image synset", "split", "linked"], images)]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- report

def run_report(args: argparse.Namespace) -> dict[str, Any]:
    """Redraw the evaluate stage's HTML report from the data saved beside it and the DVC plots."""
    out = Path(args.out) if args.out else artifact(args, "report")
    index = rebuild_report(artifact(args, "report"), out, Path(args.root), read_plot_specs(artifact(args, "dvc_yaml")))
    return {"index": str(index), "url": index.resolve().as_uri()}


def report_text(result: dict[str, Any]) -> str:
    """Where the report is and how to open it."""
    return f"report written: {result['index']}\nopen it in a browser (works offline): {result['url']}"


# ----------------------------------------------------------------------------- parser

@dataclass(frozen=True)
class Command:
    """A sub-command: what it computes, how its result reads as text, the artifacts it reads."""

    run: Callable[[argparse.Namespace], dict[str, Any]]
    text: Callable[[dict[str, Any]], str]
    artifacts: tuple[str, ...]
    help: str


COMMANDS: dict[str, Command] = {
    "status": Command(run_status, status_text, tuple(n for _, names in SHOWN for n in names),
                      "each stage's artifacts, their sizes and key counts"),
    "words": Command(run_words, words_text, ("images", "links", "features", "vectors", "models", "params"),
                     "top-k words for an image (id or file) by each model of --compare (default IESG and L2)"),
    "images": Command(run_images, images_text, ("images", "links", "features", "vectors", "models", "params"),
                      "top-k images for a word"),
    "neighbours": Command(run_neighbours, neighbours_text, ("vectors", "models", "links", "params"),
                          "nearest words by the pretrained vectors and by those a model learnt"),
    "synsets": Command(run_synsets, synsets_text, ("images", "links", "params"),
                       "WordNet synsets, hyponyms and images behind a word"),
    "report": Command(run_report, report_text, ("report", "dvc_yaml"),
                      "redraw the evaluate stage's HTML report"),
}


def build_parser() -> argparse.ArgumentParser:
    """The ``iesg`` argument parser with one sub-parser per command."""
    parser = argparse.ArgumentParser(prog="iesg", description=__doc__.replace("``", ""),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, help=command.help, description=command.help)
        sub.set_defaults(command_spec=command)
        if name == "words":
            sub.add_argument("image", metavar="IMAGE", help="an image id of images.csv, or an image file")
        elif name in ("images", "neighbours", "synsets"):
            sub.add_argument("word", metavar="WORD", help="a word (looked up lower-cased)")
        if name in ("words", "images", "neighbours", "synsets"):
            default_k = 10 if name in ("neighbours", "synsets") else 5
            sub.add_argument("-k", "--top", type=positive_int, default=default_k,
                             help=f"how many results (default {default_k})")
        if name in ("words", "images"):
            sub.add_argument("--score", choices=("dot", "cos"), default="dot",
                             help="dot: the paper's energy E (default); cos: cosine")
        if name == "words":
            sub.add_argument("--compare", type=comma_list, default=["iesg", "l2"], metavar="MODEL,MODEL",
                             help="models of train.models shown side by side (default iesg,l2)")
        if name in ("images", "neighbours"):
            sub.add_argument("--model", default="iesg",
                             help="a model of train.models" + (" that learns word vectors" if name == "neighbours"
                                                               else "") + " (default iesg)")
        if name == "images":
            sub.add_argument("--split", choices=("all", "train", "val", "test"), default="all",
                             help="candidate images (default all mapped images)")
        if name == "report":
            sub.add_argument("--out", help="directory to write (default: the --report directory itself)")
        sub.add_argument("--json", action="store_true", help="print JSON instead of text tables")
        sub.add_argument("--root", default=".", help="project root the default paths start from (default .)")
        paths = sub.add_argument_group("artifact paths (relative to --root unless absolute)")
        for artifact_name in command.artifacts:
            default, what = ARTIFACTS[artifact_name].path, ARTIFACTS[artifact_name].what
            paths.add_argument(f"--{artifact_name.replace('_', '-')}", dest=artifact_name, default=default,
                               metavar="PATH", help=f"{what} (default {default})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``iesg`` with ``argv`` (default: the command line); return the exit code.

    0 on success; 2 for bad arguments (argparse's usage message) or bad input (one ``error:``
    line on stderr naming the input and what to do).
    """
    args = build_parser().parse_args(argv)
    command: Command = args.command_spec
    try:
        result = command.run(args)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        print(json.dumps(result, indent=2, ensure_ascii=False) if args.json else command.text(result))
        sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped early (`iesg status | head`): no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
