"""The ``packaged`` source: English prose read from pinned Debian packages, one reader per kind of
package (dictd databases, WordNet glosses, fortune files, SWORD Bible modules)."""

from __future__ import annotations

import gzip
import re
import struct
import zlib
from pathlib import Path
from typing import Iterable, Iterator

from tqdm import tqdm

from pipeline.core.debian import extract_deb
from pipeline.core.errors import PipelineError
from pipeline.corpus.params import PackagedText
from pipeline.corpus.text8 import text8_words
from pipeline.corpus.wiki import TAG, URL, remove_nested

_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}

_GCIDE_LETTER_CODES = {
    "ae": "ae", "AE": "AE", "oe": "oe", "OE": "OE", "imac": "i", "aum": "a", "add": "a",
    "udd": "u", "asl": "a", "eth": "th", "thorn": "th", "th": "th", "ng": "ng",
}
_GCIDE_CODE = re.compile(r"\[([a-zA-Z]{2,5})\]|\[[=^~\"'`.,*\-]{1,2}([a-zA-Z]{1,2})\]"
                         r"|\[([a-zA-Z]{1,2})[=^~\"'`.,*\-]{1,2}\]")
_BRACKETED = re.compile(r"\[[^\[\]]*\]")
_SENSE_LABEL = re.compile(r"^\s*(?:\d+\.|\([a-z]\)|Note:|Syn:)", re.M)
_POS_LINE = re.compile(r"^\s*(?:/[^/\n]*/,?\s*)?(?:[a-z]{1,5}\.\s*,?\s*)+$", re.M)


def _decode_gcide_code(match: re.Match[str]) -> str:
    word, accented, accented_before = match.groups()
    if word is not None:
        return _GCIDE_LETTER_CODES.get(word, match.group(0))
    return accented or accented_before


def dictd_entry_prose(entry: str) -> str:
    """Return the prose of one dictd database entry (GCIDE, FOLDOC, Jargon File style).

    Drops the headword line, bracketed etymologies, usage labels and source tags
    (``[1913 Webster]``, ``[Obs.]``), part-of-speech lines, sense numbers and ``Note:``/``Syn:``
    labels and URLs; decodes GCIDE's letter codes (``Larid[ae]`` -> ``Laridae``, ``[=a]`` -> ``a``).
    Cross-reference braces (``{Canis}``) keep their words.
    """
    entry = URL.sub(" ", _GCIDE_CODE.sub(_decode_gcide_code, entry))
    entry = remove_nested(_BRACKETED, entry)
    _, _, body = entry.partition("\n")
    body = _POS_LINE.sub(" ", body)
    return _SENSE_LABEL.sub(" ", body)


def _b64_number(text: str) -> int:
    value = 0
    for char in text:
        value = value * 64 + _B64[char]
    return value


def read_dictd(index_path: Path) -> Iterator[str]:
    """Yield the prose of every entry of the dictd database whose ``.index`` is ``index_path``.

    The data file beside it is ``<name>.dict.dz`` (dictzip, read as gzip) or ``<name>.dict``.
    Entries are read in file order, each once (several headwords may share one entry);
    ``00-database-*`` metadata entries are skipped.
    """
    stem = index_path.name[: -len(".index")]
    data_path = index_path.with_name(f"{stem}.dict.dz")
    opener = gzip.open
    if not data_path.is_file():
        data_path, opener = index_path.with_name(f"{stem}.dict"), open
    if not data_path.is_file():
        raise PipelineError(f"{index_path}: no {stem}.dict.dz or {stem}.dict beside it")
    spans = set()
    for line in index_path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[0].startswith("00"):
            continue
        spans.add((_b64_number(parts[1]), _b64_number(parts[2])))
    with opener(data_path, "rb") as data:
        position = 0
        for offset, length in sorted(spans):
            if offset < position:
                continue
            data.seek(offset)
            raw = data.read(length)
            position = offset + length
            yield dictd_entry_prose(raw.decode("utf-8", errors="replace"))


def read_wordnet(wordnet_dir: Path) -> Iterator[str]:
    """Yield the gloss (definition and examples, the text after ``|``) of every WordNet synset.

    Reads ``data.adj``, ``data.adv``, ``data.noun``, ``data.verb`` in that order; the license
    header lines (starting with two spaces) are skipped.
    """
    for part in ("adj", "adv", "noun", "verb"):
        path = wordnet_dir / f"data.{part}"
        if not path.is_file():
            raise PipelineError(f"{path}: WordNet data file missing; check the package pin")
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("  "):
                    continue
                _, bar, gloss = line.partition("|")
                if bar:
                    yield gloss


def read_fortunes(fortunes_dir: Path) -> Iterator[str]:
    """Yield every quotation of the fortune files in ``fortunes_dir`` (separated by ``%`` lines).

    Reads regular files without an extension (``.dat`` indexes and ``.u8`` links skipped),
    sorted by name.
    """
    for path in sorted(fortunes_dir.iterdir()):
        if path.suffix or path.is_symlink() or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        yield from re.split(r"^%\s*$", text, flags=re.M)


_OSIS_NOTE = re.compile(r"<note\b[^>]*>.*?</note>", re.S)


def read_sword(module_dir: Path) -> Iterator[str]:
    """Yield the plain text of each compressed block of a SWORD ``zText`` Bible module.

    ``ot``/``nt`` ``.bzs`` files list the blocks (offset, size, uncompressed size as three
    little-endian uint32) of the zlib streams concatenated in ``.bzz``. OSIS markup and
    footnotes are dropped.
    """
    for testament in ("ot", "nt"):
        blocks, data = module_dir / f"{testament}.bzs", module_dir / f"{testament}.bzz"
        if not blocks.is_file():
            continue
        table = blocks.read_bytes()
        with open(data, "rb") as handle:
            for offset, size, _ in struct.iter_unpack("<III", table[: len(table) // 12 * 12]):
                handle.seek(offset)
                try:
                    text = zlib.decompress(handle.read(size)).decode("utf-8", errors="replace")
                except zlib.error as exc:
                    raise PipelineError(f"{data}: corrupt block at {offset} ({exc}); delete the cache") from exc
                yield TAG.sub(" ", _OSIS_NOTE.sub(" ", text))


def read_package(package: PackagedText, cache_dir: str | Path) -> Iterator[str]:
    """Fetch and unpack ``package`` (cached) and yield its prose, one document at a time."""
    root = extract_deb(package.package(), cache_dir)
    if package.reader == "wordnet":
        yield from read_wordnet(root / "usr/share/wordnet")
    elif package.reader == "fortunes":
        yield from read_fortunes(root / "usr/share/games/fortunes")
    elif package.reader == "sword":
        modules = sorted(p for p in (root / "usr/share/sword/modules/texts/ztext").glob("*") if p.is_dir())
        if not modules:
            raise PipelineError(f"{package.name}={package.version}: no SWORD zText module in it")
        for module in modules:
            yield from read_sword(module)
    else:
        indexes = sorted((root / "usr/share/dictd").glob("*.index"))
        if not indexes:
            raise PipelineError(
                f"{package.name}={package.version}: no dictd database in usr/share/dictd; "
                "use reader 'dictd' only for dict-* packages"
            )
        for index in indexes:
            yield from read_dictd(index)


def packaged_words(packages: Iterable[PackagedText], cache_dir: str | Path) -> Iterator[list[str]]:
    """Yield the text8 words of each document of each package, in the order given."""
    for package in packages:
        for document in tqdm(read_package(package, cache_dir), desc=package.name, unit=" docs",
                             mininterval=1.0):
            yield text8_words(document)
