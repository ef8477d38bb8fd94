"""text8 normalisation: lower-case ``a-z`` words, digits spelled out, everything else a space;
and the ``file`` source, a plain-text file read in fixed-size chunks with a byte progress bar."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import IO, Iterator

from tqdm import tqdm

from pipeline.core.errors import PipelineError

_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


class _Text8Table(dict):
    """``str.translate`` table: a-z kept, A-Z lowered, digits spelled, everything else a space."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if "a" <= char <= "z":
            value = char
        elif "A" <= char <= "Z":
            value = char.lower()
        elif "0" <= char <= "9":
            value = f" {_DIGITS[code - ord('0')]} "
        else:
            value = " "
        self[code] = value
        return value


_TEXT8 = _Text8Table()


def text8_words(text: str) -> list[str]:
    """Return the words of ``text`` after text8 normalisation.

    Lower-cases ASCII letters, spells each digit as a word (``"1984"`` -> ``one nine eight
    four``) and treats every other character (punctuation, accented letters) as a space.
    """
    return text.translate(_TEXT8).split()


def decoded_lines(handle: IO[bytes], total: int, desc: str) -> Iterator[str]:
    """Yield the decoded lines of binary ``handle``, advancing a byte progress bar."""
    with tqdm(total=total, unit="B", unit_scale=True, desc=desc, mininterval=1.0) as bar:
        for raw in handle:
            bar.update(len(raw))
            yield raw.decode("utf-8", errors="replace")


FILE_CHUNK_BYTES = 1 << 20


def file_words(path: Path, chunk_bytes: int = FILE_CHUNK_BYTES) -> Iterator[list[str]]:
    """Yield the text8 words of the plain-text file at ``path``, one list per ``chunk_bytes`` read.

    Memory stays bounded by the chunk, not the longest line (a text8-style file is one line of
    up to 1 GB). A word cut at a chunk boundary is carried over to the next chunk, and so is a
    UTF-8 sequence (incremental decoder), so the words are those of :func:`text8_words` on the
    whole text.
    """
    if not path.is_file():
        raise PipelineError(f"corpus.path {path}: file not found; point it at a plain-text file")
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    carry = ""
    with open(path, "rb") as handle, tqdm(total=path.stat().st_size, unit="B", unit_scale=True,
                                          desc=path.name, mininterval=1.0) as bar:
        while raw := handle.read(chunk_bytes):
            bar.update(len(raw))
            text = carry + decoder.decode(raw).translate(_TEXT8)
            words = text.split()
            carry = words.pop() if words and not text[-1].isspace() else ""
            yield words
    yield (carry + decoder.decode(b"", final=True).translate(_TEXT8)).split()
