"""Customer photos (Decree 49: ID document sides and portraits are personal data, seed 003).

    from bot.media import media_store, PhotoRejected
    stored = media_store().save_photo(raw_bytes)      # checked, stripped, encrypted
    stored.ref                                        # "media:<key>:<digest>" for the request
    image, mime = media_store().load(stored.ref)      # decrypted, for the review desk only
    media_store().delete(stored.ref)                  # `bot media purge` after the decision

A photo is accepted by its content, never by its name (`checks.py`, Pillow: a real JPEG
or PNG within the size and resolution limits of bot/operator.yml `media:`); it is
re-encoded, which drops EXIF and GPS; the bytes at rest are AES-GCM encrypted with a key
derived from BOT_MEDIA_KEY (`crypto.py`); they live in a local directory by default or in
an S3-compatible bucket (`storage.py`). Layer 1 (plumbing): no database, no channel.
"""

from __future__ import annotations

from bot.media.checks import CheckedPhoto, PhotoRejected, check_photo
from bot.media.refs import is_media_ref, make_ref, parse_ref, same_photo
from bot.media.store import MediaStore, StoredPhoto, media_settings, media_store, set_media_store

__all__ = ["CheckedPhoto", "MediaStore", "PhotoRejected", "StoredPhoto", "check_photo",
           "is_media_ref", "make_ref", "media_settings", "media_store", "parse_ref",
           "same_photo", "set_media_store"]
