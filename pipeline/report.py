"""A static HTML report of the evaluation: one ``index.html`` plus JPEG thumbnails beside it.

Opens offline (no external CSS, JS or images). Shows the matching metrics beside the paper's
Table 1 / Table 2 numbers, word similarity beside Table 3, P@1 by word frequency, the error
types, the DVC plots of ``dvc.yaml`` as inline SVG (:mod:`pipeline.plots`), and thumbnail grids
of example queries. The data behind the page is kept beside it (``examples.json``,
``errors.json``, ``report.json``), so :func:`rebuild_report` can redraw it without re-evaluating.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
from pathlib import Path
from typing import Any, Sequence

from pipeline.errors import PipelineError
from pipeline.io import atomic_path
from pipeline.plots import PlotSpec, plot_svg

# Luo's reported P@1/5/10 (percent) for the matching tasks and Spearman on WS353.
PAPER_MATCHING = {
    ("l2", "image_to_word"): (28.8, 55.4, 69.3),
    ("iesg", "image_to_word"): (62.9, 80.1, 85.8),
    ("l2", "word_to_image"): (28.3, 46.6, 56.9),
    ("iesg", "word_to_image"): (31.0, 52.3, 62.5),
}
PAPER_SIMILARITY = {
    ("pretrained", "ws353_similarity"): 0.702,
    ("pretrained", "ws353_relatedness"): 0.604,
    ("iesg", "ws353_similarity"): 0.680,
    ("iesg", "ws353_relatedness"): 0.593,
}
ARROWS = {"image_to_word": "image → word", "word_to_image": "word → image"}

STYLE = """
body{font-family:sans-serif;margin:2em;max-width:75em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
th,td{border:1px solid #bbb;padding:0.25em 0.6em;text-align:right}
th{background:#eee}td.l,th.l{text-align:left}
.paper{color:#666}.ci{color:#666;font-size:0.85em}
.grid{display:flex;flex-wrap:wrap;gap:0.6em;margin-bottom:1em;align-items:flex-start}
figure{margin:0;padding:0.3em;border:2px solid #ddd;width:min-content;text-align:center;font-size:0.85em}
figure.ok{border-color:#2a2}figure.query{border-color:#36c}
figure img{display:block;margin:auto}
ol{margin:0;padding-left:1.4em;text-align:left}
li.ok{color:#170;font-weight:bold}
svg.plot{display:block;margin-bottom:1.5em}
"""


def thumbnail_name(image_id: str) -> str:
    """File name of an image's thumbnail (image ids may hold any characters)."""
    return hashlib.sha1(image_id.encode("utf-8")).hexdigest()[:16] + ".jpg"


def write_thumbnail(source: Path, target: Path, size: int) -> None:
    """Write a JPEG of ``source`` whose longest side is at most ``size`` pixels."""
    from pipeline.features import load_rgb  # here, so that importing the report does not import torch

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


def _row(cells: list[str], header: bool = False) -> str:
    tag = "th" if header else "td"
    return "<tr>" + "".join(
        f'<{tag} class="l">{c}</{tag}>' if i == 0 else f"<{tag}>{c}</{tag}>" for i, c in enumerate(cells)
    ) + "</tr>"


def _with_interval(value: float | None, ci: list[float] | None, scale: float, digits: int) -> str:
    if value is None:
        return "-"
    text = f"{value * scale:.{digits}f}"
    if ci:
        text += f' <span class="ci">[{ci[0] * scale:.{digits}f}, {ci[1] * scale:.{digits}f}]</span>'
    return text


def _difference(entry: dict | None, scale: float, digits: int) -> str:
    """A paired difference with its interval, bold when the interval excludes zero."""
    if not entry:
        return ""
    text = _with_interval(entry["diff"], entry["ci"], scale, digits)
    low, high = entry["ci"]
    return f"<b>{text}</b>" if low > 0 or high < 0 else text


def matching_table(matching: dict, ks: list[int]) -> str:
    """Rows per model and direction: P@k (95% interval) by dot and cosine, the paired P@1 difference to the
    reference model, and the paper's P@1/5/10."""
    reference = next((key[3:] for entry in _entries(matching) for key in entry if key.startswith("vs_")), None)
    head = ["model", "direction", *(f"P@{k} dot" for k in ks), *(f"P@{k} cos" for k in ks),
            *([f"P@1 − {reference} dot", f"P@1 − {reference} cos"] if reference else []),
            "paper P@1/5/10", "pairs", "candidates"]
    rows = [_row([html.escape(h) for h in head], header=True)]
    for model, directions in matching.items():
        for direction, scores in directions.items():
            paper = PAPER_MATCHING.get((model, direction))
            cells = [html.escape(model), ARROWS[direction]]
            cells += [_with_interval(scores[s][f"p{k}"], scores[s].get("ci", {}).get(f"p{k}"), 100, 1)
                      for s in ("dot", "cos") for k in ks]
            if reference:
                cells += [_difference(scores[s].get(f"vs_{reference}", {}).get("p1"), 100, 1) for s in ("dot", "cos")]
            cells.append(f'<span class="paper">{"/".join(map(str, paper))}</span>' if paper else "")
            cells += [str(scores["dot"]["pairs"]), str(scores["dot"]["candidates"])]
            rows.append(_row(cells))
    return "<table>" + "".join(rows) + "</table>"


def _entries(matching: dict) -> list[dict]:
    return [entry for directions in matching.values() for scores in directions.values() for entry in scores.values()]


def similarity_table(similarity: dict) -> str:
    """Rows per benchmark: the score (95% interval) of every word space, each grounded space's paired
    difference to the pretrained vectors, and the paper's WS353 numbers."""
    sides = list(similarity)
    grounded = sides[1:]
    benchmarks = list(next(iter(similarity.values()), {}))
    head = ["benchmark", *sides, *(f"{s} − {sides[0]}" for s in grounded), "paper skip-gram / IESG",
            "pairs / questions", "out of vocabulary"]
    rows = [_row([html.escape(h) for h in head], header=True)]
    for bench in benchmarks:
        first = similarity[sides[0]][bench]
        value_key = "spearman" if "spearman" in first else "accuracy"
        cells = [html.escape(bench + (" (accuracy)" if value_key == "accuracy" else ""))]
        cells += [_with_interval(similarity[s][bench][value_key], similarity[s][bench].get("ci"), 1, 3) for s in sides]
        cells += [_difference(similarity[s][bench].get(f"vs_{sides[0]}"), 1, 3) for s in grounded]
        paper = [PAPER_SIMILARITY.get((s, bench)) for s in ("pretrained", "iesg")]
        cells.append(f'<span class="paper">{" / ".join(_num(v) for v in paper)}</span>' if any(paper) else "")
        cells.append(str(first.get("pairs", first.get("questions"))))
        cells.append(" / ".join(str(similarity[s][bench].get("oov_pairs", similarity[s][bench].get("oov_questions")))
                                for s in sides))
        rows.append(_row(cells))
    return "<table>" + "".join(rows) + "</table>"


def frequency_table(frequency: dict[str, dict[str, list[dict[str, Any]]]]) -> str:
    """P@1 (pairs) per frequency bucket; columns are model x direction."""
    columns = [(m, d) for m, dirs in frequency.items() for d in dirs]
    head = ["word count", *(f"{m} {ARROWS[d]}" for m, d in columns)]
    rows = [_row([html.escape(h) for h in head], header=True)]
    first_model, first_direction = columns[0]
    for i, bucket in enumerate(frequency[first_model][first_direction]):
        cells = [html.escape(bucket["bucket"])]
        for m, d in columns:
            entry = frequency[m][d][i]
            cells.append(f"{_pct(entry['p1'])} ({entry['pairs']})")
        rows.append(_row(cells))
    return "<table>" + "".join(rows) + "</table>"


def errors_table(shares: dict[str, float | int], errors: list[dict[str, Any]], n_listed: int) -> str:
    """Error-type shares, then the first ``n_listed`` errors of each type."""
    rows = [_row(["type", "share", "errors"], header=True)]
    for kind, share in shares.items():
        if kind != "errors":
            count = sum(e["type"] == kind for e in errors)
            rows.append(_row([html.escape(kind), _pct(share), str(count)]))
    listed = [_row(["type", "image", "true word", "top-1 word"], header=True)]
    for kind in (k for k in shares if k != "errors"):
        for e in [e for e in errors if e["type"] == kind][:n_listed]:
            listed.append(_row([html.escape(kind), html.escape(e["image_id"]), html.escape(e["truth"]),
                                html.escape(e["predicted"])]))
    return "<table>" + "".join(rows) + "</table><table>" + "".join(listed) + "</table>"


def _figure(image_id: str, caption: str, css: str) -> str:
    return (f'<figure class="{css}"><img src="thumbs/{thumbnail_name(image_id)}" alt="{html.escape(image_id)}">'
            f"<figcaption>{caption}</figcaption></figure>")


def example_grids(examples: dict[str, list[dict[str, Any]]]) -> str:
    """Thumbnail grids: each test image with its top words; each test word with its top images."""
    parts = ["<h3>Test images and their top words</h3><div class=\"grid\">"]
    for ex in examples["image_to_word"]:
        items = "".join(
            f'<li class="{"ok" if t["correct"] else ""}">{html.escape(t["word"])}{" ✓" if t["correct"] else ""}</li>'
            for t in ex["top"]
        )
        parts.append(_figure(ex["image_id"], f"<ol>{items}</ol>", "query"))
    parts.append("</div><h3>Test words and their top test images</h3>")
    for ex in examples["word_to_image"]:
        parts.append(f'<div class="grid"><figure class="query"><b>{html.escape(ex["word"])}</b></figure>')
        for rank, t in enumerate(ex["top"], 1):
            mark = " ✓" if t["correct"] else ""
            parts.append(_figure(t["image_id"], f"{rank}{mark}", "ok" if t["correct"] else ""))
        parts.append("</div>")
    return "".join(parts)


def example_image_paths(examples: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """image_id -> path of every image shown in the example grids."""
    paths = {ex["image_id"]: ex["path"] for ex in examples["image_to_word"]}
    paths.update({t["image_id"]: t["path"] for ex in examples["word_to_image"] for t in ex["top"]})
    return paths


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
) -> Path:
    """Write ``out_dir`` (atomically, replacing it): index.html, thumbs/, and the page's data as
    examples.json, errors.json and report.json (metrics, frequency, ks, caption, thumbnail_px).

    Parameters
    ----------
    out_dir : path
    metrics : dict
        The evaluate metrics (``matching``, ``similarity``, ``errors``).
    frequency : dict
        model -> direction -> rows of :func:`pipeline.analysis.p1_by_frequency`.
    errors : list of dict
        The typed errors of :func:`pipeline.analysis.classify_errors`.
    examples : dict
        From :func:`pipeline.analysis.examples`; paths relative to ``base_dir`` or absolute.
    ks : list of int
    caption : str
        One line on the analysed model and score, shown above the analysis sections.
    thumbnail_px : int
    base_dir : path
        Root that relative image paths and the plots' data files start from.
    plots : sequence of PlotSpec
        DVC plots to draw (:func:`pipeline.plots.read_plot_specs` of dvc.yaml); none: no section.

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
                     "thumbnail_px": thumbnail_px}
        (staged / "report.json").write_text(json.dumps(page_data, indent=2) + "\n")
        plot_section = ["<h2>DVC plots</h2>"] if plots else []
        plot_section += [f"<h3>{html.escape(plot.title)}</h3>{plot_svg(plot, base_dir)}" for plot in plots]
        body = [
            "<h1>Grounded word embeddings: evaluation</h1>",
            "<h2>Matching on the test split</h2>",
            "<p>P@k in percent with its 95% bootstrap interval over test images; each test link ranks the true "
            "item among itself and sampled negatives (the same candidate sets for every model; word → image "
            f"negatives from the {html.escape(str(metrics['data'].get('image_pool', 'all')))} images, "
            "<i>candidates</i> = the smallest candidate set). Differences to the reference model are paired; "
            "bold where the interval excludes zero. <span class=\"paper\">Grey: Luo's reported numbers.</span></p>",
            matching_table(metrics["matching"], ks),
            "<h2>Word similarity (Spearman) and analogy</h2>",
            "<p>Every word space: the pretrained vectors and those each grounded model learnt; 95% bootstrap "
            "intervals over benchmark pairs, paired differences to the pretrained vectors (bold: the interval "
            "excludes zero).</p>",
            similarity_table(metrics["similarity"]),
            f"<h2>Error analysis</h2><p>{html.escape(caption)}</p>",
            "<h3>P@1 by corpus frequency of the word (pairs)</h3>",
            frequency_table(frequency),
            "<h3>Top-1 errors of image → word by type</h3>",
            errors_table(metrics["errors"], errors, n_listed=5),
            *plot_section,
            "<h2>Examples</h2>",
            example_grids(examples),
        ]
        page = (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>IESG evaluation</title>'
            f"<style>{STYLE}</style></head><body>" + "\n".join(body) + "</body></html>\n"
        )
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
                        page["caption"], page["thumbnail_px"], base_dir, plots)
