"""Parts written as independent deflate runs, so new rows need not deflate a sheet again.

A deflate stream can be cut where the compressor did a full flush: the output up to there is
byte-aligned and nothing after it refers back before it. crmbook writes a sheet part as three
such runs, its head (up to `<sheetData>`), its rows and its tail (`</sheetData>` on), and
stamps the part (io/stamp.py) with where they lie, their sizes and CRC-32s. Appending rows
then deflates the head again (it holds the sheet's dimension; it is small), copies the
compressed rows byte for byte, deflates the new rows as a run of their own and the tail
again; the part's CRC-32, which the zip directory needs, is combined from the runs' ones.
This holds only while the stamp does (the part is as crmbook wrote it); otherwise the whole
part is written again.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from crmbook.errors import CrmbookError
from crmbook.io.stamp import stamp

_CHUNK = 1 << 20


# ------------------------------------------------------------------ CRC-32 of joined data


def _times(matrix: list[int], vector: int) -> int:
    total, row = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def _squared(matrix: list[int]) -> list[int]:
    return [_times(matrix, matrix[n]) for n in range(32)]


def _zero_operators() -> list[list[int]]:
    """The operators that run a CRC-32 over 1, 2, 4, 8... zero bytes (zlib's crc32_combine)."""
    one_bit = [0xEDB88320] + [1 << n for n in range(31)]
    operator = _squared(_squared(_squared(one_bit)))  # 8 zero bits: one byte
    operators = []
    for _ in range(64):
        operators.append(operator)
        operator = _squared(operator)
    return operators


_ZEROS = _zero_operators()


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of A + B from the CRC-32 of A, that of B and B's length."""
    bit = 0
    while length2:
        if length2 & 1:
            crc1 = _times(_ZEROS[bit], crc1)
        length2 >>= 1
        bit += 1
    return crc1 ^ crc2


# ------------------------------------------------------------------ a part in runs


@dataclass(frozen=True)
class Run:
    """A stretch of a part's deflate stream ending at a full flush (or at the end)."""

    compressed: int  # bytes of deflate data
    size: int  # bytes they inflate to
    crc: int  # CRC-32 of what they inflate to


@dataclass(frozen=True)
class Runs:
    """Where a crmbook-written sheet part's head, rows and tail lie (from its stamp)."""

    head: Run
    rows: Run
    tail: Run
    last_row: int  # the Excel row number of the last row

    @classmethod
    def of(cls, facts: dict | None) -> Runs | None:
        try:
            head, rows, tail = (Run(*facts["runs"][k]) for k in ("head", "rows", "tail"))
            return cls(head, rows, tail, int(facts["last_row"]))
        except (KeyError, TypeError, ValueError):
            return None

    def facts(self) -> dict:
        return {
            "runs": {
                "head": list(vars(self.head).values()),
                "rows": list(vars(self.rows).values()),
                "tail": list(vars(self.tail).values()),
            },
            "last_row": self.last_row,
        }


def data_offset(source: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """Where a part's compressed bytes start in the zip file (after its local header)."""
    source.fp.seek(info.header_offset)
    fields = struct.unpack(zipfile.structFileHeader, source.fp.read(zipfile.sizeFileHeader))
    skip = fields[zipfile._FH_FILENAME_LENGTH] + fields[zipfile._FH_EXTRA_FIELD_LENGTH]
    return info.header_offset + zipfile.sizeFileHeader + skip


def read_run(source: zipfile.ZipFile, info: zipfile.ZipInfo, start: int, run: Run) -> bytes:
    """Inflate one run of a part written in runs (the head or the tail: small)."""
    source.fp.seek(data_offset(source, info) + start)
    data = zlib.decompressobj(-15).decompress(source.fp.read(run.compressed))
    if len(data) != run.size or zlib.crc32(data) != run.crc:
        raise ValueError("the run does not inflate to what its stamp says")
    return data


class AppendablePart:
    """Writes one part into a zip file as deflate runs, each ended by a full flush."""

    def __init__(self, out: zipfile.ZipFile, info: zipfile.ZipInfo, *, large: bool = False):
        self.out = out
        self.info = zipfile.ZipInfo(info.filename, date_time=info.date_time)
        self.info.compress_type = zipfile.ZIP_DEFLATED
        self.info.external_attr = info.external_attr
        self.info.CRC = self.info.compress_size = self.info.file_size = 0
        self.zip64 = large
        self.info.header_offset = out.fp.tell()
        out.fp.write(self.info.FileHeader(self.zip64))  # sizes and CRC-32 filled in at close
        self.compressed, self.size, self.crc = 0, 0, 0

    def deflate(self, chunks: Iterable[bytes], level: int = 6, *, last: bool = False) -> Run:
        """Deflate one run; `last` ends the stream (the tail)."""
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        compressed = size = crc = 0
        for chunk in chunks:
            size += len(chunk)
            crc = zlib.crc32(chunk, crc)
            compressed += self._write(compressor.compress(chunk))
        compressed += self._write(compressor.flush(zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH))
        return self._add(Run(compressed, size, crc))

    def copy(self, source: zipfile.ZipFile, info: zipfile.ZipInfo, start: int, run: Run) -> Run:
        """Copy a run of another part written in runs as it is: no inflate, no deflate."""
        source.fp.seek(data_offset(source, info) + start)
        remaining = run.compressed
        while remaining:
            chunk = source.fp.read(min(remaining, _CHUNK))
            if not chunk:
                raise CrmbookError(f"{info.filename} is truncated in the source workbook")
            self._write(chunk)
            remaining -= len(chunk)
        return self._add(run)

    def close(self, facts: dict | None = None) -> zipfile.ZipInfo:
        """Write the real sizes and CRC-32 into the local header, list the part in the
        directory and stamp it with `facts`."""
        info = self.info
        info.CRC, info.compress_size, info.file_size = self.crc, self.compressed, self.size
        if not self.zip64 and max(self.size, self.compressed) > zipfile.ZIP64_LIMIT:
            raise zipfile.LargeZipFile(f"{info.filename} is larger than 4 GB")
        end = self.out.fp.tell()
        self.out.fp.seek(info.header_offset)
        self.out.fp.write(info.FileHeader(self.zip64))
        self.out.fp.seek(end)
        self.out.filelist.append(info)
        self.out.NameToInfo[info.filename] = info
        self.out.start_dir = end
        self.out._didModify = True
        if facts is not None:
            stamp(info, facts)
        return info

    def _write(self, data: bytes) -> int:
        self.out.fp.write(data)
        return len(data)

    def _add(self, run: Run) -> Run:
        self.crc = crc32_combine(self.crc, run.crc, run.size)
        self.compressed += run.compressed
        self.size += run.size
        return run
