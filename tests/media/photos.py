"""Test pictures made with Pillow: a JPEG with EXIF (camera, GPS), a PNG, not-images."""

from __future__ import annotations

import io

from PIL import Image

GPS_IFD = 0x8825


def jpeg_with_gps(width: int = 640, height: int = 480, color: tuple[int, int, int] = (200, 40, 40),
                  orientation: int | None = None) -> bytes:
    image = Image.new("RGB", (width, height), color)
    image.putpixel((1, 1), (0, 0, 0))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    if orientation is not None:
        exif[0x0112] = orientation
    exif[GPS_IFD] = {1: "N", 2: (21.0, 1.0, 30.0), 3: "E", 4: (105.0, 51.0, 0.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def png(width: int = 500, height: int = 400, color: tuple[int, int, int] = (10, 120, 200)) -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "taken at 12 Le Loi")
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def gif(width: int = 500, height: int = 400) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (1, 2, 3)).save(out, "GIF")
    return out.getvalue()


NOT_AN_IMAGE = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" * 20
FAKE_JPEG_NAME_ONLY = b"this is text saved as x.jpg"
