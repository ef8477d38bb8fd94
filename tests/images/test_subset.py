"""The seeded image subset: independent of listing order, stable across synsets, quotas, params errors."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pipeline.core.errors import PipelineError
from pipeline.core.params import from_mapping
from pipeline.images.mapping import build_mapping
from pipeline.images.params import MapImagesParams
from pipeline.images.sources import Found
from pipeline.images.subset import subset_images, synset_quotas
from pipeline.images.wordnet import load_wordnet

TENCH, GOLDFISH, CHIHUAHUA = "n01440764", "n01443537", "n02085620"


@pytest.fixture(scope="module")
def wn(tmp_path_factory):
    try:
        return load_wordnet(None, tmp_path_factory.mktemp("nltk_data"))
    except PipelineError:
        pytest.skip("WordNet 3.0 not installed (apt-get install wordnet-base wordnet-sense-index)")


def _found(counts: dict[str, int], start: int = 0) -> list[Found]:
    return [Found(f"imagenet_dir/{wnid}/{wnid}_{i}.JPEG", "imagenet_dir", f"/x/{wnid}_{i}.JPEG", wnid, wnid)
            for wnid, n in counts.items() for i in range(start, start + n)]


def _kept_ids(found: list[Found], max_images=None, max_per_synset=None, seed=0) -> set[str]:
    return {f.image_id for f in subset_images(found, max_images, max_per_synset, seed)[0]}


def _of(ids: set[str], wnid: str) -> set[str]:
    return {image_id for image_id in ids if f"/{wnid}/" in image_id}


def test_listing_order_does_not_change_the_subset(tmp_path, wn):
    from pipeline.images.sources import scan_imagenet_dir

    root = tmp_path / "imgs"
    for wnid, n in {TENCH: 30, GOLDFISH: 20, CHIHUAHUA: 5}.items():
        (root / wnid).mkdir(parents=True)
        for i in range(n):
            (root / wnid / f"{wnid}_{i}.JPEG").touch()
    found = scan_imagenet_dir(root, wn)
    kept = _kept_ids(found, max_images=25, max_per_synset=12)
    for order_seed in range(5):
        shuffled = found[:]
        random.Random(order_seed).shuffle(shuffled)
        assert _kept_ids(shuffled, max_images=25, max_per_synset=12) == kept
    subset, counts = subset_images(found, 25, 12, 0)
    assert [f.image_id for f in subset] == [f.image_id for f in found if f.image_id in kept]  # input order kept
    assert counts == {"max_images": 25, "max_per_synset": 12, "images_listed": 55, "images_kept": 25,
                      "synsets_listed": 3, "synsets_kept": 3}
    assert _kept_ids(found, max_images=25, max_per_synset=12, seed=1) != kept


def test_adding_images_to_one_synset_keeps_the_others():
    before = _kept_ids(_found({TENCH: 40, GOLDFISH: 40, CHIHUAHUA: 40}), max_images=30)
    grown = _found({TENCH: 40, GOLDFISH: 40, CHIHUAHUA: 40}) + _found({TENCH: 500}, start=40)
    after = _kept_ids(grown, max_images=30)
    assert _of(after, GOLDFISH) == _of(before, GOLDFISH) and _of(after, CHIHUAHUA) == _of(before, CHIHUAHUA)
    assert len(_of(after, TENCH)) == len(_of(before, TENCH)) == 10
    assert _of(after, TENCH) != _of(before, TENCH)  # the new images take part in TENCH's ranking
    per_synset = _kept_ids(grown, max_per_synset=7)
    assert _of(per_synset, GOLDFISH) == _of(_kept_ids(_found({GOLDFISH: 40}), max_per_synset=7), GOLDFISH)


def test_quotas():
    assert synset_quotas({"a": 10, "b": 10, "c": 10}, 30, 0) == {"a": 10, "b": 10, "c": 10}
    assert synset_quotas({"a": 10, "b": 10}, None, 0) == {"a": 10, "b": 10}
    even = synset_quotas({"a": 10, "b": 10, "c": 10}, 10, 0)
    assert sum(even.values()) == 10 and sorted(even.values()) == [3, 3, 4]
    assert synset_quotas({"a": 1, "b": 100, "c": 100}, 21, 0) == {"a": 1, "b": 10, "c": 10}  # a's share redistributed
    assert synset_quotas({"a": 1, "b": 2, "c": 100}, 30, 0) == {"a": 1, "b": 2, "c": 27}
    small = synset_quotas({wnid: 5 for wnid in "abcde"}, 2, 0)
    assert sorted(small.values()) == [0, 0, 0, 1, 1]
    _, counts = subset_images(_found({TENCH: 5, GOLDFISH: 5, CHIHUAHUA: 5}), 2, None, 0)
    assert counts["images_kept"] == 2 and counts["synsets_kept"] == 2
    found = _found({TENCH: 50, GOLDFISH: 3, CHIHUAHUA: 50})
    kept = _kept_ids(found, max_images=40, max_per_synset=15)
    assert [len(_of(kept, w)) for w in (TENCH, GOLDFISH, CHIHUAHUA)] == [15, 3, 15]
    kept = _kept_ids(found, max_images=23, max_per_synset=15)
    assert sorted(len(_of(kept, w)) for w in (TENCH, GOLDFISH, CHIHUAHUA)) == [3, 10, 10]


def test_unmapped_images_are_kept_and_reported(wn):
    found = _found({TENCH: 10, GOLDFISH: 10}) + [Found("imagenet_dir/x.jpg", "imagenet_dir", "/x.jpg", None, "", "no wnid")]
    params = from_mapping(MapImagesParams, {"max_synset_share": 1, "images": {"max_images": 6}}, "map_images")
    mapping = build_mapping(params, wn, {"tench", "goldfish"}, found)
    assert len(mapping.images) == 6 and [f.image_id for f in mapping.unmapped] == ["imagenet_dir/x.jpg"]
    assert mapping.metrics["subset"]["images_listed"] == 20 and mapping.metrics["subset"]["images_kept"] == 6
    default = build_mapping(from_mapping(MapImagesParams, {"max_synset_share": 1}, "map_images"), wn,
                            {"tench", "goldfish"}, found)
    assert len(default.images) == 20 and "subset" not in default.metrics


@pytest.mark.parametrize("key, value, message", [
    ("max_images", 0, "params map_images.images.max_images: must be >= 1, got 0"),
    ("max_images", -5, "params map_images.images.max_images: must be >= 1, got -5"),
    ("max_per_synset", "ten", "params map_images.images.max_per_synset: expected int, got str 'ten'"),
    ("max_per_synset", 2.5, "params map_images.images.max_per_synset: expected int, got float 2.5"),
    ("max_images", True, "params map_images.images.max_images: expected int, got bool True"),
])
def test_invalid_values_are_one_line_errors(key, value, message):
    with pytest.raises(PipelineError) as error:
        from_mapping(MapImagesParams, {"images": {key: value}}, "map_images")
    assert str(error.value) == message and "\n" not in str(error.value)


def test_params_yaml_default_keeps_every_image():
    params = from_mapping(MapImagesParams, {}, "map_images")
    assert params.images.max_images is None and params.images.max_per_synset is None
    assert "max_images: null" in (Path(__file__).resolve().parents[2] / "params.yaml").read_text()
