"""Image sources, label mapping, the .rcc reader, links, split and the map_images stage."""

from __future__ import annotations

import csv
import hashlib
import json
import struct
import subprocess
import sys
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import nltk
import numpy as np
import pytest
import yaml
from PIL import Image

from pipeline.images import mapping as images, sources
from pipeline.core.errors import PipelineError
from pipeline.images.params import MapImagesParams, SplitParams
from pipeline.images.sources import Found
from pipeline.core.params import from_mapping
from pipeline.images.rcc import RccBundle
from pipeline.images.wordnet import SYSTEM_WORDNET, load_wordnet, synset_of

ROOT = Path(__file__).resolve().parents[2]
TENCH, GOLDFISH, CHIHUAHUA, TABBY = "n01440764", "n01443537", "n02085620", "n02123045"


def _wordnet_available() -> bool:
    try:
        nltk.data.find("corpora/wordnet")
        return True
    except LookupError:
        return (SYSTEM_WORDNET / "data.noun").is_file()


@pytest.fixture(scope="session")
def nltk_cache(tmp_path_factory):
    if not _wordnet_available():
        pytest.skip("WordNet 3.0 not installed (apt-get install wordnet-base wordnet-sense-index)")
    return tmp_path_factory.mktemp("nltk_data")


@pytest.fixture(scope="session")
def wn(nltk_cache):
    return load_wordnet(None, nltk_cache)


def _jpeg(path: Path, shade: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (shade, 100, 200)).save(path, "JPEG")


def _vectors(path: Path, words: list[str]) -> Path:
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=4)
    kv.add_vectors(words, np.arange(len(words) * 4, dtype=np.float32).reshape(-1, 4))
    kv.save(str(path))
    return path


def _by_id(found: list[Found]) -> dict[str, Found]:
    return {f.image_id: f for f in found}


# --------------------------------------------------------------------------- ImageNet layouts


def test_imagenet_layouts(tmp_path, wn):
    root = tmp_path / "imgs"
    _jpeg(root / TENCH / "a.JPEG")                                  # ILSVRC train folders
    _jpeg(root / "train" / GOLDFISH / "images" / f"{GOLDFISH}_0.JPEG")  # Tiny ImageNet train
    _jpeg(root / "val" / "images" / "val_0.JPEG")                   # Tiny ImageNet val
    (root / "val" / "val_annotations.txt").write_text(f"val_0.JPEG\t{CHIHUAHUA}\t0\t0\t8\t8\n")
    _jpeg(root / "flat" / f"{TABBY}_17.jpg")                        # flat <wnid>_ files
    _jpeg(root / "test" / "images" / "test_0.JPEG")                 # unlabelled
    _jpeg(root / "n00000001" / "x.jpg")                             # not a WordNet offset
    (root / "words.txt").write_text("not an image\n")
    found = _by_id(sources.scan_imagenet_dir(root, wn))
    assert len(found) == 6
    assert found[f"imagenet_dir/{TENCH}/a.JPEG"].wnid == TENCH
    assert found[f"imagenet_dir/train/{GOLDFISH}/images/{GOLDFISH}_0.JPEG"].wnid == GOLDFISH
    assert found["imagenet_dir/val/images/val_0.JPEG"].wnid == CHIHUAHUA
    assert found[f"imagenet_dir/flat/{TABBY}_17.jpg"].wnid == TABBY
    assert found[f"imagenet_dir/flat/{TABBY}_17.jpg"].path == str(root / "flat" / f"{TABBY}_17.jpg")
    assert found["imagenet_dir/test/images/test_0.JPEG"].reason.startswith("no wnid")
    assert "not a WordNet 3.0 noun synset" in found["imagenet_dir/n00000001/x.jpg"].reason


def test_missing_imagenet_dir(tmp_path, wn):
    with pytest.raises(PipelineError, match="not a directory"):
        sources.scan_imagenet_dir(tmp_path / "missing", wn)


def test_tiny_imagenet_zip(tmp_path, wn):
    archive = tmp_path / "tiny-imagenet-200.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(2):
            picture = tmp_path / f"{i}.JPEG"
            _jpeg(picture, shade=i)
            zf.write(picture, f"tiny-imagenet-200/train/{TENCH}/images/{TENCH}_{i}.JPEG")
        zf.writestr("tiny-imagenet-200/val/val_annotations.txt", f"val_0.JPEG\t{GOLDFISH}\t0\t0\t8\t8\n")
        zf.write(tmp_path / "0.JPEG", "tiny-imagenet-200/val/images/val_0.JPEG")
        zf.writestr("tiny-imagenet-200/wnids.txt", f"{TENCH}\n{GOLDFISH}\n")
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    root = sources.fetch_tiny_imagenet(archive.as_uri(), sha, cache)
    assert root == cache / "tiny-imagenet-200"
    found = _by_id(sources.scan_imagenet_dir(root, wn, source="tiny_imagenet"))
    assert sorted(f.wnid for f in found.values()) == [TENCH, TENCH, GOLDFISH]
    assert found["tiny_imagenet/tiny-imagenet-200/val/images/val_0.JPEG"].wnid == GOLDFISH
    assert sources.fetch_tiny_imagenet(archive.as_uri(), sha, cache) == root  # cached
    with pytest.raises(PipelineError, match="required for source tiny_imagenet"):
        from_mapping(MapImagesParams, {"images": {"source": "tiny_imagenet"}}, "map_images")


# --------------------------------------------------------------------------- .rcc reader


def _rcc(path: Path, files: dict[str, tuple[bytes, bool]], version: int = 3) -> None:
    """Write a Qt resource bundle holding ``files`` (path -> (bytes, zlib-compress?))."""
    tree: dict = {}
    for name, content in files.items():
        node = tree
        *folders, leaf = name.split("/")
        for folder in folders:
            node = node.setdefault(folder, {})
        node[leaf] = content
    names, name_offsets, data = bytearray(), {}, bytearray()

    def name_offset(name: str) -> int:
        if name not in name_offsets:
            name_offsets[name] = len(names)
            encoded = name.encode("utf-16-be")
            names.extend(struct.pack(">HI", len(encoded) // 2, 0) + encoded)
        return name_offsets[name]

    nodes: list[bytes | None] = [None]
    queue = [(0, "", tree)]
    while queue:  # Qt lays nodes out breadth-first, children of a directory contiguous
        index, name, node = queue.pop(0)
        tail = struct.pack(">Q", 0) if version >= 2 else b""
        if isinstance(node, dict):
            first = len(nodes)
            children = sorted(node.items())
            nodes.extend([None] * len(children))
            nodes[index] = struct.pack(">IHII", name_offset(name) if index else 0, 2, len(children), first) + tail
            queue.extend((first + i, child, sub) for i, (child, sub) in enumerate(children))
        else:
            content, compress = node
            stored = struct.pack(">I", len(content)) + zlib.compress(content) if compress else content
            nodes[index] = struct.pack(">IHHHI", name_offset(name), 1 if compress else 0, 0, 0, len(data)) + tail
            data.extend(struct.pack(">I", len(stored)) + stored)
    header_size = 24 if version >= 3 else 20
    tree_bytes = b"".join(nodes)
    tree_at, data_at = header_size, header_size + len(tree_bytes)
    names_at = data_at + len(data)
    header = b"qres" + struct.pack(">IIII", version, tree_at, data_at, names_at)
    if version >= 3:
        header += struct.pack(">I", 0)
    path.write_bytes(header + tree_bytes + bytes(data) + bytes(names))


@pytest.mark.parametrize("version", [1, 2, 3])
def test_rcc_reader(tmp_path, version):
    files = {
        "gcompris/src/activities/erase/resource/goat.webp": (b"RIFF goat bytes" * 20, True),
        "gcompris/src/activities/erase/resource/README": (b"plain text", False),
        "gcompris/src/activities/erase/Erase.qml": (b"import QtQuick 2.12", False),
    }
    bundle_path = tmp_path / "erase.rcc"
    _rcc(bundle_path, files, version)
    bundle = RccBundle(bundle_path)
    assert bundle.version == version
    assert [e.path for e in bundle.entries] == sorted(files)
    for entry in bundle.entries:
        assert bundle.read(entry) == files[entry.path][0]
        assert entry.compression == ("zlib" if files[entry.path][1] else "none")


def test_rcc_rejects_other_files(tmp_path):
    (tmp_path / "x.rcc").write_bytes(b"PK\x03\x04 not a bundle at all")
    with pytest.raises(PipelineError, match="not a Qt resource bundle"):
        RccBundle(tmp_path / "x.rcc")


def test_gcompris_bundle_mapping(tmp_path, wn):
    webp = tmp_path / "x.webp"
    Image.new("RGB", (4, 4)).save(webp, "WEBP")
    prefix = "gcompris/src/activities/erase/resource/"
    _rcc(tmp_path / "erase.rcc", {prefix + "goat.webp": (webp.read_bytes(), False),
                                  prefix + "crane2.webp": (webp.read_bytes(), True),
                                  prefix + "xqzt.webp": (webp.read_bytes(), False),
                                  prefix + "bg.svg": (b"<svg/>", False)})
    found = _by_id(sources.scan_gcompris(tmp_path, ["erase"], wn, "copies", skip=[]))
    assert set(found) == {"gcompris/erase/goat.webp", "gcompris/erase/crane2.webp", "gcompris/erase/xqzt.webp"}
    assert synset_of(wn, found["gcompris/erase/goat.webp"].wnid) == wn.synset("goat.n.01")
    assert synset_of(wn, found["gcompris/erase/crane2.webp"].wnid) == wn.synset("crane.n.05")  # the bird
    assert found["gcompris/erase/crane2.webp"].load() == webp.read_bytes()
    assert found["gcompris/erase/goat.webp"].path == "copies/gcompris/erase/goat.webp"
    assert found["gcompris/erase/xqzt.webp"].reason.startswith("no WordNet noun")
    with pytest.raises(PipelineError, match="known bundles: erase"):
        sources.scan_gcompris(tmp_path, ["nope"], wn, "copies", skip=[])


# --------------------------------------------------------------------------- Tux Paint


def _stamp(root: Path, rel: str, description: str | None = None, suffix: str = ".png") -> None:
    path = root / f"{rel}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".png":
        Image.new("RGBA", (4, 4)).save(path, "PNG")
    else:
        path.write_text("<svg/>")
    if description is not None:
        path.with_suffix(".txt").write_text(f"{description}\nfr.utf8=Traduction.\n")


def test_tuxpaint_mapping(tmp_path, wn):
    stamps = tmp_path / "stamps"
    _stamp(stamps, "animals/fish/bass", "A bass.")
    _stamp(stamps, "hobbies/music/string/bass", "A double bass.")
    _stamp(stamps, "animals/birds/crane", "A crane.")
    _stamp(stamps, "vehicles/construction/crane", "A crane.")
    _stamp(stamps, "vehicles/construction/crane_mirror")
    _stamp(stamps, "food/vegetables/chilepepper", "A chile pepper.")
    _stamp(stamps, "food/fruit/apple_granny_smith", "A Granny Smith apple.")
    _stamp(stamps, "plants/flowers/rose", "A rose.", suffix=".svg")
    _stamp(stamps, "animals/mammals/lion", "A lion.", suffix=".svg")
    _stamp(stamps, "animals/mammals/lion")
    _stamp(stamps, "symbols/alphabets/a_filled", "The letter A.")
    _stamp(stamps, "animals/mammals/zzqx", "Zzqx.")
    found = _by_id(sources.scan_tuxpaint(stamps, wn, "copies", skip=["tuxpaint/symbols/alphabets/"]))
    synset = {k: synset_of(wn, f.wnid).name() for k, f in found.items() if f.wnid}
    assert synset == {
        "tuxpaint/animals/fish/bass.png": "bass.n.08",  # the fish,
        "tuxpaint/hobbies/music/string/bass.png": "bass_fiddle.n.01",
        "tuxpaint/animals/birds/crane.png": "crane.n.05",
        "tuxpaint/vehicles/construction/crane.png": "crane.n.04",
        "tuxpaint/food/vegetables/chilepepper.png": "pepper.n.03",  # head noun of the description,
        "tuxpaint/food/fruit/apple_granny_smith.png": "granny_smith.n.01",
        "tuxpaint/animals/mammals/lion.png": "lion.n.01",
    }
    assert found["tuxpaint/plants/flowers/rose.svg"].reason.startswith("only an SVG")
    assert found["tuxpaint/vehicles/construction/crane_mirror.png"].reason.startswith("mirrored copy")
    assert found["tuxpaint/symbols/alphabets/a_filled.png"].reason.startswith("abstract")
    assert found["tuxpaint/animals/mammals/zzqx.png"].reason.startswith("no WordNet noun")
    assert found["tuxpaint/animals/mammals/lion.png"].path == "copies/tuxpaint/animals/mammals/lion.png"


# --------------------------------------------------------------------------- links, bound, split


def _found(wnid: str, n: int) -> list[Found]:
    return [Found(f"t/{wnid}_{i}", "t", f"p/{wnid}_{i}", wnid, wnid) for i in range(n)]


def test_generality_bound(wn):
    found = _found(TENCH, 2) + _found(GOLDFISH, 2) + _found(CHIHUAHUA, 2) + _found(TABBY, 2)
    vocabulary = {"fish", "tench", "dog", "cat", "animal", "entity", "mammal", "carnivore"}
    params = from_mapping(MapImagesParams, {"max_synset_share": 0.5}, "map_images")
    mapping = images.build_mapping(params, wn, vocabulary, found)
    words = {w for w, _ in mapping.links}
    assert words == {"fish", "tench", "dog", "cat", "mammal", "carnivore"}  # each covers <= 2 of 4
    assert mapping.too_general == ["animal", "entity"]
    assert sum(1 for w, _ in mapping.links if w == "fish") == 4
    strict = from_mapping(MapImagesParams, {"max_synset_share": 0.5, "max_synsets_per_word": 1}, "map_images")
    assert {w for w, _ in images.build_mapping(strict, wn, vocabulary, found).links} == {"tench", "dog", "cat"}


def test_images_no_word_covers_are_reported(wn):
    found = _found(TENCH, 2) + _found(TABBY, 1)
    mapping = images.build_mapping(MapImagesParams(), wn, {"tench"}, found)
    assert [f.image_id for f in mapping.images] == ["t/n01440764_0", "t/n01440764_1"]
    assert [f.reason.split(" ")[0] for f in mapping.unmapped] == ["no"]
    with pytest.raises(PipelineError, match="vocabulary: none of its 2 words"):
        images.build_mapping(MapImagesParams(), wn, {"xylophone", "the"}, found)
    with pytest.raises(PipelineError, match="no image maps"):
        images.build_mapping(MapImagesParams(), wn, {"tench"}, [Found("a", "t", "a", None, "", "no wnid")])


def _many(n_synsets: int, per: int) -> list[Found]:
    return [Found(f"t/{s:03d}_{i:03d}", "t", "p", f"n{s:08d}", "") for s in range(n_synsets) for i in range(per)]


def test_random_split_ratios_and_determinism():
    found = _many(40, 40)
    split = SplitParams()
    first = images.split_images(found, split, seed=3)
    assert first == images.split_images(found, split, seed=3)
    assert first != images.split_images(found, split, seed=4)
    counts = {name: list(first.values()).count(name) for name in ("train", "val", "test")}
    assert counts == {"train": 1400, "val": 100, "test": 100}


def test_unseen_split_has_disjoint_synsets():
    found = _many(40, 40)
    assigned = images.split_images(found, SplitParams(mode="unseen"), seed=0)
    synsets = {name: {f.wnid for f in found if assigned[f.image_id] == name} for name in ("train", "val", "test")}
    assert not synsets["train"] & synsets["test"] and not synsets["train"] & synsets["val"]
    assert not synsets["val"] & synsets["test"]
    assert len(synsets["test"]) == 3 and len(synsets["val"]) == 3  # 100 images = 3 synsets of 40
    with pytest.raises(PipelineError, match="add up to 1"):
        from_mapping(SplitParams, {"train": 0.9, "val": 0.2, "test": 0.1}, "map_images.split")


# --------------------------------------------------------------------------- the stage


def _stage(tmp_path: Path, params: dict, vectors: Path, nltk_cache: Path) -> subprocess.CompletedProcess:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"map_images": params}))
    return subprocess.run(
        [sys.executable, str(ROOT / "stages" / "map_images.py"), "--params", "params.yaml",
         "--vectors", str(vectors), "--downloads", "downloads", "--wordnet-cache", str(nltk_cache),
         "--images-dir", "out/images", "--images", "out/mapping/images.csv", "--links", "out/mapping/links.csv",
         "--unmapped", "out/mapping/unmapped.csv", "--metrics", "out/mapping.json"],
        cwd=tmp_path, capture_output=True, text=True,
    )


@pytest.fixture
def tiny_dir(tmp_path):
    root = tmp_path / "tiny"
    for k, wnid in enumerate([TENCH, GOLDFISH, CHIHUAHUA, TABBY]):
        for i in range(8):
            _jpeg(root / "train" / wnid / "images" / f"{wnid}_{i}.JPEG", shade=k * 8 + i)
    return root


def test_stage_end_to_end(tmp_path, tiny_dir, nltk_cache):
    vectors = _vectors(tmp_path / "vectors.kv", ["fish", "tench", "goldfish", "dog", "cat", "entity", "the"])
    params = {"seed": 1, "max_synset_share": 0.5,
              "images": {"source": "imagenet_dir", "path": str(tiny_dir)},
              "split": {"mode": "unseen", "train": 0.5, "val": 0.25, "test": 0.25}}
    result = _stage(tmp_path, params, vectors, nltk_cache)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("map_images: 32 images (train 16 / val 8 / test 8)")
    out = tmp_path / "out"
    rows = list(csv.DictReader((out / "mapping" / "images.csv").open()))
    assert [r["image_id"] for r in rows] == sorted(r["image_id"] for r in rows)
    assert set(rows[0]) >= {"image_id", "path", "wnid", "source", "split"}
    train = {r["wnid"] for r in rows if r["split"] == "train"}
    assert not train & {r["wnid"] for r in rows if r["split"] != "train"}
    links = list(csv.DictReader((out / "mapping" / "links.csv").open()))
    assert {l["word"] for l in links} == {"fish", "tench", "goldfish", "dog", "cat"}
    metrics = json.loads((out / "mapping.json").read_text())
    assert metrics["images"] == {"total": 32, "train": 16, "val": 8, "test": 8}
    assert metrics["synsets"]["total"] == 4 and metrics["words"]["total"] == 5
    assert metrics["links"]["total"] == len(links) == 16 + 4 * 8  # fish: tench + goldfish
    assert (out / "mapping" / "unmapped.csv").read_text() == "image_id,path,source,label,reason\n"
    assert (out / "images").is_dir() and not any((out / "images").iterdir())
    before = {p.name: p.read_bytes() for p in [out / "mapping.json", *sorted((out / "mapping").iterdir())]}
    assert _stage(tmp_path, params, vectors, nltk_cache).returncode == 0
    after = {p.name: p.read_bytes() for p in [out / "mapping.json", *sorted((out / "mapping").iterdir())]}
    assert before == after


def test_stage_subset(tmp_path, tiny_dir, nltk_cache):
    vectors = _vectors(tmp_path / "vectors.kv", ["tench", "goldfish", "dog", "cat"])
    params = {"max_synset_share": 1, "images": {"source": "imagenet_dir", "path": str(tiny_dir),
                                                "max_images": 13, "max_per_synset": 5}}
    result = _stage(tmp_path, params, vectors, nltk_cache)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((tmp_path / "out" / "mapping" / "images.csv").open()))
    assert sorted(Counter(r["wnid"] for r in rows).values()) == [3, 3, 3, 4]
    metrics = json.loads((tmp_path / "out" / "mapping.json").read_text())
    assert metrics["images"]["total"] == 13
    assert metrics["subset"] == {"max_images": 13, "max_per_synset": 5, "images_listed": 32, "images_kept": 13,
                                 "synsets_listed": 4, "synsets_kept": 4}


@pytest.mark.parametrize("case, message", [
    ("missing_dir", "map_images.images.path"),
    ("no_images", "no image maps to a WordNet synset (no image files found)"),
    ("no_overlap", "vocabulary: none of its 2 words"),
    ("no_vectors", "missing.kv: file not found"),
])
def test_stage_bad_input(tmp_path, tiny_dir, nltk_cache, case, message):
    vectors = _vectors(tmp_path / "vectors.kv", ["fish", "dog"] if case != "no_overlap" else ["the", "of"])
    path = {"missing_dir": tmp_path / "nowhere", "no_images": tmp_path / "empty"}.get(case, tiny_dir)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no pictures here")
    params = {"images": {"source": "imagenet_dir", "path": str(path)}}
    result = _stage(tmp_path, params, tmp_path / "missing.kv" if case == "no_vectors" else vectors, nltk_cache)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len([l for l in lines if l.startswith("error: ")]) == 1 and message in lines[-1]
    assert not (tmp_path / "out").exists()
