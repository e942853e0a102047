"""Shared test fixtures: tiny datasets on disk and an isolated cache folder."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own PNEUMO_CACHE: no test writes under ~/.cache or into data folders."""
    monkeypatch.setenv("PNEUMO_CACHE", str(tmp_path_factory.mktemp("pneumo-cache")))


@pytest.fixture(autouse=True)
def _no_terminal_size_from_the_runner(monkeypatch):
    """No COLUMNS or LINES from whatever runs the tests (pytest-xdist's workers set 80x24): a test that wants a
    width gives it; without one the CLI sees a pipe, as it does under `pneumo ... | cat`."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)


def gray_image(width: int = 48, height: int = 40, value: int | None = None, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    if value is None:
        pixels = rng.integers(0, 256, size=(height, width), dtype=np.uint8)
    else:
        pixels = np.full((height, width), value, dtype=np.uint8)
    return Image.fromarray(pixels)


def make_kermany_tree(root: Path, layout: dict | None = None, size: tuple[int, int] = (48, 40)) -> Path:
    """A tiny Kermany tree: ``layout`` maps "split/CLASS" to file names.

    The default has patient-style names in train, val and test, with a patient
    that has several images, both pneumonia subtypes and one PNG.
    """
    layout = layout or {
        "train/NORMAL": ["IM-0001-0001.jpeg", "IM-0001-0002.jpeg", "IM-0002-0001.jpeg", "NORMAL2-IM-0003-0001.jpeg",
                         "IM-0004-0001.png", "IM-0005-0001.jpeg"],
        "train/PNEUMONIA": ["person1_bacteria_1.jpeg", "person1_bacteria_2.jpeg", "person2_virus_3.jpeg",
                            "person3_bacteria_4.jpeg", "person4_virus_5.jpeg", "person5_bacteria_6.jpeg"],
        "val/NORMAL": ["IM-0010-0001.jpeg"],
        "val/PNEUMONIA": ["person10_virus_20.jpeg"],
        "test/NORMAL": ["IM-0020-0001.jpeg", "IM-0021-0001.jpeg"],
        "test/PNEUMONIA": ["person20_bacteria_30.jpeg", "person21_virus_31.jpeg"],
    }
    for i, (folder, names) in enumerate(sorted(layout.items())):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for j, name in enumerate(names):
            gray_image(*size, seed=i * 100 + j).save(root / folder / name)
    return root


def bomb_png(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A valid-looking PNG header that declares a huge image, without allocating it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def truncated_jpeg(path: Path, size: tuple[int, int] = (64, 64)) -> Path:
    buf = io.BytesIO()
    gray_image(*size).save(buf, format="JPEG", quality=90)
    data = buf.getvalue()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_dicom(path: Path, photometric: str = "MONOCHROME2", window: tuple[int, int] | None = None) -> Path:
    """A small 12-bit DX DICOM whose pixels ramp 0..3750 left to right (8 x 16)."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # digital X-ray
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = 8, 16
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = np.tile(np.arange(0, 4000, 250, dtype=np.uint16), (8, 1)).tobytes()
    if window:
        ds.WindowCenter, ds.WindowWidth = window
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def kermany_tree(tmp_path) -> Path:
    return make_kermany_tree(tmp_path / "data")


@pytest.fixture
def demo_root(tmp_path) -> Path:
    from training.data.demo import write_demo

    return write_demo(tmp_path / "demo", per_class=12, size=48, seed=1)


needs_shared_data = pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data is absent")
