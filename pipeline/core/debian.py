"""Pinned Debian packages as data sources: ``apt-get download`` + sha256 check + ``dpkg-deb -x``.

The project's default offline data (dictionary prose, WordNet, labelled photos) ships in Debian
packages. A package is named with its exact version and the sha256 of its ``.deb``, so the same
params always read the same bytes.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_path, sha256_file, verify_sha256


@dataclass(frozen=True)
class DebPackage:
    """A Debian package pinned by version and checksum.

    Parameters
    ----------
    name : str
        Package name, e.g. ``dict-gcide``.
    version : str
        Exact version, e.g. ``0.48.5+nmu2`` (an epoch such as ``1:`` included where it has one).
    sha256 : str
        Hex sha256 of the ``.deb`` file.
    """

    name: str
    version: str
    sha256: str

    def validate(self) -> None:
        if len(self.sha256) != 64:
            raise ValueError(f"sha256 of {self.name} must be 64 hex digits")


def fetch_deb(package: DebPackage, cache_dir: str | Path) -> Path:
    """Return the path of ``package``'s ``.deb`` under ``cache_dir``, downloading it if needed.

    A file already in the cache is reused when its checksum matches. The download goes through
    ``apt-get download`` in a temporary directory, so a failed one leaves nothing in the cache.
    Raises :class:`PipelineError` when apt-get is missing, the version is not served, or the
    checksum differs.
    """
    cache_dir = Path(cache_dir)
    deb = cache_dir / f"{package.name}_{package.version.replace(':', '%3a')}_all.deb"
    if deb.is_file() and sha256_file(deb) == package.sha256:
        return deb
    if shutil.which("apt-get") is None:
        raise PipelineError(
            f"{package.name}={package.version}: apt-get is not available to download it; "
            f"place the .deb at {deb} yourself"
        )
    with tempfile.TemporaryDirectory(dir=_ensure(cache_dir)) as tmp:
        result = subprocess.run(
            ["apt-get", "download", f"{package.name}={package.version}"],
            cwd=tmp, capture_output=True, text=True,
        )
        downloaded = sorted(Path(tmp).glob("*.deb"))
        if result.returncode != 0 or not downloaded:
            reason = (result.stderr.strip().splitlines() or ["no .deb was written"])[-1]
            raise PipelineError(
                f"{package.name}={package.version}: apt-get download failed ({reason}); "
                "run 'apt-get update' first, or place the .deb in "
                f"{cache_dir}"
            )
        verify_sha256(downloaded[0], package.sha256)
        with atomic_path(deb) as staged:
            shutil.move(str(downloaded[0]), staged)
    return deb


def extract_deb(package: DebPackage, cache_dir: str | Path) -> Path:
    """Fetch ``package`` (see :func:`fetch_deb`) and return the root of its unpacked file tree.

    The tree is unpacked once into ``cache_dir/<name>_<version>/`` and reused afterwards.
    """
    deb = fetch_deb(package, cache_dir)
    root = Path(cache_dir) / deb.stem
    if root.is_dir():
        return root
    with atomic_path(root) as staged:
        result = subprocess.run(["dpkg-deb", "-x", str(deb), str(staged)], capture_output=True, text=True)
        if result.returncode != 0:
            raise PipelineError(f"{deb}: dpkg-deb could not unpack it ({result.stderr.strip()}); delete it")
    return root


def _ensure(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory
