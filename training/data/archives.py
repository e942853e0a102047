"""Limits on what a zip may unpack to: the rules shared by dataset zips and ``.npz`` files.

Everything here reads the zip's central directory only (names, modes, declared
sizes), so a hostile archive is refused before one byte of it is decompressed.

- A member that expands more than ``MAX_RATIO`` times and to more than
  ``RATIO_FLOOR`` bytes is a zip bomb: radiographs (JPEG, PNG, 8-bit arrays)
  hardly compress (JPEG next to nothing, PneumoniaMNIST's arrays 1.1:1), text
  reaches ~10:1, and deflate's maximum is ~1030:1, reached only by long runs of
  one byte. Small members may be that redundant (an empty mask): below the
  floor the ratio is not held against them.
- All members together may unpack to at most ``MAX_UNPACKED_BYTES`` (the
  Kermany zip, about 1.2 GB of JPEGs, unpacks to about as much) and, above
  the floor, to ``MAX_RATIO`` times the archive (many members each under the
  floor make a bomb too).
- A symbolic link, an absolute name or a name with ``..`` is never unpacked.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import PurePosixPath

from training.data.records import DataError

MAX_RATIO = 200
RATIO_FLOOR = 8 << 20  # 8 MiB
MAX_UNPACKED_BYTES = 20 << 30  # 20 GiB


def human_size(n: int | float) -> str:
    """``1.2 GB``: decimal units, as download sizes are usually given."""
    n = float(n)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{int(n)} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover - the loop always returns


def bomb_reason(info: zipfile.ZipInfo) -> str | None:
    """Why ``info`` is a zip bomb (its declared expansion), or None."""
    if info.file_size <= RATIO_FLOOR:
        return None
    ratio = info.file_size / max(info.compress_size, 1)
    if ratio <= MAX_RATIO:
        return None
    return (f"expands {ratio:,.0f}:1 ({human_size(info.compress_size)} to {human_size(info.file_size)}; "
            f"the limit is {MAX_RATIO}:1): refused as a zip bomb")


def unsafe_name_reason(info: zipfile.ZipInfo) -> str | None:
    """Why ``info`` must never be unpacked (a link, or a name that leaves the folder), or None."""
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link: links are never unpacked"
    name = info.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (name[:1].isalpha() and name[1:2] == ":") or ".." in parts:
        return "would be written outside the folder (an absolute name or one with '..')"
    if info.flag_bits & 0x1:
        return "is encrypted"
    return None


def checked_members(zf: zipfile.ZipFile, archive_name: str, archive_size: int,
                    skip=lambda info: False) -> list[zipfile.ZipInfo]:
    """The members of ``zf`` to unpack (those ``skip`` does not drop), after every check above;
    ``DataError`` (one line, naming the member) for the first that fails."""
    members = [info for info in zf.infolist() if not skip(info)]
    for info in members:
        reason = unsafe_name_reason(info) or bomb_reason(info)
        if reason:
            raise DataError(f"{archive_name}: member {info.filename!r} {reason}")
    total = sum(info.file_size for info in members)
    if total > MAX_UNPACKED_BYTES:
        raise DataError(f"{archive_name} would unpack to {human_size(total)}, more than the "
                        f"{human_size(MAX_UNPACKED_BYTES)} limit: refused")
    if total > RATIO_FLOOR and total > MAX_RATIO * max(archive_size, 1):
        raise DataError(f"{archive_name} would unpack to {human_size(total)} from {human_size(archive_size)} "
                        f"(more than {MAX_RATIO}:1): refused as a zip bomb")
    return members
