"""Skip-gram word2vec pretraining with gensim, on a corpus file written in lines.

gensim's ``corpus_file`` mode trains with one thread per worker reading its own slice of the
file, several times faster than streaming Python sentences; it reads at most 10,000 words per
line, which is why the corpus stage writes its text in short lines.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from gensim.models import Word2Vec
from gensim.models.callbacks import CallbackAny2Vec
from tqdm import tqdm

from pipeline.core.errors import PipelineError
from pipeline.pretrain.params import PretrainParams

MAX_WORDS_PER_LINE = 10_000


@dataclass(frozen=True)
class PretrainReport:
    """What a pretraining run did: vocabulary, words per epoch and speed."""

    vocabulary: int
    corpus_words: int
    raw_words_per_epoch: int
    effective_words_per_epoch: int
    epochs: int
    seconds: float

    @property
    def words_per_second(self) -> float:
        """Raw corpus words processed per second of training, over all epochs."""
        return self.raw_words_per_epoch * self.epochs / max(self.seconds, 1e-9)


def longest_line_words(corpus_file: str | Path) -> int:
    """Number of space-separated words on the longest line of a text file."""
    longest = 0
    with open(corpus_file, "rb") as handle:
        for line in handle:
            longest = max(longest, line.count(b" ") + 1)
    return longest


class _EpochProgress(CallbackAny2Vec):
    def __init__(self, bar: tqdm) -> None:
        self.bar = bar

    def on_epoch_end(self, model: Word2Vec) -> None:
        self.bar.update(1)


def train_word2vec(corpus_file: str | Path, params: PretrainParams) -> tuple[Word2Vec, PretrainReport]:
    """Train skip-gram with negative sampling on a text file of space-separated words.

    Parameters
    ----------
    corpus_file : str or Path
        Plain text, one sentence-chunk per line (at most 10,000 words per line are read).
    params : PretrainParams
        Hyper-parameters.

    Returns
    -------
    (Word2Vec, PretrainReport)
        The trained model (input vectors in ``model.wv``, output vectors in ``model.syn1neg``) and
        a report whose ``raw_words_per_epoch`` should equal the corpus's token count.
    """
    corpus_file = Path(corpus_file)
    if not corpus_file.is_file() or corpus_file.stat().st_size == 0:
        raise PipelineError(f"{corpus_file}: corpus missing or empty; run the fetch_corpus stage first")
    longest = longest_line_words(corpus_file)
    if longest > MAX_WORDS_PER_LINE:
        raise PipelineError(
            f"{corpus_file}: a line has {longest:,} words but gensim's corpus_file mode reads at most "
            f"{MAX_WORDS_PER_LINE:,} per line, so most of the corpus would be skipped; "
            "rewrite the corpus in shorter lines (the fetch_corpus stage does)"
        )
    logging.getLogger("gensim").setLevel(logging.WARNING)
    model = Word2Vec(
        sg=1, hs=0,
        vector_size=params.vector_size, window=params.window, negative=params.negative,
        min_count=params.min_count, sample=params.sample, alpha=params.alpha,
        min_alpha=params.min_alpha, seed=params.seed, workers=params.workers,
    )
    try:
        model.build_vocab(corpus_file=str(corpus_file))
    except UnicodeDecodeError as exc:
        raise PipelineError(f"{corpus_file}: not UTF-8 text ({exc}); run the fetch_corpus stage") from exc
    if len(model.wv) == 0:
        raise PipelineError(
            f"{corpus_file}: no word occurs {params.min_count}+ times; lower pretrain.min_count "
            "or use a larger corpus"
        )
    start = time.perf_counter()
    with tqdm(total=params.epochs, desc="pretrain epochs", unit="epoch") as bar:
        effective, raw = model.train(
            corpus_file=str(corpus_file), total_words=model.corpus_total_words,
            total_examples=model.corpus_count, epochs=params.epochs,
            callbacks=[_EpochProgress(bar)],
        )
    seconds = time.perf_counter() - start
    report = PretrainReport(
        vocabulary=len(model.wv),
        corpus_words=model.corpus_total_words,
        raw_words_per_epoch=raw // params.epochs,
        effective_words_per_epoch=effective // params.epochs,
        epochs=params.epochs,
        seconds=seconds,
    )
    return model, report
