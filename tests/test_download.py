"""Downloads against a local HTTP server (no internet here): resume, checksum, unpack."""

import hashlib
import io
import re
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from conftest import gray_image
from typer.testing import CliRunner

from pneumo_tui.cli import app
from training.data.download import PNEUMONIAMNIST, download_dataset, fetch, plan
from training.data.records import DataError
from training.data.sources import open_source


class FileServer:
    """Serves ``files`` (path -> bytes) with optional Range support and a cut-off."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.ranges: list[str | None] = []
        self.honor_range = True
        self.cut_after: int | None = None  # bytes sent before dropping the connection
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
