"""Tests of the fetch_corpus stage: cleaning, sources, line limits, checksums, atomic output."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest
import yaml

from pipeline.corpus.build import build_corpus
from pipeline.corpus.packages import read_dictd, read_fortunes, read_sword, read_wordnet
from pipeline.corpus.params import CorpusParams, PackagedText
from pipeline.corpus.text8 import text8_words
from pipeline.corpus.wiki import clean_wikitext, wiki_words
from pipeline.core.errors import PipelineError
from pipeline.core.files import download
from pipeline.core.params import load_section

REPO = Path(__file__).resolve().parents[2]
STAGE = REPO / "stages" / "fetch_corpus.py"

WIKI_XML = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.3/" version="0.3">
  <siteinfo>
    <sitename>Wikipedia</sitename>
  </siteinfo>
  <page>
    <title>Anarchism</title>
    <id>12</id>
    <revision>
      <text xml:space="preserve">{{Infobox thing
| name = {{nested|Hidden}}
| size = 99
}}
'''Anarchism''' is a [[political philosophy]] of [[Free association|free people]].&lt;ref&gt;Secret Reference 12&lt;/ref&gt;
[[Image:Flag.png|thumb|left|Hidden caption with [[Hidden link]]]]
{| class="wikitable"
|-
| Hidden cell || Other hidden cell
|}
It began in 1840 &amp;amp; grew &amp;nbsp;fast. See [http://example.com/page External Site] and http://bare.example.org/x now.
&lt;!-- Hidden comment --&gt;Tom &amp;quot;Quoted&amp;quot; &lt;b&gt;Bold&lt;/b&gt; &amp;lt;tag&amp;gt;
[[Category:Hidden category]] [[de:Anarchismus]]
</text>
    </revision>
  </page>
  <page>
    <title>AfghanistanHistory</title>
    <revision>
      <text xml:space="preserve">#REDIRECT [[History of Afghanistan]]</text>
    </revision>
  </page>
  <page>
    <title>Empty</title>
    <revision>
      <text xml:space="preserve" />
    </revision>
  </page>
  <page>
    <title>Second</title>
    <revision>
      <text xml:space="preserve">Second article, with Caf\u00e9 and 7 seas.</text>
    </revision>
  </page>
</mediawiki>
"""

WIKI_EXPECTED = [
    "anarchism is a political philosophy of free people it began in one eight four zero grew "
    "fast see external site and now tom quoted bold tag",
    "second article with caf and seven seas",
]


def _write_params(path: Path, section: dict) -> Path:
    path.write_text(yaml.safe_dump({"corpus": section}))
    return path


def _run_stage(tmp_path: Path, section: dict) -> subprocess.CompletedProcess:
    params = _write_params(tmp_path / "params.yaml", section)
    return subprocess.run(
        [sys.executable, str(STAGE), "--params", str(params), "--downloads", str(tmp_path / "cache"),
         "--text", str(tmp_path / "out" / "text.txt"),
         "--metrics", str(tmp_path / "out" / "corpus.json")],
        cwd=REPO, capture_output=True, text=True,
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def corpus_enwik8_zip(tmp_path: Path) -> Path:
    """A tiny enwik8.zip holding the MediaWiki XML above as member ``enwik8``."""
    path = tmp_path / "enwik8.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("enwik8", WIKI_XML.encode("utf-8"))
    return path


def test_text8_words_lowercases_spells_digits_and_drops_the_rest():
    assert text8_words("Hello, World! 42 Caf\u00e9\tx-ray\n") == [
        "hello", "world", "four", "two", "caf", "x", "ray",
    ]


def test_wikifil_cleaning_keeps_only_visible_article_prose():
    articles = [" ".join(words) for words in wiki_words(WIKI_XML.splitlines(keepends=True))]
    assert articles == WIKI_EXPECTED
    assert "hidden" not in " ".join(articles)


def test_clean_wikitext_link_rules():
    text = "[[Paris]] [[Paris, France|the capital]] [[Star Trek: Voyager]] [[File:x.jpg|a [[b]]]]"
    assert text8_words(clean_wikitext(text)) == ["paris", "the", "capital", "star", "trek", "voyager"]


def test_enwik8_from_local_zip_with_correct_checksums(tmp_path, corpus_enwik8_zip):
    result = _run_stage(tmp_path, {
        "source": "enwik8", "path": str(corpus_enwik8_zip),
        "zip_sha256": _sha256(corpus_enwik8_zip),
        "text_sha256": hashlib.sha256(WIKI_XML.encode("utf-8")).hexdigest(),
        "words_per_line": 7,
    })
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "out" / "text.txt").read_text()
    assert text.split() == " ".join(WIKI_EXPECTED).split()
    assert all(len(line.split()) <= 7 for line in text.splitlines())
    metrics = json.loads((tmp_path / "out" / "corpus.json").read_text())
    assert metrics["source"] == "enwik8"
    assert metrics["tokens"] == len(text.split())
    assert metrics["vocabulary"] == len(set(text.split()))
    assert metrics["bytes"] == len(text.encode())
    assert metrics["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert result.stdout.strip().startswith("fetch_corpus: enwik8")
    assert len(result.stdout.strip().splitlines()) == 1


@pytest.mark.parametrize("wrong", ["zip_sha256", "text_sha256"])
def test_enwik8_bad_checksum_fails_cleanly_without_output(tmp_path, corpus_enwik8_zip, wrong):
    section = {
        "source": "enwik8", "path": str(corpus_enwik8_zip),
        "zip_sha256": _sha256(corpus_enwik8_zip),
        "text_sha256": hashlib.sha256(WIKI_XML.encode("utf-8")).hexdigest(),
    }
    section[wrong] = "0" * 64
    result = _run_stage(tmp_path, section)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "sha256" in last
    assert "Traceback" not in result.stderr
    out = tmp_path / "out"
    assert not out.exists() or list(out.iterdir()) == []


def test_enwik8_missing_path_is_one_clear_error(tmp_path):
    result = _run_stage(tmp_path, {"source": "enwik8", "path": str(tmp_path / "nope.zip")})
    assert result.returncode == 2
    assert "corpus.path" in result.stderr and "not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_file_source(tmp_path):
    source = tmp_path / "book.txt"
    source.write_text("It was the BEST of times,\nit was the worst of times; in 1859!\n\n")
    stats = build_corpus(CorpusParams(source="file", path=str(source), words_per_line=4),
                         tmp_path / "text.txt", tmp_path / "corpus.json", tmp_path / "cache")
    lines = (tmp_path / "text.txt").read_text().splitlines()
    assert lines == ["it was the best", "of times it was", "the worst of times",
                     "in one eight five", "nine"]
    assert (stats.tokens, stats.vocabulary) == (17, 12)


def test_file_source_requires_path(tmp_path):
    params = _write_params(tmp_path / "params.yaml", {"source": "file"})
    with pytest.raises(PipelineError, match="path"):
        load_section(CorpusParams, "corpus", params)


def test_words_per_line_is_bounded_by_gensim_limit(tmp_path):
    params = _write_params(tmp_path / "params.yaml", {"words_per_line": 10_001})
    with pytest.raises(PipelineError, match="words_per_line"):
        load_section(CorpusParams, "corpus", params)


def test_default_params_read_packaged_debian_pins(tmp_path):
    params = load_section(CorpusParams, "corpus", _write_params(tmp_path / "p.yaml", {}))
    assert params.source == "packaged"
    assert [p.name for p in params.packages][:2] == ["dict-gcide", "wordnet-base"]
    assert params.words_per_line == 1000


def _b64(number: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    digits = ""
    while True:
        digits = alphabet[number % 64] + digits
        number //= 64
        if not number:
            return digits


GCIDE_ENTRIES = [
    ("00-database-info", "This file is part of GCIDE, licensed under the GPL.\n"),
    ("Lark", 'Lark \\Lark\\ (l[aum]rk), n. [Perh fr. AS. l[=a]c play, sport. Cf.\n'
             "   {Lake}, v. i.]\n"
             "   A frolic; a jolly time. [Colloq.] --Dickens.\n"
             "   [1913 Webster]\n\n"),
    ("Larine", "Larine \\La\"rine\\, a. (Zool.)\n"
               "   1. Of or pertaining to the Gull family ({Larid[ae]}).\n"
               "      [1913 Webster]\n\n"
               "   Syn: gull-like.\n"
               "        [WordNet 1.5]\n\n"),
]


def _write_dictd(directory: Path, name: str, entries: list[tuple[str, str]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    data = b""
    index_lines = []
    for headword, body in entries:
        raw = body.encode("utf-8")
        index_lines.append(f"{headword}\t{_b64(len(data))}\t{_b64(len(raw))}")
        if headword == "Larine":
            index_lines.append(f"Larine alias\t{_b64(len(data))}\t{_b64(len(raw))}")
        data += raw
    with gzip.open(directory / f"{name}.dict.dz", "wb") as handle:
        handle.write(data)
    index = directory / f"{name}.index"
    index.write_text("\n".join(sorted(index_lines)) + "\n")
    return index


def test_dictd_reader_extracts_gcide_prose_without_markup(tmp_path):
    index = _write_dictd(tmp_path, "gcide", GCIDE_ENTRIES)
    documents = [" ".join(text8_words(doc)) for doc in read_dictd(index)]
    assert documents == [
        "a frolic a jolly time dickens",
        "of or pertaining to the gull family laridae gull like",
    ]


WORDNET_NOUN = (
    "  1 This software and database is being provided to you, the LICENSEE\n"
    "  2 by Princeton University under the following license.\n"
    "02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 001 @ 02083346 n 0000 | a member "
    'of the genus Canis; "the dog barked all night"  \n'
)
WORDNET_VERB = "01835496 38 v 01 run 0 001 @ 01835496 v 0000 01 + 02 00 | move fast by using one's feet  \n"


def test_wordnet_reader_yields_glosses(tmp_path):
    for part, text in {"noun": WORDNET_NOUN, "verb": WORDNET_VERB, "adj": "", "adv": ""}.items():
        (tmp_path / f"data.{part}").write_text(text)
    glosses = [" ".join(text8_words(g)) for g in read_wordnet(tmp_path)]
    assert glosses == [
        "a member of the genus canis the dog barked all night",
        "move fast by using one s feet",
    ]


def test_wordnet_reader_missing_file_is_clear(tmp_path):
    with pytest.raises(PipelineError, match="data.adj"):
        list(read_wordnet(tmp_path))


def test_fortunes_reader_splits_quotations(tmp_path):
    (tmp_path / "wisdom").write_text("A penny saved.\n%\nHaste makes waste.\n\t-- Proverb\n%\n")
    (tmp_path / "wisdom.dat").write_bytes(b"\x00\x01binary")
    (tmp_path / "wisdom.u8").symlink_to("wisdom")
    quotes = [" ".join(text8_words(q)) for q in read_fortunes(tmp_path)]
    assert [q for q in quotes if q] == ["a penny saved", "haste makes waste proverb"]


def test_sword_reader_decompresses_blocks_and_drops_osis_markup(tmp_path):
    blocks = [
        '<chapter n="1"/>In the <w lemma="strong:H7225">beginning</w> God created.'
        '<note type="x-footnote">Hidden footnote 3</note>',
        "<title>Book Two</title>And there was light.",
    ]
    data, table = b"", b""
    for block in blocks:
        raw = block.encode()
        packed = zlib.compress(raw)
        table += struct.pack("<III", len(data), len(packed), len(raw))
        data += packed
    (tmp_path / "ot.bzz").write_bytes(data)
    (tmp_path / "ot.bzs").write_bytes(table)
    texts = [" ".join(text8_words(t)) for t in read_sword(tmp_path)]
    assert texts == ["in the beginning god created", "book two and there was light"]


def _build_fake_deb(tmp_path: Path, name: str, files: dict[str, bytes]) -> tuple[Path, str]:
    root = tmp_path / f"pkg-{name}"
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.org>\n"
        "Description: test\n"
    )
    deb = tmp_path / f"{name}.deb"
    subprocess.run(["dpkg-deb", "--build", str(root), str(deb)], check=True, capture_output=True)
    return deb, _sha256(deb)


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_packaged_source_end_to_end_from_cached_debs(tmp_path):
    dictd_dir = tmp_path / "dictd-src"
    _write_dictd(dictd_dir, "gcide", GCIDE_ENTRIES)
    gcide_deb, gcide_sha = _build_fake_deb(tmp_path, "fake-gcide", {
        "usr/share/dictd/gcide.index": (dictd_dir / "gcide.index").read_bytes(),
        "usr/share/dictd/gcide.dict.dz": (dictd_dir / "gcide.dict.dz").read_bytes(),
    })
    wordnet_deb, wordnet_sha = _build_fake_deb(tmp_path, "fake-wordnet", {
        "usr/share/wordnet/data.noun": WORDNET_NOUN.encode(),
        "usr/share/wordnet/data.verb": WORDNET_VERB.encode(),
        "usr/share/wordnet/data.adj": b"",
        "usr/share/wordnet/data.adv": b"",
    })
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(gcide_deb, cache / "fake-gcide_1.0_all.deb")
    shutil.copy(wordnet_deb, cache / "fake-wordnet_1.0_all.deb")
    result = _run_stage(tmp_path, {
        "source": "packaged", "words_per_line": 5,
        "packages": [
            {"name": "fake-gcide", "version": "1.0", "sha256": gcide_sha, "reader": "dictd"},
            {"name": "fake-wordnet", "version": "1.0", "sha256": wordnet_sha, "reader": "wordnet"},
        ],
    })
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "out" / "text.txt").read_text()
    assert text.split() == (
        "a frolic a jolly time dickens of or pertaining to the gull family laridae gull like "
        "a member of the genus canis the dog barked all night move fast by using one s feet"
    ).split()
    assert max(len(line.split()) for line in text.splitlines()) == 5
    assert json.loads((tmp_path / "out" / "corpus.json").read_text())["source"] == "packaged"


def test_packaged_reader_rejects_unknown_reader(tmp_path):
    params = _write_params(tmp_path / "p.yaml", {"packages": [
        {"name": "x", "version": "1", "sha256": "0" * 64, "reader": "pdf"},
    ]})
    with pytest.raises(PipelineError, match="reader"):
        load_section(CorpusParams, "corpus", params)


def test_packaged_text_pin_must_be_a_sha256(tmp_path):
    with pytest.raises(PipelineError, match="sha256"):
        load_section(CorpusParams, "corpus", _write_params(tmp_path / "p.yaml", {"packages": [
            {"name": "x", "version": "1", "sha256": "abc", "reader": "dictd"},
        ]}))


def test_download_file_url_good_and_bad_checksum(tmp_path):
    source = tmp_path / "remote" / "enwik8.zip"
    source.parent.mkdir()
    source.write_bytes(b"payload bytes")
    good = hashlib.sha256(b"payload bytes").hexdigest()
    dest_dir = tmp_path / "downloads"
    dest = download(source.as_uri(), dest_dir / "enwik8.zip", good)
    assert dest.read_bytes() == b"payload bytes"

    with pytest.raises(PipelineError, match="sha256"):
        download(source.as_uri(), dest_dir / "other.zip", "f" * 64)
    assert sorted(p.name for p in dest_dir.iterdir()) == ["enwik8.zip"]


def test_enwik8_download_from_url_when_no_path(tmp_path, corpus_enwik8_zip):
    params = CorpusParams(source="enwik8", url=corpus_enwik8_zip.as_uri(),
                          zip_sha256=_sha256(corpus_enwik8_zip), text_sha256=None)
    stats = build_corpus(params, tmp_path / "text.txt", tmp_path / "corpus.json", tmp_path / "cache")
    assert (tmp_path / "cache" / "enwik8.zip").is_file()
    assert stats.tokens == len(" ".join(WIKI_EXPECTED).split())


def test_packaged_text_builds_debian_pin():
    pin = PackagedText("dict-gcide", "0.48.5+nmu2", "a" * 64, "dictd").package()
    assert (pin.name, pin.version) == ("dict-gcide", "0.48.5+nmu2")
