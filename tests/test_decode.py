import os
import time

import numpy as np
import pytest
from conftest import bomb_png, gray_image, truncated_jpeg
from PIL import Image

from training.data.decode import decode_image, read_header, resize, stretch_to_uint8
from training.data.records import UnreadableImage


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA", "P", "1", "CMYK"])
def test_every_8bit_mode_becomes_2d_uint8(tmp_path, mode):
    path = tmp_path / ("x.jpeg" if mode in ("CMYK",) else "x.png")
    gray_image(30, 20, seed=3).convert(mode).save(path)
    out = decode_image(path)
    assert out.dtype == np.uint8 and out.shape == (20, 30)


def test_rgb_gray_content_is_kept(tmp_path):
    gray = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (8, 1))
    Image.fromarray(gray).convert("RGB").save(tmp_path / "x.png")
    assert np.array_equal(decode_image(tmp_path / "x.png"), gray)


def test_16bit_png_is_stretched_not_truncated(tmp_path):
    # A 12-bit radiograph stored in 16 bits: naive /256 would make it black.
    values = np.linspace(1000, 4000, 64 * 32).reshape(32, 64).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    out = decode_image(tmp_path / "deep.png")
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255
    assert np.all(np.diff(out.astype(int), axis=1) >= 0)  # order preserved


def test_float_and_int32_images(tmp_path):
    Image.fromarray(np.linspace(-1, 1, 100, dtype=np.float32).reshape(10, 10), mode="F").save(tmp_path / "f.tiff")
    Image.fromarray(np.arange(100, dtype=np.int32).reshape(10, 10) * 1000, mode="I").save(tmp_path / "i.tiff")
    for name in ("f.tiff", "i.tiff"):
        out = decode_image(tmp_path / name)
        assert out.shape == (10, 10) and out.min() == 0 and out.max() == 255


def test_exif_orientation_is_applied(tmp_path):
    img = gray_image(40, 20, seed=1)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees to display
    img.save(tmp_path / "rot.jpeg", exif=exif)
    assert decode_image(tmp_path / "rot.jpeg").shape == (40, 20)


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("hello, not an image\n"), "not an image"),
        (lambda p: truncated_jpeg(p), "truncated"),
        (lambda p: bomb_png(p), "decompression bomb"),
        (lambda p: p.mkdir(), "a directory"),
        (lambda p: os.symlink(p.parent / "missing.jpeg", p), "broken symlink"),
    ],
)
def test_bad_files_raise_unreadable_with_a_reason(tmp_path, make, reason):
    path = tmp_path / "bad.jpeg"
    make(path)
    start = time.perf_counter()
    with pytest.raises(UnreadableImage, match=reason):
        decode_image(path)
    assert time.perf_counter() - start < 2  # the bomb is refused from its header


def test_bomb_just_over_our_limit_is_refused_before_decoding(tmp_path):
    # 12000 x 9000 = 108 Mpx: above MAX_PIXELS, below PIL's own hard error.
    path = bomb_png(tmp_path / "big.png", 12000, 9000)
    with pytest.raises(UnreadableImage, match="12000x9000"):
        read_header(path)


def test_read_header_does_not_decode(tmp_path):
    gray_image(33, 21).convert("RGB").save(tmp_path / "x.jpeg")
    header = read_header(tmp_path / "x.jpeg")
    assert (header.width, header.height, header.mode, header.format) == (33, 21, "RGB", "JPEG")


def test_draft_decodes_big_jpeg_at_reduced_scale(tmp_path):
    gray_image(1600, 1200).save(tmp_path / "big.jpeg")
    out = decode_image(tmp_path / "big.jpeg", draft=200)
    assert 200 <= min(out.shape) and out.shape[1] < 1600


def test_resize_squash_and_letterbox():
    wide = np.full((20, 40), 200, dtype=np.uint8)
    assert resize(wide, 16, "squash").shape == (16, 16)
    boxed = resize(wide, 16, "letterbox")
    assert boxed.shape == (16, 16)
    assert boxed[0].max() == 0 and boxed[8].min() == 200  # black bars top and bottom
    with pytest.raises(ValueError):
        resize(wide, 16, "crop")


def test_stretch_constant_image_is_zero():
    assert stretch_to_uint8(np.full((3, 3), 7.0)).max() == 0


def test_permission_denied_is_a_reason(tmp_path, monkeypatch):
    # Tests run as root, who reads a chmod 000 file anyway: simulate the refusal.
    gray_image().save(tmp_path / "locked.jpeg")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Image, "open", refuse)
    with pytest.raises(UnreadableImage, match="permission denied"):
        decode_image(tmp_path / "locked.jpeg")


# -- hostile files: the pixel limit holds for every format (item 9) ----------------


def _dicom_with(path, **tags):
    pytest.importorskip("pydicom")
    import pydicom
    from conftest import write_dicom

    ds = pydicom.dcmread(write_dicom(path))
    for name, value in tags.items():
        setattr(ds, name, value)
    ds.save_as(path)
    return path


def test_dicom_declaring_a_huge_image_is_refused_from_its_header(tmp_path):
    # A 560 KB DICOM declaring 12000 x 12000 16-bit pixels was decoded (5.5 GB peak) and counted readable.
    from training.data.sources.dicom import decode_dicom

    path = _dicom_with(tmp_path / "bomb.dcm", Rows=12000, Columns=12000)
    with pytest.raises(UnreadableImage, match=r"decompression bomb: declares 12000x12000 pixels \(limit 100000000\)"):
        decode_dicom(path)


def test_dicom_size_is_checked_before_any_pixel_is_decoded(tmp_path, monkeypatch):
    import pydicom.pixels

    from training.data import decode
    from training.data.sources.dicom import decode_dicom

    path = _dicom_with(tmp_path / "small.dcm")  # 8 x 16 = 128 pixels
    monkeypatch.setattr(decode, "MAX_PIXELS", 100)

    def never(*args, **kwargs):
        raise AssertionError("pixel data decoded before the size check")

    monkeypatch.setattr(pydicom.pixels, "pixel_array", never)
    monkeypatch.setattr(pydicom.dataset.Dataset, "pixel_array", property(never))
    with pytest.raises(UnreadableImage, match=r"declares 16x8 pixels \(limit 100\)"):
        decode_dicom(path)


def test_dicom_of_no_pixels_is_unreadable_with_a_reason(tmp_path):
    from training.data.sources.dicom import decode_dicom

    path = _dicom_with(tmp_path / "empty.dcm", Rows=0, Columns=0, PixelData=b"")
    with pytest.raises(UnreadableImage, match=r"^invalid declared size 0x0$"):
        decode_dicom(path)


def test_an_empty_image_is_unreadable_not_resized():
    with pytest.raises(UnreadableImage, match=r"invalid size 0x0 \(an empty image\)"):
        resize(np.zeros((0, 0), dtype=np.uint8), 16)
