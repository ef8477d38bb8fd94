"""Where every artifact of the pipeline lives, relative to a run root, and which stage reads and writes it.

This is the only place in Python that spells an artifact's path; ``dvc.yaml`` spells each once in its
``vars`` (``paths``), and ``tests/artifacts/test_artifacts.py`` checks that both agree and that every stage's deps
and outs are the artifacts declared here. Stage scripts get every path on the command line from
``dvc.yaml``; their argparse defaults are these. A per-model path holds ``{model}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PARAMS = "params.yaml"
DVC_YAML = "dvc.yaml"

# File names inside directory artifacts.
WORD2VEC_MODEL_FILE = "model"  # gensim Word2Vec (its output vectors feed IESG and joint)
VECTORS_FILE = "vectors.kv"  # gensim KeyedVectors: the pretrained ones, or those a model learnt
PROJECTION_FILE = "model.npz"  # a trained model's image -> word-space projection
SUMMARY_FILE = "train.json"  # a train stage's summary (val P@1, epochs, counts)
LIVE_PLOTS = "plots"  # dvclive's per-metric TSVs: plots/metrics/<metric>.tsv
LIVE_SUMMARY = "metrics.json"  # dvclive's summary of the kept epoch

DOWNLOADS = "data/downloads"
WORD2VEC = "data/word2vec"
MODELS = "data/models"
TRAIN_LOGS = "dvclive"


@dataclass(frozen=True)
class Artifact:
    """A file or directory of a run: its path (relative to the run root), what it is, and whether DVC tracks it
    (``tracked``: a stage out; else a download cache or a project file)."""

    name: str
    path: str
    what: str
    tracked: bool = True

    def at(self, root: str | Path = ".", model: str | None = None) -> Path:
        """The path under ``root`` (``model`` fills a per-model path)."""
        if ("{model}" in self.path) != (model is not None):
            raise ValueError(f"artifact {self.name}: model {model!r} for path {self.path}")
        return Path(root) / self.path.format(model=model)


_ARTIFACTS = (
    Artifact("params", PARAMS, "params file", tracked=False),
    Artifact("dvc_yaml", DVC_YAML, "pipeline definition, whose plots the report draws", tracked=False),
    Artifact("downloads", DOWNLOADS, "downloads and unpacked .debs, kept outside DVC", tracked=False),
    Artifact("wordnet_cache", f"{DOWNLOADS}/nltk_data", "the nltk-readable copy of the system WordNet",
             tracked=False),
    Artifact("corpus", "data/corpus/text.txt", "cleaned corpus (fetch_corpus)"),
    Artifact("corpus_stats", "results/corpus.json", "corpus statistics (fetch_corpus)"),
    Artifact("word2vec_dir", WORD2VEC, "word2vec model and vectors (pretrain)"),
    Artifact("word2vec", f"{WORD2VEC}/{WORD2VEC_MODEL_FILE}", "gensim Word2Vec model (pretrain)"),
    Artifact("vectors", f"{WORD2VEC}/{VECTORS_FILE}", "pretrained word vectors (pretrain)"),
    Artifact("pretrain_stats", "results/pretrain.json", "vocabulary and word-similarity scores (pretrain)"),
    Artifact("params_check", "results/params_check.txt", "the params sections check_params validated"),
    Artifact("image_files", "data/images", "copied image files (map_images)"),
    Artifact("images", "data/mapping/images.csv", "images table (map_images)"),
    Artifact("links", "data/mapping/links.csv", "word-image links (map_images)"),
    Artifact("unmapped", "data/mapping/unmapped.csv", "images left out, with the reason (map_images)"),
    Artifact("mapping_stats", "results/mapping.json", "image, synset, word and link counts (map_images)"),
    Artifact("features", "data/features/features.h5", "CNN features (featurize)"),
    Artifact("featurize_report", "data/features/report.json", "images featurize skipped (featurize)"),
    Artifact("features_stats", "results/features.json", "feature counts and encoder (featurize)"),
    Artifact("models", MODELS, "one directory per model of train.models: "
             f"{PROJECTION_FILE}, {VECTORS_FILE}, {SUMMARY_FILE} (train)"),
    Artifact("model", f"{MODELS}/{{model}}", "one trained model (train@<model>)"),
    Artifact("train_logs", TRAIN_LOGS, "the train stages' dvclive logs, one directory per model (train)"),
    Artifact("train_log", f"{TRAIN_LOGS}/{{model}}", "one model's dvclive log (train@<model>)"),
    Artifact("train_log_plots", f"{TRAIN_LOGS}/{{model}}/{LIVE_PLOTS}", "per-epoch metrics (train@<model>)"),
    Artifact("train_log_summary", f"{TRAIN_LOGS}/{{model}}/{LIVE_SUMMARY}", "kept epoch's metrics (train@<model>)"),
    Artifact("report", "data/report", "HTML report directory (evaluate)"),
    Artifact("plots", "plots/evaluate", "plot CSVs for dvc plots (evaluate)"),
    Artifact("metrics", "results/evaluate.json", "every evaluation number (evaluate)"),
    Artifact("headline", "metrics", "headline metrics for dvc metrics, one file per model (evaluate)"),
    Artifact("explorer", "data/explorer", "the explorer page directory (explore)"),
)
ARTIFACTS: dict[str, Artifact] = {artifact.name: artifact for artifact in _ARTIFACTS}


@dataclass(frozen=True)
class StageFiles:
    """The artifacts a stage reads (its data deps), writes (its outs) and is given on its command line (those,
    or the directories that hold them, and the download caches); ``after``: deps it only waits for (not read,
    not on its command line)."""

    reads: tuple[str, ...]
    writes: tuple[str, ...]
    arguments: tuple[str, ...]
    after: tuple[str, ...] = ()


STAGES: dict[str, StageFiles] = {
    "check_params": StageFiles((), ("params_check",), ("params_check",)),  # and params.yaml
    "fetch_corpus": StageFiles((), ("corpus", "corpus_stats"), ("downloads", "corpus", "corpus_stats"),
                               after=("params_check",)),
    "pretrain": StageFiles(("corpus",), ("word2vec_dir", "pretrain_stats"),
                           ("corpus", "word2vec_dir", "pretrain_stats")),
    "map_images": StageFiles(("vectors",), ("image_files", "images", "links", "unmapped", "mapping_stats"),
                             ("downloads", "wordnet_cache", "vectors", "image_files", "images", "links", "unmapped",
                              "mapping_stats")),
    "featurize": StageFiles(("images", "image_files"), ("features", "featurize_report", "features_stats"),
                            ("images", "features", "featurize_report", "features_stats")),
    "train": StageFiles(("corpus", "word2vec_dir", "images", "links", "features"),
                        ("model", "train_log_plots", "train_log_summary"),
                        ("corpus", "word2vec_dir", "images", "links", "features", "model", "train_log")),
    "evaluate": StageFiles(("train_logs", "images", "links", "image_files", "features", "vectors", "models"),
                           ("report", "plots", "metrics", "headline"),
                           ("wordnet_cache", "train_logs", "images", "links", "features", "vectors", "models",
                            "report", "plots", "metrics", "headline")),
    "explore": StageFiles(("images", "links", "image_files", "features", "vectors", "models"), ("explorer",),
                          ("images", "links", "features", "vectors", "models", "explorer")),
}


def path(name: str, model: str | None = None) -> str:
    """Artifact ``name``'s path relative to the run root, as a string (an argparse default)."""
    return str(ARTIFACTS[name].at(".", model)) if model is not None else ARTIFACTS[name].path


def dvc_vars() -> dict[str, str]:
    """``dvc.yaml``'s ``paths`` vars: every tracked or cached artifact that is not per-model."""
    return {a.name: a.path for a in _ARTIFACTS if "{model}" not in a.path and a.name not in ("params", "dvc_yaml")}
