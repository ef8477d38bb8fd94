"""Atomic writes, checksums and checked downloads.

Every stage writes its outputs through these helpers, so an interrupted or failed run never
leaves a half-written file where a finished one is expected.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import http.client
import json
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path
from typing import Any, Iterator

from tqdm import tqdm

from pipeline.core.errors import PipelineError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    Works for a file or a directory written at the yielded path. On any exception the temporary
    is removed and ``path`` keeps its previous content.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent))
    staged = tmp / target.name
    try:
        yield staged
        if not staged.exists():
            raise RuntimeError(f"nothing was written to {staged}")
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(staged, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove_stale_temporaries(target: Path) -> None:
    """Remove the temporaries of ``target`` that a killed writer left (their process is gone).

    A temporary is named ``.<name>.<pid>.<random>.tmp``; one whose pid still runs is left alone.
    """
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        pid = stale.name[len(target.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented, key-sorted JSON to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Return the hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str | None) -> None:
    """Raise :class:`PipelineError` if ``path`` is missing or its sha256 differs from ``expected``.

    ``expected=None`` only checks that the file exists.
    """
    if not Path(path).is_file():
        raise PipelineError(f"{path}: file not found; check the path in params.yaml")
    if expected:
        actual = sha256_file(path)
        if actual != expected.lower():
            raise PipelineError(
                f"{path}: sha256 {actual} does not match the expected {expected}; "
                "the file is corrupt or a different version: delete it and download it again"
            )


def download(url: str, dest: str | os.PathLike, sha256: str | None) -> Path:
    """Download ``url`` to ``dest`` (skipped when ``dest`` already has the right checksum).

    The bytes go to a temporary file that is checked against ``sha256`` before it is renamed
    onto ``dest``; a failed, truncated or mismatching download leaves nothing behind.
    ``file://`` URLs work too, which is how the tests exercise this code offline.
    """
    dest = Path(dest)
    if dest.is_file() and sha256 and sha256_file(dest) == sha256.lower():
        return dest
    try:
        with atomic_path(dest) as tmp:
            with urllib.request.urlopen(url, timeout=60) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                with open(tmp, "wb") as out, tqdm(
                    total=total, unit="B", unit_scale=True, desc=f"download {dest.name}"
                ) as bar:
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
                        bar.update(len(chunk))
                received = tmp.stat().st_size
                if total is not None and received != total:
                    raise PipelineError(
                        f"{url}: download truncated ({received} of {total} bytes); try again"
                    )
            if sha256 and (actual := sha256_file(tmp)) != sha256.lower():
                raise PipelineError(
                    f"{url}: downloaded sha256 {actual} does not match the expected {sha256}; "
                    f"nothing was saved to {dest}: check the URL and the sha256 param"
                )
    except (OSError, http.client.HTTPException) as exc:
        raise PipelineError(
            f"{url}: download failed ({exc}); without internet, download it elsewhere and "
            "point the stage's path param at the local copy"
        ) from exc
    return dest
