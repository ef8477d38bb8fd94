"""P@k matching: hand-computed ranks, negative sampling, paired candidate sets, the evaluate stage."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from gensim.models import KeyedVectors

from conftest import at, joined, load_model_file, project, tiny_data
from toy_taxonomy import run_stage, write_fixture
from pipeline.artifacts.headline import SIMILARITY_KEYS, read_headline, validation_p1
from pipeline.artifacts.layout import PROJECTION_FILE, VECTORS_FILE
from pipeline.artifacts.model_dir import read_projection, read_trained, write_projection
from pipeline.core.errors import PipelineError
from pipeline.evaluation.protocol import (
    CandidateSets, Matcher, candidate_scores, draw_candidates, evaluate_matching, precision_at,
    random_projection, rank_candidates, sample_candidates,
)
from pipeline.models.base import Projection
from pipeline.evaluation.similarity import evaluate_vectors

REPO = Path(__file__).resolve().parents[2]


def test_precision_at_k_on_a_hand_ranking():
    ranks = np.array([0, 3, 7, 12, 0])
    assert precision_at(ranks, [1, 5, 10]) == {"p1": 0.4, "p5": 0.6, "p10": 0.8, "pairs": 5}


def test_ranks_count_ties_against_the_true_item_and_ignore_padding():
    items = np.array([[4, 1, 2, -1], [5, 6, 7, 8], [0, 3, 1, 2]])
    scores = np.array([[0.9, 0.1, 0.5, -np.inf], [0.2, 0.5, 0.2, 0.1], [1.0, 1.0, 1.0, 1.0]])
    ranking = rank_candidates(scores, items)
    assert ranking.ranks.tolist() == [0, 2, 3]
    assert ranking.top1.tolist() == [4, 6, 3]


def test_candidate_scores_are_inner_products():
    queries = np.array([[1.0, 0.0], [0.0, 2.0]])
    items = np.array([[3.0, 1.0], [1.0, 1.0], [0.0, -1.0]])
    sets = CandidateSets(np.array([1, 0]), np.array([[0, 2, -1], [1, 0, 2]]))
    scores = candidate_scores(queries, items, sets, chunk=1)
    assert scores.tolist() == [[2.0, -2.0, -np.inf], [1.0, 3.0, 0.0]]


def test_negatives_never_overlap_the_true_set_and_are_distinct():
    rng = np.random.default_rng(0)
    true_sets = [np.sort(rng.choice(50, size=rng.integers(1, 30), replace=False)) for _ in range(40)]
    queries = np.arange(40).repeat(3)
    truths = np.array([rng.choice(true_sets[q]) for q in queries])
    sets = sample_candidates(queries, truths, true_sets, np.arange(50), 19, np.random.default_rng(1))
    assert (sets.items[:, 0] == truths).all()
    for row, q in zip(sets.items, queries):
        negatives = row[1:][row[1:] >= 0]
        assert len(negatives) == min(19, 50 - len(true_sets[q]))
        assert len(set(negatives.tolist())) == len(negatives)
        assert not set(negatives.tolist()) & set(true_sets[q].tolist())


def test_a_small_pool_is_used_whole_and_the_candidate_count_recorded():
    true_sets = [np.array([0, 1]), np.array([2])]
    sets = sample_candidates(np.array([0, 1]), np.array([0, 2]), true_sets, np.arange(5), 9, np.random.default_rng(0))
    assert sets.sizes.tolist() == [4, 5]
    assert sorted(sets.items[0, 1:4].tolist()) == [2, 3, 4]


def synthetic(n_words: int, images_per_word: int, seed: int = 0):
    """Words with unit vectors; each image shows one word, its feature an invertible mix of the vector."""
    rng = np.random.default_rng(seed)
    words = [f"w{i:03d}" for i in range(n_words)]
    vectors = rng.standard_normal((n_words, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    kv = KeyedVectors(16)
    kv.add_vectors(words, vectors)
    mixing = rng.standard_normal((16, 16)).astype(np.float32) + 4 * np.eye(16, dtype=np.float32)
    ids = [f"img{i:04d}" for i in range(n_words * images_per_word)]
    word_of = np.arange(len(ids)) // images_per_word
    features = (vectors[word_of] @ mixing).astype(np.float32)
    images = pd.DataFrame({"image_id": ids, "path": ids, "split": ["test", "train"] * (len(ids) // 2)})
    links = pd.DataFrame({"word": [words[w] for w in word_of], "image_id": ids})
    data = joined(images, links, ids, features, kv)
    perfect = Matcher(Projection(np.linalg.inv(mixing).astype(np.float32), np.zeros(16, np.float32)),
                      kv.vectors[[kv.key_to_index[w] for w in data.words]])
    return data, kv, perfect


def test_a_model_trained_on_unit_features_normalizes_them(tmp_path):
    write_projection(tmp_path / "model.npz", Projection(np.eye(2, dtype=np.float32), np.array([0.5, 0], np.float32), True))
    model = read_projection(tmp_path / "model.npz", 2, 2)
    assert model.project(np.array([[3.0, 4.0]], np.float32))[0].tolist() == pytest.approx([0.1, 0.8])


def test_perfect_projection_scores_one_and_random_scores_near_chance():
    data, kv, perfect = synthetic(n_words=300, images_per_word=4)
    models = {"perfect": perfect, "random": Matcher(random_projection(data.features, 16, seed=3), perfect.word_vectors)}
    sets = draw_candidates(data, candidates=20, seed=0, pool="all")
    metrics, rankings = evaluate_matching(data, models, sets, [1, 5])
    for direction in ("image_to_word", "word_to_image"):
        for score in ("dot", "cos"):
            assert metrics["perfect"][direction][score]["p1"] == 1.0
            assert metrics["random"][direction][score]["p1"] < 0.12
            assert metrics["random"][direction][score]["pairs"] == 600
            assert metrics["random"][direction][score]["candidates"] == 20
    assert 0.1 < metrics["random"]["image_to_word"]["dot"]["p5"] < 0.4


def test_candidate_sets_are_seeded_and_shared_by_all_models():
    data, kv, perfect = synthetic(n_words=40, images_per_word=2)
    first, again = draw_candidates(data, 10, seed=5, pool="all"), draw_candidates(data, 10, seed=5, pool="all")
    other = draw_candidates(data, 10, seed=6, pool="all")
    for direction in first:
        assert np.array_equal(first[direction].items, again[direction].items)
        assert not np.array_equal(first[direction].items, other[direction].items)
    noisy = Matcher(Projection(perfect.projection.projection + 0.5, perfect.projection.center), perfect.word_vectors)
    metrics, rankings = evaluate_matching(data, {"perfect": perfect, "noisy": noisy}, first, [1])
    for direction, sets in first.items():
        assert metrics["noisy"][direction]["dot"]["p1"] < 1  # its top-1 items include negatives
        for name in ("perfect", "noisy"):
            top1 = rankings[name, direction, "dot"].top1
            assert all(top in row for top, row in zip(top1, sets.items)), (name, direction)
        assert np.array_equal(rankings["perfect", direction, "dot"].top1, sets.items[:, 0])


def test_drawing_the_candidates_shows_each_directions_progress(capsys):
    data, _, _ = synthetic(n_words=20, images_per_word=2)
    draw_candidates(data, 10, seed=0, pool="all")
    err = capsys.readouterr().err
    for label in ("image->word candidates", "word->image candidates"):
        assert re.search(rf"(^|\r){re.escape(label)}: ", err), label  # tqdm's bar starts with the label


def test_links_to_images_without_features_are_dropped_and_unknown_words_refused():
    kv = KeyedVectors(2)
    kv.add_vectors(["cat", "dog"], np.eye(2, dtype=np.float32))
    images = pd.DataFrame({"image_id": ["a", "b", "c"], "path": ["a", "b", "c"], "split": ["test", "train", "test"]})
    links = pd.DataFrame({"word": ["cat", "dog", "dog"], "image_id": ["a", "b", "c"]})
    data = joined(images, links, ["b", "a"], np.array([[0, 1], [1, 0]], np.float32), kv)
    assert data.image_ids == ["a", "b"] and data.words == ["cat", "dog"]
    assert data.features.tolist() == [[1, 0], [0, 1]]
    assert data.dropped_links == 1
    assert data.pair_image.tolist() == [0] and data.pair_word.tolist() == [0]
    bad = pd.concat([links, pd.DataFrame({"word": ["yak"], "image_id": ["a"]})])
    with pytest.raises(PipelineError, match="links.csv: 1 linked word"):
        joined(images, bad, ["a", "b"], np.zeros((2, 2), np.float32), kv)


def test_a_model_of_the_wrong_shape_is_refused_naming_the_file(tmp_path):
    pretrained = KeyedVectors(3)
    pretrained.add_vectors(["a", "b"], np.eye(2, 3, dtype=np.float32))
    (tmp_path / "l2").mkdir()
    write_projection(tmp_path / "l2" / PROJECTION_FILE, Projection(np.zeros((5, 3), np.float32), np.zeros(5, np.float32)))
    projection, vectors = read_trained(tmp_path / "l2", 5, pretrained)
    assert projection.projection.shape == (5, 3) and not projection.normalize_features and vectors is pretrained
    with pytest.raises(PipelineError, match=f"{tmp_path / 'l2' / PROJECTION_FILE}.*do not match"):
        read_trained(tmp_path / "l2", 6, pretrained)


def test_a_model_with_own_words_is_scored_against_them_and_their_vocabulary_checked(tmp_path):
    pretrained = KeyedVectors(3)
    pretrained.add_vectors(["a", "b"], np.eye(2, 3, dtype=np.float32))
    (tmp_path / "m").mkdir()
    write_projection(tmp_path / "m" / PROJECTION_FILE,
                     Projection(np.zeros((5, 3), np.float32), np.zeros(5, np.float32), words="own"))
    with pytest.raises(PipelineError, match="vectors.kv: file not found"):
        read_trained(tmp_path / "m", 5, pretrained)
    own = KeyedVectors(3)
    own.add_vectors(["a", "b"], 2 * np.eye(2, 3, dtype=np.float32))
    own.save(str(tmp_path / "m" / VECTORS_FILE))
    assert read_trained(tmp_path / "m", 5, pretrained)[1]["a"].tolist() == [2, 0, 0]
    other = KeyedVectors(3)
    other.add_vectors(["a", "c"], np.eye(2, 3, dtype=np.float32))
    other.save(str(tmp_path / "m" / VECTORS_FILE))
    with pytest.raises(PipelineError, match="not the pretrained vocabulary"):
        read_trained(tmp_path / "m", 5, pretrained)


def matching_recomputed(paths: dict[str, Path], name: str, candidates: int, seed: int, ks: list[int]) -> dict:
    """P@k of one model by plain numpy from the stage inputs, scored against the model's own word vectors."""
    vectors = {"pretrained": KeyedVectors.load(str(paths["vectors"])), "iesg": KeyedVectors.load(str(paths["iesg_vectors"]))}
    with h5py.File(paths["features"]) as h5:
        ids, features = [i.decode() for i in h5["image_ids"][:]], h5["features"][:]
    data = joined(pd.read_csv(paths["images"], dtype=str), pd.read_csv(paths["links"], dtype=str), ids, features,
                  vectors["pretrained"])
    sets = draw_candidates(data, candidates, seed, pool="heldout")
    projection, center, normalize, side = load_model_file(paths["models"], name)
    words = vectors["iesg" if side == "own" else "pretrained"][data.words]
    embedded = {"image": project(data.features, projection, center, normalize), "word": words}
    result = {}
    for direction, (query_side, item_side) in {"image_to_word": ("image", "word"), "word_to_image": ("word", "image")}.items():
        for score in ("dot", "cos"):
            matrices = {key: m / np.linalg.norm(m, axis=1, keepdims=True) if score == "cos" else m
                        for key, m in embedded.items()}
            ranks = []
            for query, items in zip(sets[direction].queries, sets[direction].items):
                scores = matrices[item_side][items[items >= 0]] @ matrices[query_side][query]
                ranks.append(int((scores[1:] >= scores[0]).sum()))
            entry = {f"p{k}": round(float(np.mean(np.array(ranks) < k)), 4) for k in ks}
            entry.update(pairs=len(ranks), candidates=int(sets[direction].sizes.min()))
            if direction == "word_to_image":
                assert {data.splits[i] for i in sets[direction].items[:, 1:].ravel() if i >= 0} <= {"val", "test"}
            result.setdefault(direction, {})[score] = entry
    return result


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_data(self, data):
        self.text.append(data)


def test_stage_writes_metrics_plots_and_report(tmp_path):
    paths = write_fixture(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    result = run_stage(paths, out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1 and result.stdout.startswith("evaluate: 23 test pairs, 13 words, 32 images")
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["matching"]) == {"l2", "iesg", "devise", "random"}
    i2w = metrics["matching"]["iesg"]["image_to_word"]["dot"]
    assert set(i2w) == {"p1", "p2", "p5", "pairs", "candidates", "ci", "vs_l2"} and i2w["pairs"] == 23
    assert all(low <= i2w[k] <= high for k, (low, high) in i2w["ci"].items())
    headline = read_headline(out / "headline")
    assert sorted(headline) == ["devise", "iesg", "l2", "pretrained"]  # one file per model, and the pretrained vectors
    assert headline["iesg"]["w2i_p1"] == metrics["matching"]["iesg"]["word_to_image"]["cos"]["p1"]
    assert validation_p1(headline) == {"devise": 0.5, "iesg": 0.5, "l2": 0.5}
    assert headline["iesg"]["ws353_sim"] == metrics["similarity"]["iesg"]["ws353_similarity"]["spearman"]
    assert headline["pretrained"] == {short: metrics["similarity"]["pretrained"][name]["spearman"]
                                      for name, short in SIMILARITY_KEYS.items()}
    for name in ("l2", "iesg", "devise"):
        without_intervals = {d: {s: {k: v for k, v in entry.items() if k != "ci" and not k.startswith("vs_")}
                                 for s, entry in scores.items()} for d, scores in metrics["matching"][name].items()}
        assert without_intervals == matching_recomputed(paths, name, candidates=6, seed=1, ks=[1, 2, 5]), name
    assert metrics["matching"]["iesg"] != metrics["matching"]["l2"]
    vectors = {"pretrained": KeyedVectors.load(str(paths["vectors"])), "iesg": KeyedVectors.load(str(paths["iesg_vectors"]))}
    scored = {side: {bench: {k: v for k, v in entry.items() if k != "ci" and not k.startswith("vs_")}
                     for bench, entry in benches.items()} for side, benches in metrics["similarity"].items()}
    assert scored == {side: evaluate_vectors(kv, 100) for side, kv in vectors.items()}
    assert metrics["similarity"]["iesg"] != metrics["similarity"]["pretrained"]
    errors = metrics["errors"]
    assert errors["errors"] > 0
    assert sum(errors[t] for t in ("sparsity", "synonym", "confusion", "other")) == pytest.approx(1, abs=1e-3)
    plot = pd.read_csv(out / "plots/p1_by_frequency_word_to_image.csv")
    iesg_bars = plot[plot["model"] == "iesg"]
    assert iesg_bars["bucket"].tolist() == ["<100", "100-10k", ">=10k"]
    assert iesg_bars["bucket_pairs"].tolist() == [f"{b} (n={n})" for b, n in zip(iesg_bars["bucket"], iesg_bars["pairs"])]
    assert iesg_bars["pairs"].sum() == 23 and set(plot["model"]) == {"l2", "iesg", "devise", "random"}
    curves = pd.read_csv(out / "plots/val_p1_per_epoch.csv")
    assert list(curves.columns) == ["epoch", "l2", "iesg", "devise"] and curves["iesg"].tolist() == [0.1, 0.2]
    losses = pd.read_csv(out / "plots/loss_per_epoch.csv")
    assert list(losses.columns) == ["epoch", "l2", "iesg", "devise"] and losses["iesg"].tolist() == [1.0, 1.0]
    assert losses["l2"].isna().all()
    assert (out / "plots/errors.csv").is_file()
    page = _Collector()
    page.feed((out / "report/index.html").read_text())
    assert page.images and all((out / "report" / src).is_file() for src in page.images)
    assert "62.9/80.1/85.8" in "".join(page.text)
    # The summary first: the best validation model (all tie at 0.5: the first, l2) by cos, as the metrics say.
    opening = re.search(r'<h1>[^<]*</h1>\s*<ul id="summary">(.*?)</ul>', (out / "report/index.html").read_text(), re.S)
    l2 = {d: metrics["matching"]["l2"][d]["cos"]["p1"] for d in ("image_to_word", "word_to_image")}
    assert "model l2 (best validation P@1 0.500), cos score" in opening.group(1)
    assert (f"image → word {100 * l2['image_to_word']:.1f}% [" in opening.group(1)
            and f"word → image {100 * l2['word_to_image']:.1f}% [" in opening.group(1)), opening.group(1)
    examples = json.loads((out / "report/examples.json").read_text())
    assert len(examples["image_to_word"]) == 3 and len(examples["image_to_word"][0]["top"]) == 4

    again = tmp_path / "again"
    again.mkdir()
    assert run_stage(paths, again).returncode == 0
    assert (again / "metrics.json").read_text() == (out / "metrics.json").read_text()


def test_stage_refuses_a_model_of_the_wrong_dimension(tmp_path):
    paths = write_fixture(tmp_path / "in")
    write_projection(paths["models"] / "devise" / PROJECTION_FILE,
                     Projection(np.zeros((7, 8), np.float32), np.zeros(7, np.float32)))
    out = tmp_path / "out"
    out.mkdir()
    result = run_stage(paths, out)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "devise/model.npz" in lines[0]
    assert not (out / "metrics.json").exists() and not (out / "report").exists()


def test_stage_refuses_a_missing_input(tmp_path):
    paths = write_fixture(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    result = run_stage(paths, out, features=tmp_path / "nowhere.h5")
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'nowhere.h5'}: file not found; run the featurize stage"
    assert not (out / "metrics.json").exists()


def test_top1_is_the_best_negative_in_any_column_when_the_true_item_is_beaten():
    items = np.array([[5, 6, 7, 8], [1, 2, 3, 4], [9, 10, 11, 12]])
    scores = np.array([[0.2, 0.1, 0.9, 0.3],   # best negative in column 2
                       [0.0, 0.1, 0.2, 0.5],   # in column 3
                       [0.8, 0.1, 0.2, 0.3]])  # the true item wins
    ranking = rank_candidates(scores, items)
    assert ranking.ranks.tolist() == [2, 3, 0]
    assert ranking.top1.tolist() == [7, 4, 9]


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
         "--metrics", str(out / "headline"), "--details", str(out / "details.json"),
         "--plots", str(out / "plots"), "--report", str(out / "report"), "--dvc-yaml", ""],
        cwd=tiny_run, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    test_only = json.loads((out / "details.json").read_text())["matching"]["l2"]["word_to_image"]["dot"]
    assert test_only["candidates"] == 5  # 8 test images, 4 of them linked to "animal"
