"""The ``enwik8`` source: MediaWiki markup cleaned after Matt Mahoney's ``wikifil.pl``, and enwik8
located (downloaded when needed), streamed from its zip and checked against its sha256.

:data:`URL`, :data:`TAG` and :func:`remove_nested` also serve the cleaning of the packaged prose
(:mod:`pipeline.corpus.packages`).
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import io
import re
import zipfile
import zlib
from pathlib import Path
from typing import IO, Iterable, Iterator

from pipeline.core.errors import PipelineError
from pipeline.core.files import download, verify_sha256
from pipeline.corpus.params import CorpusParams
from pipeline.corpus.text8 import decoded_lines, text8_words

# ---------------------------------------------------------------------------------------------
# MediaWiki cleaning, after wikifil.pl

_COMMENT = re.compile(r"<!--.*?-->", re.S)
_REF = re.compile(r"<ref\b[^>]*/>|<ref\b[^>]*>.*?</ref\s*>", re.S | re.I)
TAG = re.compile(r"<[^>]*>")
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_TABLE = re.compile(r"\{\|(?:(?!\{\|).)*?\|\}", re.S)
_LINK = re.compile(r"\[\[([^\[\]]*)\]\]")
_EXTERNAL = re.compile(r"\[(?:https?|ftp|news|mailto):[^\s\]]*\s*([^\]]*)\]", re.I)
URL = re.compile(r"(?:https?|ftp)://\S+", re.I)
_ENTITY = re.compile(r"&[#a-zA-Z0-9]*;")
_DROPPED_NAMESPACES = {"image", "file", "category", "media"}
_LANGUAGE_PREFIX = re.compile(r"[a-z]{2,3}(?:-[a-z]+)*$")


def remove_nested(pattern: re.Pattern[str], text: str) -> str:
    """Delete the matches of ``pattern`` until none is left (inner ``{{...}}`` first, then outer)."""
    while True:
        text, count = pattern.subn("", text)
        if not count:
            return text


def _resolve_link(match: re.Match[str]) -> str:
    target, _, anchor = match.group(1).partition("|")
    prefix, colon, _ = target.partition(":")
    if colon and (prefix.strip().lower() in _DROPPED_NAMESPACES or _LANGUAGE_PREFIX.match(prefix)):
        return ""
    return anchor if anchor else target


def clean_wikitext(text: str) -> str:
    """Return the visible prose of one article's wikitext (as stored inside ``<text>``).

    ``text`` still carries the XML escaping of the dump (``&lt;ref&gt;``). Removes comments,
    references, HTML tags, ``{{templates}}`` (nested too), ``{| tables |}``, image, file,
    category and interlanguage links; keeps a link's anchor text (``[[target|anchor]]`` ->
    ``anchor``) and an external link's text without its URL; decodes entities.
    The result still needs :func:`text8_words`.
    """
    text = html.unescape(text)
    text = _COMMENT.sub(" ", text)
    text = _REF.sub(" ", text)
    text = TAG.sub(" ", text)
    text = remove_nested(_TEMPLATE, text)
    text = remove_nested(_TABLE, text)
    while True:
        text, count = _LINK.subn(_resolve_link, text)
        if not count:
            break
    text = _EXTERNAL.sub(r" \1 ", text)
    text = URL.sub(" ", text)
    text = html.unescape(text)
    return _ENTITY.sub(" ", text)


_TEXT_OPEN = re.compile(r"<text\b[^>]*?(/?)>")


def iter_wiki_pages(lines: Iterable[str]) -> Iterator[str]:
    """Yield the raw ``<text>`` content of every non-redirect page of a MediaWiki XML dump.

    Streams ``lines``; memory holds one page at a time.
    """
    buffer: list[str] | None = None
    for line in lines:
        if buffer is None:
            opened = _TEXT_OPEN.search(line)
            if not opened or opened.group(1):
                continue
            line = line[opened.end():]
            buffer = []
        end = line.find("</text>")
        if end < 0:
            buffer.append(line)
            continue
        buffer.append(line[:end])
        page = "".join(buffer)
        buffer = None
        if not page.lstrip().lower().startswith("#redirect"):
            yield page


def wiki_words(lines: Iterable[str]) -> Iterator[list[str]]:
    """Yield the text8 words of each article of a MediaWiki XML dump given as lines."""
    for page in iter_wiki_pages(lines):
        yield text8_words(clean_wikitext(page))


# ---------------------------------------------------------------------------------------------
# enwik8


class _HashingReader(io.RawIOBase):
    """Wrap a binary stream, computing the sha256 of everything read through it."""

    def __init__(self, inner: IO[bytes]):
        self.inner = inner
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        self.digest.update(data)
        return len(data)


def locate_enwik8(params: CorpusParams, downloads: str | Path) -> Path:
    """Return the local ``enwik8.zip`` or ``enwik8`` to read, downloading the zip if needed.

    A user-supplied ``path`` must exist; a zip is checked against ``zip_sha256`` here, an
    unzipped file against ``text_sha256`` while it is read.
    """
    if params.path:
        path = Path(params.path)
        if not path.is_file():
            raise PipelineError(
                f"corpus.path {path}: file not found; point it at enwik8.zip or the unzipped enwik8"
            )
    else:
        path = download(params.url, Path(downloads) / "enwik8.zip", params.zip_sha256)
    if zipfile.is_zipfile(path):
        verify_sha256(path, params.zip_sha256)
    else:
        with open(path, "rb") as handle:
            if handle.read(4) == b"PK\x03\x04":
                raise PipelineError(f"{path}: a truncated or corrupt zip (no central directory); get it again")
    return path


def enwik8_words(path: Path, text_sha256: str | None) -> Iterator[list[str]]:
    """Yield the text8 words of each article of enwik8 at ``path`` (zip or unzipped).

    Streams the XML line by line (from inside the zip when it is one) and checks the sha256 of
    the unzipped bytes against ``text_sha256`` once everything has been read.
    """
    with contextlib.ExitStack() as stack:
        if zipfile.is_zipfile(path):
            archive = stack.enter_context(zipfile.ZipFile(path))
            names = archive.namelist()
            if not names:
                raise PipelineError(f"{path}: the zip is empty; expected it to hold enwik8")
            size = archive.getinfo(names[0]).file_size
            raw = stack.enter_context(archive.open(names[0]))
        else:
            size = path.stat().st_size
            raw = stack.enter_context(open(path, "rb"))
        hashing = _HashingReader(raw)
        try:
            yield from wiki_words(decoded_lines(io.BufferedReader(hashing, 1 << 20), size, "enwik8"))
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise PipelineError(f"{path}: corrupt zip ({exc}); get it again") from exc
    actual = hashing.digest.hexdigest()
    if text_sha256 and actual != text_sha256.lower():
        raise PipelineError(
            f"{path}: the unzipped enwik8 has sha256 {actual}, expected {text_sha256}; "
            "it is corrupt or not enwik8: download it again (or set corpus.text_sha256: null)"
        )
