"""Reading input images the way the network sees them."""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path
from struct import error as struct_error

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .errors import ImageError
from .safeio import FileRefused, read_regular
from .tinyvgg import INPUT_SIZE

# Larger than any photo a course author would use; beyond it an image is far
# more likely a decompression bomb than a lesson input.
MAX_PIXELS = 40_000_000
# A compressed file of that many pixels is far smaller; the cap is read first.
MAX_FILE_BYTES = 64 * 1024 * 1024
# Wider (or taller) than this, the 64x64 centre crop would show a sliver of
# the picture, and the resized intermediate would grow with the long side.
MAX_ASPECT = 16
# The formats an input image may have: the usual photo and web formats. Pillow
# opens many more, some through outside programs (EPS runs Ghostscript) or
# with decoders that see little use; an uploaded file is read as one of these
# or refused, whatever its name says.
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "PPM")

ImageLike = str | Path | Image.Image


NOT_FINITE = "the image holds values that are not numbers (NaN or infinity)"


def _to_8bit(image: Image.Image) -> Image.Image:
    """Greyscale of more than 8 bits (16-bit, 32-bit integer, float) as 8-bit "L".

    Pillow's own conversion clips these at 255 instead of scaling them, which
    would turn a 16-bit greyscale PNG almost white. 16-bit data is scaled by
    255/65535; 32-bit integer data holding values above 255 is taken as
    16-bit; float data within [0, 1] is scaled to 0-255, other floats clipped.
    """
    # One float32 array, changed in place: a 40-megapixel image costs 160 MB, not
    # several float64 copies. (x / 257 is never within 0.002 of a half, so
    # float32 rounds 16-bit values exactly as float64 would.)
    values = np.array(image, dtype=np.float32)
    if image.mode == "F" and not np.isfinite(values).all():
        raise ImageError(NOT_FINITE)
    if image.mode.startswith("I;16"):
        values /= 257.0
    elif image.mode == "I":
        if values.size and values.max() > 255:
            values /= 257.0
    elif values.size and values.min() >= 0.0 and values.max() <= 1.0:  # mode "F"
        values *= 255.0
    np.rint(values, out=values)
    np.clip(values, 0, 255, out=values)
    return Image.fromarray(values.astype(np.uint8))


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB with transparency composited over white, as a browser shows it."""
    if image.mode.startswith("I") or image.mode == "F":
        image = _to_8bit(image)
    try:
        # "transparency" is a palette, greyscale or RGB image's transparent colour (tRNS).
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image if image.mode == "RGBA" else image.convert("RGBA")
            # Pasting through the alpha channel onto white gives the very pixels of
            # alpha-compositing over opaque white, with two full-size copies fewer.
            white = Image.new("RGB", rgba.size, (255, 255, 255))
            white.paste(rgba, mask=rgba.getchannel("A"))
            return white
        return image.convert("RGB")
    except ValueError as exc:
        raise ImageError(f"cannot convert a {image.mode} image to RGB ({exc})") from None


def check_shape(width: int, height: int) -> None:
    """Refuse empty images, too many pixels and extreme aspect ratios (ImageError)."""
    if width < 1 or height < 1:
        raise ImageError(f"image is {width}x{height} pixels: it has no pixels")
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"image is {width}x{height} pixels; at most {MAX_PIXELS:,} pixels are accepted"
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageError(
            f"image is {width}x{height} pixels; its sides may differ at most {MAX_ASPECT} "
            "times (the network sees a square cut from the middle)"
        )


def fit_square(image: Image.Image, size: int = INPUT_SIZE) -> Image.Image:
    """Resize the short side to ``size`` and centre-crop to ``size`` x ``size``.

    The aspect ratio is checked first, so the resized image is at most
    ``size`` x ``MAX_ASPECT * size`` pixels.
    """
    check_shape(*image.size)
    image = _to_rgb(image)
    if image.size == (size, size):
        return image
    w, h = image.size
    scale = size / min(w, h)
    new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
    resized = image.resize((new_w, new_h), Image.Resampling.LANCZOS)
    left = (new_w - size) // 2
    top = (new_h - size) // 2
    return resized.crop((left, top, left + size, top + size))


def _upright(image: Image.Image) -> Image.Image:
    """A copy turned as a viewer shows it (camera photos keep their rotation in EXIF)."""
    try:
        turned = ImageOps.exif_transpose(image)
    except Exception:  # a damaged EXIF block is no reason to refuse the pixels
        return image.copy()
    return turned if turned is not None and turned is not image else image.copy()


# Decoding work grows with these, not with the pixels: a small file can ask a
# decoder for minutes (a progressive JPEG of 10,000 scans, 15 million empty
# JPEG markers, 5 million PNG chunks, a GIF comment that Pillow joins piece by
# piece). Real images stay far below each cap.
MAX_JPEG_SCANS = 100
MAX_JPEG_MARKERS = 10_000
MAX_PNG_CHUNKS = 100_000
MAX_GIF_EXTENSION_BYTES = 1_000_000


def structure_problem(data: bytes) -> str | None:
    """Why the structure of an image file would make decoding it unreasonably slow
    (None when it would not), read from its bytes before any decoder sees them."""
    if data.startswith(b"\xff\xd8"):
        return _jpeg_problem(data)
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        chunks, position = 0, 8
        while position + 8 <= len(data):
            chunks += 1
            if chunks > MAX_PNG_CHUNKS:
                return f"a PNG of more than {MAX_PNG_CHUNKS:,} chunks; save it anew"
            position += 12 + int.from_bytes(data[position : position + 4], "big")
    elif data.startswith((b"GIF87a", b"GIF89a")):
        extension = _gif_extension_bytes(data)
        if extension > MAX_GIF_EXTENSION_BYTES:
            return (
                f"a GIF holding {extension:,} bytes of comments and other extensions "
                f"(at most {MAX_GIF_EXTENSION_BYTES:,}); save it anew"
            )
    return None


# Where compressed data ends: a 0xFF there is followed by 0x00 (a stuffed byte),
# a restart marker or more 0xFF (fill); any other byte after it is a marker.
_NEXT_MARKER = re.compile(b"\xff(?=[^\x00\xd0-\xd7\xff])")


def _jpeg_problem(data: bytes) -> str | None:
    """Walk a JPEG's segments as a decoder does (skipping metadata by its length and
    compressed data to its end) up to its end-of-image marker; whatever follows it (the
    video of a "motion photo") is not looked at. Counts scans and markers."""
    position, scans, markers, size = 2, 0, 0, len(data)
    while position + 1 < size and data[position] == 0xFF:
        while position + 1 < size and data[position + 1] == 0xFF:  # fill bytes
            position += 1
        if position + 1 >= size:
            break
        marker = data[position + 1]
        markers += 1
        if markers > MAX_JPEG_MARKERS:
            return f"a JPEG of more than {MAX_JPEG_MARKERS:,} markers; save it anew"
        if marker == 0xD9:  # end of image
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            position += 2
            continue
        end = position + 2 + int.from_bytes(data[position + 2 : position + 4], "big")
        if marker != 0xDA:
            position = end
            continue
        scans += 1
        if scans > MAX_JPEG_SCANS:
            return f"a JPEG of more than {MAX_JPEG_SCANS} scans; save it anew"
        found = _NEXT_MARKER.search(data, end)
        if found is None:
            break
        position = found.start()
    return None  # (damage the walk stops at is the decoder's to report)


def _gif_extension_bytes(data: bytes) -> int:
    """The bytes a GIF holds in extension blocks (comments, application data), counted
    until the trailer, the end of the data, or more than the cap."""
    size = len(data)
    position = 13
    if size > 10 and data[10] & 0x80:  # a global colour table
        position += 3 << ((data[10] & 0x07) + 1)
    total = 0
    while position < size and total <= MAX_GIF_EXTENSION_BYTES:
        kind = data[position]
        if kind == 0x21:  # extension: a label, then sub-blocks
            position += 2
            counted = True
        elif kind == 0x2C:  # an image: descriptor, colour table, LZW size, sub-blocks
            flags = data[position + 9] if position + 9 < size else 0
            position += 10 + ((3 << ((flags & 0x07) + 1)) if flags & 0x80 else 0) + 1
            counted = False
        else:  # the trailer, or damage the decoder will report
            break
        while position < size:
            length = data[position]
            position += 1 + length
            if length == 0:
                break
            if counted:
                total += length
    return total


def open_image(path: str | Path) -> Image.Image:
    """Open and fully decode an image file, with clear errors for bad files.

    The file must be a regular file of at most ``MAX_FILE_BYTES``; its size
    and shape are checked from its header, before its pixels are decoded.
    """
    path = Path(path)
    try:
        data = read_regular(path, MAX_FILE_BYTES)
    except FileRefused as exc:
        reason = "no such image file" if str(exc) == "no such file" else str(exc)
        raise ImageError(f"{path}: {reason}") from None
    problem = structure_problem(data)
    if problem is not None:
        raise ImageError(f"{path}: {problem}")
    old_max = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as image:
                try:
                    check_shape(image.width, image.height)
                except ImageError as exc:
                    raise ImageError(f"{path}: {exc}") from None
                image.load()
                if image.mode == "F" and not np.isfinite(np.asarray(image)).all():
                    raise ImageError(f"{path}: {NOT_FINITE}")
                return _upright(image)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"{path}: image is too large (more than {MAX_PIXELS:,} pixels); "
            "refusing it as a possible decompression bomb"
        ) from None
    except UnidentifiedImageError:
        raise ImageError(
            f"{path}: not an image in a format read here ({', '.join(FORMATS)})"
        ) from None
    except MemoryError:
        raise ImageError(f"{path}: the image needs more memory than is available") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct_error):
        # (The decoder's own words may quote the file's bytes: none are shown.)
        raise ImageError(f"{path}: the image file is damaged or truncated") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old_max


def load_input(image: ImageLike) -> np.ndarray:
    """The network input for ``image``: uint8 (64, 64, 3), resized and cropped."""
    if isinstance(image, Image.Image):
        return np.asarray(fit_square(image), dtype=np.uint8).copy()
    pil = open_image(image)
    try:
        square = fit_square(pil)
    except ImageError as exc:
        raise ImageError(f"{image}: {exc}") from None
    return np.asarray(square, dtype=np.uint8).copy()
