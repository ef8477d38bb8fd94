"""Key counts of each artifact, read from its files through the readers of this package (``iesg status``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.artifacts.features import read_encoder, read_features
from pipeline.artifacts.layout import PROJECTION_FILE, SUMMARY_FILE, VECTORS_FILE
from pipeline.artifacts.model_dir import projection_shape, read_train_summary
from pipeline.artifacts.tables import SPLITS, read_images, read_links, read_unmapped
from pipeline.artifacts.vectors import read_vectors, read_word2vec

# The artifacts ``iesg status`` shows, by the stage that writes them (a model directory: each of its files too).
SHOWN: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("fetch_corpus", ("corpus",)),
    ("pretrain", ("word2vec", "vectors")),
    ("map_images", ("images", "links", "unmapped", "image_files")),
    ("featurize", ("features",)),
    ("train", ("models",)),
    ("evaluate", ("report", "metrics")),
    ("explore", ("explorer",)),
)


def file_counts(name: str, path: Path) -> dict[str, Any]:
    """Key counts of artifact ``name`` (or of a file of a model directory) at ``path``."""
    if name == "corpus":
        tokens, lines, distinct = 0, 0, set()
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                words = line.split()
                tokens, lines = tokens + len(words), lines + 1
                distinct.update(words)
        return {"tokens": tokens, "distinct_words": len(distinct), "lines": lines}
    if name == "word2vec":
        model = read_word2vec(path)
        return {"vocab": len(model.wv), "dim": model.vector_size, "window": model.window,
                "epochs": model.epochs, "corpus_words": model.corpus_total_words}
    if name == "vectors" or path.name == VECTORS_FILE:
        vectors = read_vectors(path)
        return {"vocab": len(vectors), "dim": vectors.vector_size}
    if name == "images":
        table = read_images(path)
        counts = {"images": len(table)}
        if "wnid" in table.columns:
            counts["synsets"] = int(table["wnid"].nunique())
        return {**counts, **{split: int((table["split"] == split).sum()) for split in SPLITS}}
    if name == "links":
        table = read_links(path)
        return {"links": len(table), "words": int(table["word"].nunique()), "images": int(table["image_id"].nunique())}
    if name == "unmapped":
        return {"images": len(read_unmapped(path))}
    if name == "features":
        ids, features = read_features(path)
        return {"images": len(ids), "dim": features.shape[1], "encoder": read_encoder(path)[0]}
    if name == "metrics":
        data = json.loads(path.read_text(encoding="utf-8")).get("data", {})
        return {key: data[key] for key in ("test_pairs", "words", "images") if key in data}
    if path.name == PROJECTION_FILE:
        (rows, cols), words = projection_shape(path)
        return {"projection": f"{rows}x{cols}", "words": words}
    if path.name == SUMMARY_FILE:
        summary = read_train_summary(path.parent)
        return {key: summary[key] for key in ("val_p1", "kept_epoch", "epochs_run") if key in summary}
    return {}


def directory_counts(name: str, path: Path) -> dict[str, Any]:
    """File counts of a directory artifact (the report's and the explorer's thumbnails and page too)."""
    files = [p for p in path.rglob("*") if p.is_file()]
    if name in ("report", "explorer"):
        return {"files": len(files), "thumbnails": sum(p.parent.name == "thumbs" for p in files),
                "index_html": (path / "index.html").is_file()}
    return {"files": len(files)}
