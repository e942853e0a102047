"""Safe image decoding: any supported file becomes an 8-bit grayscale array, or
an ``UnreadableImage`` with a short reason. Never a traceback, never a hang.

Why a module of its own: real chest X-ray folders hold surprises (RGB and CMYK
JPEGs, 16-bit PNGs, EXIF-rotated phone photos, truncated downloads, files that
are not images at all), and every loader and ``pneumo stats`` must treat them
the same way.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from training.data.records import UnreadableImage

# The largest Kermany original is ~2.8k x 2.7k (7.5 Mpx). 100 Mpx leaves room
# for any real radiograph while refusing headers that declare absurd sizes
# (a few-KB PNG can claim 100k x 100k and would allocate 10 GB on decode).
MAX_PIXELS = 100_000_000

IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png")


@dataclass(frozen=True)
class Header:
    """What the file header says, read without decoding the pixels."""

    width: int
    height: int
    mode: str
    format: str


def check_file(path: Path) -> os.stat_result:
    """Stat ``path`` and turn every way a listed file can be absent into a reason."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        reason = "broken symlink" if os.path.islink(path) else "file not found"
        raise UnreadableImage(reason) from None
    except PermissionError:
        raise UnreadableImage("permission denied") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnreadableImage("symlink loop") from None
        raise UnreadableImage(f"cannot stat: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UnreadableImage("a directory, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableImage("not a regular file")
    if st.st_size == 0:
        raise UnreadableImage("empty file (0 bytes)")
    return st


def read_header(path: Path) -> Header:
    """Size and mode from the header only (fast: no pixel decoding)."""
    check_file(path)
    with _open(path) as img:
        return Header(img.width, img.height, img.mode, img.format or "")


def decode_image(path: Path, draft: int | None = None) -> np.ndarray:
    """Decode ``path`` to a 2-D uint8 grayscale array at native size.

    ``draft``: when set, a JPEG may be decoded at a reduced scale (1/2, 1/4,
    1/8) as long as both sides stay >= ``draft``. libjpeg does this for free
    and it makes building a 200 px cache from 2k originals several times faster.
    """
    check_file(path)
    with _open(path) as img:
        if draft and img.format == "JPEG":
            img.draft("L", (draft, draft))
        try:
            img.load()
            return to_gray8(_oriented(img))
        except MemoryError:
            raise UnreadableImage("out of memory while decoding") from None
        except Exception as exc:  # noqa: BLE001 - zlib.error, struct.error...: all mean a corrupt file
            raise UnreadableImage(_describe(exc)) from None


def _open(path: Path) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Our own MAX_PIXELS check below reports the bomb; PIL's warning
            # would otherwise print a stack-less but noisy line per file.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except Image.DecompressionBombError as exc:  # PIL's own limit, above ours: report its numbers
        found = re.search(r"\((\d+) pixels\)", str(exc))
        declared = f"{found.group(1)} pixels" if found else "a huge size"
        raise UnreadableImage(f"decompression bomb: declares {declared} (limit {MAX_PIXELS})") from None
    except UnidentifiedImageError:
        raise UnreadableImage("not an image (unrecognised format)") from None
    except PermissionError:
        raise UnreadableImage("permission denied") from None
    except IsADirectoryError:
        raise UnreadableImage("a directory, not an image file") from None
    except Exception as exc:  # noqa: BLE001 - a corrupt header can raise almost anything
        raise UnreadableImage(_describe(exc)) from None
    width, height = img.size
    if width <= 0 or height <= 0:
        img.close()
        raise UnreadableImage(f"invalid declared size {width}x{height}")
    if width * height > MAX_PIXELS:
        img.close()
        raise UnreadableImage(
            f"decompression bomb: declares {width}x{height} pixels (limit {MAX_PIXELS})"
        )
    return img


def _oriented(img: Image.Image) -> Image.Image:
    # Phone photos of films carry an EXIF rotation; the pixels are stored sideways.
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # a corrupt EXIF block must not make the image unreadable
        return img


def to_gray8(img: Image.Image) -> np.ndarray:
    """Any PIL mode to a 2-D uint8 array.

    8-bit modes go through PIL's own conversion (ITU-R 601 luma for colour).
    Deeper modes (I;16, I, F) are stretched from their min to their max: a
    12-bit radiograph stored in 16 bits would be nearly black if divided by 256.
    """
    mode = img.mode
    if mode == "L":
        return np.asarray(img, dtype=np.uint8).copy()
    if mode in ("1", "P", "RGB", "LA", "PA"):
        return np.asarray(img.convert("L"), dtype=np.uint8).copy()
    if mode in ("RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"):
        # Alpha carries no anatomy; drop it. CMYK goes through RGB first.
        return np.asarray(img.convert("RGB").convert("L"), dtype=np.uint8).copy()
    if mode.startswith("I") or mode == "F":
        return stretch_to_uint8(np.asarray(img))
    return np.asarray(img.convert("L"), dtype=np.uint8).copy()


def stretch_to_uint8(values: np.ndarray) -> np.ndarray:
    """Linearly map an array's [min, max] onto [0, 255] (constant -> 0)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 3:  # multi-channel deep image: average the channels
        values = values.mean(axis=2)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, dtype=np.uint8)
    lo, hi = float(values[finite].min()), float(values[finite].max())
    if hi <= lo:
        return np.zeros(values.shape, dtype=np.uint8)
    scaled = (np.where(finite, values, lo) - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    lowered = text.lower()
    if "truncated" in lowered or "premature end" in lowered or "broken data stream" in lowered:
        return f"truncated image ({text})"
    return text.splitlines()[0][:200]


def resize(gray: np.ndarray, size: int, fit: str = "squash") -> np.ndarray:
    """Resize a 2-D uint8 image to ``size`` x ``size``.

    ``squash`` stretches to a square as the original study did; ``letterbox``
    keeps the aspect ratio and pads with black. An empty image is ``UnreadableImage``.
    """
    if gray.size == 0:
        raise UnreadableImage(f"invalid size {'x'.join(map(str, gray.shape[::-1]))} (an empty image)")
    img = Image.fromarray(gray)
    if fit == "squash":
        out = img.resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(out, dtype=np.uint8)
    if fit != "letterbox":
        raise ValueError(f"unknown fit {fit!r} (expected 'squash' or 'letterbox')")
    h, w = gray.shape
    scale = size / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    scaled = np.asarray(img.resize((new_w, new_h), Image.Resampling.BILINEAR), dtype=np.uint8)
    canvas = np.zeros((size, size), dtype=np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = scaled
    return canvas
