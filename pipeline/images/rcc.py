"""Reader for Qt's binary resource bundles (``.rcc`` files, as written by ``rcc -binary``).

Layout (big-endian throughout):

* header: magic ``qres``, format version, then the offsets of the tree, the data and the names
  sections (each 4 bytes); version 3 adds 4 bytes of flags.
* tree: fixed-size nodes (14 bytes in version 1, 22 from version 2, which appends an 8-byte
  modification time). A node holds its name's offset in the names section, 2 bytes of flags
  (1 = zlib-compressed, 2 = directory, 4 = zstd-compressed), and then either the child count and
  the index of the first child (directories) or locale (4 bytes) and the file's offset in the
  data section. Node 0 is the root directory.
* names: 2-byte length in UTF-16 code units, 4-byte hash, the name in UTF-16BE.
* data: 4-byte length then the bytes; zlib-compressed entries start with the 4-byte
  uncompressed size (Qt's ``qCompress`` format).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import PipelineError

FLAG_ZLIB = 0x01
FLAG_DIRECTORY = 0x02
FLAG_ZSTD = 0x04


@dataclass(frozen=True)
class RccEntry:
    """One file in a resource bundle.

    Parameters
    ----------
    path : str
        Path inside the bundle, ``/``-separated, without the leading ``:/``.
    offset : int
        Offset of the entry's length field in the data section.
    compression : str
        ``"none"``, ``"zlib"`` or ``"zstd"``.
    """

    path: str
    offset: int
    compression: str


class RccBundle:
    """A parsed ``.rcc`` file: list its entries with :attr:`entries`, read one with :meth:`read`.

    Parameters
    ----------
    path : str or Path
        The ``.rcc`` file. The whole file is read into memory (bundles are a few MB).

    Raises
    ------
    PipelineError
        If the file is not a Qt resource bundle or its structure is inconsistent.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._blob = self.path.read_bytes()
        if self._blob[:4] != b"qres" or len(self._blob) < 20:
            raise PipelineError(f"{self.path}: not a Qt resource bundle (no 'qres' magic)")
        self.version, self._tree, self._data, self._names = struct.unpack_from(">4I", self._blob, 4)
        if self.version not in (1, 2, 3):
            raise PipelineError(f"{self.path}: unsupported rcc format version {self.version}")
        self._node_size = 14 if self.version == 1 else 22
        try:
            self.entries: list[RccEntry] = sorted(self._walk(0, ""), key=lambda e: e.path)
        except (struct.error, UnicodeDecodeError, RecursionError) as exc:
            raise PipelineError(f"{self.path}: corrupt rcc tree ({exc})") from exc

    def _name(self, offset: int) -> str:
        (length,) = struct.unpack_from(">H", self._blob, self._names + offset)
        start = self._names + offset + 6
        return self._blob[start:start + 2 * length].decode("utf-16-be")

    def _walk(self, index: int, prefix: str) -> list[RccEntry]:
        base = self._tree + index * self._node_size
        name_offset, flags = struct.unpack_from(">IH", self._blob, base)
        name = "" if index == 0 else self._name(name_offset)
        path = f"{prefix}/{name}" if prefix else name
        if flags & FLAG_DIRECTORY:
            count, first = struct.unpack_from(">II", self._blob, base + 6)
            found = []
            for child in range(first, first + count):
                found.extend(self._walk(child, path))
            return found
        (data_offset,) = struct.unpack_from(">I", self._blob, base + 10)
        compression = "zlib" if flags & FLAG_ZLIB else "zstd" if flags & FLAG_ZSTD else "none"
        return [RccEntry(path, data_offset, compression)]

    def read(self, entry: RccEntry) -> bytes:
        """Return the uncompressed bytes of ``entry``.

        Raises
        ------
        PipelineError
            If the entry is zstd-compressed (none of the bundles this project reads are) or its
            data are corrupt.
        """
        start = self._data + entry.offset
        (size,) = struct.unpack_from(">I", self._blob, start)
        raw = self._blob[start + 4:start + 4 + size]
        if entry.compression == "none":
            return raw
        if entry.compression == "zstd":
            raise PipelineError(
                f"{self.path}: entry {entry.path} is zstd-compressed, which this reader does not "
                "decode; rebuild the bundle with zlib or no compression"
            )
        (expected,) = struct.unpack_from(">I", raw, 0)
        try:
            data = zlib.decompress(raw[4:])
        except zlib.error as exc:
            raise PipelineError(f"{self.path}: entry {entry.path} is corrupt ({exc})") from exc
        if len(data) != expected:
            raise PipelineError(
                f"{self.path}: entry {entry.path} inflates to {len(data)} bytes, header says {expected}"
            )
        return data
