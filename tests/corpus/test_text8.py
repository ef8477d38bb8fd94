"""The ``file`` source read in chunks gives the words of the whole text, whatever the chunk size."""

from __future__ import annotations

import itertools
import random

import pytest

from pipeline.corpus.build import write_corpus
from pipeline.corpus.text8 import file_words, text8_words

# ASCII words, digits, punctuation, 2-, 3- and 4-byte UTF-8 characters, an invalid byte.
_PIECES = ["alpha", "Beta", "GAMMA", "1984", "x7y", "caf\u00e9s", "na\u00efve", "\u4e2d\u6587", "\U0001f600",
           "dash-ed", "it's", "\t", " ", "  ", ",", "\n"]


def _long_lined_text(seed: int = 5) -> bytes:
    """Some lines of thousands of bytes, some empty, one invalid byte; no final newline."""
    rng = random.Random(seed)
    lines = []
    for length in (3000, 0, 17, 4000, 1):
        lines.append("".join(rng.choice(_PIECES[:-1]) + rng.choice(" ,.") for _ in range(length)))
    return "\n".join(lines).encode("utf-8") + b" tail\xffend"


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 5, 64, 1000, 1 << 20])
def test_file_words_match_text8_words_of_the_whole_text(tmp_path, chunk_bytes):
    data = _long_lined_text()
    path = tmp_path / "long.txt"
    path.write_bytes(data)
    words = list(itertools.chain.from_iterable(file_words(path, chunk_bytes)))
    assert words == text8_words(data.decode("utf-8", errors="replace"))
    assert words[-2:] == ["tail", "end"]


def test_a_one_line_file_gives_the_words_of_the_same_text_with_newlines(tmp_path):
    with_newlines = _long_lined_text()
    one_line = with_newlines.replace(b"\n", b" ")
    (tmp_path / "lines.txt").write_bytes(with_newlines)
    (tmp_path / "one.txt").write_bytes(one_line)
    lines = list(itertools.chain.from_iterable(file_words(tmp_path / "lines.txt", 7)))
    assert lines == list(itertools.chain.from_iterable(file_words(tmp_path / "one.txt", 4096)))
    assert len(lines) > 5000


def test_a_multibyte_character_cut_by_the_chunk_boundary(tmp_path):
    # chunk 4 cuts "\u00e9" (c3 a9) after its first byte and "\U0001f600" (4 bytes) inside it.
    data = "caf\u00e9s ok\U0001f600X9".encode("utf-8")
    assert data[3:5] == b"\xc3\xa9"
    path = tmp_path / "cut.txt"
    path.write_bytes(data)
    chunks = list(file_words(path, 4))
    assert list(itertools.chain.from_iterable(chunks)) == ["caf", "s", "ok", "x", "nine"]
    assert chunks[0] == []  # "caf" is only known to be a whole word once the next chunk is read


def test_write_corpus_lines_are_the_word_stream_cut_every_words_per_line(tmp_path):
    documents = [["a"] * 7, [], ["b", "c"], ["d"] * 25, ["e"]]
    stream = list(itertools.chain.from_iterable(documents))
    size, tokens, vocabulary, _ = write_corpus(documents, tmp_path / "text.txt", 4)
    expected = "".join(" ".join(stream[i:i + 4]) + "\n" for i in range(0, len(stream), 4))
    assert (tmp_path / "text.txt").read_text() == expected
    assert (size, tokens, vocabulary) == (len(expected), 35, 5)
