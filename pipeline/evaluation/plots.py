"""The DVC plots of ``dvc.yaml`` drawn as inline SVG, so the HTML report shows them offline.

``dvc plots show`` renders them with Vega-Lite (inlined into its page by
:mod:`pipeline.evaluation.vega_template`); the report reads the same top-level ``plots:``
definitions of ``dvc.yaml`` and their CSV files and draws them itself:

* ``linear`` (DVC's default; also ``smooth``, ``scatter`` and the project's ``lines_by_column``):
  ``y`` against ``x`` as lines with points. Rows are split into one line per value of the file's
  other text columns, and per file (or per ``y`` field) when several are given. An empty cell draws
  no point (the line joins its neighbours); a ``y`` field keeps its legend entry and colour even
  when it has no value at all.
* ``bar_horizontal`` (and ``bar_horizontal_sorted``): DVC's convention, ``x`` is the numeric
  value and ``y`` the category field; with several files each category gets one bar per file
  (named by the file's stem, e.g. ``iesg``). An empty value draws no bar.
* ``bars_by_model`` (the project's template): as ``bar_horizontal``, but each category gets one bar
  per value of the file's ``model`` column, coloured by model, and every bar is labelled with its
  value, or ``n/a`` for an empty cell.

Colours follow the order of ``y`` (lines) or of the models in the file (bars), with the palette of
the project's DVC templates in ``.dvc/plots/`` (``lines_by_column``, ``bars_by_model``), so a model
has the same colour in the report and in ``dvc plots show``. ``x_label`` and ``y_label`` title the
axes, as in DVC.

``${section.key}`` in a plot definition is replaced by that value of the ``params.yaml`` beside
``dvc.yaml``, as DVC's templating does (``y: ${train.models}``: one line per trained model).
Stage-level ``plots`` entries are not drawn: the top-level definitions are the curated views.
"""

from __future__ import annotations

import csv
import html
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.core.errors import PipelineError

LINE_TEMPLATES = ("linear", "smooth", "scatter", "lines_by_column")
BAR_TEMPLATES = ("bar_horizontal", "bar_horizontal_sorted", "bars_by_model")
GROUP_FIELD = "model"  # the column that bars_by_model (here and in .dvc/plots/) groups and colours by
PALETTE = ("#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#ff8ab7", "#a463f2", "#97bbf5")
WIDTH = 640
FONT_PX = 12
CHAR_PX = 7  # rough width of a character at FONT_PX, to size the label margins


@dataclass(frozen=True)
class PlotSpec:
    """One entry of ``dvc.yaml``'s top-level ``plots``.

    Attributes
    ----------
    title : str
        The plot's ``title``, else its id (a file path or a free name).
    template : str
        A DVC template name; see the module docstring for the ones drawn.
    x : str
        Field on the horizontal axis (for bars: the value).
    series : tuple of (str, str)
        ``(data file relative to the project root, y field)`` per data source.
    x_label, y_label : str or None
        Axis titles (``x_label``, ``y_label``); none: ``x`` and the ``y`` fields.
    """

    title: str
    template: str
    x: str
    series: tuple[tuple[str, str], ...]
    x_label: str | None = None
    y_label: str | None = None


def read_plot_specs(dvc_yaml: str | os.PathLike) -> list[PlotSpec]:
    """Read the top-level ``plots`` of ``dvc_yaml`` (an empty list when it defines none).

    Raises
    ------
    PipelineError
        Missing or invalid file, or a plot without ``x``/``y`` or with a template not drawn here.
    """
    path = Path(dvc_yaml)
    if not path.is_file():
        raise PipelineError(f"{path}: not found; give the project's dvc.yaml (its plots are drawn in the report)")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise PipelineError(f"{path}: not valid YAML ({exc})") from exc
    specs = []
    params_file = path.parent / "params.yaml"
    params = (yaml.safe_load(params_file.read_text(encoding="utf-8")) or {}) if params_file.is_file() else {}
    for entry in _interpolate(document.get("plots") or [], params, path):
        if isinstance(entry, dict) and len(entry) == 1:
            ((plot_id, props),) = entry.items()
        else:
            plot_id, props = entry, None
        props = props or {}
        template = props.get("template", "linear")
        if template not in LINE_TEMPLATES + BAR_TEMPLATES:
            raise PipelineError(
                f"{path}: plot {plot_id!r} uses template {template!r}; the report draws "
                f"{', '.join(LINE_TEMPLATES + BAR_TEMPLATES)}"
            )
        y = props.get("y")
        if "x" not in props or y is None:
            raise PipelineError(f"{path}: plot {plot_id!r} needs both x and y to be drawn in the report")
        if isinstance(y, dict):
            series = [(file, field) for file, fields in y.items() for field in _as_list(fields)]
        else:
            series = [(str(plot_id), field) for field in _as_list(y)]
        labels = [str(props[key]) if key in props else None for key in ("x_label", "y_label")]
        specs.append(PlotSpec(str(props.get("title", plot_id)), template, str(props["x"]), tuple(series), *labels))
    return specs


def _interpolate(value: Any, params: dict, path: Path) -> Any:
    """``value`` with every ``${a.b}`` string replaced by ``params["a"]["b"]``."""
    if isinstance(value, dict):
        return {_interpolate(k, params, path): _interpolate(v, params, path) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, params, path) for v in value]
    match = re.fullmatch(r"\$\{([\w.]+)\}", value) if isinstance(value, str) else None
    if not match:
        return value
    found: Any = params
    for key in match.group(1).split("."):
        if not isinstance(found, dict) or key not in found:
            raise PipelineError(f"{path}: plots use ${{{match.group(1)}}}, which params.yaml beside it does not define")
        found = found[key]
    return found


def _as_list(value: str | list[str]) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def plot_svg(spec: PlotSpec, base_dir: str | os.PathLike = ".") -> str:
    """Draw ``spec`` from its CSV files (relative to ``base_dir``) as an ``<svg>`` element.

    Raises
    ------
    PipelineError
        A data file is missing or lacks a field the plot names.
    """
    grouped = (GROUP_FIELD,) if spec.template == "bars_by_model" else ()
    tables = {file: _read_rows(Path(base_dir) / file, (spec.x, field, *grouped)) for file, field in spec.series}
    if spec.template in BAR_TEMPLATES:
        return _bars(spec, tables)
    return _lines(spec, tables)


def _read_rows(path: Path, fields: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise PipelineError(f"{path}: plot data not found; run the stage that writes it (dvc repro)")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    missing = [f for f in fields if rows and f not in rows[0]]
    if missing:
        raise PipelineError(f"{path}: column(s) {', '.join(missing)} named in dvc.yaml's plots are missing")
    return rows


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _series_name(file: str, field: str, spec: PlotSpec) -> str:
    """Legend name of a data source: the file's stem when files differ, else the y field."""
    files = {f for f, _ in spec.series}
    return Path(file).stem if len(files) > 1 else field


def _nice_max(value: float) -> float:
    """A round axis end >= ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value * (1 - 1e-9))


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    return [low + (high - low) * i / count for i in range(count + 1)]


def _tick_label(value: float) -> str:
    return f"{value:g}" if abs(value) >= 1e-9 else "0"


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "", size: int = FONT_PX) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}"{extra}>'
            f"{html.escape(text)}</text>")


def _legend(names: list[str], x: float, y: float) -> str:
    parts, offset = [], 0.0
    for i, name in enumerate(names):
        parts.append(f'<rect x="{x + offset:.1f}" y="{y - 9:.1f}" width="10" height="10" '
                     f'fill="{PALETTE[i % len(PALETTE)]}"/>')
        parts.append(_text(x + offset + 14, y, name))
        offset += 24 + CHAR_PX * len(name)
    return "".join(parts)


def _svg(height: float, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{WIDTH}" height="{height:.0f}" '
            f'viewBox="0 0 {WIDTH} {height:.0f}" role="img" aria-label="{html.escape(title)}">'
            f"<title>{html.escape(title)}</title>" + "".join(body) + "</svg>")


def _bars(spec: PlotSpec, tables: dict[str, list[dict[str, str]]]) -> str:
    """One bar per legend name (a data source, or a model for bars_by_model) in each category."""
    values: dict[str, dict[str, float | None]] = {}  # legend name -> category -> value
    categories: list[str] = []
    for file, field in spec.series:
        for row in tables[file]:
            name = _series_name(file, field, spec)
            if spec.template == "bars_by_model":
                name = row[GROUP_FIELD] if len(spec.series) == 1 else f"{name} {row[GROUP_FIELD]}"
            values.setdefault(name, {})[row[field]] = _number(row[spec.x])
            categories += [row[field]] if row[field] not in categories else []
    names = list(values)
    if spec.template == "bar_horizontal_sorted":
        categories.sort(key=lambda c: -max((v.get(c) or 0.0) for v in values.values()))
    labelled = spec.template == "bars_by_model"
    top = 28.0 if len(names) > 1 else 8.0
    left = 12 + CHAR_PX * max((len(c) for c in categories), default=4) + (18 if spec.y_label else 0)
    bar, gap = (11.0, 14.0) if labelled else (12.0, 10.0)
    band = bar * len(names) + gap
    plot_height = band * len(categories)
    height = top + plot_height + 40
    right = WIDTH - (44 if labelled else 20)
    highest = _nice_max(max((v or 0.0 for series in values.values() for v in series.values()), default=1.0))
    scale = (right - left) / highest
    body = [_legend(names, left, 16) if len(names) > 1 else ""]
    for tick in _ticks(0.0, highest):
        x = left + tick * scale
        body.append(f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{top + plot_height:.1f}" stroke="#ddd"/>')
        body.append(_text(x, top + plot_height + 14, _tick_label(tick), "middle"))
    for c, category in enumerate(categories):
        y0 = top + c * band + gap / 2
        body.append(_text(left - 6, y0 + bar * len(names) / 2 + 4, category, "end"))
        for s, name in enumerate(names):
            value = values[name].get(category)
            y = y0 + s * bar
            if value is not None:
                body.append(f'<rect x="{left:.1f}" y="{y:.1f}" width="{max(value, 0.0) * scale:.1f}" '
                            f'height="{bar - 1:.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                            f"<title>{html.escape(f'{name} {category}: {value:g}')}</title></rect>")
            if labelled and category in values[name]:
                label = "n/a" if value is None else f"{value:.2f}"
                body.append(_text(left + max(value or 0.0, 0.0) * scale + 3, y + bar - 2.5, label, size=9))
    body.append(f'<line x1="{left:.1f}" y1="{top:.1f}" x2="{left:.1f}" y2="{top + plot_height:.1f}" stroke="#444"/>')
    body.append(_text((left + right) / 2, height - 8, spec.x_label or spec.x, "middle"))
    if spec.y_label:
        body.append(_y_title(spec.y_label, top, top + plot_height))
    return _svg(height, spec.title, body)


def _y_title(text: str, top: float, bottom: float) -> str:
    return _text(14, (top + bottom) / 2, text, "middle", f' transform="rotate(-90 14 {(top + bottom) / 2:.1f})"')


def _lines(spec: PlotSpec, tables: dict[str, list[dict[str, str]]]) -> str:
    lines: dict[str, list[tuple[float, float]]] = {}  # legend name -> points, in legend (colour) order
    for file, field in spec.series:
        rows = tables[file]
        plotted = {spec.x, *(f for other, f in spec.series if other == file)}
        # Text columns split a file into lines; empty cells (a model with fewer epochs) are not text.
        groups = [k for k in (rows[0] if rows else {}) if k not in plotted
                  and any(r[k] != "" and _number(r[k]) is None for r in rows)]
        if not groups:  # a declared series keeps its place (colour) even with no values, as in lines_by_column
            lines.setdefault(_series_name(file, field, spec), [])
        for row in rows:
            x, y = _number(row[spec.x]), _number(row[field])
            if x is None or y is None:
                continue
            name = " ".join([_series_name(file, field, spec), *(row[g] for g in groups)]) if groups else \
                _series_name(file, field, spec)
            lines.setdefault(name, []).append((x, y))
    points = [p for line in lines.values() for p in line]
    low_x = min((x for x, _ in points), default=0.0)
    high_x = max((x for x, _ in points), default=1.0)
    if high_x == low_x:
        high_x = low_x + 1
    lowest = -_nice_max(-min(0.0, *(y for _, y in points))) if any(y < 0 for _, y in points) else 0.0
    highest = _nice_max(max((y for _, y in points), default=1.0))
    left, right, top, height = 50.0, WIDTH - 20.0, 28.0, 300.0
    bottom = height - 40
    sx = (right - left) / (high_x - low_x)
    sy = (bottom - top) / (highest - lowest)
    body = [_legend(list(lines), left, 16)]
    for tick in _ticks(lowest, highest):
        y = bottom - (tick - lowest) * sy
        body.append(f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        body.append(_text(left - 6, y + 4, _tick_label(tick), "end"))
    for tick in sorted({x for x, _ in points}) if len({x for x, _ in points}) <= 12 else _ticks(low_x, high_x):
        body.append(_text(left + (tick - low_x) * sx, bottom + 14, _tick_label(tick), "middle"))
    for i, (name, line) in enumerate(lines.items()):
        colour = PALETTE[i % len(PALETTE)]
        coords = [(left + (x - low_x) * sx, bottom - (y - lowest) * sy) for x, y in sorted(line)]
        if coords and spec.template != "scatter":
            body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                        + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
        body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in coords]
    body.append(f'<line x1="{left:.1f}" y1="{bottom:.1f}" x2="{right:.1f}" y2="{bottom:.1f}" stroke="#444"/>')
    body.append(_text((left + right) / 2, height - 8, spec.x_label or spec.x, "middle"))
    body.append(_y_title(spec.y_label or ", ".join(dict.fromkeys(f for _, f in spec.series)), top, bottom))
    return _svg(height, spec.title, body)
