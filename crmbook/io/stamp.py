"""What crmbook remembers of a part it wrote, kept beside that part in the zip directory.

A part crmbook writes carries a small JSON record in an extra field of its central-directory
entry (readers skip extra fields they do not know; the zip format provides them for this):
the part's CRC-32 and sizes as written, plus facts only the writer knew, such as the highest
id number on a sheet (so adding a record need not scan the sheet's ids again) or where a
sheet's compressed data can be continued (io/appendable.py). The record is believed only while
the directory still shows the CRC-32 and sizes it names: a part anyone else rewrote (Excel,
LibreOffice, another tool) has other ones, and its stamp is ignored.
"""

from __future__ import annotations

import json
import struct
import zipfile

STAMP_ID = 0x6B63  # the extra field's header id ("ck"); ids above 31 are free for vendors
_HEADER = struct.Struct("<HH")


def read_stamp(info: zipfile.ZipInfo) -> dict | None:
    """The facts crmbook recorded for this part, if the part is still as crmbook wrote it."""
    data = _field(info.extra)
    if data is None:
        return None
    try:
        stamp = json.loads(data)
    except ValueError:
        return None
    if not isinstance(stamp, dict):
        return None
    written = (stamp.get("crc"), stamp.get("size"), stamp.get("csize"))
    if written != (info.CRC, info.file_size, info.compress_size):
        return None
    return stamp


def stamp(info: zipfile.ZipInfo, facts: dict) -> None:
    """Record `facts` for a part just written (its CRC-32 and sizes are known now): in the
    central directory, which is written when the zip file is closed."""
    record = {**facts, "crc": info.CRC, "size": info.file_size, "csize": info.compress_size}
    data = json.dumps(record, separators=(",", ":")).encode("ascii")
    info.extra = _HEADER.pack(STAMP_ID, len(data)) + data


def carried(extra: bytes) -> bytes:
    """Of a copied part's extra fields, the stamp alone (zipfile writes the others anew)."""
    data = _field(extra)
    return b"" if data is None else _HEADER.pack(STAMP_ID, len(data)) + data


def _field(extra: bytes) -> bytes | None:
    """The stamp's bytes among a directory entry's extra fields (id, length, data)*."""
    at, extra = 0, extra or b""
    while at + _HEADER.size <= len(extra):
        kind, size = _HEADER.unpack_from(extra, at)
        if kind == STAMP_ID:
            return extra[at + _HEADER.size : at + _HEADER.size + size]
        at += _HEADER.size + size
    return None
