"""Public dataset downloads: resumable, checksum-verified, unpacked in place.

- ``kermany``: ChestXRay2017.zip from Mendeley Data (doi:10.17632/rscbjbr9sj.2),
  about 1.2 GB, unpacked to ``DIR/chest_xray/{train,test}/{NORMAL,PNEUMONIA}``.
  Mendeley publishes no checksum for it, so integrity is checked with the
  CRC of every zip member (pass ``md5`` to pin a known copy).
- ``pneumoniamnist``: the MedMNIST v2 ``.npz`` files, with the URLs and MD5s
  of ``medmnist.INFO["pneumoniamnist"]`` (medmnist 3.x, Zenodo record 10519652).

A partial download lives beside the target as ``<name>.part`` and is resumed
with an HTTP Range request; nothing replaces the target until it is complete
and verified. ``PNEUMO_DOWNLOAD_URL`` overrides the URL (a mirror, or tests).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from training.core.errors import one_line
from training.data.records import DataError

URL_ENV = "PNEUMO_DOWNLOAD_URL"
CHUNK = 1 << 20

KERMANY_URL = (
    "https://data.mendeley.com/public-files/datasets/rscbjbr9sj/files/"
    "f12eaf6d-6023-432f-acc9-80c9d7393433/file_downloaded"
)
_ZENODO = "https://zenodo.org/records/10519652/files"
PNEUMONIAMNIST = {
    28: (f"{_ZENODO}/pneumoniamnist.npz?download=1", "28209eda62fecd6e6a2d98b1501bb15f"),
    64: (f"{_ZENODO}/pneumoniamnist_64.npz?download=1", "8f4eceb4ccffa70c672198ea285246c6"),
    128: (f"{_ZENODO}/pneumoniamnist_128.npz?download=1", "05b46931834c231683c68f40c47b2971"),
    224: (f"{_ZENODO}/pneumoniamnist_224.npz?download=1", "d6a3c71de1b945ea11211b03746c1fe1"),
}
DATASETS = ("kermany", "pneumoniamnist")

Progress = Callable[[int, int | None], None]  # (bytes so far, total bytes or None)


@dataclass(frozen=True)
class Download:
    url: str
    md5: str | None
    filename: str
    unpack: bool


def plan(dataset: str, size: int = 28, url: str | None = None, md5: str | None = None) -> Download:
    """What to fetch for ``dataset``; ``url``/``md5`` (or $PNEUMO_DOWNLOAD_URL) override."""
    url = url or os.environ.get(URL_ENV)
    if dataset == "kermany":
        return Download(url or KERMANY_URL, md5, "ChestXRay2017.zip", unpack=True)
    if dataset == "pneumoniamnist":
        if size not in PNEUMONIAMNIST:
            raise DataError(f"PneumoniaMNIST comes in sizes {', '.join(map(str, PNEUMONIAMNIST))}, not {size}")
        default_url, default_md5 = PNEUMONIAMNIST[size]
        name = "pneumoniamnist.npz" if size == 28 else f"pneumoniamnist_{size}.npz"
        # A custom URL serves a custom file: only check the MD5 we were given.
        return Download(url or default_url, md5 if url else (md5 or default_md5), name, unpack=False)
    raise DataError(f"unknown dataset {dataset!r} (expected one of: {', '.join(DATASETS)})")


def download_dataset(
    dataset: str,
    dest_dir: Path,
    size: int = 28,
    url: str | None = None,
    md5: str | None = None,
    progress: Progress | None = None,
    keep_archive: bool = False,
) -> Path:
    """Fetch ``dataset`` into ``dest_dir``; return the path to give ``open_source``."""
    job = plan(dataset, size, url, md5)
    dest_dir = Path(dest_dir)
    made = _new_folders(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _download_into(job, dest_dir, progress, keep_archive)
    except BaseException:
        _remove_if_empty(made)  # a failed first download leaves no empty folder behind
        raise


def _download_into(job: Download, dest_dir: Path, progress: Progress | None, keep_archive: bool) -> Path:
    target = dest_dir / job.filename
    if job.unpack and not target.exists() and (dest_dir / "chest_xray").is_dir():
        from training.data.sources import open_source

        return open_source(dest_dir).root  # unpacked by an earlier run
    if not target.exists():
        fetch(job.url, target, job.md5, progress)
    elif job.md5 and file_md5(target) != job.md5:
        raise DataError(f"{target} exists but its MD5 differs from {job.md5}; move it away and retry")
    if not job.unpack:
        return target
    root = unpack_zip(target, dest_dir)
    if not keep_archive:
        target.unlink()
    return root


def fetch(url: str, target: Path, md5: str | None = None, progress: Progress | None = None,
          timeout: float = 60) -> Path:
    """Download ``url`` to ``target`` through ``target.part``, resuming a partial file."""
    target = Path(target)
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "pneumo-tui"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the partial file is already complete
            return _finish(part, target, md5)
        raise DataError(f"download failed: HTTP {exc.code} {exc.reason} for {url}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DataError(_unreachable(url, exc, part)) from None
    with response:
        resumed = have and response.status == 206
        if not resumed:
            have = 0  # the server ignored Range: start over
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        done = have
        try:
            with open(part, "ab" if resumed else "wb") as out:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
        except (OSError, urllib.error.URLError) as exc:
            raise DataError(f"download interrupted after {done:,} bytes ({one_line(exc)}); they are kept in "
                            f"{part.name}: run it again to resume") from None
    if total is not None and part.stat().st_size < total:
        raise DataError(f"download incomplete ({part.stat().st_size:,} of {total:,} bytes, kept in {part.name}): "
                        "run it again to resume")
    return _finish(part, target, md5)


def _unreachable(url: str, exc: BaseException, part: Path) -> str:
    """One line: which host could not be reached, why in words, and what to do (resume only if there is a part)."""
    host = urllib.parse.urlsplit(url).hostname or url
    reason = getattr(exc, "reason", exc)
    why = {socket.gaierror: "its name does not resolve: no network, or no DNS",
           ConnectionRefusedError: "it refused the connection",
           TimeoutError: "it did not answer in time"}.get(type(reason))
    text = f"cannot reach {host} ({why or one_line(reason if isinstance(reason, BaseException) else exc)})"
    if part.exists() and part.stat().st_size:
        return f"{text}; {part.stat().st_size:,} bytes are kept in {part.name}: run it again to resume"
    return f"{text}; check the connection (or give a mirror with --url) and try again"


def _new_folders(folder: Path) -> list[Path]:
    """The folders that creating ``folder`` will make, deepest first."""
    made = []
    while not folder.exists():
        made.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    return made


def _remove_if_empty(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()  # only if empty
        except OSError:
            return


def _finish(part: Path, target: Path, md5: str | None) -> Path:
    if md5:
        actual = file_md5(part)
        if actual != md5.lower():
            # A corrupt partial file would poison every resume: start clean next time.
            part.unlink()
            raise DataError(f"checksum mismatch for {target.name}: expected MD5 {md5}, got {actual}; "
                            f"the download was removed")
    os.replace(part, target)
    return target


def file_md5(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "md5").hexdigest()


def unpack_zip(archive: Path, dest_dir: Path) -> Path:
    """Extract ``archive`` into ``dest_dir`` safely; return the dataset root.

    Members are checked against their CRC, macOS resource forks are skipped,
    and no member may land outside ``dest_dir``. Extraction goes to a temp
    folder first, so a failed unpack leaves nothing half-written.
    """
    dest_dir = Path(dest_dir).resolve()
    staging = dest_dir / f".unpack-{archive.stem}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                name = member.filename
                if name.startswith("__MACOSX/") or Path(name).name.startswith("._"):
                    continue
                out = (staging / name).resolve()
                if not out.is_relative_to(staging.resolve()):
                    raise DataError(f"{archive.name}: member {name!r} would be written outside {dest_dir}")
                zf.extract(member, staging)  # raises BadZipFile on a CRC mismatch
        for item in staging.iterdir():
            final = dest_dir / item.name
            if final.exists():
                raise DataError(f"{final} already exists; move it away or unpack elsewhere")
        for item in staging.iterdir():
            os.replace(item, dest_dir / item.name)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise DataError(f"{archive.name} is not a valid zip ({exc}); delete it and download again") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    from training.data.sources import open_source

    return open_source(dest_dir).root
