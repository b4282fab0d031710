"""Reading input images the way the network sees them."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from .errors import ImageError

INPUT_SIZE = 64
# Larger than any photo a course author would use; beyond it an image is far
# more likely a decompression bomb than a lesson input.
MAX_PIXELS = 40_000_000

ImageLike = str | Path | Image.Image


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB with transparency composited over white, as a browser shows it."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def fit_square(image: Image.Image, size: int = INPUT_SIZE) -> Image.Image:
    """Resize the short side to ``size`` and centre-crop to ``size`` x ``size``."""
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


def open_image(path: str | Path) -> Image.Image:
    """Open and fully decode an image file, with clear errors for bad files."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such image file")
    old_max = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ImageError(
                        f"{path}: image is {image.width}x{image.height} pixels; "
                        f"at most {MAX_PIXELS:,} pixels are accepted"
                    )
                image.load()
                return image.copy()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"{path}: image is too large (more than {MAX_PIXELS:,} pixels); "
            "refusing it as a possible decompression bomb"
        ) from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: the image file is damaged or truncated ({exc})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old_max


def load_input(image: ImageLike) -> np.ndarray:
    """The network input for ``image``: uint8 (64, 64, 3), resized and cropped."""
    pil = image if isinstance(image, Image.Image) else open_image(image)
    return np.asarray(fit_square(pil), dtype=np.uint8).copy()
