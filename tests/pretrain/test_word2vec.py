"""Pretraining: gensim corpus_file training on tiny corpora, saved artifacts, determinism."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors, Word2Vec

from pipeline.core.errors import PipelineError
from pipeline.artifacts.vectors import save_reproducibly
from pipeline.pretrain.word2vec import PretrainParams, train_word2vec

REPO = Path(__file__).resolve().parents[2]


def write_corpus(path: Path, lines: int, words_per_line: int, seed: int = 0) -> int:
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(50)]
    with open(path, "w") as handle:
        for _ in range(lines):
            handle.write(" ".join(rng.choice(vocabulary) for _ in range(words_per_line)) + "\n")
    return lines * words_per_line


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> tuple[Path, int]:
    path = tmp_path / "text.txt"
    return path, write_corpus(path, lines=40, words_per_line=1000)


def test_every_epoch_sees_the_whole_corpus(tiny_corpus):
    path, tokens = tiny_corpus
    _, report = train_word2vec(path, PretrainParams(vector_size=8, epochs=2, min_count=1))
    assert report.raw_words_per_epoch == tokens
    assert report.vocabulary == 50


def test_a_line_longer_than_gensim_reads_is_refused(tmp_path):
    path = tmp_path / "one_line.txt"
    write_corpus(path, lines=1, words_per_line=10_001)
    with pytest.raises(PipelineError, match="reads at most 10,000 per line"):
        train_word2vec(path, PretrainParams(vector_size=8, epochs=1, min_count=1))


def test_one_worker_and_a_seed_are_deterministic(tiny_corpus):
    path, _ = tiny_corpus
    params = PretrainParams(vector_size=8, epochs=1, min_count=1, workers=1, seed=3)
    first, _ = train_word2vec(path, params)
    second, _ = train_word2vec(path, params)
    other_seed, _ = train_word2vec(path, PretrainParams(vector_size=8, epochs=1, min_count=1, seed=4))
    assert np.array_equal(first.wv.vectors, second.wv.vectors)
    assert not np.allclose(first.wv.vectors, other_seed.wv.vectors)


def test_empty_corpus_is_a_clear_error(tmp_path):
    empty = tmp_path / "text.txt"
    empty.write_text("")
    with pytest.raises(PipelineError, match="corpus missing or empty"):
        train_word2vec(empty, PretrainParams())


def test_stage_saves_loadable_vectors_and_metrics(tiny_corpus, tmp_path):
    path, tokens = tiny_corpus
    params = tmp_path / "params.yaml"
    params.write_text("pretrain:\n  vector_size: 8\n  epochs: 1\n  min_count: 1\n  analogy_restrict_vocab: 100\n")
    out, metrics = tmp_path / "w2v", tmp_path / "pretrain.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "stages/pretrain.py"), "--corpus", str(path), "--out", str(out),
         "--metrics", str(metrics), "--params", str(params)],
        capture_output=True, text=True, check=True,
    )
    assert "words/s" in result.stdout
    vectors = KeyedVectors.load(str(out / "vectors.kv"))
    model = Word2Vec.load(str(out / "model"))
    assert vectors.vectors.shape == (50, 8)
    assert model.syn1neg.shape == (50, 8)
    scores = json.loads(metrics.read_text())
    assert scores["raw_words_per_epoch"] == tokens
    assert scores["ws353_similarity"]["oov_pairs"] == scores["ws353_similarity"]["pairs"] == 203


def test_stage_rejects_a_bad_param_without_writing(tiny_corpus, tmp_path):
    path, _ = tiny_corpus
    params = tmp_path / "params.yaml"
    params.write_text("pretrain:\n  vector_size: 0\n")
    out = tmp_path / "w2v"
    result = subprocess.run(
        [sys.executable, str(REPO / "stages/pretrain.py"), "--corpus", str(path), "--out", str(out),
         "--metrics", str(tmp_path / "m.json"), "--params", str(params)],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == "error: params pretrain.vector_size: must be >= 1, got 0"
    assert not out.exists()


def test_saved_files_are_byte_identical_across_runs(tiny_corpus, tmp_path):
    path, _ = tiny_corpus
    params = PretrainParams(vector_size=8, epochs=1, min_count=1, workers=1)
    digests = []
    for run in ("a", "b"):
        model, _ = train_word2vec(path, params)
        save_reproducibly(model, tmp_path / f"{run}.model")
        save_reproducibly(model.wv, tmp_path / f"{run}.kv")
        digests.append(((tmp_path / f"{run}.model").read_bytes(), (tmp_path / f"{run}.kv").read_bytes()))
    assert digests[0] == digests[1]
