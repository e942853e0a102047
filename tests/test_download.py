"""Downloads against a local HTTP server (no internet here): resume, checksum, unpack."""

import errno
import hashlib
import io
import re
import shutil
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from conftest import gray_image
from typer.testing import CliRunner

from pneumo_tui.cli import app
from training.data.download import PNEUMONIAMNIST, download_dataset, fetch, plan, unpack_zip
from training.data.records import DataError
from training.data.sources import open_source


class FileServer:
    """Serves ``files`` (path -> bytes) with optional Range support and a cut-off."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.ranges: list[str | None] = []
        self.honor_range = True
        self.cut_after: int | None = None  # bytes sent before dropping the connection
        self.size_on_416 = False  # send "Content-Range: bytes */N" with a 416, as most servers do
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                data = server.files.get(self.path.split("?")[0])
                if data is None:
                    self.send_error(404)
                    return
                wanted = self.headers.get("Range")
                server.ranges.append(wanted)
                start = 0
                if wanted and server.honor_range:
                    start = int(re.match(r"bytes=(\d+)-", wanted).group(1))
                    if start >= len(data):
                        self.send_response(416)
                        if server.size_on_416:
                            self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None:
                    body = body[: server.cut_after]
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = FileServer()
    yield s
    s.close()


def npz_bytes(side=28) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    arrays = {}
    for split, n in (("train", 6), ("val", 2), ("test", 4)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, side, side), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).reshape(-1, 1)
    np.savez(buf, **arrays)
    return buf.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_published_urls_and_checksums():
    assert plan("pneumoniamnist").md5 == "28209eda62fecd6e6a2d98b1501bb15f"
    job = plan("pneumoniamnist", size=224)
    assert job.filename == "pneumoniamnist_224.npz" and "zenodo.org" in job.url and len(job.md5) == 32
    assert set(PNEUMONIAMNIST) == {28, 64, 128, 224}
    assert "rscbjbr9sj" in plan("kermany").url and plan("kermany").unpack
    with pytest.raises(DataError, match="sizes"):
        plan("pneumoniamnist", size=32)
    with pytest.raises(DataError, match="unknown dataset"):
        plan("mnist")


def test_download_npz_with_progress(server, tmp_path):
    data = npz_bytes()
    server.files["/p.npz"] = data
    seen = []
    path = download_dataset("pneumoniamnist", tmp_path / "dl", url=server.url("/p.npz"), md5=md5(data),
                            progress=lambda done, total: seen.append((done, total)))
    assert path == tmp_path / "dl" / "pneumoniamnist.npz" and path.read_bytes() == data
    assert seen[-1] == (len(data), len(data))
    assert len(open_source(path).records()) == 12
    assert not list((tmp_path / "dl").glob("*.part"))
    server.files.clear()  # already there and verified: nothing is fetched
    assert download_dataset("pneumoniamnist", tmp_path / "dl", url=server.url("/p.npz"), md5=md5(data)) == path


def test_partial_file_is_resumed_with_a_range_request(server, tmp_path):
    data = npz_bytes(64)
    server.files["/p.npz"] = data
    target = tmp_path / "p.npz"
    (tmp_path / "p.npz.part").write_bytes(data[:1000])
    fetch(server.url("/p.npz"), target, md5(data))
    assert server.ranges == ["bytes=1000-"] and target.read_bytes() == data


def test_interrupted_download_resumes_on_the_next_call(server, tmp_path):
    data = npz_bytes(64)
    server.files["/p.npz"] = data
    server.cut_after = 5000
    target = tmp_path / "p.npz"
    with pytest.raises(DataError, match=r"kept in p.npz.part\)?: run it again to resume"):
        fetch(server.url("/p.npz"), target, md5(data))
    assert (tmp_path / "p.npz.part").stat().st_size == 5000 and not target.exists()
    server.cut_after = None
    fetch(server.url("/p.npz"), target, md5(data))
    assert server.ranges[-1] == "bytes=5000-" and target.read_bytes() == data


def test_server_without_range_support_restarts_cleanly(server, tmp_path):
    data = npz_bytes()
    server.files["/p.npz"] = data
    server.honor_range = False
    (tmp_path / "p.npz.part").write_bytes(b"stale bytes from another file")
    fetch(server.url("/p.npz"), tmp_path / "p.npz", md5(data))
    assert (tmp_path / "p.npz").read_bytes() == data


def test_checksum_mismatch_is_an_error_and_leaves_nothing(server, tmp_path):
    server.files["/p.npz"] = npz_bytes()
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch(server.url("/p.npz"), tmp_path / "p.npz", md5="0" * 32)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_server_is_a_one_line_error(tmp_path):
    with pytest.raises(DataError) as info:
        fetch("http://127.0.0.1:9/none.npz", tmp_path / "x.npz")
    assert "\n" not in str(info.value)


def test_offline_download_says_the_host_cannot_be_reached_and_leaves_no_folder(tmp_path, monkeypatch):
    # Offline, the app showed "Download failed: 'download failed: [Errno -2] ...; run the same command again to
    # resume'" (doubled, quoted, and no command to run in the app), and both app and CLI left an empty folder.
    monkeypatch.setattr(socket, "getaddrinfo", _no_dns)
    dest = tmp_path / "data" / "new"
    with pytest.raises(DataError) as info:
        download_dataset("pneumoniamnist", dest)
    message = str(info.value)
    assert message.startswith("cannot reach zenodo.org (its name does not resolve: no network, or no DNS)")
    assert "resume" not in message and "download failed" not in message and "Errno" not in message
    assert not (tmp_path / "data").exists()  # the folders it made are gone again
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "pneumoniamnist.npz.part").write_bytes(b"x" * 10)
    with pytest.raises(DataError, match="10 bytes are kept in pneumoniamnist.npz.part: run it again to resume"):
        download_dataset("pneumoniamnist", keep)
    assert keep.is_dir()  # a folder that was there before stays


def _no_dns(*args, **kwargs):
    raise socket.gaierror(-2, "Name or service not known")


def kermany_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for split, cls, name in [("train", "NORMAL", "IM-0001-0001.jpeg"),
                                 ("train", "PNEUMONIA", "person1_virus_1.jpeg"),
                                 ("test", "NORMAL", "IM-0002-0001.jpeg"),
                                 ("test", "PNEUMONIA", "person2_bacteria_2.jpeg")]:
            img = io.BytesIO()
            gray_image(32, 32).save(img, format="JPEG")
            zf.writestr(f"chest_xray/{split}/{cls}/{name}", img.getvalue())
        zf.writestr("__MACOSX/chest_xray/._junk", b"resource fork")
    return buf.getvalue()


def test_kermany_zip_is_unpacked_into_the_layout(server, tmp_path):
    server.files["/ChestXRay2017.zip"] = kermany_zip()
    root = download_dataset("kermany", tmp_path / "data", url=server.url("/ChestXRay2017.zip"))
    assert root == (tmp_path / "data" / "chest_xray").resolve()
    assert len(open_source(tmp_path / "data").records()) == 4
    assert not (tmp_path / "data" / "__MACOSX").exists()
    assert not (tmp_path / "data" / "ChestXRay2017.zip").exists()
    # A second run finds the unpacked data and downloads nothing.
    server.files.clear()
    assert download_dataset("kermany", tmp_path / "data", url=server.url("/ChestXRay2017.zip")) == root


def test_zip_member_escaping_the_folder_is_refused(server, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../evil.txt", b"x")
    server.files["/z.zip"] = buf.getvalue()
    with pytest.raises(DataError, match="outside"):
        download_dataset("kermany", tmp_path / "data", url=server.url("/z.zip"))
    assert not (tmp_path / "evil.txt").exists()


def test_cli_download(server, tmp_path):
    data = npz_bytes()
    server.files["/p.npz"] = data
    runner = CliRunner()
    result = runner.invoke(app, ["data", "download", "pneumoniamnist", str(tmp_path / "a"),
                                 "--url", server.url("/p.npz"), "--md5", md5(data)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a" / "pneumoniamnist.npz").read_bytes() == data
    result = runner.invoke(app, ["data", "download", "pneumoniamnist", str(tmp_path / "b"),
                                 "--url", server.url("/p.npz"), "--md5", "0" * 32])
    assert result.exit_code == 1 and "checksum mismatch" in result.output and "Traceback" not in result.output


# -- hostile archives: limits checked before anything is written (items 9 and 11) -----------


def kermany_zip_with(extra: dict | None = None, infos: list | None = None, drop: str | None = None) -> bytes:
    """The small Kermany zip plus ``extra`` members (name -> bytes, deflated) and ``infos`` ((ZipInfo, bytes))."""
    buf = io.BytesIO(kermany_zip())
    if drop:
        with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as old:
            kept = [(i, old.read(i)) for i in old.infolist() if not i.filename.startswith(drop)]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for info, data in kept:
                zf.writestr(info, data)
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as zf:
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
        for info, data in infos or []:
            zf.writestr(info, data)
    return buf.getvalue()


def symlink_member(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: the high 16 bits of external_attr are the file mode
    info.external_attr = (0o120777 << 16)
    return info


def leaves_nothing(dest) -> bool:
    return not dest.exists() or sorted(p.name for p in dest.iterdir()) == []


def test_zip_bomb_is_refused_before_anything_is_unpacked(server, tmp_path):
    # A zip that expands 1,000x was unpacked without limit.
    server.files["/z.zip"] = kermany_zip_with({"chest_xray/train/NORMAL/IM-0009-0001.png": bytes(20_000_000)})
    with pytest.raises(DataError) as info:
        download_dataset("kermany", tmp_path / "data", url=server.url("/z.zip"))
    message = str(info.value)
    assert "member 'chest_xray/train/NORMAL/IM-0009-0001.png' expands" in message
    assert "the limit is 200:1): refused as a zip bomb" in message and "the download was removed" in message
    assert leaves_nothing(tmp_path / "data")


def test_unpack_refuses_a_bomb_an_oversized_archive_and_a_full_disk_first(tmp_path, monkeypatch):
    from training.data import archives

    dest = tmp_path / "data"
    dest.mkdir()
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(kermany_zip_with({"chest_xray/train/NORMAL/zeros.png": bytes(20_000_000)}))
    with pytest.raises(DataError, match="refused as a zip bomb"):
        unpack_zip(bomb, dest)
    archive = tmp_path / "ChestXRay2017.zip"
    archive.write_bytes(kermany_zip())
    monkeypatch.setattr(archives, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(DataError, match=r"ChestXRay2017.zip would unpack to .* more than the 1.0 KB limit: refused"):
        unpack_zip(archive, dest)
    monkeypatch.undo()
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 10, 10))
    with pytest.raises(DataError, match=r"needs .* free in .*, but only 10 bytes is free; .* Nothing was installed"):
        unpack_zip(archive, dest)
    assert leaves_nothing(dest)


def test_a_full_disk_while_unpacking_is_one_line_and_installs_nothing(server, tmp_path, monkeypatch):
    # A full disk gave an OSError traceback.
    server.files["/ChestXRay2017.zip"] = kermany_zip()
    extract = zipfile.ZipFile.extract
    calls = []

    def fill_up(self, member, path=None, pwd=None):
        calls.append(member)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return extract(self, member, path, pwd)

    monkeypatch.setattr(zipfile.ZipFile, "extract", fill_up)
    dest = tmp_path / "data"
    with pytest.raises(DataError) as info:
        download_dataset("kermany", dest, url=server.url("/ChestXRay2017.zip"))
    message = str(info.value)
    assert message.startswith(f"unpacking ChestXRay2017.zip into {dest.resolve()} failed: the disk is full; "
                              "nothing was installed (ChestXRay2017.zip is kept)")
    assert sorted(p.name for p in dest.iterdir()) == ["ChestXRay2017.zip"]  # no chest_xray/, no staging folder
    monkeypatch.undo()
    server.files.clear()  # the next run unpacks the kept zip, verified again
    root = download_dataset("kermany", dest, url=server.url("/ChestXRay2017.zip"))
    assert len(open_source(root).records()) == 4


def test_symlink_member_is_refused_with_one_line(tmp_path):
    # It gave a NotADirectoryError traceback (the link was written as a file, then used as a folder).
    archive = tmp_path / "ChestXRay2017.zip"
    archive.write_bytes(kermany_zip_with(infos=[(symlink_member("chest_xray/val", "/etc"), b"/etc"),
                                                (zipfile.ZipInfo("chest_xray/val/NORMAL/IM-0003-0001.jpeg"), b"x")]))
    dest = tmp_path / "data"
    dest.mkdir()
    with pytest.raises(DataError, match=r"^ChestXRay2017.zip: member 'chest_xray/val' is a symbolic link: links "
                                        r"are never unpacked$"):
        unpack_zip(archive, dest)
    assert leaves_nothing(dest)


@pytest.mark.parametrize("name", ["/abs/evil.txt", "chest_xray/../../evil.txt", "C:/evil.txt"])
def test_absolute_or_parent_member_names_are_refused(tmp_path, name):
    archive = tmp_path / "ChestXRay2017.zip"
    archive.write_bytes(kermany_zip_with({name: b"x"}))
    (tmp_path / "data").mkdir()
    with pytest.raises(DataError, match="would be written outside the folder"):
        unpack_zip(archive, tmp_path / "data")
    assert leaves_nothing(tmp_path / "data") and not (tmp_path / "evil.txt").exists()


# -- every installed download is verified (item 10) ------------------------------------------


def test_stale_part_answered_416_is_verified_not_installed(server, tmp_path):
    # A .part of another file, at least as long as this one, got a 416 and was installed as ready.
    server.files["/ChestXRay2017.zip"] = kermany_zip()
    dest = tmp_path / "data"
    dest.mkdir()
    (dest / "ChestXRay2017.zip.part").write_bytes(b"another file " * 10_000)
    with pytest.raises(DataError, match=r"^ChestXRay2017.zip is not a valid zip \(File is not a zip file\); "
                                        r"the download was removed$"):
        download_dataset("kermany", dest, url=server.url("/ChestXRay2017.zip"))
    assert sorted(dest.iterdir()) == []
    # A server that says its size on the 416 shows the part is stale: it is fetched again at once.
    server.size_on_416 = True
    (dest / "ChestXRay2017.zip.part").write_bytes(b"another file " * 10_000)
    root = download_dataset("kermany", dest, url=server.url("/ChestXRay2017.zip"))
    assert len(open_source(root).records()) == 4 and server.ranges[-2:] == ["bytes=130000-", None]


def test_a_complete_part_answered_416_is_installed_after_verification(server, tmp_path):
    data = npz_bytes()
    server.files["/p.npz"] = data
    (tmp_path / "pneumoniamnist.npz.part").write_bytes(data)
    path = download_dataset("pneumoniamnist", tmp_path, url=server.url("/p.npz"), md5=md5(data))
    assert path.read_bytes() == data and server.ranges == [f"bytes={len(data)}-"]


def test_a_mirror_keeps_the_published_md5(server, tmp_path, monkeypatch):
    # $PNEUMO_DOWNLOAD_URL silently turned the published MD5 check off.
    server.files["/p.npz"] = npz_bytes()  # not the published file
    monkeypatch.setenv("PNEUMO_DOWNLOAD_URL", server.url("/p.npz"))
    assert plan("pneumoniamnist").md5 == PNEUMONIAMNIST[28][1]
    assert plan("pneumoniamnist", url=server.url("/p.npz")).md5 == PNEUMONIAMNIST[28][1]
    published = PNEUMONIAMNIST[28][1]
    with pytest.raises(DataError, match=f"checksum mismatch for pneumoniamnist.npz: expected MD5 {published}"):
        download_dataset("pneumoniamnist", tmp_path / "dl")
    assert leaves_nothing(tmp_path / "dl")
    assert download_dataset("pneumoniamnist", tmp_path / "dl", md5=md5(npz_bytes())).read_bytes() == npz_bytes()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/p.npz", "/etc/passwd", "http://"])
def test_only_http_urls_are_fetched(tmp_path, monkeypatch, url):
    with pytest.raises(DataError, match=r"is not an http:// or https:// URL; only those are downloaded"):
        plan("kermany", url=url)
    with pytest.raises(DataError, match=r"is not an http:// or https:// URL"):
        fetch(url, tmp_path / "x.npz", md5=None)
    monkeypatch.setenv("PNEUMO_DOWNLOAD_URL", url)
    with pytest.raises(DataError, match=r"^\$PNEUMO_DOWNLOAD_URL '.*' is not an http:// or https:// URL"):
        download_dataset("pneumoniamnist", tmp_path / "dl")
    assert not (tmp_path / "dl").exists()


def test_an_upper_case_md5_passes_every_time_and_a_bad_one_is_refused(server, tmp_path):
    # It passed once, then the next run compared the file's lower-case MD5 with it and failed.
    data = npz_bytes()
    server.files["/p.npz"] = data
    for _ in range(2):
        download_dataset("pneumoniamnist", tmp_path, url=server.url("/p.npz"), md5=f" {md5(data).upper()} ")
    assert (tmp_path / "pneumoniamnist.npz").read_bytes() == data
    for bad in ("xyz", md5(data)[:31], md5(data) + "0"):
        with pytest.raises(DataError, match=r"is not an MD5 checksum \(32 hexadecimal digits\)"):
            plan("pneumoniamnist", md5=bad)


def test_a_zip_without_the_kermany_layout_is_not_installed(server, tmp_path):
    server.files["/z.zip"] = kermany_zip_with(drop="chest_xray/test/")
    with pytest.raises(DataError, match=r"^ChestXRay2017.zip is not the Kermany zip: no images in chest_xray/test/"
                                        r"NORMAL, chest_xray/test/PNEUMONIA; the download was removed$"):
        download_dataset("kermany", tmp_path / "data", url=server.url("/z.zip"))
    assert leaves_nothing(tmp_path / "data")


def test_a_zip_failing_its_crc_is_not_installed(server, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(kermany_zip())) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info))
    data = bytearray(buf.getvalue())
    at = data.index(b"\xff\xd8\xff") + 200  # inside the first JPEG
    data[at] ^= 0xFF
    server.files["/z.zip"] = bytes(data)
    with pytest.raises(DataError, match=r"^ChestXRay2017.zip: member 'chest_xray/train/NORMAL/IM-0001-0001.jpeg' "
                                        r"fails its CRC check \(a corrupt download\); the download was removed$"):
        download_dataset("kermany", tmp_path / "data", url=server.url("/z.zip"))
    assert leaves_nothing(tmp_path / "data")


def test_a_download_that_is_no_npz_is_not_installed_even_with_its_md5(server, tmp_path):
    server.files["/p.npz"] = b"<html>rate limited</html>"
    with pytest.raises(DataError, match=r"^pneumoniamnist.npz: cannot read .npz \(File is not a zip file\); the "
                                        r"download was removed$"):
        download_dataset("pneumoniamnist", tmp_path, url=server.url("/p.npz"), md5=md5(b"<html>rate limited</html>"))
    missing_keys = io.BytesIO()
    np.savez(missing_keys, train_images=np.zeros((2, 28, 28), np.uint8), train_labels=np.zeros((2, 1)))
    server.files["/p.npz"] = missing_keys.getvalue()
    with pytest.raises(DataError, match=r"^pneumoniamnist.npz: not a PneumoniaMNIST .npz \(no val_images, "
                                        r"val_labels, test_images, test_labels\); the download was removed$"):
        download_dataset("pneumoniamnist", tmp_path, url=server.url("/p.npz"), md5=md5(missing_keys.getvalue()))
    assert sorted(tmp_path.iterdir()) == []


def test_an_archive_already_there_is_verified_before_it_is_unpacked(tmp_path):
    dest = tmp_path / "data"
    dest.mkdir()
    (dest / "ChestXRay2017.zip").write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match=r"ChestXRay2017.zip exists but is not a valid download \(.*\); move it "
                                        r"away and retry"):
        download_dataset("kermany", dest, url="http://127.0.0.1:9/never-asked")
    assert (dest / "ChestXRay2017.zip").read_bytes() == b"not a zip at all"  # the user's file is not deleted
