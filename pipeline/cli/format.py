"""How ``iesg`` prints: aligned text tables, sizes, and JSON with rounded scores."""

from __future__ import annotations

import json
import math
from typing import Any, Sequence

MARK = "*"
JSON_DIGITS = 4


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows as aligned text columns: numbers right-aligned, everything else left-aligned.

    Parameters
    ----------
    header : sequence of str
        Column titles.
    rows : sequence of sequences
        Cells; ints and floats (floats shown with 3 decimals) are right-aligned.

    Returns
    -------
    str
        The header, a rule and one line per row, without trailing spaces.
    """
    cells = [[cell(v) for v in row] for row in rows]
    numeric = [bool(rows) and all(isinstance(r[i], (int, float)) for r in rows) for i in range(len(header))]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(header)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def cell(value: Any) -> str:
    """One table cell: yes/no, floats with 3 decimals, large ints with thousands separators."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return str(value)


def human_size(size: int) -> str:
    """Bytes as a short human-readable size: ``512 B``, ``1.5 MB``."""
    units = ("B", "kB", "MB", "GB", "TB")
    exponent = min(int(math.log10(size)) // 3, len(units) - 1) if size >= 1000 else 0
    return f"{size} B" if exponent == 0 else f"{size / 1000 ** exponent:.1f} {units[exponent]}"


def marked(text: str, mark: bool) -> str:
    """``text`` followed by :data:`MARK` when ``mark``."""
    return f"{text} {MARK}" if mark else text


def rounded(value: Any) -> Any:
    """``value`` with every float rounded to :data:`JSON_DIGITS` digits (lists and dicts walked)."""
    if isinstance(value, float):
        return round(value, JSON_DIGITS)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return value


def to_json(result: dict[str, Any]) -> str:
    """A command's result as indented JSON, scores rounded."""
    return json.dumps(rounded(result), indent=2, ensure_ascii=False)
