"""The mapping tables map_images writes: ``images.csv``, ``links.csv`` and ``unmapped.csv``."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.core.files import write_text

IMAGE_COLUMNS = ("image_id", "path", "wnid", "source", "split", "label")
LINK_COLUMNS = ("word", "image_id")
UNMAPPED_COLUMNS = ("image_id", "path", "source", "label", "reason")
SPLITS = ("train", "val", "test")
_FIX = "run the map_images stage"


def read_images(path: str | os.PathLike, columns: Sequence[str] = ("image_id", "path", "split")) -> pd.DataFrame:
    """Read images.csv (``columns`` at least), all as strings; ids unique, and splits known if ``split`` is
    asked for (featurize reads only ids and paths)."""
    table = _read_csv(path, columns)
    bad = sorted(set(table["split"]) - set(SPLITS)) if "split" in columns else []
    if bad:
        raise PipelineError(f"{path}: unknown split value(s) {', '.join(bad)}; expected train/val/test")
    duplicated = table["image_id"][table["image_id"].duplicated()]
    if not duplicated.empty:
        raise PipelineError(f"{path}: image_id {duplicated.iloc[0]!r} is listed more than once; ids must be unique, "
                            "rerun map_images")
    return table


def read_links(path: str | os.PathLike) -> pd.DataFrame:
    """Read links.csv (``word``, ``image_id``) as strings, duplicate rows dropped."""
    return _read_csv(path, LINK_COLUMNS).drop_duplicates(list(LINK_COLUMNS))


def read_unmapped(path: str | os.PathLike) -> pd.DataFrame:
    """Read unmapped.csv (``image_id``, ``reason`` at least) as strings."""
    return _read_csv(path, ("image_id", "reason"))


def _read_csv(path: str | os.PathLike, columns: Sequence[str]) -> pd.DataFrame:
    if not Path(path).is_file():
        raise PipelineError(f"{path}: file not found; {_FIX}")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise PipelineError(f"{path}: not a readable CSV ({exc}); {_FIX}") from exc
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise PipelineError(f"{path}: column(s) {', '.join(missing)} missing; {_FIX}")
    return table


def write_table(path: str | os.PathLike, rows: Iterable[Sequence[str]], header: Sequence[str]) -> None:
    """Write one of the tables atomically (``\\n`` line ends, minimal quoting)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(path, buffer.getvalue())
