"""DICOM radiographs (optional extra ``pneumo-tui[dicom]``, pydicom).

Pixel values become display gray levels the way a viewer shows them: the
modality LUT (rescale slope/intercept), then the VOI LUT or window
center/width, then MONOCHROME1 inverted (there, high values are dark).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.data.decode import check_file, stretch_to_uint8
from training.data.records import UnreadableImage


def decode_dicom(path: Path) -> np.ndarray:
    check_file(path)
    try:
        import pydicom
        from pydicom.pixels import apply_modality_lut, apply_voi_lut
    except ImportError:
        raise UnreadableImage("DICOM needs pydicom: pip install 'pneumo-tui[dicom]'") from None
    try:
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array
    except Exception as exc:  # pydicom raises many kinds; all mean "unreadable"
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnreadableImage(f"DICOM: {text[:200]}") from None
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if frames > 1:
        pixels = pixels[0]  # a radiograph series: the first frame stands for it
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
