"""Word -> image candidates come from held-out images only, unless `image_pool: all` asks otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import at
from pipeline.artifacts.grounding import read_grounding
from pipeline.artifacts.vectors import read_vectors
from pipeline.evaluation.protocol import draw_candidates, matching_data, sample_candidates

REPO = Path(__file__).resolve().parents[1]


def tiny_data(root: Path):
    vectors = read_vectors(at(root, "vectors"))
    return matching_data(read_grounding(at(root, "images"), at(root, "links"), at(root, "features"), vectors), vectors)


def candidate_splits(data, pool: str) -> set[str]:
    sets = draw_candidates(data, 100, seed=0, pool=pool)["word_to_image"]
    return {data.splits[i] for i in sets.items[:, 1:].ravel() if i >= 0}


@pytest.mark.parametrize("pool, allowed", [("test", {"test"}), ("heldout", {"val", "test"}),
                                           ("all", {"train", "val", "test"})])
def test_word_to_image_negatives_come_only_from_the_pool(tiny_run, pool, allowed):
    assert candidate_splits(tiny_data(tiny_run), pool) == allowed


def test_image_to_word_candidates_do_not_depend_on_the_image_pool(tiny_run):
    data = tiny_data(tiny_run)
    sets = {pool: draw_candidates(data, 100, seed=0, pool=pool) for pool in ("test", "all")}
    assert np.array_equal(sets["test"]["image_to_word"].items, sets["all"]["image_to_word"].items)


def test_the_pool_is_drawn_from_minus_the_true_set():
    true_sets = [np.array([2, 5]), np.array([7])]
    pool = np.array([1, 2, 3, 5, 7, 9])
    sets = sample_candidates(np.array([0, 1]), np.array([5, 7]), true_sets, pool, 10, np.random.default_rng(0))
    assert sorted(sets.items[0, 1:][sets.items[0, 1:] >= 0].tolist()) == [1, 3, 7, 9]
    assert sorted(sets.items[1, 1:][sets.items[1, 1:] >= 0].tolist()) == [1, 2, 3, 5, 9]
    assert sets.sizes.tolist() == [5, 6]


def test_the_stage_reports_the_pool_and_the_short_candidate_count(tiny_run, tmp_path):
    """The tiny run holds 8 test and 8 validation images: a short pool, whose size the stage reports."""
    details = json.loads(at(tiny_run, "metrics").read_text())
    assert details["data"]["image_pool"] == "heldout"
    w2i = details["matching"]["l2"]["word_to_image"]["dot"]
    # 16 held-out images; "animal" has 8 of them linked, so its sets hold its true image and 8 negatives.
    assert w2i["candidates"] == 9
    report = (at(tiny_run, "report") / "index.html").read_text()
    assert "heldout images" in report

    params = yaml.safe_load((tiny_run / "params.yaml").read_text())
    params["evaluate"]["image_pool"] = "test"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, str(REPO / "stages/evaluate.py"), "--params", str(tmp_path / "params.yaml"),
         "--metrics", str(out / "headline.json"), "--details", str(out / "details.json"),
         "--plots", str(out / "plots"), "--report", str(out / "report"), "--dvc-yaml", ""],
        cwd=tiny_run, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    test_only = json.loads((out / "details.json").read_text())["matching"]["l2"]["word_to_image"]["dot"]
    assert test_only["candidates"] == 5  # 8 test images, 4 of them linked to "animal"
