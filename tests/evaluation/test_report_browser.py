"""The evaluate stage's report of the tiny run: offline by parsing, and rendered by headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import at

WINDOW = (1200, 4000)


class Elements(HTMLParser):
    """Counts of start tags, every src/href value, and the text of the h2 headings."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}
        self.references: list[str] = []
        self.headings: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1
        self.references += [value or "" for name, value in attrs if name in ("src", "href", "xlink:href")]
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag: str) -> None:
        self._in_h2 = self._in_h2 and tag != "h2"

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self.headings.append(data)


def parse(page: str) -> Elements:
    elements = Elements()
    elements.feed(page)
    elements.close()
    return elements


def chromium() -> str:
    """Path of the Chromium binary; a test failure (not a skip) when it is missing."""
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    pytest.fail("chromium not found on PATH: apt-get install chromium (setup.sh installs it); "
                "the report is checked in a real browser")


def headless(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'profile'}", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_report_is_offline_and_complete(tiny_run):
    index = at(tiny_run, "report") / "index.html"
    elements = parse(index.read_text(encoding="utf-8"))
    assert elements.counts.get("script", 0) == 0 and elements.counts.get("link", 0) == 0
    assert elements.references and all(not ref.startswith(("http:", "https:", "//", "/", "file:"))
                                       for ref in elements.references)
    assert all((index.parent / ref).is_file() for ref in elements.references)
    assert elements.headings == ["Matching on the test split", "Word similarity (Spearman) and analogy",
                                 "Error analysis", "DVC plots", "Examples", "Full-ranking retrieval and hubness"]
    assert elements.counts["svg"] == 5 and elements.counts["table"] >= 5
    # 4 test images with their top words; 4 test words with their top-5 test images
    assert elements.counts["img"] == 4 + 4 * 5


def test_report_renders_in_headless_chromium(tiny_run, tmp_path):
    index = at(tiny_run, "report") / "index.html"
    screenshot = tmp_path / "report.png"
    rendered = headless(tmp_path, f"--screenshot={screenshot}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                        "--dump-dom", index.as_uri())
    print(f"report screenshot: {screenshot}")
    with Image.open(screenshot) as image:
        assert image.format == "PNG" and image.size == WINDOW
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3).astype(np.uint32)
    assert (pixels.min(axis=1) < 200).mean() > 0.02  # text, table rules, bars and thumbnails: not a blank page
    colours = pixels[:, 0] << 16 | pixels[:, 1] << 8 | pixels[:, 2]
    assert len(np.unique(colours)) > 500  # thumbnails and coloured plots, not only black text

    dom = parse(rendered.stdout)
    assert dom.counts["svg"] == 5 and dom.counts["img"] == 4 + 4 * 5 and dom.counts["table"] >= 5
    assert "DVC plots" in dom.headings
