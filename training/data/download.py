"""Public dataset downloads: resumable, checksum-verified, unpacked in place.

- ``kermany``: ChestXRay2017.zip from Mendeley Data (doi:10.17632/rscbjbr9sj.2),
  about 1.2 GB, unpacked to ``DIR/chest_xray/{train,test}/{NORMAL,PNEUMONIA}``.
  Mendeley publishes no checksum for it, so integrity is checked with the
  CRC of every zip member (pass ``md5`` to pin a known copy).
- ``pneumoniamnist``: the MedMNIST v2 ``.npz`` files, with the URLs and MD5s
  of ``medmnist.INFO["pneumoniamnist"]`` (medmnist 3.x, Zenodo record 10519652).

A partial download lives beside the target as ``<name>.part`` and is resumed
with an HTTP Range request; nothing replaces the target until it is complete
and verified, on every path (a fresh download, a resumed one, a ``.part`` the
server calls complete, a file already there): the MD5 when one is known (the
published one unless the user gives another), and always the format: a Kermany
zip must pass every member's CRC and hold ``chest_xray/{train,test}/{NORMAL,
PNEUMONIA}``, a PneumoniaMNIST ``.npz`` must hold the six MedMNIST arrays.
``PNEUMO_DOWNLOAD_URL`` overrides the URL (a mirror, or tests); only http(s)
URLs are fetched. Unpacking follows the limits of ``training.data.archives``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
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
from training.data.archives import checked_members, human_size
from training.data.records import DataError

URL_ENV = "PNEUMO_DOWNLOAD_URL"
URL_SCHEMES = ("http", "https")
CHUNK = 1 << 20
KERMANY_LAYOUT = tuple((split, cls) for split in ("train", "test") for cls in ("normal", "pneumonia"))

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

    def verify(self, path: Path) -> None:
        """``DataError`` unless ``path`` has the format this download must have (see the module docstring)."""
        if self.unpack:
            check_kermany_zip(path, self.filename)
        else:
            from training.data.sources.npz import check_npz

            check_npz(path, self.filename)


def plan(dataset: str, size: int = 28, url: str | None = None, md5: str | None = None) -> Download:
    """What to fetch for ``dataset``; ``url``/``md5`` (or $PNEUMO_DOWNLOAD_URL) override.

    A mirror serves the same file, so the published MD5 still applies unless ``md5`` replaces it."""
    if url:
        check_url(url, "the URL")
    elif env_url := os.environ.get(URL_ENV):
        url = check_url(env_url, f"${URL_ENV}")
    md5 = normalize_md5(md5)
    if dataset == "kermany":
        return Download(url or KERMANY_URL, md5, "ChestXRay2017.zip", unpack=True)
    if dataset == "pneumoniamnist":
        if size not in PNEUMONIAMNIST:
            raise DataError(f"PneumoniaMNIST comes in sizes {', '.join(map(str, PNEUMONIAMNIST))}, not {size}")
        default_url, default_md5 = PNEUMONIAMNIST[size]
        name = "pneumoniamnist.npz" if size == 28 else f"pneumoniamnist_{size}.npz"
        return Download(url or default_url, md5 or default_md5, name, unpack=False)
    raise DataError(f"unknown dataset {dataset!r} (expected one of: {', '.join(DATASETS)})")


def normalize_md5(md5: str | None) -> str | None:
    """A user's MD5 in lower case; ``DataError`` unless it is 32 hexadecimal digits."""
    if md5 is None or not md5.strip():
        return None
    value = md5.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{32}", value):
        raise DataError(f"MD5 {md5!r} is not an MD5 checksum (32 hexadecimal digits)")
    return value


def check_url(url: str, where: str = "the URL") -> str:
    """``url`` if it is http(s) with a host; anything else (``file://``, ``ftp://``) is a ``DataError``."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in URL_SCHEMES or not parts.hostname:
        raise DataError(f"{where} {url!r} is not an http:// or https:// URL; only those are downloaded")
    return url


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
        fetch(job.url, target, job.md5, progress, verify=job.verify)
    else:  # left by an earlier run (or put there by hand): verified like a fresh download
        if job.md5 and file_md5(target) != job.md5:
            raise DataError(f"{target} exists but its MD5 differs from {job.md5}; move it away and retry")
        try:
            job.verify(target)
        except DataError as exc:
            raise DataError(f"{target} exists but is not a valid download ({exc}); move it away and retry") from None
    if not job.unpack:
        return target
    root = unpack_zip(target, dest_dir)
    if not keep_archive:
        target.unlink()
    return root


def fetch(url: str, target: Path, md5: str | None = None, progress: Progress | None = None,
          timeout: float = 60, verify: Callable[[Path], None] | None = None) -> Path:
    """Download ``url`` to ``target`` through ``target.part``, resuming a partial file.

    Before ``target`` is replaced the file must match ``md5`` (when given) and pass ``verify``
    (which raises ``DataError``); if not, the ``.part`` is deleted, since every resume would repeat it."""
    check_url(url)
    target = Path(target)
    part = target.with_name(target.name + ".part")
    md5 = normalize_md5(md5)
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "pneumo-tui"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = _OPENER.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            # The server has nothing after the bytes we have: the .part is complete, or it is longer than
            # the file (a stale part of another one). Where the server says the size, that tells which.
            total = re.fullmatch(r"bytes \*/(\d+)", exc.headers.get("Content-Range", "") if exc.headers else "")
            if total and int(total.group(1)) != have:
                part.unlink()
                return fetch(url, target, md5, progress, timeout, verify)
            return _finish(part, target, md5, verify)
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
    return _finish(part, target, md5, verify)


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


def _finish(part: Path, target: Path, md5: str | None, verify: Callable[[Path], None] | None = None) -> Path:
    problem = None
    if md5:
        actual = file_md5(part)
        if actual != md5:
            problem = f"checksum mismatch for {target.name}: expected MD5 {md5}, got {actual}"
    if problem is None and verify is not None:
        try:
            verify(part)
        except DataError as exc:
            problem = str(exc)
    if problem is not None:
        # A corrupt partial file would poison every resume: start clean next time.
        part.unlink(missing_ok=True)
        raise DataError(f"{problem}; the download was removed")
    os.replace(part, target)
    return target


class _HttpRedirectsOnly(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http(s) only (urllib would follow one to ftp:// too)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urllib.parse.urlsplit(newurl).scheme.lower() not in URL_SCHEMES:
            raise DataError(f"download failed: {req.full_url} redirects to {newurl!r}, which is not http(s)")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpRedirectsOnly)


def file_md5(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "md5").hexdigest()


def check_kermany_zip(path: Path, name: str | None = None) -> None:
    """``DataError`` unless ``path`` is a zip that is safe to unpack (see ``training.data.archives``), passes
    every member's CRC, and holds ``chest_xray/{train,test}/{NORMAL,PNEUMONIA}`` (any case).
    ``name``: what the messages call the file (the download's name for its ``.part``)."""
    path = Path(path)
    name = name or path.name
    try:
        with zipfile.ZipFile(path) as zf:
            members = checked_members(zf, name, path.stat().st_size, skip=_archive_junk)
            bad = zf.testzip()
            if bad is not None:
                raise DataError(f"{name}: member {bad!r} fails its CRC check (a corrupt download)")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
        raise DataError(f"{name} is not a valid zip ({one_line(exc)})") from None
    found = set()
    for info in members:
        parts = info.filename.lower().split("/")
        for i in range(len(parts) - 3):
            if parts[i] == "chest_xray" and (parts[i + 1], parts[i + 2]) in KERMANY_LAYOUT and parts[-1]:
                found.add((parts[i + 1], parts[i + 2]))
    missing = [f"{split}/{cls.upper()}" for split, cls in KERMANY_LAYOUT if (split, cls) not in found]
    if missing:
        raise DataError(f"{name} is not the Kermany zip: no images in chest_xray/{', chest_xray/'.join(missing)}")


def _archive_junk(info: zipfile.ZipInfo) -> bool:
    """macOS resource forks: never unpacked."""
    name = info.filename
    return name.startswith("__MACOSX/") or name.rstrip("/").rsplit("/", 1)[-1].startswith("._")


def unpack_zip(archive: Path, dest_dir: Path) -> Path:
    """Extract ``archive`` into ``dest_dir`` safely; return the dataset root.

    Members are checked against their CRC, macOS resource forks are skipped,
    no member may be a link or land outside ``dest_dir``, and the limits of
    ``training.data.archives`` (zip bombs, total size) and the free disk space
    are checked before anything is written. Extraction goes to a temp folder
    first, so a failed unpack (a full disk) leaves nothing half-written.
    """
    archive = Path(archive)
    dest_dir = Path(dest_dir).resolve()
    staging = dest_dir / f".unpack-{archive.stem}"
    shutil.rmtree(staging, ignore_errors=True)
    installed: list[Path] = []
    try:
        with zipfile.ZipFile(archive) as zf:
            members = checked_members(zf, archive.name, archive.stat().st_size, skip=_archive_junk)
            _check_free_space(archive, dest_dir, members)
            for member in members:
                out = (staging / member.filename).resolve()
                if not out.is_relative_to(staging.resolve()):
                    raise DataError(f"{archive.name}: member {member.filename!r} would be written outside {dest_dir}")
                zf.extract(member, staging)  # raises BadZipFile on a CRC mismatch
        if not staging.exists():
            raise DataError(f"{archive.name} holds no files")
        for item in staging.iterdir():
            final = dest_dir / item.name
            if final.exists():
                raise DataError(f"{final} already exists; move it away or unpack elsewhere")
        for item in staging.iterdir():
            os.replace(item, dest_dir / item.name)
            installed.append(dest_dir / item.name)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise DataError(f"{archive.name} is not a valid zip ({exc}); delete it and download again") from None
    except OSError as exc:
        for item in installed:  # take back what was moved in already: all or nothing
            os.replace(item, staging / item.name)
        why = "the disk is full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else one_line(exc, kind=True)
        raise DataError(f"unpacking {archive.name} into {dest_dir} failed: {why}; nothing was installed "
                        f"({archive.name} is kept)") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    from training.data.sources import open_source

    return open_source(dest_dir).root


def _check_free_space(archive: Path, dest_dir: Path, members: list[zipfile.ZipInfo]) -> None:
    # Each file takes up to a block more than its size.
    needed = sum(m.file_size for m in members) + 4096 * len(members)
    free = shutil.disk_usage(dest_dir).free
    if needed > free:
        raise DataError(f"unpacking {archive.name} needs {human_size(needed)} free in {dest_dir}, "
                        f"but only {human_size(free)} is free; free some space or unpack elsewhere. "
                        "Nothing was installed")
