"""The explorer page of the tiny run (the explore stage), opened from file:// in headless Chromium driven by
Playwright: a typed word or phrase shows the top images that the model files give, a click shows an image's top
words, and the model, score and split switches redraw both. The expected rankings are computed here with numpy from
the train stage's files, not with the explorer's code."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from gensim.models import KeyedVectors

from conftest import REPO, TINY_MODELS, TINY_PARAMS, at, load_grounded_vectors, load_model_file, project
from pipeline.artifacts.features import read_features
from pipeline.artifacts.model_dir import read_train_summary
from pipeline.artifacts.tables import read_images, read_links
from pipeline.artifacts.vectors import read_vectors
from pipeline.core.errors import PipelineError
from pipeline.evaluation.model_choice import best_model
from pipeline.explorer.build import ExploreParams, encode, page_vocabulary, top_words

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TINY_EXPLORE = yaml.safe_load(TINY_PARAMS)["explore"]


class Expected:
    """Rankings of the tiny run by numpy from its files: images sorted by id, every split, as the page has them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        ids, features = read_features(at(root, "features"))
        order = np.argsort(ids)
        self.ids = [ids[i] for i in order]
        self.features = features[order]
        table = read_images(at(root, "images")).set_index("image_id")
        self.splits = [table.loc[i, "split"] for i in self.ids]
        links = read_links(at(root, "links"))
        self.links = {i: set(links.loc[links["image_id"] == i, "word"]) for i in self.ids}
        self.mapped = sorted(set(links["word"]))
        self.pretrained = read_vectors(at(root, "vectors"))

    def vectors(self, model: str) -> KeyedVectors:
        words = load_model_file(at(self.root, "models"), model)[3]
        return self.pretrained if words == "pretrained" else load_grounded_vectors(at(self.root, "models"), model)

    def images(self, model: str, score: str) -> np.ndarray:
        projection, center, normalize, _ = load_model_file(at(self.root, "models"), model)
        images = project(self.features, projection, center, normalize)
        return images / np.linalg.norm(images, axis=1, keepdims=True) if score == "cos" else images

    def image_scores(self, model: str, score: str, words: list[str]) -> np.ndarray:
        query = np.mean([self.vectors(model)[w] for w in words], axis=0)
        if score == "cos":
            query = query / np.linalg.norm(query)
        return self.images(model, score) @ query

    def top_images(self, model: str, score: str, words: list[str], splits: tuple[str, ...] = ("train", "val", "test"),
                   k: int = TINY_EXPLORE["top_k"]) -> list[str]:
        scores = self.image_scores(model, score, words)
        rows = [i for i, split in enumerate(self.splits) if split in splits]
        return [self.ids[rows[i]] for i in np.argsort(-scores[rows], kind="stable")[:k]]

    def top_words(self, model: str, score: str, image_id: str, k: int = TINY_EXPLORE["top_words"]) -> list[str]:
        words = np.array([self.vectors(model)[w] for w in self.mapped])
        if score == "cos":
            words = words / np.linalg.norm(words, axis=1, keepdims=True)
        scores = words @ self.images(model, score)[self.ids.index(image_id)]
        return [self.mapped[i] for i in np.argsort(-scores, kind="stable")[:k]]


@pytest.fixture(scope="module")
def expected(tiny_run) -> Expected:
    return Expected(tiny_run)


@pytest.fixture(scope="module")
def float32_page(tiny_run, tmp_path_factory) -> Path:
    """The tiny run's explorer built again with float32 storage: its rankings are numpy's, to rounding."""
    folder = tmp_path_factory.mktemp("explorer32")
    params = yaml.safe_load(TINY_PARAMS)
    params["explore"]["precision"] = "float32"
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run([sys.executable, str(Path(REPO) / "stages/explore.py"), "--params",
                             str(folder / "params.yaml"), "--out", str(folder / "explorer")],
                            cwd=tiny_run, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder / "explorer" / "index.html"


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("chromium not found on PATH: apt-get install chromium (setup.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Explorer:
    """One explorer page in the browser, with every URL it requested and every script error."""

    def __init__(self, browser, index: Path, state: str = "") -> None:
        self.page = browser.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(index.as_uri() + state)
        self.page.wait_for_selector("body[data-rendered]")

    def redraw(self, action) -> None:
        """Do ``action`` and wait for the page's next render."""
        before = int(self.page.evaluate("document.body.dataset.rendered"))
        action()
        self.page.wait_for_function(f"Number(document.body.dataset.rendered) > {before}")

    def search(self, text: str) -> None:
        self.page.fill("#query", text)
        self.redraw(lambda: self.page.press("#query", "Enter"))

    def choose(self, select: str, value: str) -> None:
        self.redraw(lambda: self.page.select_option(select, value))

    def grid(self) -> list[dict]:
        return self.page.eval_on_selector_all("#grid figure", """figures => figures.map(f => ({
            id: f.dataset.imageId, split: f.dataset.split, linked: f.dataset.linked === "1",
            score: Number(f.dataset.score), shown: f.querySelector("img").complete &&
            f.querySelector("img").naturalWidth > 0}))""")

    def ids(self) -> list[str]:
        return [figure["id"] for figure in self.grid()]

    def detail_words(self) -> list[tuple[str, bool]]:
        return [tuple(item) for item in self.page.eval_on_selector_all(
            "#detail-words li", "items => items.map(li => [li.querySelector('button').textContent, "
                                "li.classList.contains('linked')])")]

    def status(self) -> str:
        return self.page.inner_text("#status")


def test_a_typed_word_shows_the_models_top_images_and_a_click_its_top_words(browser, float32_page, expected):
    explorer = Explorer(browser, float32_page)
    page = explorer.page
    assert (page.input_value("#model"), page.input_value("#score")) == ("iesg", "cos")
    explorer.search("Dog")
    grid = explorer.grid()
    assert [f["id"] for f in grid] == expected.top_images("iesg", "cos", ["dog"])
    scores = expected.image_scores("iesg", "cos", ["dog"])
    assert [f["score"] for f in grid] == pytest.approx([scores[expected.ids.index(f["id"])] for f in grid], abs=1e-4)
    assert [(f["split"], f["linked"]) for f in grid] == [(expected.splits[expected.ids.index(f["id"])],
                                                          "dog" in expected.links[f["id"]]) for f in grid]
    assert all(f["shown"] for f in grid)  # every thumbnail loaded from thumbs/
    assert '"dog": top 6 of 32 images (all splits) by iesg, cos score' in explorer.status()

    clicked = grid[1]["id"]
    page.click("#grid figure:nth-child(2)")
    page.wait_for_selector(f'#detail[data-image-id="{clicked}"][data-score="cos"]')
    assert page.inner_text("#detail-id") == clicked
    assert page.inner_text("#detail-links") == ", ".join(sorted(expected.links[clicked]))
    assert explorer.detail_words() == [(w, w in expected.links[clicked])
                                       for w in expected.top_words("iesg", "cos", clicked)]

    explorer.choose("#score", "dot")
    assert explorer.ids() == expected.top_images("iesg", "dot", ["dog"])
    page.wait_for_selector(f'#detail[data-image-id="{clicked}"][data-model="iesg"][data-score="dot"]')
    assert [w for w, _ in explorer.detail_words()] == expected.top_words("iesg", "dot", clicked)

    explorer.choose("#model", "l2")
    assert explorer.ids() == expected.top_images("l2", "dot", ["dog"])
    assert explorer.ids() != expected.top_images("iesg", "dot", ["dog"])  # the switch changed the grid
    page.wait_for_selector('#detail[data-model="l2"][data-score="dot"]')
    assert [w for w, _ in explorer.detail_words()] == expected.top_words("l2", "dot", clicked)
    assert page.inner_text("#detail-heading") == "Top words: l2, dot score"

    explorer.redraw(lambda: page.click("#detail-words li:first-child button"))  # a top word becomes the query
    first = expected.top_words("l2", "dot", clicked)[0]
    assert page.get_attribute("#grid", "data-query") == first
    assert explorer.ids() == expected.top_images("l2", "dot", [first])
    assert explorer.errors == [] and all(url.startswith("file://") for url in explorer.requests)


def test_a_phrase_is_the_mean_of_its_words_and_the_state_is_in_the_address(browser, float32_page, expected):
    explorer = Explorer(browser, float32_page, "#q=dog%20cat&model=contrastive&score=dot&split=test")
    page = explorer.page
    grid = explorer.grid()
    assert [f["id"] for f in grid] == expected.top_images("contrastive", "dot", ["dog", "cat"], ("test",))
    assert {f["split"] for f in grid} == {"test"}
    assert [f["linked"] for f in grid] == [bool({"dog", "cat"} & expected.links[f["id"]]) for f in grid]
    assert "mean of the vectors of dog, cat" in explorer.status()

    explorer.choose("#split", "heldout")
    assert explorer.ids() == expected.top_images("contrastive", "dot", ["dog", "cat"], ("val", "test"))
    assert "split=heldout" in page.evaluate("location.hash") and "model=contrastive" in page.evaluate("location.hash")

    counts = {w: expected.pretrained.get_vecattr(w, "count") for w in expected.pretrained.index_to_key}
    by_count = sorted(counts, key=lambda w: (-counts[w], expected.pretrained.key_to_index[w]))
    vocabulary = [w for w in by_count if w in by_count[:TINY_EXPLORE["vocabulary_size"]] or w in expected.mapped]
    assert page.evaluate("EXPLORER_DATA.page.vocabulary") == vocabulary
    outside = next(w for w in by_count if w not in vocabulary)
    explorer.search(f"horse {outside}")
    assert explorer.ids() == expected.top_images("contrastive", "dot", ["horse"], ("val", "test"))
    assert explorer.status().endswith(f"not in the vocabulary, left out: {outside}")
    explorer.search(outside)
    assert explorer.grid() == [] and page.get_attribute("#status", "class") == "error"
    assert explorer.errors == []


def test_the_stages_float16_page_ranks_as_numpy_to_its_rounding(browser, tiny_run, expected):
    index = at(tiny_run, "explorer") / "index.html"
    text = index.read_text(encoding="utf-8")
    assert "http" not in text and '<script src="data/page.js"></script>' in text
    explorer = Explorer(browser, index)
    for model in ("joint", "devise"):
        explorer.choose("#model", model)
        explorer.search("animal")
        scores = expected.image_scores(model, "cos", ["animal"])
        grid = explorer.grid()
        numpy_scores = np.array([scores[expected.ids.index(f["id"])] for f in grid])
        assert [f["score"] for f in grid] == pytest.approx(numpy_scores, abs=5e-3)
        assert np.all(np.diff(numpy_scores) < 5e-3)  # best first, to float16 rounding
        assert numpy_scores.min() >= np.sort(scores)[-len(grid)] - 5e-3  # the top images, to rounding
    assert explorer.errors == [] and all(url.startswith("file://") for url in explorer.requests)


def test_page_vocabulary_takes_the_most_frequent_words_and_every_mapped_word():
    vectors = KeyedVectors(2)
    vectors.add_vectors(["a", "b", "c", "d", "e"], np.eye(5, 2, dtype=np.float32))
    for word, count in zip("abcde", (5, 9, 1, 9, 3)):
        vectors.set_vecattr(word, "count", count)
    assert [vectors.index_to_key[i] for i in page_vocabulary(vectors, ["c"], 2)] == ["b", "d", "c"]
    assert [vectors.index_to_key[i] for i in page_vocabulary(vectors, ["b"], 9)] == ["b", "d", "a", "e", "c"]


def test_top_words_are_best_first_with_ties_by_index_and_encode_is_little_endian():
    indices, scores = top_words(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 1.0], [2.0, 0.0], [1.0, 1.0]]), 2,
                                chunk=1)
    assert indices.tolist() == [[1, 0], [0, 2]] and scores.tolist() == [[2.0, 1.0], [1.0, 1.0]]
    assert np.frombuffer(base64.b64decode(encode(np.array([1.5, -2.0]), "float16")), "<f2").tolist() \
        == [1.5, -2.0]


def test_shown_models_must_be_trained_and_hold_the_default():
    assert ExploreParams(default_model=None).shown_models(["l2", "joint"]) == (["l2", "joint"], "l2")
    assert ExploreParams(models=["joint"], default_model=None).shown_models(["l2", "joint"]) == (["joint"], "joint")
    with pytest.raises(PipelineError, match="explore.models: iesg not in train.models"):
        ExploreParams(models=["iesg"]).shown_models(["l2"])
    with pytest.raises(PipelineError, match="explore.default_model: 'l2' is not one of the models shown"):
        ExploreParams(models=["joint"], default_model="l2").shown_models(["l2", "joint"])
    assert ExploreParams().shown_models(["l2", "joint"]) == (["l2", "joint"], "best")  # resolved by the stage


def test_the_page_opens_with_the_best_validation_model_by_default(tiny_run, tmp_path):
    params = yaml.safe_load(TINY_PARAMS)
    del params["explore"]["default_model"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run([sys.executable, str(Path(REPO) / "stages/explore.py"), "--params",
                             str(tmp_path / "params.yaml"), "--out", str(tmp_path / "explorer")],
                            cwd=tiny_run, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    val_p1 = {name: read_train_summary(at(tiny_run, "model", name))["val_p1"] for name in TINY_MODELS}
    best = best_model(val_p1)
    assert f"opens with {best} (best validation P@1 {val_p1[best]:.3f})" in result.stdout
    page = (tmp_path / "explorer" / "index.html").read_text()
    assert re.findall(r'<option value="(\w+)"[^>]* selected>', page)[0] == best


def test_the_stage_refuses_a_bad_section_with_one_error_line(tiny_run, tmp_path):
    params = yaml.safe_load(TINY_PARAMS)
    params["explore"]["top_k"] = 0
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run([sys.executable, str(Path(REPO) / "stages/explore.py"), "--params",
                             str(tmp_path / "params.yaml"), "--out", str(tmp_path / "explorer")],
                            cwd=tiny_run, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr == "error: params explore.top_k: must be >= 1, got 0\n"
    assert not (tmp_path / "explorer").exists()
