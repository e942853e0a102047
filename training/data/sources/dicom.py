"""DICOM radiographs (optional extra ``pneumo-tui[dicom]``, pydicom).

Pixel values become display gray levels the way a viewer shows them: the
modality LUT (rescale slope/intercept), then the VOI LUT or window
center/width, then MONOCHROME1 inverted (there, high values are dark).

The header is checked before any pixel is decoded: Rows x Columns must be at
least 1 x 1 and at most ``MAX_PIXELS`` (the limit every format shares), and
only the first frame of a multi-frame file is decoded. The pixel data itself
stays on disk until then (``defer_size``), so a small file that declares a
huge image costs nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.data import decode
from training.data.decode import check_file, stretch_to_uint8
from training.data.records import UnreadableImage

# Values larger than this (the pixel data) are read only when asked for.
DEFER_SIZE = "1 MB"


def decode_dicom(path: Path) -> np.ndarray:
    check_file(path)
    try:
        import pydicom
        from pydicom.pixels import apply_modality_lut, apply_voi_lut, pixel_array
    except ImportError:
        raise UnreadableImage("DICOM needs pydicom: pip install 'pneumo-tui[dicom]'") from None
    try:
        ds = pydicom.dcmread(path, defer_size=DEFER_SIZE)
        frames = _check_header(ds)
        pixels = pixel_array(ds, index=0) if frames > 1 else pixel_array(ds)
    except UnreadableImage:
        raise
    except MemoryError:
        raise UnreadableImage("DICOM: out of memory while decoding") from None
    except Exception as exc:  # pydicom raises many kinds; all mean "unreadable"
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnreadableImage(f"DICOM: {text[:200]}") from None
    photometric = str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric.startswith("MONOCHROME"):
        values = apply_modality_lut(pixels, ds)
        values = apply_voi_lut(values, ds)
    else:
        values = np.asarray(pixels, dtype=np.float64)
        if values.ndim == 3:
            values = values[..., :3] @ np.array([0.299, 0.587, 0.114])
    gray = stretch_to_uint8(values)
    if photometric == "MONOCHROME1":
        gray = 255 - gray
    return gray


def _check_header(ds) -> int:
    """The number of frames, once the header's image size is known to be sane."""
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise UnreadableImage("DICOM: no pixel data (not an image)")
    rows, columns = _int(ds, "Rows"), _int(ds, "Columns")
    samples, frames = _int(ds, "SamplesPerPixel", 1), _int(ds, "NumberOfFrames", 1)
    if rows is None or columns is None or rows < 1 or columns < 1:
        raise UnreadableImage(f"invalid declared size {columns}x{rows}")
    if rows * columns > decode.MAX_PIXELS:
        raise UnreadableImage(
            f"decompression bomb: declares {columns}x{rows} pixels (limit {decode.MAX_PIXELS})")
    if samples not in (1, 3, 4):
        raise UnreadableImage(f"DICOM: {samples} samples per pixel (expected 1 or 3)")
    if frames is None or frames < 1:
        raise UnreadableImage(f"DICOM: invalid number of frames {ds.get('NumberOfFrames')!r}")
    return frames


def _int(ds, keyword: str, default: int | None = None) -> int | None:
    value = ds.get(keyword, default)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
