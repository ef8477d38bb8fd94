"""The static HTML report: parses, escapes, shows the paper's numbers, thumbnails exist and are small."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from pipeline.core.errors import PipelineError
from pipeline.evaluation.plots import PlotSpec, plot_svg, read_plot_specs
from pipeline.evaluation.report import rebuild_report, thumbnail_name, write_report


class Page(HTMLParser):
    """Tags, image sources and alt texts, text, and every table as rows of (cell text, bold) pairs."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.sources: list[str] = []
        self.alts: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self.tables: list[list[list[tuple[str, bool]]]] = []
        self.in_cell = False
        self.bold = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "img":
            self.sources.append(attrs["src"])
            self.alts.append(attrs["alt"])
        if tag in ("link", "script"):
            self.links.append(tag)
        if tag == "table":
            self.tables.append([])
        if tag == "tr":
            self.tables[-1].append([])
        if tag in ("th", "td"):
            self.tables[-1][-1].append(("", False))
            self.in_cell = True
        self.bold = self.bold or tag == "b"

    def handle_endtag(self, tag):
        self.in_cell = self.in_cell and tag not in ("th", "td")
        self.bold = self.bold and tag != "b"

    def handle_data(self, data):
        self.text.append(data)
        if self.in_cell:
            text, bold = self.tables[-1][-1][-1]
            self.tables[-1][-1][-1] = (" ".join((text + " " + data).split()), bold or self.bold)


def parse(index: Path) -> Page:
    page = Page()
    page.feed(index.read_text(encoding="utf-8"))
    page.close()
    return page


def cells(table: list[list[tuple[str, bool]]], key_columns: int) -> dict[tuple[str, ...], tuple[str, bool]]:
    """(row key..., column label) -> (text, bold) of a parsed table whose first row is its header."""
    head = [text for text, _ in table[0]]
    return {(*(text for text, _ in row[:key_columns]), label): cell
            for row in table[1:] for label, cell in zip(head, row)}


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
    matching["iesg"]["image_to_word"]["cos"].update(
        ci={"p1": [0.21, 0.39], "p5": [0.4, 0.6], "p10": [0.7, 0.8]},
        vs_l2={"p1": {"diff": 0.05, "ci": [0.01, 0.09]}})
    matching["iesg"]["image_to_word"]["dot"]["vs_l2"] = {"p1": {"diff": -0.02, "ci": [-0.06, 0.02]}}
    similarity["iesg"]["ws353_similarity"] = {**benchmark, "spearman": 0.6, "ci": [0.5, 0.7],
                                              "vs_pretrained": {"diff": -0.05, "ci": [-0.09, -0.01]}}
    metrics = {"data": {"image_pool": "heldout"}, "matching": matching, "similarity": similarity,
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
    page = parse(index)
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
    assert "[21.0, 39.0]" in text and "heldout images" in text  # the interval and the word -> image pool
    html = index.read_text(encoding="utf-8")
    # Differences are bold only where their interval excludes zero.
    assert "<b>5.0 <span" in html and "<b>-2.0" not in html and "-2.0 <span" in html
    assert "<b>-0.050 <span" in html
    assert (index.parent / "examples.json").is_file() and (index.parent / "errors.json").is_file()


def test_text_from_the_data_is_escaped_by_the_template(tmp_path, inputs):
    model, image_id, word = '<script>alert("m")</script>', "<img src=x onerror='y'> & \"z\"", 'a "cat" & <dog>'
    matching = inputs["metrics"]["matching"]
    matching[model] = matching.pop("random")
    inputs["metrics"]["data"]["image_pool"] = "<i>held</i>"
    inputs["examples"]["image_to_word"][0].update(image_id=image_id)
    inputs["examples"]["image_to_word"][0]["top"][1]["word"] = word
    inputs["examples"]["word_to_image"][0]["word"] = word
    inputs["caption"] = "</p><script>x & y</script>"
    index = write_report(tmp_path / "report", **inputs)
    page = parse(index)
    assert page.links == [] and "<script" not in index.read_text(encoding="utf-8")
    assert page.tags.count("img") == 3 and page.tags.count("i") == 1  # only the template's own <i>candidates</i>
    assert image_id in page.alts and f"thumbs/{thumbnail_name(image_id)}" in page.sources
    text = " ".join("".join(page.text).split())
    assert "negatives from the <i>held</i> images" in text and "</p><script>x & y</script>" in text
    assert text.count(word) == 2
    # Every row still has one cell per column: no markup from the data leaked into the tables' structure.
    for table in page.tables:
        assert {len(row) for row in table} == {len(table[0])}
    assert cells(page.tables[0], 2)[(model, "image → word", "pairs")] == ("40", False)


def test_table_cells_show_the_values_of_report_json(tmp_path, inputs):
    inputs["metrics"]["similarity"]["iesg"]["analogy"].update(
        accuracy=0.4, ci=[0.2, 0.6], vs_pretrained={"diff": 0.1, "ci": [-0.1, 0.3]})
    index = write_report(tmp_path / "report", **inputs)
    data = json.loads((index.parent / "report.json").read_text())["metrics"]
    matching, similarity, *_ = parse(index).tables

    cell = cells(matching, 2)
    iesg = data["matching"]["iesg"]["image_to_word"]
    low, high = iesg["cos"]["ci"]["p1"]
    assert cell[("iesg", "image → word", "P@1 cos")] == (
        f"{100 * iesg['cos']['p1']:.1f} [{100 * low:.1f}, {100 * high:.1f}]", False) == ("30.0 [21.0, 39.0]", False)
    assert cell[("iesg", "image → word", "P@1 dot")] == ("25.0", False)  # no interval in the data: none shown
    # A paired difference is bold only when its interval excludes zero.
    assert cell[("iesg", "image → word", "P@1 − l2 cos")] == ("5.0 [1.0, 9.0]", True)
    assert cell[("iesg", "image → word", "P@1 − l2 dot")] == ("-2.0 [-6.0, 2.0]", False)
    assert cell[("l2", "image → word", "P@1 − l2 cos")] == ("", False)
    assert cell[("iesg", "word → image", "paper P@1/5/10")] == ("31.0/52.3/62.5", False)
    assert '<span class="paper">31.0/52.3/62.5</span>' in index.read_text(encoding="utf-8")  # grey
    assert cell[("random", "word → image", "paper P@1/5/10")] == ("", False)
    assert (cell[("l2", "word → image", "pairs")], cell[("l2", "word → image", "candidates")]) == (
        ("40", False), ("100", False))

    cell = cells(similarity, 1)
    assert cell[("ws353_similarity", "pretrained")] == ("0.650", False)
    assert cell[("ws353_similarity", "iesg")] == ("0.600 [0.500, 0.700]", False)
    assert cell[("ws353_similarity", "iesg − pretrained")] == ("-0.050 [-0.090, -0.010]", True)
    assert cell[("analogy (accuracy)", "iesg")] == ("0.400 [0.200, 0.600]", False)
    assert cell[("analogy (accuracy)", "iesg − pretrained")] == ("0.100 [-0.100, 0.300]", False)
    assert cell[("ws353_similarity", "paper skip-gram / IESG")] == ("0.702 / 0.680", False)
    assert cell[("analogy (accuracy)", "paper skip-gram / IESG")] == ("", False)
    assert cell[("analogy (accuracy)", "pairs / questions")] == ("10", False)
    assert cell[("ws353_similarity", "out of vocabulary")] == ("4 / 4", False)


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


def test_dvc_plots_are_drawn_inline_and_the_report_can_be_rebuilt(tmp_path, inputs):
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots/train.csv").write_text("model,epoch,val_p1\niesg,1,0.1\niesg,2,0.3\ndevise,1,0.2\ndevise,2,0.25\n")
    (tmp_path / "plots/a.csv").write_text("bucket,p1\n<100,0.5\n>=100,\n")
    (tmp_path / "plots/b.csv").write_text("bucket,p1\n<100,0.25\n>=100,1.0\n")
    (tmp_path / "dvc.yaml").write_text(
        "stages: {}\nplots:\n"
        "  - plots/train.csv: {title: Validation <P@1>, x: epoch, y: val_p1}\n"
        "  - P@1 by frequency:\n      template: bar_horizontal\n      x: p1\n"
        "      y: {plots/a.csv: bucket, plots/b.csv: bucket}\n")
    specs = read_plot_specs(tmp_path / "dvc.yaml")
    assert [s.template for s in specs] == ["linear", "bar_horizontal"]
    assert specs[1].series == (("plots/a.csv", "bucket"), ("plots/b.csv", "bucket"))
    index = write_report(tmp_path / "report", **inputs, plots=specs)
    page = index.read_text(encoding="utf-8")
    assert page.count("<svg") == 2 and "<h2>DVC plots</h2>" in page
    assert "<h3>Validation &lt;P@1&gt;</h3>" in page
    assert page.count("<polyline") == 2 and ">val_p1 iesg<" in page and ">val_p1 devise<" in page
    assert page.count("</rect>") == 3  # one bar (with a tooltip title) per non-empty value
    assert "<title>b &gt;=100: 1</title>" in page

    rebuilt = rebuild_report(tmp_path / "report", tmp_path / "again", inputs["base_dir"], specs)
    assert rebuilt.read_text(encoding="utf-8") == page
    assert sorted(p.name for p in (tmp_path / "again/thumbs").iterdir()) == sorted(
        p.name for p in (tmp_path / "report/thumbs").iterdir())


@pytest.mark.parametrize("plots, message", [
    ("  - plots/x.csv: {template: confusion, x: a, y: b}\n", "template 'confusion'; the report draws"),
    ("  - plots/x.csv: {x: a}\n", "plot 'plots/x.csv' needs both x and y"),
])
def test_plot_specs_the_report_cannot_draw_are_clear_errors(tmp_path, plots, message):
    (tmp_path / "dvc.yaml").write_text("plots:\n" + plots)
    with pytest.raises(PipelineError, match=message):
        read_plot_specs(tmp_path / "dvc.yaml")


def test_missing_plot_data_is_a_clear_error(tmp_path):
    with pytest.raises(PipelineError, match="plots/none.csv: plot data not found; run the stage"):
        plot_svg(PlotSpec("t", "linear", "epoch", (("plots/none.csv", "y"),)), tmp_path)


def test_plot_definitions_take_values_from_params_as_dvc_templating_does(tmp_path):
    (tmp_path / "params.yaml").write_text("train:\n  models: [l2, joint]\n")
    (tmp_path / "dvc.yaml").write_text("plots:\n  - curves.csv:\n      x: epoch\n      y: ${train.models}\n")
    (tmp_path / "curves.csv").write_text("epoch,l2,joint\n1,0.4,0.5\n2,,0.6\n")
    (spec,) = read_plot_specs(tmp_path / "dvc.yaml")
    assert spec.series == (("curves.csv", "l2"), ("curves.csv", "joint"))
    svg = plot_svg(spec, tmp_path)
    assert ">l2<" in svg and ">joint<" in svg  # one legend entry, so one line, per model
    (tmp_path / "dvc.yaml").write_text("plots:\n  - curves.csv:\n      x: epoch\n      y: ${train.nodels}\n")
    with pytest.raises(PipelineError, match=r"plots use \$\{train.nodels\}, which params.yaml"):
        read_plot_specs(tmp_path / "dvc.yaml")
