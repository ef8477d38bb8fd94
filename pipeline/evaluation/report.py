"""A static HTML report of the evaluation: one ``index.html`` plus JPEG thumbnails beside it.

Opens offline (no external CSS, JS or images). Shows the matching metrics beside the paper's
Table 1 / Table 2 numbers, word similarity beside Table 3, P@1 by word frequency, the error
types, the DVC plots of ``dvc.yaml`` as inline SVG (:mod:`pipeline.evaluation.plots`), and thumbnail grids
of example queries. The data behind the page is kept beside it (``examples.json``,
``errors.json``, ``report.json``), so :func:`rebuild_report` can redraw it without re-evaluating.

The page is laid out by the Jinja2 template ``templates/report.html.j2`` with autoescape on; the
functions here turn the data into plain text values (formatted numbers, intervals, bold flags).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import jinja2
from markupsafe import Markup

from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_path
from pipeline.evaluation.plots import PlotSpec, plot_svg
from pipeline.features.decode import load_rgb
from pipeline.models.registry import PAPER_MODEL, PAPER_PRETRAINED_SIMILARITY, REGISTRY, paper_matching

ARROWS = {"image_to_word": "image → word", "word_to_image": "word → image"}


def thumbnail_name(image_id: str) -> str:
    """File name of an image's thumbnail (image ids may hold any characters)."""
    return hashlib.sha1(image_id.encode("utf-8")).hexdigest()[:16] + ".jpg"


# The page's layout is templates/report.html.j2; autoescape is on for every template (all are HTML).
TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("pipeline.evaluation", "templates"), autoescape=True,
                               undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                               trim_blocks=True, lstrip_blocks=True)
TEMPLATES.filters["thumbnail_name"] = thumbnail_name


def write_thumbnail(source: Path, target: Path, size: int) -> None:
    """Write a JPEG of ``source`` whose longest side is at most ``size`` pixels."""
    try:
        image = load_rgb(source)
    except Exception as exc:  # Pillow raises many types for unreadable files
        raise PipelineError(f"{source}: cannot read image for the report ({exc}); rerun map_images") from exc
    image.thumbnail((size, size))
    image.save(target, "JPEG", quality=85)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


@dataclass(frozen=True)
class Cell:
    """The content of one table cell, as plain text; the template lays it out and escapes it.

    Attributes
    ----------
    text : str
        The value as shown ("" for an empty cell).
    interval : str
        Its 95% interval, "[low, high]", shown small after the value; "" for none.
    bold : bool
        A paired difference whose interval excludes zero.
    paper : bool
        Luo's reported numbers, shown grey.
    """

    text: str
    interval: str = ""
    bold: bool = False
    paper: bool = False


@dataclass(frozen=True)
class Table:
    """A table of the page: header labels and rows of cells (the first column left-aligned)."""

    head: list[str]
    rows: list[list[Cell]]


def _with_interval(value: float | None, ci: list[float] | None, scale: float, digits: int) -> Cell:
    """``value`` and its interval ``ci`` times ``scale``, with ``digits`` decimals ("-" when there is no value)."""
    if value is None:
        return Cell("-")
    interval = f"[{ci[0] * scale:.{digits}f}, {ci[1] * scale:.{digits}f}]" if ci else ""
    return Cell(f"{value * scale:.{digits}f}", interval)


def _difference(entry: dict | None, scale: float, digits: int) -> Cell:
    """A paired difference with its interval, bold when the interval excludes zero."""
    if not entry:
        return Cell("")
    low, high = entry["ci"]
    return replace(_with_interval(entry["diff"], entry["ci"], scale, digits), bold=low > 0 or high < 0)


def matching_table(matching: dict, ks: list[int]) -> Table:
    """Rows per model and direction: P@k (95% interval) by dot and cosine, the paired P@1 difference to the
    reference model, and the paper's P@1/5/10."""
    reference = next((key[3:] for entry in _entries(matching) for key in entry if key.startswith("vs_")), None)
    head = ["model", "direction", *(f"P@{k} dot" for k in ks), *(f"P@{k} cos" for k in ks),
            *([f"P@1 − {reference} dot", f"P@1 − {reference} cos"] if reference else []),
            "paper P@1/5/10", "pairs", "candidates"]
    rows = []
    for model, directions in matching.items():
        for direction, scores in directions.items():
            paper = paper_matching(model, direction)
            cells = [Cell(model), Cell(ARROWS[direction])]
            cells += [_with_interval(scores[s][f"p{k}"], scores[s].get("ci", {}).get(f"p{k}"), 100, 1)
                      for s in ("dot", "cos") for k in ks]
            if reference:
                cells += [_difference(scores[s].get(f"vs_{reference}", {}).get("p1"), 100, 1) for s in ("dot", "cos")]
            cells.append(Cell("/".join(map(str, paper)), paper=True) if paper else Cell(""))
            cells += [Cell(str(scores["dot"]["pairs"])), Cell(str(scores["dot"]["candidates"]))]
            rows.append(cells)
    return Table(head, rows)


def retrieval_table(retrieval: dict, ks: list[int]) -> Table:
    """Rows per model, direction and retrieval at the headline score: full-ranking R@k (95% interval), P@1 of
    the candidate sets, their paired differences to plain retrieval, and the hub figures."""
    score = retrieval["settings"]["score"]
    head = ["model", "direction", "retrieval", *(f"R@{k}" for k in ks), "R@1 − plain", "P@1", "P@1 − plain",
            "top-1 hub: queries (share)", "distinct top-1 (share)", f"N{retrieval['settings']['k_occurrence']} skew",
            "R@k queries"]
    rows = []
    for model, scores in retrieval["models"].items():
        for direction in ARROWS:
            for name, directions in scores[score].items():
                entry = directions[direction]
                hub, ci, versus = entry["hub"], entry.get("ci", {}), entry.get("vs_plain", {})
                rows.append([
                    Cell(model), Cell(ARROWS[direction]),
                    Cell(name.replace("_", " ") + (" (default)" if retrieval["settings"]["default"][direction] == name
                                                   else "")),
                    *(_with_interval(entry[f"r{k}"], ci.get(f"r{k}"), 100, 1) for k in ks),
                    _difference(versus.get("r1"), 100, 1),
                    _with_interval(entry["p1"], ci.get("p1"), 100, 1),
                    _difference(versus.get("p1"), 100, 1),
                    Cell(f"{hub['count']} of {hub['queries']} ({_pct(hub['share'])})"),
                    Cell(f"{hub['distinct']} ({_pct(hub['distinct_share'])})"),
                    Cell(_num(hub["k_occurrence_skewness"], 2)),
                    Cell(str(entry["recall_queries"])),
                ])
    return Table(head, rows)


def _entries(matching: dict) -> list[dict]:
    return [entry for directions in matching.values() for scores in directions.values() for entry in scores.values()]


def similarity_table(similarity: dict) -> Table:
    """Rows per benchmark: the score (95% interval) of every word space, each grounded space's paired
    difference to the pretrained vectors, and the paper's WS353 numbers."""
    sides = list(similarity)
    grounded = sides[1:]
    benchmarks = list(next(iter(similarity.values()), {}))
    head = ["benchmark", *sides, *(f"{s} − {sides[0]}" for s in grounded), "paper skip-gram / IESG",
            "pairs / questions", "out of vocabulary"]
    rows = []
    for bench in benchmarks:
        first = similarity[sides[0]][bench]
        value_key = "spearman" if "spearman" in first else "accuracy"
        cells = [Cell(bench + (" (accuracy)" if value_key == "accuracy" else ""))]
        cells += [_with_interval(similarity[s][bench][value_key], similarity[s][bench].get("ci"), 1, 3) for s in sides]
        cells += [_difference(similarity[s][bench].get(f"vs_{sides[0]}"), 1, 3) for s in grounded]
        paper = [PAPER_PRETRAINED_SIMILARITY.get(bench), REGISTRY[PAPER_MODEL].paper_similarity.get(bench)]
        cells.append(Cell(" / ".join(_num(v) for v in paper), paper=True) if any(paper) else Cell(""))
        cells.append(Cell(str(first.get("pairs", first.get("questions")))))
        out_of_vocabulary = (similarity[s][bench].get("oov_pairs", similarity[s][bench].get("oov_questions"))
                             for s in sides)
        cells.append(Cell(" / ".join(map(str, out_of_vocabulary))))
        rows.append(cells)
    return Table(head, rows)


def frequency_table(frequency: dict[str, dict[str, list[dict[str, Any]]]]) -> Table:
    """P@1 (pairs) per frequency bucket; columns are model x direction."""
    columns = [(m, d) for m, dirs in frequency.items() for d in dirs]
    head = ["word count", *(f"{m} {ARROWS[d]}" for m, d in columns)]
    rows = []
    first_model, first_direction = columns[0]
    for i, bucket in enumerate(frequency[first_model][first_direction]):
        cells = [Cell(bucket["bucket"])]
        for m, d in columns:
            entry = frequency[m][d][i]
            cells.append(Cell(f"{_pct(entry['p1'])} ({entry['pairs']})"))
        rows.append(cells)
    return Table(head, rows)


def error_share_table(shares: dict[str, float | int], errors: list[dict[str, Any]]) -> Table:
    """Share and count of each error type."""
    rows = [[Cell(kind), Cell(_pct(share)), Cell(str(sum(e["type"] == kind for e in errors)))]
            for kind, share in shares.items() if kind != "errors"]
    return Table(["type", "share", "errors"], rows)


def error_list_table(shares: dict[str, float | int], errors: list[dict[str, Any]], n_listed: int) -> Table:
    """The first ``n_listed`` errors of each type, in the order of ``shares``."""
    rows = [[Cell(kind), Cell(e["image_id"]), Cell(e["truth"]), Cell(e["predicted"])]
            for kind in shares if kind != "errors"
            for e in [e for e in errors if e["type"] == kind][:n_listed]]
    return Table(["type", "image", "true word", "top-1 word"], rows)


def example_image_paths(examples: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """image_id -> path of every image shown in the example grids."""
    paths = {ex["image_id"]: ex["path"] for ex in examples["image_to_word"]}
    paths.update({t["image_id"]: t["path"] for ex in examples["word_to_image"] for t in ex["top"]})
    return paths


def render_page(
    metrics: dict[str, Any],
    frequency: dict[str, dict[str, list[dict[str, Any]]]],
    errors: list[dict[str, Any]],
    examples: dict[str, list[dict[str, Any]]],
    ks: list[int],
    caption: str,
    base_dir: str | os.PathLike = ".",
    plots: Sequence[PlotSpec] = (),
    summary: Sequence[str] = (),
) -> str:
    """The text of ``index.html``; parameters as for :func:`write_report`."""
    # plot_svg's SVG is our own markup and escapes every text it draws (titles, labels, legend names),
    # so it is the one piece of HTML the template takes as it is.
    drawn = [(plot.title, Markup(plot_svg(plot, base_dir))) for plot in plots]
    return TEMPLATES.get_template("report.html.j2").render(
        summary=list(summary),
        image_pool=str(metrics["data"].get("image_pool", "all")),
        matching=matching_table(metrics["matching"], ks),
        retrieval=retrieval_table(metrics["retrieval"], ks) if "retrieval" in metrics else None,
        retrieval_settings=metrics.get("retrieval", {}).get("settings"),
        similarity=similarity_table(metrics["similarity"]),
        caption=caption,
        frequency=frequency_table(frequency),
        error_shares=error_share_table(metrics["errors"], errors),
        error_list=error_list_table(metrics["errors"], errors, n_listed=5),
        plots=drawn,
        examples=examples,
    )


def write_report(
    out_dir: str | os.PathLike,
    metrics: dict[str, Any],
    frequency: dict[str, dict[str, list[dict[str, Any]]]],
    errors: list[dict[str, Any]],
    examples: dict[str, list[dict[str, Any]]],
    ks: list[int],
    caption: str,
    thumbnail_px: int,
    base_dir: str | os.PathLike = ".",
    plots: Sequence[PlotSpec] = (),
    summary: Sequence[str] = (),
) -> Path:
    """Write ``out_dir`` (atomically, replacing it): index.html, thumbs/, and the page's data as
    examples.json, errors.json and report.json (metrics, frequency, ks, caption, thumbnail_px).

    Parameters
    ----------
    out_dir : path
    metrics : dict
        The evaluate metrics (``matching``, ``similarity``, ``errors``).
    frequency : dict
        model -> direction -> rows of :func:`pipeline.evaluation.analysis.p1_by_frequency`.
    errors : list of dict
        The typed errors of :func:`pipeline.evaluation.analysis.classify_errors`.
    examples : dict
        From :func:`pipeline.evaluation.analysis.examples`; paths relative to ``base_dir`` or absolute.
    ks : list of int
    caption : str
        One line on the analysed model and score, shown above the analysis sections.
    thumbnail_px : int
    base_dir : path
        Root that relative image paths and the plots' data files start from.
    plots : sequence of PlotSpec
        DVC plots to draw (:func:`pipeline.evaluation.plots.read_plot_specs` of dvc.yaml); none: no section.
    summary : sequence of str
        The opening sentences (:func:`pipeline.evaluation.summary.summary`); none: no summary.

    Returns
    -------
    Path
        The written ``index.html``.
    """
    out = Path(out_dir)
    with atomic_path(out) as staged:
        (staged / "thumbs").mkdir(parents=True)
        for image_id, path in sorted(example_image_paths(examples).items()):
            source = Path(path) if Path(path).is_absolute() else Path(base_dir) / path
            write_thumbnail(source, staged / "thumbs" / thumbnail_name(image_id), thumbnail_px)
        (staged / "examples.json").write_text(json.dumps(examples, indent=2, sort_keys=True) + "\n")
        (staged / "errors.json").write_text(json.dumps(errors, indent=2) + "\n")
        page_data = {"metrics": metrics, "frequency": frequency, "ks": ks, "caption": caption,
                     "thumbnail_px": thumbnail_px, "summary": list(summary)}
        (staged / "report.json").write_text(json.dumps(page_data, indent=2) + "\n")
        page = render_page(metrics, frequency, errors, examples, ks, caption, base_dir, plots, summary)
        (staged / "index.html").write_text(page, encoding="utf-8")
    return out / "index.html"


def rebuild_report(
    source_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    base_dir: str | os.PathLike = ".",
    plots: Sequence[PlotSpec] = (),
) -> Path:
    """Redraw a report from the data an earlier :func:`write_report` kept in ``source_dir``.

    Parameters
    ----------
    source_dir : path
        A report directory holding examples.json, errors.json and report.json.
    out_dir : path
        Where to write the new report (may be ``source_dir``: its data is read first).
    base_dir, plots
        As for :func:`write_report`.

    Returns
    -------
    Path
        The written ``index.html``.

    Raises
    ------
    PipelineError
        A data file is missing or not JSON (a report written before report.json existed).
    """
    data = {}
    for name in ("examples", "errors", "report"):
        path = Path(source_dir) / f"{name}.json"
        try:
            data[name] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PipelineError(
                f"{path}: cannot read the report's data ({exc}); rerun the evaluate stage (dvc repro evaluate)"
            ) from exc
    page = data["report"]
    return write_report(out_dir, page["metrics"], page["frequency"], data["errors"], data["examples"], page["ks"],
                        page["caption"], page["thumbnail_px"], base_dir, plots, page.get("summary", []))
