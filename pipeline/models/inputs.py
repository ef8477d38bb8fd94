"""Reading the stage artifacts that the train and evaluate stages share into index arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gensim.models import KeyedVectors, Word2Vec
from tqdm import tqdm

from pipeline.core.errors import PipelineError
from pipeline.evaluation.protocol import read_features, read_images, read_links, read_vectors
from pipeline.models.base import GroundingData, TrainingInputs


def load_grounding_data(images_csv: str | Path, links_csv: str | Path, features_h5: str | Path,
                        vectors: KeyedVectors) -> tuple[GroundingData, list[str], dict[str, int]]:
    """Join the mapping tables, the features and the vocabulary into :class:`GroundingData`.

    Images without a feature row (skipped by featurize) and links to words outside the vocabulary
    are dropped; how many is returned in the counts dict (``dropped_images``, ``dropped_links``).

    Returns
    -------
    (GroundingData, list of str, dict)
        The data (image rows in features.h5 order), the image ids of those rows, and the counts.
    """
    images, links = read_images(images_csv), read_links(links_csv)
    ids, features = read_features(features_h5)
    split_of = dict(zip(images["image_id"], images["split"]))
    unknown = [i for i in ids if i not in split_of]
    if unknown:
        raise PipelineError(
            f"{features_h5}: image {unknown[0]} is not in {images_csv}; the features are stale, rerun featurize"
        )
    row_of = {image_id: row for row, image_id in enumerate(ids)}
    word_index = links["word"].map(vectors.key_to_index)
    image_row = links["image_id"].map(row_of)
    keep = word_index.notna() & image_row.notna()
    data = GroundingData(
        features=features,
        split=np.array([split_of[i] for i in ids]),
        link_words=word_index[keep].astype(np.int64).to_numpy(),
        link_images=image_row[keep].astype(np.int64).to_numpy(),
    )
    if len(data.link_words) == 0:
        raise PipelineError(f"{links_csv}: no link joins a featurized image to a vocabulary word")
    counts = {"dropped_images": len(images) - len(ids), "dropped_links": int((~keep).sum())}
    return data, ids, counts


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
    """Read the pretrained vectors, the mapping and the features, and with ``text`` the corpus and
    word2vec's output vectors (``model``); without, those two are empty arrays (models that train on
    images only skip the seconds it takes to read them)."""
    vectors = read_vectors(f"{word2vec_dir}/vectors.kv")
    data, _, dropped = load_grounding_data(images_csv, links_csv, features_h5, vectors)
    counts = np.array([vectors.get_vecattr(w, "count") for w in vectors.index_to_key], dtype=np.int64)
    if not text:
        empty = np.zeros((0, vectors.vector_size), dtype=np.float32)
        return TrainingInputs(vectors, empty, data, dropped, np.zeros(0, dtype=np.int64), counts)
    try:
        output_vectors = Word2Vec.load(f"{word2vec_dir}/model").syn1neg
    except Exception as exc:  # gensim/pickle raise many types for a foreign or truncated file
        raise PipelineError(f"{word2vec_dir}/model: cannot read the word2vec model ({exc}); rerun pretrain") from exc
    tokens = encode_corpus(corpus, vectors.key_to_index)
    return TrainingInputs(vectors, output_vectors, data, dropped, tokens, counts)
