"""Stage ``fetch_corpus``: build the text8-style training corpus for skip-gram pretraining.

The source is chosen by ``corpus.source`` in ``params.yaml`` (see :mod:`pipeline.corpus.params`):
``enwik8`` (:mod:`pipeline.corpus.wiki`), ``file`` (:mod:`pipeline.corpus.text8`) or ``packaged``
(:mod:`pipeline.corpus.packages`). Whatever the source, the output is lower-case ``a-z`` words
separated by single spaces, digits spelled out (``7`` -> ``seven``), in lines of at most
``words_per_line`` words.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable, Iterator

from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_path, write_json
from pipeline.corpus.packages import packaged_words
from pipeline.corpus.params import CorpusParams, CorpusStats
from pipeline.corpus.text8 import file_words
from pipeline.corpus.wiki import enwik8_words, locate_enwik8


def write_corpus(documents: Iterable[list[str]], path: str | Path, words_per_line: int,
                 source: str = "the corpus source") -> tuple[int, int, int, str]:
    """Write the words of ``documents`` as one stream, ``words_per_line`` words a line.

    Returns
    -------
    tuple
        ``(bytes, tokens, vocabulary, sha256)`` of the written file. The file appears at
        ``path`` only if every document was read without error.
    """
    vocabulary: set[str] = set()
    digest = hashlib.sha256()
    tokens = size = 0
    pending: list[str] = []
    with atomic_path(path) as tmp, open(tmp, "w", encoding="ascii", newline="\n") as out:

        def emit(words: list[str]) -> None:
            nonlocal size
            line = " ".join(words) + "\n"
            data = line.encode("ascii")
            digest.update(data)
            size += len(data)
            out.write(line)

        for words in documents:
            tokens += len(words)
            vocabulary.update(words)
            pending.extend(words)
            full = len(pending) - len(pending) % words_per_line
            for start in range(0, full, words_per_line):
                emit(pending[start:start + words_per_line])
            del pending[:full]
        if pending:
            emit(pending)
        if tokens == 0:
            raise PipelineError(f"{source}: produced no words; check corpus.source and corpus.path")
    return size, tokens, len(vocabulary), digest.hexdigest()


def source_words(params: CorpusParams, downloads: str | Path) -> Iterator[list[str]]:
    """Return the word stream of the source chosen in ``params`` (downloads kept in ``downloads``)."""
    if params.source == "enwik8":
        return enwik8_words(locate_enwik8(params, downloads), params.text_sha256)
    if params.source == "file":
        return file_words(Path(params.path))
    return packaged_words(params.packages, downloads)


def build_corpus(params: CorpusParams, text_path: str | Path, metrics_path: str | Path,
                 downloads: str | Path) -> CorpusStats:
    """Build the corpus at ``text_path`` and its metrics JSON at ``metrics_path``.

    Parameters
    ----------
    params : CorpusParams
        The ``corpus`` section of ``params.yaml``.
    text_path, metrics_path : str or Path
        Output files; both are written atomically, the metrics only after the text succeeded.
    downloads : str or Path
        Where downloads (``enwik8.zip``, ``.deb`` files and their unpacked trees) are kept.

    Returns
    -------
    CorpusStats
        Source, size in bytes, token count, distinct words and sha256 of the text file.
    """
    source = {"file": f"corpus.path {params.path}",
              "enwik8": params.path or params.url}.get(params.source, "corpus.packages")
    size, tokens, vocabulary, sha256 = write_corpus(source_words(params, downloads), text_path, params.words_per_line, source)
    stats = CorpusStats(params.source, size, tokens, vocabulary, sha256)
    write_json(metrics_path, {
        "source": stats.source, "bytes": stats.bytes, "tokens": stats.tokens,
        "vocabulary": stats.vocabulary, "sha256": stats.sha256,
    })
    return stats


def summary_line(stats: CorpusStats, seconds: float, text_path: str | Path) -> str:
    """The stage's one-line summary (timings belong here, not in the metrics)."""
    return (
        f"fetch_corpus: {stats.source} -> {text_path}: {stats.bytes / 1e6:.1f} MB, "
        f"{stats.tokens:,} tokens, {stats.vocabulary:,} distinct words, {seconds:.1f} s"
    )
