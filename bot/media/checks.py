"""A customer's photo checked by its content with Pillow, then re-encoded without metadata.

Accepted: a real JPEG or PNG, at most `media.max_bytes`, shorter side at least
`media.min_side_px`, longer side at most `media.max_side_px`, at most `media.max_pixels`
(decompression bombs). The picture is turned upright by its EXIF orientation and saved
again (JPEG for a JPEG, PNG for a PNG), which drops EXIF, GPS, comments and text chunks."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}


class PhotoRejected(ValueError):
    """Why a photo is refused: `code` in not_image | too_large | too_small (the customer's
    answer is utter_photo_<code> in domain.yml)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class CheckedPhoto:
    data: bytes = field(repr=False)  # personal: not in repr()
    mime: str
    width: int
    height: int
    digest: str  # sha256 of the decoded pixels (hex)


def check_photo(raw: bytes, limits: dict[str, Any]) -> CheckedPhoto:
    """The photo re-encoded without metadata; PhotoRejected otherwise."""
    if len(raw) > int(limits["max_bytes"]):
        raise PhotoRejected("too_large")
    max_pixels = int(limits["max_pixels"])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as probe:
                fmt = probe.format or ""
                if fmt not in FORMATS:
                    raise PhotoRejected("not_image")
                if probe.width * probe.height > max_pixels:
                    raise PhotoRejected("too_large")
                probe.verify()  # structure of the whole file
            with Image.open(io.BytesIO(raw)) as image:
                image.load()
                upright = ImageOps.exif_transpose(image)
    except PhotoRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRejected("not_image") from None
    width, height = upright.size
    if min(width, height) < int(limits["min_side_px"]):
        raise PhotoRejected("too_small")
    if max(width, height) > int(limits["max_side_px"]) or width * height > max_pixels:
        raise PhotoRejected("too_large")
    out = io.BytesIO()
    if fmt == "JPEG":
        upright = upright.convert("RGB")
        upright.save(out, "JPEG", quality=int(limits.get("jpeg_quality", 92)), optimize=True)
    else:
        if upright.mode not in ("RGB", "RGBA", "L", "LA"):
            upright = upright.convert("RGBA")
        upright.save(out, "PNG", optimize=True)  # no info: no text chunks, no eXIf
    pixels = hashlib.sha256(f"{width}x{height}:".encode() + upright.tobytes()).hexdigest()
    return CheckedPhoto(out.getvalue(), FORMATS[fmt], width, height, pixels)
