"""The static HTML report: parses, escapes, shows the paper's numbers, thumbnails exist and are small."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from pipeline.errors import PipelineError
from pipeline.report import thumbnail_name, write_report


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.sources: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "img":
            self.sources.append(attrs["src"])
        if tag in ("link", "script"):
            self.links.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def score(p1: float) -> dict:
    return {"p1": p1, "p5": 0.5, "p10": 0.75, "pairs": 40, "candidates": 100}


@pytest.fixture
def inputs(tmp_path: Path) -> dict:
    (tmp_path / "imgs").mkdir()
    for name, size in (("a.png", (300, 200)), ("b.png", (40, 60)), ("c.png", (50, 50))):
        Image.new("RGBA", size, (200, 10, 10, 128)).save(tmp_path / "imgs" / name)
    matching = {m: {d: {"dot": score(0.25), "cos": score(0.3)} for d in ("image_to_word", "word_to_image")}
                for m in ("l2", "iesg", "random")}
    benchmark = {"spearman": 0.65, "pairs": 203, "oov_pairs": 4}
    similarity = {side: {"ws353_similarity": benchmark, "analogy": {"accuracy": 0.3, "questions": 10, "oov_questions": 1}}
                  for side in ("pretrained", "iesg")}
    errors = [{"image_id": "x<1>", "truth": "dog", "predicted": "<script>", "type": "synonym"}]
    metrics = {"matching": matching, "similarity": similarity,
               "errors": {"sparsity": 0.0, "synonym": 1.0, "confusion": 0.0, "other": 0.0, "errors": 1}}
    frequency = {m: {d: [{"bucket": "<100", "p1": 0.5, "pairs": 2}, {"bucket": ">=100", "p1": None, "pairs": 0}]
                     for d in ("image_to_word", "word_to_image")} for m in ("l2", "iesg")}
    examples = {
        "image_to_word": [{"image_id": "img/a&b", "path": "imgs/a.png", "truth": ["dog"],
                           "top": [{"word": "dog", "score": 1.0, "correct": True},
                                   {"word": "cat", "score": 0.5, "correct": False}]}],
        "word_to_image": [{"word": "cat", "top": [
            {"image_id": "b", "path": str(tmp_path / "imgs" / "b.png"), "score": 2.0, "correct": True},
            {"image_id": "c", "path": "imgs/c.png", "score": 1.0, "correct": False}]}],
    }
    return {"metrics": metrics, "frequency": frequency, "errors": errors, "examples": examples,
            "ks": [1, 5, 10], "caption": "iesg, dot", "thumbnail_px": 64, "base_dir": tmp_path}


def test_report_parses_and_references_existing_thumbnails(tmp_path, inputs):
    index = write_report(tmp_path / "report", **inputs)
    page = Page()
    page.feed(index.read_text(encoding="utf-8"))
    page.close()
    assert page.links == []  # nothing external: no stylesheet link, no script
    assert len(page.sources) == 3
    for source in page.sources:
        assert source.startswith("thumbs/") and (index.parent / source).is_file()
        with Image.open(index.parent / source) as thumb:
            assert thumb.format == "JPEG" and max(thumb.size) <= 64
    assert (index.parent / "thumbs" / thumbnail_name("img/a&b")).is_file()
    text = "".join(page.text)
    assert "62.9/80.1/85.8" in text and "28.3/46.6/56.9" in text and "0.702" in text
    assert "<script>" in text  # escaped in the markup, so it comes back as text
    assert "25.0" in text and "30.0" in text
    assert (index.parent / "examples.json").is_file() and (index.parent / "errors.json").is_file()


def test_report_is_replaced_whole(tmp_path, inputs):
    out = tmp_path / "report"
    write_report(out, **inputs)
    (out / "thumbs" / "stale.jpg").write_bytes(b"old")
    write_report(out, **inputs)
    assert not (out / "thumbs" / "stale.jpg").exists()


def test_missing_image_is_a_clear_error_and_leaves_no_report(tmp_path, inputs):
    inputs["examples"]["image_to_word"][0]["path"] = "imgs/gone.png"
    with pytest.raises(PipelineError, match="gone.png: cannot read image"):
        write_report(tmp_path / "report", **inputs)
    assert not (tmp_path / "report").exists()
