"""``dvc plots show`` offline: the HTML template with Vega, Vega-Lite and Vega-Embed inlined (checked against
their pinned checksums), the page it gives for the tiny run rendered in headless Chromium with the network
off, and the project's plot templates drawn the same way in the report."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from configobj import ConfigObj
from PIL import Image

from conftest import at
from pipeline.core.errors import PipelineError
from pipeline.evaluation import plots
from pipeline.evaluation.plots import PlotSpec, plot_svg, read_plot_specs
from pipeline.evaluation.vega_template import LIBRARIES, TEMPLATE_PATH, page_template

REPO = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO / "node_modules"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars")
# The network is off for the page: every request goes to a closed local port, no name resolves.
NETWORK_OFF = ("--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND")
# Console messages that mean the page did not load or draw something (Vega's own "WARN ..." are fine).
CONSOLE_FAILURE = re.compile(r"error|failed|uncaught|net::", re.IGNORECASE)


@pytest.fixture(scope="module")
def template() -> str:
    """The page template built from this checkout's node_modules."""
    if not (NODE_MODULES / "vega").is_dir():
        pytest.fail("node_modules/ is missing: run `npm ci` (bash setup.sh --no-run does); the page inlines "
                    "the pinned Vega builds from there")
    return page_template(NODE_MODULES)


class Scripts(HTMLParser):
    """The ``<script>`` elements of a page: attributes and text."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[dict[str, str | None], str]] = []
        self._current: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self._current = dict(attrs)
            self.found.append((self._current, ""))

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            attrs, text = self.found[-1]
            self.found[-1] = (attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._current = None


def scripts(page: str) -> list[tuple[dict[str, str | None], str]]:
    parser = Scripts()
    parser.feed(page)
    parser.close()
    return parser.found


def test_the_template_inlines_each_pinned_library_byte_for_byte(template):
    inlined = [(attrs, text) for attrs, text in scripts(template) if "data-library" in attrs]
    assert [attrs["data-library"] for attrs, _ in inlined] == ["vega@5.33.1", "vega-lite@5.23.0", "vega-embed@6.29.0"]
    for library, (attrs, text) in zip(LIBRARIES, inlined):
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        assert digest == library.sha256 == attrs["data-sha256"], library.label
    assert not any("src" in attrs for attrs, _ in scripts(template))
    # DVC fills {plot_divs} (and {refresh_tag}); without {scripts} it has nowhere to put its CDN <script> tags.
    assert "{plot_divs}" in template and "{refresh_tag}" in template and "{scripts}" not in template


def test_package_json_and_its_lock_pin_the_versions_the_template_checks():
    package = json.loads((REPO / "package.json").read_text())
    lock = json.loads((REPO / "package-lock.json").read_text())
    pinned = {library.name: library.version for library in LIBRARIES}
    assert package["dependencies"] == pinned
    assert {name: lock["packages"][f"node_modules/{name}"]["version"] for name in pinned} == pinned
    assert all(lock["packages"][f"node_modules/{name}"]["integrity"].startswith("sha512-") for name in pinned)


@pytest.mark.parametrize("change, message", [
    (lambda build, package: build.write_bytes(build.read_bytes().replace(b"use strict", b"use sloppy", 1)),
     r"sha256 [0-9a-f]{64}, pinned 463f3d"),
    (lambda build, package: package.write_text(json.dumps({"version": "5.20.2"})),
     "version 5.20.2 installed, 5.33.1 pinned; run `npm ci`"),
    (lambda build, package: build.unlink(), r"vega@5.33.1 not installed .*; run `npm ci`"),
])
def test_a_library_other_than_the_pinned_build_is_refused(template, tmp_path, change, message):
    for library in LIBRARIES:
        folder = tmp_path / library.name
        (folder / library.build).parent.mkdir(parents=True)
        shutil.copy(NODE_MODULES / library.name / "package.json", folder / "package.json")
        shutil.copy(NODE_MODULES / library.name / library.build, folder / library.build)
    assert page_template(tmp_path) == template
    change(tmp_path / "vega" / LIBRARIES[0].build, tmp_path / "vega" / "package.json")
    with pytest.raises(PipelineError, match=message):
        page_template(tmp_path)


def test_dvc_config_names_the_template_that_setup_builds():
    config = ConfigObj(str(REPO / ".dvc/config"))
    # DVC reads a relative plots.html_template from .dvc/.
    assert REPO / ".dvc" / config["plots"]["html_template"] == REPO / TEMPLATE_PATH
    assert (REPO / ".gitignore").read_text().count(f"/{TEMPLATE_PATH}\n") == 1


def test_the_project_templates_use_the_report_palette_and_grouping():
    dvc_yaml = read_plot_specs(REPO / "dvc.yaml")
    custom = {path.stem: json.loads(path.read_text()) for path in (REPO / ".dvc/plots").glob("*.json")}
    assert set(custom) == {"lines_by_column", "bars_by_model"}
    assert {spec.template for spec in dvc_yaml} == {"lines_by_column", "bars_by_model", "bar_horizontal"}
    assert set(custom) <= set(plots.LINE_TEMPLATES + plots.BAR_TEMPLATES)
    lines, bars = custom["lines_by_column"], custom["bars_by_model"]
    assert lines["encoding"]["color"]["scale"]["range"] == list(plots.PALETTE)
    colour = bars["layer"][0]["encoding"]["color"]
    assert colour["scale"]["range"] == list(plots.PALETTE) and colour["field"] == plots.GROUP_FIELD
    assert bars["encoding"]["yOffset"]["field"] == "dvc_plot_bar"
    assert f"datum.{plots.GROUP_FIELD}" in next(t["calculate"] for t in bars["transform"] if t["as"] == "dvc_plot_bar")


def test_bars_by_model_group_each_bucket_colour_each_model_and_say_na_for_an_empty_one(tmp_path):
    (tmp_path / "freq.csv").write_text("model,bucket,pairs,p1,bucket_pairs\n"
                                       "l2,<100,3,0.5,<100 (n=3)\nl2,>=100,0,,>=100 (n=0)\n"
                                       "joint,<100,3,0.25,<100 (n=3)\njoint,>=100,0,,>=100 (n=0)\n")
    spec = PlotSpec("P@1 by frequency", "bars_by_model", "p1", (("freq.csv", "bucket_pairs"),),
                    "test P@1", "corpus count")
    svg = plot_svg(spec, tmp_path)
    assert re.findall(r'<rect x="[^"]+" y="[^"]+" width="[^"]+" height="[^"]+" fill="([^"]+)">', svg) == \
        list(plots.PALETTE[:2])  # one bar per model with a value, coloured by model
    assert svg.index(">&lt;100 (n=3)<") < svg.index(">&gt;=100 (n=0)<")
    assert svg.count(">n/a<") == 2 and ">0.50<" in svg and ">0.25<" in svg
    assert ">l2<" in svg and ">joint<" in svg and ">test P@1<" in svg and ">corpus count<" in svg
    (tmp_path / "freq.csv").write_text("bucket_pairs,p1\n<100 (n=3),0.5\n")
    with pytest.raises(PipelineError, match="column.s. model named in dvc.yaml's plots are missing"):
        plot_svg(spec, tmp_path)


def test_a_line_without_values_keeps_its_colour_and_legend_entry(tmp_path):
    (tmp_path / "loss.csv").write_text("epoch,l2,devise\n1,,0.9\n2,,0.4\n")
    svg = plot_svg(PlotSpec("loss", "lines_by_column", "epoch", (("loss.csv", "l2"), ("loss.csv", "devise")),
                            None, "training loss"), tmp_path)
    assert ">l2<" in svg and ">devise<" in svg and ">training loss<" in svg
    assert re.findall(r'<polyline fill="none" stroke="([^"]+)"', svg) == [plots.PALETTE[1]]


class PlotDivs(HTMLParser):
    """Per DVC plot div (``<div id>`` holding a ``vegaEmbed`` call): its ``data-vega-embed`` state, and per
    type of Vega mark drawn inside it (``mark-line``, ``mark-rect``, ...), the count of its items."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.state: dict[str, str | None] = {}
        self.marks: dict[str, dict[str, int]] = {}
        self._open: list[tuple[str, str | None, str | None]] = []  # (tag, plot div, mark type) per open element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        plot, mark = self._open[-1][1:] if self._open else (None, None)
        if plot is None and tag == "div" and attributes.get("id"):
            plot = attributes["id"]
            self.state[plot], self.marks[plot] = attributes.get("data-vega-embed"), {}
        if plot and tag == "g" and "role-mark" in classes:
            mark = next(c for c in classes if c.startswith("mark-"))
            self.marks[plot].setdefault(mark, 0)
        elif plot and mark and tag in ("path", "text"):
            self.marks[plot][mark] += 1
        if tag not in self.VOID:
            self._open.append((tag, plot, mark))

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop()[0] != tag:
            pass


def render(page: Path, tmp_path: Path) -> tuple[PlotDivs, list[str], Path]:
    """Load ``page`` from file:// in headless Chromium with the network off; the plot divs of its DOM after
    the scripts ran, the console messages, and a screenshot."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.fail("chromium not found on PATH: apt-get install chromium (setup.sh installs it)")
    screenshot = tmp_path / f"{page.parent.name}.png"
    command = [chromium, *CHROMIUM_FLAGS, *NETWORK_OFF, f"--user-data-dir={tmp_path / 'profile'}",
               "--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000", "--window-size=1000,2600",
               f"--screenshot={screenshot}", "--dump-dom", page.as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    shutil.rmtree(tmp_path / "profile")
    divs = PlotDivs()
    divs.feed(result.stdout)
    divs.close()
    console = [line.split("CONSOLE", 1)[1] for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return divs, console, screenshot


def dvc(project: Path, *args: str) -> str:
    result = subprocess.run(["dvc", *args], cwd=project, capture_output=True, text=True,
                            env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    assert result.returncode == 0, f"dvc {' '.join(args)}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def plots_project(tiny_run, tmp_path_factory, template) -> Path:
    """A DVC project (no git) with the tiny run's dvc.yaml, params, plot data and dvclive logs, this
    checkout's .dvc/config and plot templates, and the page template built from node_modules."""
    root = tmp_path_factory.mktemp("plots_project")
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(tiny_run / name, root / name)
    for folder in ("plots", "train_logs"):
        shutil.copytree(at(tiny_run, folder), at(root, folder))
    dvc(root, "init", "--no-scm", "-q")
    shutil.copy(REPO / ".dvc/config", root / ".dvc/config")
    shutil.copytree(REPO / ".dvc/plots", root / ".dvc/plots")
    (root / TEMPLATE_PATH).write_text(template, encoding="utf-8")
    return root


def test_dvc_plots_show_draws_every_plot_offline(plots_project, tmp_path):
    dvc(plots_project, "plots", "show")  # plain: .dvc/config names the template
    index = plots_project / "dvc_plots/index.html"
    page = index.read_text(encoding="utf-8")
    assert "cdn.jsdelivr.net" not in page and not any("src" in attrs for attrs, _ in scripts(page))
    expected = {"plots_evaluate_val_p1_per_epoch_csv": "mark-line", "plots_evaluate_loss_per_epoch_csv": "mark-line",
                "plots_evaluate_p1_by_frequency_image_to_word_csv": "mark-rect",
                "plots_evaluate_p1_by_frequency_word_to_image_csv": "mark-rect",
                "plots_evaluate_errors_csv": "mark-rect"}
    assert set(re.findall(r'<div id = "([^"]+)">\s*<script', page)) == set(expected)

    divs, console, screenshot = render(index, tmp_path)
    print(f"dvc plots screenshot: {screenshot}")
    assert [line for line in console if CONSOLE_FAILURE.search(line)] == []
    assert divs.state == {plot: "rendered" for plot in expected}
    for plot, mark in expected.items():
        assert divs.marks[plot].get(mark, 0) >= 1, (plot, divs.marks[plot])
    for direction in ("image_to_word", "word_to_image"):
        rows = (at(plots_project, "plots") / f"p1_by_frequency_{direction}.csv").read_text().splitlines()[1:]
        bars = divs.marks[f"plots_evaluate_p1_by_frequency_{direction}_csv"]
        # a bar and a label (its value or n/a) per model and bucket; the tiny run has empty buckets
        assert bars["mark-rect"] == bars["mark-text"] == len(rows) and any(row.endswith("(n=0)") for row in rows)
    with Image.open(screenshot) as image:
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3).astype(np.uint32)
    drawn = set((pixels[:, 0] << 16 | pixels[:, 1] << 8 | pixels[:, 2]).tolist())
    # bars and lines in the report's model colours (a model whose P@1 is 0 everywhere shows no bar)
    assert sum(int(colour.lstrip("#"), 16) in drawn for colour in plots.PALETTE[:6]) >= 4


def test_dvcs_default_page_stays_blank_offline(plots_project, tmp_path):
    """The control: with DVC's own template (Vega from a CDN) the same check sees the failed loads."""
    (plots_project / ".dvc/config.local").write_text("[plots]\n    html_template = \n")
    try:
        dvc(plots_project, "plots", "show", "-o", "dvc_plots_cdn")
    finally:
        (plots_project / ".dvc/config.local").unlink()
    index = plots_project / "dvc_plots_cdn/index.html"
    assert "cdn.jsdelivr.net/npm/vega@5" in index.read_text(encoding="utf-8")
    divs, console, _ = render(index, tmp_path)
    assert any("vegaEmbed is not defined" in line for line in console)
    assert any(CONSOLE_FAILURE.search(line) for line in console)
    assert all(state is None for state in divs.state.values()) and not any(any(m.values()) for m in divs.marks.values())
