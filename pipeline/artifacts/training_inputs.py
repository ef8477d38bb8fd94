"""What a model trains on, read from the outputs of the stages before train."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline.artifacts.grounding import read_grounding
from pipeline.artifacts.vectors import read_output_vectors, read_pretrained
from pipeline.core.errors import PipelineError
from pipeline.models.base import TrainingInputs


def encode_corpus(path: str | Path, key_to_index: dict[str, int]) -> np.ndarray:
    """The corpus file as an int64 array of vocabulary indices, -1 for out-of-vocabulary tokens."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: corpus not found; run the fetch_corpus stage first")
    chunks = []
    with open(path, encoding="utf-8") as handle, tqdm(
        total=path.stat().st_size, unit="B", unit_scale=True, desc="encode corpus", mininterval=1
    ) as bar:
        for line in handle:
            chunks.append(np.fromiter((key_to_index.get(w, -1) for w in line.split()), dtype=np.int64))
            bar.update(len(line.encode()))
    tokens = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
    if not (tokens >= 0).any():
        raise PipelineError(f"{path}: none of its {len(tokens):,} tokens is in the word2vec vocabulary; "
                            "rerun fetch_corpus and pretrain")
    return tokens


def load_training_inputs(corpus: str | Path, word2vec_dir: str | Path, images_csv: str | Path,
                         links_csv: str | Path, features_h5: str | Path, text: bool = True) -> TrainingInputs:
    """Read the pretrained vectors, the mapping and the features (joined by
    :func:`pipeline.artifacts.grounding.read_grounding`), and with ``text`` the corpus and word2vec's output
    vectors; without, those two are empty arrays (models that train on images only skip the seconds it takes
    to read them)."""
    vectors = read_pretrained(word2vec_dir)
    grounding = read_grounding(images_csv, links_csv, features_h5, vectors)
    data, dropped = grounding.data, grounding.dropped
    counts = np.array([vectors.get_vecattr(w, "count") for w in vectors.index_to_key], dtype=np.int64)
    if not text:
        empty = np.zeros((0, vectors.vector_size), dtype=np.float32)
        return TrainingInputs(vectors, empty, data, dropped, np.zeros(0, dtype=np.int64), counts)
    output_vectors = read_output_vectors(word2vec_dir)
    tokens = encode_corpus(corpus, vectors.key_to_index)
    return TrainingInputs(vectors, output_vectors, data, dropped, tokens, counts)
